package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/awsutils/awsutils/bench/internal/report"
	"github.com/awsutils/awsutils/internal/testbed"
)

func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }

func TestOpsSummary(t *testing.T) {
	tests := []struct {
		ops                map[string]int
		want               string
		ec2Calls, asgCalls int
	}{
		{map[string]int{}, "", 0, 0},
		{map[string]int{"StopInstances": 10, "DescribeInstances": 10, "StopDBInstance": 100, "DescribeDBClusters": 1, "ListTagsForResource": 3, "DescribeAutoScalingInstances": 2},
			"StopDBInstance=100 DescribeInstances=10 StopInstances=10 ListTagsForResource=3 DescribeAutoScalingInstances=2 DescribeDBClusters=1", 20, 2},
	}
	for _, tt := range tests {
		got, n, a := opsSummary(tt.ops)
		if got != tt.want || n != tt.ec2Calls || a != tt.asgCalls {
			t.Errorf("opsSummary(%v) = %q, %d, %d; want %q, %d, %d", tt.ops, got, n, a, tt.want, tt.ec2Calls, tt.asgCalls)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := config{Workloads: []string{"W1", "W4"}, Reps: 1, Scale: 1, RTTs: []time.Duration{0}, W4RTTs: []time.Duration{0}}
	if err := good.validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*config){
		"workload":     func(c *config) { c.Workloads = []string{"W7"} },
		"tool":         func(c *config) { c.Tools = []string{"curl"} },
		"reps":         func(c *config) { c.Reps = 0 },
		"scale":        func(c *config) { c.Scale = 2 },
		"fleet":        func(c *config) { c.StartStop = true },
		"rtts":         func(c *config) { c.RTTs = nil },
		"w4-rtts":      func(c *config) { c.W4RTTs = nil },
		"slowdown":     func(c *config) { c.SlowDown = 1 },
		"slowdown-rtt": func(c *config) { c.SlowDown, c.SlowDownRTT = 0.05, 0 },
	} {
		c := good
		mod(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%s: invalid config accepted", name)
		}
	}
}

func TestParseRTTs(t *testing.T) {
	got, err := parseRTTs("150ms, 0,50ms,50,none")
	if err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{0, 50 * time.Millisecond, 150 * time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"fast", "-50ms"} {
		if _, err := parseRTTs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestSmoke runs the smoke benchmark end to end against a real versitygw
// and moto server: awsutils (also --remove-src) and the PUT loop must run
// and verify, on loopback and through a 50 ms delay line; s5cmd runs when
// scripts/bench-peers.sh installed it. A tiny
// start/stop economy goes through the latency proxy, and each Lambda
// function starts once under the emulator. It keeps the harness
// from rotting between full runs, which CI does not do.
func TestSmoke(t *testing.T) {
	testbed.Require(t)
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	cfg := smokeConfig(config{Root: root, WorkDir: filepath.Join(tmp, "work"), Seed: 1, Command: "go test ./bench", Logf: t.Logf})
	cfg.Tools = append(cfg.Tools, report.ToolAwsutilsRemove)
	cfg.Required = append(cfg.Required, report.ToolAwsutilsRemove, report.ToolRawPut256)
	cfg.StartStop, cfg.EC2, cfg.RDS, cfg.Aurora, cfg.Latency, cfg.NaiveReps = true, 20, 2, 1, 50*time.Millisecond, 1
	cfg.Lambda, cfg.LambdaReps, cfg.LambdaNativeOnly = true, 1, true
	if _, err := os.Stat(s5cmdPath(root)); err != nil {
		t.Logf("s5cmd is not installed (scripts/bench-peers.sh installs it): that contender is left out")
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}

	// The results as written, not as kept in memory.
	f, err := os.Open(filepath.Join(cfg.ResultsDir, "latest.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := report.ReadCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(res.Rows) {
		t.Errorf("latest.csv has %d rows, the run made %d", len(rows), len(res.Rows))
	}
	ok := map[string]int{}
	for _, r := range rows {
		if r.Error != "" {
			t.Errorf("%s %s %s %s: %s", r.Section, r.Workload, r.Tool, r.Phase, r.Error)
		}
		if r.OK() {
			ok[r.Section+"/"+r.Tool+"/"+r.Phase]++
			if r.Section == report.SectionUpload {
				ok[r.Section+"/"+r.Tool+"/"+rttName(r.RTT)]++
			}
		}
		if r.Section == report.SectionUpload && (r.Files != 200 || r.Wall <= 0 || r.CPU <= 0 || r.MaxRSS <= 0) {
			t.Errorf("upload row not measured: %+v", r)
		}
	}
	for _, k := range []string{"upload/awsutils/0ms", "upload/awsutils-rm/0ms", "upload/putloop/0ms", "upload/rawput-256/0ms",
		"upload/awsutils/50ms", "upload/awsutils-rm/50ms", "upload/putloop/50ms", "upload/rawput-256/50ms",
		"startstop/awsutils/stop", "startstop/awsutils/start", "startstop/naive-loop/stop", "startstop/naive-loop/start",
		"lambda/awsutils/"} {
		want := 1
		if k == "lambda/awsutils/" {
			want = len(functions)
		}
		if ok[k] != want {
			t.Errorf("%s: %d verified runs, want %d", k, ok[k], want)
		}
	}
	for _, r := range rows {
		// The naive loop makes one call per resource; awsutils batches EC2.
		if r.Section == report.SectionStartStop && r.Tool == report.ToolNaive && r.APICalls != 23 {
			t.Errorf("naive %s: %d API calls, want 23 (20 + 2 + 1)", r.Phase, r.APICalls)
		}
		if r.Section == report.SectionStartStop && r.Tool == report.ToolAwsutils && (r.EC2Calls == 0 || r.EC2Calls >= 20) {
			t.Errorf("awsutils %s: %d EC2 calls for 20 instances, want batched", r.Phase, r.EC2Calls)
		}
		// The membership check: one call per 50 instances.
		if r.Section == report.SectionStartStop && r.Tool == report.ToolAwsutils && r.ASGCalls != 1 {
			t.Errorf("awsutils %s: %d Auto Scaling calls for 20 instances, want 1", r.Phase, r.ASGCalls)
		}
		if r.Section == report.SectionLambda && (r.InitMS <= 0 || r.ZipBytes <= 0 || r.MaxRSS <= 0 || r.Wall <= 0) {
			t.Errorf("Lambda %s not measured: %+v", r.Workload, r)
		}
	}

	md, err := os.ReadFile(cfg.Docs)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Scaled-down run", "## Upload through a round trip", "### W1: files/s by round trip", "### W1 at 50 ms",
		"### The bare PUT loops against their bounds", "`awsutils upload`", "bare Go PUT loop", "raw signed PUT loop",
		"## Start/stop economy", "## Lambda start-up", "## Machine"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("%s lacks %q", cfg.Docs, want)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg.Docs), report.ChartFile)); err != nil {
		t.Error(err)
	}
	// The run's scratch folder (server data, builds) is gone.
	if m, _ := filepath.Glob(filepath.Join(cfg.WorkDir, "run-*")); len(m) > 0 {
		t.Errorf("scratch left behind: %v", m)
	}
}
