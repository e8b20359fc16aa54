// Package measure runs one benchmark contender as a child process and
// reports its wall time, CPU time and peak resident set.
//
// Children are started through the bench/rusage launcher, never straight
// from the harness: Go starts processes with vfork, and the kernel then
// charges the parent's resident set to the child's ru_maxrss, which would
// make every contender look as large as the harness.
package measure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Usage is what one run cost the client.
type Usage struct {
	Wall   time.Duration
	CPU    time.Duration // user + system, the child and its reaped children
	MaxRSS int64         // bytes
}

// launcherUsage mirrors the JSON the launcher writes.
type launcherUsage struct {
	WallNanos int64 `json:"wall_ns"`
	UserNanos int64 `json:"user_ns"`
	SysNanos  int64 `json:"sys_ns"`
	MaxRSSKiB int64 `json:"maxrss_kib"`
	ExitCode  int   `json:"exit_code"`
}

// Command is one contender invocation.
type Command struct {
	Argv []string
	Env  []string // the complete environment; nothing is inherited
	Dir  string
}

// Runner starts commands through the launcher binary.
type Runner struct {
	Launcher string // path of the built bench/rusage
	TempDir  string // where usage files go
	// Timeout bounds one run, so a hung contender cannot hang the bench.
	Timeout time.Duration
}

// Error is a run that did not exit 0, with the tail of what it printed.
type Error struct {
	Argv     []string
	ExitCode int
	Output   string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s exited %d: %s", filepath.Base(e.Argv[0]), e.ExitCode, e.Output)
}

// Run runs c and returns its usage. Output is kept only to explain a failure.
func (r Runner) Run(ctx context.Context, c Command) (Usage, error) {
	f, err := os.CreateTemp(r.TempDir, "usage-*.json")
	if err != nil {
		return Usage{}, err
	}
	usagePath := f.Name()
	f.Close()
	defer os.Remove(usagePath)

	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	argv := append([]string{r.Launcher, "-o", usagePath}, c.Argv...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = c.Env
	cmd.Dir = c.Dir
	// Output goes straight to a file: a pipe would make the harness copy
	// every line the contender prints (several tools print one per file).
	logf, err := os.CreateTemp(r.TempDir, "output-*.log")
	if err != nil {
		return Usage{}, err
	}
	defer os.Remove(logf.Name())
	defer logf.Close()
	cmd.Stdout = logf
	cmd.Stderr = logf
	out := &tailFile{f: logf}
	// The launcher passes SIGTERM on to the contender.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	runErr := cmd.Run()

	b, err := os.ReadFile(usagePath)
	if err != nil || len(b) == 0 {
		if runErr == nil {
			runErr = errors.New("the launcher wrote no usage")
		}
		return Usage{}, fmt.Errorf("%s: %w: %s", filepath.Base(c.Argv[0]), runErr, out.String())
	}
	var lu launcherUsage
	if err := json.Unmarshal(b, &lu); err != nil {
		return Usage{}, fmt.Errorf("read usage of %s: %w", filepath.Base(c.Argv[0]), err)
	}
	u := Usage{
		Wall:   time.Duration(lu.WallNanos),
		CPU:    time.Duration(lu.UserNanos + lu.SysNanos),
		MaxRSS: lu.MaxRSSKiB << 10,
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return u, fmt.Errorf("%s: stopped after %s: %w", filepath.Base(c.Argv[0]), r.Timeout, ctx.Err())
	}
	if ctx.Err() != nil {
		return u, fmt.Errorf("%s: stopped: %w", filepath.Base(c.Argv[0]), ctx.Err())
	}
	if lu.ExitCode != 0 {
		return u, &Error{Argv: c.Argv, ExitCode: lu.ExitCode, Output: out.String()}
	}
	return u, nil
}

// tailFile reads the last few KiB a process wrote, to explain a failure.
type tailFile struct{ f *os.File }

const tailMax = 4 << 10

func (t *tailFile) String() string {
	info, err := t.f.Stat()
	if err != nil {
		return ""
	}
	off := max(info.Size()-tailMax, 0)
	b := make([]byte, info.Size()-off)
	n, _ := t.f.ReadAt(b, off)
	return strings.TrimSpace(string(bytes.ToValidUTF8(b[:n], nil)))
}
