package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
	"github.com/awsutils/awsutils/s3upload"
)

// TestShardsAtOnce starts N real processes at once on the same tree, each
// with its shard (two of them find their index as an AWS Batch array job
// and a Kubernetes indexed Job do) and --remove-src --prune-empty-dirs:
// every file is uploaded by exactly one of them, byte-exact, every source
// removed, and the folders end pruned (the last process to empty a folder
// removes it; rmdir never removes one that still holds another shard's
// file).
func TestShardsAtOnce(t *testing.T) {
	t.Parallel()
	testbed.EachS3Server(t, func(t *testing.T, s testbed.S3Server) {
		const n = 4
		src := t.TempDir()
		files := map[string]string{}
		for i := range 240 {
			files[fmt.Sprintf("a%d/b%d/c%d/f%03d.txt", i%3, i%5, i%2, i)] = strings.Repeat(fmt.Sprint(i), 1+i%7)
		}
		testbed.WriteFiles(t, src, files)
		bin := testbed.BuildCommand(t, "./cmd/awsutils")
		type proc struct {
			cmd      *exec.Cmd
			out, err bytes.Buffer
		}
		var procs []*proc
		for k := range n {
			shard := fmt.Sprintf("%d/%d", k, n)
			env := s.Env
			switch k {
			case 1:
				shard, env = fmt.Sprintf("auto/%d", n), withEnv(s.Env, "AWS_BATCH_JOB_ARRAY_INDEX", "1")
			case 2:
				shard, env = fmt.Sprintf("auto/%d", n), withEnv(s.Env, "JOB_COMPLETION_INDEX", "2")
			}
			p := &proc{cmd: exec.Command(bin, "upload", "--shard", shard, "--remove-src", "--prune-empty-dirs",
				"--output", "json", "--quiet", "--concurrency", "4", src, "s3://"+s.Bucket+"/sh")}
			p.cmd.Env = childEnv(env)
			p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.err
			if err := p.cmd.Start(); err != nil {
				t.Fatal(err)
			}
			procs = append(procs, p)
		}
		seen := map[string]int{}
		for k, p := range procs {
			if err := p.cmd.Wait(); err != nil {
				t.Fatalf("shard %d: %v\n%s", k, err, p.err.String())
			}
			var rep s3upload.Report
			if err := json.Unmarshal(p.out.Bytes(), &rep); err != nil {
				t.Fatalf("shard %d: %v\n%s", k, err, p.out.String())
			}
			if rep.Shard == nil || rep.Shard.Index != k || rep.Shard.Count != n || rep.Totals.Failed != 0 {
				t.Fatalf("shard %d: %+v %+v", k, rep.Shard, rep.Totals)
			}
			want := map[int]string{1: "AWS_BATCH_JOB_ARRAY_INDEX", 2: "JOB_COMPLETION_INDEX"}[k]
			if rep.Shard.From != want {
				t.Errorf("shard %d: index from %q, want %q", k, rep.Shard.From, want)
			}
			// The others' entries a walk saw depend on what they had
			// already removed and pruned; its own are all there.
			if rep.Totals.Removed == 0 || rep.Totals.OtherShards == 0 {
				t.Errorf("shard %d: %d removed, %d left to others", k, rep.Totals.Removed, rep.Totals.OtherShards)
			}
			for _, f := range rep.Files {
				if f.Result != s3upload.Removed {
					t.Errorf("shard %d: %+v", k, f)
				}
				rel, _ := filepath.Rel(src, f.Path)
				seen[filepath.ToSlash(rel)]++
			}
		}
		for rel := range files {
			if seen[rel] != 1 {
				t.Errorf("%s handled %d times", rel, seen[rel])
			}
		}
		got := testbed.ObjectStrings(t, s.Config, s.Bucket)
		for rel, data := range files {
			if got["sh/"+rel] != data {
				t.Errorf("sh/%s = %q, want %q", rel, got["sh/"+rel], data)
			}
		}
		if len(got) != len(files) {
			t.Errorf("bucket holds %d objects, want %d", len(got), len(files))
		}
		if left := testbed.CountFiles(src); left != 0 {
			t.Errorf("%d source files left", left)
		}
		if entries, _ := filepath.Glob(filepath.Join(src, "*")); len(entries) != 0 {
			t.Errorf("folders left: %v", entries)
		}
	})
}

