package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/awsutils/awsutils/internal/emf"
	"github.com/awsutils/awsutils/internal/testbed"
	"github.com/awsutils/awsutils/s3upload"
)

func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }

func TestRequestFromEventAndEnv(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	yes, no := true, false
	env := map[string]string{"SRC_DIR": dir, "BUCKET": "envb", "KEY_PREFIX": "envp", "REMOVE_SRC": "true"}
	tests := []struct {
		name    string
		env     map[string]string
		event   Event
		want    request
		wantErr string
	}{
		{"env only", env, Event{}, request{src: dir, bucket: "envb", prefix: "envp", removeSrc: true}, ""},
		{"event wins", env, Event{Bucket: str("evb"), KeyPrefix: str(""), RemoveSrc: &no}, request{src: dir, bucket: "evb"}, ""},
		{"event only", nil, Event{SrcDir: &dir, Bucket: str("b"), RemoveSrc: &yes}, request{src: dir, bucket: "b", removeSrc: true}, ""},
		{"no src", nil, Event{Bucket: str("b")}, request{}, "no source folder"},
		{"no bucket", nil, Event{SrcDir: &dir}, request{}, "no bucket"},
		{"missing src", nil, Event{SrcDir: str(filepath.Join(dir, "nope")), Bucket: str("b")}, request{}, "no such file"},
		{"bad REMOVE_SRC", map[string]string{"REMOVE_SRC": "maybe"}, Event{}, request{}, "REMOVE_SRC"},
		{"concurrency", map[string]string{"UPLOAD_CONCURRENCY": "8"}, Event{SrcDir: &dir, Bucket: str("b")}, request{src: dir, bucket: "b", concurrency: 8}, ""},
		{"zero concurrency follows the path", map[string]string{"UPLOAD_CONCURRENCY": "0"}, Event{SrcDir: &dir, Bucket: str("b")}, request{src: dir, bucket: "b"}, ""},
		{"concurrency not a number", map[string]string{"UPLOAD_CONCURRENCY": "many"}, Event{SrcDir: &dir, Bucket: str("b")}, request{}, `UPLOAD_CONCURRENCY="many": want a number of files in flight`},
		{"negative concurrency", map[string]string{"UPLOAD_CONCURRENCY": "-2"}, Event{SrcDir: &dir, Bucket: str("b")}, request{}, `UPLOAD_CONCURRENCY="-2": want a number of files in flight`},
		{"src is a file", nil, Event{SrcDir: str(file), Bucket: str("b")}, request{}, "srcDir " + file + ": not a folder"},
		{"bad prefix", nil, Event{SrcDir: &dir, Bucket: str("b"), KeyPrefix: str("a/../b")}, request{}, `keyPrefix "a/../b": `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &handler{log: slog.New(slog.NewJSONHandler(io.Discard, nil)), getenv: func(k string) string { return tt.env[k] }}
			got, err := h.request(tt.event)
			if testbed.WantErr(t, err, tt.wantErr) && got != tt.want {
				t.Fatalf("got %+v; want %+v", got, tt.want)
			}
		})
	}
}

var tree = map[string]string{"a.txt": "a", "empty": "", "d/e/deep.csv": "1,2", "日本 語/ファイル.txt": "こんにちは"}

