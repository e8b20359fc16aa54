// Command bench measures awsutils against the tools a user would otherwise
// pick, in one run on one machine, and writes the figures to
// bench/results/*.csv and docs/BENCHMARKS.md:
//
//   - upload: `awsutils upload` (also --remove-src) against s5cmd cp/mv,
//     `aws s3 cp --recursive`, `rclone copy` and bare Go PUT loops, on four
//     generated workloads, against versitygw started by the bench, on
//     loopback and through delay lines that add a round trip (-rtts);
//   - start/stop economy: `awsutils stop` and `start` on 1,000 EC2
//     instances, 100 RDS instances and 20 Aurora clusters in moto server,
//     through a proxy adding 50 ms per request, against a naive loop of one
//     call per resource;
//   - Lambda start-up: init time under the Runtime Interface Emulator, zip
//     size and peak RSS of each function;
//   - fan-out (fanout.go): one upload invocation against the deployed state
//     machine running 4 at once, each held to 8 files in flight behind a
//     50 ms delay line, on 20,000 files, and the plan's own time.
//
// `make bench` runs it all (scripts/bench-peers.sh installs the peers);
// `make bench-smoke` runs a tiny version that a test also runs in CI.
//
//	go run ./bench [-workloads W1,W2] [-rtts 0,50ms,150ms] [-reps 5] [-smoke] ...
//	go run ./bench -report bench/results/latest.csv   # only rewrite the docs
//	go run ./bench -report A.csv,B.csv                # merge two runs into latest.csv and the docs
package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/awsutils/awsutils/internal/testbed"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/awsutils/awsutils/bench/internal/report"
	"github.com/awsutils/awsutils/bench/internal/workload"
)

