package s3upload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
)

// writePlanTree writes 30 files in nested folders into a new folder src.
func writePlanTree(t *testing.T) (src string, files map[string][]byte) {
	t.Helper()
	files = map[string][]byte{}
	for i := range 30 {
		files[fmt.Sprintf("d%d/sub%d/f%02d.txt", i%3, i%2, i)] = bytes.Repeat([]byte{byte('a' + i%26)}, 100+i)
	}
	src = t.TempDir()
	writeTree(t, src, files)
	return src, files
}

func objectsUnder(got map[string][]byte, prefix string) map[string][]byte {
	m := map[string][]byte{}
	for k, v := range got {
		if strings.HasPrefix(k, prefix+"/") {
			m[k] = v
		}
	}
	return m
}

func putRaw(t *testing.T, cfg aws.Config, bucket, key, body string) {
	t.Helper()
	if _, err := awsclient.S3(cfg).PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body),
	}); err != nil {
		t.Fatal(err)
	}
}

// TestPlanThenBatches plans a tree into batches of at most 4 files, checks
// the manifest is the array a Distributed Map reads, runs every batch with
// RemoveSrc (one file vanishes after planning, one batch runs twice), and
// sums the reports.
func TestPlanThenBatches(t *testing.T) {
	t.Parallel()
	testbed.EachS3Server(t, func(t *testing.T, s testbed.S3Server) {
		ctx := context.Background()
		src, files := writePlanTree(t)
		base := Options{Src: src, Bucket: s.Bucket, Prefix: "up", RemoveSrc: true, PruneEmptyDirs: true}

		popts := base
		popts.BatchFiles = 4
		p, err := MakePlan(ctx, s.Config, popts)
		if err != nil {
			t.Fatal(err)
		}
		if p.Batches != 8 || p.Files != 30 || p.Bytes != treeBytes(files) || p.Err() != nil {
			t.Fatalf("plan %+v", p)
		}
		if !strings.HasPrefix(p.ManifestKey, DefaultManifestPrefix) || p.Manifest != "s3://"+s.Bucket+"/"+p.ManifestKey || p.ManifestBucket != s.Bucket {
			t.Fatalf("manifest %q (%q, %q)", p.Manifest, p.ManifestBucket, p.ManifestKey)
		}
		all := testbed.Objects(t, s.Config, s.Bucket)
		if len(objectsUnder(all, "up")) != 0 {
			t.Fatal("planning uploaded files")
		}
		var items []map[string]any
		if err := json.Unmarshal(all[p.ManifestKey], &items); err != nil || len(items) != p.Batches {
			t.Fatalf("manifest %s: %v", all[p.ManifestKey], err)
		}
		for k, it := range items {
			if len(it) != 2 || it["manifest"] != p.Manifest || it["index"] != float64(k) {
				t.Errorf("item %d: %v", k, it)
			}
		}
		if n := testbed.CountFiles(src); n != len(files) {
			t.Fatalf("planning touched the tree: %d files left", n)
		}

		// Before any batch ran, the summary misses them all.
		sum, err := Summarize(ctx, s.Config, p.Manifest)
		if err != nil {
			t.Fatal(err)
		}
		var ie *IncompleteError
		if len(sum.Missing) != 8 || !errors.As(sum.Err(), &ie) {
			t.Fatalf("summary before the runs %+v, %v", sum, sum.Err())
		}

		// A file of batch 2 vanishes after planning.
		var doc batchDoc
		if _, err := getJSON(ctx, awsclient.S3(s.Config), s.Bucket, strings.TrimSuffix(p.ManifestKey, manifestName)+"batches/2.json", &doc); err != nil {
			t.Fatal(err)
		}
		gone := doc.Files[0].Path
		if err := os.Remove(filepath.Join(src, gone)); err != nil {
			t.Fatal(err)
		}
		delete(files, gone)

		var total Totals
		for k := range p.Batches {
			o := base
			o.Batch = &BatchRef{Manifest: p.Manifest, Index: k}
			rep, err := Run(ctx, s.Config, o)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() || rep.Batch == nil || rep.Batch.Index != k || rep.Batch.ReportError != "" {
				t.Fatalf("batch %d: %+v %+v %v", k, rep.Totals, rep.Batch, rep.Files)
			}
			if k == 2 {
				r := byResult(rep)
				if len(r[Skipped]) != 1 || !strings.Contains(rep.Files[len(rep.Files)-1].Message+fmt.Sprint(rep.Files), "gone since it was planned") {
					t.Errorf("batch 2: %v", rep.Files)
				}
			}
			total.Removed += rep.Totals.Removed
		}
		if total.Removed != len(files) {
			t.Errorf("removed %d, want %d", total.Removed, len(files))
		}
		compare(t, objectsUnder(testbed.Objects(t, s.Config, s.Bucket), "up"), "up", files)
		if n := testbed.CountFiles(src); n != 0 {
			t.Errorf("%d files left in the source", n)
		}
		if left, _ := os.ReadDir(src); len(left) != 0 {
			t.Errorf("folders not pruned: %v", left)
		}

		// Batch 0 again (a retry): its files are gone, nothing is lost.
		o := base
		o.Batch = &BatchRef{Manifest: p.Manifest, Index: 0}
		rep, err := Run(ctx, s.Config, o)
		if err != nil || !rep.OK() || rep.Totals.Skipped != 4 || rep.Totals.Uploaded+rep.Totals.Removed != 0 {
			t.Fatalf("rerun: %v %+v", err, rep)
		}
		// Over both runs, batch 0's files were removed.
		if bt := rep.Batch.Totals; bt == nil || bt.Removed != 4 || bt.Skipped != 0 {
			t.Fatalf("rerun's batch totals %+v", rep.Batch.Totals)
		}

		sum, err = Summarize(ctx, s.Config, p.Manifest)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Err() != nil || sum.Reported != 8 || sum.Removed != len(files) || sum.Skipped != 1 || sum.Failed != 0 ||
			sum.Bytes != treeBytes(files) || len(sum.Missing) != 0 {
			t.Errorf("summary %+v: %v", sum, sum.Err())
		}

	})
}

