package startstop

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"
)

// Unit tests of the actors' decisions with in-memory fakes: the cases moto
// cannot produce (transitional states, a start that falls back to stopped,
// errors that do not name the bad id, RDS refusals).

func TestDecideEC2(t *testing.T) {
	tests := []struct {
		a   Action
		st  string
		act bool
		o   Outcome
		msg string
	}{
		{Start, "stopped", true, "", ""},
		{Start, "running", false, Unchanged, "already running"},
		{Start, "pending", false, Unchanged, "already starting"},
		{Start, "stopping", false, Failed, "stopping"},
		{Start, "terminated", false, Failed, "terminated"},
		{Start, "shutting-down", false, Failed, "shutting down"},
		{Stop, "running", true, "", ""},
		{Stop, "stopped", false, Unchanged, "already stopped"},
		{Stop, "stopping", false, Unchanged, "already stopping"},
		{Stop, "pending", false, Failed, "pending"},
		{Stop, "terminated", false, Failed, "terminated"},
	}
	for _, tt := range tests {
		act, o, msg := decideEC2(tt.a, tt.st)
		if act != tt.act || o != tt.o || !strings.Contains(msg, tt.msg) {
			t.Errorf("%s %s: %v %s %q, want %v %s %q", tt.a, tt.st, act, o, msg, tt.act, tt.o, tt.msg)
		}
	}
}

func TestDecideRDS(t *testing.T) {
	tests := []struct {
		t   Type
		a   Action
		st  string
		act bool
		o   Outcome
		msg string
	}{
		{DBInstance, Start, "stopped", true, "", ""},
		{DBInstance, Start, "available", false, Unchanged, "already available"},
		{DBInstance, Start, "starting", false, Unchanged, "already starting"},
		{DBInstance, Start, "stopping", false, Failed, "DB instance is stopping"},
		{DBInstance, Stop, "available", true, "", ""},
		{DBInstance, Stop, "backing-up", false, Failed, "DB instance is backing-up; can be stopped only when available"},
		{DBCluster, Stop, "stopped", false, Unchanged, "already stopped"},
		{DBCluster, Start, "inaccessible-encryption-credentials-recoverable", true, "", ""},
	}
	for _, tt := range tests {
		act, o, msg := decideRDS(tt.t, tt.a, tt.st)
		if act != tt.act || o != tt.o || !strings.Contains(msg, tt.msg) {
			t.Errorf("%s %s %s: %v %s %q, want %v %s %q", tt.t, tt.a, tt.st, act, o, msg, tt.act, tt.o, tt.msg)
		}
	}
}

// fakeEC2 keeps instance states; ids in reject fail any call that contains
// them with an error that does not name them, so only splitting isolates
// them. fallBack instances go back to stopped after a start.
type fakeEC2 struct {
	mu       sync.Mutex
	state    map[string]string
	reject   map[string]bool
	fallBack map[string]bool
	calls    map[string]int
}

func (f *fakeEC2) count(op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[op]++
}

func (f *fakeEC2) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	f.count("DescribeInstances")
	f.mu.Lock()
	defer f.mu.Unlock()
	var insts []ec2types.Instance
	for _, id := range in.Filters[0].Values {
		if st, ok := f.state[id]; ok {
			i := ec2types.Instance{InstanceId: aws.String(id), State: &ec2types.InstanceState{Name: ec2types.InstanceStateName(st)}}
			if f.fallBack[id] {
				i.StateReason = &ec2types.StateReason{Message: aws.String("Client.InternalError: Client error on launch")}
			}
			insts = append(insts, i)
		}
	}
	return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{{Instances: insts}}}, nil
}

func (f *fakeEC2) change(ids []string, to string) ([]ec2types.InstanceStateChange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		if f.reject[id] {
			return nil, &smithy.GenericAPIError{Code: "IncorrectInstanceState", Message: "One or more instances are not in a valid state", Fault: smithy.FaultClient}
		}
		// As EC2 does: the whole call fails, naming the instance.
		if refused := map[string][]string{"stopped": {"pending", "terminated"}, "running": {"stopping", "terminated"}}[to]; slices.Contains(refused, f.state[id]) {
			return nil, &smithy.GenericAPIError{Code: "IncorrectInstanceState", Fault: smithy.FaultClient,
				Message: fmt.Sprintf("This instance '%s' is not in a state from which it can be %s.", id, map[string]string{"stopped": "stopped", "running": "started"}[to])}
		}
	}
	var ch []ec2types.InstanceStateChange
	for _, id := range ids {
		prev := f.state[id]
		f.state[id] = to
		if f.fallBack[id] {
			f.state[id] = "stopped"
		}
		ch = append(ch, ec2types.InstanceStateChange{InstanceId: aws.String(id),
			PreviousState: &ec2types.InstanceState{Name: ec2types.InstanceStateName(prev)},
			CurrentState:  &ec2types.InstanceState{Name: ec2types.InstanceStateName(map[string]string{"running": "pending", "stopped": "stopping"}[to])}})
	}
	return ch, nil
}

