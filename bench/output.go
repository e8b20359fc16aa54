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

// writeReportFrom regenerates the docs from saved results files. Several
// (a run cut short, and a second run for what it did not finish) are merged
// with report.Merge, and the merged results are also written to
// resultsDir/latest.csv, so that latest.csv always holds what the docs show.
// A note, if given, is printed under the report's title.
func writeReportFrom(csvPaths []string, docs, resultsDir, note string) error {
	var metas []report.Meta
	var runs [][]report.Row
	for _, p := range csvPaths {
		meta, rows, err := readResults(p)
		if err != nil {
			return err
		}
		metas, runs = append(metas, meta), append(runs, rows)
	}
	if len(runs) == 0 {
		return fmt.Errorf("no results file given")
	}
	if note != "" {
		metas[0].Caveat = note
	}
	root, _ := moduleRoot()
	if len(runs) == 1 {
		return writeDocs(metas[0], runs[0], docs, relTo(root, csvPaths[0]))
	}
	meta, rows := report.Merge(metas, runs)
	var csvBuf bytes.Buffer
	if err := report.WriteCSV(&csvBuf, rows); err != nil {
		return err
	}
	metaJSON, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return err
	}
	latest := filepath.Join(resultsDir, "latest.csv")
	if err := os.WriteFile(latest, csvBuf.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(metaPath(latest), append(metaJSON, '\n'), 0o644); err != nil {
		return err
	}
	var names []string
	for _, p := range csvPaths {
		names = append(names, relTo(root, p))
	}
	return writeDocs(meta, rows, docs, "`"+relTo(root, latest)+"` (merged from `"+strings.Join(names, "`, `")+"`)")
}

func readResults(csvPath string) (report.Meta, []report.Row, error) {
	var meta report.Meta
	f, err := os.Open(csvPath)
	if err != nil {
		return meta, nil, err
	}
	defer f.Close()
	rows, err := report.ReadCSV(f)
	if err != nil {
		return meta, nil, fmt.Errorf("%s: %w", csvPath, err)
	}
	b, err := os.ReadFile(metaPath(csvPath))
	if err != nil {
		return meta, nil, fmt.Errorf("%s: the run's description is missing: %w", csvPath, err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return meta, nil, fmt.Errorf("%s: %w", metaPath(csvPath), err)
	}
	return meta, rows, nil
}
