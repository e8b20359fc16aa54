package startstop

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/awsutils/awsutils/internal/testbed"
)

// Auto Scaling groups, ECS services and Redshift clusters on moto: stop
// then start restores exactly, a second run is unchanged. (moto scales a
// group's instances at once, ECS's running count jumps to the desired
// count at once, and Redshift pauses and resumes at once.)
func TestRunScalingTypes(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	s := b.moto.ScalingClients(t)
	s.CreateAutoScalingGroup(t, "web", 1, 4, 2)
	s.CreateAutoScalingGroup(t, "idle", 0, 3, 0)
	s.CreateECSService(t, "prod", "api", 3)
	s.CreateECSService(t, "prod", "worker", 1)
	s.CreateRedshiftCluster(t, "dwh")
	conf := parse(t, `k:
  - type: autoscaling.group
    ids: [web, idle]
  - type: ecs.service
    ids: [prod/api, prod/worker]
  - type: redshift.cluster
    ids: [dwh]
`)
	before := map[string]testbed.Group{"web": s.Group(t, "web"), "idle": s.Group(t, "idle")}
	if before["web"].Instances != 2 {
		t.Fatalf("setup: %+v", before)
	}

	rep := run(t, b, conf, Stop, Options{Wait: true, PollInterval: 10 * time.Millisecond}, "k")
	if !rep.OK() || rep.Totals.Changed != 5 {
		t.Fatalf("stop: %s\n%+v", rep.SummaryLine(), rep.Results)
	}
	wantOutcome(t, rep, "web", Changed, "reached stopped")
	if r := wantOutcome(t, rep, "dwh", Changed, "reached paused"); r.Before != "available" || r.After != "paused" {
		t.Errorf("dwh %+v", r)
	}
	for name, want := range map[string]string{"web": "1,4,2", "idle": "0,3,0"} {
		g := s.Group(t, name)
		if g.Min != 0 || g.Max != 0 || g.Desired != 0 || g.Instances != 0 || g.Tags[capacityTag] != want {
			t.Errorf("%s after stop: %+v, want 0,0,0 and tag %s", name, g, want)
		}
	}
	for name, want := range map[string]string{"api": "3", "worker": "1"} {
		if svc := s.Service(t, "prod", name); svc.Desired != 0 || svc.Running != 0 || svc.Tags[capacityTag] != want {
			t.Errorf("%s after stop: %+v, want desired 0 and tag %s", name, svc, want)
		}
	}
	if st := s.RedshiftStatus(t, "dwh"); st != "paused" {
		t.Errorf("dwh %s", st)
	}

	b.proxy.ResetStats()
	rep = run(t, b, conf, Stop, Options{}, "k")
	if rep.Totals.Unchanged != 5 {
		t.Fatalf("second stop: %s\n%+v", rep.SummaryLine(), rep.Results)
	}
	wantOutcome(t, rep, "web", Unchanged, "already scaled to 0; capacity 1,4,2 saved in tag awsutils:capacity")
	wantOutcome(t, rep, "prod/api", Unchanged, "already at desired count 0; 3 saved")
	wantOutcome(t, rep, "dwh", Unchanged, "already paused")
	// Describe only: one call per service's chunk, one per cluster.
	if ops := b.ops(); ops["DescribeAutoScalingGroups"] != 1 || ops["DescribeServices"] != 1 || ops["DescribeClusters"] != 1 || len(ops) != 3 {
		t.Errorf("second stop's calls: %v", ops)
	}

	// Status reads what is saved and changes nothing.
	b.proxy.ResetStats()
	rep = run(t, b, conf, Status, Options{}, "k")
	if rep.Totals.Unchanged != 5 {
		t.Fatalf("status: %s\n%+v", rep.SummaryLine(), rep.Results)
	}
	if r := wantOutcome(t, rep, "web", Unchanged, "min,max,desired 0,0,0; 0 of 0 instances in service; capacity 1,4,2 saved in tag awsutils:capacity"); r.Before != "stopped" {
		t.Errorf("web status %+v", r)
	}
	wantOutcome(t, rep, "prod/api", Unchanged, "desired 0, running 0, pending 0; desired count 3 saved in tag awsutils:capacity")
	if r := wantOutcome(t, rep, "dwh", Unchanged, ""); r.Before != "paused" {
		t.Errorf("dwh status %+v", r)
	}
	for op := range b.ops() {
		if !strings.HasPrefix(op, "Describe") {
			t.Errorf("status called %s", op)
		}
	}

	rep = run(t, b, conf, Start, Options{Wait: true, PollInterval: 10 * time.Millisecond}, "k")
	if !rep.OK() || rep.Totals.Changed != 5 {
		t.Fatalf("start: %s\n%+v", rep.SummaryLine(), rep.Results)
	}
	wantOutcome(t, rep, "web", Changed, "reached running")
	wantOutcome(t, rep, "prod/api", Changed, "reached running")
	for name, g := range before {
		got := s.Group(t, name)
		if got.Min != g.Min || got.Max != g.Max || got.Desired != g.Desired || got.Instances != g.Instances || !reflect.DeepEqual(got.Tags, g.Tags) {
			t.Errorf("%s after start: %+v, want %+v", name, got, g)
		}
	}
	for name, want := range map[string]int32{"api": 3, "worker": 1} {
		if svc := s.Service(t, "prod", name); svc.Desired != want || svc.Running != want || len(svc.Tags) != 0 {
			t.Errorf("%s after start: %+v, want desired %d, no tag", name, svc, want)
		}
	}
	if st := s.RedshiftStatus(t, "dwh"); st != "available" {
		t.Errorf("dwh %s", st)
	}

	rep = run(t, b, conf, Start, Options{}, "k")
	if rep.Totals.Unchanged != 5 {
		t.Fatalf("second start: %s\n%+v", rep.SummaryLine(), rep.Results)
	}
	wantOutcome(t, rep, "web", Unchanged, "not scaled to 0 (min,max,desired 1,4,2)")
	wantOutcome(t, rep, "dwh", Unchanged, "already available")
}

