package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/bench/internal/measure"
	"github.com/awsutils/awsutils/bench/internal/report"
	"github.com/awsutils/awsutils/bench/internal/s3check"
	"github.com/awsutils/awsutils/bench/internal/workload"
	"github.com/awsutils/awsutils/internal/testbed"
)

// allTools are the upload contenders, in the order of the first round.
var allTools = []string{
	report.ToolAwsutils, report.ToolAwsutilsRemove, report.ToolS5cmd, report.ToolS5cmdMove,
	report.ToolAWSCLI, report.ToolRclone,
	report.ToolPutLoop, report.ToolPutLoop256, report.ToolRawPut256, report.ToolRawPut1024,
}

// extraTools run only when -tools names them: what a feature costs, not
// a peer.
var extraTools = []string{report.ToolAwsutilsNoMeta, report.ToolAwsutilsFixed, report.ToolAwsutilsBaseline,
	report.ToolRawPutMeta256, report.ToolRawPutMeta1024}

// knownTools are every contender -tools may name.
var knownTools = append(append([]string(nil), allTools...), extraTools...)

// w4Tools are the only contenders on W4 (100,000 files) unless -tools
// names others: it measures memory and walk cost, and the issue compares
// awsutils with s5cmd there.
var w4Tools = []string{report.ToolAwsutils, report.ToolS5cmd}

// farTools are the contenders through a round trip. The AWS CLI (10
// requests in flight) and rclone (4 transfers) are bound there by their
// fixed concurrency: minutes a round that would show only that.
var farTools = []string{
	report.ToolAwsutils, report.ToolAwsutilsRemove, report.ToolS5cmd, report.ToolS5cmdMove,
	report.ToolPutLoop, report.ToolPutLoop256, report.ToolRawPut256, report.ToolRawPut1024,
	report.ToolAwsutilsNoMeta, report.ToolAwsutilsFixed, report.ToolAwsutilsBaseline,
	report.ToolRawPutMeta256, report.ToolRawPutMeta1024,
}

// s3Client is the harness's own client, for creating the bucket and
// listing what each run left: straight to the server, never through a
// delay line.
func s3Client(ctx context.Context, v *testbed.Versity) (*s3.Client, error) {
	cfg, err := awsclient.Load(ctx, awsclient.Options{
		Region: testbed.Region, AccessKeyID: v.AccessKey, SecretAccessKey: v.SecretKey, Endpoint: v.Endpoint,
	})
	if err != nil {
		return nil, err
	}
	return awsclient.S3(cfg), nil
}

// contender is one way of uploading a tree.
type contender struct {
	name    string
	removes bool // works on a copy and must leave no source file
	// cmd is the command line and environment of one run against endpoint
	// (the server, or a delay line in front of it).
	cmd func(endpoint, src, bucket, prefix string) (argv, env []string)
}

