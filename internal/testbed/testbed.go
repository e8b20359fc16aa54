// Package testbed runs the real servers that awsutils' integration tests talk
// to: moto server (EC2, RDS, S3), versitygw (a signature-checking S3) and the
// AWS Lambda Runtime Interface Emulator. Servers listen on free loopback ports
// chosen at run time, are shared by the tests of one package, keep their logs
// for failing tests and are always stopped: by Main at the end of the run, and
// by the kernel (parent-death signal) if the test binary dies on a panic or a
// timeout.
//
// Integration tests run when AWSUTILS_INTEGRATION=1, which `make test` sets.
// Then a missing tool fails the test loudly; without it the tests skip with
// one line saying how to run them.
package testbed

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvIntegration is the variable `make test` sets to ask for integration tests.
const EnvIntegration = "AWSUTILS_INTEGRATION"

const skipLine = "integration tests need the test command: run `make test` (sets AWSUTILS_INTEGRATION=1 and installs moto, versitygw and aws-lambda-rie)"

// Enabled reports whether integration tests were asked for.
func Enabled() bool { return os.Getenv(EnvIntegration) == "1" }

// Require skips t unless integration tests were asked for.
func Require(t testing.TB) {
	t.Helper()
	if !Enabled() {
		t.Skip(skipLine)
	}
}

// Main wraps testing.M.Run for packages with integration tests: it says once
// when they are skipped and stops every server the package started.
//
//	func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }
func Main(m *testing.M) int {
	if !Enabled() {
		fmt.Fprintln(os.Stderr, skipLine)
	}
	code := m.Run()
	stopAll()
	return code
}

var (
	registryMu sync.Mutex
	registry   []*process
	tempDirs   []string
)

func stopAll() {
	registryMu.Lock()
	procs := registry
	registry = nil
	dirs := tempDirs
	tempDirs = nil
	registryMu.Unlock()
	for _, p := range procs {
		p.stop()
	}
	for _, d := range dirs {
		os.RemoveAll(d)
	}
}

// sharedTempDir makes a directory that lives until Main returns; unlike
// t.TempDir it outlives the test that first needed a shared server.
func sharedTempDir(pattern string) (string, error) {
	d, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", err
	}
	registryMu.Lock()
	tempDirs = append(tempDirs, d)
	registryMu.Unlock()
	return d, nil
}

// Root is the module root (the folder holding go.mod), where the test
// command installs its tools (.venv, .bin).
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testbed: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// tool finds an installed test-bed program, failing with what to do when it
// is missing.
func tool(t testing.TB, rel string) string {
	t.Helper()
	p, err := ToolPath(rel)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ToolPath is the path of a test-bed program installed by `make tools`
// (rel is e.g. ".bin/versitygw"), or an error saying what to do.
func ToolPath(rel string) (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, rel)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("testbed: %s is not installed; run `make tools` (or `make test`) in %s", rel, root)
	}
	return p, nil
}

// StopAll stops every server this process started; programs that use the
// Launch functions defer it, tests get it from Main.
func StopAll() { stopAll() }

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer is a log sink shared by a process's stdout and stderr.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// Since returns what was written after offset off, at most the last 8 KiB.
func (b *syncBuffer) Since(off int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.Bytes()
	if off > len(s) {
		off = len(s)
	}
	s = s[off:]
	if len(s) > 8<<10 {
		s = s[len(s)-8<<10:]
	}
	return string(s)
}

type process struct {
	name string
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
	err  error // valid after done is closed
	once sync.Once
}

// startProcess starts a server in its own process group, killed by the
// kernel if the test binary dies before it can stop it.
func startProcess(name string, env []string, dir string, argv ...string) (*process, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = dir
	log := &syncBuffer{}
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testbed: start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	registryMu.Lock()
	registry = append(registry, p)
	registryMu.Unlock()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) stop() {
	p.once.Do(func() {
		if p.exited() {
			return
		}
		pgid := -p.cmd.Process.Pid
		_ = syscall.Kill(pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(pgid, syscall.SIGKILL)
			<-p.done
		}
	})
}

// waitTCP waits until addr accepts connections, the process exits, or the
// timeout passes; the error says which and shows the server's log.
func (p *process) waitTCP(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("testbed: %s exited before listening on %s (%v); if the port was taken, run again; its log:\n%s",
				p.name, addr, p.err, p.log.Since(0))
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stop()
	return fmt.Errorf("testbed: %s did not listen on %s within %s; its log:\n%s", p.name, addr, timeout, p.log.Since(0))
}

// startListening starts the server argv gives for a free loopback address and waits
// until it accepts connections there. Another process may take the port
// between FreePort and the server's bind, so a server that does not listen
// is stopped and started again on another port, three times at most.
func startListening(name string, env []string, dir string, timeout time.Duration, argv func(addr string) ([]string, error)) (*process, string, error) {
	var lastErr error
	for try := 0; try < 3; try++ {
		port, err := FreePort()
		if err != nil {
			return nil, "", err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		args, err := argv(addr)
		if err != nil {
			return nil, "", err
		}
		p, err := startProcess(name, env, dir, args...)
		if err != nil {
			return nil, "", err
		}
		if lastErr = p.waitTCP(addr, timeout); lastErr == nil {
			return p, addr, nil
		}
		p.stop()
	}
	return nil, "", lastErr
}

// server is what the test bed's servers have in common: a process that
// Main stops.
type server struct{ proc *process }

func (s server) process() *process { return s.proc }

// shared is a server that the tests of one package share, started on first
// use by start and stopped by Main.
type shared[S interface{ process() *process }] struct {
	name  string // as failures name it, e.g. "moto server"
	tool  string // its program, relative to Root
	start func(bin string) (S, error)

	once sync.Once
	srv  S
	err  error
}

// get returns the server, starting it on first use; a server that has
// exited since fails t with its log, and what it logs during t is shown if
// t fails.
func (s *shared[S]) get(t testing.TB) S {
	t.Helper()
	Require(t)
	bin := tool(t, s.tool)
	s.once.Do(func() { s.srv, s.err = s.start(bin) })
	if s.err != nil {
		t.Fatal(s.err)
	}
	p := s.srv.process()
	if p.exited() {
		t.Fatalf("testbed: %s has exited (%v); its log:\n%s", s.name, p.err, p.log.Since(0))
	}
	logOnFailure(t, p)
	return s.srv
}

// launch starts a server of its own for a program (the demo, the
// benchmarks), which closes it.
func launch[S any](rel string, start func(bin string) (S, error)) (S, error) {
	bin, err := ToolPath(rel)
	if err != nil {
		var zero S
		return zero, err
	}
	return start(bin)
}

// logOnFailure prints what a shared server logged during t when t fails.
func logOnFailure(t testing.TB, p *process) {
	off := p.log.Len()
	t.Cleanup(func() {
		if t.Failed() {
			if s := strings.TrimSpace(p.log.Since(off)); s != "" {
				t.Logf("%s log during this test:\n%s", p.name, s)
			}
		}
	})
}

// baseEnv is the environment servers and functions start from: enough to
// run, and none of the developer's AWS settings, which must not leak in.
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
