package testbed

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"
)

// A Gate holds the requests a FaultProxy matches until the test releases
// them, and counts them. A test that must reach a state "while a call is in
// flight" (a deadline passing, a signal, a kill) waits with WaitHeld until
// the calls it needs are held, acts, and releases them (or lets the client
// give up on them): the outcome never depends on how fast the machine is,
// as a latency raced against a timer does.
//
// A request is held once the proxy has received all of it, body included,
// as a server that received the request and has not answered yet: the
// client has sent everything and waits. A held request whose client goes
// away (its context ended, the process died) is abandoned: it is never
// forwarded, so the server never sees it.
type Gate struct {
	match func(*http.Request) bool
	done  <-chan struct{} // the proxy's; closed on Close

	mu      sync.Mutex
	open    bool
	permits int
	queue   []chan struct{} // held requests, in arrival order
	counts  GateCounts
	changed chan struct{} // closed and replaced on every change of counts
}

// GateCounts says what a Gate has seen.
type GateCounts struct {
	Arrived   int // requests the gate matched, counted on arrival
	Held      int // waiting at the gate now
	Passed    int // let through to the server (released, or the gate was open)
	Abandoned int // whose client went away before they were let through
}

// Hold adds a gate that holds every request match selects (nil: every
// request) until Release or ReleaseN lets it through. Gates apply in the
// order they were added, before any fault or denial, and a request waits at
// each gate that matches it.
func (p *FaultProxy) Hold(match func(*http.Request) bool) *Gate {
	return p.addGate(match, false)
}

// Watch adds a gate that is open from the start: it holds nothing and
// counts the requests match selects, so a test can wait with WaitArrived
// until the code under test has made its n-th call.
func (p *FaultProxy) Watch(match func(*http.Request) bool) *Gate {
	return p.addGate(match, true)
}

func (p *FaultProxy) addGate(match func(*http.Request) bool, open bool) *Gate {
	if match == nil {
		match = func(*http.Request) bool { return true }
	}
	g := &Gate{match: match, done: p.done, open: open, changed: make(chan struct{})}
	p.mu.Lock()
	p.gates = append(slices.Clip(p.gates), g)
	p.mu.Unlock()
	return g
}

// IsOp is a match for Hold, Watch or Faults.Match: the request's operation
// (as Operation names it) is one of ops.
func IsOp(ops ...string) func(*http.Request) bool {
	return func(r *http.Request) bool { return slices.Contains(ops, Operation(r)) }
}

// Counts returns what the gate has seen so far.
func (g *Gate) Counts() GateCounts {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.counts
}

// Wait returns once cond holds for the gate's counts, or with an error
// saying what the gate saw when ctx ends first.
func (g *Gate) Wait(ctx context.Context, cond func(GateCounts) bool) error {
	for {
		g.mu.Lock()
		c, changed := g.counts, g.changed
		g.mu.Unlock()
		if cond(c) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("testbed: gate: gave up waiting with %d arrived, %d held, %d passed, %d abandoned: %w",
				c.Arrived, c.Held, c.Passed, c.Abandoned, context.Cause(ctx))
		}
	}
}

// WaitHeld returns once at least n requests are held at the same time.
func (g *Gate) WaitHeld(ctx context.Context, n int) error {
	return g.Wait(ctx, func(c GateCounts) bool { return c.Held >= n })
}

// WaitArrived returns once at least n requests have reached the gate.
func (g *Gate) WaitArrived(ctx context.Context, n int) error {
	return g.Wait(ctx, func(c GateCounts) bool { return c.Arrived >= n })
}

// Release opens the gate for good: the held requests go on to the server,
// in arrival order, and so does every later one.
func (g *Gate) Release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = true
	g.letThrough(len(g.queue))
}

// ReleaseN lets n more requests through: the held ones first, in arrival
// order; what is left of n lets later arrivals pass without waiting.
func (g *Gate) ReleaseN(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	k := min(n, len(g.queue))
	g.letThrough(k)
	g.permits += n - k
}

// letThrough releases the first k held requests; g.mu is held.
func (g *Gate) letThrough(k int) {
	if k <= 0 {
		return
	}
	for _, ch := range g.queue[:k] {
		close(ch)
	}
	g.queue = slices.Delete(g.queue, 0, k)
	g.counts.Held -= k
	g.counts.Passed += k
	g.notify()
}

func (g *Gate) notify() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// passFree lets r through at once if the gate is open or has a permit; g.mu
// is held.
func (g *Gate) passFree() bool {
	if !g.open && g.permits == 0 {
		return false
	}
	if !g.open {
		g.permits--
	}
	g.counts.Passed++
	g.notify()
	return true
}

