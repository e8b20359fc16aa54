package report

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

func upload(wl, tool string, rep int, wall float64, rss int64) Row {
	files, size := 5000, int64(5000*4096)
	if wl == "W2" {
		files, size = 8, 8<<26
	}
	return Row{Section: SectionUpload, Workload: wl, Tool: tool, Rep: rep, Files: files, Bytes: size,
		Wall: wall, CPU: wall / 2, MaxRSS: rss, Verified: true}
}

func sampleRows() []Row {
	rows := []Row{
		// A warm-up that must not count, and a failed run.
		{Section: SectionUpload, Workload: "W1", Tool: ToolAwsutils, Warmup: true, Files: 5000, Bytes: 1, Wall: 100, Verified: true},
		{Section: SectionUpload, Workload: "W1", Tool: ToolS5cmd, Rep: 4, Files: 5000, Wall: 0.1, Error: "exit 1"},
	}
	for rep, w := range []float64{1.0, 1.2, 0.8} {
		rows = append(rows,
			upload("W1", ToolAwsutils, rep+1, w, 30<<20),
			upload("W1", ToolS5cmd, rep+1, w*1.5, 25<<20),
			upload("W1", ToolAWSCLI, rep+1, w*10, 80<<20),
			upload("W2", ToolAwsutils, rep+1, w, 60<<20),
			upload("W2", ToolS5cmd, rep+1, w*1.2, 20<<20),
			upload("W2", ToolPutLoop, rep+1, w*0.9, 15<<20),
			upload("W4", ToolAwsutils, rep+1, w*20, 33<<20),
		)
	}
	wl := StartStopWorkload(1000, 100, 20)
	rows = append(rows,
		Row{Section: SectionStartStop, Workload: wl, Tool: ToolAwsutils, Phase: "stop", Rep: 1, Wall: 2.5, APICalls: 150, EC2Calls: 12, APIOps: "StopInstances=10"},
		Row{Section: SectionStartStop, Workload: wl, Tool: ToolAwsutils, Phase: "start", Rep: 1, Wall: 3.5, APICalls: 150, EC2Calls: 12},
		Row{Section: SectionStartStop, Workload: wl, Tool: ToolNaive, Phase: "stop", Rep: 1, Wall: 60, APICalls: 1120, EC2Calls: 1000},
		Row{Section: SectionLambda, Workload: "startstop", Tool: ToolAwsutils, Rep: 1, InitMS: 12, ZipBytes: 4 << 20, MaxRSS: 17 << 20, Verified: true},
		Row{Section: SectionLambda, Workload: "s3upload", Tool: ToolAwsutils, Rep: 1, InitMS: 60, ZipBytes: 11 << 20, MaxRSS: 28 << 20, Verified: true},
	)
	return rows
}

// farRows are W1 and W4 runs through 50 and 150 ms round trips.
func farRows() []Row {
	var rows []Row
	add := func(wl, tool string, rtt time.Duration, filesPerSec float64, rss int64) {
		for rep := 1; rep <= 3; rep++ {
			r := upload(wl, tool, rep, 5000/filesPerSec, rss)
			if wl == "W4" {
				r.Files, r.Wall = 100000, 100000/filesPerSec
			}
			r.RTT, r.ServerCPU, r.LineCPU, r.Conns = rtt, r.Wall/4, 0.01, 64
			rows = append(rows, r)
		}
	}
	ms := time.Millisecond
	for i, rtt := range []time.Duration{0, 50 * ms, 150 * ms} {
		add("W1", ToolAwsutils, rtt, 2000, 30<<20)
		add("W1", ToolAwsutilsRemove, rtt, 1000, 30<<20)
		add("W1", ToolS5cmd, rtt, 1500, 30<<20)
		add("W1", ToolPutLoop, rtt, []float64{4000, 1200, 420}[i], 30<<20)
		add("W1", ToolRawPut256, rtt, 1500, 30<<20)
		add("W1", ToolRawPut1024, rtt, []float64{2000, 2000, 3500}[i], 30<<20)
	}
	add("W4", ToolAwsutils, 50*time.Millisecond, 1000, 33<<20)
	return rows
}

