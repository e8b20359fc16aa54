package packaging

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
	"github.com/awsutils/awsutils/startstop"
)

// typesBed is what the every-type start/stop runs act on: testbed's Fleet
// (one resource of every registered type), for each registered type one
// resource tagged team=a (found by the config's tag selectors) and one
// tagged team=b that the runs' config lists by id but the config the
// policy was generated from does not, and for Auto Scaling, ECS and
// Redshift one in westRegion, outside the template's TargetRegion.
type typesBed struct {
	fleet   *testbed.Fleet
	tagged  []string // team=a: group, service, cluster
	outside []string // team=b
	west    []string // in westRegion
	// taggedDB and outsideDB are an instance, a DB instance and an Aurora
	// cluster tagged team=a and team=b.
	taggedDB, outsideDB []string
	dir                 string
	east                testbed.Scaling
	westS               testbed.Scaling
}

func newTypesBed(t *testing.T, m *testbed.Moto) *typesBed {
	t.Helper()
	cfg := m.Config(t)
	wcfg := awsclient.WithRegion(cfg, westRegion)
	b := &typesBed{fleet: testbed.CreateFleet(t, m), dir: t.TempDir(), east: m.ScalingClients(t),
		westS:   testbed.Scaling{ASG: awsclient.AutoScaling(wcfg), ECS: awsclient.ECS(wcfg), Redshift: awsclient.Redshift(wcfg)},
		tagged:  []string{"team-a", "ops/team-a", "team-a-dwh"},
		outside: []string{"outside", "ops/outside", "outside-dwh"},
		west:    []string{"west", "wops/west", "west-dwh"},
	}
	mk := func(s testbed.Scaling, ids []string, team string) {
		group, service, cluster := ids[0], ids[1], ids[2]
		cl, svc, _ := strings.Cut(service, "/")
		s.CreateAutoScalingGroup(t, group, 1, 2, 1)
		s.CreateECSService(t, cl, svc, 1)
		s.CreateRedshiftCluster(t, cluster)
		if team != "" {
			s.TagGroup(t, group, "team", team)
			s.TagService(t, cl, svc, "team", team)
			s.TagRedshiftCluster(t, m.Account, cluster, "team", team)
		}
	}
	mk(b.east, b.tagged, "a")
	mk(b.east, b.outside, "b")
	mk(b.westS, b.west, "a")
	// An instance, a DB instance and an Aurora cluster of each team, for the
	// EC2 and RDS tag selectors' conditions (ec2:ResourceTag, rds:db-tag,
	// rds:cluster-tag).
	ec2c, rdsc := m.Clients(t)
	ctx := context.Background()
	for _, team := range []string{"a", "b"} {
		inst := testbed.RunInstances(t, ec2c, 1)[0]
		db, cl := "team-"+team+"-db", "team-"+team+"-aurora"
		testbed.CreateDBInstance(t, rdsc, db)
		testbed.CreateAuroraCluster(t, rdsc, cl)
		tag := []ec2types.Tag{{Key: aws.String("team"), Value: aws.String(team)}}
		if _, err := ec2c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{inst}, Tags: tag}); err != nil {
			t.Fatal(err)
		}
		for _, arn := range []string{"arn:aws:rds:" + testbed.Region + ":" + m.Account + ":db:" + db, "arn:aws:rds:" + testbed.Region + ":" + m.Account + ":cluster:" + cl} {
			if _, err := rdsc.AddTagsToResource(ctx, &rds.AddTagsToResourceInput{ResourceName: aws.String(arn),
				Tags: []rdstypes.Tag{{Key: aws.String("team"), Value: aws.String(team)}}}); err != nil {
				t.Fatal(err)
			}
		}
		ids := []string{inst, db, cl}
		if team == "a" {
			b.taggedDB = ids
		} else {
			b.outsideDB = ids
		}
	}
	return b
}