// What a start must not guess, and what does not exist.
func TestRunScalingRefusals(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	s := b.moto.ScalingClients(t)
	s.CreateAutoScalingGroup(t, "zero", 0, 0, 0)
	s.CreateAutoScalingGroup(t, "badtag", 0, 0, 0)
	s.TagGroup(t, "badtag", capacityTag, "1,2")
	s.CreateAutoScalingGroup(t, "runbad", 1, 2, 1)
	s.TagGroup(t, "runbad", capacityTag, "3,2,1")
	s.CreateECSService(t, "c", "zero", 0)
	s.CreateECSService(t, "c", "badtag", 0)
	s.TagService(t, "c", "badtag", capacityTag, "many")
	conf := parse(t, `k:
  - type: autoscaling.group
    ids: [zero, badtag, runbad, nope-asg]
  - type: ecs.service
    ids: [c/zero, c/badtag, c/nope, nocluster/api]
  - type: redshift.cluster
    ids: [nope-rs]
`)
	rep := run(t, b, conf, Start, Options{}, "k")
	wantOutcome(t, rep, "zero", Failed, "scaled to 0 and no saved capacity (tag awsutils:capacity); start it by hand once")
	wantOutcome(t, rep, "badtag", Failed, `tag awsutils:capacity is "1,2", want min,max,desired; fix or delete the tag (nothing changed)`)
	wantOutcome(t, rep, "runbad", Failed, `tag awsutils:capacity is "3,2,1"`)
	wantOutcome(t, rep, "c/zero", Failed, "at desired count 0 and no saved count (tag awsutils:capacity); start it by hand once")
	wantOutcome(t, rep, "c/badtag", Failed, `tag awsutils:capacity is "many", want the desired count`)
	wantOutcome(t, rep, "c/nope", Failed, "ECS service not found in us-east-1")
	wantOutcome(t, rep, "nocluster/api", Failed, "ECS service not found in us-east-1")
	wantOutcome(t, rep, "nope-asg", Failed, "Auto Scaling group not found in us-east-1")
	wantOutcome(t, rep, "nope-rs", Failed, "Redshift cluster not found in us-east-1")
	for name, want := range map[string]testbed.Group{
		"zero":   {Tags: map[string]string{}},
		"badtag": {Tags: map[string]string{capacityTag: "1,2"}},
		"runbad": {Min: 1, Max: 2, Desired: 1, Instances: 1, Tags: map[string]string{capacityTag: "3,2,1"}},
	} {
		if got := s.Group(t, name); !reflect.DeepEqual(got, want) {
			t.Errorf("%s changed: %+v, want %+v", name, got, want)
		}
	}
	// A stop of a group whose tag cannot be read changes nothing either.
	rep = run(t, b, conf, Stop, Options{}, "k")
	wantOutcome(t, rep, "runbad", Failed, `tag awsutils:capacity is "3,2,1"`)
	wantOutcome(t, rep, "zero", Unchanged, "already scaled to 0 and no saved capacity")
	if got := s.Group(t, "runbad"); got.Desired != 1 || got.Tags[capacityTag] != "3,2,1" {
		t.Errorf("runbad changed: %+v", got)
	}
	if got := s.Service(t, "c", "badtag"); got.Tags[capacityTag] != "many" {
		t.Errorf("c/badtag changed: %+v", got)
	}
}

