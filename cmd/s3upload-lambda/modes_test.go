package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/awsutils/awsutils/internal/testbed"
	"github.com/awsutils/awsutils/s3upload"
)

// TestFunctionPlanBatchSummary drives the function as the state machine
// does: plan, each batch as its Distributed Map item, then the summary.
func TestFunctionPlanBatchSummary(t *testing.T) {
	t.Parallel()
	bootstrap := testbed.BuildBootstrap(t, "./cmd/s3upload-lambda")
	testbed.EachS3Server(t, func(t *testing.T, s testbed.S3Server) {
		ctx := context.Background()
		src := t.TempDir()
		files := map[string]string{}
		for i := range 12 {
			files[fmt.Sprintf("d%d/f%d.txt", i%3, i)] = fmt.Sprint("content ", i)
		}
		testbed.WriteFiles(t, src, files)
		env := maps.Clone(s.Env)
		env["AWS_LAMBDA_FUNCTION_NAME"] = "s3upload"
		fn := testbed.StartLambda(t, bootstrap, env)

		payload, err := fn.Invoke(ctx, map[string]any{"mode": "plan", "srcDir": src, "bucket": s.Bucket, "keyPrefix": "k", "batchFiles": 5})
		if err != nil {
			t.Fatalf("%v\n%s", err, fn.Log())
		}
		var p s3upload.Plan
		if err := json.Unmarshal(payload, &p); err != nil {
			t.Fatal(err)
		}
		if p.Batches != 3 || p.Files != 12 || p.ManifestBucket != s.Bucket || p.Src != src || p.Bucket != s.Bucket || p.Prefix != "k" {
			t.Fatalf("plan %s", payload)
		}
		// The Distributed Map's items, as its ItemReader reads them.
		var items []map[string]any
		if err := json.Unmarshal(testbed.Objects(t, s.Config, s.Bucket)[p.ManifestKey], &items); err != nil || len(items) != 3 {
			t.Fatalf("manifest: %v %v", items, err)
		}

		// The summary fails while batches are missing.
		_, err = fn.Invoke(ctx, map[string]any{"mode": "summary", "manifest": p.Manifest})
		testbed.WantFunctionError(t, err, "BatchesFailed", "3 batches have no report")

		for _, it := range items {
			payload, err := fn.Invoke(ctx, map[string]any{"srcDir": src, "bucket": s.Bucket, "keyPrefix": "k", "removeSrc": true, "batch": it})
			if err != nil {
				t.Fatalf("batch %v: %v\n%s", it, err, fn.Log())
			}
			var rep s3upload.Report
			if err := json.Unmarshal(payload, &rep); err != nil || rep.Batch == nil || rep.Totals.Removed == 0 {
				t.Fatalf("batch %v: %s", it, payload)
			}
		}
		got := testbed.ObjectStrings(t, s.Config, s.Bucket)
		for rel, data := range files {
			if got["k/"+rel] != data {
				t.Errorf("k/%s = %q, want %q", rel, got["k/"+rel], data)
			}
		}
		if n := testbed.CountFiles(src); n != 0 {
			t.Errorf("%d files left", n)
		}

		payload, err = fn.Invoke(ctx, map[string]any{"mode": "summary", "manifest": p.Manifest})
		if err != nil {
			t.Fatal(err)
		}
		var sum s3upload.Summary
		if err := json.Unmarshal(payload, &sum); err != nil || sum.Removed != 12 || sum.Reported != 3 || sum.Failed != 0 {
			t.Fatalf("summary %s: %v", payload, err)
		}

		// Bad input: one line, nothing touched.
		_, err = fn.Invoke(ctx, map[string]any{"srcDir": t.TempDir(), "bucket": s.Bucket, "keyPrefix": "k", "batch": items[0]})
		testbed.WantFunctionError(t, err, "BadRequest", "batch ")
		_, err = fn.Invoke(ctx, map[string]any{"srcDir": src, "bucket": s.Bucket, "shard": map[string]int{"index": 3, "count": 2}})
		testbed.WantFunctionError(t, err, "BadRequest", "shard 3/2: index 3 is out of range")
		_, err = fn.Invoke(ctx, map[string]any{"mode": "summary", "manifest": "s3://" + s.Bucket + "/none/manifest.json"})
		testbed.WantFunctionError(t, err, "BadRequest", "no plan there")
		_, err = fn.Invoke(ctx, map[string]any{"mode": "replan"})
		testbed.WantFunctionError(t, err, "BadRequest", `mode "replan"`)
	})
}

