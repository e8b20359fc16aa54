package startstop

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
)

// Unit tests of the Auto Scaling, ECS and Redshift workers' decisions and
// call order, with fakes for what moto cannot produce: transitional
// states, a call failing between the save and the scale.

func TestParseCapacity(t *testing.T) {
	tests := []struct {
		v    string
		want capacity
		err  string
	}{
		{"1,4,2", capacity{1, 4, 2}, ""},
		{"0,3,0", capacity{0, 3, 0}, ""},
		{" 2, 2 ,2", capacity{2, 2, 2}, ""},
		{"1,2", capacity{}, `tag awsutils:capacity is "1,2", want min,max,desired; fix or delete the tag (nothing changed)`},
		{"1,2,3,4", capacity{}, "want min,max,desired"},
		{"a,b,c", capacity{}, "want min,max,desired"},
		{"-1,2,1", capacity{}, "want min,max,desired"},
		{"", capacity{}, "want min,max,desired"},
		{"3,2,1", capacity{}, "min ≤ desired ≤ max"},
		{"1,3,0", capacity{}, "min ≤ desired ≤ max"},
		{"0,0,0", capacity{}, "max above 0"},
		{"1,99999999999,1", capacity{}, "want min,max,desired"},
	}
	for _, tt := range tests {
		got, err := parseCapacity(tt.v)
		if tt.err == "" {
			if err != nil || got != tt.want {
				t.Errorf("%q: %v %v, want %v", tt.v, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%q: %v, want error with %q", tt.v, err, tt.err)
		}
	}
}

func TestParseDesired(t *testing.T) {
	for v, want := range map[string]int32{"3": 3, " 10 ": 10, "0": -1, "-2": -1, "x": -1, "1,2": -1, "": -1} {
		got, err := parseDesired(v)
		if want < 0 {
			if err == nil || !strings.Contains(err.Error(), `tag awsutils:capacity is "`+v+`", want the desired count`) {
				t.Errorf("%q: %d %v, want an error", v, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", v, got, err, want)
		}
	}
}

// namedDecision is a row of a decide table of resources in state st,
// named for the case.
type namedDecision[S any] struct {
	name string
	a    Action
	st   S
	act  bool
	o    Outcome
	msg  string
}

func checkNamedDecisions[S any](t *testing.T, decide func(Action, S) (bool, Outcome, string), tests []namedDecision[S]) {
	t.Helper()
	for _, tt := range tests {
		act, o, msg := decide(tt.a, tt.st)
		if act != tt.act || o != tt.o || !strings.Contains(msg, tt.msg) {
			t.Errorf("%s: %v %s %q, want %v %s %q", tt.name, act, o, msg, tt.act, tt.o, tt.msg)
		}
	}
}

func TestDecideASG(t *testing.T) {
	saved := &capacity{1, 4, 2}
	checkNamedDecisions(t, decideASG, []namedDecision[asgGroup]{
		{"stop running", Stop, asgGroup{cap: capacity{1, 4, 2}, instances: 2, inService: 2}, true, "", ""},
		{"stop running over a stale tag", Stop, asgGroup{cap: capacity{1, 4, 2}, saved: &capacity{5, 5, 5}}, true, "", ""},
		{"stop idle (desired 0, max above 0)", Stop, asgGroup{cap: capacity{0, 3, 0}}, true, "", ""},
		{"stop at 0 with tag", Stop, asgGroup{saved: saved}, false, Unchanged, "already scaled to 0; capacity 1,4,2 saved in tag awsutils:capacity"},
		{"stop at 0 without tag", Stop, asgGroup{}, false, Unchanged, "already scaled to 0 and no saved capacity"},
		{"stop with a malformed tag", Stop, asgGroup{cap: capacity{1, 1, 1}, tagErr: badTag("x", "min,max,desired")}, false, Failed, `tag awsutils:capacity is "x"`},
		{"stop while deleting", Stop, asgGroup{cap: capacity{1, 1, 1}, deleting: true}, false, Failed, "being deleted"},
		{"start at 0 with tag", Start, asgGroup{saved: saved}, true, "", ""},
		{"start while instances terminate", Start, asgGroup{saved: saved, instances: 2}, true, "", ""},
		{"start at 0 without tag", Start, asgGroup{}, false, Failed, "no saved capacity (tag awsutils:capacity); start it by hand once"},
		{"start with a malformed tag", Start, asgGroup{tagErr: badTag("1,2", "min,max,desired")}, false, Failed, `tag awsutils:capacity is "1,2", want min,max,desired; fix or delete the tag (nothing changed)`},
		{"start not at 0", Start, asgGroup{cap: capacity{1, 4, 2}}, false, Unchanged, "not scaled to 0 (min,max,desired 1,4,2)"},
		{"start not at 0 with a stale tag", Start, asgGroup{cap: capacity{0, 0, 1}, saved: saved}, false, Unchanged, "not scaled to 0"},
	})
}

// The state names of groups and services, and where a wait stands in
// each.
func TestScalingStateAndSettle(t *testing.T) {
	asg, ecs := &asgWorker{k: &asgKind}, &ecsWorker{k: &ecsKind}
	tests := []struct {
		w           worker
		got, want   string
		start, stop progress
	}{
		{asg, asgGroup{cap: capacity{1, 4, 2}, instances: 2, inService: 2}.name(), "running", reached, moving},
		{asg, asgGroup{cap: capacity{1, 4, 2}, instances: 2, inService: 1}.name(), "starting", moving, moving},
		{asg, asgGroup{cap: capacity{0, 3, 0}}.name(), "running", reached, moving},
		{asg, asgGroup{instances: 1}.name(), "stopping", moving, moving},
		{asg, asgGroup{}.name(), "stopped", moving, reached},
		{asg, asgGroup{deleting: true}.name(), "deleting", broke, broke},
		{ecs, ecsSvc{status: "ACTIVE", desired: 2, running: 2}.name(), "running", reached, moving},
		{ecs, ecsSvc{status: "ACTIVE", desired: 2, running: 1, pending: 1}.name(), "starting", moving, moving},
		{ecs, ecsSvc{status: "ACTIVE", running: 1}.name(), "stopping", moving, moving},
		{ecs, ecsSvc{status: "ACTIVE", pending: 1}.name(), "stopping", moving, moving},
		{ecs, ecsSvc{status: "ACTIVE"}.name(), "stopped", moving, reached},
		{ecs, ecsSvc{status: "DRAINING"}.name(), "draining", broke, broke},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%d: %s, want %s", i, tt.got, tt.want)
		}
		st := resState{Name: tt.got}
		if p, _ := tt.w.settle(Start, st); p != tt.start {
			t.Errorf("%d: start, %s: %v, want %v", i, st.Name, p, tt.start)
		}
		if p, _ := tt.w.settle(Stop, st); p != tt.stop {
			t.Errorf("%d: stop, %s: %v, want %v", i, st.Name, p, tt.stop)
		}
	}
}

func TestDecideECS(t *testing.T) {
	checkNamedDecisions(t, decideECS, []namedDecision[ecsSvc]{
		{"stop running", Stop, ecsSvc{status: "ACTIVE", desired: 3, running: 3, saved: -1}, true, "", ""},
		{"stop at 0 with tag", Stop, ecsSvc{status: "ACTIVE", saved: 3}, false, Unchanged, "already at desired count 0; 3 saved in tag awsutils:capacity"},
		{"stop at 0 without tag", Stop, ecsSvc{status: "ACTIVE", saved: -1}, false, Unchanged, "no saved count"},
		{"stop draining", Stop, ecsSvc{status: "DRAINING", desired: 1, saved: -1}, false, Failed, "ECS service is draining (being deleted)"},
		{"start at 0 with tag", Start, ecsSvc{status: "ACTIVE", saved: 3}, true, "", ""},
		{"start while tasks stop", Start, ecsSvc{status: "ACTIVE", running: 2, saved: 3}, true, "", ""},
		{"start at 0 without tag", Start, ecsSvc{status: "ACTIVE", saved: -1}, false, Failed, "no saved count (tag awsutils:capacity); start it by hand once"},
		{"start with a malformed tag", Start, ecsSvc{status: "ACTIVE", saved: -1, tagErr: badTag("x", "the desired count")}, false, Failed, `tag awsutils:capacity is "x"`},
		{"start not at 0", Start, ecsSvc{status: "ACTIVE", desired: 2, saved: -1}, false, Unchanged, "not at desired count 0 (desired 2)"},
	})
}

func TestDecideRedshift(t *testing.T) {
	checkDecisions(t, decideRedshift, []decision{
		{Stop, "available", true, "", ""},
		// moto pauses a paused cluster; AWS refuses: decided here.
		{Stop, "paused", false, Unchanged, "already paused"},
		{Stop, "pausing", false, Unchanged, "already pausing"},
		{Stop, "resuming", false, Failed, "Redshift cluster is resuming; can be paused only when available"},
		{Stop, "modifying", false, Failed, "can be paused only when available"},
		{Start, "paused", true, "", ""},
		{Start, "available", false, Unchanged, "already available"},
		{Start, "resuming", false, Unchanged, "already resuming"},
		{Start, "pausing", false, Failed, "Redshift cluster is pausing; can be resumed only when paused"},
	})
	w := &redshiftWorker{k: &redshiftKind}
	for _, tt := range []struct {
		a  Action
		st string
		p  progress
	}{{Stop, "paused", reached}, {Stop, "pausing", moving}, {Start, "available", reached}, {Start, "resuming", moving}, {Start, "paused", fellBack}} {
		if p, _ := w.settle(tt.a, resState{Name: tt.st}); p != tt.p {
			t.Errorf("settle %s %s: %v, want %v", tt.a, tt.st, p, tt.p)
		}
	}
}

// callLog logs the calls that change a fake's resources; fail names an
// operation that fails. mu also guards the fake's own fields.
type callLog struct {
	mu   sync.Mutex
	log  []string
	fail string
}

// logCall logs op and refuses it, with code, when it is the one to fail.
func (c *callLog) logCall(op, code string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, op)
	if op == c.fail {
		return &smithy.GenericAPIError{Code: code, Message: op + " refused", Fault: smithy.FaultClient}
	}
	return nil
}

// fakeGroups keeps groups and logs the calls that change them.
type fakeGroups struct {
	callLog
	groups map[string]*astypes.AutoScalingGroup
}

// change logs op and, unless it is the one to fail, applies it under the
// lock.
func (f *fakeGroups) change(op string, apply func()) error {
	if err := f.logCall(op, "ValidationError"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	apply()
	return nil
}

func (f *fakeGroups) DescribeAutoScalingGroups(_ context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &autoscaling.DescribeAutoScalingGroupsOutput{}
	for _, n := range in.AutoScalingGroupNames {
		if g, ok := f.groups[n]; ok {
			out.AutoScalingGroups = append(out.AutoScalingGroups, *g)
		}
	}
	return out, nil
}

func (f *fakeGroups) UpdateAutoScalingGroup(_ context.Context, in *autoscaling.UpdateAutoScalingGroupInput, _ ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error) {
	if err := f.change("UpdateAutoScalingGroup", func() {
		g := f.groups[*in.AutoScalingGroupName]
		g.MinSize, g.MaxSize, g.DesiredCapacity = in.MinSize, in.MaxSize, in.DesiredCapacity
	}); err != nil {
		return nil, err
	}
	return &autoscaling.UpdateAutoScalingGroupOutput{}, nil
}

func (f *fakeGroups) CreateOrUpdateTags(_ context.Context, in *autoscaling.CreateOrUpdateTagsInput, _ ...func(*autoscaling.Options)) (*autoscaling.CreateOrUpdateTagsOutput, error) {
	if err := f.change("CreateOrUpdateTags", func() {
		for _, tag := range in.Tags {
			g := f.groups[*tag.ResourceId]
			g.Tags = append(g.Tags, astypes.TagDescription{Key: tag.Key, Value: tag.Value})
		}
	}); err != nil {
		return nil, err
	}
	return &autoscaling.CreateOrUpdateTagsOutput{}, nil
}

func (f *fakeGroups) DeleteTags(_ context.Context, in *autoscaling.DeleteTagsInput, _ ...func(*autoscaling.Options)) (*autoscaling.DeleteTagsOutput, error) {
	if err := f.change("DeleteTags", func() {
		for _, tag := range in.Tags {
			f.groups[*tag.ResourceId].Tags = nil
		}
	}); err != nil {
		return nil, err
	}
	return &autoscaling.DeleteTagsOutput{}, nil
}

func asGroup(name string, c capacity, tag string) *astypes.AutoScalingGroup {
	g := &astypes.AutoScalingGroup{AutoScalingGroupName: aws.String(name),
		MinSize: aws.Int32(c.Min), MaxSize: aws.Int32(c.Max), DesiredCapacity: aws.Int32(c.Desired)}
	if tag != "" {
		g.Tags = []astypes.TagDescription{{Key: aws.String(capacityTag), Value: aws.String(tag)}}
	}
	return g
}

func testASG(a Action, f *fakeGroups, ids ...string) *Report {
	r := testRunner(a, AutoScalingGroup, Options{}, ids...)
	b := Batch{Region: "r", Type: AutoScalingGroup, IDs: ids}
	r.work(context.Background(), &asgKind, &asgWorker{r: r, k: &asgKind, c: f}, b)
	r.finish(context.Background())
	return r.report
}

// The capacity is saved before the group is scaled to 0 and dropped only
// after it was restored: a failure between the two calls loses nothing.
func TestASGCallOrder(t *testing.T) {
	tests := []struct {
		name    string
		a       Action
		tag     string
		cap     capacity
		fail    string
		log     []string
		o       Outcome
		msg     string
		wantCap capacity
		wantTag string
	}{
		{"stop", Stop, "", capacity{1, 4, 2}, "", []string{"CreateOrUpdateTags", "UpdateAutoScalingGroup"}, Changed,
			"saved min,max,desired 1,4,2 in tag awsutils:capacity; scaled to 0", capacity{}, "1,4,2"},
		{"stop, save fails", Stop, "", capacity{1, 4, 2}, "CreateOrUpdateTags", []string{"CreateOrUpdateTags"}, Failed,
			"CreateOrUpdateTags: ValidationError: CreateOrUpdateTags refused (nothing changed)", capacity{1, 4, 2}, ""},
		{"stop, scale fails", Stop, "", capacity{1, 4, 2}, "UpdateAutoScalingGroup", []string{"CreateOrUpdateTags", "UpdateAutoScalingGroup"}, Failed,
			"(capacity 1,4,2 saved in tag awsutils:capacity)", capacity{1, 4, 2}, "1,4,2"},
		{"start", Start, "1,4,2", capacity{}, "", []string{"UpdateAutoScalingGroup", "DeleteTags"}, Changed,
			"restored min,max,desired 1,4,2 from tag awsutils:capacity", capacity{1, 4, 2}, ""},
		{"start, restore fails", Start, "1,4,2", capacity{}, "UpdateAutoScalingGroup", []string{"UpdateAutoScalingGroup"}, Failed,
			"(capacity 1,4,2 still saved in tag awsutils:capacity)", capacity{}, "1,4,2"},
		{"start, untag fails", Start, "1,4,2", capacity{}, "DeleteTags", []string{"UpdateAutoScalingGroup", "DeleteTags"}, Changed,
			"restored min,max,desired 1,4,2 from tag awsutils:capacity; the tag is left: DeleteTags: ValidationError", capacity{1, 4, 2}, "1,4,2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeGroups{groups: map[string]*astypes.AutoScalingGroup{"g": asGroup("g", tt.cap, tt.tag)}, callLog: callLog{fail: tt.fail}}
			rep := testASG(tt.a, f, "g")
			res := rep.Results[0]
			if res.Outcome != tt.o || !strings.Contains(res.Message, tt.msg) {
				t.Errorf("%s %q, want %s %q", res.Outcome, res.Message, tt.o, tt.msg)
			}
			if strings.Join(f.log, " ") != strings.Join(tt.log, " ") {
				t.Errorf("calls %v, want %v", f.log, tt.log)
			}
			g := readGroup(*f.groups["g"])
			tag := ""
			if g.saved != nil {
				tag = g.saved.String()
			}
			if g.cap != tt.wantCap || tag != tt.wantTag {
				t.Errorf("group %v tag %q, want %v %q", g.cap, tag, tt.wantCap, tt.wantTag)
			}
		})
	}
}

// Without DescribeAutoScalingGroups a stop cannot save the capacity and a
// start cannot read it: both fail, nothing changed.
func TestASGDescribeDenied(t *testing.T) {
	for _, a := range []Action{Stop, Start} {
		f := &fakeGroups{groups: map[string]*astypes.AutoScalingGroup{"g": asGroup("g", capacity{1, 1, 1}, "")}}
		r := testRunner(a, AutoScalingGroup, Options{}, "g")
		w := &deniedDescribe{asgWorker{r: r, k: &asgKind, c: f}}
		r.work(context.Background(), &asgKind, w, Batch{Region: "r", Type: AutoScalingGroup, IDs: []string{"g"}})
		res := r.report.Results[0]
		if res.Outcome != Failed || res.Message != "cannot read the group's capacity without autoscaling:DescribeAutoScalingGroups; nothing changed" || len(f.log) != 0 {
			t.Errorf("%s: %+v, calls %v", a, res, f.log)
		}
		if len(r.report.Warnings) != 1 || !strings.Contains(r.report.Warnings[0], "autoscaling:DescribeAutoScalingGroups is not allowed") {
			t.Errorf("%s: notes %q", a, r.report.Warnings)
		}
	}
}

type deniedDescribe struct{ asgWorker }

func (deniedDescribe) describe(context.Context, []string) (map[string]resState, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "no", Fault: smithy.FaultClient}
}

// fakeECS records DescribeServices calls: at most 10 services of one
// cluster each.
type fakeECS struct {
	callLog // the calls that change a service
	calls   [][]string
}

func (f *fakeECS) record(op string) error { return f.logCall(op, "ClientException") }

func (f *fakeECS) DescribeServices(_ context.Context, in *ecs.DescribeServicesInput, _ ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, append([]string{*in.Cluster}, in.Services...))
	out := &ecs.DescribeServicesOutput{}
	if *in.Cluster == "gone" {
		return nil, &smithy.GenericAPIError{Code: "ClusterNotFoundException", Message: "Cluster not found.", Fault: smithy.FaultClient}
	}
	for _, s := range in.Services {
		if s == "deleted" {
			out.Services = append(out.Services, ecstypes.Service{ServiceName: aws.String(s), Status: aws.String("INACTIVE")})
			continue
		}
		out.Services = append(out.Services, ecstypes.Service{ServiceName: aws.String(s), Status: aws.String("ACTIVE"), DesiredCount: 1, RunningCount: 1})
	}
	return out, nil
}