// TestBatchRunTwiceUploadsOnce runs a batch twice without RemoveSrc: the
// second run finds every object verified and uploads nothing.
func TestBatchRunTwiceUploadsOnce(t *testing.T) {
	t.Parallel()
	v := testbed.StartVersity(t)
	cfg, bucket := v.Config(t), v.Bucket(t)
	ctx := context.Background()
	src, files := writePlanTree(t)
	p, err := MakePlan(ctx, cfg, Options{Src: src, Bucket: bucket, Prefix: "p", ManifestPrefix: "s3://" + bucket + "/plans"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Batches != 1 || !strings.HasPrefix(p.ManifestKey, "plans/") {
		t.Fatalf("plan %+v", p)
	}
	o := Options{Src: src, Bucket: bucket, Prefix: "p/", Batch: &BatchRef{Manifest: p.Manifest}}
	first, err := Run(ctx, cfg, o)
	if err != nil || first.Totals.Uploaded != len(files) {
		t.Fatalf("first run: %v %+v", err, first.Totals)
	}
	second, err := Run(ctx, cfg, o)
	if err != nil || second.Totals.Uploaded != 0 || second.Totals.Skipped != len(files) || second.Totals.Bytes != 0 {
		t.Fatalf("second run: %v %+v", err, second.Totals)
	}
	for _, f := range second.Files {
		if !strings.HasPrefix(f.Message, "unchanged in S3") {
			t.Errorf("second run: %+v", f)
		}
	}
}

// TestBatchRefusals: a batch that does not fit the run fails with one line
// naming what is wrong, and touches nothing.
func TestBatchRefusals(t *testing.T) {
	t.Parallel()
	v := testbed.StartVersity(t)
	cfg, bucket := v.Config(t), v.Bucket(t)
	ctx := context.Background()
	src, files := writePlanTree(t)
	p, err := MakePlan(ctx, cfg, Options{Src: src, Bucket: bucket, Prefix: "p", BatchFiles: 10})
	if err != nil {
		t.Fatal(err)
	}
	folder := strings.TrimSuffix(p.ManifestKey, manifestName)
	putRaw(t, cfg, bucket, folder+"batches/1.json", "{not json")
	putRaw(t, cfg, bucket, folder+"batches/2.json", `{"version": 2, "files": []}`)
	other := t.TempDir()
	tests := []struct {
		name    string
		src     string
		bucket  string
		prefix  string
		ref     BatchRef
		wantErr string
	}{
		{"other source", other, bucket, "p", BatchRef{p.Manifest, 0}, "planned for source folder " + src + ", not " + other},
		{"other prefix", src, bucket, "q", BatchRef{p.Manifest, 0}, "planned for s3://" + bucket + "/p, not s3://" + bucket + "/q"},
		{"other bucket", src, "other-bucket", "p", BatchRef{p.Manifest, 0}, "planned for s3://" + bucket + "/p, not s3://other-bucket/p"},
		{"no such batch", src, bucket, "p", BatchRef{p.Manifest, 7}, "the plan has 3 batches (0 to 2); there is no batch 7"},
		{"malformed", src, bucket, "p", BatchRef{p.Manifest, 1}, "batch 1 is not a planned batch (not valid JSON"},
		{"other version", src, bucket, "p", BatchRef{p.Manifest, 2}, "format version 2 is not the one this awsutils reads (1)"},
		{"no plan", src, bucket, "p", BatchRef{"s3://" + bucket + "/nothing/manifest.json", 0}, "no plan at s3://" + bucket + "/nothing/manifest.json"},
		{"not a manifest key", src, bucket, "p", BatchRef{"s3://" + bucket + "/x.json", 0}, "a manifest's key ends in /manifest.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := tt.ref
			_, err := Run(ctx, cfg, Options{Src: tt.src, Bucket: tt.bucket, Prefix: tt.prefix, RemoveSrc: true, Batch: &ref})
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Field != "Batch" || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v; want a one-line *OptionError for Batch", err)
			}
			testbed.WantErr(t, err, tt.wantErr)
		})
	}
	if n := testbed.CountFiles(src); n != len(files) {
		t.Errorf("%d of %d files left", n, len(files))
	}
	if got := objectsUnder(testbed.Objects(t, cfg, bucket), "p"); len(got) != 0 {
		t.Errorf("uploaded %d objects", len(got))
	}
}