// A key mixing every type, acted on at once.
func TestRunEveryType(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	s := b.moto.ScalingClients(t)
	ids := testbed.RunInstances(t, b.ec2, 1)
	testbed.CreateDBInstance(t, b.rds, "pg1")
	testbed.CreateAuroraCluster(t, b.rds, "aurora1", "aurora1-a")
	s.CreateAutoScalingGroup(t, "web", 1, 2, 1)
	s.CreateECSService(t, "prod", "api", 2)
	s.CreateRedshiftCluster(t, "dwh")
	conf := parse(t, fmt.Sprintf(`k:
  - type: ec2.instance
    ids: [%s]
  - type: rds.db_instance
    ids: [pg1]
  - type: rds.db_cluster
    ids: [aurora1]
  - type: autoscaling.group
    ids: [web]
  - type: ecs.service
    ids: [prod/api]
  - type: redshift.cluster
    ids: [dwh]
`, ids[0]))
	for _, a := range []Action{Stop, Start} {
		rep := run(t, b, conf, a, Options{}, "k")
		if !rep.OK() || rep.Totals.Changed != 6 {
			t.Fatalf("%s: %s\n%+v", a, rep.SummaryLine(), rep.Results)
		}
		var order []Type
		for _, r := range rep.Results {
			order = append(order, r.Type)
		}
		if want := []Type{EC2Instance, DBCluster, DBInstance, AutoScalingGroup, ECSService, RedshiftCluster}; !reflect.DeepEqual(order, want) {
			t.Errorf("report order %v, want the registry's %v", order, want)
		}
	}
	if g := s.Group(t, "web"); g.Desired != 1 || g.Instances != 1 {
		t.Errorf("web %+v", g)
	}
}

// scalingTrio is a bed with one Auto Scaling group (web: 1,2,1), one ECS
// service (prod/api: 2 tasks) and one Redshift cluster (dwh), and a config
// whose key k lists the three.
func scalingTrio(t *testing.T) (*bed, testbed.Scaling, *Config) {
	t.Helper()
	b := newBed(t)
	s := b.moto.ScalingClients(t)
	s.CreateAutoScalingGroup(t, "web", 1, 2, 1)
	s.CreateECSService(t, "prod", "api", 2)
	s.CreateRedshiftCluster(t, "dwh")
	conf := parse(t, "k:\n  - type: autoscaling.group\n    ids: [web]\n  - type: ecs.service\n    ids: [prod/api]\n  - type: redshift.cluster\n    ids: [dwh]\n")
	return b, s, conf
}

// The Auto Scaling, ECS and Redshift workers make no call the registry
// does not name: behind a proxy refusing every other action, stop, status
// and start all work.
func TestRunScalingTypesNeedOnlyRegisteredIAM(t *testing.T) {
	t.Parallel()
	b, s, conf := scalingTrio(t)
	allowed := map[string]bool{}
	for _, typ := range []Type{AutoScalingGroup, ECSService, RedshiftCluster} {
		k, _ := lookup(typ)
		for _, a := range append(append(append([]string(nil), k.Start.IAM...), k.Stop.IAM...), k.Describe.IAM...) {
			allowed[a] = true
		}
	}
	b.proxy.Deny(testbed.Denial{Match: func(r *http.Request) bool {
		// The credential scope: AKID/date/region/service/aws4_request.
		_, scope, _ := strings.Cut(r.Header.Get("Authorization"), "Credential=")
		parts := strings.Split(scope, "/")
		return len(parts) < 4 || !allowed[parts[3]+":"+testbed.Operation(r)]
	}})
	for _, a := range []Action{Stop, Status, Start} {
		rep := run(t, b, conf, a, Options{Wait: a != Status, PollInterval: 10 * time.Millisecond}, "k")
		if !rep.OK() || (a != Status && rep.Totals.Changed != 3) || len(rep.Warnings) > 0 {
			t.Errorf("%s: %s\n%+v\n%v", a, rep.SummaryLine(), rep.Results, rep.Warnings)
		}
	}
	if n := b.proxy.Stats().Denied; n != 0 {
		t.Errorf("%d calls outside the registry's IAM actions", n)
	}
	if g := s.Group(t, "web"); g.Desired != 1 || len(g.Tags) != 0 {
		t.Errorf("web %+v", g)
	}
}

