package testbed

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// DelayLine puts a server on loopback as far away as a real one: a TCP
// forwarder that holds every chunk it reads for half the round trip before
// it passes it on, in each direction. It parses nothing (an HTTP reverse
// proxy adding the same delay becomes the bottleneck of the clients it is
// meant to slow down), never reorders bytes, and passes a half-close (FIN)
// on half a round trip later like any other byte, so request and response
// bodies end where they end on a real network.
//
// Set-up is not delayed: a connection costs no round trip before its first
// byte, so the line models a path whose connections are already open, not
// the TCP and TLS handshakes a real client also pays once per connection.
type DelayLine struct {
	// Addr is where clients connect (127.0.0.1:port).
	Addr string
	// Endpoint is Addr as a base URL, with the target's scheme (http when
	// the target was given as host:port).
	Endpoint string
	// RTT is the round trip the line adds.
	RTT time.Duration

	target   string
	up, down time.Duration // client→server, server→client
	ln       net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup

	mu     sync.Mutex
	closed bool
	conns  map[*linePair]struct{}
	peak   int // most connections open at once since ResetPeak
}

// Each direction of a connection holds at most lineWindow chunks of at most
// lineChunk bytes; when they are all waiting out the delay, the line stops
// reading and TCP's flow control holds the sender, as a TCP window does.
// 128 × 64 KiB is 8 MiB a direction, more than Linux's default maximum
// socket buffers (tcp_wmem 4 MiB, tcp_rmem 6 MiB), so the line does not
// bound a single connection's throughput before the kernel would.
const (
	lineChunk  = 64 << 10
	lineSmall  = 8 << 10
	lineWindow = 128
)

// Small chunks (requests, responses, small bodies) are copied out of the
// read buffer, so that a queue of them does not pin 64 KiB each.
var (
	bigChunks   = sync.Pool{New: func() any { b := make([]byte, lineChunk); return &b }}
	smallChunks = sync.Pool{New: func() any { b := make([]byte, lineSmall); return &b }}
)

// StartDelayLine starts a DelayLine in front of target (a base URL such as
// Versity.Endpoint, or host:port) for the life of t.
func StartDelayLine(t testing.TB, target string, rtt time.Duration) *DelayLine {
	t.Helper()
	d, err := NewDelayLine(target, rtt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// NewDelayLine starts a DelayLine in front of target (a base URL such as
// http://127.0.0.1:7070, or host:port) outside a test (the benchmarks);
// the caller must Close it.
func NewDelayLine(target string, rtt time.Duration) (*DelayLine, error) {
	if rtt < 0 {
		return nil, fmt.Errorf("testbed: delay line: negative round trip %s", rtt)
	}
	scheme, hostport := "http", target
	if strings.Contains(target, "://") {
		u, err := url.Parse(target)
		if err != nil || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
			return nil, fmt.Errorf("testbed: delay line: target %q is not a base URL like http://127.0.0.1:7070 or host:port", target)
		}
		scheme, hostport = u.Scheme, u.Host
	}
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		return nil, fmt.Errorf("testbed: delay line: target %q: %w", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("testbed: delay line: %w", err)
	}
	d := &DelayLine{
		Addr: ln.Addr().String(), RTT: rtt,
		target: hostport, up: rtt / 2, down: rtt - rtt/2, ln: ln,
		conns: map[*linePair]struct{}{},
	}
	d.Endpoint = scheme + "://" + d.Addr
	d.wg.Add(1)
	go d.serve()
	return d, nil
}

// Conns is the number of connections accepted so far.
func (d *DelayLine) Conns() int { return int(d.accepted.Load()) }

// Active is the number of connections open now.
func (d *DelayLine) Active() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns)
}

// Peak is the most connections open at once since the line started or
// ResetPeak: with HTTP/1.1, at least the most requests a client had in
// flight.
func (d *DelayLine) Peak() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.peak
}

// ResetPeak starts a new Peak from the connections open now.
func (d *DelayLine) ResetPeak() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.peak = len(d.conns)
}

// Close stops accepting, cuts every open connection and waits until the
// line's goroutines are gone (at most about half a round trip).
func (d *DelayLine) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	open := make([]*linePair, 0, len(d.conns))
	for p := range d.conns {
		open = append(open, p)
	}
	d.mu.Unlock()
	err := d.ln.Close()
	for _, p := range open {
		p.abort()
	}
	d.wg.Wait()
	return err
}

