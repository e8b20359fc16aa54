package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/awsutils/awsutils/bench/internal/measure"
	"github.com/awsutils/awsutils/bench/internal/report"
	"github.com/awsutils/awsutils/internal/testbed"
)

// bench is one run in progress.
type bench struct {
	cfg    config
	tmp    string // removed at the end
	bin    string // built programs
	runner measure.Runner
	rows   []report.Row
	meta   report.Meta
	// awsutils is the CLI built from ./cmd/awsutils.
	awsutils string
	putloop  string
	// baseline is awsutils built from Config.Baseline ("" without one).
	baseline string
	// moto is started on first use by the start/stop or Lambda parts.
	moto *testbed.Moto
	// faults and faultLine are the fault proxy in front of the upload
	// server and the delay line in front of it (-slowdown), or nil.
	faults    *testbed.FaultProxy
	faultLine *testbed.DelayLine
}

func (b *bench) logf(format string, args ...any) {
	if b.cfg.Logf != nil {
		b.cfg.Logf(format, args...)
	}
}

func (b *bench) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	b.meta.Notes = append(b.meta.Notes, s)
	b.logf("note: %s", s)
}

func (b *bench) add(r report.Row) { b.rows = append(b.rows, r) }

// run runs every part cfg asks for and writes the results, also the
// partial results of a run that failed half-way.
func run(ctx context.Context, cfg config) (res results, err error) {
	if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return res, err
	}
	tmp, err := os.MkdirTemp(cfg.WorkDir, "run-")
	if err != nil {
		return res, err
	}
	b := &bench{cfg: cfg, tmp: tmp, bin: filepath.Join(tmp, "bin")}
	defer os.RemoveAll(tmp)
	// Servers started through testbed (moto, the Lambda emulator) stop
	// here; versitygw is stopped by the upload part itself.
	defer testbed.StopAll()
	b.meta = report.Meta{
		Started: time.Now(), Command: cfg.Command, Commit: gitCommit(cfg.Root),
		Reps: cfg.Reps, Warmup: cfg.Warmup, Scale: cfg.Scale, Seed: cfg.Seed,
		Machine: machine(),
	}
	b.runner = measure.Runner{Launcher: filepath.Join(b.bin, "rusage"), TempDir: tmp, Timeout: cfg.RunTimeout}

	b.meta.Caveat = cfg.Note
	b.note("load average at the start: %s", loadAverage())
	defer func() {
		b.note("load average at the end: %s", loadAverage())
		b.meta.Finished = time.Now()
		out, werr := b.write()
		res = results{CSV: out, Meta: b.meta, Rows: b.rows}
		err = errors.Join(err, werr)
	}()

	b.logf("building awsutils, the PUT loop and the launcher")
	for _, p := range []struct{ pkg, name string }{
		{"./cmd/awsutils", "awsutils"}, {"./bench/putloop", "putloop"}, {"./bench/rusage", "rusage"},
	} {
		if err := goBuild(ctx, cfg.Root, p.pkg, filepath.Join(b.bin, p.name), nil); err != nil {
			return res, err
		}
	}
	b.awsutils, b.putloop = filepath.Join(b.bin, "awsutils"), filepath.Join(b.bin, "putloop")
	b.meta.Versions = versions(ctx, cfg.Root, b.awsutils)
	if cfg.Baseline != "" {
		var err error
		if b.baseline, err = buildBaseline(ctx, cfg.Root, cfg.Baseline, b.bin); err != nil {
			return res, err
		}
		b.meta.Versions = append(b.meta.Versions, report.Version{Tool: report.ToolAwsutilsBaseline,
			Version: cfg.Baseline, Source: "git archive of the revision, built from its ./cmd/awsutils"})
	}

	if len(cfg.Workloads) > 0 {
		if err := b.uploads(ctx); err != nil {
			return res, err
		}
	}
	if cfg.StartStop {
		if err := b.startStop(ctx); err != nil {
			return res, err
		}
	}
	if cfg.Accounts {
		if err := b.accounts(ctx); err != nil {
			return res, err
		}
	}
	if cfg.Lambda {
		if err := b.lambdas(ctx); err != nil {
			return res, err
		}
	}
	if cfg.Fanout {
		if err := b.fanout(ctx); err != nil {
			return res, err
		}
	}
	return res, ctx.Err()
}

