package s3upload

import (
	"container/heap"
	"context"
	"testing"
	"time"
)

// path models a bucket rtt away whose server (or the client's CPU) does
// at most capacity requests a second, first come first served: a request
// completes rtt plus its wait for the server after it starts.
type path struct {
	rtt      time.Duration
	capacity float64
	// retried, if set, says whether the n-th file started is throttled
	// once: it completes backoff later, and its retry tells the limiter.
	retried func(n int) bool
	// slow, if set, says whether the n-th file takes backoff longer for
	// another reason (a larger file, a slow read), unknown to the limiter.
	slow    func(n int) bool
	backoff time.Duration
}

// completion is when a file started and when it completes, and whether
// it was retried.
type completion struct {
	start, at time.Duration
	retried   bool
}

// completions is a min-heap of completions by time.
type completions []completion

func (c completions) Len() int           { return len(c) }
func (c completions) Less(i, j int) bool { return c[i].at < c[j].at }
func (c completions) Swap(i, j int)      { c[i], c[j] = c[j], c[i] }
func (c *completions) Push(x any)        { *c = append(*c, x.(completion)) }
func (c *completions) Pop() any {
	old := *c
	x := old[len(old)-1]
	*c = old[:len(old)-1]
	return x
}

// simulate runs files through an adaptive limiter over p on a simulated
// clock and returns the time taken and the limiter. throttled, if set,
// says whether the done-th completion, in the window-th window, had an
// attempt throttled first (the retry reports it to the limiter).
func simulate(t *testing.T, p path, files int, throttled func(window, done int) bool) (time.Duration, *limiter) {
	t.Helper()
	var now time.Duration
	base := time.Unix(0, 0)
	l := newLimiter(0, MaxInFlight, func() time.Time { return base.Add(now) })
	var inFlight completions
	var serverFree time.Duration
	service := time.Duration(float64(time.Second) / p.capacity)
	started, done, window := 0, 0, 0
	for done < files {
		for started < files && len(inFlight) < l.bound() {
			if err := l.acquire(context.Background()); err != nil {
				t.Fatal(err)
			}
			at := max(now+p.rtt/2, serverFree) + service
			serverFree = at
			c := completion{start: now, at: at + p.rtt/2}
			if p.retried != nil && p.retried(started) {
				c.at, c.retried = c.at+p.backoff, true
			}
			if p.slow != nil && p.slow(started) {
				c.at += p.backoff
			}
			heap.Push(&inFlight, c)
			started++
		}
		c := heap.Pop(&inFlight).(completion)
		now = c.at
		before := l.bound()
		if throttled != nil && throttled(window, done) || c.retried {
			l.congestion()
		}
		l.release(c.at - c.start)
		done++
		if l.bound() != before || l.winDone == 0 {
			window++
		}
	}
	return now, l
}

func TestLimiterFillsAFarPath(t *testing.T) {
	p := path{rtt: 150 * time.Millisecond, capacity: 3000}
	took, l := simulate(t, p, 20000, nil)
	ideal := time.Duration(float64(20000) / p.capacity * float64(time.Second))
	t.Logf("took %v (ideal %v), bound %d", took, ideal, l.bound())
	if took > ideal*13/10 {
		t.Errorf("20,000 files at 150 ms took %v (bound %d); the path allows %v", took, l.bound(), ideal)
	}
	if b := l.bound(); b < int(p.capacity*p.rtt.Seconds()) {
		t.Errorf("bound %d, below the %v × %v/s the path needs", b, p.rtt, p.capacity)
	}
}

func TestLimiterStaysLowNearby(t *testing.T) {
	p := path{rtt: 500 * time.Microsecond, capacity: 2500}
	took, l := simulate(t, p, 50000, nil)
	ideal := time.Duration(float64(50000) / p.capacity * float64(time.Second))
	t.Logf("took %v (ideal %v), bound %d", took, ideal, l.bound())
	if took > ideal*11/10 {
		t.Errorf("took %v, the server allows %v", took, ideal)
	}
	if b := l.bound(); b > 256 {
		t.Errorf("bound %d for a path that one request at a time almost fills: it crept up", b)
	}
}

func TestLimiterBacksOffAndRecovers(t *testing.T) {
	p := path{rtt: 50 * time.Millisecond, capacity: 4000}
	_, l := simulate(t, p, 40000, func(window, _ int) bool { return window >= 4 && window < 20 })
	t.Logf("bound after throttling %d", l.bound())
	if b := l.bound(); b < 150 {
		t.Errorf("bound %d after the throttling ended: did not recover", b)
	}
	var now time.Duration
	l = newLimiter(0, MaxInFlight, func() time.Time { return time.Unix(0, 0).Add(now) })
	for range 20 {
		n := l.bound()
		for range n {
			_ = l.acquire(context.Background())
		}
		now += 10 * time.Millisecond
		for range n {
			l.congestion()
			l.release(time.Millisecond)
		}
	}
	if b := l.bound(); b != minInFlight {
		t.Errorf("bound %d after 20 throttled windows, want the minimum %d", b, minInFlight)
	}
}

