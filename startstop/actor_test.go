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
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"
)

// Unit tests of the actors' decisions with in-memory fakes: the cases moto
// cannot produce (transitional states, a start that falls back to stopped,
// errors that do not name the bad id, RDS refusals).

// decision is a row of a decide table: in state st, action a is taken
// (act) or else ends in o with a message containing msg.
type decision struct {
	a   Action
	st  string
	act bool
	o   Outcome
	msg string
}

func checkDecisions(t *testing.T, decide func(Action, string) (bool, Outcome, string), tests []decision) {
	t.Helper()
	for _, tt := range tests {
		act, o, msg := decide(tt.a, tt.st)
		if act != tt.act || o != tt.o || !strings.Contains(msg, tt.msg) {
			t.Errorf("%s %s: %v %s %q, want %v %s %q", tt.a, tt.st, act, o, msg, tt.act, tt.o, tt.msg)
		}
	}
}

func TestDecideEC2(t *testing.T) {
	checkDecisions(t, decideEC2, []decision{
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
	})
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
		k, _ := lookup(tt.t)
		act, o, msg := k.New(nil, k, aws.Config{}, Batch{}).decide(tt.a, resState{Name: tt.st})
		if act != tt.act || o != tt.o || !strings.Contains(msg, tt.msg) {
			t.Errorf("%s %s %s: %v %s %q, want %v %s %q", tt.t, tt.a, tt.st, act, o, msg, tt.act, tt.o, tt.msg)
		}
	}
}

// fakeEC2 keeps instance states; ids in reject fail any call that contains
// them with an error that does not name them, so only splitting isolates
// them. fallBack instances go back to stopped after a start. ids in deny
// the role may not start or stop: as EC2 does, a call naming any of them is
// refused with UnauthorizedOperation, which names them only in its encoded
// message (also in plain text with plainDenial); denyDescribe refuses
// every describe.
type fakeEC2 struct {
	mu           sync.Mutex
	state        map[string]string
	reject       map[string]bool
	fallBack     map[string]bool
	deny         map[string]bool
	plainDenial  bool
	denyDescribe bool
	calls        map[string]int
	// noHibernate instances refuse a stop with Hibernate as EC2 does
	// (UnsupportedHibernationConfiguration), naming none of them;
	// hibernated records the instances a stop hibernated.
	noHibernate map[string]bool
	hibernated  []string
}

const notAuthorized = "You are not authorized to perform this operation. "

// fakeEncoded stands for the encoded authorization message of a refusal of
// id; fakeDecode reads it back.
func fakeEncoded(id string) string { return "enc_" + strings.ReplaceAll(id, "-", "_") }