// config is one benchmark run.
type config struct {
	Workloads []string
	Reps      int
	Warmup    int
	Scale     float64
	Seed      uint64
	// RTTs are the round trips the upload workloads run at (0: loopback,
	// else through a testbed.DelayLine); W4 runs at W4RTTs instead, W2 at
	// 0 only.
	RTTs, W4RTTs []time.Duration
	// Tools limits the upload contenders (nil: all).
	Tools []string
	// Baseline is a git revision whose awsutils runs as one more
	// contender (awsutils-baseline): a change measured against the code
	// before it in the same run.
	Baseline string
	// Required contenders fail the run when they cannot run; the others
	// are left out with a note when their tool is missing.
	Required []string

	StartStop        bool
	EC2, RDS, Aurora int
	Latency          time.Duration
	NaiveReps        int
	// Accounts also measures the same fleet spread over 10 accounts × 2
	// regions against it in one account (bench/accounts.go).
	Accounts   bool
	Lambda     bool
	LambdaReps int
	// LambdaNativeOnly sizes the zip of this machine's architecture only
	// (the test's shortcut: a cross build of the SDK is slow on a cold
	// cache).
	LambdaNativeOnly bool
	// Fanout compares one function with the state machine (fanout.go).
	Fanout            bool
	FanoutFiles       int
	FanoutBatchFiles  int
	FanoutChildren    int
	FanoutConcurrency int
	FanoutRTT         time.Duration
	FanoutReps        int
	// SlowDown is the share of W1's PUTs a fault proxy behind a delay
	// line of SlowDownRTT answers 503 SlowDown, in two extra contenders
	// (awsutils through the proxy without and with faults); 0: not run.
	SlowDown    float64
	SlowDownRTT time.Duration
	RunTimeout  time.Duration
	Root        string // module root
	WorkDir     string // generated trees, builds, server data
	ResultsDir  string // where <timestamp>.csv and latest.csv go
	Docs        string // the markdown file; the chart goes beside it
	Command     string // how the run was started, for the report
	Note        string // a line for the report's notes
	Logf        func(format string, args ...any)
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	root, err := moduleRoot()
	if err != nil {
		log.Fatal(err)
	}
	var (
		workloads = flag.String("workloads", "W1,W2,W3,W4", "upload workloads to run (comma-separated, or none)")
		reps      = flag.Int("reps", 3, "measured rounds per workload")
		warmup    = flag.Int("warmup", 1, "warm-up rounds per workload (not counted)")
		scale     = flag.Float64("scale", 1, "fraction of each workload's file count (1: full size)")
		rtts      = flag.String("rtts", "0,50ms,150ms", "round trips the uploads run at (0: loopback; else through a delay line); W2 runs at 0 only")
		w4rtts    = flag.String("w4-rtts", "0,50ms", "round trips W4 (100,000 files) runs at; at 150 ms a round takes minutes")
		seed      = flag.Uint64("seed", 1, "seed of the generated workloads")
		baseline  = flag.String("baseline", "", "a git revision (e.g. main or HEAD~1) whose awsutils also runs, as contender awsutils-baseline")
		tools     = flag.String("tools", "all", "upload contenders: all (all but "+strings.Join(extraTools, ",")+"), or a list of "+strings.Join(knownTools, ","))
		required  = flag.String("require", "awsutils,awsutils-rm,putloop", "contenders that must run (others are skipped with a note when their tool is missing)")
		startstop = flag.Bool("startstop", true, "run the start/stop economy")
		ec2n      = flag.Int("ec2", 1000, "start/stop: EC2 instances")
		rdsn      = flag.Int("rds", 100, "start/stop: RDS DB instances")
		auroran   = flag.Int("aurora", 20, "start/stop: Aurora clusters")
		latency   = flag.Duration("latency", 50*time.Millisecond, "start/stop: latency the proxy adds to each request")
		naiveReps = flag.Int("naive-reps", 1, "start/stop: rounds of the naive loop (each takes about two minutes at full size)")
		accounts  = flag.Bool("accounts", false, "start/stop: the fleet in 10 accounts × 2 regions through AssumeRole against one account")
		lambdaOn  = flag.Bool("lambda", true, "measure Lambda start-up")
		lambdaN   = flag.Int("lambda-reps", 5, "Lambda: cold starts per function")
		fanout    = flag.Bool("fanout", true, "compare one upload function with the state machine (distributed mode)")
		fanFiles  = flag.Int("fanout-files", 20000, "fan-out: files in the tree (1 KiB each)")
		fanBatch  = flag.Int("fanout-batch-files", 2500, "fan-out: files per planned batch")
		fanKids   = flag.Int("fanout-children", 4, "fan-out: invocations the state machine runs at once (MaxConcurrency, and emulators)")
		fanConc   = flag.Int("fanout-concurrency", 8, "fan-out: UPLOAD_CONCURRENCY of each invocation")
		fanRTT    = flag.Duration("fanout-rtt", 50*time.Millisecond, "fan-out: round trip of the delay line in front of the S3 server")
		fanReps   = flag.Int("fanout-reps", 1, "fan-out: measured rounds")
		slowdown  = flag.Float64("slowdown", 0.05, "W1: share of PUTs a fault proxy answers 503 SlowDown, run as two extra contenders through it (with and without faults); 0: not run")
		slowRTT   = flag.Duration("slowdown-rtt", 50*time.Millisecond, "round trip of the delay line in front of the fault proxy")
		timeout   = flag.Duration("run-timeout", 10*time.Minute, "longest one contender run may take")
		smoke     = flag.Bool("smoke", false, "tiny run: W1 at 200 files at 0 and 50 ms, 1 round, awsutils, two PUT loops and s5cmd if installed; results under bench/work/smoke")
		out       = flag.String("out", filepath.Join(root, "bench", "results"), "results folder")
		docs      = flag.String("docs", filepath.Join(root, "docs", "BENCHMARKS.md"), "markdown report to write")
		note      = flag.String("note", "", "a paragraph printed under the report's title, e.g. why a run was cut short (also with -report)")
		reportCSV = flag.String("report", "", "only regenerate the report from this results CSV (its .meta.json beside it); several, comma-separated, are merged (a later run's rows replace an earlier one's for the same workload) into -out's latest.csv")
	)
	flag.Parse()
	if *reportCSV != "" {
		if err := writeReportFrom(splitList(*reportCSV), *docs, *out, *note); err != nil {
			log.Fatal(err)
		}
		return
	}
	rttList, err := parseRTTs(*rtts)
	if err != nil {
		log.Fatalf("-rtts: %v", err)
	}
	w4List, err := parseRTTs(*w4rtts)
	if err != nil {
		log.Fatalf("-w4-rtts: %v", err)
	}
	cfg := config{
		Workloads: splitList(*workloads), Reps: *reps, Warmup: *warmup, Scale: *scale, Seed: *seed,
		RTTs: rttList, W4RTTs: w4List,
		Required:  splitList(*required),
		StartStop: *startstop, EC2: *ec2n, RDS: *rdsn, Aurora: *auroran, Latency: *latency, NaiveReps: *naiveReps, Accounts: *accounts,
		Lambda: *lambdaOn, LambdaReps: *lambdaN, RunTimeout: *timeout,
		Fanout: *fanout, FanoutFiles: *fanFiles, FanoutBatchFiles: *fanBatch, FanoutChildren: *fanKids,
		FanoutConcurrency: *fanConc, FanoutRTT: *fanRTT, FanoutReps: *fanReps,
		SlowDown: *slowdown, SlowDownRTT: *slowRTT,
		Root: root, WorkDir: filepath.Join(root, "bench", "work"), ResultsDir: *out, Docs: *docs,
		Command: "go run ./bench " + strings.Join(os.Args[1:], " "),
		Logf:    log.Printf,
	}
	if *tools != "all" {
		cfg.Tools = splitList(*tools)
	}
	if cfg.Baseline = *baseline; cfg.Baseline != "" {
		if cfg.Tools == nil {
			cfg.Tools = append([]string(nil), allTools...)
		}
		if !contains(cfg.Tools, report.ToolAwsutilsBaseline) {
			cfg.Tools = append(cfg.Tools, report.ToolAwsutilsBaseline)
		}
	}
	if *smoke {
		cfg = smokeConfig(cfg)
	}
	cfg.Note = *note
	if err := cfg.validate(); err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, cfg)
	if err != nil {
		log.Print(err)
		stop()
		os.Exit(1)
	}
	log.Printf("results: %s; report: %s", res.CSV, cfg.Docs)
}

