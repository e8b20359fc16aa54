package s3upload

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
)

// TestRemoveSrcUnderFaults uploads with removal through a proxy that fails
// 5 % of requests with a 500 and resets 1 % mid-body, with SDK retries off
// so that faults become real failures. After every run: no file is lost
// (each source is on disk or its object holds the same bytes), the report's
// failures are exactly the files left, and re-runs converge. versitygw is
// the server because it verifies the checksums moto only echoes.
// AWSUTILS_SOAK=1 uses 10x the files.
func TestRemoveSrcUnderFaults(t *testing.T) {
	t.Parallel()
	v := testbed.StartVersity(t)
	bucket := v.Bucket(t)
	n := 400
	if os.Getenv("AWSUTILS_SOAK") == "1" {
		n = 4000
	}
	const seed = 20261128
	p := testbed.StartFaultProxy(t, v.Endpoint, testbed.Faults{Seed: seed, Error500: 0.05, Reset: 0.01, Logf: func(string, ...any) {}})
	cfg := p.Config(t, v.Env(), awsclient.Options{MaxAttempts: 1})
	direct := awsclient.S3(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(v.Endpoint) })

	src := t.TempDir()
	rng := rand.New(rand.NewPCG(seed, 1))
	originals := map[string][]byte{}
	for i := range n {
		rel := fmt.Sprintf("d%02d/f%04d.bin", i%20, i)
		body := make([]byte, rng.IntN(8<<10))
		for j := range body {
			body[j] = byte(rng.UintN(256))
		}
		originals[rel] = body
		path := filepath.Join(src, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	ctx := context.Background()
	deleted := 0
	for run := 1; ; run++ {
		rep, err := Run(ctx, cfg, Options{Src: src, Bucket: bucket, Prefix: "faults", RemoveSrc: true, SkipUnchanged: true, Concurrency: 16})
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		onDisk := 0
		for rel, body := range originals {
			if got, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(rel))); err == nil {
				if !bytes.Equal(got, body) {
					t.Fatalf("run %d: %s changed on disk", run, rel)
				}
				onDisk++
				continue
			}
			out, err := direct.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("faults/" + rel)})
			if err != nil {
				t.Fatalf("run %d: LOST %s: removed, and its object cannot be read: %v", run, rel, err)
			}
			got, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("run %d: LOST %s: removed, and its object differs (%d bytes, want %d; %v)", run, rel, len(got), len(body), err)
			}
		}
		deleted += rep.Totals.Removed
		if rep.Totals.Failed != onDisk {
			t.Fatalf("run %d: report says %d failed, %d files are still on disk", run, rep.Totals.Failed, onDisk)
		}
		st := p.Stats()
		t.Logf("run %d: %d failed (honestly reported), %d removed; faults injected so far %d %v; files lost 0", run, rep.Totals.Failed, rep.Totals.Removed, st.Injected(), st.Faults)
		if onDisk == 0 {
			if deleted != n {
				t.Fatalf("removed %d over %d runs, want %d", deleted, run, n)
			}
			if st.Injected() == 0 {
				t.Fatal("no fault was injected: the test proved nothing")
			}
			return
		}
		if run == 10 {
			t.Fatalf("not converged after %d runs: %d files left", run, onDisk)
		}
	}
}