// buildBaseline builds ./cmd/awsutils as it is at rev into bin, from a
// git archive of rev (the work tree is left alone).
func buildBaseline(ctx context.Context, root, rev, bin string) (string, error) {
	src, err := os.MkdirTemp("", "awsutils-baseline-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(src)
	archive := exec.CommandContext(ctx, "sh", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", root, rev, src)
	if out, err := archive.CombinedOutput(); err != nil {
		return "", fmt.Errorf("baseline %s: git archive: %v\n%s", rev, err, out)
	}
	out := filepath.Join(bin, report.ToolAwsutilsBaseline)
	if err := goBuild(ctx, src, "./cmd/awsutils", out, nil); err != nil {
		return "", fmt.Errorf("baseline %s: %w", rev, err)
	}
	return out, nil
}

// goBuild builds a main package of the module.
func goBuild(ctx context.Context, root, pkg, out string, env []string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// hasCommand reports whether the built CLI knows a subcommand: the bench
// may run while a command is still being written.
func hasCommand(ctx context.Context, awsutils, name string) bool {
	cmd := exec.CommandContext(ctx, awsutils, name, "--help")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	return cmd.Run() == nil
}

func gitCommit(root string) string {
	cmd := exec.Command("git", "rev-parse", "--short", "HEAD")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	commit := strings.TrimSpace(string(out))
	st := exec.Command("git", "status", "--porcelain", "--untracked-files=no")
	st.Dir = root
	if o, err := st.Output(); err == nil && len(strings.TrimSpace(string(o))) > 0 {
		commit += " (with uncommitted changes)"
	}
	return commit
}

// loadAverage is /proc/loadavg's 1, 5 and 15 minute figures: on a shared
// machine, how busy others kept it around the run.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ") + " (1, 5, 15 min)"
}

// machine describes this host from /proc and uname.
func machine() report.Machine {
	m := report.Machine{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		for _, line := range strings.Split(string(b), "\n") {
			if _, err := fmt.Sscanf(line, "MemTotal: %f kB", &kb); err == nil {
				m.MemGiB = kb / (1 << 20)
				break
			}
		}
	}
	if out, err := exec.Command("nproc").Output(); err == nil {
		fmt.Sscan(string(out), &m.Cores)
	}
	if out, err := exec.Command("uname", "-srm").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`)
			}
		}
	}
	return m
}

// Peer tools and where the bench finds them.
const (
	awsCLIPath = "/usr/bin/aws"
	rclonePath = "/usr/bin/rclone"
)

func s5cmdPath(root string) string { return filepath.Join(root, ".bin", "s5cmd") }

// versions asks every tool for its version.
func versions(ctx context.Context, root, awsutils string) []report.Version {
	first := func(argv ...string) string {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
		out, err := cmd.CombinedOutput()
		if err != nil && len(out) == 0 {
			return "not installed"
		}
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return strings.TrimSpace(line)
	}
	stamp := func(name, fallback string) string {
		m, _ := filepath.Glob(filepath.Join(root, ".bin", "."+name+"-*"))
		if len(m) == 0 {
			return fallback
		}
		return strings.TrimPrefix(filepath.Base(m[0]), "."+name+"-")
	}
	vs := []report.Version{
		{Tool: "awsutils", Version: first(awsutils, "version"), Source: "built from ./cmd/awsutils"},
		{Tool: "Go", Version: runtime.Version(), Source: "toolchain"},
	}
	s5 := "not installed"
	if _, err := os.Stat(s5cmdPath(root)); err == nil {
		s5 = stamp("s5cmd", first(s5cmdPath(root), "version"))
	}
	vs = append(vs,
		report.Version{Tool: "s5cmd", Version: s5, Source: ".bin/s5cmd (scripts/bench-peers.sh)"},
		report.Version{Tool: "AWS CLI", Version: first(awsCLIPath, "--version"), Source: "/usr/bin/aws (apt awscli)"},
		report.Version{Tool: "rclone", Version: first(rclonePath, "version"), Source: "/usr/bin/rclone (apt rclone)"},
		report.Version{Tool: "versitygw", Version: stamp("versitygw", "?"), Source: ".bin/versitygw (scripts/tools.sh)"},
		report.Version{Tool: "moto server", Version: motoVersion(root), Source: ".venv (scripts/tools.sh)"},
		report.Version{Tool: "aws-lambda-rie", Version: stamp("aws-lambda-rie", "?"), Source: ".bin/aws-lambda-rie (scripts/tools.sh)"},
	)
	return vs
}

func motoVersion(root string) string {
	m, _ := filepath.Glob(filepath.Join(root, ".venv", "lib", "python*", "site-packages", "moto-*.dist-info"))
	if len(m) == 0 {
		return "?"
	}
	return strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m[0]), "moto-"), ".dist-info")
}