// contenders lists those cfg asks for whose tools are installed, with a
// note for each one left out; a required one that cannot run is an error.
func (b *bench) contenders(ctx context.Context, v *testbed.Versity, home string) ([]contender, error) {
	base := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "LANG=C.UTF-8",
		"AWS_ACCESS_KEY_ID=" + v.AccessKey, "AWS_SECRET_ACCESS_KEY=" + v.SecretKey,
		"AWS_REGION=" + testbed.Region, "AWS_DEFAULT_REGION=" + testbed.Region,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
	with := func(extra ...string) []string { return append(append([]string(nil), base...), extra...) }
	// The CLI takes its endpoint from the environment, as a user's would.
	sdkEnv := func(endpoint string) []string {
		return with("AWS_CONFIG_FILE=/dev/null", "AWS_ENDPOINT_URL="+endpoint)
	}

	// The AWS CLI needs path-style addressing for a local endpoint, which
	// only its config file can say.
	awsConfig := filepath.Join(home, "aws-config")
	if err := os.WriteFile(awsConfig, []byte("[default]\nregion = "+testbed.Region+"\ns3 =\n  addressing_style = path\n"), 0o600); err != nil {
		return nil, err
	}
	rcloneConfig := filepath.Join(home, "rclone.conf")
	if err := os.WriteFile(rcloneConfig, nil, 0o600); err != nil {
		return nil, err
	}
	s5 := s5cmdPath(b.cfg.Root)
	dst := func(bucket, prefix string) string { return "s3://" + bucket + "/" + prefix }

	type candidate struct {
		contender
		tool    string // the program that must exist
		missing string // why it cannot run, if so
	}
	var cands []candidate
	uploadOK := hasCommand(ctx, b.awsutils, "upload")
	why := ""
	if !uploadOK {
		why = "`awsutils upload` does not exist in this build"
	}
	build := func(bin, name string, flags ...string) candidate {
		return candidate{contender: contender{name: name, removes: slices.Contains(flags, "--remove-src"),
			cmd: func(endpoint, src, bucket, prefix string) ([]string, []string) {
				argv := append(append([]string{bin, "upload"}, flags...), src, dst(bucket, prefix))
				return argv, sdkEnv(endpoint)
			}}, tool: bin, missing: why}
	}
	awsutils := func(name string, flags ...string) candidate { return build(b.awsutils, name, flags...) }
	baseline := build(b.baseline, report.ToolAwsutilsBaseline)
	if b.baseline == "" {
		baseline.missing = "no -baseline revision given"
	}
	s5cmd := func(name, verb string) candidate {
		return candidate{contender: contender{name: name, removes: verb == "mv",
			cmd: func(endpoint, src, bucket, prefix string) ([]string, []string) {
				return []string{s5, "--endpoint-url", endpoint, verb, src + "/*", dst(bucket, prefix) + "/"}, base
			}}, tool: s5}
	}
	loop := func(name string, raw bool, flags ...string) candidate {
		return candidate{contender: contender{name: name,
			cmd: func(endpoint, src, bucket, prefix string) ([]string, []string) {
				argv := []string{b.putloop, "-workers", strconv.Itoa(report.LoopInFlight[name]), "-endpoint", endpoint}
				if raw {
					argv = append(argv, "-raw")
				}
				argv = append(argv, flags...)
				return append(argv, src, dst(bucket, prefix)), with("AWS_CONFIG_FILE=/dev/null")
			}}, tool: b.putloop}
	}
	cands = append(cands,
		awsutils(report.ToolAwsutils),
		awsutils(report.ToolAwsutilsRemove, "--remove-src"),
		awsutils(report.ToolAwsutilsNoMeta, "--no-metadata"),
		awsutils(report.ToolAwsutilsFixed, "--concurrency", "1024"),
		baseline,
		s5cmd(report.ToolS5cmd, "cp"),
		s5cmd(report.ToolS5cmdMove, "mv"),
		candidate{contender: contender{name: report.ToolAWSCLI,
			cmd: func(endpoint, src, bucket, prefix string) ([]string, []string) {
				return []string{awsCLIPath, "s3", "cp", "--recursive", "--endpoint-url", endpoint, src, dst(bucket, prefix) + "/"},
					with("AWS_CONFIG_FILE="+awsConfig, "AWS_PAGER=")
			}}, tool: awsCLIPath},
		// rclone takes its remote from RCLONE_CONFIG_<NAME>_* variables;
		// AWS_CA_BUNDLE must not be set for it (LoadCustomCABundleError),
		// and the base environment never carries it.
		candidate{contender: contender{name: report.ToolRclone,
			cmd: func(endpoint, src, bucket, prefix string) ([]string, []string) {
				return []string{rclonePath, "copy", src, "bench:" + bucket + "/" + prefix},
					with("RCLONE_CONFIG="+rcloneConfig,
						"RCLONE_CONFIG_BENCH_TYPE=s3", "RCLONE_CONFIG_BENCH_PROVIDER=Other",
						"RCLONE_CONFIG_BENCH_ENDPOINT="+endpoint, "RCLONE_CONFIG_BENCH_REGION="+testbed.Region,
						"RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="+v.AccessKey, "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="+v.SecretKey,
						"RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true")
			}}, tool: rclonePath},
		loop(report.ToolPutLoop, false),
		loop(report.ToolPutLoop256, false),
		loop(report.ToolRawPut256, true),
		loop(report.ToolRawPut1024, true),
		loop(report.ToolRawPutMeta256, true, "-meta"),
		loop(report.ToolRawPutMeta1024, true, "-meta"),
	)
	var out []contender
	for _, c := range cands {
		if b.cfg.Tools != nil && !contains(b.cfg.Tools, c.name) || b.cfg.Tools == nil && contains(extraTools, c.name) {
			continue
		}
		if c.missing == "" {
			if _, err := os.Stat(c.tool); err != nil {
				c.missing = c.tool + " is not installed (scripts/bench-peers.sh installs it)"
			}
		}
		if c.missing != "" {
			if contains(b.cfg.Required, c.name) {
				return nil, fmt.Errorf("contender %s cannot run: %s", c.name, c.missing)
			}
			b.note("%s left out: %s", c.name, c.missing)
			continue
		}
		out = append(out, c.contender)
	}
	return out, nil
}

