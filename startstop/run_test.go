package startstop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
)

func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }

// bed is moto server, a proxy in front of it, and clients that go through
// the proxy (so the test sees every call the code under test makes, and can
// hold or refuse them) or straight to moto (for setting up and checking).
// Each bed is a moto account of its own and counts calls at its own proxy,
// so the tests that use one run in parallel.
type bed struct {
	moto  *testbed.Moto
	proxy *testbed.FaultProxy
	cfg   aws.Config // through the proxy
	ec2   *ec2.Client
	rds   *rds.Client
}

func newBed(t *testing.T) *bed {
	t.Helper()
	m := testbed.StartMotoAccount(t)
	direct := m.Config(t)
	p := testbed.StartFaultProxy(t, m.Endpoint, testbed.Faults{})
	cfg := p.Config(t, m.Env(), awsclient.Options{})
	return &bed{moto: m, proxy: p, cfg: cfg, ec2: awsclient.EC2(direct), rds: awsclient.RDS(direct)}
}

// calls is the number of requests for op through the proxy.
func (b *bed) calls(op string) int { return b.proxy.Stats().Ops[op] }

// serviceCalls is the number of requests for svc ("ec2", "rds").
func (b *bed) serviceCalls(svc string) int { return b.proxy.Stats().Services[svc] }

func (b *bed) ops() map[string]int { return b.proxy.Stats().Ops }

