package s3upload

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Result is what happened to one file.
type Result string

// The results a file can have.
const (
	Uploaded Result = "uploaded" // stored and verified; the source stays
	Skipped  Result = "skipped"  // not uploaded: dry run, unchanged, symlink, special file, vanished, deadline
	Failed   Result = "failed"   // upload, verification or removal failed
	Removed  Result = "removed"  // verified in S3, then the source was deleted
	Kept     Result = "kept"     // verified in S3, but the source was kept (changed during upload, ...)
)

// File is the outcome for one file.
type File struct {
	Path    string `json:"path"`
	Key     string `json:"key,omitempty"`
	Size    int64  `json:"size"`
	Result  Result `json:"result"`
	Message string `json:"message,omitempty"`
}

// Totals sum up a run.
type Totals struct {
	Files     int     `json:"files"`     // files the run handled (every File)
	Bytes     int64   `json:"bytes"`     // bytes uploaded
	Seconds   float64 `json:"seconds"`   // wall time of the run
	MiBPerSec float64 `json:"mibPerSec"` // Bytes / Seconds
	Uploaded  int     `json:"uploaded"`
	Skipped   int     `json:"skipped"`
	Failed    int     `json:"failed"`
	Removed   int     `json:"removed"`
	Kept      int     `json:"kept"`
	Excluded  int64   `json:"excluded"` // left out by --include/--exclude
	// OtherShards counts the entries left to the other shards (Options.Shard).
	OtherShards int64 `json:"otherShards,omitempty"`
	// Remaining files were not done because the deadline came: a retry or
	// the next run picks them up.
	Remaining int `json:"remaining"`
	// InFlight is the most files the run allowed in flight at once: fixed
	// by Options.Concurrency, or where following the path took it.
	InFlight int `json:"inFlight"`
}

// Report says what a run did.
type Report struct {
	Src    string `json:"src"`
	Bucket string `json:"bucket"`
	Prefix string `json:"prefix"`
	DryRun bool   `json:"dryRun,omitempty"`
	Files  []File `json:"files"`
	// Omitted counts files left out of Files: clean uploads beyond
	// Options.ReportLimit, or, with Options.OnFile, every file that was
	// neither failed nor kept. Totals still count them.
	Omitted int    `json:"omitted,omitempty"`
	Totals  Totals `json:"totals"`
	// Stopped says why the run stopped before every file was done.
	Stopped string `json:"stopped,omitempty"`
	// Warnings are problems that did not fail a file (e.g. a folder that
	// could not be pruned).
	Warnings []string `json:"warnings,omitempty"`
	// Shard is the shard a sharded run took (Options.Shard), and which
	// variable gave its index.
	Shard *Shard `json:"shard,omitempty"`
	// Batch is set for a run of a planned batch: where its report went.
	Batch *BatchInfo `json:"batch,omitempty"`
}

// OK reports whether no file failed. Files left for a later run because of
// the deadline are not failures.
func (r *Report) OK() bool {
	return r.Totals.Failed == 0 && (r.Batch == nil || r.Batch.ReportError == "")
}

// Err is nil when the report is OK, else a one-line error counting the
// failed files and naming the first few, with why the run stopped.
func (r *Report) Err() error {
	if r.OK() {
		return nil
	}
	if r.Totals.Failed == 0 {
		return errors.New(r.Batch.ReportError)
	}
	var first []string
	for _, f := range r.Files {
		if f.Result == Failed && len(first) < 3 {
			first = append(first, f.Path+": "+f.Message)
		}
	}
	msg := fmt.Sprintf("%d of %d files failed: %s", r.Totals.Failed, r.Totals.Files, strings.Join(first, "; "))
	if r.Stopped != "" {
		msg += " (" + r.Stopped + ")"
	}
	if r.Batch != nil && r.Batch.ReportError != "" {
		msg += "; " + r.Batch.ReportError
	}
	return errors.New(msg)
}