func TestFunction(t *testing.T) {
	t.Parallel()
	bootstrap := testbed.BuildBootstrap(t, "./cmd/s3upload-lambda")
	testbed.EachS3Server(t, func(t *testing.T, s testbed.S3Server) {
		cfg, bucket := s.Config, s.Bucket
		src := t.TempDir()
		testbed.WriteFiles(t, src, tree)
		env := maps.Clone(s.Env)
		env["AWS_LAMBDA_FUNCTION_NAME"] = "s3upload"
		env["SRC_DIR"] = src
		env["BUCKET"] = bucket
		env["KEY_PREFIX"] = "from-env"
		fn := testbed.StartLambda(t, bootstrap, env)
		ctx := context.Background()

		// The event overrides prefix and removeSrc; srcDir and bucket come
		// from the environment.
		payload, err := fn.Invoke(ctx, `{"keyPrefix": "ev/", "removeSrc": true}`)
		if err != nil {
			t.Fatalf("%v\n%s", err, fn.Log())
		}
		var rep s3upload.Report
		if err := json.Unmarshal(payload, &rep); err != nil {
			t.Fatalf("payload %s: %v", payload, err)
		}
		if rep.Totals.Removed != len(tree) || rep.Totals.Failed != 0 {
			t.Fatalf("totals %+v", rep.Totals)
		}
		got := testbed.ObjectStrings(t, cfg, bucket)
		for rel, data := range tree {
			if got["ev/"+rel] != data {
				t.Errorf("ev/%s = %q, want %q", rel, got["ev/"+rel], data)
			}
		}
		if n := testbed.CountFiles(src); n != 0 {
			t.Errorf("%d source files left", n)
		}
		if strings.Contains(fn.Log(), env["AWS_SECRET_ACCESS_KEY"]) {
			t.Error("the secret key appears in the function's log")
		}

		// An empty event takes everything from the environment.
		testbed.WriteFiles(t, src, tree)
		if _, err := fn.Invoke(ctx, `{}`); err != nil {
			t.Fatal(err)
		}
		if got := testbed.ObjectStrings(t, cfg, bucket); got["from-env/d/e/deep.csv"] != "1,2" || testbed.CountFiles(src) != len(tree) {
			t.Errorf("env run: objects %v", got)
		}

		// A wrong bucket fails the invocation and removes nothing.
		_, err = fn.Invoke(ctx, `{"bucket": "no-such-bucket-x", "removeSrc": true}`)
		if fe := testbed.WantFunctionError(t, err, "FilesFailed", "NoSuchBucket"); !strings.Contains(fe.Message, " files failed: ") {
			t.Errorf("message %q; want FilesFailed counting the failed files", fe.Message)
		}
		if n := testbed.CountFiles(src); n != len(tree) {
			t.Errorf("%d of %d source files left", n, len(tree))
		}

		// Unusable input fails the invocation.
		_, err = fn.Invoke(ctx, map[string]any{"srcDir": filepath.Join(src, "missing")})
		testbed.WantFunctionError(t, err, "BadRequest", "srcDir")

		// One EMF line per run: removed, then uploaded (sources kept),
		// then failed (a file not started before the run gave up on the
		// bucket counts as remaining); none for unusable input.
		docs, err := emf.FromLog(fn.Output())
		if err != nil {
			t.Fatal(err)
		}
		var size float64
		for _, data := range tree {
			size += float64(len(data))
		}
		n := float64(len(tree))
		want := []map[string]float64{
			{"FilesRemoved": n, "FilesUploaded": 0, "FilesFailed": 0, "BytesUploaded": size},
			{"FilesRemoved": 0, "FilesUploaded": n, "FilesFailed": 0, "BytesUploaded": size},
			{"FilesRemoved": 0, "FilesUploaded": 0, "BytesUploaded": 0},
		}
		if len(docs) != len(want) {
			t.Fatalf("%d EMF lines, want %d", len(docs), len(want))
		}
		for i, w := range want {
			failed, remaining := docs[i]["FilesFailed"].(float64), docs[i]["FilesRemaining"].(float64)
			if docs[i]["function"] != "s3upload" || docs[i]["FilesKept"] != 0.0 || i < 2 && remaining != 0 || i == 2 && (failed < 1 || failed+remaining != n) {
				t.Errorf("run %d: EMF %v", i, docs[i])
			}
			for k, v := range w {
				if docs[i][k] != v {
					t.Errorf("run %d: %s = %v, want %v", i, k, docs[i][k], v)
				}
			}
		}
	})
}

