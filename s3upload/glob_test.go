package s3upload

import "testing"

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, rel string
		want         bool
	}{
		{"*.log", "a.log", true},
		{"*.log", "d/e/a.log", true},
		{"*.log", "a.log.gz", false},
		{"d/*.log", "d/a.log", true},
		{"d/*.log", "d/e/a.log", false},
		{"d/**/*.log", "d/e/f/a.log", true},
		{"d/**/*.log", "d/a.log", true},
		{"**/*.gz", "x/y.gz", true},
		{"tmp", "tmp/a/b", true},
		{"tmp", "a/tmp/b", true},
		{"/tmp", "a/tmp/b", false},
		{"/tmp", "tmp/b", true},
		{"tmp/", "tmp/x", true},
		{"a?c", "abc", true},
		{"a?c", "a/c", false},
		{"[ab].txt", "b.txt", true},
		{"[!ab].txt", "b.txt", false},
		{"ファイル*", "d/ファイル 1.txt", true},
		{"x+y(1).txt", "x+y(1).txt", true},
		// Any byte but "/" is part of a name, a newline included.
		{"*.tmp", "a\nb/secret.tmp", true},
		{"*.tmp", "dir/new\nline.tmp", true},
		{"cache/**", "cache/sub\ndir/f.bin", true},
		{"cache", "cache\n/f.bin", false},
		{"a?b", "a\nb", true},
		{"*", "\n", true},
		{"**/x", "a\n/b\n/x", true},
		{`back\\slash*`, `back\slash.txt`, true},
		{"*.txt", "tab\tname.txt", true},
		{"*%41*", "x%41y", true},
		{"a+b#c", "a+b#c", true},
		{`q\?`, "q?", true},
		{`q\?`, "qx", false},
		{"trailing *", "d/trailing space ", true},
		{"caf\u00e9*", "cafe\u0301.txt", false}, // NFC and NFD are different names
		{"cafe\u0301*", "cafe\u0301.txt", true},
	}
	for _, tt := range tests {
		g, err := compileGlob(tt.pattern)
		if err != nil {
			t.Fatalf("%q: %v", tt.pattern, err)
		}
		if got := g.match(tt.rel); got != tt.want {
			t.Errorf("glob %q on %q = %v, want %v", tt.pattern, tt.rel, got, tt.want)
		}
	}
	if _, err := compileGlob("[abc"); err == nil {
		t.Error("unclosed [: no error")
	}
}

func TestFilter(t *testing.T) {
	f, err := newFilter([]string{"*.csv", "keep/**"}, []string{"*.tmp", "keep/skip"})
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]bool{
		"a.csv": true, "d/a.csv": true, "a.txt": false, "keep/x.txt": true,
		"keep/skip/y.csv": false, "keep/z.tmp": false,
	} {
		if got := f.takes(rel); got != want {
			t.Errorf("takes(%q) = %v, want %v", rel, got, want)
		}
	}
}
