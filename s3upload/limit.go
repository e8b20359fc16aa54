package s3upload

import (
	"context"
	"sync"
	"time"
)

// limiter bounds the files in flight (one request each at a time) and,
// unless the bound is fixed (Options.Concurrency), moves it to what the
// path sustains: a far bucket needs many requests in flight to fill the
// round trip, a near one only as many as the CPU can feed.
//
// It climbs by measured throughput, in windows of as many completions as
// the bound: one window is about one round trip at full use.
//
//   - Slow start: while a window's rate beats the one before by 10 % the
//     bound doubles. After the first window, on a far path (no file of it
//     took less than farLatency), it jumps instead to what the shortest
//     hold needs at farRate files a second, if that is more: a round trip
//     of 150 ms otherwise takes three more windows, half a second, to
//     fill; it does so even if the first files queued, which with new
//     connections and the start of the run they tell little about. Nearby
//     the bound that fills the path is small, and a bigger one only costs
//     CPU and memory on both ends. The first step without that gain is
//     undone, which ends slow start.
//   - Later the bound grows by a quarter on a 10 % gain; after eight flat
//     windows it probes a quarter higher and keeps the step only if the
//     next window's rate gains 5 %.
//   - It does not grow while most files of a window held their slot over
//     queueFactor times the shortest hold: they wait for a busy CPU or
//     server, and more in flight would wait too.
//   - A rate 10 % lower moves nothing, and later windows are judged
//     against the better rate: on a shared machine one window's rate is
//     noisy, and shrinking on a dip let noise (or the backoff of a few
//     retried files) walk the bound down to its minimum, whereas fewer
//     requests in flight do not make a busy machine faster. A window that
//     never used the whole bound (too few files, a slow walk) teaches
//     nothing.
//   - Throttling or dropped connections seen by the retries cut it by a
//     quarter, once a window, when more than one attempt in ten of the
//     window met them (congestedShare). Fewer are absorbed by the retries:
//     a share that does not fall when the bound does (a server that
//     throttles a few requests whatever the load) would otherwise hold the
//     bound at its minimum, and with 10 attempts a file fails only if
//     every one of them is throttled.
type limiter struct {
	mu       sync.Mutex
	limit    int
	min, max int
	fixed    bool
	inFlight int
	waiters  []chan struct{}
	now      func() time.Time

	winStart  time.Time
	winDone   int
	winFull   bool // in flight reached the bound during the window
	throttled int  // attempts of the window the retries saw throttled or dropped
	prevRate  float64
	slowStart bool
	flat      int // windows in a row without a change
	probeFrom int // the bound before a probe, until the next window judges it
	peak      int // the highest bound so far
	before    int // the bound before slow start's last growth (0: none yet)
	// minHeld is the shortest time a file of the run held its slot (0:
	// none done yet).
	minHeld time.Duration
	winSlow int // files of the window that held their slot over queueFactor × minHeld
}

// traceLimiter, set by benchmarks only, sees every window's decision.
var traceLimiter func(limit, inFlight int, rate float64)

// Bounds of the adaptive limiter.
const (
	startInFlight = 128
	minInFlight   = 8
	// MaxInFlight is the most files an adaptive run keeps in flight; the
	// HTTP client should allow as many connections per host.
	MaxInFlight = 1024
	// farLatency is the shortest time a file holds its slot from which the
	// path counts as far: a PUT of a small file within one region of S3,
	// or to a server on the same network, takes less.
	farLatency = 20 * time.Millisecond
	// farRate is the small files a second the first jump of a far path
	// provides for: about what one client on two cores sends.
	farRate = 8000
	// queueFactor is how much longer than the shortest one a file's hold
	// may be before it counts as queued.
	queueFactor = 1.5
)

// newLimiter returns a limiter fixed at fixed files, or adaptive between
// minInFlight and maxInFlight when fixed is 0.
func newLimiter(fixed, maxInFlight int, now func() time.Time) *limiter {
	l := &limiter{limit: fixed, min: fixed, max: fixed, fixed: true, now: now}
	if fixed == 0 {
		l.fixed, l.slowStart = false, true
		l.min, l.max = min(minInFlight, maxInFlight), maxInFlight
		l.limit = min(startInFlight, maxInFlight)
	}
	l.winStart, l.peak = now(), l.limit
	return l
}

// acquire waits for a slot; it fails only when ctx ends first.
func (l *limiter) acquire(ctx context.Context) error {
	l.mu.Lock()
	if l.inFlight < l.limit && len(l.waiters) == 0 {
		l.take()
		l.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	l.waiters = append(l.waiters, ch)
	l.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, w := range l.waiters {
			if w == ch {
				l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
				return ctx.Err()
			}
		}
		// Granted meanwhile: give the slot back.
		l.inFlight--
		l.wake()
		return ctx.Err()
	}
}

// take counts a slot as used; l.mu is held.
func (l *limiter) take() {
	l.inFlight++
	if l.inFlight >= l.limit {
		l.winFull = true
	}
}

