// Package report keeps the benchmark's measurements as CSV and turns them
// into docs/BENCHMARKS.md: tables of medians, ratios of awsutils to each
// peer, the targets met or missed, and an SVG chart of throughput.
package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Sections of a results file.
const (
	SectionUpload    = "upload"
	SectionStartStop = "startstop"
	SectionLambda    = "lambda"
	SectionFanout    = "fanout"
)

// Contenders of the fan-out section: one invocation for the whole tree,
// the state machine ("state-machine-<children>"), and its plan step alone.
const (
	FanoutOne          = "one-function"
	FanoutStateMachine = "state-machine"
	FanoutPlan         = "plan"
)

// Row is one measured run.
type Row struct {
	Section string
	// Workload is W1..W4 for uploads, the resource set for start/stop, the
	// function for Lambda.
	Workload string
	Tool     string
	// Phase is stop or start for start/stop runs.
	Phase string
	// RTT is the round trip a delay line added between client and server
	// (uploads; 0 is loopback).
	RTT    time.Duration
	Rep    int
	Warmup bool
	Files  int
	Bytes  int64
	Wall   float64 // seconds
	CPU    float64 // seconds, user + system
	MaxRSS int64   // bytes
	// ServerCPU is the server's CPU seconds during the run, LineCPU the
	// bench process's own (the delay line, when there is one).
	ServerCPU float64
	LineCPU   float64
	// OtherCPU is what the rest of the machine used during the run: other
	// processes that shared the cores.
	OtherCPU float64
	// Conns is the most connections the client held open at once through
	// the delay line: with HTTP/1.1, at least its most requests in flight.
	Conns int
	// APICalls is the number of requests the server saw, APIOps the same
	// by operation ("StopInstances=10 DescribeInstances=1").
	APICalls int
	APIOps   string
	EC2Calls int
	// ASGCalls are the Auto Scaling calls (EC2 instances' membership check).
	ASGCalls int
	InitMS   float64
	ZipBytes int64
	Verified bool
	Error    string
}

// FilesPerSec is the run's file throughput.
func (r Row) FilesPerSec() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(r.Files) / r.Wall
}

// MiBPerSec is the run's byte throughput.
func (r Row) MiBPerSec() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(r.Bytes) / (1 << 20) / r.Wall
}

// OK is a run that finished and, for uploads, was verified.
func (r Row) OK() bool { return r.Error == "" && (r.Section != SectionUpload || r.Verified) }

var header = []string{
	"section", "workload", "tool", "phase", "rep", "warmup", "files", "bytes",
	"wall_s", "files_per_s", "mib_per_s", "cpu_s", "max_rss_bytes",
	"api_calls", "api_ops", "ec2_calls", "init_ms", "zip_bytes", "verified", "error",
	"rtt_ms", "server_cpu_s", "line_cpu_s", "other_cpu_s", "peak_conns", "asg_calls",
}

// optional are the columns added after the first results were written;
// an older file without them reads as zero.
var optional = map[string]bool{"rtt_ms": true, "server_cpu_s": true, "line_cpu_s": true, "other_cpu_s": true, "peak_conns": true, "asg_calls": true}

func f64(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }

// WriteCSV writes rows with a header line.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, r := range rows {
		rec := []string{
			r.Section, r.Workload, r.Tool, r.Phase, strconv.Itoa(r.Rep), strconv.FormatBool(r.Warmup),
			strconv.Itoa(r.Files), strconv.FormatInt(r.Bytes, 10),
			f64(r.Wall), f64(r.FilesPerSec()), f64(r.MiBPerSec()), f64(r.CPU), strconv.FormatInt(r.MaxRSS, 10),
			strconv.Itoa(r.APICalls), r.APIOps, strconv.Itoa(r.EC2Calls), f64(r.InitMS), strconv.FormatInt(r.ZipBytes, 10),
			strconv.FormatBool(r.Verified), oneLine(r.Error),
			f64(float64(r.RTT) / float64(time.Millisecond)), f64(r.ServerCPU), f64(r.LineCPU), f64(r.OtherCPU), strconv.Itoa(r.Conns),
			strconv.Itoa(r.ASGCalls),
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 500 {
		s = s[:500] + "..."
	}
	return s
}

// ReadCSV reads what WriteCSV wrote.
func ReadCSV(r io.Reader) ([]Row, error) {
	cr := csv.NewReader(r)
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("results: empty file")
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, h := range header {
		if _, ok := col[h]; !ok && !optional[h] {
			return nil, fmt.Errorf("results: no column %q", h)
		}
	}
	var rows []Row
	for n, rec := range recs[1:] {
		line := n + 2
		get := func(k string) string {
			if i, ok := col[k]; ok && i < len(rec) {
				return rec[i]
			}
			return ""
		}
		var perr error
		num := func(k string) float64 {
			s := get(k)
			if s == "" && optional[k] {
				return 0
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil && perr == nil {
				perr = fmt.Errorf("results line %d: column %s: %w", line, k, err)
			}
			return v
		}
		row := Row{
			Section: get("section"), Workload: get("workload"), Tool: get("tool"), Phase: get("phase"),
			Rep: int(num("rep")), Warmup: get("warmup") == "true",
			Files: int(num("files")), Bytes: int64(num("bytes")),
			Wall: num("wall_s"), CPU: num("cpu_s"), MaxRSS: int64(num("max_rss_bytes")),
			APICalls: int(num("api_calls")), APIOps: get("api_ops"), EC2Calls: int(num("ec2_calls")),
			InitMS: num("init_ms"), ZipBytes: int64(num("zip_bytes")),
			Verified: get("verified") == "true", Error: get("error"),
			RTT:       time.Duration(num("rtt_ms") * float64(time.Millisecond)).Round(time.Microsecond),
			ServerCPU: num("server_cpu_s"), LineCPU: num("line_cpu_s"), OtherCPU: num("other_cpu_s"), Conns: int(num("peak_conns")),
			ASGCalls: int(num("asg_calls")),
		}
		if perr != nil {
			return nil, perr
		}
		rows = append(rows, row)
	}
	return rows, nil
}
