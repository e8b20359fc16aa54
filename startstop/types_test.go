package startstop

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/awsutils/awsutils/internal/testbed"
)

// A Neptune cluster goes under rds.db_cluster (the same RDS API as
// Aurora); its member listed as a DB instance is unsupported, naming the
// cluster. Stop, stop again, start: moto's state follows.
func TestRunNeptuneCluster(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	b.moto.CreateNeptuneCluster(t, "graph1", "graph1-a")
	conf := parse(t, fmt.Sprintf("region_name: %s\nk:\n  - type: rds.db_cluster\n    ids: [graph1]\n  - type: rds.db_instance\n    ids: [graph1-a]\n", testbed.Region))

	rep := run(t, b, conf, Stop, Options{}, "k")
	wantOutcome(t, rep, "graph1", Changed, "")
	wantOutcome(t, rep, "graph1-a", Unsupported, "member of cluster graph1; list the cluster under rds.db_cluster")
	if s := testbed.DBClusterStatus(t, b.rds, "graph1"); s != "stopped" {
		t.Errorf("graph1 is %s in moto", s)
	}
	rep = run(t, b, conf, Stop, Options{}, "k")
	wantOutcome(t, rep, "graph1", Unchanged, "already stopped")
	rep = run(t, b, conf, Start, Options{}, "k")
	wantOutcome(t, rep, "graph1", Changed, "")
	if s := testbed.DBClusterStatus(t, b.rds, "graph1"); s != "available" {
		t.Errorf("graph1 is %s in moto after start", s)
	}
}

// An instance of an Auto Scaling group is refused, not stopped (the group
// would replace it), at one Auto Scaling call for the batch and no EC2
// describe; the others are stopped in one call.
func TestRunAutoScalingMember(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	members := b.moto.ScalingClients(t).CreateAutoScalingGroup(t, "web", 2, 2, 2)
	plain := testbed.RunInstances(t, b.ec2, 2)
	conf := parse(t, fmt.Sprintf("region_name: %s\nk:\n  - type: ec2.instance\n    ids: [%s]\n", testbed.Region, strings.Join(append(slices.Clone(plain), members...), ", ")))
	b.proxy.ResetStats()
	rep := run(t, b, conf, Stop, Options{}, "k")
	for _, id := range members {
		wantOutcome(t, rep, id, Unsupported, "member of Auto Scaling group web; list the group under autoscaling.group")
	}
	for _, id := range plain {
		wantOutcome(t, rep, id, Changed, "")
	}
	for id, s := range testbed.InstanceStates(t, b.ec2, members...) {
		if s != "running" {
			t.Errorf("member %s is %s", id, s)
		}
	}
	if ops := b.ops(); ops["DescribeAutoScalingInstances"] != 1 || ops["StopInstances"] != 1 || ops["DescribeInstances"] != 0 {
		t.Errorf("calls %v, want 1 DescribeAutoScalingInstances and 1 StopInstances", ops)
	}

	// Without the permission the run says so once and acts as before the
	// check: the members are stopped too.
	b.proxy.Deny(testbed.Denial{Ops: []string{"DescribeAutoScalingInstances"}})
	rep = run(t, b, conf, Start, Options{}, "k")
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "autoscaling:DescribeAutoScalingInstances is not allowed in "+testbed.Region) {
		t.Errorf("notes %q", rep.Warnings)
	}
	for _, id := range plain {
		wantOutcome(t, rep, id, Changed, "")
	}
	for _, id := range members {
		wantOutcome(t, rep, id, Unchanged, "already running")
	}
}

// hibernate: true asks StopInstances to hibernate. One instance is not
// configured for it: the proxy answers a hibernating stop that names it
// with EC2's UnsupportedHibernationConfiguration (moto ignores Hibernate),
// without naming it, as EC2 does. That instance is stopped plainly and says
// so; the others hibernate.
func TestRunHibernateFallback(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	ids := testbed.RunInstances(t, b.ec2, 4)
	cannot := ids[2]
	b.proxy.Refuse(testbed.HibernationRefusal(cannot))
	conf := parse(t, fmt.Sprintf("region_name: %s\nk:\n  - type: ec2.instance\n    hibernate: true\n    ids: [%s]\n", testbed.Region, strings.Join(ids, ", ")))
	b.proxy.ResetStats()
	rep := run(t, b, conf, Stop, Options{}, "k")
	if !rep.OK() || rep.Totals.Changed != 4 {
		t.Fatalf("%s\n%+v", rep.SummaryLine(), rep.Results)
	}
	for _, id := range ids {
		want := "hibernated"
		if id == cannot {
			want = "hibernation not configured; stopped"
		}
		if r := wantOutcome(t, rep, id, Changed, want); r.Message != want {
			t.Errorf("%s: %q, want %q", id, r.Message, want)
		}
	}
	for id, s := range testbed.InstanceStates(t, b.ec2, ids...) {
		if s != "stopped" {
			t.Errorf("%s is %s", id, s)
		}
	}
	st := b.proxy.Stats()
	// 4 instances, one refused: the refused call, two halves (one refused),
	// their halves (one refused), the plain stop: 6 calls.
	if st.Refused != 3 || st.Ops["StopInstances"] != 6 || st.Ops["DescribeInstances"] != 0 {
		t.Errorf("%d refused, calls %v", st.Refused, st.Ops)
	}
}