func TestCSVRoundTrip(t *testing.T) {
	rows := sampleRows()
	rows[1].Error = "line one\nline, \"two\""
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("%d rows back, want %d", len(got), len(rows))
	}
	if got[1].Error != `line one line, "two"` || got[2].Wall != rows[2].Wall || got[2].MaxRSS != rows[2].MaxRSS || !got[0].Warmup {
		t.Errorf("round trip changed rows: %+v / %+v", got[1], got[2])
	}
	if _, err := ReadCSV(strings.NewReader("a,b\n1,2\n")); err == nil {
		t.Error("a file without the columns was accepted")
	}

	far := farRows()
	buf.Reset()
	if err := WriteCSV(&buf, far); err != nil {
		t.Fatal(err)
	}
	back, err := ReadCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	last := back[len(back)-1]
	if last.RTT != 50*time.Millisecond || last.ServerCPU != far[len(far)-1].ServerCPU || last.LineCPU != 0.01 || last.Conns != 64 {
		t.Errorf("round trip lost the round trip or CPU columns: %+v", last)
	}

	// A file written before the round-trip and CPU columns reads as 0 ms.
	old := "section,workload,tool,phase,rep,warmup,files,bytes,wall_s,files_per_s,mib_per_s,cpu_s,max_rss_bytes,api_calls,api_ops,ec2_calls,init_ms,zip_bytes,verified,error\n" +
		"upload,W1,awsutils,,1,false,5000,20480000,1.5,3333,13,1.4,33000000,0,,0,0,0,true,\n"
	rows, err = ReadCSV(strings.NewReader(old))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].RTT != 0 || rows[0].Wall != 1.5 {
		t.Errorf("old file read as %+v", rows)
	}
}

func TestGroupsSkipWarmupAndFailures(t *testing.T) {
	gs := Groups(sampleRows())
	a, ok := Find(gs, SectionUpload, "W1", ToolAwsutils, "")
	if !ok || len(a.Runs) != 3 || a.Wall() != 1.0 {
		t.Fatalf("awsutils W1: %d runs, median %v; want 3 runs, median 1.0", len(a.Runs), a.Wall())
	}
	s, _ := Find(gs, SectionUpload, "W1", ToolS5cmd, "")
	if s.Failed != 1 || s.FirstError != "exit 1" {
		t.Errorf("s5cmd W1: failed %d (%q), want 1", s.Failed, s.FirstError)
	}
	if gs[0].Tool != ToolAwsutils {
		t.Errorf("first group is %s, want awsutils first", gs[0].Tool)
	}
}

func TestTargets(t *testing.T) {
	want := map[string]string{
		"W1 files/s at 0 ms vs s5cmd":    "met",    // 1.5×
		"W1 files/s at 0 ms vs AWS CLI":  "met",    // 10×
		"W1 uploads verified":            "met",    // 3 of 3
		"W2 MiB/s vs s5cmd":              "missed", // 1.2×
		"W2 MiB/s vs bare PUT loop":      "met",    // 0.9×
		"W4 peak RSS flat in file count": "met",    // 1.1×
		"Start/stop EC2 calls":           "met",    // 1.2 per 100
		"Lambda init":                    "missed", // 60 ms
		"Lambda zip size":                "missed", // 11 MiB
	}
	got := map[string]Target{}
	for _, tg := range Targets(Groups(sampleRows())) {
		got[tg.Name] = tg
	}
	for name, st := range want {
		if got[name].Status != st {
			t.Errorf("%s: %s (%s), want %s", name, got[name].Status, got[name].Figure, st)
		}
	}
	if tg := got["Start/stop wall time, 1,120 resources, 50 ms latency"]; tg.Status != "missed" || !strings.Contains(tg.Figure, "start 3.50 s") {
		t.Errorf("start/stop wall: %+v", tg)
	}
	// Start/stop EC2 calls per 100 instances: 12 calls for 1,000 instances.
	if f := got["Start/stop EC2 calls"].Figure; !strings.Contains(f, "stop 1.2") {
		t.Errorf("EC2 calls figure %q", f)
	}
	// Through a round trip: awsutils at 2,000 files/s against the best loop
	// at 256 or more in flight (the 64-in-flight loop does not count), the
	// removal at half the speed, W4's RSS flat.
	far := Groups(farRows())
	gotFar := map[string]Target{}
	for _, tg := range Targets(far) {
		gotFar[tg.Name] = tg
	}
	for name, st := range map[string]string{
		"W1 files/s at 50 ms vs the best bare PUT loop":  "met",
		"W1 files/s at 150 ms vs the best bare PUT loop": "missed",
		"W1 `--remove-src` at 50 ms vs without":          "missed",
		"W4 peak RSS at 50 ms flat in file count":        "met",
	} {
		if gotFar[name].Status != st {
			t.Errorf("%s: %s (%s), want %s", name, gotFar[name].Status, gotFar[name].Figure, st)
		}
	}
	if f := gotFar["W1 files/s at 50 ms vs the best bare PUT loop"].Figure; !strings.Contains(f, "1.00× (2000 vs 2000 files/s; raw signed PUT loop (1,024 in flight))") {
		t.Errorf("best loop figure %q", f)
	}
	none := Targets(nil)
	for _, tg := range none {
		if tg.Status != "not measured" {
			t.Errorf("%s with no rows: %s", tg.Name, tg.Status)
		}
	}
}

