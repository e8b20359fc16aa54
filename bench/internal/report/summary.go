package report

import (
	"fmt"
	"slices"
	"sort"
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
	ToolNaive          = "naive-loop"
)

// ToolOrder is the order tools are shown in.
var ToolOrder = []string{ToolAwsutils, ToolAwsutilsRemove, ToolS5cmd, ToolS5cmdMove, ToolAWSCLI, ToolRclone, ToolPutLoop, ToolNaive}

// ToolLabels are the commands behind each tool name.
var ToolLabels = map[string]string{
	ToolAwsutils:       "`awsutils upload`",
	ToolAwsutilsRemove: "`awsutils upload --remove-src`",
	ToolS5cmd:          "`s5cmd cp`",
	ToolS5cmdMove:      "`s5cmd mv`",
	ToolAWSCLI:         "`aws s3 cp --recursive`",
	ToolRclone:         "`rclone copy`",
	ToolPutLoop:        "bare Go PUT loop",
	ToolNaive:          "naive loop (one call per resource)",
}

func toolRank(t string) int {
	if i := slices.Index(ToolOrder, t); i >= 0 {
		return i
	}
	return len(ToolOrder)
}

// Group is the runs of one tool on one workload (and phase).
type Group struct {
	Section, Workload, Tool, Phase string
	Runs                           []Row // measured, not warm-up
	Failed                         int   // measured runs that failed
	FirstError                     string
}

// Key identifies a group.
func (g Group) Key() string { return g.Section + "/" + g.Workload + "/" + g.Tool + "/" + g.Phase }

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
		g := Group{Section: r.Section, Workload: r.Workload, Tool: r.Tool, Phase: r.Phase}
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
		if toolRank(a.Tool) != toolRank(b.Tool) {
			return toolRank(a.Tool) < toolRank(b.Tool)
		}
		return phaseRank(a.Phase) < phaseRank(b.Phase)
	})
	return gs
}

// Find returns the group with these keys.
func Find(gs []Group, section, workload, tool, phase string) (Group, bool) {
	for _, g := range gs {
		if g.Section == section && g.Workload == workload && g.Tool == tool && g.Phase == phase {
			return g, len(g.Runs) > 0
		}
	}
	return Group{}, false
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

// Targets checks the bars against the groups.
func Targets(gs []Group) []Target {
	var ts []Target
	ratio := func(name, bar, wl, peer string, want float64, mib bool) {
		a, okA := Find(gs, SectionUpload, wl, ToolAwsutils, "")
		p, okP := Find(gs, SectionUpload, wl, peer, "")
		t := Target{Name: name, Bar: bar, Status: "not measured"}
		if okA && okP {
			av, pv, unit := a.FilesPerSec(), p.FilesPerSec(), "files/s"
			if mib {
				av, pv, unit = a.MiBPerSec(), p.MiBPerSec(), "MiB/s"
			}
			r := av / pv
			t.Figure = fmt.Sprintf("%.2f× (%.0f vs %.0f %s)", r, av, pv, unit)
			t.Status = status(r >= want)
		}
		ts = append(ts, t)
	}
	ratio("W1 files/s vs s5cmd", "≥ 1.3×", "W1", ToolS5cmd, 1.3, false)
	ratio("W1 files/s vs AWS CLI", "≥ 8×", "W1", ToolAWSCLI, 8, false)
	{
		t := Target{Name: "W1 uploads verified", Bar: "every run: objects and sizes listed back; CRC32 checked by awsutils", Status: "not measured"}
		for _, g := range gs {
			if g.Section == SectionUpload && g.Workload == "W1" && g.Tool == ToolAwsutils {
				n := len(g.Runs) + g.Failed
				t.Figure = fmt.Sprintf("%d of %d runs verified", len(g.Runs), n)
				t.Status = status(g.Failed == 0 && len(g.Runs) > 0)
			}
		}
		ts = append(ts, t)
	}
	ratio("W2 MiB/s vs s5cmd", "≥ 1.6×", "W2", ToolS5cmd, 1.6, true)
	ratio("W2 MiB/s vs bare PUT loop", "≥ 0.85×", "W2", ToolPutLoop, 0.85, true)
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
		var figs, walls []string
		okCalls, okWall, seen := true, true, false
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
				walls = append(walls, fmt.Sprintf("%s %.2f s", phase, g.Wall()))
				okCalls = okCalls && per <= 2
				okWall = okWall && g.Wall() <= 3
			}
		}
		if seen {
			t.Figure, t.Status = strings.Join(figs, ", ")+" per 100", status(okCalls)
			t2.Figure, t2.Status = strings.Join(walls, ", "), status(okWall)
		}
		ts = append(ts, t, t2)
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
	return ts
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
