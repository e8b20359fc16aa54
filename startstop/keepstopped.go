package startstop

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The RDS events keep_stopped answers: AWS starts a DB instance or cluster
// that was stopped for 7 days.
const (
	EventInstanceRestarted = "RDS-EVENT-0154"
	EventClusterRestarted  = "RDS-EVENT-0153"
)

// The detail-types EventBridge gives those events.
const (
	DetailTypeInstance = "RDS DB Instance Event"
	DetailTypeCluster  = "RDS DB Cluster Event"
)

// RDSEvent is an RDS event as EventBridge delivers it (source aws.rds);
// only the fields keep_stopped reads.
type RDSEvent struct {
	Account    string `json:"account"`
	Region     string `json:"region"`
	DetailType string `json:"detail-type"`
	Detail     struct {
		EventID          string `json:"EventID"`
		SourceIdentifier string `json:"SourceIdentifier"`
		SourceArn        string `json:"SourceArn"`
		Message          string `json:"Message"`
	} `json:"detail"`
}

// ParseRDSEvent reads an EventBridge event; ok is false when it is not
// from aws.rds (another kind of event, such as a schedule's).
func ParseRDSEvent(data []byte) (ev RDSEvent, ok bool, err error) {
	var head struct {
		Source string `json:"source"`
	}
	if json.Unmarshal(bytes.TrimSpace(data), &head) != nil || head.Source != "aws.rds" {
		return ev, false, nil
	}
	if err := json.Unmarshal(data, &ev); err != nil {
		return ev, true, fmt.Errorf("RDS event: %v", err)
	}
	return ev, true, nil
}

// target is the type the event is about and its identifier, if it is one
// keep_stopped answers.
func (ev RDSEvent) target() (Type, string, bool) {
	id := ev.Detail.SourceIdentifier
	switch ev.Detail.EventID {
	case EventInstanceRestarted:
		return DBInstance, id, id != ""
	case EventClusterRestarted:
		return DBCluster, id, id != ""
	}
	return "", "", false
}

// KeepStopped answers an RDS event: when AWS started a DB instance
// (RDS-EVENT-0154) or cluster (RDS-EVENT-0153) after 7 days stopped and a
// key named in the config's keep_stopped lists it or selects it by tags,
// it is stopped again; any other event, or a resource no such key has, is
// a report with a note and nothing done. RDS refuses to stop a database
// until it is available, so KeepStopped waits for that up to
// opts.WaitTimeout; a database still not available then is reported
// unchanged, with Report.Retry saying why, for the caller to try again
// later. It returns an error only when nothing was attempted.
func KeepStopped(ctx context.Context, cfg aws.Config, conf *Config, ev RDSEvent, opts Options) (*Report, error) {
	start := time.Now()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	rep := &Report{Action: Stop, Keys: conf.KeepStopped, Results: []Result{}}
	done := func(note string) (*Report, error) {
		rep.Warnings = append(rep.Warnings, note)
		rep.summarize()
		rep.Duration = time.Since(start)
		return rep, nil
	}
	typ, id, ok := ev.target()
	if !ok {
		return done(fmt.Sprintf("event %s (%s) is not one keep_stopped answers (%s, %s); nothing done",
			cmp.Or(ev.Detail.EventID, "without EventID"), ev.DetailType, EventInstanceRestarted, EventClusterRestarted))
	}
	what := fmt.Sprintf("%s %s in %s", typ, id, ev.Region)
	if len(conf.KeepStopped) == 0 {
		return done(what + ": the config has no keep_stopped keys; nothing done")
	}
	plan, err := NewPlan(conf, Request{Action: Stop, Keys: conf.KeepStopped}, cmp.Or(conf.Region, cfg.Region))
	if err != nil {
		return nil, err
	}
	// Only what could be this resource is looked at: its type, region
	// and account.
	mine := func(t Type, region, role string) bool {
		return t == typ && region == ev.Region && (role == "" || accountOf(role) == ev.Account)
	}
	search := &Plan{Action: Stop, Keys: plan.Keys, from: map[resource]string{}}
	for _, b := range plan.Batches {
		if !mine(b.Type, b.Region, b.Role) {
			continue
		}
		for _, bid := range b.IDs {
			if strings.EqualFold(bid, id) {
				search.add(b, bid, "", b.Selected[bid])
			}
		}
	}
	for _, s := range plan.Selectors {
		if mine(s.Type, s.Region, s.Role) {
			search.Selectors = append(search.Selectors, s)
		}
	}
	r := newRunner(cfg, search, opts)
	work, cancel := workContext(ctx, opts.DeadlineMargin)
	defer cancel()
	r.assumeRoles(work, search)
	failed := r.resolve(work, search)
	var found *Batch
	for i := range search.Batches {
		for _, bid := range search.Batches[i].IDs {
			if strings.EqualFold(bid, id) {
				b := search.Batches[i]
				b.IDs, b.Selected = []string{bid}, map[string]string{bid: b.Selected[bid]}
				if b.Selected[bid] == "" {
					b.Selected = nil
				}
				found = &b
			}
		}
	}
	if found == nil {
		if len(failed) > 0 {
			// A selector that could not be resolved may have had it: that
			// must not pass silently.
			rep.Results = failed
			rep.summarize()
			rep.Duration = time.Since(start)
			return rep, nil
		}
		return done(what + ": no keep_stopped key lists or selects it; nothing done")
	}
	final := &Plan{Action: Stop, Keys: conf.KeepStopped, Batches: []Batch{*found}, from: map[resource]string{}}
	r.report = &Report{Action: Stop, Keys: conf.KeepStopped, Results: []Result{}}
	r.prepare(work, final)
	r.keepStopped(work, *found)
	r.finish(work)
	r.report.Duration = time.Since(start)
	return r.report, nil
}

// keepStopped waits until b's one database is available (or stopped
// already), then stops it the usual way.
func (r *runner) keepStopped(ctx context.Context, b Batch) {
	k, _ := lookup(b.Type)
	cfg, err := r.configFor(b.Role, b.ExternalID, b.Region)
	if err != nil {
		res := b.result(b.IDs[0])
		res.Outcome, res.Message = Failed, err.Error()
		r.set(res)
		return
	}
	ctx = withLane(ctx, b.Account(), b.Region)
	w := k.New(r, k, cfg, b)
	until := time.Now().Add(r.opts.WaitTimeout)
	id := b.IDs[0]
	for {
		states, err := w.describe(ctx, b.IDs)
		if err != nil {
			res := b.result(id)
			res.Outcome, res.Message = Failed, failure(err, k.Describe.Op)
			r.set(res)
			return
		}
		st, ok := states[id]
		switch {
		case !ok, st.Name == "available", st.Name == "stopped", st.Name == "stopping":
			r.work(ctx, k, w, b) // describes again: a missing one is reported so
			return
		}
		if left := time.Until(until); left > 0 && sleep(ctx, min(left, r.opts.PollInterval)) {
			continue
		}
		res := b.result(id)
		res.Before, res.After, res.Outcome = st.Name, st.Name, Unchanged
		res.Message = fmt.Sprintf("not stopped yet: %s is %s (RDS stops it only once available); retry later", k.Noun, st.Name)
		r.report.Retry = res.Message
		r.set(res)
		return
	}
}
