package testbed

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/awsutils/awsutils/awsclient"
)

// waitLong bounds a wait the test expects to end on its own; it only turns
// a hang into a failure.
const waitLong = time.Minute

func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLong)
	t.Cleanup(cancel)
	return ctx
}

// async runs f and delivers its error.
func async(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

func wantCounts(t *testing.T, g *Gate, want GateCounts) {
	t.Helper()
	if got := g.Counts(); got != want {
		t.Errorf("gate counts %+v, want %+v", got, want)
	}
}

// noResult fails if any of chs has delivered: the calls are held, so
// nothing can have come back, however fast the machine.
func noResult(t *testing.T, chs ...<-chan error) {
	t.Helper()
	for i, ch := range chs {
		select {
		case err := <-ch:
			t.Fatalf("call %d returned while held: %v", i, err)
		default:
		}
	}
}

func TestGateHoldsAndReleasesInOrder(t *testing.T) {
	t.Parallel()
	b := newEC2Bed(t, 3, awsclient.Options{})
	ctx := waitCtx(t)
	g := b.proxy.Hold(IsOp("StopInstances"))

	// Other operations are not held.
	if _, err := b.client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatal(err)
	}
	var calls []<-chan error
	for i, id := range b.ids {
		calls = append(calls, async(func() error {
			_, err := b.client.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}})
			return err
		}))
		// One at a time, so that arrival order is the order of the ids.
		if err := g.WaitHeld(ctx, i+1); err != nil {
			t.Fatal(err)
		}
	}
	noResult(t, calls...)
	wantCounts(t, g, GateCounts{Arrived: 3, Held: 3})
	if st := InstanceStates(t, b.direct, b.ids...); st[b.ids[0]] != "running" || st[b.ids[2]] != "running" {
		t.Fatalf("held calls reached the server: %v", st)
	}

	g.ReleaseN(1)
	if err := <-calls[0]; err != nil {
		t.Fatal(err)
	}
	noResult(t, calls[1:]...)
	wantCounts(t, g, GateCounts{Arrived: 3, Held: 2, Passed: 1})
	if st := InstanceStates(t, b.direct, b.ids...); st[b.ids[0]] != "stopped" || st[b.ids[1]] != "running" {
		t.Fatalf("after releasing the first: %v", st)
	}

	g.Release()
	for _, ch := range calls[1:] {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	// Open for good: a later call passes at once.
	if _, err := b.client.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: b.ids[:1]}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: b.ids[:1]}); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, g, GateCounts{Arrived: 4, Passed: 4})
}

// Permits given before the requests arrive let that many pass; the next
// is held.
func TestGatePermits(t *testing.T) {
	t.Parallel()
	b := newEC2Bed(t, 0, awsclient.Options{})
	ctx := waitCtx(t)
	g := b.proxy.Hold(nil)
	g.ReleaseN(2)
	for range 2 {
		if _, err := b.client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
			t.Fatal(err)
		}
	}
	third := async(func() error {
		_, err := b.client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		return err
	})
	if err := g.WaitHeld(ctx, 1); err != nil {
		t.Fatal(err)
	}
	noResult(t, third)
	wantCounts(t, g, GateCounts{Arrived: 3, Held: 1, Passed: 2})
	g.ReleaseN(1)
	if err := <-third; err != nil {
		t.Fatal(err)
	}
}

// A held request whose client gives up is never forwarded: the server
// never acts on it, even once the gate opens.
func TestGateDropsAbandonedRequests(t *testing.T) {
	t.Parallel()
	b := newEC2Bed(t, 1, awsclient.Options{})
	ctx := waitCtx(t)
	g := b.proxy.Hold(IsOp("StopInstances"))
	callCtx, expire := ManualDeadline(ctx)
	call := async(func() error {
		_, err := b.client.StopInstances(callCtx, &ec2.StopInstancesInput{InstanceIds: b.ids})
		return err
	})
	if err := g.WaitHeld(ctx, 1); err != nil {
		t.Fatal(err)
	}
	expire()
	if err := <-call; !errors.Is(err, context.DeadlineExceeded) || awsclient.Classify(err) != awsclient.KindCanceled {
		t.Fatalf("held call after its deadline: %v, want deadline exceeded", err)
	}
	if err := g.Wait(ctx, func(c GateCounts) bool { return c.Abandoned == 1 }); err != nil {
		t.Fatal(err)
	}
	g.Release()
	wantCounts(t, g, GateCounts{Arrived: 1, Abandoned: 1})
	if st := InstanceStates(t, b.direct, b.ids...); st[b.ids[0]] != "running" {
		t.Fatalf("an abandoned StopInstances reached the server: %s", st[b.ids[0]])
	}
}

