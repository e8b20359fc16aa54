package main

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/awsutils/awsutils/internal/testbed"
	"github.com/awsutils/awsutils/startstop"
)

// startInTaskRoot runs the function under the emulator as name, with env
// and its task root the folder of the config file at path.
func startInTaskRoot(t *testing.T, env map[string]string, path, name string) *testbed.Lambda {
	t.Helper()
	env["LAMBDA_TASK_ROOT"] = filepath.Dir(path)
	env["AWS_LAMBDA_FUNCTION_NAME"] = name
	return testbed.StartLambda(t, testbed.BuildBootstrap(t, "./cmd/startstop-lambda"), env)
}

// Every type through the function, both event forms and status, behind a
// proxy that answers EC2's UnsupportedHibernationConfiguration for the
// instance that cannot hibernate. "fleet" lists what can be started and
// stopped; "mixed" adds an Auto Scaling group's instance and a Neptune
// cluster's member, which fail the invocation, untouched.
func TestLambdaEveryType(t *testing.T) {
	t.Parallel()
	m, x, p := testbed.StartMixed(t)
	conf := x.Config + fmt.Sprintf(`fleet:
  - type: ec2.instance
    hibernate: true
    ids: [%s, %s]
  - type: rds.db_instance
    ids: [%s]
  - type: rds.db_cluster
    ids: [%s]
`, x.Instances[0], x.Instances[1], x.DB, x.Cluster)
	path := writeFile(t, startstop.ConfigFile, conf)
	start := func(name string) *testbed.Lambda { return startInTaskRoot(t, p.Env(m.Env()), path, name) }
	l := start("startstop")

	rep := report(t, l, `{"action": "stop", "configKey": "fleet"}`)
	got := map[string]startstop.Result{}
	for _, r := range rep.Results {
		got[r.ID] = r
	}
	if rep.Totals.Changed != 4 || got[x.Instances[0]].Message != "hibernated" || got[x.NoHibernate].Message != "hibernation not configured; stopped" {
		t.Fatalf("stop fleet: %+v", rep)
	}
	stopped := x.State(t, m)
	for _, id := range []string{x.Instances[0], x.NoHibernate, x.DB, x.Cluster} {
		if stopped[id] != "stopped" {
			t.Errorf("%s is %s after stop", id, stopped[id])
		}
	}

	rep = report(t, l, `{"action": "status", "configKey": ["fleet"]}`)
	if rep.Action != startstop.Status || rep.Totals.Unchanged != 4 {
		t.Errorf("status: %+v", rep)
	}
	for _, r := range rep.Results {
		if r.After != "stopped" {
			t.Errorf("status of %s: %s", r.ID, r.After)
		}
	}
	if now := x.State(t, m); !maps.Equal(now, stopped) {
		t.Errorf("status changed moto's state:\nbefore %v\nafter  %v", stopped, now)
	}

	// The members fail the invocation, named, and stay as they were.
	_, err := l.Invoke(context.Background(), `{"action": "stop", "configKey": "mixed"}`)
	fe := testbed.WantFunctionError(t, err, "ResourcesFailed", "2 of 6 resources failed or unsupported")
	for _, want := range []string{x.Member + ": member of Auto Scaling group web", x.ClusterDB + ": member of cluster graph-mixed"} {
		if !strings.Contains(fe.Message, want) {
			t.Errorf("message %q lacks %q", fe.Message, want)
		}
	}
	if now := x.State(t, m); now[x.Member] != "running" || now[x.ClusterDB] != "available" {
		t.Errorf("members touched: %v", now)
	}
	l.Close()

	// The function-name form: ec2_start_fleet on a scheduled event.
	rep = report(t, start("ec2_start_fleet"), scheduledEvent)
	if rep.Action != startstop.Start || rep.Totals.Changed != 4 {
		t.Fatalf("ec2_start_fleet: %+v", rep)
	}
	now := x.State(t, m)
	for id, want := range map[string]string{x.Instances[0]: "running", x.NoHibernate: "running", x.DB: "available", x.Cluster: "available"} {
		if now[id] != want {
			t.Errorf("%s is %s after start, want %s", id, now[id], want)
		}
	}
}