// A dry run plans what it would call and changes nothing: these APIs have
// no DryRun flag.
func TestRunScalingTypesDryRun(t *testing.T) {
	t.Parallel()
	b, s, conf := scalingTrio(t)
	rep := run(t, b, conf, Stop, Options{DryRun: true}, "k")
	if rep.Totals.Planned != 3 {
		t.Fatalf("%s\n%+v", rep.SummaryLine(), rep.Results)
	}
	wantOutcome(t, rep, "web", Planned, "dry run: would call UpdateAutoScalingGroup (Auto Scaling has no dry run; permissions not checked)")
	wantOutcome(t, rep, "prod/api", Planned, "dry run: would call UpdateService (ECS has no dry run")
	wantOutcome(t, rep, "dwh", Planned, "dry run: would call PauseCluster (Redshift has no dry run")
	for op := range b.ops() {
		if !strings.HasPrefix(op, "Describe") {
			t.Errorf("dry run called %s", op)
		}
	}
	if g := s.Group(t, "web"); g.Desired != 1 || len(g.Tags) != 0 {
		t.Errorf("web %+v", g)
	}
	if svc := s.Service(t, "prod", "api"); svc.Desired != 2 || len(svc.Tags) != 0 {
		t.Errorf("prod/api %+v", svc)
	}
	if st := s.RedshiftStatus(t, "dwh"); st != "available" {
		t.Errorf("dwh %s", st)
	}
}

// Describe calls are batched as the APIs allow: 100 groups a call, 10
// services of one cluster a call; acting is two calls a group or service
// (the save and the scale).
func TestRunScalingCallsAreBatched(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	s := b.moto.ScalingClients(t)
	var groups, services []string
	for i := range 120 {
		name := fmt.Sprintf("g%03d", i)
		s.CreateAutoScalingGroup(t, name, 0, 1, 0)
		groups = append(groups, name)
	}
	for i := range 25 {
		cluster := "a"
		if i >= 23 {
			cluster = "b"
		}
		s.CreateECSService(t, cluster, fmt.Sprintf("s%02d", i), 1)
		services = append(services, fmt.Sprintf("%s/s%02d", cluster, i))
	}
	conf := parse(t, fmt.Sprintf("k:\n  - type: autoscaling.group\n    ids: [%s]\n  - type: ecs.service\n    ids: [%s]\n",
		strings.Join(groups, ", "), strings.Join(services, ", ")))
	rep := run(t, b, conf, Stop, Options{}, "k")
	if !rep.OK() || rep.Totals.Changed != 145 {
		t.Fatalf("%s", rep.SummaryLine())
	}
	want := map[string]int{"DescribeAutoScalingGroups": 2, "CreateOrUpdateTags": 120, "UpdateAutoScalingGroup": 120,
		"DescribeServices": 4, "TagResource": 25, "UpdateService": 25}
	if ops := b.ops(); !reflect.DeepEqual(ops, want) {
		t.Errorf("calls %v, want %v", ops, want)
	}
	b.proxy.ResetStats()
	if rep = run(t, b, conf, Stop, Options{}, "k"); rep.Totals.Unchanged != 145 {
		t.Fatalf("second stop: %s", rep.SummaryLine())
	}
	if ops := b.ops(); !reflect.DeepEqual(ops, map[string]int{"DescribeAutoScalingGroups": 2, "DescribeServices": 4}) {
		t.Errorf("second stop's calls %v", ops)
	}
}

// Throttled Auto Scaling, ECS and Redshift calls (each in its service's
// shape) are retried by the SDK: every resource still stops.
func TestRunScalingTypesUnderThrottling(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	s := b.moto.ScalingClients(t)
	s.CreateAutoScalingGroup(t, "web", 1, 2, 1)
	s.CreateAutoScalingGroup(t, "idle", 0, 2, 0)
	s.CreateECSService(t, "prod", "api", 2)
	s.CreateECSService(t, "prod", "worker", 1)
	s.CreateRedshiftCluster(t, "dwh")
	if err := b.proxy.SetFaults(testbed.Faults{Seed: 5, Throttle: 0.5, MaxFaults: 6, Logf: t.Logf}); err != nil {
		t.Fatal(err)
	}
	conf := parse(t, "k:\n  - type: autoscaling.group\n    ids: [web, idle]\n  - type: ecs.service\n    ids: [prod/api, prod/worker]\n  - type: redshift.cluster\n    ids: [dwh]\n")
	rep := run(t, b, conf, Stop, Options{}, "k")
	st := b.proxy.Stats()
	t.Logf("%s; throttled %d of %d requests %v", rep.SummaryLine(), st.Injected(), st.Requests, st.FaultsByOp)
	if st.Injected() == 0 {
		t.Fatal("nothing was throttled: the test proved nothing")
	}
	if !rep.OK() || rep.Totals.Changed != 5 {
		t.Fatalf("%s\n%+v", rep.SummaryLine(), rep.Results)
	}
	if g := s.Group(t, "web"); g.Desired != 0 || g.Tags[capacityTag] != "1,2,1" {
		t.Errorf("web %+v", g)
	}
	if svc := s.Service(t, "prod", "api"); svc.Desired != 0 || svc.Tags[capacityTag] != "2" {
		t.Errorf("prod/api %+v", svc)
	}
}