// S3 bodies are received whole before a request is held (large ones go to
// a temporary file) and reach the server byte for byte.
func TestGateHoldsS3Bodies(t *testing.T) {
	t.Parallel()
	b := newS3Bed(t, Faults{}, awsclient.Options{})
	p, client, bucket := b.proxy, b.client, b.bucket
	ctx := waitCtx(t)
	tests := []struct {
		name string
		size int
	}{{"small", 1 << 10}, {"spilled to a file", heldMemory + 3<<20}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := p.Hold(IsOp("PutObject"))
			defer g.Release()
			body := randomBytes(t, tt.size)
			key := strings.ReplaceAll(tt.name, " ", "-")
			put := async(func() error {
				_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body)})
				return err
			})
			if err := g.WaitHeld(ctx, 1); err != nil {
				t.Fatal(err)
			}
			noResult(t, put)
			g.Release()
			if err := <-put; err != nil {
				t.Fatal(err)
			}
			if got := getObject(t, client, bucket, key); sha256.Sum256(got) != sha256.Sum256(body) {
				t.Fatalf("object differs after being held (%d bytes back, %d sent)", len(got), len(body))
			}
		})
	}

	// An upload abandoned while held leaves no object behind.
	g := p.Hold(IsOp("PutObject"))
	defer g.Release()
	putCtx, cancel := context.WithCancel(ctx)
	put := async(func() error {
		_, err := client.PutObject(putCtx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("gone"), Body: bytes.NewReader(randomBytes(t, 1<<20))})
		return err
	})
	if err := g.WaitHeld(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-put; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled PutObject: %v", err)
	}
	if err := g.Wait(ctx, func(c GateCounts) bool { return c.Abandoned == 1 }); err != nil {
		t.Fatal(err)
	}
	g.Release()
	_, err := b.direct.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("gone")})
	if awsclient.Classify(err) != awsclient.KindNotFound {
		t.Fatalf("HeadObject of an abandoned upload: %v, want not found", err)
	}
}

// Watch counts without holding, so a test can wait for the n-th call.
func TestWatchCounts(t *testing.T) {
	t.Parallel()
	b := newS3Bed(t, Faults{}, awsclient.Options{})
	p, client, bucket := b.proxy, b.client, b.bucket
	ctx := waitCtx(t)
	g := p.Watch(func(r *http.Request) bool { return Operation(r) == "PutObject" && strings.Contains(r.URL.Path, "/w/") })
	for _, key := range []string{"w/a", "other", "w/b"} {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(key), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.WaitArrived(ctx, 2); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, g, GateCounts{Arrived: 2, Passed: 2})
}

func TestGateWaitSaysWhatItSaw(t *testing.T) {
	g := (&FaultProxy{done: make(chan struct{})}).Hold(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := g.WaitHeld(ctx, 1)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "0 arrived, 0 held") {
		t.Fatalf("WaitHeld on a canceled context: %v", err)
	}
}

// Close drops the requests a gate holds, so that a test's end never hangs
// on a gate it did not release.
func TestCloseDropsHeld(t *testing.T) {
	t.Parallel()
	moto := StartMotoAccount(t)
	p, err := NewFaultProxy(moto.Endpoint, Faults{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	cfg := p.Config(t, moto.Env(), awsclient.Options{MaxAttempts: 1})
	g := p.Hold(nil)
	ctx := waitCtx(t)
	call := async(func() error {
		_, err := awsclient.EC2(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		return err
	})
	if err := g.WaitHeld(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-call; err == nil {
		t.Fatal("a call held when the proxy closed succeeded")
	}
	if err := g.Wait(ctx, func(c GateCounts) bool { return c.Abandoned == 1 }); err != nil {
		t.Fatal(err)
	}
}

func TestManualDeadline(t *testing.T) {
	type key struct{}
	tests := []struct {
		name    string
		end     func(expire func(), cancelParent func())
		wantErr error
	}{
		{"expired", func(expire, _ func()) { expire() }, context.DeadlineExceeded},
		{"parent canceled", func(_, cancelParent func()) { cancelParent() }, context.Canceled},
		{"expired twice, then parent canceled", func(expire, cancelParent func()) { expire(); expire(); cancelParent() }, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, cancelParent := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
			defer cancelParent()
			ctx, expire := ManualDeadline(parent)
			dl, ok := ctx.Deadline()
			if !ok || time.Until(dl) < time.Hour {
				t.Fatalf("deadline %v %v, want one far away", dl, ok)
			}
			if ctx.Value(key{}) != "v" {
				t.Error("parent's value lost")
			}
			// What the code under test derives, e.g. a margin before the deadline.
			child, cancel := context.WithDeadline(ctx, dl.Add(-time.Second))
			defer cancel()
			if ctx.Err() != nil || child.Err() != nil {
				t.Fatal("done before anything ended it")
			}
			tt.end(expire, cancelParent)
			<-ctx.Done()
			<-child.Done()
			if !errors.Is(ctx.Err(), tt.wantErr) || !errors.Is(child.Err(), tt.wantErr) {
				t.Errorf("Err() = %v, derived %v; want %v", ctx.Err(), child.Err(), tt.wantErr)
			}
			if c, cc := context.Cause(ctx), context.Cause(child); !errors.Is(c, tt.wantErr) || !errors.Is(cc, tt.wantErr) {
				t.Errorf("Cause = %v, derived %v; want %v", c, cc, tt.wantErr)
			}
		})
	}
}