func TestMarkdownAndChart(t *testing.T) {
	meta := Meta{Started: time.Unix(0, 0), Finished: time.Unix(60, 0), Command: "go run ./bench", Scale: 1, Reps: 3, Warmup: 1,
		Machine:  Machine{CPU: "Test CPU", Cores: 2, MemGiB: 24},
		Versions: []Version{{Tool: "s5cmd", Version: "v2.3.0", Source: ".bin"}},
		Notes:    []string{"rclone left out: not installed"}, Caveat: "Run cut short."}
	var md bytes.Buffer
	if err := Markdown(&md, meta, sampleRows(), "bench/results/latest.csv"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"## Targets", "| W1 files/s at 0 ms vs s5cmd | ≥ 1.3× | 1.50×", "Test CPU", "| s5cmd | v2.3.0 |",
		"### W1", "### W2", "`awsutils upload` ÷ `s5cmd cp` | 1.50×", "## Start/stop economy", "naive loop",
		"## Lambda start-up", "rclone left out", "> Run cut short.", "1 run(s) failed; first: exit 1", ChartFile,
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}

	// Through round trips the latency view leads, the loops face their
	// bounds, and 0 ms follows as the CPU view.
	md.Reset()
	meta.Machine.Cores = 2
	if err := Markdown(&md, meta, farRows(), "bench/results/latest.csv"); err != nil {
		t.Fatal(err)
	}
	out := md.String()
	for _, want := range []string{
		"## Upload through a round trip", "### W1: files/s by round trip", "| tool | 0 ms | 50 ms | 150 ms |",
		"| `awsutils upload` | 2000 | 2000 | 2000 |",
		"| `awsutils upload` ÷ best bare PUT loop (256 or 1,024 in flight) | 1.00× | 1.00× | 0.57× |",
		"| `awsutils upload --remove-src` ÷ `awsutils upload` | 0.50× | 0.50× | 0.50× |",
		"### The bare PUT loops against their bounds",
		// 256 ÷ 150 ms = 1707/s; the loop's 1,500/s at 0 ms is lower.
		"| W1 | raw signed PUT loop (256 in flight) | 150 ms | 256 | 1500 | 1707 | 1500 | 100 % of the CPU bound |",
		// 64 ÷ 150 ms = 427/s, below the 4,000/s at 0 ms.
		"| W1 | bare Go PUT loop (SDK, 64 in flight) | 150 ms | 64 | 420 | 427 | 4000 | 98 % of the round trip bound |",
		"## Upload at 0 ms: CPU efficiency", "### W1 at 50 ms", "line CPU s | peak conns |", "| 0.01 | 64 |", "### W4 at 50 ms",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown with round trips lacks %q", want)
		}
	}
	if i, j := strings.Index(out, "## Upload through a round trip"), strings.Index(out, "## Upload at 0 ms"); i < 0 || j < i {
		t.Error("the round-trip view does not come first")
	}

	var svg bytes.Buffer
	if err := Chart(&svg, sampleRows()); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&svg)
	rects := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("chart is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	// One background and one bar per tool and workload: W1 3, W2 3, W4 1.
	if rects != 1+7 {
		t.Errorf("%d rects, want 8", rects)
	}
}