func (d *DelayLine) serve() {
	defer d.wg.Done()
	for {
		c, err := d.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors or a connection aborted before it was
			// accepted: the line must keep serving, as a server would.
			time.Sleep(5 * time.Millisecond)
			continue
		}
		d.accepted.Add(1)
		d.wg.Add(1)
		go d.forward(c.(*net.TCPConn))
	}
}

// linePair is one client connection and its connection to the target.
type linePair struct {
	client, server *net.TCPConn
	once           sync.Once
}

// abort cuts both connections with a reset, so each side learns at once
// that the other is gone (as a reset on a real path would tell it).
func (p *linePair) abort() {
	p.once.Do(func() {
		for _, c := range []*net.TCPConn{p.client, p.server} {
			_ = c.SetLinger(0)
			_ = c.Close()
		}
	})
}

func (d *DelayLine) forward(client *net.TCPConn) {
	defer d.wg.Done()
	sc, err := net.DialTimeout("tcp", d.target, 10*time.Second)
	if err != nil {
		_ = client.SetLinger(0)
		_ = client.Close()
		return
	}
	p := &linePair{client: client, server: sc.(*net.TCPConn)}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		p.abort()
		return
	}
	d.conns[p] = struct{}{}
	d.peak = max(d.peak, len(d.conns))
	d.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.pipe(p.server, p.client, d.up)
	}()
	p.pipe(p.client, p.server, d.down)
	wg.Wait()
	p.once.Do(func() {
		_ = p.client.Close()
		_ = p.server.Close()
	})
	d.mu.Lock()
	delete(d.conns, p)
	d.mu.Unlock()
}

// chunk is what one read returned, or (buf nil) how the source ended: err is
// io.EOF for a half-close, anything else for a failed connection.
type chunk struct {
	buf *[]byte
	n   int
	due time.Time
	err error
}

func (c chunk) release() {
	if c.buf == nil {
		return
	}
	if cap(*c.buf) == lineChunk {
		bigChunks.Put(c.buf)
	} else {
		smallChunks.Put(c.buf)
	}
}

// readChunks reads src until it ends, stamping each chunk with the time it
// is due at the other side; the last chunk says how src ended.
func readChunks(src *net.TCPConn, q chan<- chunk, delay time.Duration) {
	defer close(q)
	for {
		bp := bigChunks.Get().(*[]byte)
		n, err := src.Read(*bp)
		due := time.Now().Add(delay)
		switch {
		case n == 0:
			bigChunks.Put(bp)
		case n <= lineSmall:
			sp := smallChunks.Get().(*[]byte)
			copy(*sp, (*bp)[:n])
			bigChunks.Put(bp)
			q <- chunk{buf: sp, n: n, due: due}
		default:
			q <- chunk{buf: bp, n: n, due: due}
		}
		if err != nil {
			q <- chunk{due: due, err: err}
			return
		}
	}
}

// pipe forwards src to dst, each chunk when it is due. Chunks already due
// when the writer wakes go out in one writev, so a busy connection costs
// one wake-up and one system call per delay, not per chunk.
func (p *linePair) pipe(dst, src *net.TCPConn, delay time.Duration) {
	q := make(chan chunk, lineWindow)
	go readChunks(src, q, delay)
	var (
		next    *chunk // read ahead, not yet due
		batch   []chunk
		iov     [][]byte
		failed  bool
		pending chunk
	)
	for {
		if next != nil {
			pending, next = *next, nil
		} else {
			c, ok := <-q
			if !ok {
				return
			}
			pending = c
		}
		if wait := time.Until(pending.due); wait > 0 {
			time.Sleep(wait)
		}
		batch = append(batch[:0], pending)
		for pending.err == nil && len(batch) < lineWindow {
			var c chunk
			var ok bool
			select {
			case c, ok = <-q:
			default:
			}
			if !ok {
				break
			}
			if c.due.After(time.Now()) {
				next = &c
				break
			}
			batch = append(batch, c)
			pending = c
		}
		iov = iov[:0]
		var end error
		for _, c := range batch {
			if c.buf != nil {
				iov = append(iov, (*c.buf)[:c.n])
			} else {
				end = c.err
			}
		}
		if !failed && len(iov) > 0 {
			bufs := net.Buffers(iov)
			if _, err := bufs.WriteTo(dst); err != nil {
				failed = true
				p.abort()
			}
		}
		for _, c := range batch {
			c.release()
		}
		switch {
		case end == nil || failed:
		case errors.Is(end, io.EOF):
			if err := dst.CloseWrite(); err != nil {
				failed = true
				p.abort()
			}
		default:
			failed = true
			p.abort()
		}
	}
}
