package startstop

import (
	"fmt"
	"strings"
	"testing"

	"github.com/awsutils/awsutils/internal/testbed"
)

// TestRunPermissionDeniedIsolated: a role that may stop instances A and C
// but not B (what `awsutils policy` generates for a config that has since
// grown), with a config listing A, B and C. EC2 refuses every call that
// names B with UnauthorizedOperation, naming B only in the encoded
// message; the batch is split until B is alone, A and C are stopped, and B
// fails with the reason, decoded when the role may decode it.
func TestRunPermissionDeniedIsolated(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		denials []testbed.Denial // besides StopInstances on B
		plain   bool
		want    string // in B's message
		calls   int    // StopInstances
		notes   []string
	}{
		{name: "decoded", want: "is not authorized to perform ec2:StopInstances on arn:aws:ec2:us-east-1:123456789012:instance/%s: no policy allows it (decoded authorization message)", calls: 5},
		{name: "decode refused", denials: []testbed.Denial{{Ops: []string{"DecodeAuthorizationMessage"}}},
			want: "StopInstances: UnauthorizedOperation: You are not authorized to perform this operation. Encoded authorization failure message: ", calls: 5,
			notes: []string{"sts:DecodeAuthorizationMessage is not allowed"}},
		{name: "the original role: no describe, no decode", denials: []testbed.Denial{{Ops: []string{"DescribeInstances", "DecodeAuthorizationMessage"}}},
			want: "Encoded authorization failure message: ", calls: 5,
			notes: []string{"ec2:DescribeInstances is not allowed", "sts:DecodeAuthorizationMessage is not allowed"}},
		{name: "named in plain text", plain: true, want: "no policy allows it (decoded authorization message)", calls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBed(t)
			ids := testbed.RunInstances(t, b.ec2, 3)
			a, bad, c := ids[0], ids[1], ids[2]
			b.proxy.Deny(testbed.Denial{Ops: []string{"StartInstances", "StopInstances"}, IDs: []string{bad}, PlainEC2: tt.plain})
			for _, d := range tt.denials {
				b.proxy.Deny(d)
			}
			conf := parse(t, fmt.Sprintf("region_name: %s\nk:\n  - type: ec2.instance\n    ids: [%s, %s, %s]\n", testbed.Region, a, bad, c))
			rep := run(t, b, conf, Stop, Options{}, "k")
			wantOutcome(t, rep, a, Changed, "")
			wantOutcome(t, rep, c, Changed, "")
			want := tt.want
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, bad)
			}
			wantOutcome(t, rep, bad, Failed, want)
			if st := testbed.InstanceStates(t, b.ec2, ids...); st[a] != "stopped" || st[bad] != "running" || st[c] != "stopped" {
				t.Errorf("states in moto %v", st)
			}
			if err := rep.Err(); rep.OK() || err == nil || !strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), a) {
				t.Errorf("Err() = %v, want it to name %s only", err, bad)
			}
			if n := b.calls("StopInstances"); n != tt.calls {
				t.Errorf("%d StopInstances calls, want %d: %v", n, tt.calls, b.ops())
			}
			if len(rep.Warnings) != len(tt.notes) {
				t.Fatalf("notes %q, want %q", rep.Warnings, tt.notes)
			}
			for i, n := range tt.notes {
				if !strings.Contains(rep.Warnings[i], n) {
					t.Errorf("note %q, want it to contain %q", rep.Warnings[i], n)
				}
			}
		})
	}
}

// A dry run proves the permissions: the refused instance fails, the others
// would be stopped, nothing changes.
func TestRunPermissionDeniedDryRun(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	ids := testbed.RunInstances(t, b.ec2, 3)
	b.proxy.Deny(testbed.Denial{Ops: []string{"StopInstances"}, IDs: ids[1:2]})
	conf := parse(t, fmt.Sprintf("k:\n  - type: ec2.instance\n    ids: [%s]\n", strings.Join(ids, ", ")))
	rep := run(t, b, conf, Stop, Options{DryRun: true}, "k")
	wantOutcome(t, rep, ids[0], Planned, "StopInstances would succeed")
	wantOutcome(t, rep, ids[1], Failed, "is not authorized to perform ec2:StopInstances on arn:aws:ec2:us-east-1:123456789012:instance/"+ids[1])
	wantOutcome(t, rep, ids[2], Planned, "StopInstances would succeed")
	if st := testbed.InstanceStates(t, b.ec2, ids...); st[ids[0]] != "running" || st[ids[2]] != "running" {
		t.Errorf("dry run changed %v", st)
	}
}

// RDS calls are per resource already: a DB instance or cluster the role may
// not touch fails alone, with RDS's own message naming it, and the others
// are stopped.
func TestRunRDSAccessDeniedIsolated(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	for _, id := range []string{"pg-a", "pg-b", "pg-c"} {
		testbed.CreateDBInstance(t, b.rds, id)
	}
	testbed.CreateAuroraCluster(t, b.rds, "aurora-a")
	testbed.CreateAuroraCluster(t, b.rds, "aurora-b")
	b.proxy.Deny(testbed.Denial{IDs: []string{"pg-b", "aurora-b"}})
	conf := parse(t, fmt.Sprintf("region_name: %s\nk:\n  - type: rds.db_instance\n    ids: [pg-a, pg-b, pg-c]\n  - type: rds.db_cluster\n    ids: [aurora-a, aurora-b]\n", testbed.Region))
	rep := run(t, b, conf, Stop, Options{}, "k")
	wantOutcome(t, rep, "pg-b", Failed, "StopDBInstance: AccessDenied: User: "+testbed.Principal+
		" is not authorized to perform: rds:StopDBInstance on resource: arn:aws:rds:us-east-1:123456789012:db:pg-b because no identity-based policy allows the rds:StopDBInstance action")
	wantOutcome(t, rep, "aurora-b", Failed, "StopDBCluster: AccessDenied: User: "+testbed.Principal+
		" is not authorized to perform: rds:StopDBCluster on resource: arn:aws:rds:us-east-1:123456789012:cluster:aurora-b")
	for _, id := range []string{"pg-a", "pg-c"} {
		wantOutcome(t, rep, id, Changed, "")
		if s := testbed.DBInstanceStatus(t, b.rds, id); s != "stopped" {
			t.Errorf("%s is %s in moto", id, s)
		}
	}
	wantOutcome(t, rep, "aurora-a", Changed, "")
	if s := testbed.DBClusterStatus(t, b.rds, "aurora-a"); s != "stopped" {
		t.Errorf("aurora-a is %s in moto", s)
	}
	if s := testbed.DBInstanceStatus(t, b.rds, "pg-b"); s != "available" {
		t.Errorf("pg-b is %s in moto", s)
	}
	if n := b.calls("StopDBInstance") + b.calls("StopDBCluster"); n != 5 {
		t.Errorf("%d RDS stop calls, want one per resource: %v", n, b.ops())
	}
	if rep.Totals.Changed != 3 || rep.Totals.Failed != 2 {
		t.Errorf("%s", rep.SummaryLine())
	}
}
