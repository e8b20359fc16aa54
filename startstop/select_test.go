package startstop

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/redshift"
	rstypes "github.com/aws/aws-sdk-go-v2/service/redshift/types"

	"github.com/awsutils/awsutils/internal/testbed"
)

func tagInstance(t *testing.T, c *ec2.Client, id string, tags map[string]string) {
	t.Helper()
	var ts []ec2types.Tag
	for k, v := range tags {
		ts = append(ts, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if _, err := c.CreateTags(context.Background(), &ec2.CreateTagsInput{Resources: []string{id}, Tags: ts}); err != nil {
		t.Fatal(err)
	}
}

func tagRDS(t *testing.T, c *rds.Client, arn string, tags map[string]string) {
	t.Helper()
	var ts []rdstypes.Tag
	for k, v := range tags {
		ts = append(ts, rdstypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if _, err := c.AddTagsToResource(context.Background(), &rds.AddTagsToResourceInput{ResourceName: aws.String(arn), Tags: ts}); err != nil {
		t.Fatal(err)
	}
}

func dbARN(account, id string) string {
	return "arn:aws:rds:" + testbed.Region + ":" + account + ":db:" + id
}
func clusterARN(account, id string) string {
	return "arn:aws:rds:" + testbed.Region + ":" + account + ":cluster:" + id
}

func byFrom(rep *Report) map[string][]string {
	m := map[string][]string{}
	for _, r := range rep.Results {
		m[r.From+" "+r.Selector] = append(m[r.From+" "+r.Selector], r.ID)
	}
	for k := range m {
		slices.Sort(m[k])
	}
	return m
}

// Tag selectors for each type: every tag must match, "*" matches any
// value, terminated instances and cluster members are left out, and a
// resource both listed and selected is acted on once, as listed.
func TestSelectByTags(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	ids := testbed.RunInstances(t, b.ec2, 6)
	office := map[string]string{"Schedule": "office-hours", "Env": "dev"}
	tagInstance(t, b.ec2, ids[0], office)
	tagInstance(t, b.ec2, ids[1], map[string]string{"Schedule": "office-hours", "Env": "prod"}) // partial match
	tagInstance(t, b.ec2, ids[2], office)                                                       // terminated below
	tagInstance(t, b.ec2, ids[3], map[string]string{"Schedule": "always", "Env": "dev"})        // matches Schedule: "*"
	tagInstance(t, b.ec2, ids[4], map[string]string{"Env": "dev"})                              // no Schedule at all
	tagInstance(t, b.ec2, ids[5], office)                                                       // listed by id as well
	if _, err := b.ec2.TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: ids[2:3]}); err != nil {
		t.Fatal(err)
	}
	testbed.CreateDBInstance(t, b.rds, "db-office")
	testbed.CreateDBInstance(t, b.rds, "db-other")
	testbed.CreateAuroraCluster(t, b.rds, "cl-office", "cl-office-1")
	testbed.CreateAuroraCluster(t, b.rds, "cl-other")
	acct := b.moto.Account
	tagRDS(t, b.rds, dbARN(acct, "db-office"), map[string]string{"Schedule": "office-hours"})
	tagRDS(t, b.rds, dbARN(acct, "db-other"), map[string]string{"Schedule": "never"})
	tagRDS(t, b.rds, dbARN(acct, "cl-office-1"), map[string]string{"Schedule": "office-hours"})
	tagRDS(t, b.rds, clusterARN(acct, "cl-office"), map[string]string{"Schedule": "office-hours"})
	tagRDS(t, b.rds, clusterARN(acct, "cl-other"), map[string]string{"Owner": "x"})

	conf := parse(t, fmt.Sprintf(`region_name: %s
dev-env:
  - type: ec2.instance
    ids: [%s]
  - type: ec2.instance
    tags: {Schedule: office-hours, Env: dev}
  - type: rds.db_instance
    tags: {Schedule: office-hours}
  - type: rds.db_cluster
    tags: {Schedule: office-hours}
any-schedule:
  - type: ec2.instance
    tags: {Env: dev, Schedule: "*"}
nothing:
  - type: ec2.instance
    tags: {Schedule: nobody}
`, testbed.Region, ids[5]))

	rep := run(t, b, conf, Stop, Options{DryRun: true}, "dev-env")
	want := map[string][]string{
		"ids ":                               {ids[5]},
		"tags Env=dev,Schedule=office-hours": {ids[0]},
		"tags Schedule=office-hours":         {"cl-office", "db-office"},
	}
	if got := byFrom(rep); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("dry run resolved\n%v\nwant\n%v", got, want)
	}
	if rep.Totals.Planned != 4 || !rep.OK() {
		t.Errorf("dry run: %s %+v", rep.SummaryLine(), rep.Results)
	}
	if !slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, "left out 1 DB instances that are cluster members") }) {
		t.Errorf("no note on the cluster member: %q", rep.Warnings)
	}
	var text strings.Builder
	if err := rep.Text(&text, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "tags Env=dev,Schedule=office-hours") {
		t.Errorf("text report does not show the selector:\n%s", text.String())
	}

	// status shows the resolved set too, acting on nothing.
	rep = run(t, b, conf, Status, Options{}, "dev-env")
	if got := byFrom(rep); fmt.Sprint(got) != fmt.Sprint(want) || rep.Totals.Unchanged != 4 {
		t.Errorf("status resolved\n%v\nwant\n%v (%s)", got, want, rep.SummaryLine())
	}

	rep = run(t, b, conf, Stop, Options{}, "dev-env", "any-schedule")
	if !rep.OK() || rep.Totals.Changed != 5 {
		t.Fatalf("stop: %s\n%+v", rep.SummaryLine(), rep.Results)
	}
	want = map[string][]string{
		"ids ":                               {ids[5]},
		"tags Env=dev,Schedule=office-hours": {ids[0]},
		"tags Schedule=office-hours":         {"cl-office", "db-office"},
		"tags Env=dev,Schedule=*":            {ids[3]},
	}
	if got := byFrom(rep); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stop resolved\n%v\nwant\n%v", got, want)
	}
	st := testbed.InstanceStates(t, b.ec2, ids...)
	for i, w := range []string{"stopped", "running", "terminated", "stopped", "running", "stopped"} {
		if st[ids[i]] != w {
			t.Errorf("instance %d: %s, want %s", i, st[ids[i]], w)
		}
	}
	if s := testbed.DBInstanceStatus(t, b.rds, "db-other"); s != "available" {
		t.Errorf("db-other %s", s)
	}
	if s := testbed.DBClusterStatus(t, b.rds, "cl-office"); s != "stopped" {
		t.Errorf("cl-office %s", s)
	}
	if s := testbed.DBClusterStatus(t, b.rds, "cl-other"); s != "available" {
		t.Errorf("cl-other %s", s)
	}

	// A selector that matches nothing is a note, not a failure.
	rep = run(t, b, conf, Start, Options{}, "nothing")
	if !rep.OK() || rep.Totals.Total != 0 {
		t.Errorf("nothing: %s %+v", rep.SummaryLine(), rep.Results)
	}
	if !slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, "tags Schedule=nobody matched nothing") }) {
		t.Errorf("notes %q", rep.Warnings)
	}
}

