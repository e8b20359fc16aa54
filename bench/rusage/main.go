// Command rusage runs one command and writes its resource usage as JSON to
// the file named by -o, passing stdin, stdout, stderr and the exit code
// through.
//
// The benchmark starts every contender through it because Go starts child
// processes with vfork: the kernel then counts the parent's resident set
// in the child's peak RSS (ru_maxrss), so a contender started straight
// from the harness would be charged for the harness's own memory. This
// launcher is small, so the figure it reports is the contender's own.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// Usage is what the launcher writes; the harness reads the same shape.
type Usage struct {
	WallNanos int64 `json:"wall_ns"`
	UserNanos int64 `json:"user_ns"`
	SysNanos  int64 `json:"sys_ns"`
	MaxRSSKiB int64 `json:"maxrss_kib"`
	ExitCode  int   `json:"exit_code"`
}

func main() {
	if len(os.Args) < 4 || os.Args[1] != "-o" {
		fmt.Fprintln(os.Stderr, "usage: rusage -o FILE COMMAND [ARGS...]")
		os.Exit(2)
	}
	out, argv := os.Args[2], os.Args[3:]
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Signals meant for the run (Ctrl-C, the harness's timeout) reach the
	// child; the launcher then reports how it ended.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "rusage: %v\n", err)
		os.Exit(127)
	}
	go func() {
		for s := range sig {
			_ = cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	wall := time.Since(start)
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		fmt.Fprintf(os.Stderr, "rusage: %v\n", err)
		os.Exit(127)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	u := Usage{WallNanos: wall.Nanoseconds(), ExitCode: cmd.ProcessState.ExitCode()}
	if ru != nil {
		u.UserNanos = syscall.TimevalToNsec(ru.Utime)
		u.SysNanos = syscall.TimevalToNsec(ru.Stime)
		u.MaxRSSKiB = ru.Maxrss // kilobytes on Linux
	}
	b, _ := json.Marshal(u)
	if err := os.WriteFile(out, b, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "rusage: %v\n", err)
		os.Exit(127)
	}
	if u.ExitCode < 0 { // killed by a signal
		os.Exit(128 + 9)
	}
	os.Exit(u.ExitCode)
}