// config writes a config whose key fleet lists the Fleet's resources and
// selects team=a of the three types by tags, plus extra groups.
func (b *typesBed) config(t *testing.T, name string, extra ...string) string {
	t.Helper()
	f := b.fleet
	s := "region_name: " + testbed.Region + "\nfleet:\n" + f.Groups + `  - type: autoscaling.group
    tags: {team: a}
  - type: ecs.service
    tags: {team: a}
  - type: redshift.cluster
    tags: {team: a}
  - type: ec2.instance
    tags: {team: a}
  - type: rds.db_instance
    tags: {team: a}
  - type: rds.db_cluster
    tags: {team: a}
`
	s += strings.Join(extra, "")
	p := filepath.Join(b.dir, name, startstop.ConfigFile)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// listed is a config's groups listing ids, of the types in order, in
// region ("": the config's).
func listed(region string, ids []string, types ...string) []string {
	r := ""
	if region != "" {
		r = "    region: " + region + "\n"
	}
	var groups []string
	for i, id := range ids {
		groups = append(groups, "  - type: "+types[i]+"\n"+r+"    ids: ["+id+"]\n")
	}
	return groups
}

var (
	scalingTypes = []string{"autoscaling.group", "ecs.service", "redshift.cluster"}
	dbTypes      = []string{"ec2.instance", "rds.db_instance", "rds.db_cluster"}
)

// state is moto's state of the three types' resources: sizes, desired
// count, Redshift status.
func (b *typesBed) state(t *testing.T, s testbed.Scaling, ids []string) map[string]string {
	t.Helper()
	g := s.Group(t, ids[0])
	cl, svc, _ := strings.Cut(ids[1], "/")
	return map[string]string{
		ids[0]: fmt.Sprintf("%d,%d,%d", g.Min, g.Max, g.Desired),
		ids[1]: fmt.Sprintf("desired %d", s.Service(t, cl, svc).Desired),
		ids[2]: s.RedshiftStatus(t, ids[2]),
	}
}

// dbState is moto's state of an instance, a DB instance and an Aurora
// cluster.
func (b *typesBed) dbState(t *testing.T, m *testbed.Moto, ids []string) map[string]string {
	t.Helper()
	ec2c, rdsc := m.Clients(t)
	return map[string]string{
		ids[0]: testbed.InstanceStates(t, ec2c, ids[0])[ids[0]],
		ids[1]: testbed.DBInstanceStatus(t, rdsc, ids[1]),
		ids[2]: testbed.DBClusterStatus(t, rdsc, ids[2]),
	}
}

// wantTypes checks moto's states with enforcement off: the Fleet and the
// team=a resources stopped or running, refused untouched.
func (b *typesBed) wantTypes(t *testing.T, m *testbed.MotoIAM, a startstop.Action, refused []string, untouched map[string]string) {
	t.Helper()
	m.Relax(t)
	f := b.fleet
	want := map[startstop.Action]map[string]string{
		startstop.Stop: {f.Instance: "stopped", f.DB: "stopped", f.Cluster: "stopped", f.Redshift: "paused",
			f.Group: "0,0,0 instances 0 tags map[awsutils:capacity:1,3,2]", f.Service: "desired 0 running 0 tags map[awsutils:capacity:2]"},
		startstop.Start: {f.Instance: "running", f.DB: "available", f.Cluster: "available", f.Redshift: "available",
			f.Group: "1,3,2 instances 2 tags map[]", f.Service: "desired 2 running 2 tags map[]"},
	}[a]
	got := f.State(t, m.Moto)
	for id, w := range want {
		if got[id] != w {
			t.Errorf("after %s: %s is %q, want %q", a, id, got[id], w)
		}
	}
	tagged := b.state(t, b.east, b.tagged)
	for id, w := range map[startstop.Action][]string{startstop.Stop: {"0,0,0", "desired 0", "paused"}, startstop.Start: {"1,2,1", "desired 1", "available"}}[a] {
		if id := b.tagged[id]; tagged[id] != w {
			t.Errorf("after %s: %s (team=a) is %q, want %q", a, id, tagged[id], w)
		}
	}
	now := b.state(t, b.east, b.outside)
	maps.Copy(now, b.state(t, b.westS, b.west))
	maps.Copy(now, b.dbState(t, m.Moto, b.outsideDB))
	wantDB := map[startstop.Action][]string{startstop.Stop: {"stopped", "stopped", "stopped"}, startstop.Start: {"running", "available", "available"}}[a]
	taggedDB := b.dbState(t, m.Moto, b.taggedDB)
	for i, id := range b.taggedDB {
		if taggedDB[id] != wantDB[i] {
			t.Errorf("after %s: %s (team=a) is %q, want %q", a, id, taggedDB[id], wantDB[i])
		}
	}
	for id, w := range untouched {
		if now[id] != w {
			t.Errorf("after %s: %s is %q, want it untouched (%q)", a, id, now[id], w)
		}
	}
}

// runTypes stops the config's key fleet and starts it again through the
// CLI with user's permissions only: every resource of the Fleet and every
// team=a one changed each time; each refused one failed for lack of
// permission on stop (and was left as it was, so start finds it not
// stopped: unchanged).
func runTypes(t *testing.T, m *testbed.MotoIAM, b *typesBed, user *testbed.Moto, conf string, refused []string) {
	t.Helper()
	m.Relax(t)
	untouched := b.state(t, b.east, b.outside)
	maps.Copy(untouched, b.state(t, b.westS, b.west))
	maps.Copy(untouched, b.dbState(t, m.Moto, b.outsideDB))
	for _, a := range []startstop.Action{startstop.Stop, startstop.Start} {
		m.Enforce(t)
		code, out := cliRun(t, user.Env(), string(a), "fleet", "--config", conf, "--wait", "--wait-timeout", "1m", "--output", "json")
		var rep startstop.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("CLI report: %v\n%s", err, out)
		}
		if wantCode := map[bool]int{true: 0, false: 1}[len(refused) == 0 || a == startstop.Start]; code != wantCode {
			t.Errorf("%s: exit %d, want %d", a, code, wantCode)
		}
		wantStartStop(t, rep, a, 6+len(b.tagged)+len(b.taggedDB), refused)
		b.wantTypes(t, m, a, refused, untouched)
	}
}