func (f *fakeEC2) StartInstances(_ context.Context, in *ec2.StartInstancesInput, _ ...func(*ec2.Options)) (*ec2.StartInstancesOutput, error) {
	f.count("StartInstances")
	ch, err := f.change(in.InstanceIds, "running")
	if err != nil {
		return nil, err
	}
	return &ec2.StartInstancesOutput{StartingInstances: ch}, nil
}

func (f *fakeEC2) StopInstances(_ context.Context, in *ec2.StopInstancesInput, _ ...func(*ec2.Options)) (*ec2.StopInstancesOutput, error) {
	f.count("StopInstances")
	ch, err := f.change(in.InstanceIds, "stopped")
	if err != nil {
		return nil, err
	}
	return &ec2.StopInstancesOutput{StoppingInstances: ch}, nil
}

func testRunner(a Action, t Type, opts Options, ids ...string) *runner {
	return newRunner(aws.Config{}, &Plan{Action: a, Keys: []string{"k"}, Batches: []Batch{{Region: "r", Type: t, IDs: ids}}}, opts.withDefaults())
}

func byID(rep *Report) map[string]Result {
	m := map[string]Result{}
	for _, r := range rep.Results {
		m[r.ID] = r
	}
	return m
}

// An error that does not name the bad instance is isolated by splitting
// the batch: the others still start, at a cost of a few calls.
func TestEC2SplitIsolatesUnnamedBadID(t *testing.T) {
	f := &fakeEC2{state: map[string]string{}, reject: map[string]bool{}}
	var ids []string
	for i := range 16 {
		id := "i-" + strings.Repeat("0", 16) + string(rune('a'+i))
		ids = append(ids, id)
		f.state[id] = "stopped"
	}
	f.reject[ids[5]] = true
	r := testRunner(Start, EC2Instance, Options{}, ids...)
	r.ec2(context.Background(), f, Batch{Region: "r", Type: EC2Instance, IDs: ids})
	r.finish(context.Background())
	res := byID(r.report)
	for i, id := range ids {
		if i == 5 {
			if res[id].Outcome != Failed || !strings.Contains(res[id].Message, "IncorrectInstanceState") {
				t.Errorf("bad id: %+v", res[id])
			}
			continue
		}
		if res[id].Outcome != Changed || f.state[id] != "running" {
			t.Errorf("%s: %+v, state %s", id, res[id], f.state[id])
		}
	}
	// The act-first call, 1 full call after the describe, then one failing
	// and one succeeding half per level.
	if n := f.calls["StartInstances"]; n > 2*4+2 {
		t.Errorf("%d StartInstances calls to isolate one id among 16", n)
	}
}

// A start that falls back to stopped (the KMS grant case) is failed when
// waiting, with the reason EC2 gives.
func TestEC2WaitStartFallsBackToStopped(t *testing.T) {
	f := &fakeEC2{state: map[string]string{"i-0000000000000000a": "stopped", "i-0000000000000000b": "stopped"},
		fallBack: map[string]bool{"i-0000000000000000b": true}}
	ids := []string{"i-0000000000000000a", "i-0000000000000000b"}
	r := testRunner(Start, EC2Instance, Options{Wait: true, PollInterval: time.Millisecond}, ids...)
	r.ec2(context.Background(), f, Batch{Region: "r", Type: EC2Instance, IDs: ids})
	r.finish(context.Background())
	res := byID(r.report)
	if a := res[ids[0]]; a.Outcome != Changed || a.After != "running" || a.Message != "reached running" {
		t.Errorf("good instance: %+v", a)
	}
	b := res[ids[1]]
	if b.Outcome != Failed || b.After != "stopped" || !strings.Contains(b.Message, "fell back to stopped") ||
		!strings.Contains(b.Message, "KMS") || !strings.Contains(b.Message, "Client error on launch") {
		t.Errorf("fallen-back instance: %+v", b)
	}
	if r.report.OK() {
		t.Error("report OK")
	}
}

func TestEC2WaitTimeout(t *testing.T) {
	// An instance stuck in stopping.
	f := &fakeEC2{state: map[string]string{"i-0000000000000000a": "stopping"}}
	r := testRunner(Stop, EC2Instance, Options{Wait: true, PollInterval: time.Millisecond, WaitTimeout: 20 * time.Millisecond}, "i-0000000000000000a")
	r.ec2Wait(context.Background(), f, []Result{{Type: EC2Instance, ID: "i-0000000000000000a", Region: "r", Before: "running", After: "stopping", Outcome: Changed}})
	r.finish(context.Background())
	got := r.report.Results[0]
	if got.Outcome != Failed || !strings.Contains(got.Message, "did not reach stopped within 20ms (last seen stopping)") {
		t.Errorf("%+v", got)
	}
}

// fakeRDS answers describes from a table and refuses stops with a given
// error.
type fakeRDS struct {
	rdsAPI
	dbs     []rdstypes.DBInstance
	stopErr error
}

