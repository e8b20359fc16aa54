package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/awsutils/awsutils/awsclient"
)

// Fault is one kind of failure a FaultProxy injects.
type Fault string

// The faults a FaultProxy injects. Each error fault is sent in the shape of
// the service the request is for, so the SDK parses it as AWS would send it.
const (
	FaultNone Fault = ""
	// FaultError500 is HTTP 500: InternalError (EC2, S3) or InternalFailure (RDS).
	FaultError500 Fault = "error500"
	// FaultSlowDown is HTTP 503: SlowDown (S3), Unavailable (EC2) or
	// ServiceUnavailable (RDS).
	FaultSlowDown Fault = "slowdown503"
	// FaultThrottle is the service's throttling error: RequestLimitExceeded
	// (EC2, HTTP 503), Throttling (RDS, HTTP 400), SlowDown (S3, HTTP 503).
	// As from AWS, an S3 HEAD error has no body, so the SDK sees only the
	// status: a retryable 503 ServiceUnavailable, not classed as throttling.
	FaultThrottle Fault = "throttle"
	// FaultReset reads part of the request body, then resets the TCP
	// connection (RST), so the client sees ECONNRESET mid-request and the
	// server never sees the request.
	FaultReset Fault = "reset"
)

// faultOrder fixes how one random draw maps to a fault; changing it changes
// every seed's sequence, so failing runs logged before could not be replayed.
var faultOrder = []Fault{FaultReset, FaultError500, FaultSlowDown, FaultThrottle}

// Faults says what a FaultProxy does to the requests it forwards. The zero
// value forwards everything untouched (and still counts it).
type Faults struct {
	// Seed makes the decisions repeatable: the same seed and the same order
	// of candidate requests give the same faults. It is logged with each
	// fault so a failing run can be replayed.
	Seed int64
	// Latency is added to every candidate request before it is answered or
	// forwarded.
	Latency time.Duration
	// Per-candidate-request probabilities, each in [0, 1], summing to at
	// most 1; one random draw per candidate picks at most one fault.
	Error500, SlowDown503, Throttle, Reset float64
	// Only limits the candidates to these operations (as Operation names
	// them, e.g. "PutObject", "StartInstances"); empty means every operation.
	Only []string
	// Match, if set, further limits the candidates. It must not read the
	// request body; Operation(r) gives the operation.
	Match func(*http.Request) bool
	// MaxFaults stops injecting after this many faults (0: no limit), e.g.
	// to fail the first two attempts of a call and let the third through.
	MaxFaults int
	// Logf receives one line per injected fault. StartFaultProxy uses t.Logf
	// and NewFaultProxy log.Printf when it is nil; SetFaults keeps the
	// current one when it is nil.
	Logf func(format string, args ...any)
}

func (f Faults) validate() error {
	sum := 0.0
	for _, p := range []struct {
		name string
		v    float64
	}{{"Error500", f.Error500}, {"SlowDown503", f.SlowDown503}, {"Throttle", f.Throttle}, {"Reset", f.Reset}} {
		if p.v < 0 || p.v > 1 || p.v != p.v {
			return fmt.Errorf("testbed: fault proxy: %s = %v, want a probability in [0, 1]", p.name, p.v)
		}
		sum += p.v
	}
	if sum > 1+1e-9 {
		return fmt.Errorf("testbed: fault proxy: fault probabilities sum to %v, want at most 1", sum)
	}
	if f.Latency < 0 {
		return fmt.Errorf("testbed: fault proxy: Latency = %v, want >= 0", f.Latency)
	}
	return nil
}

func (f Faults) probability(k Fault) float64 {
	switch k {
	case FaultReset:
		return f.Reset
	case FaultError500:
		return f.Error500
	case FaultSlowDown:
		return f.SlowDown503
	case FaultThrottle:
		return f.Throttle
	}
	return 0
}

// decider draws the fault for each candidate request, in arrival order.
// Every candidate consumes exactly one draw, whatever the outcome, so the
// n-th candidate's fault depends only on the seed and n.
type decider struct {
	f        Faults
	rng      *rand.Rand
	seq      int
	injected int
}

func newDecider(f Faults) *decider {
	s := uint64(f.Seed)
	return &decider{f: f, rng: rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))}
}

// next returns the candidate's number (from 1) and its fault.
func (d *decider) next() (int, Fault) {
	d.seq++
	u := d.rng.Float64()
	if d.f.MaxFaults > 0 && d.injected >= d.f.MaxFaults {
		return d.seq, FaultNone
	}
	acc := 0.0
	for _, k := range faultOrder {
		acc += d.f.probability(k)
		if u < acc {
			d.injected++
			return d.seq, k
		}
	}
	return d.seq, FaultNone
}