// A group with role_arn acts in the role's account: moto keeps a backend
// per account, so the resources of account B are stopped through the role
// and account A's, with the same tags, are untouched. A role that cannot be
// assumed fails its group's resources with STS's message, not the run.
func TestRunOtherAccount(t *testing.T) {
	t.Parallel()
	a := newBed(t)
	other := testbed.StartMotoAccount(t)
	bEC2, bRDS := other.Clients(t)
	tags := map[string]string{"Schedule": "office-hours"}
	aIDs := testbed.RunInstances(t, a.ec2, 2)
	bIDs := testbed.RunInstances(t, bEC2, 2)
	for _, id := range aIDs {
		tagInstance(t, a.ec2, id, tags)
	}
	tagInstance(t, bEC2, bIDs[0], tags)
	testbed.CreateDBInstance(t, a.rds, "shared-name")
	testbed.CreateDBInstance(t, bRDS, "shared-name")
	denied := "arn:aws:iam::" + other.Account + ":role/not-trusted"
	a.proxy.Deny(testbed.Denial{Ops: []string{"AssumeRole"}, IDs: []string{denied}})

	conf := parse(t, fmt.Sprintf(`region_name: %[1]s
member:
  - type: ec2.instance
    role_arn: arn:aws:iam::%[2]s:role/awsutils-member
    external_id: hub-42
    tags: {Schedule: office-hours}
  - type: ec2.instance
    role_arn: arn:aws:iam::%[2]s:role/awsutils-member
    external_id: hub-42
    ids: [%[3]s]
  - type: rds.db_instance
    role_arn: arn:aws:iam::%[2]s:role/awsutils-member
    external_id: hub-42
    ids: [shared-name]
refused:
  - type: ec2.instance
    role_arn: %[4]s
    ids: [%[3]s]
  - type: ec2.instance
    role_arn: %[4]s
    tags: {Schedule: office-hours}
  - type: ec2.instance
    ids: [%[5]s]
`, testbed.Region, other.Account, bIDs[1], denied, aIDs[1]))

	a.proxy.ResetStats()
	rep := run(t, a, conf, Stop, Options{}, "member")
	if !rep.OK() || rep.Totals.Changed != 3 {
		t.Fatalf("member: %s\n%+v", rep.SummaryLine(), rep.Results)
	}
	for _, r := range rep.Results {
		if r.Account != other.Account {
			t.Errorf("%s: account %q, want %s", r.ID, r.Account, other.Account)
		}
	}
	if n := a.calls("AssumeRole"); n != 1 {
		t.Errorf("%d AssumeRole calls, want 1 (cached for the run)", n)
	}
	if st := testbed.InstanceStates(t, bEC2, bIDs...); st[bIDs[0]] != "stopped" || st[bIDs[1]] != "stopped" {
		t.Errorf("account B: %v", st)
	}
	if s := testbed.DBInstanceStatus(t, bRDS, "shared-name"); s != "stopped" {
		t.Errorf("account B's DB instance %s", s)
	}
	if st := testbed.InstanceStates(t, a.ec2, aIDs...); st[aIDs[0]] != "running" || st[aIDs[1]] != "running" {
		t.Errorf("account A touched: %v", st)
	}
	if s := testbed.DBInstanceStatus(t, a.rds, "shared-name"); s != "available" {
		t.Errorf("account A's DB instance %s", s)
	}

	rep = run(t, a, conf, Stop, Options{}, "refused")
	if rep.OK() || rep.Totals.Failed != 2 || rep.Totals.Changed != 1 {
		t.Fatalf("refused: %s\n%+v", rep.SummaryLine(), rep.Results)
	}
	for _, r := range rep.Results {
		if r.Account == other.Account && !strings.Contains(r.Message, "AssumeRole "+denied+": ") ||
			r.Account == other.Account && !strings.Contains(r.Message, "not authorized to perform: sts:AssumeRole") {
			t.Errorf("%s %s: %q", r.ID, r.Selector, r.Message)
		}
	}
	wantOutcome(t, rep, aIDs[1], Changed, "")
}

