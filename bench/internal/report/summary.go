package report

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Machine describes where the run happened.
type Machine struct {
	CPU      string  `json:"cpu"`
	Cores    int     `json:"cores"`
	MemGiB   float64 `json:"mem_gib"`
	Kernel   string  `json:"kernel"`
	OS       string  `json:"os"`
	Go       string  `json:"go"`
	Hostname string  `json:"-"`
}

// Version is one tool's version and where it came from.
type Version struct {
	Tool    string `json:"tool"`
	Version string `json:"version"`
	Source  string `json:"source"`
}

// WorkloadInfo describes one generated workload.
type WorkloadInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Files       int    `json:"files"`
	Bytes       int64  `json:"bytes"`
	Digest      string `json:"digest"`
}

// Meta is everything about a run that is not a measurement.
type Meta struct {
	Started   time.Time      `json:"started"`
	Finished  time.Time      `json:"finished"`
	Command   string         `json:"command"`
	Commit    string         `json:"commit"`
	Machine   Machine        `json:"machine"`
	Versions  []Version      `json:"versions"`
	Reps      int            `json:"reps"`
	Warmup    int            `json:"warmup"`
	Scale     float64        `json:"scale"`
	Seed      uint64         `json:"seed"`
	Workloads []WorkloadInfo `json:"workloads"`
	// ServerStorage is where versitygw kept the objects, e.g. "tmpfs
	// (/dev/shm)".
	ServerStorage string `json:"server_storage,omitempty"`
	// StartStop describes the start/stop economy setup, empty if not run.
	StartStop string `json:"startstop"`
	// Notes are contenders or parts left out, and why.
	Notes []string `json:"notes"`
	// Caveat is printed under the title: what a reader must know before
	// reading any figure (a run cut short, a machine shared).
	Caveat string `json:"caveat,omitempty"`
}

// Tool names as they appear in the results, in report order.
const (
	ToolAwsutils       = "awsutils"
	ToolAwsutilsRemove = "awsutils-rm"
	ToolS5cmd          = "s5cmd"
	ToolS5cmdMove      = "s5cmd-mv"
	ToolAWSCLI         = "awscli"
	ToolRclone         = "rclone"
	ToolPutLoop        = "putloop"
	ToolPutLoop256     = "putloop-256"
	ToolRawPut256      = "rawput-256"
	ToolRawPut1024     = "rawput-1024"
	// ToolRawPutMeta256 and ToolRawPutMeta1024 are the raw loops sending
	// the headers awsutils sends (content type, CRC32, POSIX metadata):
	// the ceiling for the requests awsutils makes by default.
	ToolRawPutMeta256  = "rawput-meta-256"
	ToolRawPutMeta1024 = "rawput-meta-1024"
	ToolNaive          = "naive-loop"
	// ToolAwsutilsProxy and ToolAwsutilsSlowDown are `awsutils upload`
	// through a fault proxy behind the delay line (-slowdown): without
	// faults, and with a share of PUTs answered 503 SlowDown.
	ToolAwsutilsProxy    = "awsutils-proxy"
	ToolAwsutilsSlowDown = "awsutils-slowdown"
	// ToolAwsutilsNoMeta is `awsutils upload --no-metadata`: what the
	// metadata headers cost client and server.
	ToolAwsutilsNoMeta = "awsutils-nometa"
	// ToolAwsutilsFixed is `awsutils upload --concurrency 1024`: what the
	// limiter's climb from 64 costs against the raw loop's fixed 1,024.
	ToolAwsutilsFixed = "awsutils-c1024"
	// ToolAwsutilsBaseline is `awsutils upload` built from the bench's
	// -baseline revision: a change against the code before it.
	ToolAwsutilsBaseline = "awsutils-baseline"
)

// ToolOrder is the order tools are shown in.
var ToolOrder = []string{ToolAwsutils, ToolAwsutilsRemove, ToolS5cmd, ToolS5cmdMove, ToolAWSCLI, ToolRclone,
	ToolPutLoop, ToolPutLoop256, ToolRawPut256, ToolRawPut1024, ToolRawPutMeta256, ToolRawPutMeta1024, ToolAwsutilsNoMeta, ToolAwsutilsFixed, ToolAwsutilsBaseline, ToolAwsutilsProxy, ToolAwsutilsSlowDown, ToolNaive}