// Event is one injected fault.
type Event struct {
	Seq     int    // the candidate request's number, from 1, since the last SetFaults
	Method  string // HTTP method
	Path    string // URL path
	Service string // "ec2", "rds", "s3" or what the credential scope says
	Op      string // as Operation names it
	Fault   Fault
}

// Stats counts what went through a FaultProxy.
type Stats struct {
	// Requests is every request received, candidates or not, with faults
	// or not: each SDK attempt is one.
	Requests int
	// Ops counts requests by operation (see Operation).
	Ops map[string]int
	// Faults counts injected faults by kind.
	Faults map[Fault]int
	// FaultsByOp counts injected faults of any kind by operation.
	FaultsByOp map[string]int
	// Delayed counts requests held back by Latency.
	Delayed int
	// Services counts requests by service ("ec2", "rds", "s3", "sts", ...).
	Services map[string]int
	// Denied counts requests a Denial answered.
	Denied int
	// Refused counts requests a Refusal answered.
	Refused int
}

// Injected is the number of faults injected, of every kind.
func (s Stats) Injected() int {
	n := 0
	for _, c := range s.Faults {
		n += c
	}
	return n
}

func newStats() Stats {
	return Stats{Ops: map[string]int{}, Faults: map[Fault]int{}, FaultsByOp: map[string]int{}, Services: map[string]int{}}
}

func (s Stats) clone() Stats {
	c := s
	c.Ops = maps(s.Ops)
	c.Faults = maps(s.Faults)
	c.FaultsByOp = maps(s.FaultsByOp)
	c.Services = maps(s.Services)
	return c
}

func maps[K comparable](m map[K]int) map[K]int {
	c := make(map[K]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// maxEvents bounds the kept event list; a soak run may inject far more.
const maxEvents = 100_000

// FaultProxy is an HTTP proxy in front of a real server (moto server,
// versitygw) that injects seeded faults and counts requests by operation.
// Clients reach it through Endpoint as they would reach the server: it
// forwards the Host header unchanged, so SigV4 signatures made for the
// proxy's address still verify at the server.
type FaultProxy struct {
	// Endpoint is the proxy's base URL, e.g. http://127.0.0.1:40123; use it
	// as awsclient.Options.Endpoint, or as a child's AWS_ENDPOINT_URL.
	Endpoint string

	target *url.URL
	srv    *http.Server
	rp     *httputil.ReverseProxy
	tr     *http.Transport

	mu      sync.Mutex
	d       *decider
	logf    func(string, ...any)
	stats   Stats
	events  []Event
	gates   []*Gate
	denials []*denial
	// refusals answer matching requests with an API error (Refuse).
	refusals []*refusal
	rewrite  func(op string, h http.Header)
	// rewriteBody edits response bodies (RewriteBodies).
	rewriteBody func(op string, body []byte) []byte
	// done is closed by Close, so that held requests are dropped.
	done      chan struct{}
	closeOnce sync.Once

	// logMu keeps log lines from being written after Close, when the test
	// that owns t.Logf may have ended.
	logMu  sync.RWMutex
	closed bool
}

// StartFaultProxy starts a FaultProxy in front of target (a server's base
// URL such as Moto.Endpoint) for the life of t. Injected faults are logged
// with t.Logf unless f.Logf says otherwise.
func StartFaultProxy(t testing.TB, target string, f Faults) *FaultProxy {
	t.Helper()
	if f.Logf == nil {
		f.Logf = t.Logf
	}
	p, err := NewFaultProxy(target, f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// NewFaultProxy starts a FaultProxy in front of target outside a test (a
// benchmark program); the caller must Close it.
func NewFaultProxy(target string, f Faults) (*FaultProxy, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("testbed: fault proxy: target %q is not a base URL like http://127.0.0.1:4566", target)
	}
	if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		return nil, fmt.Errorf("testbed: fault proxy: target %q has a path or query; give the server's base URL", target)
	}
	logf := f.Logf
	if logf == nil {
		logf = log.Printf
	}
	p := &FaultProxy{target: u, d: newDecider(f), logf: logf, stats: newStats(), done: make(chan struct{})}
	p.tr = &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		// Benchmarks drive hundreds of concurrent requests through one
		// upstream; the default 2 idle connections per host would make
		// almost every request dial anew.
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Pass bodies through as they are: a transparent gzip would change
		// what the client receives.
		DisableCompression: true,
		WriteBufferSize:    64 << 10,
		ReadBufferSize:     64 << 10,
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// Only the destination changes: path, raw path and query stay
			// byte for byte what the client signed, and so does Host.
			pr.Out.URL.Scheme = u.Scheme
			pr.Out.URL.Host = u.Host
			pr.Out.Host = pr.In.Host
		},
		Transport:  p.tr,
		BufferPool: bufferPool{},
		ModifyResponse: func(resp *http.Response) error {
			p.mu.Lock()
			rewrite, rewriteBody := p.rewrite, p.rewriteBody
			p.mu.Unlock()
			if rewrite != nil {
				rewrite(Operation(resp.Request), resp.Header)
			}
			if rewriteBody != nil {
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					return err
				}
				body = rewriteBody(Operation(resp.Request), body)
				resp.Body = io.NopCloser(bytes.NewReader(body))
				resp.ContentLength = int64(len(body))
				resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
				resp.Header.Del("Content-Encoding")
			}
			return nil
		},
		ErrorLog: log.New(logWriter{p}, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() == nil {
				p.log("faultproxy: forward %s %s: %v", r.Method, r.URL.Path, err)
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("testbed: fault proxy: %w", err)
	}
	p.Endpoint = "http://" + l.Addr().String()
	p.srv = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(logWriter{p}, "faultproxy: ", 0),
	}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

// RewriteResponses has fn edit the headers of every response the server
// sends back from now on (nil: stop), e.g. to drop or change the checksum
// a PutObject response echoes. op is the request's Operation.
func (p *FaultProxy) RewriteResponses(fn func(op string, h http.Header)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rewrite = fn
}

// RewriteBodies has fn edit the body of every response the server sends
// back from now on (nil: stop), e.g. to show a database in a state moto
// never leaves it in. op is the request's Operation.
func (p *FaultProxy) RewriteBodies(fn func(op string, body []byte) []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rewriteBody = fn
}

// Close stops the proxy and drops its connections.
func (p *FaultProxy) Close() error {
	p.logMu.Lock()
	p.closed = true
	p.logMu.Unlock()
	p.closeOnce.Do(func() { close(p.done) })
	err := p.srv.Close()
	p.tr.CloseIdleConnections()
	return err
}

// SetFaults replaces the faults from the next request on and restarts the
// decision sequence from f.Seed, e.g. to set up resources cleanly and then
// turn throttling on. Stats and events are kept.
func (p *FaultProxy) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if f.Logf != nil {
		p.logf = f.Logf
	}
	p.d = newDecider(f)
	return nil
}

