package testbed

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// listen serves each connection to a loopback listener with handle, and
// counts them.
func listen(t *testing.T, handle func(*net.TCPConn)) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int64)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c.(*net.TCPConn))
			}()
		}
	}()
	return ln.Addr().String(), accepted
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// An echo through the line takes at least the round trip for every
// exchange, and the end of the stream (a half-close) comes through in both
// directions.
//
// Not parallel: the other tests' streams would share the cores and make the
// logged round trips meaningless (the asserted lower bound holds anyway).
func TestDelayLineRoundTrip(t *testing.T) {
	echo, _ := listen(t, func(c *net.TCPConn) {
		if _, err := io.Copy(c, c); err == nil {
			_ = c.CloseWrite()
		}
	})
	const rtt = 100 * time.Millisecond
	d := StartDelayLine(t, "http://"+echo, rtt)
	if d.Endpoint != "http://"+d.Addr {
		t.Errorf("Endpoint %q for Addr %q", d.Endpoint, d.Addr)
	}
	c := dial(t, d.Addr)
	buf := make([]byte, 1)
	for i := range 3 {
		start := time.Now()
		if _, err := c.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		if buf[0] != byte(i) {
			t.Fatalf("echo %d came back as %d", i, buf[0])
		}
		// The lower bound holds by construction; the upper one depends on
		// the machine's load, so it is only reported.
		if took < rtt {
			t.Errorf("round trip %d took %s, less than the line's %s", i, took, rtt)
		}
		if took > rtt+250*time.Millisecond {
			t.Logf("round trip %d took %s: a busy machine, or the line adds more than its %s", i, took, rtt)
		} else {
			t.Logf("round trip %d: %s", i, took)
		}
	}
	// The half-close goes to the echo server, whose half-close comes back.
	start := time.Now()
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("after the half-close: read %d bytes, %v; want EOF", n, err)
	}
	if took := time.Since(start); took < rtt {
		t.Errorf("the half-close came back after %s, less than the round trip", took)
	}
	if d.Conns() != 1 {
		t.Errorf("%d connections, want 1", d.Conns())
	}
}

// writeRandom writes n seeded random bytes in pieces of random sizes and
// returns their digest.
func writeRandom(w io.Writer, seed uint64, n int) ([32]byte, error) {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	src := rand.NewChaCha8(key)
	r := rand.New(src)
	h := sha256.New()
	buf := make([]byte, 256<<10)
	for n > 0 {
		k := min(n, 1+r.IntN(len(buf)))
		_, _ = src.Read(buf[:k])
		if _, err := w.Write(buf[:k]); err != nil {
			return [32]byte{}, err
		}
		h.Write(buf[:k])
		n -= k
	}
	return [32]byte(h.Sum(nil)), nil
}

func digest(r io.Reader) ([32]byte, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return [32]byte(h.Sum(nil)), n, err
}

