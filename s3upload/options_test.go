package s3upload

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
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
		{"shard out of range", func(o *Options) { o.Shard = Shard{Index: 3, Count: 2} }, "Shard", "index 3 is out of range: want 0 to 1"},
		{"shard negative index", func(o *Options) { o.Shard = Shard{Index: -1, Count: 2} }, "Shard", "out of range"},
		{"shard negative count", func(o *Options) { o.Shard = Shard{Count: -1} }, "Shard", "must not be negative"},
		{"shard index without count", func(o *Options) { o.Shard = Shard{Index: 1} }, "Shard", "an index needs a count"},
		{"negative batch files", func(o *Options) { o.BatchFiles = -1 }, "BatchFiles", "must not be negative"},
		{"negative batch bytes", func(o *Options) { o.BatchBytes = -1 }, "BatchBytes", "must not be negative"},
		{"manifest prefix not s3", func(o *Options) { o.ManifestPrefix = "/tmp/x" }, "ManifestPrefix", "want s3://BUCKET/KEY"},
		{"manifest prefix no bucket", func(o *Options) { o.ManifestPrefix = "s3:///x" }, "ManifestPrefix", "no bucket"},
		{"batch not a manifest", func(o *Options) { o.Batch = &BatchRef{Manifest: "s3://b/x.json"} }, "Batch", "ends in /manifest.json"},
		{"batch negative index", func(o *Options) { o.Batch = &BatchRef{Manifest: "s3://b/p/manifest.json", Index: -1} }, "Batch", "must not be negative"},
		{"batch and shard", func(o *Options) { o.Batch, o.Shard = &BatchRef{Manifest: "s3://b/manifest.json"}, Shard{Count: 2} }, "Shard", "not sharded again"},
		{"batch and include", func(o *Options) { o.Batch, o.Include = &BatchRef{Manifest: "s3://b/manifest.json"}, []string{"*.x"} }, "Batch", "include and exclude apply when planning"},
		{"batch and symlinks", func(o *Options) { o.Batch, o.FollowSymlinks = &BatchRef{Manifest: "s3://b/manifest.json"}, true }, "FollowSymlinks", "do not follow symlinks"},
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

func TestParseShard(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		in      string
		env     map[string]string
		want    Shard
		wantErr string
	}{
		{"0/1", nil, Shard{Index: 0, Count: 1}, ""},
		{"2/3", nil, Shard{Index: 2, Count: 3}, ""},
		{"auto/4", map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "3", "JOB_COMPLETION_INDEX": "1"}, Shard{Index: 3, Count: 4, From: "AWS_BATCH_JOB_ARRAY_INDEX"}, ""},
		{"auto/4", map[string]string{"JOB_COMPLETION_INDEX": "1"}, Shard{Index: 1, Count: 4, From: "JOB_COMPLETION_INDEX"}, ""},
		{"auto/4", map[string]string{"JOB_COMPLETION_INDEX": "4"}, Shard{}, `"auto/4": index 4 is out of range: want 0 to 3`},
		{"auto/4", map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "x"}, Shard{}, `AWS_BATCH_JOB_ARRAY_INDEX="x" is not a number`},
		{"auto/4", nil, Shard{}, "neither AWS_BATCH_JOB_ARRAY_INDEX nor JOB_COMPLETION_INDEX is set"},
		{"3/2", nil, Shard{}, "index 3 is out of range: want 0 to 1"},
		{"0/0", nil, Shard{}, "N must be a whole number of shards, 1 or more"},
		{"a/b", nil, Shard{}, "N must be"},
		{"x/2", nil, Shard{}, "K must be a number from 0 to N-1, or auto"},
		{"1", nil, Shard{}, "want K/N"},
		{"", nil, Shard{}, "want K/N"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			env = tt.env
			got, err := ParseShard(tt.in, getenv)
			var oe *OptionError
			if err != nil && (!errors.As(err, &oe) || oe.Field != "Shard") {
				t.Fatalf("error %v is not an *OptionError for Shard", err)
			}
			if tt.wantErr == "" && err == nil && got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestShardsPartitionPaths: every path belongs to exactly one shard, and
// the shards are roughly even.
func TestShardsPartitionPaths(t *testing.T) {
	const n, paths = 7, 7000
	counts := make([]int, n)
	for i := range paths {
		rel := "d" + strings.Repeat("x", i%5) + "/f" + string(rune('a'+i%26)) + "/" + strings.Repeat("n", i%3) + strconv.Itoa(i)
		owners := 0
		for k := range n {
			if (Shard{Index: k, Count: n}).takes(rel) {
				owners++
				counts[k]++
			}
		}
		if owners != 1 {
			t.Fatalf("%s has %d shards", rel, owners)
		}
		if !(Shard{}).takes(rel) || !(Shard{Count: 1}).takes(rel) {
			t.Fatalf("the zero shard refuses %s", rel)
		}
	}
	for k, c := range counts {
		if c < paths/n/2 || c > paths/n*2 {
			t.Errorf("shard %d has %d of %d paths", k, c, paths)
		}
	}
}

func TestParseBatchRef(t *testing.T) {
	tests := []struct {
		in      string
		want    BatchRef
		wantErr string
	}{
		{"s3://b/p/manifest.json#3", BatchRef{Manifest: "s3://b/p/manifest.json", Index: 3}, ""},
		{"s3://b/manifest.json#0", BatchRef{Manifest: "s3://b/manifest.json"}, ""},
		{"s3://b/p/manifest.json", BatchRef{}, "want s3://BUCKET/.../manifest.json#K"},
		{"s3://b/p/manifest.json#-1", BatchRef{}, "whole number from 0"},
		{"s3://b/p/manifest.json#x", BatchRef{}, "whole number from 0"},
		{"s3://b/p/other.json#1", BatchRef{}, "a manifest's key ends in /manifest.json"},
		{"s3://b/pmanifest.json#1", BatchRef{}, "a manifest's key ends in /manifest.json"},
		{"/tmp/manifest.json#1", BatchRef{}, "want s3://BUCKET/KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseBatchRef(tt.in)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Field != "Batch" || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want an *OptionError for Batch with %q", err, tt.wantErr)
			}
		})
	}
}