// TestScaleFlagsRefused: bad shards, batches and plans exit 2 naming the
// flag, before anything is touched.
func TestScaleFlagsRefused(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	testbed.WriteFiles(t, src, cliTree)
	env := map[string]string{"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_REGION": "us-east-1",
		"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"index out of range", []string{"--shard", "3/2", src, "s3://b/p"}, `--shard "3/2": index 3 is out of range: want 0 to 1`},
		{"no shards", []string{"--shard", "0/0", src, "s3://b/p"}, `--shard "0/0": N must be a whole number of shards, 1 or more`},
		{"not numbers", []string{"--shard", "a/b", src, "s3://b/p"}, `--shard "a/b": N must be`},
		{"index not a number", []string{"--shard", "x/2", src, "s3://b/p"}, `--shard "x/2": K must be a number`},
		{"no slash", []string{"--shard", "2", src, "s3://b/p"}, `--shard "2": want K/N`},
		{"auto without index", []string{"--shard", "auto/3", src, "s3://b/p"}, `--shard "auto/3": auto: neither AWS_BATCH_JOB_ARRAY_INDEX nor JOB_COMPLETION_INDEX is set`},
		{"negative", []string{"--shard", "-1/2", src, "s3://b/p"}, `--shard "-1/2": index -1 is out of range`},
		{"batch without index", []string{"--batch", "s3://b/m/manifest.json", src, "s3://b/p"}, `--batch "s3://b/m/manifest.json": want s3://BUCKET/.../manifest.json#K`},
		{"batch not a manifest", []string{"--batch", "s3://b/m/x.json#1", src, "s3://b/p"}, `--batch "s3://b/m/x.json#1": a manifest's key ends in /manifest.json`},
		{"batch bad index", []string{"--batch", "s3://b/m/manifest.json#x", src, "s3://b/p"}, `the batch index K must be a whole number`},
		{"plan and batch", []string{"--plan", "s3://b/m/", "--batch", "s3://b/m/manifest.json#1", src, "s3://b/p"}, "--plan and --batch do not go together"},
		{"plan a missing folder", []string{"--plan", "s3://b/m/", filepath.Join(src, "nope"), "s3://b/p"}, "is not a readable folder"},
		{"plan not s3", []string{"--plan", "/tmp/m", src, "s3://b/p"}, `--plan /tmp/m: want s3://BUCKET/KEY`},
		{"batch files", []string{"--plan", "s3://b/m/", "--batch-files", "-1", src, "s3://b/p"}, "--batch-files -1: must not be negative"},
		{"batch bytes", []string{"--plan", "s3://b/m/", "--batch-bytes", "lots", src, "s3://b/p"}, `--batch-bytes: "lots" is not a size`},
		{"shard and batch", []string{"--shard", "0/2", "--batch", "s3://b/m/manifest.json#1", src, "s3://b/p"}, "--shard 0/2: a planned batch is not sharded again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runBin(t, env, append([]string{"upload"}, tt.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("exit %d, stderr %q, stdout %q; want exit 2 and %q", code, stderr, stdout, tt.want)
			}
		})
	}
	if n := testbed.CountFiles(src); n != len(cliTree) {
		t.Errorf("%d of %d files left", n, len(cliTree))
	}
}

// TestPlanAndBatchCommands plans with the CLI, runs the batches as an
// array job would (--batch MANIFEST#K), and sums them up with --summary.
func TestPlanAndBatchCommands(t *testing.T) {
	t.Parallel()
	v := testbed.StartVersity(t)
	cfg, bucket := v.Config(t), v.Bucket(t)
	src := t.TempDir()
	testbed.WriteFiles(t, src, cliTree)
	code, stdout, stderr := runBin(t, v.Env(), "upload", "--plan", "s3://"+bucket+"/plans/", "--batch-files", "2", "--output", "json", src, "s3://"+bucket+"/up")
	if code != exitOK {
		t.Fatalf("plan: exit %d: %s %s", code, stdout, stderr)
	}
	var p s3upload.Plan
	if err := json.Unmarshal([]byte(stdout), &p); err != nil || p.Batches != 2 || !strings.HasPrefix(p.ManifestKey, "plans/") {
		t.Fatalf("plan %s: %v", stdout, err)
	}
	code, stdout, _ = runBin(t, v.Env(), "upload", "--summary", p.Manifest)
	if code != exitFailed || !strings.Contains(stdout, "0 of 2 batches reported") {
		t.Fatalf("summary before: exit %d: %s", code, stdout)
	}
	// Batch 0 without metadata, batch 1 with.
	withMeta := map[string]bool{}
	for k := range p.Batches {
		args := []string{"upload", "--batch", fmt.Sprintf("%s#%d", p.Manifest, k), "--remove-src", "--output", "json", src, "s3://" + bucket + "/up/"}
		if k == 0 {
			args = append(args, "--no-metadata")
		}
		code, stdout, stderr := runBin(t, v.Env(), args...)
		var rep s3upload.Report
		if err := json.Unmarshal([]byte(stdout), &rep); code != exitOK || err != nil || rep.Totals.Removed != 2 || rep.Batch == nil || rep.Batch.Index != k {
			t.Fatalf("batch %d: exit %d: %s %s", k, code, stdout, stderr)
		}
		for _, f := range rep.Files {
			withMeta[f.Key] = k == 1
		}
	}
	client := awsclient.S3(cfg)
	for key, want := range withMeta {
		h, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil || (h.Metadata["file-mtime"] != "") != want {
			t.Errorf("%s: metadata %v (%v), want it: %v", key, h.Metadata, err, want)
		}
	}
	code, stdout, stderr = runBin(t, v.Env(), "upload", "--batch", p.Manifest+"#0", "--remove-src", src, "s3://"+bucket+"/elsewhere")
	if code != exitUsage || !strings.Contains(stderr, "planned for s3://"+bucket+"/up, not s3://"+bucket+"/elsewhere") {
		t.Fatalf("other destination: exit %d: %s %s", code, stdout, stderr)
	}
	code, stdout, stderr = runBin(t, v.Env(), "upload", "--summary", p.Manifest)
	if code != exitOK || !strings.Contains(stdout, "2 of 2 batches reported: 0 uploaded, 4 removed") {
		t.Fatalf("summary: exit %d: %s %s", code, stdout, stderr)
	}
	got := testbed.ObjectStrings(t, cfg, bucket)
	for rel, data := range cliTree {
		if got["up/"+rel] != data {
			t.Errorf("up/%s = %q", rel, got["up/"+rel])
		}
	}
}