// ToolLabels are the commands behind each tool name.
var ToolLabels = map[string]string{
	ToolAwsutils:         "`awsutils upload`",
	ToolAwsutilsRemove:   "`awsutils upload --remove-src`",
	ToolS5cmd:            "`s5cmd cp`",
	ToolS5cmdMove:        "`s5cmd mv`",
	ToolAWSCLI:           "`aws s3 cp --recursive`",
	ToolRclone:           "`rclone copy`",
	ToolPutLoop:          "bare Go PUT loop (SDK, 64 in flight)",
	ToolPutLoop256:       "bare Go PUT loop (SDK, 256 in flight)",
	ToolRawPut256:        "raw signed PUT loop (256 in flight)",
	ToolRawPut1024:       "raw signed PUT loop (1,024 in flight)",
	ToolRawPutMeta256:    "raw signed PUT loop with awsutils's headers (256 in flight)",
	ToolRawPutMeta1024:   "raw signed PUT loop with awsutils's headers (1,024 in flight)",
	ToolNaive:            "naive loop (one call per resource)",
	ToolAwsutilsNoMeta:   "`awsutils upload --no-metadata`",
	ToolAwsutilsFixed:    "`awsutils upload --concurrency 1024`",
	ToolAwsutilsBaseline: "`awsutils upload` of the -baseline revision",
	ToolAwsutilsProxy:    "`awsutils upload` through the fault proxy, no faults",
	ToolAwsutilsSlowDown: "`awsutils upload` through the fault proxy, PUTs answered 503 SlowDown at random",
}

// LoopInFlight is each bare PUT loop's fixed number of requests in flight;
// the bench starts them with it and the report compares them with the
// bound it sets (in flight ÷ round trip).
var LoopInFlight = map[string]int{ToolPutLoop: 64, ToolPutLoop256: 256, ToolRawPut256: 256, ToolRawPut1024: 1024,
	ToolRawPutMeta256: 256, ToolRawPutMeta1024: 1024}

// Loops are the bare PUT loops in report order.
var Loops = []string{ToolPutLoop, ToolPutLoop256, ToolRawPut256, ToolRawPut1024}

// BestLoop is the fastest loop with 256 or more in flight on wl at rtt: the
// issue's yardstick for what a path allows.
func BestLoop(gs []Group, wl string, rtt time.Duration) (Group, bool) {
	return bestOf(gs, Loops, wl, rtt)
}

// MetaLoops are the raw loops that send awsutils's headers.
var MetaLoops = []string{ToolRawPutMeta256, ToolRawPutMeta1024}

// BestMetaLoop is the fastest of MetaLoops on wl at rtt: what a path allows
// for the requests awsutils sends by default.
func BestMetaLoop(gs []Group, wl string, rtt time.Duration) (Group, bool) {
	return bestOf(gs, MetaLoops, wl, rtt)
}

func bestOf(gs []Group, tools []string, wl string, rtt time.Duration) (Group, bool) {
	var best Group
	found := false
	for _, t := range tools {
		if LoopInFlight[t] < 256 {
			continue
		}
		if g, ok := FindAt(gs, SectionUpload, wl, t, "", rtt); ok && (!found || g.FilesPerSec() > best.FilesPerSec()) {
			best, found = g, true
		}
	}
	return best, found
}

func toolRank(t string) int {
	if i := slices.Index(ToolOrder, t); i >= 0 {
		return i
	}
	return len(ToolOrder)
}

// Group is the runs of one tool on one workload (and phase, and round
// trip).
type Group struct {
	Section, Workload, Tool, Phase string
	RTT                            time.Duration
	Runs                           []Row // measured, not warm-up
	Failed                         int   // measured runs that failed
	FirstError                     string
}

