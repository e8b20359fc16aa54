package startstop

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"
)

// proxy sits in front of moto server: it counts requests by service and
// operation, can add latency, and can answer an operation itself (to fake
// a permission the role lacks). Everything else reaches the real server.
type proxy struct {
	URL string

	mu      sync.Mutex
	counts  map[string]int // "ec2:DescribeInstances" -> n
	deny    map[string]bool
	latency time.Duration
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{counts: map[string]int{}, deny: map[string]bool{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		svc, op := operation(r, body)
		p.mu.Lock()
		p.counts[svc+":"+op]++
		denied := p.deny[op]
		lat := p.latency
		p.mu.Unlock()
		if lat > 0 {
			time.Sleep(lat)
		}
		if denied {
			writeDenied(w, svc, op)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// operation tells the service and operation of a query-protocol request
// (EC2 and RDS both send Action=... in a form body).
func operation(r *http.Request, body []byte) (svc, op string) {
	v, _ := url.ParseQuery(string(body))
	op = v.Get("Action")
	svc = "other"
	if auth := r.Header.Get("Authorization"); auth != "" {
		switch {
		case bytes.Contains([]byte(auth), []byte("/ec2/")):
			svc = "ec2"
		case bytes.Contains([]byte(auth), []byte("/rds/")):
			svc = "rds"
		}
	}
	return svc, op
}

func writeDenied(w http.ResponseWriter, svc, op string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusForbidden)
	if svc == "ec2" {
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation. User: arn:aws:sts::123456789012:assumed-role/startstop/fn is not authorized to perform: ec2:`+op+`</Message></Error></Errors><RequestID>5d1f2b4e-0000-0000-0000-000000000000</RequestID></Response>`)
		return
	}
	io.WriteString(w, `<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: rds:`+op+`</Message></Error><RequestId>5d1f2b4e-0000-0000-0000-000000000001</RequestId></ErrorResponse>`)
}

func (p *proxy) Deny(op string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deny[op] = true
}

func (p *proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
}

func (p *proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts = map[string]int{}
}

// Count is the number of requests for svc ("ec2", "rds") and op; op ""
// counts all of the service's.
func (p *proxy) Count(svc, op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for k, c := range p.counts {
		if k == svc+":"+op || (op == "" && len(k) > len(svc) && k[:len(svc)+1] == svc+":") {
			n += c
		}
	}
	return n
}

func (p *proxy) Counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := make(map[string]int, len(p.counts))
	for k, v := range p.counts {
		c[k] = v
	}
	return c
}