// smokeConfig turns cfg into the tiny run `make bench-smoke` and the CI
// test do: well under a minute.
func smokeConfig(cfg config) config {
	cfg.Workloads = []string{"W1"}
	cfg.Scale = 0.04
	cfg.Reps, cfg.Warmup = 1, 0
	cfg.RTTs, cfg.W4RTTs = []time.Duration{0, 50 * time.Millisecond}, nil
	cfg.Tools = []string{"awsutils", "putloop", "rawput-256", "s5cmd"}
	cfg.Required = []string{"awsutils", "putloop"}
	cfg.StartStop, cfg.Lambda, cfg.Fanout = false, false, false
	cfg.SlowDown = 0
	cfg.ResultsDir = filepath.Join(cfg.WorkDir, "smoke")
	cfg.Docs = filepath.Join(cfg.WorkDir, "smoke", "BENCHMARKS.md")
	cfg.RunTimeout = 2 * time.Minute
	return cfg
}

func (c config) validate() error {
	for _, w := range c.Workloads {
		if _, err := workload.New(w, 1, 0); err != nil {
			return fmt.Errorf("-workloads: %w", err)
		}
		switch {
		case w == "W4" && len(c.W4RTTs) == 0:
			return fmt.Errorf("-w4-rtts: W4 asked for at no round trip")
		case w != "W4" && len(c.RTTs) == 0:
			return fmt.Errorf("-rtts: %s asked for at no round trip", w)
		}
	}
	for _, t := range append(append([]string(nil), c.Tools...), c.Required...) {
		if !contains(knownTools, t) {
			return fmt.Errorf("unknown contender %q; want one of %s", t, strings.Join(knownTools, ", "))
		}
	}
	switch {
	case c.Reps < 1:
		return fmt.Errorf("-reps %d: want at least 1", c.Reps)
	case c.Warmup < 0:
		return fmt.Errorf("-warmup %d: want 0 or more", c.Warmup)
	case !(c.Scale > 0) || c.Scale > 1:
		return fmt.Errorf("-scale %v: want 0 < scale <= 1", c.Scale)
	case c.Fanout && (c.FanoutFiles < 1 || c.FanoutBatchFiles < 1 || c.FanoutChildren < 1 || c.FanoutConcurrency < 1 || c.FanoutReps < 1 || c.FanoutRTT < 0):
		return fmt.Errorf("-fanout-*: want files, batch files, children, concurrency and reps of at least 1, and a round trip of 0 or more")
	case c.SlowDown < 0 || c.SlowDown >= 1 || c.SlowDown > 0 && c.SlowDownRTT <= 0:
		return fmt.Errorf("-slowdown %v, -slowdown-rtt %v: want a share in [0, 1) and a round trip above 0", c.SlowDown, c.SlowDownRTT)
	case c.StartStop && (c.EC2 < 0 || c.RDS < 0 || c.Aurora < 0 || c.EC2+c.RDS+c.Aurora == 0):
		return fmt.Errorf("-ec2/-rds/-aurora: want some resources")
	}
	return nil
}

// parseRTTs reads a list of round trips such as "0,50ms,150ms"; a bare
// number is milliseconds.
func parseRTTs(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range splitList(s) {
		d, err := time.ParseDuration(f)
		if err != nil {
			ms, err2 := strconv.ParseFloat(f, 64)
			if err2 != nil {
				return nil, fmt.Errorf("%q is not a duration such as 50ms", f)
			}
			d = time.Duration(ms * float64(time.Millisecond))
		}
		if d < 0 {
			return nil, fmt.Errorf("%q: a round trip cannot be negative", f)
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" && f != "none" {
			out = append(out, f)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// moduleRoot is where the bench finds the module's tools and writes docs.
func moduleRoot() (string, error) { return testbed.Root() }

// results names what a run wrote.
type results struct {
	CSV  string
	Meta report.Meta
	Rows []report.Row
}