// Stats returns a copy of the counters.
func (p *FaultProxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats.clone()
}

// ResetStats zeroes the counters and forgets the events, e.g. to measure
// only the phase after a test's setup.
func (p *FaultProxy) ResetStats() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats = newStats()
	p.events = nil
}

// Events returns the injected faults in the order they were decided (the
// first 100,000).
func (p *FaultProxy) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.events)
}

// Env returns a copy of a server's client environment (Moto.Env,
// Versity.Env) pointed at the proxy, for a Lambda function or a CLI process.
func (p *FaultProxy) Env(server map[string]string) map[string]string {
	env := make(map[string]string, len(server)+1)
	for k, v := range server {
		env[k] = v
	}
	env["AWS_ENDPOINT_URL"] = p.Endpoint
	return env
}

// Options are opts pointed at the proxy, with the credentials and region
// of server's environment (Moto.Env, Versity.Env) where opts has none.
func (p *FaultProxy) Options(server map[string]string, opts awsclient.Options) awsclient.Options {
	opts.Endpoint = p.Endpoint
	if opts.AccessKeyID == "" && opts.SecretAccessKey == "" {
		opts.AccessKeyID, opts.SecretAccessKey = server["AWS_ACCESS_KEY_ID"], server["AWS_SECRET_ACCESS_KEY"]
	}
	if opts.Region == "" {
		opts.Region = server["AWS_REGION"]
	}
	return opts
}

// Config is an aws.Config built by awsclient that reaches the server in
// server's environment through the proxy.
func (p *FaultProxy) Config(t testing.TB, server map[string]string, opts awsclient.Options) aws.Config {
	t.Helper()
	return load(t, p.Options(server, opts))
}