// TestBatchRetryCountsEarlierAttempt fails one file's PUT (a proxy answers
// 500 to every try) so the batch fails, then runs it again as Step
// Functions' Retry would: the retry uploads the one file, finds the others
// gone (the first attempt removed them), and the batch's report and the
// summary count every file removed.
func TestBatchRetryCountsEarlierAttempt(t *testing.T) {
	t.Parallel()
	v := testbed.StartVersity(t)
	direct, bucket := v.Config(t), v.Bucket(t)
	proxy := testbed.StartFaultProxy(t, v.Endpoint, testbed.Faults{})
	cfg := proxy.Config(t, v.Env(), awsclient.Options{MaxAttempts: 2})
	ctx := context.Background()
	src, files := writePlanTree(t)
	p, err := MakePlan(ctx, direct, Options{Src: src, Bucket: bucket, Prefix: "r"})
	if err != nil {
		t.Fatal(err)
	}
	const victim = "d1/sub1/f07.txt"
	if err := proxy.SetFaults(testbed.Faults{Error500: 1, Only: []string{"PutObject"},
		Match: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, victim) }}); err != nil {
		t.Fatal(err)
	}
	o := Options{Src: src, Bucket: bucket, Prefix: "r", RemoveSrc: true, Batch: &BatchRef{Manifest: p.Manifest}}
	rep, err := Run(ctx, cfg, o)
	if err != nil || rep.OK() || rep.Totals.Failed != 1 || rep.Totals.Removed != len(files)-1 {
		t.Fatalf("first attempt: %v %+v", err, rep.Totals)
	}
	sum, err := Summarize(ctx, direct, p.Manifest)
	var ie *IncompleteError
	if err != nil || !errors.As(sum.Err(), &ie) || len(sum.FailedBatches) != 1 || sum.Failed != 1 {
		t.Fatalf("summary after the failure: %v %+v", err, sum)
	}

	if err := proxy.SetFaults(testbed.Faults{}); err != nil {
		t.Fatal(err)
	}
	rep, err = Run(ctx, cfg, o)
	if err != nil || !rep.OK() || rep.Totals.Removed != 1 || rep.Totals.Skipped != len(files)-1 {
		t.Fatalf("retry: %v %+v %v", err, rep.Totals, rep.Files)
	}
	if bt := rep.Batch.Totals; bt.Removed != len(files) || bt.Failed != 0 || bt.Skipped != 0 || bt.Bytes != treeBytes(files) {
		t.Errorf("batch totals over both attempts %+v", bt)
	}
	sum, err = Summarize(ctx, direct, p.Manifest)
	if err != nil || sum.Err() != nil || sum.Removed != len(files) || sum.Bytes != treeBytes(files) {
		t.Fatalf("summary after the retry: %v %+v", err, sum)
	}
	compare(t, objectsUnder(testbed.Objects(t, direct, bucket), "r"), "r", files)
	if n := testbed.CountFiles(src); n != 0 {
		t.Errorf("%d files left", n)
	}
}