func (f *fakeEC2) denied(op string, ids []string) error {
	for _, id := range ids {
		if f.deny[id] {
			msg := notAuthorized
			if f.plainDenial {
				msg += "User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: ec2:" + op +
					" on resource: arn:aws:ec2:r:123456789012:instance/" + id + " because no identity-based policy allows the ec2:" + op + " action. "
			}
			return &smithy.GenericAPIError{Code: "UnauthorizedOperation", Fault: smithy.FaultClient,
				Message: msg + "Encoded authorization failure message: " + fakeEncoded(id)}
		}
	}
	return nil
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
	if f.denyDescribe {
		return nil, &smithy.GenericAPIError{Code: "UnauthorizedOperation", Message: notAuthorized, Fault: smithy.FaultClient}
	}
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

func (f *fakeEC2) change(ids []string, to string, dry *bool) ([]ec2types.InstanceStateChange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// Permissions first, as EC2 checks them (a dry run checks nothing else).
	if err := f.denied(map[string]string{"running": "StartInstances", "stopped": "StopInstances"}[to], ids); err != nil {
		return nil, err
	}
	if aws.ToBool(dry) {
		return nil, &smithy.GenericAPIError{Code: "DryRunOperation", Message: "Request would have succeeded, but DryRun flag is set.", Fault: smithy.FaultClient}
	}
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
	ch, err := f.change(in.InstanceIds, "running", in.DryRun)
	if err != nil {
		return nil, err
	}
	return &ec2.StartInstancesOutput{StartingInstances: ch}, nil
}

func (f *fakeEC2) StopInstances(_ context.Context, in *ec2.StopInstancesInput, _ ...func(*ec2.Options)) (*ec2.StopInstancesOutput, error) {
	f.count("StopInstances")
	if aws.ToBool(in.Hibernate) {
		f.count("StopInstances+Hibernate")
		for _, id := range in.InstanceIds {
			if f.noHibernate[id] {
				return nil, &smithy.GenericAPIError{Code: "UnsupportedHibernationConfiguration", Fault: smithy.FaultClient,
					Message: "For hibernation, the instance must be configured for hibernation."}
			}
		}
		defer func() {
			f.mu.Lock()
			f.hibernated = append(f.hibernated, in.InstanceIds...)
			f.mu.Unlock()
		}()
	}
	ch, err := f.change(in.InstanceIds, "stopped", in.DryRun)
	if err != nil {
		return nil, err
	}
	return &ec2.StopInstancesOutput{StoppingInstances: ch}, nil
}

func testRunner(a Action, t Type, opts Options, ids ...string) *runner {
	plan := &Plan{Action: a, Keys: []string{"k"}, Batches: []Batch{{Region: "r", Type: t, IDs: ids}}}
	r := newRunner(aws.Config{}, plan, opts.withDefaults())
	r.prepare(context.Background(), plan)
	return r
}

// testEC2 runs b through the EC2 worker with the fake client f.
func testEC2(r *runner, f ec2API, b Batch) {
	k, _ := lookup(EC2Instance)
	r.work(context.Background(), k, newEC2Worker(r, f, &fakeASG{}, b), b)
}

// testRDS runs b through its RDS worker with the fake client f.
func testRDS(r *runner, f rdsAPI, b Batch) {
	k, _ := lookup(b.Type)
	var w worker = &dbInstanceWorker{rdsWorker{r: r, c: f, k: k}}
	if b.Type == DBCluster {
		w = &dbClusterWorker{rdsWorker{r: r, c: f, k: k}}
	}
	r.work(context.Background(), k, w, b)
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
	testEC2(r, f, Batch{Region: "r", Type: EC2Instance, IDs: ids})
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
	testEC2(r, f, Batch{Region: "r", Type: EC2Instance, IDs: ids})
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
	r.wait(context.Background(), &ec2Kind, newEC2Worker(r, f, &fakeASG{}, Batch{Region: "r"}), []Result{{Type: EC2Instance, ID: "i-0000000000000000a", Region: "r", Before: "running", After: "stopping", Outcome: Changed}})
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
			testRDS(r, f, Batch{Region: "r", Type: DBInstance, IDs: []string{id}})
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
			testEC2(r, f, Batch{Region: "r", Type: EC2Instance, IDs: ids})
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

// fakeDecode answers as STS DecodeAuthorizationMessage does for the
// fake's encoded messages.
func fakeDecode(_ context.Context, region, encoded string) (string, error) {
	id := strings.ReplaceAll(strings.TrimPrefix(encoded, "enc_"), "_", "-")
	return `{"allowed":false,"explicitDeny":false,"matchedStatements":{"items":[]},"failures":{"items":[]},` +
		`"context":{"principal":{"id":"AROAEXAMPLE:s","arn":"arn:aws:sts::123456789012:assumed-role/r/s"},` +
		`"action":"ec2:StopInstances","resource":"arn:aws:ec2:` + region + `:123456789012:instance/` + id + `",` +
		`"conditions":{"items":[{"key":"aws:SourceIp","values":{"items":[{"value":"192.0.2.1"}]}}]}}}`, nil
}

func refuseDecode(context.Context, string, string) (string, error) {
	return "", &smithy.GenericAPIError{Code: "AccessDenied", Fault: smithy.FaultClient,
		Message: "User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: sts:DecodeAuthorizationMessage"}
}

func fakeIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("i-%017x", i+1)
	}
	return ids
}