func (p *FaultProxy) log(format string, args ...any) {
	p.logMu.RLock()
	defer p.logMu.RUnlock()
	if p.closed {
		return
	}
	p.mu.Lock()
	logf := p.logf
	p.mu.Unlock()
	logf(format, args...)
}

type logWriter struct{ p *FaultProxy }

func (w logWriter) Write(b []byte) (int, error) {
	w.p.log("%s", bytes.TrimRight(b, "\n"))
	return len(b), nil
}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

type bufferPool struct{}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }

type reqKey struct{}

// reqInfo is what the proxy derived for a request before matching it.
type reqInfo struct {
	service, op string
	form        url.Values
}

// Operation is the API operation a FaultProxy derived for r, for use in
// Faults.Match, Hold, Watch and Denial.Match: the Action of a query
// request (EC2, RDS, STS, Auto Scaling, Redshift), the X-Amz-Target
// operation of a JSON one (ECS), or an S3 operation name derived from the method and
// query (PutObject, UploadPart, ListObjectsV2, ...).
func Operation(r *http.Request) string {
	info, _ := r.Context().Value(reqKey{}).(reqInfo)
	return info.op
}

// maxFormBody bounds the query-API body the proxy reads to find Action; EC2
// and RDS bodies are a few KiB at most.
const maxFormBody = 1 << 20

// ServeHTTP counts r, holds it at the gates that match it, answers it
// with a denial or decides its fault if it is a candidate, and then answers
// with the fault or forwards r to the server.
func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	form, err := bufferForm(r)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	service, op := describe(r, form)
	r = r.WithContext(context.WithValue(r.Context(), reqKey{}, reqInfo{service: service, op: op, form: form}))

	p.mu.Lock()
	p.stats.Requests++
	p.stats.Ops[op]++
	p.stats.Services[service]++
	d := p.d
	gates, denials, refusals := p.gates, p.denials, p.refusals
	p.mu.Unlock()

	body := &heldBody{r: r}
	defer body.discard()
	for _, g := range gates {
		if !g.wait(r, body) {
			// Drop it without an answer: a handler that merely returned
			// would send an empty 200, which a client racing the proxy's
			// Close could take for success.
			panic(http.ErrAbortHandler)
		}
	}
	if p.answerDenied(w, r, denials, service, op, form) || p.answerRefused(w, r, refusals, service, op, form) ||
		p.answerDecode(w, r, service, op, form) {
		return
	}

	if (len(d.f.Only) > 0 && !slices.Contains(d.f.Only, op)) || (d.f.Match != nil && !d.f.Match(r)) {
		p.rp.ServeHTTP(w, r)
		return
	}

	p.mu.Lock()
	if d != p.d { // SetFaults ran meanwhile: decide with the new faults.
		d = p.d
	}
	seq, fault := d.next()
	if d.f.Latency > 0 {
		p.stats.Delayed++
	}
	if fault != FaultNone {
		p.stats.Faults[fault]++
		p.stats.FaultsByOp[op]++
		if len(p.events) < maxEvents {
			p.events = append(p.events, Event{Seq: seq, Method: r.Method, Path: r.URL.Path, Service: service, Op: op, Fault: fault})
		}
	}
	p.mu.Unlock()

	if d.f.Latency > 0 {
		t := time.NewTimer(d.f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if fault == FaultNone {
		p.rp.ServeHTTP(w, r)
		return
	}
	p.log("faultproxy: seed %d #%d %s %s (%s %s): %s", d.f.Seed, seq, r.Method, r.URL.Path, service, op, fault)
	if fault == FaultReset {
		resetMidBody(w, r)
		return
	}
	writeError(w, r, service, fault, fmt.Sprintf("faultproxy-%d-%d", d.f.Seed, seq))
}

// bufferForm reads a query-API (EC2, RDS) body so its Action can be counted,
// and puts it back for forwarding. Other bodies, S3 payloads above all, are
// left to stream.
func bufferForm(r *http.Request) (url.Values, error) {
	ct := r.Header.Get("Content-Type")
	if r.Body == nil || r.Body == http.NoBody || !strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
		return nil, nil
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, maxFormBody+1))
	if err != nil {
		return nil, err
	}
	if len(buf) > maxFormBody {
		// Not a query-API call after all; forward it whole, uncounted by Action.
		r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
		return nil, nil
	}
	r.Body = readCloser{bytes.NewReader(buf), r.Body}
	if r.ContentLength < 0 {
		r.ContentLength = int64(len(buf))
		r.TransferEncoding = nil
	}
	form, err := url.ParseQuery(string(buf))
	if err != nil {
		return nil, nil
	}
	return form, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// describe names the service and operation of r. The service comes from the