// Key identifies a group.
func (g Group) Key() string {
	return g.Section + "/" + g.Workload + "/" + g.Tool + "/" + g.Phase + "/" + g.RTT.String()
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func (g Group) med(f func(Row) float64) float64 {
	xs := make([]float64, 0, len(g.Runs))
	for _, r := range g.Runs {
		xs = append(xs, f(r))
	}
	return median(xs)
}

// Wall is the median wall time in seconds.
func (g Group) Wall() float64 { return g.med(func(r Row) float64 { return r.Wall }) }

// CPU is the median client CPU seconds.
func (g Group) CPU() float64 { return g.med(func(r Row) float64 { return r.CPU }) }

// RSS is the median peak RSS in bytes.
func (g Group) RSS() float64 { return g.med(func(r Row) float64 { return float64(r.MaxRSS) }) }

// ServerCPU is the median server CPU seconds.
func (g Group) ServerCPU() float64 { return g.med(func(r Row) float64 { return r.ServerCPU }) }

// LineCPU is the median CPU seconds of the bench process (the delay line).
func (g Group) LineCPU() float64 { return g.med(func(r Row) float64 { return r.LineCPU }) }

// OtherCPU is the median CPU seconds other processes used during a run.
func (g Group) OtherCPU() float64 { return g.med(func(r Row) float64 { return r.OtherCPU }) }

// FilesPerSec is the median file throughput.
func (g Group) FilesPerSec() float64 { return g.med(Row.FilesPerSec) }

// MiBPerSec is the median byte throughput.
func (g Group) MiBPerSec() float64 { return g.med(Row.MiBPerSec) }

// Groups gathers rows into groups of successful measured runs, in report
// order (section as given, workload, tool order, phase).
func Groups(rows []Row) []Group {
	idx := map[string]int{}
	var gs []Group
	for _, r := range rows {
		if r.Warmup {
			continue
		}
		g := Group{Section: r.Section, Workload: r.Workload, Tool: r.Tool, Phase: r.Phase, RTT: r.RTT}
		i, ok := idx[g.Key()]
		if !ok {
			i = len(gs)
			idx[g.Key()] = i
			gs = append(gs, g)
		}
		if r.OK() {
			gs[i].Runs = append(gs[i].Runs, r)
		} else {
			gs[i].Failed++
			if gs[i].FirstError == "" {
				gs[i].FirstError = r.Error
				if r.Error == "" {
					gs[i].FirstError = "not verified"
				}
			}
		}
	}
	phaseRank := func(p string) int {
		switch p {
		case "stop":
			return 0
		case "start":
			return 1
		}
		return 2
	}
	sort.SliceStable(gs, func(i, j int) bool {
		a, b := gs[i], gs[j]
		if a.Section != b.Section {
			return false // keep the sections in the order they were run
		}
		if a.Workload != b.Workload {
			return a.Workload < b.Workload
		}
		if a.RTT != b.RTT {
			return a.RTT < b.RTT
		}
		if toolRank(a.Tool) != toolRank(b.Tool) {
			return toolRank(a.Tool) < toolRank(b.Tool)
		}
		return phaseRank(a.Phase) < phaseRank(b.Phase)
	})
	return gs
}

// Find returns the group with these keys at no added round trip.
func Find(gs []Group, section, workload, tool, phase string) (Group, bool) {
	return FindAt(gs, section, workload, tool, phase, 0)
}

// FindAt returns the group with these keys at round trip rtt; ok only if
// it has successful runs.
func FindAt(gs []Group, section, workload, tool, phase string, rtt time.Duration) (Group, bool) {
	for _, g := range gs {
		if g.Section == section && g.Workload == workload && g.Tool == tool && g.Phase == phase && g.RTT == rtt {
			return g, len(g.Runs) > 0
		}
	}
	return Group{}, false
}

// RTTs are the round trips the upload rows were measured at, in order.
func RTTs(gs []Group) []time.Duration {
	var out []time.Duration
	for _, g := range gs {
		if g.Section == SectionUpload && !slices.Contains(out, g.RTT) {
			out = append(out, g.RTT)
		}
	}
	slices.Sort(out)
	return out
}

// FmtRTT prints a round trip as the tables do: "0 ms", "50 ms".
func FmtRTT(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64) + " ms"
}

// Target is one bar from the issue, with what this run measured.
type Target struct {
	Name   string
	Bar    string
	Figure string
	// Status is "met", "missed" or "not measured".
	Status string
}