func (f *fakeRDS) DescribeDBInstances(context.Context, *rds.DescribeDBInstancesInput, ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error) {
	return &rds.DescribeDBInstancesOutput{DBInstances: f.dbs}, nil
}

func (f *fakeRDS) StopDBInstance(context.Context, *rds.StopDBInstanceInput, ...func(*rds.Options)) (*rds.StopDBInstanceOutput, error) {
	return nil, f.stopErr
}

func TestRDSRefusals(t *testing.T) {
	db := func(id, replicaOf string) rdstypes.DBInstance {
		return rdstypes.DBInstance{DBInstanceIdentifier: aws.String(id), DBInstanceStatus: aws.String("available"),
			ReadReplicaSourceDBInstanceIdentifier: aws.String(replicaOf)}
	}
	tests := []struct {
		name    string
		db      rdstypes.DBInstance
		err     error
		want    Outcome
		wantMsg string
	}{
		{"read replica", db("replica1", "pg1"), &smithy.GenericAPIError{Code: "InvalidDBInstanceState", Message: "Cannot stop a read replica", Fault: smithy.FaultClient},
			Unsupported, "read replica of pg1; RDS refused StopDBInstance: InvalidDBInstanceState: Cannot stop a read replica"},
		{"state", db("pg1", ""), &smithy.GenericAPIError{Code: "InvalidDBInstanceState", Message: "Instance pg1 is not in available state.", Fault: smithy.FaultClient},
			Failed, "DB instance cannot be stopped in its current state: Instance pg1 is not in available state."},
		{"engine refuses", db("mssql1", ""), &smithy.GenericAPIError{Code: "UnsupportedDBEngineVersion", Message: "cannot stop this", Fault: smithy.FaultClient},
			Unsupported, "RDS refused StopDBInstance: UnsupportedDBEngineVersion: cannot stop this"},
		{"server fault", db("pg2", ""), &smithy.GenericAPIError{Code: "InternalFailure", Message: "oops", Fault: smithy.FaultServer},
			Failed, "StopDBInstance: InternalFailure: oops"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeRDS{dbs: []rdstypes.DBInstance{tt.db}, stopErr: tt.err}
			id := aws.ToString(tt.db.DBInstanceIdentifier)
			r := testRunner(Stop, DBInstance, Options{}, id)
			r.rds(context.Background(), f, Batch{Region: "r", Type: DBInstance, IDs: []string{id}})
			r.finish(context.Background())
			got := r.report.Results[0]
			if got.Outcome != tt.want || got.Message != tt.wantMsg {
				t.Errorf("%s %q, want %s %q", got.Outcome, got.Message, tt.want, tt.wantMsg)
			}
		})
	}
}

// Start/stop acts first and describes only a chunk whose call failed.
func TestEC2ActsFirst(t *testing.T) {
	tests := []struct {
		name      string
		action    Action
		states    []string // of i-...a, i-...b, ...
		want      []Outcome
		msg       []string
		calls     int // Start/StopInstances
		describes int
	}{
		{"all can stop", Stop, []string{"running", "running", "running"}, []Outcome{Changed, Changed, Changed}, []string{"", "", ""}, 1, 0},
		{"some already stopped", Stop, []string{"running", "stopped", "stopping"}, []Outcome{Changed, Unchanged, Unchanged}, []string{"", "already stopped", "already stopping"}, 1, 0},
		{"one pending refuses the call", Stop, []string{"running", "pending", "running"}, []Outcome{Changed, Failed, Changed}, []string{"", "pending (starting)", ""}, 2, 1},
		{"one terminated refuses the call", Start, []string{"stopped", "terminated"}, []Outcome{Changed, Failed}, []string{"", "terminated"}, 2, 1},
		{"starting a stopping one", Start, []string{"stopping", "stopped"}, []Outcome{Failed, Changed}, []string{"is stopping", ""}, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeEC2{state: map[string]string{}}
			var ids []string
			for i, st := range tt.states {
				id := "i-" + strings.Repeat("0", 16) + string(rune('a'+i))
				ids = append(ids, id)
				f.state[id] = st
			}
			r := testRunner(tt.action, EC2Instance, Options{}, ids...)
			r.ec2(context.Background(), f, Batch{Region: "r", Type: EC2Instance, IDs: ids})
			r.finish(context.Background())
			res := byID(r.report)
			for i, id := range ids {
				if res[id].Outcome != tt.want[i] || !strings.Contains(res[id].Message, tt.msg[i]) || res[id].Before != tt.states[i] {
					t.Errorf("%s (was %s): %+v; want %s %q", id, tt.states[i], res[id], tt.want[i], tt.msg[i])
				}
			}
			op := map[Action]string{Start: "StartInstances", Stop: "StopInstances"}[tt.action]
			if f.calls[op] != tt.calls || f.calls["DescribeInstances"] != tt.describes {
				t.Errorf("calls %v; want %d %s and %d DescribeInstances", f.calls, tt.calls, op, tt.describes)
			}
		})
	}
}
