package s3upload

import (
	"math/rand/v2"
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
		{"p", `back\slash.txt`, `p/back\slash.txt`, false},
		{"p", `d\x.txt`, `p/d\x.txt`, false},
		{"p", "new\nline/tab\tname", "p/new\nline/tab\tname", false},
		{"p", "trailing space ", "p/trailing space ", false},
		{"p", "%41+#?&=.txt", "p/%41+#?&=.txt", false},
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
		if !strings.HasSuffix(key, rel) || !utf8.ValidString(key) || len(key) > maxKeyLen {
			t.Fatalf("key %q for rel %q", key, rel)
		}
	})
}

// FuzzKeyOneToOne: under one prefix, distinct relative paths never give the
// same key, whatever bytes their names hold.
func FuzzKeyOneToOne(f *testing.F) {
	f.Add("p", "d/x.txt", `d\x.txt`)
	f.Add("", "logs/a", `logs\a`)
	f.Add("p/", "a\nb", "a/b")
	f.Add("p", "caf\u00e9", "cafe\u0301")
	f.Fuzz(func(t *testing.T, prefix, a, b string) {
		ka, erra := Key(prefix, a)
		kb, errb := Key(prefix, b)
		if erra == nil && errb == nil && a != b && ka == kb {
			t.Fatalf("Key(%q, %q) = Key(%q, %q) = %q", prefix, a, prefix, b, ka)
		}
	})
}

// TestKeyOneToOneRandomNames draws random names from every byte a Linux
// name may hold, weighted towards the ones that once collided or escaped,
// and checks that distinct paths keep distinct keys.
func TestKeyOneToOneRandomNames(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	special := []byte("\\\n\t %+#?*[]{}&=:;'\"<>|~. ")
	name := func() string {
		b := make([]byte, 1+r.IntN(12))
		for i := range b {
			if r.IntN(2) == 0 {
				b[i] = special[r.IntN(len(special))]
			} else {
				b[i] = byte(1 + r.IntN(255))
				if b[i] == '/' {
					b[i] = 'x'
				}
			}
		}
		return string(b)
	}
	seen := map[string]string{}
	for range 200000 {
		parts := make([]string, 1+r.IntN(3))
		for i := range parts {
			parts[i] = name()
		}
		rel := strings.Join(parts, "/")
		key, err := Key("prefix", rel)
		if err != nil {
			continue
		}
		if prev, ok := seen[key]; ok && prev != rel {
			t.Fatalf("%q and %q share key %q", prev, rel, key)
		}
		seen[key] = rel
	}
	if len(seen) < 1000 {
		t.Fatalf("only %d valid keys drawn", len(seen))
	}
}
