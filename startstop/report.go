package startstop

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Outcome is what happened to one resource.
type Outcome string

// The outcomes. Changed, Unchanged and Planned are successes; Failed and
// Unsupported are not (an unsupported resource needs a change to the
// config).
const (
	Changed     Outcome = "changed"     // the start or stop was accepted
	Unchanged   Outcome = "unchanged"   // already in or moving to the wanted state
	Failed      Outcome = "failed"      // not done; Message says why
	Unsupported Outcome = "unsupported" // AWS cannot do this to this resource
	Planned     Outcome = "planned"     // dry run: would be done
)

// Result is what happened to one resource.
type Result struct {
	Type   Type   `json:"type"`
	ID     string `json:"id"`
	Region string `json:"region"`
	// Account is the account of the group's role_arn; "" for the
	// caller's own.
	Account string `json:"account,omitempty"`
	// From says how the resource came into the run: FromIDs (listed) or
	// FromTags (a tag selector found it; Selector says which). A selector
	// that failed as a whole (its role could not be assumed, its describe
	// call failed) is a Result of its own with no ID.
	From     string `json:"from"`
	Selector string `json:"selector,omitempty"`
	// Before is the state found before acting; "" when unknown (the role
	// may not describe it).
	Before string `json:"before"`
	// After is the state after acting, or the target state of a dry run.
	After   string  `json:"after"`
	Outcome Outcome `json:"result"`
	Message string  `json:"message,omitempty"`
}

// The values of Result.From.
const (
	FromIDs  = "ids"
	FromTags = "tags"
)

// OK reports whether the resource is in or moving to the wanted state (or
// would be, in a dry run).
func (r Result) OK() bool {
	return r.Outcome == Changed || r.Outcome == Unchanged || r.Outcome == Planned
}

// Totals count results by outcome.
type Totals struct {
	Total       int `json:"total"`
	Changed     int `json:"changed"`
	Unchanged   int `json:"unchanged"`
	Failed      int `json:"failed"`
	Unsupported int `json:"unsupported"`
	Planned     int `json:"planned"`
}

// Report is what a Run did, one Result per resource in plan order.
type Report struct {
	Action  Action   `json:"action"`
	Keys    []string `json:"keys"`
	DryRun  bool     `json:"dryRun"`
	Results []Result `json:"results"`
	// Warnings are things to know about the run as a whole: duplicate
	// ids, a describe permission the role lacks.
	Warnings []string `json:"notes,omitempty"`
	// Retry, when set, says why a keep_stopped event must be answered
	// again later: the database is not available yet (see KeepStopped).
	Retry    string        `json:"retry,omitempty"`
	Totals   Totals        `json:"summary"`
	Duration time.Duration `json:"-"`
}

// OK reports whether every resource is in or moving to the wanted state.
func (r *Report) OK() bool { return r.Totals.Failed == 0 && r.Totals.Unsupported == 0 }

func (r *Report) summarize() {
	s := Totals{Total: len(r.Results)}
	for _, res := range r.Results {
		switch res.Outcome {
		case Changed:
			s.Changed++
		case Unchanged:
			s.Unchanged++
		case Failed:
			s.Failed++
		case Unsupported:
			s.Unsupported++
		case Planned:
			s.Planned++
		}
	}
	r.Totals = s
}

// MarshalJSON adds the duration in milliseconds.
func (r *Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		*plain
		DurationMS int64 `json:"durationMs"`
	}{(*plain)(r), r.Duration.Milliseconds()})
}

// JSON writes the report as indented JSON.
func (r *Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// SummaryLine is one line saying what the run did.
func (r *Report) SummaryLine() string {
	var parts []string
	s := r.Totals
	for _, c := range []struct {
		n    int
		name string
	}{{s.Changed, "changed"}, {s.Unchanged, "unchanged"}, {s.Planned, "planned"}, {s.Failed, "failed"}, {s.Unsupported, "unsupported"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.name))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing to do")
	}
	dry := ""
	if r.DryRun {
		dry = " (dry run)"
	}
	noun := "resources"
	if s.Total == 1 {
		noun = "resource"
	}
	return fmt.Sprintf("%s %s%s: %s of %d %s in %s", r.Action, strings.Join(r.Keys, ","), dry,
		strings.Join(parts, ", "), s.Total, noun, r.Duration.Round(time.Millisecond))
}

// Err is nil when the report is OK, else a one-line error naming the
// resources that failed (the first few).
func (r *Report) Err() error {
	if r.OK() {
		return nil
	}
	var bad []string
	for _, res := range r.Results {
		if !res.OK() {
			bad = append(bad, fmt.Sprintf("%s %s: %s", res.Type, cmp.Or(res.ID, "tags "+res.Selector), res.Message))
		}
	}
	more := ""
	if len(bad) > 5 {
		more = fmt.Sprintf("; and %d more", len(bad)-5)
		bad = bad[:5]
	}
	return fmt.Errorf("%s %s: %d of %d resources failed or unsupported: %s%s", r.Action, strings.Join(r.Keys, ","),
		r.Totals.Failed+r.Totals.Unsupported, r.Totals.Total, strings.Join(bad, "; "), more)
}

// State shows a state for people; an unknown state is "?".
func state(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// Text writes one aligned line per resource and the summary. With quiet,
// only the resources that are not OK (and the table's header only if
// there is one).
func (r *Report) Text(w io.Writer, quiet bool) error {
	rows := r.Results
	if quiet {
		rows = nil
		for _, res := range r.Results {
			if !res.OK() {
				rows = append(rows, res)
			}
		}
	}
	if !quiet || len(rows) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TYPE\tID\tREGION\tFROM\tSTATE\tRESULT\tMESSAGE")
		for _, res := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s → %s\t%s\t%s\n", res.Type, cmp.Or(res.ID, "-"), res.where(), res.from(),
				state(res.Before), state(res.After), res.Outcome, oneLine(res.Message))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return r.Summary(w)
}

// Summary writes the warnings and the summary line: the text report's end.
func (r *Report) Summary(w io.Writer) error {
	for _, n := range r.Warnings {
		if _, err := fmt.Fprintf(w, "note: %s\n", n); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, r.SummaryLine())
	return err
}

// where is the region, after the account when it is another one.
func (r Result) where() string {
	if r.Account != "" {
		return r.Account + "/" + r.Region
	}
	return r.Region
}

// from is the FROM column: ids, or tags and the selector.
func (r Result) from() string {
	if r.Selector != "" {
		return r.From + " " + r.Selector
	}
	return cmp.Or(r.From, FromIDs)
}

// oneLine keeps a multi-line AWS message from breaking the table.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