func TestFunctionConfigError(t *testing.T) {
	t.Parallel()
	bootstrap := testbed.BuildBootstrap(t, "./cmd/s3upload-lambda")
	m := testbed.StartMotoAccount(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "aws_s3_upload.yml")
	if err := os.WriteFile(cfgPath, []byte("region_name: us-east-1\nsecret_key: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := maps.Clone(m.Env())
	env["AWSUTILS_CONFIG"] = cfgPath
	fn := testbed.StartLambda(t, bootstrap, env)
	_, err := fn.Invoke(context.Background(), map[string]any{"srcDir": dir, "bucket": "b"})
	testbed.WantFunctionError(t, err, "BadConfig", "aws_s3_upload.yml:2: unknown key \"secret_key\"")
}

// TestFunctionDeadline runs the function with a 6-second timeout while the
// proxy lets exactly 4 PutObject calls through and holds the rest: the
// function must stop in time, report the 4 files removed and how many
// remain, and leave exactly those files. Nothing depends on speed but that
// 4 small files fit in the 4.8 seconds before the function's margin.
func TestFunctionDeadline(t *testing.T) {
	t.Parallel()
	bootstrap := testbed.BuildBootstrap(t, "./cmd/s3upload-lambda")
	m := testbed.StartMotoAccount(t)
	cfg, bucket := m.Config(t), m.Bucket(t)
	proxy := testbed.StartFaultProxy(t, m.Endpoint, testbed.Faults{})
	const passed = 4
	gate := proxy.Hold(testbed.IsOp("PutObject"))
	gate.ReleaseN(passed)

	src := t.TempDir()
	files := map[string]string{}
	for i := range 60 {
		files[filepath.Join("d", strings.Repeat("f", 1+i%5)+string(rune('a'+i/5))+".txt")] = "data"
	}
	testbed.WriteFiles(t, src, files)
	env := proxy.Env(m.Env())
	env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = "6"
	env["UPLOAD_CONCURRENCY"] = "2"
	fn := testbed.StartLambda(t, bootstrap, env)
	payload, err := fn.Invoke(context.Background(), map[string]any{"srcDir": src, "bucket": bucket, "removeSrc": true})
	if err != nil {
		t.Fatalf("%v\n%s", err, fn.Log())
	}
	var rep s3upload.Report
	if err := json.Unmarshal(payload, &rep); err != nil {
		t.Fatalf("payload %s: %v", payload, err)
	}
	tot := rep.Totals
	if tot.Removed != passed || tot.Remaining != len(files)-passed || tot.Failed != 0 {
		t.Fatalf("totals %+v, stopped %q", tot, rep.Stopped)
	}
	if n := testbed.CountFiles(src); n != tot.Remaining {
		t.Errorf("%d files left, report says %d remain", n, tot.Remaining)
	}
	if got := testbed.ObjectStrings(t, cfg, bucket); len(got) != tot.Removed {
		t.Errorf("bucket holds %d objects, %d files removed", len(got), tot.Removed)
	}
	if n := testbed.MultipartUploads(t, cfg, bucket); n != 0 {
		t.Errorf("%d multipart uploads left", n)
	}

	// The next run picks up the rest.
	gate.Release()
	payload, err = fn.Invoke(context.Background(), map[string]any{"srcDir": src, "bucket": bucket, "removeSrc": true})
	if err != nil {
		t.Fatal(err)
	}
	var rep2 s3upload.Report
	_ = json.Unmarshal(payload, &rep2)
	if rep2.Totals.Removed == 0 || rep2.Totals.Removed+rep2.Totals.Remaining != tot.Remaining {
		t.Errorf("second run totals %+v", rep2.Totals)
	}
}

func TestMetrics(t *testing.T) {
	rep := &s3upload.Report{Totals: s3upload.Totals{Files: 20, Bytes: 1 << 20, Seconds: 2.5, Uploaded: 3, Removed: 10, Kept: 1, Failed: 2, Skipped: 4, Remaining: 7}}
	var buf strings.Builder
	if err := metrics("nightly", rep, time.UnixMilli(1767225600000)).Write(&buf); err != nil {
		t.Fatal(err)
	}
	docs, err := emf.FromLog(buf.String())
	if err != nil || len(docs) != 1 {
		t.Fatalf("%v %v", docs, err)
	}
	d := docs[0]
	delete(d, "_aws")
	want := map[string]any{"function": "nightly", "FilesUploaded": 3.0, "FilesRemoved": 10.0, "FilesKept": 1.0,
		"FilesFailed": 2.0, "FilesRemaining": 7.0, "BytesUploaded": float64(1 << 20), "Duration": 2500.0}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("got  %v\nwant %v", d, want)
	}
}