// The ids plus tags dedupe and the tag match rule, without a server.
func TestTagsMatch(t *testing.T) {
	for _, c := range []struct {
		want, have map[string]string
		ok         bool
	}{
		{map[string]string{"A": "1"}, map[string]string{"A": "1", "B": "2"}, true},
		{map[string]string{"A": "1", "B": "2"}, map[string]string{"A": "1"}, false},
		{map[string]string{"A": "*"}, map[string]string{"A": ""}, true},
		{map[string]string{"A": "*"}, map[string]string{"a": "1"}, false},
		{map[string]string{"A": "1"}, map[string]string{"A": "10"}, false},
	} {
		if got := tagsMatch(c.want, c.have); got != c.ok {
			t.Errorf("tagsMatch(%v, %v) = %v", c.want, c.have, got)
		}
	}
}

// Tag selectors of Auto Scaling groups (their own tag filters), ECS
// services (DescribeServices' tags) and Redshift clusters (TagKeys, then
// every tag checked): full matches only.
func TestSelectScalingTypesByTags(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	s := b.moto.ScalingClients(t)
	s.CreateAutoScalingGroup(t, "asg-dev", 1, 2, 1)
	s.CreateAutoScalingGroup(t, "asg-prod", 1, 2, 1)
	s.CreateAutoScalingGroup(t, "asg-untagged", 1, 2, 1)
	s.TagGroup(t, "asg-dev", "Schedule", "office-hours")
	s.TagGroup(t, "asg-dev", "Env", "dev")
	s.TagGroup(t, "asg-prod", "Schedule", "office-hours")
	s.TagGroup(t, "asg-prod", "Env", "prod")
	s.CreateECSService(t, "web", "api", 2)
	s.CreateECSService(t, "web", "worker", 1)
	s.CreateECSService(t, "batch", "jobs", 1)
	s.TagService(t, "web", "api", "Schedule", "office-hours")
	s.TagService(t, "web", "api", "Env", "dev")
	s.TagService(t, "web", "worker", "Schedule", "office-hours")
	s.TagService(t, "batch", "jobs", "Env", "dev")
	s.TagService(t, "batch", "jobs", "Schedule", "nights")
	s.CreateRedshiftCluster(t, "rs-dev")
	s.CreateRedshiftCluster(t, "rs-other")
	ctx := context.Background()
	for id, tags := range map[string]map[string]string{"rs-dev": {"Schedule": "office-hours", "Env": "dev"}, "rs-other": {"Env": "dev"}} {
		var ts []rstypes.Tag
		for k, v := range tags {
			ts = append(ts, rstypes.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		arn := "arn:aws:redshift:" + testbed.Region + ":" + b.moto.Account + ":cluster:" + id
		if _, err := s.Redshift.CreateTags(ctx, &redshift.CreateTagsInput{ResourceName: aws.String(arn), Tags: ts}); err != nil {
			t.Fatal(err)
		}
	}
	conf := parse(t, fmt.Sprintf(`region_name: %s
dev:
  - type: autoscaling.group
    tags: {Schedule: office-hours, Env: dev}
  - type: ecs.service
    tags: {Schedule: office-hours, Env: dev}
  - type: redshift.cluster
    tags: {Schedule: office-hours, Env: dev}
any:
  - type: ecs.service
    tags: {Env: "*"}
`, testbed.Region))
	rep := run(t, b, conf, Stop, Options{DryRun: true}, "dev")
	want := map[string][]string{"tags Env=dev,Schedule=office-hours": {"asg-dev", "rs-dev", "web/api"}}
	if got := byFrom(rep); fmt.Sprint(got) != fmt.Sprint(want) || !rep.OK() {
		t.Errorf("dev resolved %v, want %v (%s)", got, want, rep.SummaryLine())
	}
	rep = run(t, b, conf, Stop, Options{DryRun: true}, "any")
	want = map[string][]string{"tags Env=*": {"batch/jobs", "web/api"}}
	if got := byFrom(rep); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("any resolved %v, want %v", got, want)
	}
	rep = run(t, b, conf, Stop, Options{}, "dev")
	if !rep.OK() || rep.Totals.Changed != 3 {
		t.Fatalf("stop dev: %s %+v", rep.SummaryLine(), rep.Results)
	}
	if g := s.Group(t, "asg-prod"); g.Desired != 1 {
		t.Errorf("asg-prod scaled: %+v", g)
	}
	if st := s.RedshiftStatus(t, "rs-other"); st != "available" {
		t.Errorf("rs-other %s", st)
	}
}

// A type without a tag resolver refuses tags at config time. Not
// parallel: it swaps a registry entry for the test (parallel tests start
// only after it restored it).
func TestTagsNeedSelect(t *testing.T) {
	i := slices.IndexFunc(registry, func(k kind) bool { return k.Type == DBCluster })
	saved := registry[i]
	registry[i].Select = nil
	defer func() { registry[i] = saved }()
	_, err := Parse("f.yml", []byte("k:\n  - type: rds.db_cluster\n    tags: {A: b}\n"))
	if err == nil || err.Error() != "f.yml:3: k: tags: rds.db_cluster resources cannot be selected by tags (list their ids)" {
		t.Errorf("err = %v", err)
	}
}

// Tag groups expand into one selector per region; role groups get batches
// of their own, so one id in two accounts is two resources.
func TestPlanSelectorsAndRoles(t *testing.T) {
	conf, err := Parse("f.yml", []byte(`region_name: r1
k:
  - type: ec2.instance
    tags: {Env: dev}
    regions: [r1, r2]
  - type: ec2.instance
    role_arn: arn:aws:iam::111111111111:role/x
    tags: {Env: dev}
  - type: rds.db_instance
    ids: [db1]
  - type: rds.db_instance
    role_arn: arn:aws:iam::111111111111:role/x
    external_id: abc
    ids: [db1]
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(conf, Request{Action: Stop, Keys: []string{"k"}}, "r1")
	if err != nil {
		t.Fatal(err)
	}
	var sels []string
	for _, s := range p.Selectors {
		sels = append(sels, s.Region+" "+accountOf(s.Role)+" "+s.String())
	}
	if want := []string{"r1  Env=dev", "r2  Env=dev", "r1 111111111111 Env=dev"}; !slices.Equal(sels, want) {
		t.Errorf("selectors %q, want %q", sels, want)
	}
	if len(p.Batches) != 2 || p.Batches[0].Account() != "" || p.Batches[1].Account() != "111111111111" ||
		p.Batches[1].ExternalID != "abc" || len(p.Warnings) != 0 {
		t.Errorf("batches %+v, warnings %q", p.Batches, p.Warnings)
	}
}