// A second run replaces the first's rows of the same section and workload
// and is named in a note.
func TestMerge(t *testing.T) {
	first := sampleRows()
	second := []Row{upload("W4", ToolAwsutils, 1, 7, 40<<20)}
	m1 := Meta{Command: "go run ./bench", Reps: 3, Workloads: []WorkloadInfo{{Name: "W1"}, {Name: "W4", Files: 1}}}
	m2 := Meta{Command: "go run ./bench -workloads W4", Commit: "abc", Reps: 1, Workloads: []WorkloadInfo{{Name: "W4", Files: 2}},
		Started: time.Unix(0, 0), Finished: time.Unix(90, 0)}
	meta, rows := Merge([]Meta{m1, m2}, [][]Row{first, second})
	w4 := 0
	for _, r := range rows {
		if r.Workload == "W4" {
			w4++
			if r.Wall != 7 {
				t.Errorf("a W4 row of the first run survived: %+v", r)
			}
		}
	}
	if w4 != 1 || len(rows) != len(first)-3+1 {
		t.Errorf("%d W4 rows, %d rows; want 1 and %d", w4, len(rows), len(first)-2)
	}
	if meta.Command != m1.Command || meta.Reps != 3 || len(meta.Workloads) != 2 || meta.Workloads[1].Files != 2 {
		t.Errorf("merged meta %+v", meta)
	}
	if len(meta.Notes) != 1 || !strings.Contains(meta.Notes[0], "upload W4") || !strings.Contains(meta.Notes[0], "`go run ./bench -workloads W4` at commit `abc`") ||
		!strings.Contains(meta.Notes[0], "1m30s") {
		t.Errorf("notes %q", meta.Notes)
	}
}

func TestFanout(t *testing.T) {
	rows := []Row{
		{Section: SectionFanout, Workload: "W4×0.2", Tool: FanoutOne, RTT: 50 * time.Millisecond, Rep: 1, Files: 20000, Wall: 120, Verified: true},
		{Section: SectionFanout, Workload: "W4×0.2", Tool: FanoutStateMachine + "-4", RTT: 50 * time.Millisecond, Rep: 1, Files: 20000, Wall: 35, Verified: true},
		{Section: SectionFanout, Workload: "W4×0.2", Tool: FanoutPlan, RTT: 50 * time.Millisecond, Rep: 1, Files: 20000, Wall: 2, Verified: true},
	}
	for _, tt := range []struct {
		many float64
		want string
	}{{35, "met"}, {45, "missed"}} {
		rows[1].Wall = tt.many
		var got Target
		for _, tg := range Targets(Groups(rows)) {
			if strings.HasPrefix(tg.Name, "Fan-out") {
				got = tg
			}
		}
		if got.Status != tt.want {
			t.Errorf("state machine %v s vs 120 s: %s (%s), want %s", tt.many, got.Status, got.Figure, tt.want)
		}
	}
	var md bytes.Buffer
	if err := Markdown(&md, Meta{Started: time.Unix(0, 0), Finished: time.Unix(60, 0)}, rows, "x.csv"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| W4×0.2 | 50 ms | state-machine-4 | 1 | 45.0 | 444 | 2.67× | 22.5 s |",
		"| W4×0.2 | 50 ms | plan | 1 | 2.00 | — | — | 1.00 s |",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
}

// TestSlowDownTarget: the SlowDown run meets its bar at 0.7× the same
// proxy's fault-free run with no run failed, and misses it below, or when
// a run failed (a file the retries could not carry through).
func TestSlowDownTarget(t *testing.T) {
	const name = "W1 at 50 ms with 503 SlowDown vs without"
	for _, tc := range []struct {
		slow   float64 // files/s
		failed bool
		want   string
	}{{1500, false, "met"}, {1400, false, "met"}, {1300, false, "missed"}, {1900, true, "missed"}} {
		var rows []Row
		for rep := 1; rep <= 3; rep++ {
			free := upload("W1", ToolAwsutilsProxy, rep, 5000/2000.0, 30<<20)
			slow := upload("W1", ToolAwsutilsSlowDown, rep, 5000/tc.slow, 30<<20)
			free.RTT, slow.RTT = 50*time.Millisecond, 50*time.Millisecond
			if tc.failed && rep == 2 {
				slow.Verified, slow.Error = false, "1 file failed"
			}
			rows = append(rows, free, slow)
		}
		for _, tg := range Targets(Groups(rows)) {
			if tg.Name == name && tg.Status != tc.want {
				t.Errorf("%.0f vs 2000 files/s, failed %v: %s (%s), want %s", tc.slow, tc.failed, tg.Status, tg.Figure, tc.want)
			}
		}
	}
}