// stopInBackground stops key k of conf through b while the test holds or
// counts its calls; the report comes on the channel.
func stopInBackground(ctx context.Context, t *testing.T, b *bed, conf *Config, opts Options) <-chan *Report {
	done := make(chan *Report, 1)
	go func() {
		rep, err := Run(ctx, b.cfg, conf, Request{Action: Stop, Keys: []string{"k"}}, opts)
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	return done
}

// waitCtx bounds a wait for a state the run must reach on its own; it only
// turns a hang into a failure.
func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func parse(t *testing.T, yaml string) *Config {
	t.Helper()
	c, err := Parse("aws_resource_start_stop.yml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// outcomes maps id -> outcome, failing on a resource reported twice.
func outcomes(t *testing.T, rep *Report) map[string]Result {
	t.Helper()
	m := map[string]Result{}
	for _, r := range rep.Results {
		if _, dup := m[r.ID]; dup {
			t.Errorf("%s reported twice", r.ID)
		}
		m[r.ID] = r
	}
	return m
}

func wantOutcome(t *testing.T, rep *Report, id string, o Outcome, msg string) Result {
	t.Helper()
	r, ok := outcomes(t, rep)[id]
	if !ok {
		t.Fatalf("%s not in report", id)
	}
	if r.Outcome != o || !strings.Contains(r.Message, msg) {
		t.Errorf("%s: %s %q, want %s %q", id, r.Outcome, r.Message, o, msg)
	}
	return r
}

func run(t *testing.T, b *bed, conf *Config, a Action, opts Options, keys ...string) *Report {
	t.Helper()
	rep, err := Run(context.Background(), b.cfg, conf, Request{Action: a, Keys: keys}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != rep.Totals.Total {
		t.Errorf("summary total %d, %d results", rep.Totals.Total, len(rep.Results))
	}
	return rep
}

// The original README's example, stopped and started by key, twice.
func TestRunOriginalExample(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	ids, yaml := testbed.CreateOriginalExample(t, b.ec2, b.rds)
	conf := parse(t, yaml)

	rep := run(t, b, conf, Stop, Options{}, "dev-env")
	if !rep.OK() || rep.Totals.Changed != 4 {
		t.Fatalf("stop dev-env: %s\n%+v", rep.SummaryLine(), rep.Results)
	}
	r := wantOutcome(t, rep, ids[0], Changed, "")
	if r.Before != "running" || r.Region != testbed.Region || r.Type != EC2Instance {
		t.Errorf("result %+v", r)
	}
	if st := testbed.InstanceStates(t, b.ec2, ids...); st[ids[0]] != "stopped" || st[ids[1]] != "stopped" || st[ids[2]] != "running" {
		t.Errorf("EC2 states after stop dev-env: %v", st)
	}
	if s := testbed.DBClusterStatus(t, b.rds, "my-aurora-cluster"); s != "stopped" {
		t.Errorf("cluster %s", s)
	}
	if s := testbed.DBInstanceStatus(t, b.rds, "my-postgres"); s != "stopped" {
		t.Errorf("db instance %s", s)
	}

	// A second run finds everything stopped: RDS is not called to stop
	// anything, and EC2 gets its one idempotent StopInstances, whose
	// answer (previous state stopped) is the report, instead of a describe.
	b.proxy.ResetStats()
	rep = run(t, b, conf, Stop, Options{}, "dev-env")
	if !rep.OK() || rep.Totals.Unchanged != 4 {
		t.Fatalf("second stop: %s\n%+v", rep.SummaryLine(), rep.Results)
	}
	wantOutcome(t, rep, "my-postgres", Unchanged, "already stopped")
	wantOutcome(t, rep, ids[0], Unchanged, "already stopped")
	if n := b.calls("StopDBInstance") + b.calls("StopDBCluster"); n != 0 {
		t.Errorf("second stop made %d RDS stop calls: %v", n, b.ops())
	}
	if n, d := b.calls("StopInstances"), b.calls("DescribeInstances"); n != 1 || d != 0 {
		t.Errorf("second stop: %d StopInstances and %d DescribeInstances calls, want 1 and 0: %v", n, d, b.ops())
	}

	rep = run(t, b, conf, Start, Options{}, "dev-env", "batch_servers")
	if !rep.OK() || rep.Totals.Changed != 4 || rep.Totals.Unchanged != 1 {
		t.Fatalf("start both keys: %s\n%+v", rep.SummaryLine(), rep.Results)
	}
	wantOutcome(t, rep, ids[2], Unchanged, "already running")
	if st := testbed.InstanceStates(t, b.ec2, ids...); st[ids[0]] != "running" || st[ids[1]] != "running" {
		t.Errorf("EC2 states after start: %v", st)
	}
	if s := testbed.DBClusterStatus(t, b.rds, "my-aurora-cluster"); s != "available" {
		t.Errorf("cluster %s", s)
	}
	if s := testbed.DBInstanceStatus(t, b.rds, "my-postgres"); s != "available" {
		t.Errorf("db instance %s", s)
	}
}

// One id that does not exist costs only itself.
func TestRunMissingIDAmongValid(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	ids := testbed.RunInstances(t, b.ec2, 3)
	const missing = "i-0123456789abcdef0"
	conf := parse(t, fmt.Sprintf("region_name: %s\nk:\n  - type: ec2.instance\n    ids: [%s, %s, %s, %s]\n  - type: rds.db_instance\n    ids: [nosuchdb]\n",
		testbed.Region, ids[0], missing, ids[1], ids[2]))
	rep := run(t, b, conf, Stop, Options{}, "k")
	if rep.OK() || rep.Totals.Changed != 3 || rep.Totals.Failed != 2 {
		t.Fatalf("%s\n%+v", rep.SummaryLine(), rep.Results)
	}
	wantOutcome(t, rep, missing, Failed, "instance not found in us-east-1")
	wantOutcome(t, rep, "nosuchdb", Failed, "DB instance not found")
	if st := testbed.InstanceStates(t, b.ec2, ids...); st[ids[0]] != "stopped" || st[ids[1]] != "stopped" || st[ids[2]] != "stopped" {
		t.Errorf("states %v", st)
	}
	if err := rep.Err(); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Err() = %v, want it to name %s", err, missing)
	}
}

// A terminated instance is failed with the reason, not called.
func TestRunTerminatedInstance(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	ids := testbed.RunInstances(t, b.ec2, 2)
	if _, err := b.ec2.TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: ids[:1]}); err != nil {
		t.Fatal(err)
	}
	conf := parse(t, fmt.Sprintf("k:\n  - type: ec2.instance\n    ids: [%s, %s]\n", ids[0], ids[1]))
	rep := run(t, b, conf, Stop, Options{}, "k")
	wantOutcome(t, rep, ids[0], Failed, "terminated")
	wantOutcome(t, rep, ids[1], Changed, "")
}

// An Aurora member listed as a DB instance is unsupported, and the rest of
// the run goes on.
func TestRunAuroraMemberAsDBInstance(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	testbed.CreateAuroraCluster(t, b.rds, "aurora1", "aurora1-a")
	testbed.CreateDBInstance(t, b.rds, "pg1")
	conf := parse(t, fmt.Sprintf("region_name: %s\nk:\n  - type: rds.db_instance\n    ids: [aurora1-a, pg1]\n", testbed.Region))
	rep := run(t, b, conf, Stop, Options{}, "k")
	wantOutcome(t, rep, "aurora1-a", Unsupported, "member of cluster aurora1; list the cluster under rds.db_cluster")
	wantOutcome(t, rep, "pg1", Changed, "")
	if rep.OK() {
		t.Error("unsupported resource left the report OK")
	}
	if s := testbed.DBInstanceStatus(t, b.rds, "aurora1-a"); s != "available" {
		t.Errorf("member touched: %s", s)
	}
	if n := b.calls("StopDBInstance"); n != 1 {
		t.Errorf("%d StopDBInstance calls, want 1 (pg1 only)", n)
	}
}

// The original's IAM role cannot describe instances: act anyway, say so
// once, and still isolate a bad id.
func TestRunDescribeDenied(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	ids := testbed.RunInstances(t, b.ec2, 3)
	const missing = "i-0123456789abcdef0"
	b.proxy.Deny(testbed.Denial{Ops: []string{"DescribeInstances"}})
	conf := parse(t, fmt.Sprintf("region_name: %s\nk:\n  - type: ec2.instance\n    ids: [%s, %s, %s, %s]\n", testbed.Region, ids[0], ids[1], missing, ids[2]))

	rep := run(t, b, conf, Stop, Options{}, "k")
	for _, id := range ids {
		r := wantOutcome(t, rep, id, Changed, "")
		if r.Before != "running" {
			t.Errorf("%s before %q, want running from the StopInstances answer", id, r.Before)
		}
	}
	wantOutcome(t, rep, missing, Failed, "not found")
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "ec2:DescribeInstances is not allowed") {
		t.Errorf("notes %q", rep.Warnings)
	}
	if st := testbed.InstanceStates(t, b.ec2, ids...); st[ids[0]] != "stopped" || st[ids[2]] != "stopped" {
		t.Errorf("states %v", st)
	}
	if n := b.calls("DescribeInstances"); n != 1 {
		t.Errorf("%d DescribeInstances calls, want 1", n)
	}

	// Starting works the same way.
	rep = run(t, b, conf, Start, Options{}, "k")
	wantOutcome(t, rep, ids[1], Changed, "")
	if st := testbed.InstanceStates(t, b.ec2, ids...); st[ids[1]] != "running" {
		t.Errorf("states %v", st)
	}
}

func TestRunDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	ids := testbed.RunInstances(t, b.ec2, 2)
	testbed.CreateAuroraCluster(t, b.rds, "aurora1")
	testbed.CreateDBInstance(t, b.rds, "pg1")
	conf := parse(t, fmt.Sprintf("k:\n  - type: ec2.instance\n    ids: [%s, %s]\n  - type: rds.db_cluster\n    ids: [aurora1]\n  - type: rds.db_instance\n    ids: [pg1]\n", ids[0], ids[1]))
	rep := run(t, b, conf, Stop, Options{DryRun: true}, "k")
	if !rep.OK() || rep.Totals.Planned != 4 || !rep.DryRun {
		t.Fatalf("%s\n%+v", rep.SummaryLine(), rep.Results)
	}
	wantOutcome(t, rep, ids[0], Planned, "StopInstances would succeed")
	wantOutcome(t, rep, "pg1", Planned, "dry run")
	if st := testbed.InstanceStates(t, b.ec2, ids...); st[ids[0]] != "running" || st[ids[1]] != "running" {
		t.Errorf("dry run changed EC2: %v", st)
	}
	if testbed.DBInstanceStatus(t, b.rds, "pg1") != "available" || testbed.DBClusterStatus(t, b.rds, "aurora1") != "available" {
		t.Error("dry run changed RDS")
	}
	if n := b.calls("StopDBInstance") + b.calls("StopDBCluster"); n != 0 {
		t.Errorf("dry run made %d RDS stop calls", n)
	}
}

