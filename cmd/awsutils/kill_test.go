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

// killBed is versitygw behind a latency proxy, a built awsutils binary and
// a tree of files whose original bytes the test keeps.
type killBed struct {
	bin, src, bucket string
	env              []string
	direct           *s3.Client
	originals        map[string][]byte
}

func newKillBed(t *testing.T, latency time.Duration, small, large int, largeSize int) *killBed {
	t.Helper()
	v := testbed.StartVersity(t)
	b := &killBed{bucket: v.Bucket(t), src: t.TempDir(), originals: map[string][]byte{}}
	b.direct = awsclient.S3(v.Config(t))
	p := testbed.StartFaultProxy(t, v.Endpoint, testbed.Faults{Latency: latency, Logf: func(string, ...any) {}})
	b.env = os.Environ()
	for k, val := range p.Env(v.Env()) {
		b.env = append(b.env, k+"="+val)
	}
	b.bin = filepath.Join(t.TempDir(), "awsutils")
	if out, err := exec.Command("go", "build", "-o", b.bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	add := func(rel string, size int) {
		body := make([]byte, size)
		for i := range body {
			body[i] = byte(rng.UintN(256))
		}
		b.originals[rel] = body
		path := filepath.Join(b.src, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range small {
		add(fmt.Sprintf("s/%02d/f%04d.dat", i%10, i), 1+rng.IntN(16<<10))
	}
	for i := range large {
		add(fmt.Sprintf("big/%d.bin", i), largeSize)
	}
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

// TestKillAndRerun kills `awsutils upload --remove-src` with SIGKILL at
// seeded random moments: after each kill no file is lost, and a final
// rerun completes with every file stored and removed.
func TestKillAndRerun(t *testing.T) {
	b := newKillBed(t, 40*time.Millisecond, 600, 2, 12<<20)
	rng := rand.New(rand.NewPCG(42, 1))
	kills := 0
	for i := range 3 {
		var out bytes.Buffer
		cmd := b.start(t, &out)
		after := time.Duration(100+rng.IntN(300)) * time.Millisecond
		time.Sleep(after)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		left := b.noneLost(t, fmt.Sprintf("kill %d after %s", i+1, after))
		t.Logf("kill %d after %s: %d of %d files still on disk, none lost", i+1, after, left, len(b.originals))
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
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			b := newKillBed(t, 150*time.Millisecond, 20, 2, 30<<20)
			var out bytes.Buffer
			cmd := b.start(t, &out)
			// Signal as soon as a multipart upload is open: a fixed sleep
			// can miss it, as the parts go fast from the page cache.
			for deadline := time.Now().Add(30 * time.Second); b.openMultipart(t) == 0; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("no multipart upload opened in 30 s:\n%s", out.String())
				}
			}
			_ = cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
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
			// not a failure (found when a verify cut short read "failed").
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
