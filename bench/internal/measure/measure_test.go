package measure

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// launcher builds bench/rusage for the test.
func launcher(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command to build bench/rusage")
	}
	out := filepath.Join(t.TempDir(), "rusage")
	cmd := exec.Command("go", "build", "-o", out, "../../rusage")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build launcher: %v\n%s", err, b)
	}
	return out
}

var ballast []byte

func TestRun(t *testing.T) {
	r := Runner{Launcher: launcher(t), TempDir: t.TempDir(), Timeout: time.Minute}
	env := []string{"PATH=" + os.Getenv("PATH")}
	ctx := context.Background()

	// The harness holding 300 MiB must not show in a child's peak RSS
	// (vfork would charge it without the launcher).
	ballast = make([]byte, 300<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	small, err := r.Run(ctx, Command{Argv: []string{"/bin/sh", "-c", "true"}, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	ballast = nil
	if small.MaxRSS <= 0 || small.MaxRSS > 50<<20 {
		t.Errorf("sh -c true peak RSS %d bytes, want a few MiB", small.MaxRSS)
	}

	// A child that holds 64 MiB shows it; one that spins shows CPU time.
	big, err := r.Run(ctx, Command{Argv: []string{"/bin/sh", "-c",
		`x=$(head -c 67108864 /dev/zero | tr '\0' a); i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo ${#x}`}, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	if big.MaxRSS < 64<<20 || big.CPU <= 0 || big.Wall < big.CPU/4 {
		t.Errorf("big: %+v; want at least 64 MiB peak RSS and some CPU", big)
	}

	_, err = r.Run(ctx, Command{Argv: []string{"/bin/sh", "-c", "echo something broke >&2; exit 3"}, Env: env})
	var e *Error
	if !errors.As(err, &e) || e.ExitCode != 3 || !strings.Contains(e.Output, "something broke") {
		t.Errorf("failing command: %v; want exit 3 with its output", err)
	}

	short := Runner{Launcher: r.Launcher, TempDir: r.TempDir, Timeout: 200 * time.Millisecond}
	start := time.Now()
	if _, err := short.Run(ctx, Command{Argv: []string{"/bin/sleep", "30"}, Env: env}); err == nil || time.Since(start) > 10*time.Second {
		t.Errorf("a run over its timeout: %v after %s; want an error soon", err, time.Since(start))
	}
}
