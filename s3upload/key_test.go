package s3upload

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestKey(t *testing.T) {
	tests := []struct {
		prefix, rel, want string
		wantErr           bool
	}{
		{"", "a.txt", "a.txt", false},
		{"", "d/e/f.txt", "d/e/f.txt", false},
		{"logs", "a.txt", "logs/a.txt", false},
		{"logs/", "a.txt", "logs/a.txt", false},
		{"logs//", "a/b", "logs/a/b", false},
		{"a/b", "c", "a/b/c", false},
		{"/", "c", "c", false},
		{"", "日本語 ファイル.txt", "日本語 ファイル.txt", false},
		{"p", "with space/x y", "p/with space/x y", false},
		{"p", `win\style`, "p/win/style", false},
		{"", "", "", true},
		{"p", "/etc/passwd", "", true},
		{"p", "../x", "", true},
		{"p", "a/../../x", "", true},
		{"p", "a/./x", "", true},
		{"p", ".", "", true},
		{"p", "a//b", "", true},
		{"p", "a/", "", true},
		{"../p", "a", "", true},
		{"p", "bad\xffname", "", true},
		{"p", strings.Repeat("x", 1100), "", true},
	}
	for _, tt := range tests {
		got, err := Key(tt.prefix, tt.rel)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Key(%q, %q) = %q, %v; want %q, error %v", tt.prefix, tt.rel, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzKey(f *testing.F) {
	f.Add("logs/", "a/b.txt")
	f.Add("", "../x")
	f.Add("p", "a//b")
	f.Fuzz(func(t *testing.T, prefix, rel string) {
		key, err := Key(prefix, rel)
		if err != nil {
			return
		}
		if strings.Contains(key, "//") && !strings.HasPrefix(prefix, "//") {
			t.Fatalf("key %q has //", key)
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == ".." || seg == "." {
				t.Fatalf("key %q has a %q segment", key, seg)
			}
		}
		if !strings.HasSuffix(key, strings.ReplaceAll(rel, `\`, "/")) || !utf8.ValidString(key) || len(key) > maxKeyLen {
			t.Fatalf("key %q for rel %q", key, rel)
		}
	})
}