func (f *fakeECS) UpdateService(context.Context, *ecs.UpdateServiceInput, ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error) {
	return &ecs.UpdateServiceOutput{}, f.record("UpdateService")
}

func (f *fakeECS) TagResource(context.Context, *ecs.TagResourceInput, ...func(*ecs.Options)) (*ecs.TagResourceOutput, error) {
	return &ecs.TagResourceOutput{}, f.record("TagResource")
}

func (f *fakeECS) UntagResource(context.Context, *ecs.UntagResourceInput, ...func(*ecs.Options)) (*ecs.UntagResourceOutput, error) {
	return &ecs.UntagResourceOutput{}, f.record("UntagResource")
}

// As for groups: the count is saved before the service is set to 0 and
// dropped only after it was restored.
func TestECSCallOrder(t *testing.T) {
	running := ecstypes.Service{ServiceArn: aws.String("arn"), Status: aws.String("ACTIVE"), DesiredCount: 3, RunningCount: 3}
	stopped := ecstypes.Service{ServiceArn: aws.String("arn"), Status: aws.String("ACTIVE"),
		Tags: []ecstypes.Tag{{Key: aws.String(capacityTag), Value: aws.String("3")}}}
	tests := []struct {
		name string
		a    Action
		svc  ecstypes.Service
		fail string
		log  string
		o    Outcome
		msg  string
	}{
		{"stop", Stop, running, "", "TagResource UpdateService", Changed, "saved desired count 3 in tag awsutils:capacity; set to 0"},
		{"stop, save fails", Stop, running, "TagResource", "TagResource", Failed, "TagResource: ClientException: TagResource refused (nothing changed)"},
		{"stop, scale fails", Stop, running, "UpdateService", "TagResource UpdateService", Failed, "(desired count 3 saved in tag awsutils:capacity)"},
		{"start", Start, stopped, "", "UpdateService UntagResource", Changed, "restored desired count 3 from tag awsutils:capacity"},
		{"start, restore fails", Start, stopped, "UpdateService", "UpdateService", Failed, "(desired count 3 still saved in tag awsutils:capacity)"},
		{"start, untag fails", Start, stopped, "UntagResource", "UpdateService UntagResource", Changed, "restored desired count 3 from tag awsutils:capacity; the tag is left: UntagResource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeECS{callLog: callLog{fail: tt.fail}}
			w := &ecsWorker{r: testRunner(tt.a, ECSService, Options{}, "c/s"), k: &ecsKind, c: f}
			s := readService(tt.svc)
			res := w.act(context.Background(), Result{Type: ECSService, ID: "c/s", Region: "r", Before: s.name()}, resState{Name: s.name(), extra: s})
			if res.Outcome != tt.o || !strings.Contains(res.Message, tt.msg) {
				t.Errorf("%s %q, want %s %q", res.Outcome, res.Message, tt.o, tt.msg)
			}
			if got := strings.Join(f.log, " "); got != tt.log {
				t.Errorf("calls %s, want %s", got, tt.log)
			}
		})
	}
}

func TestECSDescribeChunks(t *testing.T) {
	var ids []string
	for i := range 23 {
		ids = append(ids, "a/s"+string(rune('a'+i)))
	}
	ids = append(ids, "b/x", "gone/y", "b/deleted")
	f := &fakeECS{}
	r := testRunner(Stop, ECSService, Options{}, ids...)
	w := &ecsWorker{r: r, k: &ecsKind, c: f}
	states, err := w.describe(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	perCluster := map[string]int{}
	for _, c := range f.calls {
		perCluster[c[0]]++
		if len(c)-1 > ecsPerCall {
			t.Errorf("%d services in one call", len(c)-1)
		}
	}
	if perCluster["a"] != 3 || perCluster["b"] != 1 || perCluster["gone"] != 1 || len(f.calls) != 5 {
		t.Errorf("calls per cluster %v", perCluster)
	}
	if len(states) != 24 || states["a/sa"].Name != "running" {
		t.Errorf("%d states, a/sa %+v", len(states), states["a/sa"])
	}
	for _, absent := range []string{"gone/y", "b/deleted"} {
		if _, ok := states[absent]; ok {
			t.Errorf("%s described", absent)
		}
	}
}
