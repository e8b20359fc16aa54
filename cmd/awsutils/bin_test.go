package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/awsutils/awsutils/internal/testbed"
)

// runCLI runs the CLI in this process with args.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// runBin runs the built awsutils binary with args and env (a server's or a
// proxy's Env), as a user runs it against a local endpoint. The tests that
// reach a server use it instead of runCLI: the CLI takes its endpoint only
// from the environment, and a child's environment is its own, so these
// tests need no t.Setenv and may run in parallel.
func runBin(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(testbed.BuildCommand(t, "./cmd/awsutils"), args...)
	cmd.Env = childEnv(env)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		code = exit.ExitCode()
	default:
		t.Fatalf("awsutils %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return code, out.String(), errb.String()
}

// childEnv is this process's environment without the developer's AWS
// settings (profiles, shared files, endpoints), plus env.
func childEnv(env map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			out = append(out, kv)
		}
	}
	out = append(out, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// withEnv is a copy of env with kv ("KEY", "value", ...) set.
func withEnv(env map[string]string, kv ...string) map[string]string {
	c := make(map[string]string, len(env)+len(kv)/2)
	for k, v := range env {
		c[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		c[kv[i]] = kv[i+1]
	}
	return c
}