// add records f; streamed files (given to Options.OnFile) are listed only
// when they need attention.
func (r *Report) add(f File, limit int, streamed bool) {
	r.Totals.Files++
	switch f.Result {
	case Uploaded:
		r.Totals.Uploaded++
	case Skipped:
		r.Totals.Skipped++
	case Failed:
		r.Totals.Failed++
	case Removed:
		r.Totals.Removed++
	case Kept:
		r.Totals.Kept++
	}
	if streamed && f.Result != Failed && f.Result != Kept {
		r.Omitted++
		return
	}
	if limit > 0 && (f.Result == Uploaded || f.Result == Removed) && f.Message == "" &&
		r.Totals.Uploaded+r.Totals.Removed > limit {
		r.Omitted++
		return
	}
	r.Files = append(r.Files, f)
}

// JSON writes the report as indented JSON.
func (r *Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Text writes one line per file and a summary. With quiet, only files that
// did not upload cleanly and the summary.
func (r *Report) Text(w io.Writer, quiet bool) error {
	// Streamed rather than built in one string: a run over 100,000 files
	// would otherwise hold its whole text in memory at the end.
	b := bufio.NewWriterSize(w, 64<<10)
	for _, f := range r.Files {
		if quiet && f.Clean() {
			continue
		}
		b.WriteString(f.Line(r.Bucket))
	}
	if err := r.Summary(b); err != nil {
		return err
	}
	return b.Flush()
}

// Clean reports whether f was uploaded (and removed, if asked) without a
// remark: what a quiet report leaves out.
func (f File) Clean() bool { return (f.Result == Uploaded || f.Result == Removed) && f.Message == "" }

// Line is f as one line of the text report, newline included.
func (f File) Line(bucket string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %s", f.Result, lineSafe(f.Path))
	if f.Key != "" {
		fmt.Fprintf(&b, " -> %s", lineSafe("s3://"+bucket+"/"+f.Key))
	}
	if f.Message != "" {
		fmt.Fprintf(&b, ": %s", f.Message)
	}
	b.WriteByte('\n')
	return b.String()
}

// lineSafe quotes a name that holds a control character (a newline would
// split the line) or invalid UTF-8, as Go quotes strings; other names are
// shown as they are.
func lineSafe(s string) string {
	if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

// Summary writes the warnings, the totals line and why the run stopped:
// the text report's end.
func (r *Report) Summary(w io.Writer) error {
	b := bufio.NewWriter(w)
	for _, w := range r.Warnings {
		fmt.Fprintf(b, "warning: %s\n", w)
	}
	t := r.Totals
	fmt.Fprintf(b, "%d files: %d uploaded, %d removed, %d kept, %d skipped, %d failed",
		t.Files, t.Uploaded, t.Removed, t.Kept, t.Skipped, t.Failed)
	if t.Excluded > 0 {
		fmt.Fprintf(b, ", %d excluded", t.Excluded)
	}
	if t.Remaining > 0 {
		fmt.Fprintf(b, ", %d remaining", t.Remaining)
	}
	fmt.Fprintf(b, "; %s in %.2fs (%.1f MiB/s)", humanBytes(t.Bytes), t.Seconds, t.MiBPerSec)
	if r.DryRun {
		b.WriteString(" [dry run]")
	}
	b.WriteByte('\n')
	if r.Stopped != "" {
		fmt.Fprintf(b, "stopped: %s\n", r.Stopped)
	}
	if s := r.Shard; s != nil {
		fmt.Fprintf(b, "shard %s", s)
		if s.From != "" {
			fmt.Fprintf(b, " (index from %s)", s.From)
		}
		fmt.Fprintf(b, ": %d entries left to the other shards\n", t.OtherShards)
	}
	if bi := r.Batch; bi != nil {
		fmt.Fprintf(b, "batch %d of %s: report %s\n", bi.Index, bi.Manifest, bi.Report)
		if bi.ReportError != "" {
			fmt.Fprintf(b, "error: %s\n", bi.ReportError)
		}
	}
	return b.Flush()
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