// 250 instances take a handful of EC2 calls, not one per instance.
func TestRunEC2CallsAreBatched(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	ids := testbed.RunInstances(t, b.ec2, 250)
	conf := parse(t, "k:\n  - type: ec2.instance\n    ids: ["+strings.Join(ids, ", ")+"]\n")
	b.proxy.ResetStats()
	rep := run(t, b, conf, Stop, Options{}, "k")
	if !rep.OK() || rep.Totals.Changed != 250 {
		t.Fatalf("%s", rep.SummaryLine())
	}
	calls := b.serviceCalls("ec2")
	t.Logf("EC2 calls for 250 instances: %v", b.ops())
	if calls > 4 {
		t.Errorf("%d EC2 calls for 250 instances, want at most 4 (2 describes, 2 stops)", calls)
	}
	stopped := 0
	for _, s := range testbed.InstanceStates(t, b.ec2, ids...) {
		if s == "stopped" {
			stopped++
		}
	}
	if stopped != 250 {
		t.Errorf("%d of 250 stopped", stopped)
	}
}

func TestRunUnknownKeyTouchesNothing(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	ids := testbed.RunInstances(t, b.ec2, 1)
	conf := parse(t, fmt.Sprintf("dev:\n  - type: ec2.instance\n    ids: [%s]\nprod:\n  - type: rds.db_instance\n    ids: [pg1]\n", ids[0]))
	b.proxy.ResetStats()
	_, err := Run(context.Background(), b.cfg, conf, Request{Action: Stop, Keys: []string{"dev", "staging"}}, Options{})
	if !errors.Is(err, ErrUnknownKey) || err.Error() != `aws_resource_start_stop.yml: no config key "staging" (keys: "dev", "prod")` {
		t.Fatalf("err = %v", err)
	}
	if st := b.proxy.Stats(); st.Requests != 0 {
		t.Errorf("calls made before the unknown key was found: %v", st.Ops)
	}
}

// Resources the run cannot reach before the deadline are reported as such,
// and the run returns at the deadline without waiting for the calls in
// flight: the proxy holds every call but the Auto Scaling membership
// check, so the deadline passes with the EC2 stop (act first) and the RDS
// describe in flight, whatever the machine's speed.
func TestRunRespectsDeadline(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	ids := testbed.RunInstances(t, b.ec2, 2)
	testbed.CreateDBInstance(t, b.rds, "pg1")
	conf := parse(t, fmt.Sprintf("k:\n  - type: ec2.instance\n    ids: [%s, %s]\n  - type: rds.db_instance\n    ids: [pg1]\n", ids[0], ids[1]))
	gate := b.proxy.Hold(func(r *http.Request) bool { return testbed.Operation(r) != "DescribeAutoScalingInstances" })
	ctx, expire := testbed.ManualDeadline(t.Context())
	done := stopInBackground(ctx, t, b, conf, Options{})
	wait := waitCtx(t)
	if err := gate.WaitHeld(wait, 2); err != nil {
		t.Fatal(err)
	}
	expire()
	var rep *Report
	select {
	case rep = <-done:
	case <-wait.Done():
		t.Fatal("Run did not return after its deadline while the server held its calls")
	}
	if rep == nil {
		t.FailNow()
	}
	if rep.Totals.Failed != 3 {
		t.Fatalf("%s\n%+v", rep.SummaryLine(), rep.Results)
	}
	for _, id := range ids {
		wantOutcome(t, rep, id, Failed, "deadline reached during StopInstances; state unknown")
	}
	wantOutcome(t, rep, "pg1", Failed, "not reached before deadline")
	// The held calls were given up, never forwarded: nothing changed.
	if err := gate.Wait(wait, func(c testbed.GateCounts) bool { return c.Abandoned == 2 }); err != nil {
		t.Fatal(err)
	}
	if c := gate.Counts(); c.Arrived != 2 || c.Passed != 0 {
		t.Errorf("gate %+v, want the 2 calls held and given up", c)
	}
	if st := testbed.InstanceStates(t, b.ec2, ids...); st[ids[0]] != "running" || st[ids[1]] != "running" {
		t.Errorf("states %v", st)
	}
	if s := testbed.DBInstanceStatus(t, b.rds, "pg1"); s != "available" {
		t.Errorf("pg1 is %s", s)
	}
}

// With Wait, results come once the resources reached the target.
func TestRunWait(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	ids := testbed.RunInstances(t, b.ec2, 2)
	testbed.CreateDBInstance(t, b.rds, "pg1")
	conf := parse(t, fmt.Sprintf("k:\n  - type: ec2.instance\n    ids: [%s, %s]\n  - type: rds.db_instance\n    ids: [pg1]\n", ids[0], ids[1]))
	rep := run(t, b, conf, Stop, Options{Wait: true, PollInterval: 20 * time.Millisecond}, "k")
	if !rep.OK() || rep.Totals.Changed != 3 {
		t.Fatalf("%s\n%+v", rep.SummaryLine(), rep.Results)
	}
	for _, id := range []string{ids[0], ids[1], "pg1"} {
		r := wantOutcome(t, rep, id, Changed, "reached stopped")
		if r.After != "stopped" {
			t.Errorf("%s after %q", id, r.After)
		}
	}
}