// status reports every resource as start and stop see it and changes
// nothing: moto's states are the same before and after, and no call but a
// describe is made.
func TestRunStatusChangesNothing(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	ids := testbed.RunInstances(t, b.ec2, 3)
	members := b.moto.ScalingClients(t).CreateAutoScalingGroup(t, "web", 1, 1, 1)
	testbed.CreateDBInstance(t, b.rds, "pg1")
	testbed.CreateAuroraCluster(t, b.rds, "aurora1", "aurora1-a")
	b.moto.CreateNeptuneCluster(t, "graph1")
	const missing = "i-0123456789abcdef0"
	conf := parse(t, fmt.Sprintf("region_name: %s\nk:\n  - type: ec2.instance\n    ids: [%s, %s, %s]\n  - type: rds.db_instance\n    ids: [pg1, aurora1-a]\n  - type: rds.db_cluster\n    ids: [aurora1, graph1]\n",
		testbed.Region, strings.Join(ids, ", "), members[0], missing))
	// One stopped instance, so that status shows both states.
	run(t, b, parse(t, fmt.Sprintf("region_name: %s\ns:\n  - type: ec2.instance\n    ids: [%s]\n", testbed.Region, ids[1])), Stop, Options{}, "s")

	before := snapshot(t, b, ids, members)
	b.proxy.ResetStats()
	rep := run(t, b, conf, Status, Options{}, "k")
	after := snapshot(t, b, ids, members)
	if !maps.Equal(before, after) {
		t.Errorf("status changed moto's state:\nbefore %v\nafter  %v", before, after)
	}
	for op := range b.ops() {
		if !strings.HasPrefix(op, "Describe") {
			t.Errorf("status made a %s call", op)
		}
	}
	for id, want := range map[string]string{ids[0]: "running", ids[1]: "stopped", "pg1": "available", "aurora1": "available", "graph1": "available"} {
		if r := wantOutcome(t, rep, id, Unchanged, ""); r.Before != want || r.After != want {
			t.Errorf("%s: %s → %s, want %s", id, r.Before, r.After, want)
		}
	}
	wantOutcome(t, rep, members[0], Unsupported, "member of Auto Scaling group web")
	wantOutcome(t, rep, "aurora1-a", Unsupported, "member of cluster aurora1")
	wantOutcome(t, rep, missing, Failed, "instance not found in "+testbed.Region)
	if rep.Action != Status || rep.OK() {
		t.Errorf("%s", rep.SummaryLine())
	}

	// Describe refused for EC2: its instances say so, RDS is still shown.
	b.proxy.Deny(testbed.Denial{Ops: []string{"DescribeInstances"}})
	rep = run(t, b, conf, Status, Options{}, "k")
	wantOutcome(t, rep, ids[0], Failed, "state unknown: ec2:DescribeInstances is not allowed in "+testbed.Region)
	wantOutcome(t, rep, "pg1", Unchanged, "")
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "ec2:DescribeInstances is not allowed") {
		t.Errorf("notes %q", rep.Warnings)
	}
	if after := snapshot(t, b, ids, members); !maps.Equal(before, after) {
		t.Errorf("status changed moto's state: %v", after)
	}
}

// snapshot is moto's state of what TestRunStatusChangesNothing lists.
func snapshot(t *testing.T, b *bed, ids, members []string) map[string]string {
	t.Helper()
	s := testbed.InstanceStates(t, b.ec2, append(slices.Clone(ids), members...)...)
	for _, db := range []string{"pg1", "aurora1-a"} {
		s[db] = testbed.DBInstanceStatus(t, b.rds, db)
	}
	for _, cl := range []string{"aurora1", "graph1"} {
		s[cl] = testbed.DBClusterStatus(t, b.rds, cl)
	}
	return s
}

// The deadline passes while the Auto Scaling member check is in flight
// (the proxy holds it): the instances are reported not reached and stay
// as they were, since no stop was sent.
func TestRunDeadlineDuringMemberCheck(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	ids := testbed.RunInstances(t, b.ec2, 3)
	conf := parse(t, fmt.Sprintf("region_name: %s\nk:\n  - type: ec2.instance\n    ids: [%s]\n", testbed.Region, strings.Join(ids, ", ")))
	gate := b.proxy.Hold(testbed.IsOp("DescribeAutoScalingInstances"))
	ctx, expire := testbed.ManualDeadline(t.Context())
	done := stopInBackground(ctx, t, b, conf, Options{})
	if err := gate.WaitHeld(waitCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	expire()
	rep := <-done
	if rep == nil {
		t.FailNow()
	}
	for _, id := range ids {
		wantOutcome(t, rep, id, Failed, "not reached before deadline")
	}
	if n := b.calls("StopInstances"); n != 0 {
		t.Errorf("%d StopInstances calls after the check was cut off", n)
	}
	for id, s := range testbed.InstanceStates(t, b.ec2, ids...) {
		if s != "running" {
			t.Errorf("%s is %s", id, s)
		}
	}
}