// Instances the role may not touch fail alone, with the reason; the others
// are acted on, in few calls.
func TestEC2PermissionDeniedIsolated(t *testing.T) {
	decoded := func(id string) string {
		return "StopInstances: UnauthorizedOperation: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform ec2:StopInstances on arn:aws:ec2:r:123456789012:instance/" +
			id + ": no policy allows it (decoded authorization message)"
	}
	raw := func(id string) string {
		return "StopInstances: UnauthorizedOperation: " + notAuthorized + "Encoded authorization failure message: " + fakeEncoded(id)
	}
	ids := fakeIDs(200)
	tests := []struct {
		name         string
		n            int   // instances, all running
		deny         []int // indexes of the ones the role may not stop
		plain        bool
		denyDescribe bool
		decode       func(context.Context, string, string) (string, error)
		dryRun       bool
		wantMsg      func(id string) string
		calls        int // StopInstances, exactly: the halves are always the same
		describes    int
		notes        []string
	}{
		{name: "one of three, decoded", n: 3, deny: []int{1}, decode: fakeDecode, wantMsg: decoded, calls: 5, describes: 1},
		{name: "one of three, decode refused", n: 3, deny: []int{1}, decode: refuseDecode, wantMsg: raw, calls: 5, describes: 1,
			notes: []string{"sts:DecodeAuthorizationMessage is not allowed"}},
		{name: "describe refused too (the original role)", n: 3, deny: []int{1}, denyDescribe: true, decode: refuseDecode, wantMsg: raw, calls: 5, describes: 1,
			notes: []string{"ec2:DescribeInstances is not allowed", "sts:DecodeAuthorizationMessage is not allowed"}},
		{name: "named in plain text", n: 3, deny: []int{1}, plain: true, decode: fakeDecode, wantMsg: decoded, calls: 2, describes: 1},
		{name: "first and last of three", n: 3, deny: []int{0, 2}, decode: fakeDecode, wantMsg: decoded, calls: 5, describes: 1},
		// The act-first call, then two calls per split on the way down to
		// each of the two (the first split is shared).
		{name: "two of 200", n: 200, deny: []int{17, 150}, decode: fakeDecode, wantMsg: decoded, calls: 29, describes: 1},
		{name: "dry run", n: 3, deny: []int{1}, decode: fakeDecode, dryRun: true, wantMsg: decoded, calls: 5, describes: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeEC2{state: map[string]string{}, deny: map[string]bool{}, plainDenial: tt.plain, denyDescribe: tt.denyDescribe}
			for _, id := range ids[:tt.n] {
				f.state[id] = "running"
			}
			for _, i := range tt.deny {
				f.deny[ids[i]] = true
			}
			r := testRunner(Stop, EC2Instance, Options{DryRun: tt.dryRun}, ids[:tt.n]...)
			r.decode = tt.decode
			testEC2(r, f, Batch{Region: "r", Type: EC2Instance, IDs: ids[:tt.n]})
			r.finish(context.Background())
			res := byID(r.report)
			for _, id := range ids[:tt.n] {
				got := res[id]
				switch {
				case f.deny[id]:
					if got.Outcome != Failed || got.Message != tt.wantMsg(id) || f.state[id] != "running" {
						t.Errorf("%s (denied): %s %q, state %s; want failed %q", id, got.Outcome, got.Message, f.state[id], tt.wantMsg(id))
					}
				case tt.dryRun:
					if got.Outcome != Planned || f.state[id] != "running" {
						t.Errorf("%s: %+v, state %s; want planned", id, got, f.state[id])
					}
				default:
					if got.Outcome != Changed || f.state[id] != "stopped" {
						t.Errorf("%s: %+v, state %s; want changed", id, got, f.state[id])
					}
				}
			}
			if n := f.calls["StopInstances"]; n != tt.calls || f.calls["DescribeInstances"] != tt.describes {
				t.Errorf("calls %v; want %d StopInstances and %d DescribeInstances", f.calls, tt.calls, tt.describes)
			}
			if len(r.report.Warnings) != len(tt.notes) {
				t.Errorf("notes %q, want %q", r.report.Warnings, tt.notes)
			}
			for i, n := range tt.notes {
				if i < len(r.report.Warnings) && !strings.Contains(r.report.Warnings[i], n) {
					t.Errorf("note %q, want it to contain %q", r.report.Warnings[i], n)
				}
			}
			for _, n := range r.report.Warnings {
				if strings.Contains(n, "192.0.2.1") {
					t.Errorf("a condition of the decoded message reached the report: %q", n)
				}
			}
		})
	}
}

