package testbed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildMu    sync.Mutex
	buildCache = map[string]string{}
)

// BuildBootstrap builds the main package pkg (relative to the module root,
// e.g. "./cmd/startstop-lambda") as Lambda's provided.al2023 runtime wants it:
// a static binary named bootstrap, built with -tags lambda.norpc. Builds are
// cached for the life of the test binary.
func BuildBootstrap(t testing.TB, pkg string) string {
	t.Helper()
	return buildOnce(t, pkg, "bootstrap-", "bootstrap")
}

// BuildCommand builds the main package pkg (relative to the module root,
// e.g. "./cmd/awsutils") once per test binary, named after its folder, for
// tests that run a command as a child process with a server's Env.
func BuildCommand(t testing.TB, pkg string) string {
	t.Helper()
	return buildOnce(t, pkg, "command-", filepath.Base(pkg))
}

// buildOnce builds pkg as name in a folder of its own that lives as long as
// the test binary, once per pkg and name.
func buildOnce(t testing.TB, pkg, dirPattern, name string) string {
	t.Helper()
	Require(t)
	buildMu.Lock()
	defer buildMu.Unlock()
	key := name + " " + pkg
	if p, ok := buildCache[key]; ok {
		return p
	}
	dir, err := sharedTempDir(dirPattern)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	if err := Build(pkg, out); err != nil {
		t.Fatal(err)
	}
	buildCache[key] = out
	return out
}

// Build builds the main package pkg (relative to the module root) into out
// as a static Linux binary for this machine's architecture, with the
// lambda.norpc tag that provided.al2023 functions use.
func Build(pkg, out string) error {
	root, err := Root()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("testbed: build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// Lambda is one function running under the Runtime Interface Emulator.
type Lambda struct {
	invokeURL string
	proc      *process
}

// StartLambda runs bootstrap under aws-lambda-rie with exactly env (plus
// PATH and HOME): AWS_LAMBDA_FUNCTION_NAME, AWS_ENDPOINT_URL, credentials
// and the function's own settings. LAMBDA_TASK_ROOT defaults to the folder
// holding bootstrap. The emulator is stopped when t ends.
func StartLambda(t testing.TB, bootstrap string, env map[string]string) *Lambda {
	t.Helper()
	Require(t)
	l, err := LaunchLambda(bootstrap, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.Close()
		if t.Failed() {
			t.Logf("aws-lambda-rie and function log:\n%s", l.Log())
		}
	})
	return l
}

// LaunchLambda is StartLambda for programs: the caller closes the Lambda.
func LaunchLambda(bootstrap string, env map[string]string) (*Lambda, error) {
	rie, err := ToolPath(".bin/aws-lambda-rie")
	if err != nil {
		return nil, err
	}
	full := baseEnv()
	if _, ok := env["LAMBDA_TASK_ROOT"]; !ok {
		full = append(full, "LAMBDA_TASK_ROOT="+filepath.Dir(bootstrap))
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		full = append(full, k+"="+env[k])
	}
	p, addr, err := startListening("aws-lambda-rie", full, filepath.Dir(bootstrap), 30*time.Second, func(addr string) ([]string, error) {
		// The function's runtime API listens on a second port.
		api := addr
		for api == addr {
			port, err := FreePort()
			if err != nil {
				return nil, err
			}
			api = "127.0.0.1:" + strconv.Itoa(port)
		}
		return []string{rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", api, bootstrap}, nil
	})
	if err != nil {
		return nil, err
	}
	return &Lambda{invokeURL: "http://" + addr + "/2015-03-31/functions/function/invocations", proc: p}, nil
}

// Close stops the emulator and the function.
func (l *Lambda) Close() { l.proc.stop() }

// FunctionError is an invocation that the function failed, as Lambda reports
// it to a caller.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// WantFunctionError fails t unless err is a *FunctionError of type typ
// whose message contains want, and returns it.
func WantFunctionError(t testing.TB, err error, typ, want string) *FunctionError {
	t.Helper()
	var fe *FunctionError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a function error %s", err, typ)
	}
	if fe.Type != typ || !strings.Contains(fe.Message, want) {
		t.Fatalf("function error %s: %q, want %s containing %q", fe.Type, fe.Message, typ, want)
	}
	return fe
}

// Invoke sends event (raw JSON bytes, a string of JSON, or a value to
// marshal) and returns the function's payload, or a *FunctionError when the
// function failed.
func (l *Lambda) Invoke(ctx context.Context, event any) ([]byte, error) {
	var body []byte
	switch e := event.(type) {
	case []byte:
		body = e
	case string:
		body = []byte(e)
	default:
		b, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		body = b
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.invokeURL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("testbed: invoke: %w", err)
	}
	defer resp.Body.Close()
	payload, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("testbed: invoke: HTTP %d: %s", resp.StatusCode, payload)
	}
	if fe := asFunctionError(resp.Header, payload); fe != nil {
		return payload, fe
	}
	return payload, nil
}

// Log is what the emulator and the function printed so far.
func (l *Lambda) Log() string { return l.proc.log.Since(0) }

// Output stops the emulator and returns all it and the function wrote:
// the function's lines reach the emulator's log after the invocation has
// answered, so a test that counts them reads them once the process is
// gone.
func (l *Lambda) Output() string {
	l.Close()
	return l.proc.log.String()
}

// asFunctionError recognises the emulator's error reply: a JSON object with
// errorType/errorMessage and nothing else a handler would return.
func asFunctionError(h http.Header, payload []byte) *FunctionError {
	if h.Get("X-Amz-Function-Error") == "" && !bytes.Contains(payload, []byte(`"errorMessage"`)) {
		return nil
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(payload, &raw) != nil {
		return nil
	}
	if _, ok := raw["errorMessage"]; !ok {
		return nil
	}
	for k := range raw {
		switch k {
		case "errorMessage", "errorType", "stackTrace", "requestId":
		default:
			return nil
		}
	}
	var fe FunctionError
	_ = json.Unmarshal(payload, &fe)
	fe.Message = strings.TrimSpace(fe.Message)
	return &fe
}