// SigV4 credential scope (…/region/service/aws4_request), which the SDK
// always sends; unsigned requests fall back to the query API's Version.
func describe(r *http.Request, form url.Values) (service, op string) {
	service = scopeService(r.Header.Get("Authorization"))
	if service == "" {
		service = scopeService("Credential=" + r.URL.Query().Get("X-Amz-Credential"))
	}
	action := form.Get("Action")
	if action == "" && r.Method == http.MethodGet && service != "s3" {
		action = r.URL.Query().Get("Action")
	}
	if action != "" {
		if service == "" {
			switch form.Get("Version") {
			case "2016-11-15":
				service = "ec2"
			case "2014-10-31":
				service = "rds"
			}
		}
		return service, action
	}
	if service == "" {
		service = "s3"
	}
	if target := r.Header.Get("X-Amz-Target"); target != "" && service != "s3" {
		// A JSON-protocol API (ECS): Service_Version.Operation.
		_, op, _ := strings.Cut(target, ".")
		return service, op
	}
	if service != "s3" {
		return service, r.Method + " " + r.URL.Path
	}
	return service, s3Operation(r)
}

func scopeService(auth string) string {
	_, service := scope(auth)
	return service
}

// bucketSub names the bucket-level subresources the jobs and tests use, as
// in the operation names (PutBucketVersioning, GetBucketTagging, ...).
var bucketSub = map[string]string{
	"versioning": "Versioning", "tagging": "Tagging", "policy": "Policy", "acl": "Acl",
	"lifecycle": "LifecycleConfiguration", "encryption": "Encryption", "cors": "Cors",
	"ownershipControls": "OwnershipControls", "location": "Location", "object-lock": "ObjectLockConfiguration",
}

// s3Operation derives an S3 operation name from a path-style request (the
// only style awsclient uses with a custom endpoint).
func s3Operation(r *http.Request) string {
	q := r.URL.Query()
	has := func(k string) bool { _, ok := q[k]; return ok }
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	copySrc := r.Header.Get("X-Amz-Copy-Source") != ""
	m := r.Method
	if bucket == "" {
		if m == http.MethodGet {
			return "ListBuckets"
		}
		return m + " /"
	}
	if key == "" {
		for sub, name := range bucketSub {
			if !has(sub) {
				continue
			}
			switch m {
			case http.MethodGet:
				return "GetBucket" + name
			case http.MethodPut:
				return "PutBucket" + name
			case http.MethodDelete:
				return "DeleteBucket" + name
			}
		}
		switch m {
		case http.MethodGet:
			switch {
			case q.Get("list-type") == "2":
				return "ListObjectsV2"
			case has("uploads"):
				return "ListMultipartUploads"
			case has("versions"):
				return "ListObjectVersions"
			}
			return "ListObjects"
		case http.MethodPut:
			return "CreateBucket"
		case http.MethodDelete:
			return "DeleteBucket"
		case http.MethodHead:
			return "HeadBucket"
		case http.MethodPost:
			if has("delete") {
				return "DeleteObjects"
			}
		}
		return m + " bucket"
	}
	switch m {
	case http.MethodGet:
		switch {
		case has("uploadId"):
			return "ListParts"
		case has("tagging"):
			return "GetObjectTagging"
		case has("acl"):
			return "GetObjectAcl"
		case has("attributes"):
			return "GetObjectAttributes"
		}
		return "GetObject"
	case http.MethodHead:
		return "HeadObject"
	case http.MethodPut:
		switch {
		case has("partNumber") && has("uploadId"):
			if copySrc {
				return "UploadPartCopy"
			}
			return "UploadPart"
		case has("tagging"):
			return "PutObjectTagging"
		case has("acl"):
			return "PutObjectAcl"
		case copySrc:
			return "CopyObject"
		}
		return "PutObject"
	case http.MethodPost:
		switch {
		case has("uploads"):
			return "CreateMultipartUpload"
		case has("uploadId"):
			return "CompleteMultipartUpload"
		case has("restore"):
			return "RestoreObject"
		}
	case http.MethodDelete:
		switch {
		case has("uploadId"):
			return "AbortMultipartUpload"
		case has("tagging"):
			return "DeleteObjectTagging"
		}
		return "DeleteObject"
	}
	return m + " object"
}