// A role that may touch none of 200 instances costs a bounded number of
// calls, and every instance fails saying it was refused.
func TestEC2PermissionDeniedEverywhereIsBounded(t *testing.T) {
	ids := fakeIDs(200)
	f := &fakeEC2{state: map[string]string{}, deny: map[string]bool{}}
	for _, id := range ids {
		f.state[id], f.deny[id] = "running", true
	}
	r := testRunner(Stop, EC2Instance, Options{}, ids...)
	r.decode = fakeDecode
	testEC2(r, f, Batch{Region: "r", Type: EC2Instance, IDs: ids})
	r.finish(context.Background())
	cut := 0
	for _, res := range r.report.Results {
		if res.Outcome != Failed || !strings.Contains(res.Message, "not authorized to perform ec2:StopInstances") {
			t.Errorf("%s: %s %q", res.ID, res.Outcome, res.Message)
		}
		if strings.Contains(res.Message, "not split further after 64 calls") {
			cut++
		}
	}
	if n := f.calls["StopInstances"]; n > 1+ec2SplitCalls {
		t.Errorf("%d StopInstances calls, want at most %d", n, 1+ec2SplitCalls)
	}
	if cut == 0 {
		t.Error("no instance says its batch was not split further")
	}
	t.Logf("calls %v; %d of 200 failed as part of a batch not split further", f.calls, cut)
}

// A hibernating stop refused for some instances of a batch, without
// naming them (what moto cannot answer): the batch is split until each
// refused instance is alone, which is stopped plainly and reported so; the
// others hibernate.
func TestEC2HibernateFallsBackPerInstance(t *testing.T) {
	ids := fakeIDs(16)
	f := &fakeEC2{state: map[string]string{}, noHibernate: map[string]bool{ids[3]: true, ids[12]: true}}
	for _, id := range ids {
		f.state[id] = "running"
	}
	r := testRunner(Stop, EC2Instance, Options{}, ids...)
	testEC2(r, f, Batch{Region: "r", Type: EC2Instance, IDs: ids, Fields: map[string]any{"hibernate": true}})
	r.finish(context.Background())
	res := byID(r.report)
	for _, id := range ids {
		want := "hibernated"
		if f.noHibernate[id] {
			want = "hibernation not configured; stopped"
		}
		if got := res[id]; got.Outcome != Changed || got.Message != want || f.state[id] != "stopped" {
			t.Errorf("%s: %+v, state %s; want changed, %q", id, got, f.state[id], want)
		}
	}
	if len(f.hibernated) != 14 || slices.Contains(f.hibernated, ids[3]) {
		t.Errorf("hibernated %d instances: %v", len(f.hibernated), f.hibernated)
	}
	if f.calls["DescribeInstances"] != 0 {
		t.Errorf("%d describes: a refused hibernation needs none", f.calls["DescribeInstances"])
	}
	// Two refused instances among 16: about 2·log2(16) calls each.
	if n := f.calls["StopInstances"]; n > 20 {
		t.Errorf("%d StopInstances calls", n)
	}
	t.Logf("calls %v", f.calls)
}