// TestRequestScaleFields: the event's shard, batch and plan fields reach
// the options; what the library refuses is named by its event field.
func TestRequestScaleFields(t *testing.T) {
	dir := t.TempDir()
	b := "b"
	yes := true
	n, neg := 5, -1
	ref := &s3upload.BatchRef{Manifest: "s3://b/p/manifest.json", Index: 2}
	mp := "s3://b/plans/"
	bad := "plans/"
	tests := []struct {
		name    string
		event   Event
		check   func(s3upload.Options) bool
		wantErr string
	}{
		{"shard", Event{SrcDir: &dir, Bucket: &b, Shard: &s3upload.Shard{Index: 1, Count: 3, From: "ignored"}},
			func(o s3upload.Options) bool { return o.Shard == s3upload.Shard{Index: 1, Count: 3} }, ""},
		{"batch", Event{SrcDir: &dir, Bucket: &b, Batch: ref}, func(o s3upload.Options) bool { return *o.Batch == *ref }, ""},
		{"plan fields", Event{SrcDir: &dir, Bucket: &b, ManifestPrefix: &mp, BatchFiles: &n, NoMetadata: &yes},
			func(o s3upload.Options) bool { return o.ManifestPrefix == mp && o.BatchFiles == 5 && o.NoMetadata }, ""},
		{"shard out of range", Event{SrcDir: &dir, Bucket: &b, Shard: &s3upload.Shard{Index: 3, Count: 2}}, nil, "shard 3/2: index 3 is out of range: want 0 to 1"},
		{"shard without count", Event{SrcDir: &dir, Bucket: &b, Shard: &s3upload.Shard{Index: 1}}, nil, "shard 1/0: an index needs a count"},
		{"batch not a manifest", Event{SrcDir: &dir, Bucket: &b, Batch: &s3upload.BatchRef{Manifest: "s3://b/x"}}, nil, `batch "s3://b/x": a manifest's key ends in /manifest.json`},
		{"manifest prefix", Event{SrcDir: &dir, Bucket: &b, ManifestPrefix: &bad}, nil, `manifestPrefix "plans/": want s3://BUCKET/KEY`},
		{"batch files", Event{SrcDir: &dir, Bucket: &b, BatchFiles: &neg}, nil, "batchFiles -1: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &handler{log: discard(), getenv: func(string) string { return "" }}
			got, err := h.request(tt.event)
			if testbed.WantErr(t, err, tt.wantErr) && !tt.check(got.options()) {
				t.Fatalf("options %+v", got.options())
			}
		})
	}
}

func discard() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

// TestFunctionBatchDeadline runs a planned batch with a 6-second timeout
// while a proxy lets exactly 4 PutObject calls through: the invocation
// fails FilesRemaining (so that Step Functions retries it), the run again
// finishes the batch, and the summary counts every file removed once.
// Nothing depends on speed but that 4 small files fit in the 4.8 seconds
// before the function's margin.
func TestFunctionBatchDeadline(t *testing.T) {
	t.Parallel()
	bootstrap := testbed.BuildBootstrap(t, "./cmd/s3upload-lambda")
	m := testbed.StartMotoAccount(t)
	cfg, bucket := m.Config(t), m.Bucket(t)
	proxy := testbed.StartFaultProxy(t, m.Endpoint, testbed.Faults{})
	src := t.TempDir()
	files := map[string]string{}
	for i := range 20 {
		files[fmt.Sprintf("d%d/f%02d.txt", i%2, i)] = fmt.Sprint("data ", i)
	}
	testbed.WriteFiles(t, src, files)
	ctx := context.Background()
	p, err := s3upload.MakePlan(ctx, cfg, s3upload.Options{Src: src, Bucket: bucket})
	if err != nil || p.Batches != 1 {
		t.Fatalf("%v %+v", err, p)
	}
	const passed = 4
	gate := proxy.Hold(func(r *http.Request) bool {
		return testbed.IsOp("PutObject")(r) && !strings.Contains(r.URL.Path, "/.awsutils/")
	})
	gate.ReleaseN(passed)
	env := proxy.Env(m.Env())
	env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = "6"
	env["UPLOAD_CONCURRENCY"] = "2"
	fn := testbed.StartLambda(t, bootstrap, env)
	event := map[string]any{"srcDir": src, "bucket": bucket, "removeSrc": true, "batch": map[string]any{"manifest": p.Manifest, "index": 0}}
	_, err = fn.Invoke(ctx, event)
	testbed.WantFunctionError(t, err, "FilesRemaining", "16 files remaining")
	if n := testbed.CountFiles(src); n != len(files)-passed {
		t.Fatalf("%d files left, want %d", n, len(files)-passed)
	}

	gate.Release()
	payload, err := fn.Invoke(ctx, event)
	if err != nil {
		t.Fatalf("%v\n%s", err, fn.Log())
	}
	var rep s3upload.Report
	if err := json.Unmarshal(payload, &rep); err != nil || rep.Totals.Removed != len(files)-passed || rep.Batch.Totals.Removed != len(files) {
		t.Fatalf("retry: %s", payload)
	}
	sum, err := s3upload.Summarize(ctx, cfg, p.Manifest)
	if err != nil || sum.Err() != nil || sum.Removed != len(files) || sum.Remaining != 0 {
		t.Fatalf("summary %+v: %v", sum, err)
	}
	got := testbed.ObjectStrings(t, cfg, bucket)
	for rel, data := range files {
		if got[rel] != data {
			t.Errorf("%s = %q, want %q", rel, got[rel], data)
		}
	}
}
