package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/awsutils/awsutils/bench/internal/report"
)

// write saves the rows as <timestamp>.csv and latest.csv with a
// .meta.json beside each, and regenerates the markdown and the chart.
func (b *bench) write() (string, error) {
	if err := os.MkdirAll(b.cfg.ResultsDir, 0o755); err != nil {
		return "", err
	}
	var csvBuf bytes.Buffer
	if err := report.WriteCSV(&csvBuf, b.rows); err != nil {
		return "", err
	}
	metaJSON, err := json.MarshalIndent(b.meta, "", "  ")
	if err != nil {
		return "", err
	}
	stamp := b.meta.Started.UTC().Format("20060102T150405Z")
	out := filepath.Join(b.cfg.ResultsDir, stamp+".csv")
	latest := filepath.Join(b.cfg.ResultsDir, "latest.csv")
	for _, p := range []string{out, latest} {
		if err := os.WriteFile(p, csvBuf.Bytes(), 0o644); err != nil {
			return "", err
		}
		if err := os.WriteFile(metaPath(p), append(metaJSON, '\n'), 0o644); err != nil {
			return "", err
		}
	}
	return out, writeDocs(b.meta, b.rows, b.cfg.Docs, relTo(b.cfg.Root, latest))
}

func metaPath(csvPath string) string { return strings.TrimSuffix(csvPath, ".csv") + ".meta.json" }

func relTo(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// writeDocs writes the markdown and, beside it, the chart.
func writeDocs(meta report.Meta, rows []report.Row, docs, csvName string) error {
	if err := os.MkdirAll(filepath.Dir(docs), 0o755); err != nil {
		return err
	}
	var md, svg bytes.Buffer
	if err := report.Markdown(&md, meta, rows, csvName); err != nil {
		return err
	}
	if err := report.Chart(&svg, rows); err != nil {
		return err
	}
	if err := os.WriteFile(docs, md.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(filepath.Dir(docs), report.ChartFile), svg.Bytes(), 0o644)
}

// writeReportFrom regenerates the docs from a saved results file.
func writeReportFrom(csvPath, docs string) error {
	f, err := os.Open(csvPath)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := report.ReadCSV(f)
	if err != nil {
		return fmt.Errorf("%s: %w", csvPath, err)
	}
	var meta report.Meta
	b, err := os.ReadFile(metaPath(csvPath))
	if err != nil {
		return fmt.Errorf("%s: the run's description is missing: %w", csvPath, err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return fmt.Errorf("%s: %w", metaPath(csvPath), err)
	}
	root, _ := moduleRoot()
	return writeDocs(meta, rows, docs, relTo(root, csvPath))
}