// Without hibernate, no stop asks for it; a start never does.
func TestEC2NoHibernateUnlessAsked(t *testing.T) {
	ids := fakeIDs(3)
	for _, tt := range []struct {
		a      Action
		fields map[string]any
		from   string
	}{{Stop, nil, "running"}, {Stop, map[string]any{"hibernate": false}, "running"}, {Start, map[string]any{"hibernate": true}, "stopped"}} {
		f := &fakeEC2{state: map[string]string{}}
		for _, id := range ids {
			f.state[id] = tt.from
		}
		r := testRunner(tt.a, EC2Instance, Options{}, ids...)
		testEC2(r, f, Batch{Region: "r", Type: EC2Instance, IDs: ids, Fields: tt.fields})
		r.finish(context.Background())
		if f.calls["StopInstances+Hibernate"] != 0 || r.report.Totals.Changed != 3 {
			t.Errorf("%s %v: calls %v, %s", tt.a, tt.fields, f.calls, r.report.SummaryLine())
		}
	}
}

// fakeASG answers DescribeAutoScalingInstances from member (instance ->
// group), or with err.
type fakeASG struct {
	mu     sync.Mutex
	member map[string]string
	err    error
	calls  int
}

func (f *fakeASG) DescribeAutoScalingInstances(_ context.Context, in *autoscaling.DescribeAutoScalingInstancesInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if len(in.InstanceIds) > asgChunk {
		return nil, &smithy.GenericAPIError{Code: "ValidationError", Message: "more than 50 instance ids", Fault: smithy.FaultClient}
	}
	if f.err != nil {
		return nil, f.err
	}
	out := &autoscaling.DescribeAutoScalingInstancesOutput{}
	for _, id := range in.InstanceIds {
		if g := f.member[id]; g != "" {
			out.AutoScalingInstances = append(out.AutoScalingInstances, asgtypes.AutoScalingInstanceDetails{InstanceId: aws.String(id), AutoScalingGroupName: aws.String(g)})
		}
	}
	return out, nil
}

// Members of an Auto Scaling group are refused before the act-first call,
// at one Auto Scaling call per 50 instances; refused that permission, or
// failing, the check says so once and the worker acts as before.
func TestEC2AutoScalingMembers(t *testing.T) {
	ids := fakeIDs(120)
	for _, tt := range []struct {
		name                      string
		asg                       *fakeASG
		changed, unsupported, bad int
		note                      string
	}{
		{"two members", &fakeASG{member: map[string]string{ids[7]: "web", ids[99]: "batch"}}, 118, 2, 0, ""},
		{"check denied", &fakeASG{err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized", Fault: smithy.FaultClient}}, 120, 0, 0,
			"autoscaling:DescribeAutoScalingInstances is not allowed in r"},
		{"check failing", &fakeASG{err: &smithy.GenericAPIError{Code: "InternalFailure", Message: "oops", Fault: smithy.FaultServer}}, 120, 0, 0,
			"EC2 instances in r were not checked for Auto Scaling group membership: DescribeAutoScalingInstances: InternalFailure: oops"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeEC2{state: map[string]string{}}
			for _, id := range ids {
				f.state[id] = "running"
			}
			r := testRunner(Stop, EC2Instance, Options{}, ids...)
			k, _ := lookup(EC2Instance)
			b := Batch{Region: "r", Type: EC2Instance, IDs: ids}
			r.work(context.Background(), k, newEC2Worker(r, f, tt.asg, b), b)
			r.finish(context.Background())
			tot := r.report.Totals
			if tot.Changed != tt.changed || tot.Unsupported != tt.unsupported || tot.Failed != tt.bad {
				t.Fatalf("%s, want %d changed, %d unsupported, %d failed", r.report.SummaryLine(), tt.changed, tt.unsupported, tt.bad)
			}
			res := byID(r.report)
			if tt.unsupported > 0 {
				if got := res[ids[7]]; got.Message != "member of Auto Scaling group web; list the group under autoscaling.group" || f.state[ids[7]] != "running" {
					t.Errorf("member: %+v, state %s", got, f.state[ids[7]])
				}
			}
			if tt.note != "" && (len(r.report.Warnings) != 1 || !strings.Contains(r.report.Warnings[0], tt.note)) {
				t.Errorf("notes %q, want one saying %q", r.report.Warnings, tt.note)
			}
			// 120 instances: 3 Auto Scaling calls (at most 50 ids each);
			// refused or failing, the first one says it all.
			wantASG := 3
			if tt.note != "" {
				wantASG = 1
			}
			if tt.asg.calls != wantASG || f.calls["DescribeInstances"] != 0 || f.calls["StopInstances"] != 1 {
				t.Errorf("calls: %d Auto Scaling (want %d), EC2 %v", tt.asg.calls, wantASG, f.calls)
			}
		})
	}
}