// Groups may name their own region; others use region_name or Options.Region.
func TestRunGroupRegion(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	west := awsclient.EC2(awsclient.WithRegion(b.moto.Config(t), "eu-west-1"))
	out, err := west.RunInstances(context.Background(), &ec2.RunInstancesInput{ImageId: aws.String(testbed.AMI),
		InstanceType: ec2types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Skipf("moto has no AMI %s in eu-west-1: %v", testbed.AMI, err)
	}
	westID := aws.ToString(out.Instances[0].InstanceId)
	ids := testbed.RunInstances(t, b.ec2, 1)
	conf := parse(t, fmt.Sprintf("region_name: ap-northeast-1\nk:\n  - type: ec2.instance\n    ids: [%s]\n  - type: ec2.instance\n    region: eu-west-1\n    ids: [%s]\n", ids[0], westID))
	rep := run(t, b, conf, Stop, Options{Region: testbed.Region}, "k")
	if !rep.OK() {
		t.Fatalf("%s\n%+v", rep.SummaryLine(), rep.Results)
	}
	if r := wantOutcome(t, rep, westID, Changed, ""); r.Region != "eu-west-1" {
		t.Errorf("region %s", r.Region)
	}
	if r := wantOutcome(t, rep, ids[0], Changed, ""); r.Region != testbed.Region {
		t.Errorf("region %s", r.Region)
	}
}

// The scale the product is built for: 1,000 EC2 instances, 100 DB
// instances and 20 Aurora clusters. Calls are counted exactly, and the run
// is shown to work in parallel by holding the stop calls until all five
// EC2 chunks and a full Concurrency (16) of RDS calls are in flight at once,
// which a run that waited for each call, or for one service before the
// other, never reaches. Speed is measured by the benchmarks.
func TestRunAtScale(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("scale test")
	}
	b := newBed(t)
	ids := testbed.RunInstances(t, b.ec2, 1000)
	var dbs, clusters []string
	for i := range 100 {
		dbs = append(dbs, fmt.Sprintf("db%03d", i))
		testbed.CreateDBInstance(t, b.rds, dbs[i])
	}
	for i := range 20 {
		clusters = append(clusters, fmt.Sprintf("aurora%02d", i))
		testbed.CreateAuroraCluster(t, b.rds, clusters[i])
	}
	conf := parse(t, fmt.Sprintf("k:\n  - type: ec2.instance\n    ids: [%s]\n  - type: rds.db_instance\n    ids: [%s]\n  - type: rds.db_cluster\n    ids: [%s]\n",
		strings.Join(ids, ", "), strings.Join(dbs, ", "), strings.Join(clusters, ", ")))
	b.proxy.ResetStats()
	ec2Gate := b.proxy.Hold(testbed.IsOp("StopInstances"))
	rdsGate := b.proxy.Hold(testbed.IsOp("StopDBInstance", "StopDBCluster"))
	done := stopInBackground(context.Background(), t, b, conf, Options{})
	wait := waitCtx(t)
	if err := ec2Gate.WaitHeld(wait, 1000/ec2Chunk); err != nil {
		t.Fatal(err)
	}
	if err := rdsGate.WaitHeld(wait, DefaultConcurrency); err != nil {
		t.Fatal(err)
	}
	ec2Gate.Release()
	rdsGate.Release()
	rep := <-done
	if rep == nil {
		t.FailNow()
	}
	t.Logf("%s; calls %v", rep.SummaryLine(), b.ops())
	if !rep.OK() || rep.Totals.Changed != 1120 {
		t.Fatalf("%s", rep.SummaryLine())
	}
	if n := b.serviceCalls("ec2"); n != 1000/ec2Chunk {
		t.Errorf("%d EC2 calls for 1,000 instances, want one StopInstances per %d", n, ec2Chunk)
	}
	if n := b.serviceCalls("rds"); n != 120+2 {
		t.Errorf("%d RDS calls for 120 resources, want one each plus the two describes", n)
	}
}