// serverDir is where versitygw keeps objects: tmpfs (/dev/shm) when it has
// room for the largest run (W2's 512 MiB, W4's 100,000 small files), so
// that the server's disk writeback, which moves figures by a factor of
// two from one round to the next on this machine's disk, does not decide
// which client looks faster; else a folder under tmp.
func serverDir(tmp string) (dir, storage string, err error) {
	const need = 2 << 30
	var st syscall.Statfs_t
	if syscall.Statfs("/dev/shm", &st) == nil && int64(st.Bavail)*int64(st.Bsize) >= need {
		if dir, err := os.MkdirTemp("/dev/shm", "awsutils-bench-"); err == nil {
			return dir, "tmpfs (/dev/shm)", nil
		}
	}
	dir = filepath.Join(tmp, "versitygw")
	return dir, "a folder on the work disk (" + tmp + ")", os.MkdirAll(dir, 0o755)
}

// rttsFor are the round trips wl runs at: W2's few large files are bound
// by bandwidth, which a delay line does not model, so it runs at 0 ms only;
// W4 has its own list, its 100,000 files taking minutes a round at 150 ms.
func (b *bench) rttsFor(wl string) []time.Duration {
	switch wl {
	case "W2":
		if slices.Contains(b.cfg.RTTs, 0) {
			return []time.Duration{0}
		}
		return nil
	case "W4":
		return b.cfg.W4RTTs
	}
	return b.cfg.RTTs
}