// resetMidBody reads part of the body, so the client is still sending when
// the reset arrives, then closes the connection with SO_LINGER 0: the kernel
// sends RST instead of FIN and the client sees ECONNRESET.
func resetMidBody(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil && r.Body != http.NoBody {
		n := int64(64 << 10)
		if r.ContentLength > 0 {
			n = min(r.ContentLength/2, 1<<20)
		}
		_, _ = io.CopyN(io.Discard, r.Body, n)
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Cannot happen on the proxy's own HTTP/1.1 server; fail loudly in
		// the client rather than pass the request through.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// IsReset reports whether err is how a client sees a FaultReset: ECONNRESET
// on reading the response; or, when the reset arrives while the body is
// still being written, EPIPE or (once Go's read loop has closed the
// connection on the RST) a write on a closed connection. The SDK retries all
// three as connection errors.
func IsReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

type errorShape struct {
	status        int
	code, message string
}

// shapes are the error codes and messages AWS sends for each fault.
var shapes = map[string]map[Fault]errorShape{
	"ec2": {
		FaultThrottle: {http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded."},
		FaultSlowDown: {http.StatusServiceUnavailable, "Unavailable", "The server is overloaded and can't handle the request."},
		FaultError500: {http.StatusInternalServerError, "InternalError", "An internal error has occurred."},
	},
	"rds": {
		FaultThrottle: {http.StatusBadRequest, "Throttling", "Rate exceeded"},
		FaultSlowDown: {http.StatusServiceUnavailable, "ServiceUnavailable", "Service is unavailable. Try again later."},
		FaultError500: {http.StatusInternalServerError, "InternalFailure", "The request processing has failed because of an unknown error, exception or failure."},
	},
	"json": {
		FaultThrottle: {http.StatusBadRequest, "ThrottlingException", "Rate exceeded"},
		FaultSlowDown: {http.StatusServiceUnavailable, "ServiceUnavailableException", "Service is unavailable. Try again later."},
		FaultError500: {http.StatusInternalServerError, "ServerException", "Server exception."},
	},
	"s3": {
		FaultThrottle: {http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate."},
		FaultSlowDown: {http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate."},
		FaultError500: {http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again."},
	},
}

// errorResponse is the status, headers and body AWS would send for fault
// in service's protocol: EC2's query API, the AWS query API (RDS and other
// query services) or S3's REST-XML.
func errorResponse(service string, fault Fault, requestID string) (int, http.Header, []byte) {
	h := http.Header{}
	var body string
	switch service {
	case "ec2":
		s := shapes["ec2"][fault]
		h.Set("Content-Type", "text/xml;charset=UTF-8")
		body = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
			`<Response><Errors><Error><Code>` + s.code + `</Code><Message>` + s.message +
			`</Message></Error></Errors><RequestID>` + requestID + `</RequestID></Response>`
		return s.status, h, []byte(body)
	case "s3":
		s := shapes["s3"][fault]
		h.Set("Content-Type", "application/xml")
		h.Set("X-Amz-Request-Id", requestID)
		h.Set("X-Amz-Id-2", requestID)
		body = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
			`<Error><Code>` + s.code + `</Code><Message>` + s.message + `</Message><RequestId>` +
			requestID + `</RequestId><HostId>` + requestID + `</HostId></Error>`
		return s.status, h, []byte(body)
	default:
		s := shapes["rds"][fault]
		typ := "Receiver"
		if s.status < 500 {
			typ = "Sender"
		}
		h.Set("Content-Type", "text/xml")
		h.Set("X-Amzn-Requestid", requestID)
		body = `<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>` + typ +
			`</Type><Code>` + s.code + `</Code><Message>` + s.message + `</Message></Error><RequestId>` +
			requestID + `</RequestId></ErrorResponse>`
		return s.status, h, []byte(body)
	}
}

func writeError(w http.ResponseWriter, r *http.Request, service string, fault Fault, requestID string) {
	// Take the whole body first, so the client reads the error instead of
	// a reset on writing the rest: the SDK sends "Expect: 100-continue" on
	// large S3 bodies but builds its requests without a protocol version,
	// so Go's client never waits for the 100 and sends the body at once.
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
	}
	status, h, body := errorResponse(service, fault, requestID)
	if r.Header.Get("X-Amz-Target") != "" && service != "s3" {
		// A JSON-protocol API (ECS).
		e := shapes["json"][fault]
		status, body = e.status, []byte(`{"__type":"`+e.code+`","message":"`+e.message+`"}`)
		h = http.Header{"Content-Type": {"application/x-amz-json-1.1"}, "X-Amzn-Requestid": {requestID}}
	}
	for k, v := range h {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