// TestLimiterAbsorbsBackgroundThrottling: a server that throttles one
// attempt in twenty whatever the load (the bench's 5 % SlowDown) does not
// hold the bound down: the retries absorb it.
func TestLimiterAbsorbsBackgroundThrottling(t *testing.T) {
	p := path{rtt: 50 * time.Millisecond, capacity: 4000}
	took, l := simulate(t, p, 40000, func(_, done int) bool { return done%20 == 7 })
	ideal := time.Duration(float64(40000) / p.capacity * float64(time.Second))
	t.Logf("took %v (ideal %v), bound %d", took, ideal, l.bound())
	if took > ideal*13/10 || l.bound() < int(p.capacity*p.rtt.Seconds()) {
		t.Errorf("took %v with bound %d; the path allows %v with %v × %v/s in flight", took, l.bound(), ideal, p.rtt, p.capacity)
	}
}

// TestLimiterCongestedShare: the bound is cut by a quarter when more
// than one attempt in ten of a full window, and at least four, were
// throttled or dropped.
func TestLimiterCongestedShare(t *testing.T) {
	for _, tc := range []struct {
		bound     int // a window of as many completions (at least 16)
		throttled int
		cut       bool
	}{
		{100, 0, false}, {100, 5, false}, {100, 11, false}, {100, 12, true}, {100, 100, true},
		{16, 2, false}, {16, 3, false}, {16, 4, true}, {16, 16, true},
	} {
		var now time.Duration
		l := newLimiter(0, MaxInFlight, func() time.Time { return time.Unix(0, 0).Add(now) })
		n := tc.bound
		l.slowStart, l.limit, l.prevRate = false, n, 1000
		for range n {
			_ = l.acquire(context.Background())
		}
		// The same rate as the window before: no change but for congestion.
		now += time.Duration(n) * time.Millisecond
		for range tc.throttled {
			l.congestion()
		}
		for range n {
			l.release(time.Millisecond)
		}
		if got := l.bound() < n; got != tc.cut {
			t.Errorf("%d of %d completions throttled first: bound %d, want cut %v", tc.throttled, n, l.bound(), tc.cut)
		}
	}
}

func TestLimiterFixed(t *testing.T) {
	_, l := simulate(t, path{rtt: 150 * time.Millisecond, capacity: 4000}, 0, nil)
	if l.bound() != startInFlight {
		t.Fatal(l.bound())
	}
	l = newLimiter(7, MaxInFlight, time.Now)
	for range 100 {
		_ = l.acquire(context.Background())
		l.congestion()
		l.release(time.Millisecond)
	}
	if l.bound() != 7 {
		t.Errorf("fixed bound moved to %d", l.bound())
	}
}

// TestLimiterAcquireCancel: a waiter whose context ends leaves no slot
// taken.
func TestLimiterAcquireCancel(t *testing.T) {
	l := newLimiter(1, 1, time.Now)
	if err := l.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { errc <- l.acquire(ctx) }()
	for {
		l.mu.Lock()
		n := len(l.waiters)
		l.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("acquire after cancel succeeded")
	}
	l.release(time.Millisecond)
	if err := l.acquire(context.Background()); err != nil || l.inFlight != 1 {
		t.Fatalf("after cancel and release: %v, in flight %d", err, l.inFlight)
	}
}

func TestRetryBackoff(t *testing.T) {
	for _, tc := range []struct {
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{1, 0.999, 199800 * time.Microsecond},
		{1, 0, 0},
		{3, 0.5, 400 * time.Millisecond},
		{8, 0.5, 10 * time.Second},
		{9, 0.5, 10 * time.Second},
		{40, 0.5, 10 * time.Second},
	} {
		if got := retryBackoff(tc.attempt, tc.jitter); got != tc.want {
			t.Errorf("retryBackoff(%d, %v) = %v, want %v", tc.attempt, tc.jitter, got, tc.want)
		}
	}
}

