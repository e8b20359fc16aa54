package main

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/awsutils/awsutils/internal/testbed"
	"github.com/awsutils/awsutils/startstop"
)

// wantRows checks that the report line of each id in want contains its
// text.
func wantRows(t *testing.T, out string, want map[string]string) {
	t.Helper()
	for id, w := range want {
		if row := rowOf(out, id); !strings.Contains(row, w) {
			t.Errorf("%s: %q, want %q\n%s", id, row, w, out)
		}
	}
}

// rowOf is the report line of id.
func rowOf(out, id string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, " "+id+" ") {
			return l
		}
	}
	return ""
}

// A key mixing every type: stop, stop again, status, start, through a
// proxy that answers EC2's UnsupportedHibernationConfiguration for the
// instance that cannot hibernate. The Auto Scaling member and the Neptune
// cluster's instance are refused and untouched; status changes nothing.
func TestStartStopCommandEveryType(t *testing.T) {
	t.Parallel()
	m, x, p := testbed.StartMixed(t)
	env := p.Env(m.Env())
	path := writeConfig(t, x.Config)

	code, out, errs := runBin(t, env, "stop", "--config", path, "mixed")
	if code != exitFailed { // the two members are unsupported
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errs)
	}
	wantRows(t, out, map[string]string{
		x.Instances[0]: "changed      hibernated",
		x.NoHibernate:  "changed      hibernation not configured; stopped",
		x.Member:       "unsupported  member of Auto Scaling group web; list the group under autoscaling.group",
		x.DB:           "changed",
		x.Cluster:      "changed",
		x.ClusterDB:    "unsupported  member of cluster graph-mixed; list the cluster under rds.db_cluster",
	})
	stopped := x.State(t, m)
	for id, want := range map[string]string{x.Instances[0]: "stopped", x.NoHibernate: "stopped", x.Member: "running",
		x.DB: "stopped", x.Cluster: "stopped"} {
		if stopped[id] != want {
			t.Errorf("%s is %s in moto, want %s", id, stopped[id], want)
		}
	}

	code, out, _ = runBin(t, env, "stop", "--config", path, "mixed")
	if code != exitFailed || !strings.Contains(out, "4 unchanged, 2 unsupported of 6 resources") {
		t.Errorf("second stop: exit %d\n%s", code, out)
	}

	// status: JSON report, moto's state the same before and after.
	code, out, errs = runBin(t, env, "status", "--config", path, "--output", "json", "mixed")
	if code != exitFailed {
		t.Fatalf("status exit %d\n%s%s", code, out, errs)
	}
	var rep startstop.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if rep.Action != startstop.Status || rep.Totals.Unchanged != 4 || rep.Totals.Unsupported != 2 {
		t.Errorf("status report %+v", rep)
	}
	for _, r := range rep.Results {
		if r.Outcome == startstop.Unchanged && (r.Before != stopped[r.ID] || r.After != stopped[r.ID]) {
			t.Errorf("status of %s: %s → %s, moto has %s", r.ID, r.Before, r.After, stopped[r.ID])
		}
	}
	if now := x.State(t, m); !maps.Equal(now, stopped) {
		t.Errorf("status changed moto's state:\nbefore %v\nafter  %v", stopped, now)
	}

	code, out, _ = runBin(t, env, "start", "--config", path, "mixed")
	if code != exitFailed || !strings.Contains(out, "4 changed, 2 unsupported of 6 resources") {
		t.Errorf("start: exit %d\n%s", code, out)
	}
	for id, want := range map[string]string{x.Instances[0]: "running", x.NoHibernate: "running", x.Member: "running",
		x.DB: "available", x.Cluster: "available"} {
		if got := x.State(t, m)[id]; got != want {
			t.Errorf("%s is %s in moto after start, want %s", id, got, want)
		}
	}
}

// status takes no --dry-run or --wait; hibernate on a non-EC2 group is a
// config error naming the line; both exit 2 before any call.
func TestStatusCommandErrors(t *testing.T) {
	t.Parallel()
	bad := writeConfig(t, "region_name: us-east-1\nk:\n  - type: rds.db_cluster\n    hibernate: true\n    ids: [c1]\n")
	good := writeConfig(t, "region_name: us-east-1\nk:\n  - type: rds.db_cluster\n    ids: [c1]\n")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "--config", bad, "k"}, "aws_resource_start_stop.yml:4: k: hibernate: only ec2.instance groups take it, not rds.db_cluster"},
		{[]string{"stop", "--config", bad, "k"}, "aws_resource_start_stop.yml:4: k: hibernate: only ec2.instance groups take it, not rds.db_cluster"},
		{[]string{"status", "--config", good, "--dry-run", "k"}, "--dry-run"},
		{[]string{"status", "--config", good, "--wait", "k"}, "--wait"},
		{[]string{"status", "--config", good}, "no config key given"},
	} {
		code, out, errs := runBin(t, map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, tt.args...)
		if code != exitUsage || !strings.Contains(errs, tt.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 || out != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want 2 and %q", tt.args, code, errs, out, tt.want)
		}
	}
}
