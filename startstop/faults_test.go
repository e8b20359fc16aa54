package startstop

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/awsutils/awsutils/internal/testbed"
)

// TestRunUnderThrottling: 100 instances and one id that does not exist,
// behind a proxy that throttles half of the EC2 and RDS calls
// (RequestLimitExceeded / Throttling in each service's shape). The SDK's
// retries carry the 100 to stopped; the bad id alone fails, by name.
func TestRunUnderThrottling(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	ids := testbed.RunInstances(t, b.ec2, 100)
	testbed.CreateDBInstance(t, b.rds, "pg-throttled")
	const bad = "i-0123456789abcdef0"
	// Seeded, with a cap so that backoff keeps the test short while still
	// throttling many calls, several of them more than once.
	if err := b.proxy.SetFaults(testbed.Faults{Seed: 3, Throttle: 0.5, MaxFaults: 8, Logf: t.Logf}); err != nil {
		t.Fatal(err)
	}
	conf, err := Parse("faults.yml", []byte(fmt.Sprintf("region_name: %s\nk:\n  - type: ec2.instance\n    ids: [%s, %s]\n  - type: rds.db_instance\n    ids: [pg-throttled]\n",
		testbed.Region, strings.Join(ids, ", "), bad)))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), b.cfg, conf, Request{Action: Stop, Keys: []string{"k"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := b.proxy.Stats()
	t.Logf("%s; throttled %d of %d requests %v", rep.SummaryLine(), st.Injected(), st.Requests, st.FaultsByOp)
	if st.Injected() == 0 {
		t.Fatal("nothing was throttled: the test proved nothing")
	}
	if rep.Totals.Changed != 101 || rep.Totals.Failed != 1 {
		t.Fatalf("want 101 changed and 1 failed: %s\n%+v", rep.SummaryLine(), rep.Results)
	}
	if err := rep.Err(); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("Err() = %v, want it to name %s", err, bad)
	}
	for id, s := range testbed.InstanceStates(t, b.ec2, ids...) {
		if s != "stopped" {
			t.Errorf("%s is %s in moto", id, s)
		}
	}
	if s := testbed.DBInstanceStatus(t, b.rds, "pg-throttled"); s != "stopped" {
		t.Errorf("pg-throttled is %s in moto", s)
	}
}

// TestRunDeadlineNamesWhatWasNotReached: the deadline passes with 10 of
// 30 DB instances stopped, 4 stop calls in flight (the proxy holds them)
// and 16 not yet made. Every resource the report calls changed is stopped
// in moto, every one it calls not reached is untouched, and a call cut off
// in flight is reported as such ("state unknown"): the report never claims
// what it cannot know. The proxy lets exactly 10 stop calls through and
// holds the rest, so the split is the same on any machine.
func TestRunDeadlineNamesWhatWasNotReached(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	var dbs []string
	for i := range 30 {
		id := fmt.Sprintf("db-%02d", i)
		testbed.CreateDBInstance(t, b.rds, id)
		dbs = append(dbs, id)
	}
	conf, err := Parse("deadline.yml", []byte(fmt.Sprintf("region_name: %s\nk:\n  - type: rds.db_instance\n    ids: [%s]\n", testbed.Region, strings.Join(dbs, ", "))))
	if err != nil {
		t.Fatal(err)
	}
	const concurrency, reached, inFlight = 4, 10, 4
	gate := b.proxy.Hold(testbed.IsOp("StopDBInstance"))
	gate.ReleaseN(reached)
	ctx, expire := testbed.ManualDeadline(t.Context())
	done := stopInBackground(ctx, t, b, conf, Options{Concurrency: concurrency})
	wait := waitCtx(t)
	// Every call slot taken by a held call means the 10 let through have
	// been answered.
	if err := gate.WaitHeld(wait, inFlight); err != nil {
		t.Fatal(err)
	}
	expire()
	rep := <-done
	if rep == nil {
		t.FailNow()
	}
	if err := gate.Wait(wait, func(c testbed.GateCounts) bool { return c.Abandoned == inFlight }); err != nil {
		t.Fatal(err)
	}
	if c := gate.Counts(); c.Arrived != reached+inFlight || c.Passed != reached {
		t.Errorf("gate %+v, want %d passed and %d given up", c, reached, inFlight)
	}

	notReached, unknown := 0, 0
	for _, r := range rep.Results {
		status := testbed.DBInstanceStatus(t, b.rds, r.ID)
		switch {
		case r.Outcome == Changed:
			if status != "stopped" {
				t.Errorf("%s reported changed, moto has it %s", r.ID, status)
			}
		case r.Outcome == Failed && r.Message == "not reached before deadline":
			notReached++
			if status != "available" {
				t.Errorf("%s reported not reached, moto has it %s", r.ID, status)
			}
		case r.Outcome == Failed && r.Message == "deadline reached during StopDBInstance; state unknown":
			unknown++
			// Here it is known: the proxy never forwarded the call.
			if status != "available" {
				t.Errorf("%s was cut off in flight, moto has it %s", r.ID, status)
			}
		default:
			t.Errorf("%s: unexpected %s: %s", r.ID, r.Outcome, r.Message)
		}
	}
	t.Logf("%s; %d not reached, %d cut off in flight", rep.SummaryLine(), notReached, unknown)
	if rep.Totals.Changed != reached || unknown != inFlight || notReached != len(dbs)-reached-inFlight {
		t.Fatalf("want %d changed, %d cut off in flight, %d not reached: %s", reached, inFlight, len(dbs)-reached-inFlight, rep.SummaryLine())
	}
}
