package testbed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/awsutils/awsutils/awsclient"
)

// StepFunctions is a moto server that executes state machines, behind a
// Router that runs their Lambda tasks on our functions under the Runtime
// Interface Emulator. moto's interpreter makes its SDK calls (Lambda Invoke,
// the Distributed Map's S3 GetObject) to localhost:$MOTO_PORT, so MOTO_PORT
// names the router, which passes everything but Invoke on to moto.
//
// The interpreter signs with its own dummy keys, which moto places in its
// default account: state machines, functions and buckets the tests use
// with it live there (use Moto's credentials, not StartMotoAccount's).
type StepFunctions struct {
	// Endpoint is the router's base URL: clients reach moto through it as
	// the interpreter does.
	Endpoint string
	// Moto is the server itself, for a function's own S3 calls (directly,
	// or through a FaultProxy or DelayLine in front of Moto.Endpoint).
	Moto *Moto
	// Router sends Invoke calls to the functions added to it.
	Router *Router
}

// StartStepFunctions starts a moto server of its own with state machine
// execution on, and its Router, for the life of t.
func StartStepFunctions(t testing.TB) *StepFunctions {
	t.Helper()
	Require(t)
	s, err := LaunchStepFunctions()
	if err != nil {
		t.Fatal(err)
	}
	logOnFailure(t, s.Moto.proc)
	t.Cleanup(s.Close)
	return s
}

// LaunchStepFunctions is StartStepFunctions for programs (the benchmarks):
// the caller closes it.
func LaunchStepFunctions() (*StepFunctions, error) {
	bin, err := ToolPath(motoShared.tool)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("testbed: step functions router: %w", err)
	}
	routerPort := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	env := append(baseEnv(), "MOTO_PORT="+routerPort)
	p, addr, err := startListening("moto_server (step functions)", env, "", 60*time.Second, func(addr string) ([]string, error) {
		host, port, _ := net.SplitHostPort(addr)
		return []string{bin, "-H", host, "-p", port}, nil
	})
	if err != nil {
		l.Close()
		return nil, err
	}
	m := &Moto{Endpoint: "http://" + addr, Account: Account, server: server{p}}
	r, err := newRouter(l, m.Endpoint)
	if err != nil {
		l.Close()
		m.Close()
		return nil, err
	}
	s := &StepFunctions{Endpoint: r.Endpoint, Moto: m, Router: r}
	if err := s.configure(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// configure turns execution on (moto otherwise only stores definitions and
// answers every execution as succeeded at once).
func (s *StepFunctions) configure() error {
	body := strings.NewReader(`{"stepfunctions": {"execute_state_machine": true}}`)
	resp, err := http.Post(s.Moto.Endpoint+"/moto-api/config", "application/json", body)
	if err != nil {
		return fmt.Errorf("testbed: moto config: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 { // moto answers 201
		return fmt.Errorf("testbed: moto config: HTTP %d: %s", resp.StatusCode, b)
	}
	return nil
}

// The keys moto's interpreter signs its SDK calls with (its
// boto_client_for); moto puts them in its default account.
const (
	InterpreterAccessKey = "ak"
	InterpreterSecretKey = "sk"
)

// NewClient is Client for programs.
func (s *StepFunctions) NewClient(ctx context.Context) (*sfn.Client, error) {
	cfg, err := awsclient.Load(ctx, clientOptions(s.Endpoint, "testing", "testing"))
	if err != nil {
		return nil, err
	}
	return sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.BaseEndpoint = aws.String(s.Endpoint) }), nil
}

// Client is a Step Functions client that reaches moto through the router.
func (s *StepFunctions) Client(t testing.TB) *sfn.Client {
	t.Helper()
	cfg := load(t, clientOptions(s.Endpoint, "testing", "testing"))
	return sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.BaseEndpoint = aws.String(s.Endpoint) })
}

// Close stops the router and the server.
func (s *StepFunctions) Close() {
	s.Router.Close()
	s.Moto.Close()
}

// Env points a client process at moto through the router, with moto's
// default-account credentials.
func (s *StepFunctions) Env() map[string]string {
	key, secret := s.Moto.credentials()
	return clientEnv(s.Endpoint, key, secret)
}

// Invocation is one Invoke call the Router answered.
type Invocation struct {
	Function string
	Event    []byte
	Payload  []byte
	// Failed is true when the function failed the invocation (Lambda's
	// X-Amz-Function-Error).
	Failed bool
	// Duration is how long the function took, from the emulator's view.
	Duration time.Duration
}

// Router answers Lambda Invoke calls (POST
// /2015-03-31/functions/NAME/invocations) with the functions added to it and
// proxies every other request to its target unchanged.
type Router struct {
	Endpoint string

	srv *http.Server
	rp  *httputil.ReverseProxy

	mu          sync.Mutex
	s3          *httputil.ReverseProxy
	functions   map[string]*lambdaPool
	invocations []Invocation
	after       func(Invocation)
}

// lambdaPool holds the emulators that run one function. An emulator runs
// one invocation at a time, as a Lambda execution environment does, so a
// function gets as many as the invocations it must run at once.
type lambdaPool struct {
	free chan *Lambda
}

func newRouter(l net.Listener, target string) (*Router, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	r := &Router{Endpoint: "http://" + l.Addr().String(), functions: map[string]*lambdaPool{}}
	r.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// As FaultProxy: Host, path and query stay what was signed.
			pr.Out.URL.Scheme = u.Scheme
			pr.Out.URL.Host = u.Host
			pr.Out.Host = pr.In.Host
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
	}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = r.srv.Serve(l) }()
	return r, nil
}

