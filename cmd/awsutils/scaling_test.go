package main

import (
	"maps"
	"strings"
	"testing"

	"github.com/awsutils/awsutils/internal/testbed"
)

// fleetConfig creates testbed's fleet in a moto account of its own and
// writes its config; before is the fleet's state in moto.
func fleetConfig(t *testing.T) (m *testbed.Moto, f *testbed.Fleet, path string, before map[string]string) {
	t.Helper()
	m = testbed.StartMotoAccount(t)
	f = testbed.CreateFleet(t, m)
	return m, f, writeConfig(t, f.Config), f.State(t, m)
}

// A key of every type, Auto Scaling groups, ECS services and Redshift
// clusters among EC2 and RDS: stop, stop again, start, start again; the
// start restores moto's state exactly (sizes, desired count, tags).
func TestStartStopCommandScalingTypes(t *testing.T) {
	t.Parallel()
	m, f, path, before := fleetConfig(t)

	code, out, errs := runBin(t, m.Env(), "stop", "--config", path, "--wait", "--wait-timeout", "1m", "fleet")
	if code != exitOK || !strings.Contains(out, "stop fleet: 6 changed of 6 resources") {
		t.Fatalf("stop: exit %d\n%s%s", code, out, errs)
	}
	wantRows(t, out, map[string]string{
		f.Group:    "running → stopped    changed  saved min,max,desired 1,3,2 in tag awsutils:capacity; scaled to 0; reached stopped",
		f.Service:  "running → stopped    changed  saved desired count 2 in tag awsutils:capacity; set to 0; reached stopped",
		f.Redshift: "available → paused   changed  reached paused",
	})
	stopped := f.State(t, m)
	for id, want := range map[string]string{
		f.Instance: "stopped", f.DB: "stopped", f.Cluster: "stopped", f.Redshift: "paused",
		f.Group:   "0,0,0 instances 0 tags map[awsutils:capacity:1,3,2]",
		f.Service: "desired 0 running 0 tags map[awsutils:capacity:2]",
	} {
		if stopped[id] != want {
			t.Errorf("%s is %q in moto after stop, want %q", id, stopped[id], want)
		}
	}

	code, out, _ = runBin(t, m.Env(), "stop", "--config", path, "fleet")
	if code != exitOK || !strings.Contains(out, "stop fleet: 6 unchanged of 6 resources") {
		t.Errorf("second stop: exit %d\n%s", code, out)
	}
	if now := f.State(t, m); !maps.Equal(now, stopped) {
		t.Errorf("second stop changed moto:\nbefore %v\nafter  %v", stopped, now)
	}

	code, out, errs = runBin(t, m.Env(), "start", "--config", path, "--wait", "--wait-timeout", "1m", "fleet")
	if code != exitOK || !strings.Contains(out, "start fleet: 6 changed of 6 resources") {
		t.Fatalf("start: exit %d\n%s%s", code, out, errs)
	}
	if row := rowOf(out, f.Group); !strings.Contains(row, "restored min,max,desired 1,3,2 from tag awsutils:capacity; reached running") {
		t.Errorf("%s: %q", f.Group, row)
	}
	if now := f.State(t, m); !maps.Equal(now, before) {
		t.Errorf("start did not restore moto's state:\nbefore stop %v\nafter start %v", before, now)
	}

	code, out, _ = runBin(t, m.Env(), "start", "--config", path, "fleet")
	if code != exitOK || !strings.Contains(out, "start fleet: 6 unchanged of 6 resources") {
		t.Errorf("second start: exit %d\n%s", code, out)
	}
}

// A group that does not exist, a malformed saved capacity, a service that
// does not exist: each failed and named, exit 1, nothing changed. An ECS
// id without its cluster is a config error: exit 2, file and line.
func TestStartStopCommandScalingErrors(t *testing.T) {
	t.Parallel()
	m, f, path, before := fleetConfig(t)
	code, out, errs := runBin(t, m.Env(), "start", "--config", path, "broken")
	if code != exitFailed || !strings.Contains(out, "start broken: 3 failed of 3 resources") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	wantRows(t, out, map[string]string{
		"nope":      "failed  Auto Scaling group not found in us-east-1",
		"badtag":    `failed  tag awsutils:capacity is "1,2", want min,max,desired; fix or delete the tag (nothing changed)`,
		"prod/nope": "failed  ECS service not found in us-east-1",
	})
	if now := f.State(t, m); !maps.Equal(now, before) {
		t.Errorf("a failed start changed moto:\nbefore %v\nafter  %v", before, now)
	}

	bad := writeConfig(t, "region_name: us-east-1\nk:\n  - type: autoscaling.group\n    ids: [app]\n  - type: ecs.service\n    ids:\n      - prod/api\n      - api\n")
	code, out, errs = runBin(t, m.Env(), "stop", "--config", bad, "k")
	want := bad + `:8: k: ids: "api" names no cluster (want CLUSTER/SERVICE`
	if code != exitUsage || out != "" || !strings.Contains(errs, want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", code, out, errs, want)
	}
	if now := f.State(t, m); !maps.Equal(now, before) {
		t.Errorf("a config error changed moto:\nbefore %v\nafter  %v", before, now)
	}
}
