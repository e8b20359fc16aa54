package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
)

// killBed is versitygw behind a proxy that can hold requests, a built
// awsutils binary and a tree of files whose original bytes the test keeps.
type killBed struct {
	bin, src, bucket string
	env              []string
	direct           *s3.Client
	proxy            *testbed.FaultProxy
	originals        map[string][]byte
}

func newKillBed(t *testing.T, small, large int, largeSize int) *killBed {
	t.Helper()
	v := testbed.StartVersity(t)
	b := &killBed{bucket: v.Bucket(t), src: t.TempDir(), originals: map[string][]byte{}}
	b.direct = awsclient.S3(v.Config(t))
	p := testbed.StartFaultProxy(t, v.Endpoint, testbed.Faults{Logf: func(string, ...any) {}})
	b.proxy = p
	b.env = childEnv(p.Env(v.Env()))
	b.bin = testbed.BuildCommand(t, "./cmd/awsutils")
	rng := rand.New(rand.NewPCG(7, 7))
	add := func(rel string, size int) {
		body := make([]byte, size)
		for i := range body {
			body[i] = byte(rng.UintN(256))
		}
		b.originals[rel] = body
	}
	for i := range small {
		add(fmt.Sprintf("s/%02d/f%04d.dat", i%10, i), 1+rng.IntN(16<<10))
	}
	for i := range large {
		add(fmt.Sprintf("big/%d.bin", i), largeSize)
	}
	testbed.WriteFiles(t, b.src, b.originals)
	return b
}

func (b *killBed) start(t *testing.T, stdout *bytes.Buffer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(b.bin, "upload", "--remove-src", "--quiet", "--concurrency", "16", "--multipart-threshold", "16MiB", b.src, "s3://"+b.bucket+"/k")
	cmd.Env = b.env
	cmd.Stdout, cmd.Stderr = stdout, stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// noneLost checks that every original is still on disk unchanged or stored
// with the same bytes, and returns how many are still on disk.
func (b *killBed) noneLost(t *testing.T, when string) int {
	t.Helper()
	onDisk := 0
	for rel, body := range b.originals {
		if got, err := os.ReadFile(filepath.Join(b.src, rel)); err == nil {
			if !bytes.Equal(got, body) {
				t.Fatalf("%s: %s changed on disk", when, rel)
			}
			onDisk++
			continue
		}
		out, err := b.direct.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String("k/" + rel)})
		if err != nil {
			t.Fatalf("%s: LOST %s: gone from disk and not readable in S3: %v", when, rel, err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("%s: LOST %s: gone from disk and S3 holds other bytes", when, rel)
		}
	}
	return onDisk
}

func (b *killBed) openMultipart(t *testing.T) int {
	t.Helper()
	out, err := b.direct.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(b.bucket)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

// waitCtx bounds a wait for a state the run must reach on its own; it only
// turns a hang into a failure.
func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// until waits for gate's condition while cmd runs; a run that ends first
// fails the test, since the moment the test wanted never came.
func until(t *testing.T, cmd *exec.Cmd, out *bytes.Buffer, exited <-chan error, wait func(context.Context) error, what string) {
	t.Helper()
	ctx := waitCtx(t)
	reached := make(chan error, 1)
	go func() { reached <- wait(ctx) }()
	select {
	case err := <-reached:
		if err != nil {
			_ = cmd.Process.Kill()
			t.Fatalf("waiting for %s: %v\n%s", what, err, out.String())
		}
	case err := <-exited:
		t.Fatalf("the run ended (%v) before %s:\n%s", err, what, out.String())
	}
}

// TestKillAndRerun kills `awsutils upload --remove-src` with SIGKILL at
// seeded random points: after a seeded number of S3 requests, with the next
// one held by the proxy, so the kill always lands mid-run with calls in
// flight. After each kill no file is lost, and a final rerun completes
// with every file stored and removed.
func TestKillAndRerun(t *testing.T) {
	t.Parallel()
	b := newKillBed(t, 600, 2, 12<<20)
	rng := rand.New(rand.NewPCG(42, 1))
	kills := 0
	left := len(b.originals)
	for i := range 3 {
		var out bytes.Buffer
		gate := b.proxy.Hold(nil)
		// A run makes at least one request per file left: a kill after
		// 10-50 % of that many always lands mid-run.
		after := max(1, left/10+rng.IntN(max(1, left*2/5)))
		gate.ReleaseN(after)
		cmd := b.start(t, &out)
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		until(t, cmd, &out, exited, func(ctx context.Context) error { return gate.WaitHeld(ctx, 1) },
			fmt.Sprintf("request %d", after+1))
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		// What the dead process left held is given up, never forwarded;
		// then the gate opens for the next run.
		if err := gate.Wait(waitCtx(t), func(c testbed.GateCounts) bool { return c.Held == 0 }); err != nil {
			t.Fatal(err)
		}
		gate.Release()
		left = b.noneLost(t, fmt.Sprintf("kill %d after %d requests", i+1, after))
		t.Logf("kill %d after %d requests: %d of %d files still on disk, none lost", i+1, after, left, len(b.originals))
		kills++
	}
	var out bytes.Buffer
	cmd := b.start(t, &out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rerun after %d kills: %v\n%s", kills, err, out.String())
	}
	if left := b.noneLost(t, "rerun"); left != 0 {
		t.Fatalf("rerun left %d files", left)
	}
}

// TestSignalsStopCleanly: SIGINT or SIGTERM while a multipart upload is in
// flight stops the run with a report and a failing exit, aborts the
// multipart upload and loses nothing.
func TestSignalsStopCleanly(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			b := newKillBed(t, 20, 2, 30<<20)
			// Signal while a part is in flight: the proxy holds every part,
			// so the run cannot have finished the multipart upload first.
			gate := b.proxy.Hold(testbed.IsOp("UploadPart"))
			defer gate.Release()
			var out bytes.Buffer
			cmd := b.start(t, &out)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			until(t, cmd, &out, done, func(ctx context.Context) error { return gate.WaitHeld(ctx, 1) }, "a part in flight")
			if n := b.openMultipart(t); n == 0 {
				t.Fatal("a part is in flight but no multipart upload is open")
			}
			_ = cmd.Process.Signal(sig)
			select {
			case err := <-done:
				if err == nil {
					t.Fatalf("exit 0 after %s:\n%s", sig, out.String())
				}
			case <-time.After(60 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("still running 60 s after %s", sig)
			}
			if !strings.Contains(out.String(), "files:") {
				t.Errorf("no report after %s:\n%s", sig, out.String())
			}
			if n := b.openMultipart(t); n != 0 {
				t.Errorf("%d multipart uploads left open after %s", n, sig)
			}
			left := b.noneLost(t, sig.String())
			t.Logf("%s: %d of %d files still on disk, none lost; report: %s", sig, left, len(b.originals), lastLine(out.String()))
			// What the signal stopped is remaining work for the next run,
			// not a failure: a verify cut short must not read "failed".
			if sum := lastLine(out.String()); !strings.Contains(sum, " 0 failed") || !strings.Contains(sum, "remaining") {
				t.Errorf("after %s the report says %q; want 0 failed and some remaining\n%s", sig, sum, out.String())
			}
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