func status(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

// Targets checks the issues' bars against the groups: first those through
// a round trip, where users are, then those at 0 ms, which show CPU cost.
func Targets(gs []Group) []Target {
	var ts []Target
	// compare makes a target of a ÷ b in files/s (or MiB/s) that the ratio
	// meets when it is at least want.
	compare := func(name, bar string, a, b Group, okA, okB bool, want float64, mib bool, who string) {
		t := Target{Name: name, Bar: bar, Status: "not measured"}
		if okA && okB {
			av, bv, unit := a.FilesPerSec(), b.FilesPerSec(), "files/s"
			if mib {
				av, bv, unit = a.MiBPerSec(), b.MiBPerSec(), "MiB/s"
			}
			r := av / bv
			t.Figure = fmt.Sprintf("%.2f× (%.0f vs %.0f %s%s)", r, av, bv, unit, who)
			t.Status = status(r >= want)
		}
		ts = append(ts, t)
	}
	at := func(wl, tool string, rtt time.Duration) (Group, bool) {
		return FindAt(gs, SectionUpload, wl, tool, "", rtt)
	}
	for _, rtt := range []time.Duration{50 * time.Millisecond, 150 * time.Millisecond} {
		a, okA := at("W1", ToolAwsutils, rtt)
		l, okL := BestLoop(gs, "W1", rtt)
		compare(fmt.Sprintf("W1 files/s at %s vs the best bare PUT loop", FmtRTT(rtt)), "≥ 0.9× (the loop at 256 or 1,024 in flight, same delay line)",
			a, l, okA, okL, 0.9, false, "; "+label(l.Tool))
		rm, okR := at("W1", ToolAwsutilsRemove, rtt)
		compare(fmt.Sprintf("W1 `--remove-src` at %s vs without", FmtRTT(rtt)), "≥ 0.9×", rm, a, okR, okA, 0.9, false, "")
	}
	{
		t := Target{Name: "W1 at 50 ms with 503 SlowDown vs without", Bar: "no file failed, ≥ 0.7× (the same fault proxy without faults)", Status: "not measured"}
		sd, okS := at("W1", ToolAwsutilsSlowDown, 50*time.Millisecond)
		free, okF := at("W1", ToolAwsutilsProxy, 50*time.Millisecond)
		if okS && okF {
			r := sd.FilesPerSec() / free.FilesPerSec()
			t.Figure = fmt.Sprintf("%.2f× (%.0f vs %.0f files/s), %d of %d runs failed", r, sd.FilesPerSec(), free.FilesPerSec(), sd.Failed, sd.Failed+len(sd.Runs))
			t.Status = status(r >= 0.7 && sd.Failed == 0)
		}
		ts = append(ts, t)
	}
	{
		t := Target{Name: "W4 peak RSS at 50 ms flat in file count", Bar: "W4 ≤ 1.2× W1", Status: "not measured"}
		w1, ok1 := at("W1", ToolAwsutils, 50*time.Millisecond)
		w4, ok4 := at("W4", ToolAwsutils, 50*time.Millisecond)
		if ok1 && ok4 {
			r := w4.RSS() / w1.RSS()
			t.Figure = fmt.Sprintf("%.2f× (%.1f vs %.1f MiB)", r, w4.RSS()/(1<<20), w1.RSS()/(1<<20))
			t.Status = status(r <= 1.2)
		}
		ts = append(ts, t)
	}
	a, okA := Find(gs, SectionUpload, "W1", ToolAwsutils, "")
	s5, okS := Find(gs, SectionUpload, "W1", ToolS5cmd, "")
	compare("W1 files/s at 0 ms vs s5cmd", "≥ 1.3×", a, s5, okA, okS, 1.3, false, "")
	rm, okR := Find(gs, SectionUpload, "W1", ToolAwsutilsRemove, "")
	mv, okM := Find(gs, SectionUpload, "W1", ToolS5cmdMove, "")
	compare("W1 `--remove-src` at 0 ms vs `s5cmd mv`", "≥ 1.3×", rm, mv, okR, okM, 1.3, false, "")
	cli, okC := Find(gs, SectionUpload, "W1", ToolAWSCLI, "")
	compare("W1 files/s at 0 ms vs AWS CLI", "≥ 8×", a, cli, okA, okC, 8, false, "")
	{
		t := Target{Name: "W1 uploads verified", Bar: "every run: objects and sizes listed back; CRC32 checked by awsutils", Status: "not measured"}
		ok, n := 0, 0
		for _, g := range gs {
			if g.Section == SectionUpload && g.Workload == "W1" && g.Tool == ToolAwsutils {
				ok += len(g.Runs)
				n += len(g.Runs) + g.Failed
			}
		}
		if n > 0 {
			t.Figure = fmt.Sprintf("%d of %d runs verified", ok, n)
			t.Status = status(ok == n)
		}
		ts = append(ts, t)
	}
	w2, ok2 := Find(gs, SectionUpload, "W2", ToolAwsutils, "")
	w2s, ok2s := Find(gs, SectionUpload, "W2", ToolS5cmd, "")
	compare("W2 MiB/s vs s5cmd", "≥ 1.6×", w2, w2s, ok2, ok2s, 1.6, true, "")
	w2l, ok2l := Find(gs, SectionUpload, "W2", ToolPutLoop, "")
	compare("W2 MiB/s vs bare PUT loop", "≥ 0.85×", w2, w2l, ok2, ok2l, 0.85, true, "")
	{
		t := Target{Name: "W4 peak RSS flat in file count", Bar: "W4 ≤ 1.2× W1", Status: "not measured"}
		w1, ok1 := Find(gs, SectionUpload, "W1", ToolAwsutils, "")
		w4, ok4 := Find(gs, SectionUpload, "W4", ToolAwsutils, "")
		if ok1 && ok4 {
			r := w4.RSS() / w1.RSS()
			t.Figure = fmt.Sprintf("%.2f× (%.1f vs %.1f MiB)", r, w4.RSS()/(1<<20), w1.RSS()/(1<<20))
			t.Status = status(r <= 1.2)
		}
		ts = append(ts, t)
	}
	{
		t := Target{Name: "Start/stop EC2 calls", Bar: "≤ 2 per 100 instances", Status: "not measured"}
		t2 := Target{Name: "Start/stop wall time, 1,120 resources, 50 ms latency", Bar: "≤ 3 s each for stop and start", Status: "not measured"}
		t3 := Target{Name: "Start/stop Auto Scaling calls", Bar: "≤ 2 per 100 instances (the membership check, 50 a call)", Status: "not measured"}
		var figs, walls, asgFigs []string
		okCalls, okWall, okASG, seen := true, true, true, false
		for _, phase := range []string{"stop", "start"} {
			for _, g := range gs {
				if g.Section != SectionStartStop || g.Tool != ToolAwsutils || g.Phase != phase || len(g.Runs) == 0 {
					continue
				}
				seen = true
				n := instances(g.Workload)
				per := 0.0
				if n > 0 {
					per = g.med(func(r Row) float64 { return float64(r.EC2Calls) }) * 100 / float64(n)
				}
				figs = append(figs, fmt.Sprintf("%s %.1f", phase, per))
				asgPer := 0.0
				if n > 0 {
					asgPer = g.med(func(r Row) float64 { return float64(r.ASGCalls) }) * 100 / float64(n)
				}
				asgFigs = append(asgFigs, fmt.Sprintf("%s %.1f", phase, asgPer))
				okASG = okASG && asgPer <= 2
				walls = append(walls, fmt.Sprintf("%s %.2f s", phase, g.Wall()))
				okCalls = okCalls && per <= 2
				okWall = okWall && g.Wall() <= 3
			}
		}
		if seen {
			t.Figure, t.Status = strings.Join(figs, ", ")+" per 100", status(okCalls)
			t2.Figure, t2.Status = strings.Join(walls, ", "), status(okWall)
			t3.Figure, t3.Status = strings.Join(asgFigs, ", ")+" per 100", status(okASG)
		}
		ts = append(ts, t, t2, t3)
	}
	{
		t := Target{Name: "Lambda init", Bar: "≤ 50 ms per function", Status: "not measured"}
		z := Target{Name: "Lambda zip size", Bar: "≤ 10 MiB per function", Status: "not measured"}
		var inits, zips []string
		okI, okZ, seen := true, true, false
		for _, g := range gs {
			if g.Section != SectionLambda || len(g.Runs) == 0 {
				continue
			}
			seen = true
			init := g.med(func(r Row) float64 { return r.InitMS })
			zip := g.med(func(r Row) float64 { return float64(r.ZipBytes) }) / (1 << 20)
			inits = append(inits, fmt.Sprintf("%s %.1f ms", g.Workload, init))
			zips = append(zips, fmt.Sprintf("%s %.1f MiB", g.Workload, zip))
			okI = okI && init <= 50
			okZ = okZ && zip <= 10
		}
		if seen {
			t.Figure, t.Status = strings.Join(inits, ", "), status(okI)
			z.Figure, z.Status = strings.Join(zips, ", "), status(okZ)
		}
		ts = append(ts, t, z)
	}
	{
		t := Target{Name: "Fan-out: state machine vs one function", Bar: "≥ 3× faster end to end, plan included (each invocation 8 files in flight, 50 ms)", Status: "not measured"}
		if one, many, ok := Fanout(gs); ok {
			r := one.Wall() / many.Wall()
			t.Figure = fmt.Sprintf("%.2f× (%.1f s vs %.1f s, %s)", r, one.Wall(), many.Wall(), many.Tool)
			t.Status = status(r >= 3)
		}
		ts = append(ts, t)
	}
	return ts
}

// Fanout finds the fan-out section's one-function and state-machine groups.
func Fanout(gs []Group) (one, many Group, ok bool) {
	var okOne, okMany bool
	for _, g := range gs {
		if g.Section != SectionFanout || len(g.Runs) == 0 {
			continue
		}
		switch {
		case g.Tool == FanoutOne:
			one, okOne = g, true
		case strings.HasPrefix(g.Tool, FanoutStateMachine):
			many, okMany = g, true
		}
	}
	return one, many, okOne && okMany
}

// instances reads the EC2 count from a start/stop workload name such as
// "1000 ec2 + 100 rds + 20 aurora".
func instances(workload string) int {
	var n int
	if _, err := fmt.Sscanf(workload, "%d ec2", &n); err != nil {
		return 0
	}
	return n
}

// StartStopWorkload names a start/stop resource set.
func StartStopWorkload(ec2, rds, aurora int) string {
	return fmt.Sprintf("%d ec2 + %d rds + %d aurora", ec2, rds, aurora)
}

// Merge joins the results of several runs into one report: a later run's
// rows replace every row of an earlier run for the same section and
// workload (so a run cut short and finished by a second one reads as one),
// and each later run is described in a note (run 2, run 3, ...). The first
// run's meta is the base; the header's date, duration and commit stay the
// first run's.
func Merge(metas []Meta, runs [][]Row) (Meta, []Row) {
	if len(metas) == 0 {
		return Meta{}, nil
	}
	meta := metas[0]
	meta.Notes = slices.Clone(meta.Notes)
	meta.Workloads = slices.Clone(meta.Workloads)
	rows := slices.Clone(runs[0])
	for i := 1; i < len(runs); i++ {
		m := metas[i]
		replaced := map[string]bool{}
		var parts []string
		for _, r := range runs[i] {
			k := r.Section + "/" + r.Workload
			if !replaced[k] {
				replaced[k] = true
				parts = append(parts, r.Section+" "+r.Workload)
			}
		}
		rows = slices.DeleteFunc(rows, func(r Row) bool { return replaced[r.Section+"/"+r.Workload] })
		rows = append(rows, runs[i]...)
		for _, w := range m.Workloads {
			meta.Workloads = slices.DeleteFunc(meta.Workloads, func(x WorkloadInfo) bool { return x.Name == w.Name })
			meta.Workloads = append(meta.Workloads, w)
		}
		if m.StartStop != "" {
			meta.StartStop = m.StartStop
		}
		meta.Notes = append(meta.Notes, fmt.Sprintf("From run %d (%s): `%s` at commit `%s`, %s (%s), %d warm-up and %d measured round(s)",
			i+1, strings.Join(parts, ", "), m.Command, m.Commit, m.Started.UTC().Format("2006-01-02 15:04 UTC"), m.Finished.Sub(m.Started).Round(time.Second), m.Warmup, m.Reps))
		for _, n := range m.Notes {
			meta.Notes = append(meta.Notes, fmt.Sprintf("run %d: %s", i+1, n))
		}
	}
	return meta, rows
}