// Large random streams both ways at once, on several connections at once,
// arrive byte for byte, and each ends where its sender half-closed it.
func TestDelayLineStreams(t *testing.T) {
	t.Parallel()
	const (
		conns = 8
		size  = 4 << 20
	)
	type got struct {
		sum [32]byte
		n   int64
		err error
	}
	var mu sync.Mutex
	atServer := map[uint64]got{}
	srv, accepted := listen(t, func(c *net.TCPConn) {
		// The client's first 8 bytes say which stream this is.
		var id [8]byte
		if _, err := io.ReadFull(c, id[:]); err != nil {
			return
		}
		seed := uint64(id[0]) | uint64(id[1])<<8
		done := make(chan got, 1)
		go func() {
			sum, n, err := digest(c)
			done <- got{sum, n, err}
		}()
		if _, err := writeRandom(c, seed+1000, size); err == nil {
			_ = c.CloseWrite()
		}
		g := <-done
		mu.Lock()
		atServer[seed] = g
		mu.Unlock()
	})
	d := StartDelayLine(t, srv, 20*time.Millisecond)
	var wg sync.WaitGroup
	for i := range uint64(conns) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", d.Addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			sent := make(chan got, 1)
			go func() {
				id := [8]byte{byte(i), byte(i >> 8)}
				if _, err := c.Write(id[:]); err != nil {
					sent <- got{err: err}
					return
				}
				sum, err := writeRandom(c, i, size)
				if err == nil {
					err = c.(*net.TCPConn).CloseWrite()
				}
				sent <- got{sum: sum, n: size, err: err}
			}()
			sum, n, err := digest(c)
			want, _ := writeRandom(io.Discard, i+1000, size)
			if err != nil || n != size || sum != want {
				t.Errorf("stream %d from the server: %d bytes (want %d), same bytes %v, error %v", i, n, size, sum == want, err)
			}
			if s := <-sent; s.err != nil {
				t.Errorf("stream %d to the server: %v", i, s.err)
			}
		}()
	}
	wg.Wait()
	for i := range uint64(conns) {
		want, _ := writeRandom(io.Discard, i, size)
		mu.Lock()
		g, ok := atServer[i]
		mu.Unlock()
		if !ok {
			// The handler records after its own writes end, which the
			// client's read of EOF already waited for; allow it a moment.
			for deadline := time.Now().Add(5 * time.Second); !ok && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
				mu.Lock()
				g, ok = atServer[i]
				mu.Unlock()
			}
		}
		if !ok || g.err != nil || g.n != size || g.sum != want {
			t.Errorf("stream %d at the server: seen %v, %d bytes (want %d), same bytes %v, error %v", i, ok, g.n, size, g.sum == want, g.err)
		}
	}
	if d.Conns() != conns || accepted.Load() != conns {
		t.Errorf("line accepted %d connections, server %d; want %d each", d.Conns(), accepted.Load(), conns)
	}
	if p := d.Peak(); p < 1 || p > conns {
		t.Errorf("peak of %d open connections, want 1 to %d", p, conns)
	}
	for deadline := time.Now().Add(5 * time.Second); d.Active() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := d.Active(); n != 0 {
		t.Errorf("%d connections still open after every stream ended", n)
	}
	d.ResetPeak()
	if p := d.Peak(); p != 0 {
		t.Errorf("peak %d after a reset with no connection open", p)
	}
}

// A server that resets its connection resets the client's too, instead of
// ending the stream as if it had been complete.
func TestDelayLineReset(t *testing.T) {
	t.Parallel()
	srv, _ := listen(t, func(c *net.TCPConn) {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		_, _ = c.Write([]byte("part"))
		_ = c.SetLinger(0)
	})
	d := StartDelayLine(t, srv, 10*time.Millisecond)
	c := dial(t, d.Addr)
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err == nil || errors.Is(err, io.EOF) {
		t.Errorf("read %q, %v; want a reset", b, err)
	}
}

// Close cuts open connections and returns; a closed line accepts nothing.
func TestDelayLineClose(t *testing.T) {
	t.Parallel()
	srv, _ := listen(t, func(c *net.TCPConn) { _, _ = io.Copy(io.Discard, c) })
	d, err := NewDelayLine(srv, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, d.Addr)
	if _, err := c.Write(bytes.Repeat([]byte("x"), 1000)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); d.Active() == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if n := d.Active(); n != 0 {
		t.Errorf("%d connections open after Close", n)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("a connection survived Close")
	}
	if c2, err := net.Dial("tcp", d.Addr); err == nil {
		c2.Close()
		t.Error("a closed line accepted a connection")
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestDelayLineBadTarget(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"", "nonsense", "http://", "http://127.0.0.1:1/path"} {
		if d, err := NewDelayLine(target, time.Millisecond); err == nil {
			d.Close()
			t.Errorf("target %q accepted", target)
		}
	}
	if d, err := NewDelayLine("127.0.0.1:1", -time.Millisecond); err == nil {
		d.Close()
		t.Error("a negative round trip was accepted")
	}
}