// fakeDocDB is a DocumentDB cluster and its instance as the RDS API shows
// them (engine docdb). moto has no DocumentDB engine, so DocumentDB is
// covered by this fake; Neptune, which moto has, is proven on moto.
type fakeDocDB struct {
	rdsAPI
	mu      sync.Mutex
	status  string
	stopped int
	started int
}

func (f *fakeDocDB) DescribeDBClusters(_ context.Context, in *rds.DescribeDBClustersInput, _ ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Contains(in.Filters[0].Values, "docs1") {
		return &rds.DescribeDBClustersOutput{}, nil
	}
	return &rds.DescribeDBClustersOutput{DBClusters: []rdstypes.DBCluster{{DBClusterIdentifier: aws.String("docs1"), Engine: aws.String("docdb"), Status: aws.String(f.status)}}}, nil
}

func (f *fakeDocDB) DescribeDBInstances(context.Context, *rds.DescribeDBInstancesInput, ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error) {
	return &rds.DescribeDBInstancesOutput{DBInstances: []rdstypes.DBInstance{{DBInstanceIdentifier: aws.String("docs1-a"), Engine: aws.String("docdb"),
		DBClusterIdentifier: aws.String("docs1"), DBInstanceStatus: aws.String("available")}}}, nil
}

func (f *fakeDocDB) StopDBCluster(_ context.Context, in *rds.StopDBClusterInput, _ ...func(*rds.Options)) (*rds.StopDBClusterOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped++
	f.status = "stopping"
	return &rds.StopDBClusterOutput{DBCluster: &rdstypes.DBCluster{DBClusterIdentifier: in.DBClusterIdentifier, Status: aws.String("stopping")}}, nil
}

func (f *fakeDocDB) StartDBCluster(_ context.Context, in *rds.StartDBClusterInput, _ ...func(*rds.Options)) (*rds.StartDBClusterOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started++
	f.status = "starting"
	return &rds.StartDBClusterOutput{DBCluster: &rdstypes.DBCluster{DBClusterIdentifier: in.DBClusterIdentifier, Status: aws.String("starting")}}, nil
}

// A DocumentDB cluster is stopped and started as rds.db_cluster; its
// instance listed as rds.db_instance is unsupported, naming the cluster.
func TestDocumentDBCluster(t *testing.T) {
	f := &fakeDocDB{status: "available"}
	r := testRunner(Stop, DBCluster, Options{}, "docs1")
	testRDS(r, f, Batch{Region: "r", Type: DBCluster, IDs: []string{"docs1"}})
	r.finish(context.Background())
	if got := r.report.Results[0]; got.Outcome != Changed || got.Before != "available" || got.After != "stopping" || f.stopped != 1 {
		t.Errorf("stop: %+v, %d stop calls", got, f.stopped)
	}
	f.status = "stopped"
	r = testRunner(Start, DBCluster, Options{}, "docs1")
	testRDS(r, f, Batch{Region: "r", Type: DBCluster, IDs: []string{"docs1"}})
	r.finish(context.Background())
	if got := r.report.Results[0]; got.Outcome != Changed || f.started != 1 {
		t.Errorf("start: %+v", got)
	}
	r = testRunner(Stop, DBInstance, Options{}, "docs1-a")
	testRDS(r, f, Batch{Region: "r", Type: DBInstance, IDs: []string{"docs1-a"}})
	r.finish(context.Background())
	if got := r.report.Results[0]; got.Outcome != Unsupported || got.Message != "member of cluster docs1; list the cluster under rds.db_cluster" {
		t.Errorf("member: %+v", got)
	}
}