// uploads runs every upload workload against a versitygw of its own, on
// loopback and through a delay line for each round trip asked for.
func (b *bench) uploads(ctx context.Context) error {
	srvDir, storage, err := serverDir(b.tmp)
	if err != nil {
		return err
	}
	defer os.RemoveAll(srvDir)
	b.meta.ServerStorage = storage
	b.logf("versitygw keeps objects in %s", storage)
	dataDir := filepath.Join(srvDir, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	srv, err := testbed.NewVersity(dataDir)
	if err != nil {
		return err
	}
	defer srv.Close()
	lines := map[time.Duration]*testbed.DelayLine{}
	for _, wl := range b.cfg.Workloads {
		for _, rtt := range b.rttsFor(wl) {
			if _, ok := lines[rtt]; ok || rtt == 0 {
				continue
			}
			line, err := testbed.NewDelayLine(srv.Endpoint, rtt)
			if err != nil {
				return err
			}
			defer line.Close()
			lines[rtt] = line
			b.logf("delay line for a %s round trip: %s → %s", rtt, line.Endpoint, srv.Endpoint)
		}
	}
	if b.cfg.SlowDown > 0 && contains(b.cfg.Workloads, "W1") && (b.cfg.Tools == nil || contains(b.cfg.Tools, report.ToolAwsutils)) {
		// An HTTP proxy costs CPU per request (about 2,500 requests/s on
		// this machine): both contenders through it pay that alike, so only
		// their ratio says what the faults cost.
		p, err := testbed.NewFaultProxy(srv.Endpoint, testbed.Faults{Logf: func(string, ...any) {}})
		if err != nil {
			return err
		}
		defer p.Close()
		line, err := testbed.NewDelayLine(p.Endpoint, b.cfg.SlowDownRTT)
		if err != nil {
			return err
		}
		defer line.Close()
		b.faults, b.faultLine = p, line
		b.note("%s and %s: W1 through a %s delay line in front of a fault proxy (testbed.FaultProxy) in front of the server; the proxy answers %.0f %% of PutObject attempts, at random, with 503 SlowDown in the second",
			report.ToolAwsutilsProxy, report.ToolAwsutilsSlowDown, b.cfg.SlowDownRTT, b.cfg.SlowDown*100)
	}
	home := filepath.Join(b.tmp, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	client, err := s3Client(ctx, srv)
	if err != nil {
		return err
	}
	const bucket = "bench"
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	cs, err := b.contenders(ctx, srv, home)
	if err != nil {
		return err
	}
	for _, wl := range b.cfg.Workloads {
		if len(b.rttsFor(wl)) == 0 {
			b.note("%s not run: it runs at 0 ms only, and -rtts does not include 0", wl)
			continue
		}
		if err := b.uploadWorkload(ctx, srv, dataDir, lines, client, bucket, wl, cs, home); err != nil {
			return err
		}
	}
	return nil
}

// slot is one contender at one round trip: what a round runs once.
type slot struct {
	c   contender
	rtt time.Duration
	// proxied runs through the fault proxy's delay line, with slowDown of
	// its PUTs answered 503 SlowDown.
	proxied  bool
	slowDown float64
}

func (b *bench) uploadWorkload(ctx context.Context, srv *testbed.Versity, dataDir string, lines map[time.Duration]*testbed.DelayLine,
	client *s3.Client, bucket, wl string, all []contender, home string) error {
	plan, err := workload.New(wl, b.cfg.Scale, b.cfg.Seed)
	if err != nil {
		return err
	}
	dir := filepath.Join(b.cfg.WorkDir, fmt.Sprintf("%s-scale%g-seed%d", wl, b.cfg.Scale, b.cfg.Seed))
	b.logf("%s: preparing %d files, %.1f MiB under %s", wl, len(plan.Files), float64(plan.Bytes())/(1<<20), dir)
	tree, err := workload.Materialize(dir, plan)
	if err != nil {
		return err
	}
	b.meta.Workloads = append(b.meta.Workloads, report.WorkloadInfo{
		Name: wl, Description: workload.Descriptions[wl], Files: len(plan.Files), Bytes: plan.Bytes(), Digest: plan.Digest(),
	})
	var slots []slot
	for _, rtt := range b.rttsFor(wl) {
		for _, c := range all {
			if wl == "W4" && b.cfg.Tools == nil && !contains(w4Tools, c.name) || rtt > 0 && !contains(farTools, c.name) {
				continue
			}
			slots = append(slots, slot{c: c, rtt: rtt})
		}
	}
	if wl == "W1" && b.faults != nil {
		for _, c := range all {
			if c.name != report.ToolAwsutils {
				continue
			}
			free, slow := c, c
			free.name, slow.name = report.ToolAwsutilsProxy, report.ToolAwsutilsSlowDown
			slots = append(slots, slot{c: free, rtt: b.cfg.SlowDownRTT, proxied: true},
				slot{c: slow, rtt: b.cfg.SlowDownRTT, proxied: true, slowDown: b.cfg.SlowDown})
		}
	}
	want := plan.Sizes()
	copyDir := filepath.Join(b.tmp, "copy")
	rounds := b.cfg.Warmup + b.cfg.Reps
	for round := range rounds {
		// A fresh seeded order each round, over every contender at every
		// round trip, so that no contender always runs first or always
		// follows the same one, and a slow spell of the machine falls on
		// all round trips alike. (Rotating the order keeps neighbours
		// together: the PUT loop then always ran right after rclone and
		// lost a third of its speed to it in every round.)
		order := rand.New(rand.NewPCG(b.cfg.Seed, uint64(round))).Perm(len(slots))
		for _, i := range order {
			if err := ctx.Err(); err != nil {
				return err
			}
			line := lines[slots[i].rtt]
			if slots[i].proxied {
				line = b.faultLine
				if err := b.faults.SetFaults(testbed.Faults{Seed: int64(round), SlowDown503: slots[i].slowDown, Only: []string{"PutObject"}}); err != nil {
					return err
				}
				b.faults.ResetStats()
			}
			if err := b.uploadRun(ctx, srv, dataDir, line, client, bucket, wl, slots[i], round, tree, want, copyDir, home); err != nil {
				return err
			}
		}
	}
	return nil
}

// uploadRun runs one contender once, verifies what it left and clears up;
// line is nil at 0 ms.
func (b *bench) uploadRun(ctx context.Context, srv *testbed.Versity, dataDir string, line *testbed.DelayLine, client *s3.Client, bucket, wl string,
	s slot, round int, tree workload.Tree, want map[string]int64, copyDir, home string) error {
	c := s.c
	rtt := rttName(s.rtt)
	prefix := fmt.Sprintf("%s/%s/%s/r%d", wl, rtt, c.name, round)
	src := tree.Root
	if c.removes {
		if err := workload.LinkCopy(tree, copyDir); err != nil {
			return fmt.Errorf("copy %s for %s: %w", wl, c.name, err)
		}
		src = copyDir
	}
	row := report.Row{
		Section: report.SectionUpload, Workload: wl, Tool: c.name, RTT: s.rtt, Rep: round - b.cfg.Warmup + 1,
		Warmup: round < b.cfg.Warmup, Files: len(tree.Plan.Files), Bytes: tree.Plan.Bytes(),
	}
	endpoint := srv.Endpoint
	if line != nil {
		endpoint = line.Endpoint
		line.ResetPeak()
	}
	argv, env := c.cmd(endpoint, src, bucket, prefix)
	srvBefore, lineBefore, allBefore := processCPU(srv.Pid()), selfCPU(), machineCPU()
	u, runErr := b.runner.Run(ctx, measure.Command{Argv: argv, Env: env, Dir: home})
	row.ServerCPU, row.LineCPU = (processCPU(srv.Pid()) - srvBefore).Seconds(), (selfCPU() - lineBefore).Seconds()
	row.Wall, row.CPU, row.MaxRSS = u.Wall.Seconds(), u.CPU.Seconds(), u.MaxRSS
	row.OtherCPU = max(0, (machineCPU()-allBefore).Seconds()-row.CPU-row.ServerCPU-row.LineCPU)
	if line != nil {
		row.Conns = line.Peak()
	}
	if runErr != nil {
		row.Error = runErr.Error()
	} else if _, verr := s3check.Verify(ctx, client, bucket, prefix, want); verr != nil {
		row.Error = "verify: " + verr.Error()
	} else {
		row.Verified = true
	}
	if c.removes && runErr == nil {
		left, lerr := workload.Remaining(copyDir)
		switch {
		case lerr != nil:
			row.Error, row.Verified = "check sources: "+lerr.Error(), false
		case len(left) > 0:
			row.Error, row.Verified = fmt.Sprintf("%d source files left after removal, e.g. %s", len(left), left[0]), false
		}
	}
	b.add(row)
	tag := ""
	if row.Warmup {
		tag = " (warm-up)"
	}
	status := "verified"
	if !row.Verified {
		status = "FAILED: " + firstLine(row.Error)
	}
	bound := ""
	if n := report.LoopInFlight[c.name]; n > 0 && s.rtt > 0 {
		// What a fixed number in flight allows through this round trip.
		bound = fmt.Sprintf(" (bound %d ÷ %s = %.0f/s)", n, s.rtt, float64(n)/s.rtt.Seconds())
	}
	if s.proxied {
		st := b.faults.Stats()
		status += fmt.Sprintf(" (proxy: %d PutObject attempts, %d answered SlowDown)", st.Ops["PutObject"], st.Faults[testbed.FaultSlowDown])
	}
	b.logf("%s %6s %-11s round %d/%d%s: %6.2f s %8.0f files/s%s %7.1f MiB/s cpu %5.2f s server %5.2f s line %4.2f s others %5.2f s conns %4d rss %5.1f MiB  %s",
		wl, rtt, c.name, round+1, b.cfg.Warmup+b.cfg.Reps, tag, row.Wall, row.FilesPerSec(), bound, row.MiBPerSec(),
		row.CPU, row.ServerCPU, row.LineCPU, row.OtherCPU, row.Conns, float64(row.MaxRSS)/(1<<20), status)
	// Clear up outside the measured time: the objects straight from the
	// server's posix folder (much faster than deleting them through S3),
	// the removal copy, and dirty pages, so the next run does not pay for
	// this one's writeback.
	if err := errors.Join(os.RemoveAll(filepath.Join(dataDir, bucket, filepath.FromSlash(prefix))), os.RemoveAll(copyDir)); err != nil {
		return err
	}
	syscall.Sync()
	return nil
}

// rttName names a round trip in object prefixes and the log: "0ms", "50ms".
func rttName(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + "ms" }

// selfCPU is the CPU time of this process, which during a run is the
// delay lines' (the harness itself only waits for the child).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU is the time all cores were busy since boot, from /proc/stat:
// what is left of it after the contender, the server and the line is what
// other processes took during a run, a sign of a run disturbed.
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	// user nice system idle iowait irq softirq steal: all but idle and
	// iowait are busy.
	for i, v := range f[1:9] {
		if i == 3 || i == 4 {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// processCPU is the user and system time of another process from
// /proc/PID/stat, in clock ticks of 10 ms (USER_HZ is 100 on Linux).
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces; fields count from
	// after it: state is field 3, utime 14 and stime 15.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 200 {
		line = line[:200] + "..."
	}
	return line
}