// TestLimiterIgnoresADip: a window whose rate dips (a busy machine, a few
// files waiting out a retry's backoff) ends slow start but leaves the
// bound, and the next window is judged against the better rate.
func TestLimiterIgnoresADip(t *testing.T) {
	var now time.Duration
	l := newLimiter(0, MaxInFlight, func() time.Time { return time.Unix(0, 0).Add(now) })
	l.limit, l.prevRate = 100, 1000
	for _, took := range []time.Duration{200 * time.Millisecond, 300 * time.Millisecond, 250 * time.Millisecond} {
		for range 100 {
			_ = l.acquire(context.Background())
		}
		now += took // 500, 333, 400 completions/s against 1,000 before
		for range 100 {
			l.release(time.Millisecond)
		}
		if l.bound() != 100 || l.prevRate != 1000 || l.slowStart {
			t.Fatalf("after a %v window: bound %d, rate compared %v, slow start %v", took, l.bound(), l.prevRate, l.slowStart)
		}
	}
}

// TestLimiterJumpsOnAFarPath: at 150 ms the bound reaches what the path
// needs after the first window, not three windows later, even when most of
// that window's files waited (a busy machine opening connections).
func TestLimiterJumpsOnAFarPath(t *testing.T) {
	p := path{rtt: 150 * time.Millisecond, capacity: 6000}
	var now time.Duration
	l := newLimiter(0, MaxInFlight, func() time.Time { return time.Unix(0, 0).Add(now) })
	n := l.bound()
	for range n {
		_ = l.acquire(context.Background())
	}
	now = 3 * p.rtt
	for i := range n {
		l.release(p.rtt * time.Duration(1+2*min(i%3, 1)))
	}
	if b, need := l.bound(), int(p.capacity*p.rtt.Seconds()); b < need {
		t.Errorf("bound %d after the first window of a %v path, want at least the %d it needs", b, p.rtt, need)
	}
}

// TestLimiterStopsWhenFilesQueue: a server that does 2,000 requests a
// second 2 ms away needs a handful in flight; the first window's files all
// waited for it, so the bound stays where it started.
func TestLimiterStopsWhenFilesQueue(t *testing.T) {
	p := path{rtt: 2 * time.Millisecond, capacity: 2000}
	took, l := simulate(t, p, 20000, nil)
	t.Logf("took %v, bound %d", took, l.bound())
	if l.bound() > startInFlight {
		t.Errorf("bound %d: grew while every file waited for the server", l.bound())
	}
}

// TestLimiterClimbsPastOutliers: a few files that take far longer than
// the rest do not count as queueing, so the bound still climbs past the
// first jump to what a fast 50 ms path needs: one in twenty waiting out a
// retry's backoff of a second, or one in five taking 300 ms longer (a
// larger file among small ones), which doubles the mean hold.
func TestLimiterClimbsPastOutliers(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    path
	}{
		{"5 % of files retried", path{rtt: 50 * time.Millisecond, capacity: 20000, backoff: time.Second,
			retried: func(n int) bool { return n%20 == 7 }}},
		{"a fifth of the files slow", path{rtt: 50 * time.Millisecond, capacity: 20000, backoff: 300 * time.Millisecond,
			slow: func(n int) bool { return n%5 == 2 }}},
	} {
		took, l := simulate(t, tc.p, 40000, nil)
		t.Logf("%s: took %v, bound %d", tc.name, took, l.bound())
		if b, need := l.bound(), int(tc.p.capacity*tc.p.rtt.Seconds()); b < need {
			t.Errorf("%s: bound %d, want at least the %d the path needs", tc.name, b, need)
		}
	}
}

// TestLimiterQueueingIsTheMedian: a window counts as queued when most of
// its files held their slot over 1.5 times the shortest hold of the run,
// however long a few others took.
func TestLimiterQueueingIsTheMedian(t *testing.T) {
	for _, tc := range []struct {
		name       string
		slow, fast int
		slowHold   time.Duration
		grows      bool
	}{
		{"a fifth took 8 times as long", 51, 205, 400 * time.Millisecond, true},
		{"just under half took twice as long", 127, 129, 100 * time.Millisecond, true},
		{"just over half took twice as long", 129, 127, 100 * time.Millisecond, false},
	} {
		var now time.Duration
		l := newLimiter(0, MaxInFlight, func() time.Time { return time.Unix(0, 0).Add(now) })
		l.limit, l.prevRate, l.minHeld = 256, 1000, 50*time.Millisecond
		for range 256 {
			_ = l.acquire(context.Background())
		}
		now += 100 * time.Millisecond // 2,560 completions/s: a gain
		for range tc.fast {
			l.release(50 * time.Millisecond)
		}
		for range tc.slow {
			l.release(tc.slowHold)
		}
		if got := l.bound() > 256; got != tc.grows {
			t.Errorf("%s: bound %d, want growth %v", tc.name, l.bound(), tc.grows)
		}
	}
}