// release returns a slot after a file's requests are done; held is how
// long the file held it.
func (l *limiter) release(held time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	if l.minHeld == 0 || held < l.minHeld {
		l.minHeld = max(held, 1)
	}
	if !l.fixed {
		if float64(held) > queueFactor*float64(l.minHeld) {
			l.winSlow++
		}
		l.winDone++
		if l.winDone >= max(l.limit, 16) {
			l.decide()
		}
	}
	l.wake()
}

// congestion notes a throttle or dropped connection that is retried.
func (l *limiter) congestion() {
	l.mu.Lock()
	l.throttled++
	l.mu.Unlock()
}

// congestedShare is the share of a window's attempts met by throttling or
// dropped connections above which the bound is cut, if they are at least
// minThrottled: in the 16 completions of a small bound's window, two
// throttled of a server's random 5 % are common (one window in five),
// and cutting on them would spiral the bound down to its minimum.
const (
	congestedShare = 0.1
	minThrottled   = 4
)

// congested reports whether the window's throttled attempts exceed
// congestedShare of its attempts (completions and retried ones); l.mu is
// held.
func (l *limiter) congested() bool {
	return l.throttled >= minThrottled && float64(l.throttled) > congestedShare*float64(l.winDone+l.throttled)
}

// wake grants slots to waiters in order while the bound allows; l.mu is
// held.
func (l *limiter) wake() {
	for len(l.waiters) > 0 && l.inFlight < l.limit {
		ch := l.waiters[0]
		l.waiters = l.waiters[1:]
		l.take()
		close(ch)
	}
}

// decide ends a window and moves the bound; l.mu is held.
func (l *limiter) decide() {
	now := l.now()
	elapsed := now.Sub(l.winStart).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(l.winDone) / elapsed
	}
	grow := func(slowStart bool) {
		from := l.limit
		if slowStart {
			l.limit *= 2
			l.before = from
		} else {
			l.limit += max(l.limit/4, 1)
		}
		l.limit = min(l.limit, l.max)
	}
	switch {
	case l.congested():
		l.limit = max(l.limit*3/4, l.min)
		l.slowStart, l.flat, l.probeFrom, rate = false, 0, 0, 0
	case !l.winFull:
		rate = l.prevRate // nothing learned: compare the next window with the last full one
	case l.probeFrom > 0:
		if rate < l.prevRate*1.05 {
			l.limit, rate = l.probeFrom, l.prevRate
		}
		l.probeFrom = 0
	case l.slowStart && l.before > 0 && rate < l.prevRate*1.1:
		// The step brought no gain: the bound before it already filled
		// the path, and more requests in flight only cost CPU and memory
		// on both ends. Probes may still find more later.
		l.limit = max(l.before, l.min)
		l.slowStart, l.flat, l.before = false, 0, 0
		rate = max(rate, l.prevRate)
	case l.slowStart && l.prevRate == 0 && l.minHeld >= farLatency:
		// The first window of a far path: its files also waited for new
		// connections and the start of the run, so whether they queued
		// says little, and the jump is sized by the shortest hold.
		l.before = l.limit
		l.limit = min(max(l.limit*2, int(l.minHeld.Seconds()*farRate)), l.max)
	case l.queueing():
		// Files wait far longer than the path takes (on a busy CPU, at a
		// loaded server): more in flight would only wait too.
		l.slowStart, l.flat = false, 0
		rate = max(rate, l.prevRate)
	case l.prevRate == 0 || rate >= l.prevRate*1.1:
		grow(l.slowStart)
		l.flat = 0
	case rate < l.prevRate*0.9:
		l.slowStart, l.flat = false, 0
		rate = l.prevRate
	default:
		l.slowStart = false
		if l.flat++; l.flat >= 8 && l.limit < l.max {
			l.probeFrom = l.limit
			grow(false)
			l.flat = 0
		}
	}
	l.peak = max(l.peak, l.limit)
	if traceLimiter != nil {
		traceLimiter(l.limit, l.inFlight, rate)
	}
	l.prevRate = rate
	l.winStart, l.winDone, l.winFull, l.throttled, l.winSlow = now, 0, l.inFlight >= l.limit, 0, 0
}

// queueing reports whether most of the window's files held their slots
// over queueFactor times the shortest hold of the run. The median, not the
// mean: the few files that waited out a retry's backoff (a server
// throttling a share of requests whatever the load) or a large file among
// small ones do not stop the climb. Against the shortest hold, not the
// lowest median of a window: the first window's files already queue on a
// busy CPU, and measured against them later windows never would. Where
// latency varies by itself (S3 within a region) a lucky fast request can
// make later windows look queued; the bound then stays where slow start
// left it, which near a bucket is already plenty (docs/NOTES.md).
// l.mu is held.
func (l *limiter) queueing() bool {
	return l.winDone > 0 && 2*l.winSlow > l.winDone
}

// bound is the current bound.
func (l *limiter) bound() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit
}

// highest is the highest bound so far.
func (l *limiter) highest() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peak
}