// wait holds r if the gate matches it, reporting whether r may go on; false
// means its client went away (or the proxy closed) and r must be dropped.
func (g *Gate) wait(r *http.Request, body *heldBody) bool {
	if !g.match(r) {
		return true
	}
	g.mu.Lock()
	g.counts.Arrived++
	if g.passFree() {
		g.mu.Unlock()
		return true
	}
	g.notify()
	g.mu.Unlock()

	// Receive the whole request first: a client that gives up is noticed
	// only once its body has been read (net/http watches the connection
	// for a close only after that).
	if err := body.receive(); err != nil {
		g.mu.Lock()
		g.counts.Abandoned++
		g.notify()
		g.mu.Unlock()
		return false
	}

	g.mu.Lock()
	if g.passFree() {
		g.mu.Unlock()
		return true
	}
	ch := make(chan struct{})
	g.queue = append(g.queue, ch)
	g.counts.Held++
	g.notify()
	g.mu.Unlock()

	select {
	case <-ch:
		return true
	case <-r.Context().Done():
	case <-g.done:
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if i := slices.Index(g.queue, ch); i >= 0 {
		g.queue = slices.Delete(g.queue, i, i+1)
		g.counts.Held--
		g.counts.Abandoned++
		g.notify()
		return false
	}
	// Released in the same instant the client left: it counts as passed,
	// and forwarding fails at once on the ended context.
	return true
}

// heldMemory is how much of a held request's body is kept in memory; the
// rest (a multipart part, a large PutObject) goes to a temporary file.
const heldMemory = 8 << 20

// heldBody receives a request's body once, so that the request can wait
// at a gate and still be forwarded byte for byte.
type heldBody struct {
	r     *http.Request
	done  bool
	spill *os.File
}

func (b *heldBody) receive() error {
	if b.done {
		return nil
	}
	b.done = true
	r := b.r
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	var mem bytes.Buffer
	n, err := io.CopyN(&mem, r.Body, heldMemory)
	if err != nil && err != io.EOF {
		return err
	}
	size := n
	var rest io.Reader = bytes.NewReader(nil)
	if err == nil { // more than heldMemory
		f, err := os.CreateTemp("", "faultproxy-body-*")
		if err != nil {
			return err
		}
		b.spill = f
		m, err := io.Copy(f, r.Body)
		if err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		size += m
		rest = f
	}
	r.Body = readCloser{io.MultiReader(bytes.NewReader(mem.Bytes()), rest), r.Body}
	if r.ContentLength < 0 {
		r.ContentLength = size
		r.TransferEncoding = nil
	}
	return nil
}

func (b *heldBody) discard() {
	if b.spill != nil {
		b.spill.Close()
		os.Remove(b.spill.Name())
	}
}

// ManualDeadline returns a context with a deadline that passes when the test
// calls expire, not on a timer: Done closes and Err and context.Cause are
// context.DeadlineExceeded, as when a real deadline passes, so code that
// treats a deadline differently from a cancellation is tested as such. The
// deadline it reports is a day away (or parent's, if sooner), so that no
// margin the code under test keeps before it fires on its own. Values and
// an earlier end come from parent.
func ManualDeadline(parent context.Context) (ctx context.Context, expire func()) {
	at := time.Now().Add(24 * time.Hour)
	if d, ok := parent.Deadline(); ok && d.Before(at) {
		at = d
	}
	inner, cancel := context.WithCancelCause(parent)
	c := &manualDeadline{Context: inner, at: at, done: make(chan struct{})}
	stop := context.AfterFunc(parent, func() { c.end(parent.Err(), cancel) })
	return c, func() {
		stop()
		c.end(context.DeadlineExceeded, cancel)
	}
}

// manualDeadline answers Value (and so context.Cause) from inner, which
// ends with it, but has a Done channel of its own: the context package
// then propagates its end to derived contexts with Err() as it is here,
// instead of inner's context.Canceled.
type manualDeadline struct {
	context.Context // inner
	at              time.Time
	done            chan struct{}
	once            sync.Once
	mu              sync.Mutex
	err             error
}

func (c *manualDeadline) Deadline() (time.Time, bool) { return c.at, true }
func (c *manualDeadline) Done() <-chan struct{}       { return c.done }

func (c *manualDeadline) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *manualDeadline) end(err error, cancelInner context.CancelCauseFunc) {
	c.once.Do(func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		cancelInner(err)
		close(c.done)
	})
}

// Form is the query-API parameters (EC2, RDS, STS) a FaultProxy read from
// r's body, for use in a match; nil for other requests (S3).
func Form(r *http.Request) url.Values {
	info, _ := r.Context().Value(reqKey{}).(reqInfo)
	return info.form
}