// AddFunction makes Invoke calls for name (a function name or ARN) run on
// instances, each running at most one invocation at a time: len(instances)
// bounds the invocations that run at once, as reserved concurrency does.
func (r *Router) AddFunction(name string, instances ...*Lambda) {
	p := &lambdaPool{free: make(chan *Lambda, len(instances))}
	for _, l := range instances {
		p.free <- l
	}
	r.mu.Lock()
	r.functions[functionName(name)] = p
	r.mu.Unlock()
}

// RouteS3 sends S3 requests (by their signature's service) to target, a
// server that takes the interpreter's keys (NewVersityWithKeys), instead
// of to moto: a Distributed Map then reads its manifest where the
// function wrote it.
func (r *Router) RouteS3(target string) error {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return fmt.Errorf("testbed: router: S3 target %q is not a base URL", target)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = u.Scheme
			pr.Out.URL.Host = u.Host
			pr.Out.Host = pr.In.Host
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
	}
	r.mu.Lock()
	r.s3 = rp
	r.mu.Unlock()
	return nil
}

// AfterInvoke has fn see each invocation once the function has answered
// and before the caller gets the answer (nil: stop); fn may change the test
// bed (e.g. a FaultProxy's faults) knowing the caller has not yet reacted.
func (r *Router) AfterInvoke(fn func(Invocation)) {
	r.mu.Lock()
	r.after = fn
	r.mu.Unlock()
}

// Invocations returns the invocations answered so far, in order.
func (r *Router) Invocations() []Invocation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Invocation(nil), r.invocations...)
}

// Close stops the router.
func (r *Router) Close() { _ = r.srv.Close() }

// functionName is the name in a function name, a partial or full ARN, with
// any version or alias qualifier dropped.
func functionName(s string) string {
	if i := strings.Index(s, "function:"); i >= 0 {
		s = s[i+len("function:"):]
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return s
}

// invokePath matches Lambda's Invoke: /2015-03-31/functions/NAME/invocations.
func invokePath(r *http.Request) (string, bool) {
	const pre, suf = "/2015-03-31/functions/", "/invocations"
	p := r.URL.EscapedPath()
	if r.Method != http.MethodPost || !strings.HasPrefix(p, pre) || !strings.HasSuffix(p, suf) {
		return "", false
	}
	name, err := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(p, pre), suf))
	if err != nil || name == "" || strings.Contains(name, "/") {
		return "", false
	}
	return functionName(name), true
}

func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	name, ok := invokePath(req)
	if !ok {
		r.mu.Lock()
		s3 := r.s3
		r.mu.Unlock()
		if s3 != nil && scopeService(req.Header.Get("Authorization")) == "s3" {
			s3.ServeHTTP(w, req)
			return
		}
		r.rp.ServeHTTP(w, req)
		return
	}
	r.mu.Lock()
	pool := r.functions[name]
	r.mu.Unlock()
	if pool == nil {
		lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name+" (testbed: not added to the router)")
		return
	}
	if t := req.Header.Get("X-Amz-Invocation-Type"); t != "" && t != "RequestResponse" {
		lambdaError(w, http.StatusBadRequest, "InvalidParameterValueException", "testbed: the router runs only RequestResponse invocations, not "+t)
		return
	}
	event, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	var l *Lambda
	select {
	case l = <-pool.free:
	case <-req.Context().Done():
		return
	}
	start := time.Now()
	payload, err := l.Invoke(req.Context(), event)
	took := time.Since(start)
	pool.free <- l
	var fe *FunctionError
	if err != nil && !errors.As(err, &fe) {
		// The emulator itself failed: Lambda's own error, which Step
		// Functions names Lambda.ServiceException.
		lambdaError(w, http.StatusInternalServerError, "ServiceException", err.Error())
		return
	}
	inv := Invocation{Function: name, Event: event, Payload: payload, Failed: fe != nil, Duration: took}
	r.mu.Lock()
	r.invocations = append(r.invocations, inv)
	after := r.after
	r.mu.Unlock()
	if after != nil {
		after(inv)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	if fe != nil {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
	}
	_, _ = w.Write(payload)
}

// lambdaError answers as the Lambda API does for its own errors.
func lambdaError(w http.ResponseWriter, status int, typ, msg string) {
	b, _ := json.Marshal(map[string]string{"Type": "User", "message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// StartLambdas runs n emulators of bootstrap with env (see StartLambda), for
// a Router function that must run n invocations at once.
func StartLambdas(t testing.TB, bootstrap string, env map[string]string, n int) []*Lambda {
	t.Helper()
	ls := make([]*Lambda, n)
	for i := range ls {
		ls[i] = StartLambda(t, bootstrap, env)
	}
	return ls
}

// RunExecution starts an execution of the state machine arn with input and
// returns its description once it has ended, however long that takes (the
// test's own timeout bounds it).
func RunExecution(t testing.TB, c *sfn.Client, arn, input string) *sfn.DescribeExecutionOutput {
	t.Helper()
	ctx := context.Background()
	start, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Input: aws.String(input)})
	if err != nil {
		t.Fatalf("testbed: start execution: %v", err)
	}
	out, err := WaitExecution(ctx, c, aws.ToString(start.ExecutionArn))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// WaitExecution polls an execution until it is no longer running.
func WaitExecution(ctx context.Context, c *sfn.Client, arn string) (*sfn.DescribeExecutionOutput, error) {
	for {
		out, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			return nil, fmt.Errorf("testbed: describe execution: %w", err)
		}
		if out.Status != sfntypes.ExecutionStatusRunning && out.Status != sfntypes.ExecutionStatusPendingRedrive {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
