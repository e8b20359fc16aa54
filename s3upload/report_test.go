package s3upload

import (
	"strings"
	"testing"
)

// TestReportKeeps pins which files a report lists: all by default, clean
// uploads up to ReportLimit, and only failed and kept files once they were
// streamed to Options.OnFile (so a streamed run's memory stays flat).
func TestReportKeeps(t *testing.T) {
	files := []File{
		{Path: "a", Result: Uploaded}, {Path: "b", Result: Removed}, {Path: "c", Result: Uploaded},
		{Path: "d", Result: Skipped, Message: "unchanged in S3"}, {Path: "e", Result: Failed, Message: "upload: x"},
		{Path: "f", Result: Kept, Message: "changed during upload"}, {Path: "g", Result: Uploaded, Message: "not verified"},
	}
	tests := []struct {
		name     string
		limit    int
		streamed bool
		want     string
		omitted  int
	}{
		{"all", 0, false, "a b c d e f g", 0},
		{"limit 1", 1, false, "a d e f g", 2},
		{"streamed", 0, true, "e f", 5},
		{"streamed with limit", 1, true, "e f", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Report
			for _, f := range files {
				r.add(f, tt.limit, tt.streamed)
			}
			var got []string
			for _, f := range r.Files {
				got = append(got, f.Path)
			}
			if strings.Join(got, " ") != tt.want || r.Omitted != tt.omitted || r.Totals.Files != len(files) {
				t.Fatalf("listed %v omitted %d files %d; want %s omitted %d", got, r.Omitted, r.Totals.Files, tt.want, tt.omitted)
			}
			if r.Totals.Uploaded != 3 || r.Totals.Removed != 1 || r.Totals.Skipped != 1 || r.Totals.Failed != 1 || r.Totals.Kept != 1 {
				t.Fatalf("totals %+v", r.Totals)
			}
		})
	}
}

// TestTextLines pins the text report's line format, which people grep.
func TestTextLines(t *testing.T) {
	tests := []struct {
		f    File
		want string
	}{
		{File{Path: "/d/a.txt", Key: "p/a.txt", Result: Removed}, "removed  /d/a.txt -> s3://b/p/a.txt\n"},
		{File{Path: "/d/l", Result: Skipped, Message: "symlink; skipped"}, "skipped  /d/l: symlink; skipped\n"},
		{File{Path: "/d/x", Key: "x", Result: Failed, Message: "upload: AccessDenied"}, "failed   /d/x -> s3://b/x: upload: AccessDenied\n"},
		// A name with a newline or a tab stays on one line, quoted.
		{File{Path: "/d/a\nb", Key: "p/a\nb", Result: Uploaded}, `uploaded "/d/a\nb" -> "s3://b/p/a\nb"` + "\n"},
		{File{Path: "/d/t\tx", Result: Skipped, Message: "m"}, `skipped  "/d/t\tx": m` + "\n"},
		{File{Path: `/d/back\slash`, Key: `back\slash`, Result: Uploaded}, `uploaded /d/back\slash -> s3://b/back\slash` + "\n"},
	}
	for _, tt := range tests {
		if got := tt.f.Line("b"); got != tt.want {
			t.Errorf("Line = %q, want %q", got, tt.want)
		}
	}
}