// TestBatchAfterSwaps changes the tree between planning and the batch run:
// a folder becomes a symlink to a folder outside SRC holding the same
// names, a file becomes a symlink to an outside file. The run follows
// neither: those files are skipped, nothing outside is read or removed.
func TestBatchAfterSwaps(t *testing.T) {
	t.Parallel()
	v := testbed.StartVersity(t)
	cfg, bucket := v.Config(t), v.Bucket(t)
	ctx := context.Background()
	src, outside := t.TempDir(), t.TempDir()
	writeTree(t, src, map[string][]byte{"a/x.txt": []byte("x"), "a/y.txt": []byte("y"), "b/f.txt": []byte("f"), "keep.txt": []byte("k")})
	writeTree(t, outside, map[string][]byte{"x.txt": []byte("secret"), "y.txt": []byte("secret"), "f.txt": []byte("secret")})
	p, err := MakePlan(ctx, cfg, Options{Src: src, Bucket: bucket})
	if err != nil || p.Files != 4 {
		t.Fatalf("%v %+v", err, p)
	}
	if err := os.Rename(filepath.Join(src, "a"), filepath.Join(src, "a-moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(src, "a")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(src, "b", "f.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "f.txt"), filepath.Join(src, "b", "f.txt")); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(ctx, cfg, Options{Src: src, Bucket: bucket, RemoveSrc: true, PruneEmptyDirs: true, Batch: &BatchRef{Manifest: p.Manifest}})
	if err != nil || !rep.OK() || rep.Totals.Removed != 1 || rep.Totals.Skipped != 3 {
		t.Fatalf("%v %+v %v", err, rep.Totals, rep.Files)
	}
	for _, f := range rep.Files {
		switch filepath.Base(f.Path) {
		case "x.txt", "y.txt":
			if !strings.Contains(f.Message, "folder a replaced by a non-folder since it was planned") {
				t.Errorf("%+v", f)
			}
		case "f.txt":
			if !strings.Contains(f.Message, "no longer a regular file (now a symlink)") {
				t.Errorf("%+v", f)
			}
		}
	}
	for _, name := range []string{"x.txt", "y.txt", "f.txt"} {
		if b, err := os.ReadFile(filepath.Join(outside, name)); err != nil || string(b) != "secret" {
			t.Errorf("outside %s: %q %v", name, b, err)
		}
	}
	got := testbed.ObjectStrings(t, cfg, bucket)
	for k, v := range got {
		if v == "secret" {
			t.Errorf("%s holds a file from outside SRC", k)
		}
	}
	if got["keep.txt"] != "k" {
		t.Errorf("keep.txt = %q", got["keep.txt"])
	}
}

// TestPlanDryRun writes nothing; include and exclude apply when planning.
func TestPlanDryRun(t *testing.T) {
	t.Parallel()
	v := testbed.StartVersity(t)
	cfg, bucket := v.Config(t), v.Bucket(t)
	src, _ := writePlanTree(t)
	p, err := MakePlan(context.Background(), cfg, Options{Src: src, Bucket: bucket, BatchFiles: 7, DryRun: true})
	if err != nil || p.Batches != 5 || p.Files != 30 || !p.DryRun {
		t.Fatalf("%v %+v", err, p)
	}
	// Filters apply when planning.
	p, err = MakePlan(context.Background(), cfg, Options{Src: src, Bucket: bucket, Exclude: []string{"d0/**"}, DryRun: true})
	if err != nil || p.Files != 20 || p.Batches != 1 {
		t.Fatalf("%v %+v", err, p)
	}
	if got := testbed.Objects(t, cfg, bucket); len(got) != 0 {
		t.Errorf("a dry run wrote %d objects", len(got))
	}
}
