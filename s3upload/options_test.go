package s3upload

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidate: every refused option is an *OptionError naming its field
// and matching ErrInvalid; a threshold outside S3's limits is refused, not
// clamped.
func TestValidate(t *testing.T) {
	src := t.TempDir()
	file := filepath.Join(src, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ok := Options{Src: src, Bucket: "b"}
	tests := []struct {
		name   string
		edit   func(*Options)
		field  string
		reason string
	}{
		{"no src", func(o *Options) { o.Src = "" }, "Src", "no source folder"},
		{"missing src", func(o *Options) { o.Src = filepath.Join(src, "nope") }, "Src", "stat: no such file"},
		{"src is a file", func(o *Options) { o.Src = file }, "Src", "not a folder"},
		{"no bucket", func(o *Options) { o.Bucket = "" }, "Bucket", "no bucket"},
		{"negative concurrency", func(o *Options) { o.Concurrency = -1 }, "Concurrency", "must not be negative"},
		{"negative part concurrency", func(o *Options) { o.PartConcurrency = -1 }, "PartConcurrency", "must not be negative"},
		{"negative large files", func(o *Options) { o.LargeFiles = -1 }, "LargeFiles", "must not be negative"},
		{"tiny part", func(o *Options) { o.PartSize = 1 << 20 }, "PartSize", "want 5MiB to 5GiB"},
		{"tiny threshold", func(o *Options) { o.MultipartThreshold = 1 << 20 }, "MultipartThreshold", "want 5MiB to 5GiB (S3's part and single-PUT limits)"},
		{"huge threshold", func(o *Options) { o.MultipartThreshold = 5<<30 + 1 }, "MultipartThreshold", "want 5MiB to 5GiB"},
		{"negative threshold", func(o *Options) { o.MultipartThreshold = -1 }, "MultipartThreshold", "want 5MiB to 5GiB"},
		{"bad sse", func(o *Options) { o.SSE = "rot13" }, "SSE", "want AES256, aws:kms or aws:kms:dsse"},
		{"kms key with AES256", func(o *Options) { o.SSE, o.SSEKMSKeyID = "AES256", "k" }, "SSEKMSKeyID", "needs SSE aws:kms"},
		{"bad prefix", func(o *Options) { o.Prefix = "a/../b" }, "Prefix", `".." segment`},
		{"bad include", func(o *Options) { o.Include = []string{"[x"} }, "Include", "unclosed ["},
		{"bad exclude", func(o *Options) { o.Exclude = []string{"ok", ""} }, "Exclude", "empty glob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.edit(&o)
			err := o.Validate()
			var oe *OptionError
			if !errors.As(err, &oe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want an *OptionError matching ErrInvalid", err)
			}
			if oe.Field != tt.field || !strings.Contains(oe.Reason, tt.reason) {
				t.Errorf("field %q, reason %q; want %q, %q", oe.Field, oe.Reason, tt.field, tt.reason)
			}
			if !strings.HasPrefix(err.Error(), "invalid upload options: "+tt.field) {
				t.Errorf("message %q", err)
			}
			if v := o.validate(); v == nil || v.Error() != err.Error() {
				t.Errorf("validate() = %v, want what Validate says", v)
			}
		})
	}
	if err := (Options{Src: filepath.Join(src, "nope"), Bucket: "b"}).Validate(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing src: %v does not wrap fs.ErrNotExist", err)
	}
	for _, th := range []int64{0, 5 << 20, 5 << 30} {
		o := ok
		o.MultipartThreshold = th
		if err := o.validate(); err != nil {
			t.Errorf("threshold %d: %v", th, err)
		}
		want := th
		if th == 0 {
			want = DefaultMultipartThreshold
		}
		if o.MultipartThreshold != want {
			t.Errorf("threshold %d became %d, want %d", th, o.MultipartThreshold, want)
		}
	}
	if os.Geteuid() != 0 {
		locked := filepath.Join(src, "locked")
		if err := os.Mkdir(locked, 0o000); err != nil {
			t.Fatal(err)
		}
		err := Options{Src: locked, Bucket: "b"}.Validate()
		if oe := (*OptionError)(nil); !errors.As(err, &oe) || oe.Field != "Src" || !errors.Is(err, fs.ErrPermission) {
			t.Errorf("unreadable src: %v", err)
		}
	}
}
