package main

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/awsutils/awsutils/internal/testbed"
	"github.com/awsutils/awsutils/startstop"
)

// A key of every type through the function: the EventBridge event form
// stops and starts it, moto's state restored exactly; the function-name
// form (ec2_stop_KEY on a scheduled event) does the same; a second run is
// unchanged; the broken key fails the invocation naming each resource,
// touching nothing.
func TestLambdaScalingTypes(t *testing.T) {
	t.Parallel()
	m := testbed.StartMotoAccount(t)
	f := testbed.CreateFleet(t, m)
	path := writeFile(t, startstop.ConfigFile, f.Config)
	start := func(name string) *testbed.Lambda { return startInTaskRoot(t, m.Env(), path, name) }
	before := f.State(t, m)
	byID := func(rep startstop.Report) map[string]startstop.Result {
		got := map[string]startstop.Result{}
		for _, r := range rep.Results {
			got[r.ID] = r
		}
		return got
	}

	l := start("startstop")
	rep := report(t, l, `{"action": "stop", "configKey": "fleet"}`)
	got := byID(rep)
	if rep.Totals.Changed != 6 || got[f.Group].Message != "saved min,max,desired 1,3,2 in tag awsutils:capacity; scaled to 0" ||
		got[f.Service].Message != "saved desired count 2 in tag awsutils:capacity; set to 0" || got[f.Redshift].After != "paused" {
		t.Fatalf("stop fleet: %+v", rep)
	}
	stopped := f.State(t, m)
	if stopped[f.Group] != "0,0,0 instances 0 tags map[awsutils:capacity:1,3,2]" || stopped[f.Service] != "desired 0 running 0 tags map[awsutils:capacity:2]" ||
		stopped[f.Redshift] != "paused" {
		t.Errorf("moto after stop: %v", stopped)
	}
	if rep = report(t, l, `{"action": "stop", "configKey": ["fleet"]}`); rep.Totals.Unchanged != 6 {
		t.Errorf("second stop: %+v", rep)
	}
	rep = report(t, l, `{"action": "start", "configKey": "fleet"}`)
	if rep.Totals.Changed != 6 || byID(rep)[f.Group].Message != "restored min,max,desired 1,3,2 from tag awsutils:capacity" {
		t.Fatalf("start fleet: %+v", rep)
	}
	if now := f.State(t, m); !maps.Equal(now, before) {
		t.Errorf("start did not restore moto's state:\nbefore stop %v\nafter start %v", before, now)
	}

	// The broken key fails the invocation, each resource named.
	_, err := l.Invoke(context.Background(), `{"action": "start", "configKey": "broken"}`)
	fe := testbed.WantFunctionError(t, err, "ResourcesFailed", "3 of 3 resources failed or unsupported")
	for _, want := range []string{"nope: Auto Scaling group not found", `badtag: tag awsutils:capacity is "1,2"`, "prod/nope: ECS service not found"} {
		if !strings.Contains(fe.Message, want) {
			t.Errorf("message %q lacks %q", fe.Message, want)
		}
	}
	if now := f.State(t, m); !maps.Equal(now, before) {
		t.Errorf("the broken key changed moto:\nbefore %v\nafter  %v", before, now)
	}
	l.Close()

	// The function-name form on a scheduled event.
	stop := start("ec2_stop_fleet")
	if rep = report(t, stop, scheduledEvent); rep.Action != startstop.Stop || rep.Totals.Changed != 6 {
		t.Fatalf("ec2_stop_fleet: %+v", rep)
	}
	if now := f.State(t, m); !maps.Equal(now, stopped) {
		t.Errorf("ec2_stop_fleet:\nwant %v\ngot  %v", stopped, now)
	}
	if rep = report(t, stop, scheduledEvent); rep.Totals.Unchanged != 6 {
		t.Errorf("ec2_stop_fleet again: %+v", rep)
	}
	stop.Close()
	if rep = report(t, start("ec2_start_fleet"), scheduledEvent); rep.Action != startstop.Start || rep.Totals.Changed != 6 {
		t.Fatalf("ec2_start_fleet: %+v", rep)
	}
	if now := f.State(t, m); !maps.Equal(now, before) {
		t.Errorf("ec2_start_fleet did not restore moto's state:\nbefore %v\nafter  %v", before, now)
	}
}

// An ECS id without its cluster fails the invocation as a bad config,
// naming file and line, before any call.
func TestLambdaECSIDWithoutCluster(t *testing.T) {
	t.Parallel()
	m := testbed.StartMotoAccount(t)
	path := writeFile(t, startstop.ConfigFile, "region_name: us-east-1\nk:\n  - type: ecs.service\n    ids: [api]\n")
	env := m.Env()
	env["AWSUTILS_CONFIG"] = path
	env["AWS_LAMBDA_FUNCTION_NAME"] = "startstop"
	l := testbed.StartLambda(t, testbed.BuildBootstrap(t, "./cmd/startstop-lambda"), env)
	_, err := l.Invoke(context.Background(), `{"action": "stop", "configKey": "k"}`)
	if fe := testbed.WantFunctionError(t, err, "BadConfig", path+`:4: k: ids: "api" names no cluster (want CLUSTER/SERVICE`); strings.Contains(fe.Message, "\n") {
		t.Errorf("%q, want one line", fe.Message)
	}
}
