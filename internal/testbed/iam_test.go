package testbed

import (
	"context"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/awsutils/awsutils/awsclient"
)

func TestResourceARNs(t *testing.T) {
	tests := []struct {
		service, op string
		form        url.Values
		want        []string
		modelled    bool
	}{
		{"ec2", "DescribeInstances", url.Values{"InstanceId.1": {"i-1"}}, []string{"*"}, true},
		{"ec2", "StopInstances", url.Values{"InstanceId.2": {"i-2"}, "InstanceId.1": {"i-1"}},
			[]string{"arn:aws:ec2:us-east-1:123456789012:instance/i-1", "arn:aws:ec2:us-east-1:123456789012:instance/i-2"}, true},
		{"rds", "StopDBInstance", url.Values{"DBInstanceIdentifier": {"db1"}}, []string{"arn:aws:rds:us-east-1:123456789012:db:db1"}, true},
		{"rds", "StartDBCluster", url.Values{"DBClusterIdentifier": {"c1"}}, []string{"arn:aws:rds:us-east-1:123456789012:cluster:c1"}, true},
		{"rds", "DescribeDBClusters", url.Values{}, []string{"*"}, true},
		{"rds", "DescribeDBInstances", url.Values{"DBInstanceIdentifier": {"db1"}}, []string{"arn:aws:rds:us-east-1:123456789012:db:db1"}, true},
		{"autoscaling", "UpdateAutoScalingGroup", url.Values{"AutoScalingGroupName": {"app"}},
			[]string{"arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:uuid-of-app:autoScalingGroupName/app"}, true},
		{"autoscaling", "CreateOrUpdateTags", url.Values{"Tags.member.1.ResourceId": {"app"}, "Tags.member.2.ResourceId": {"app"}, "Tags.member.3.ResourceId": {"web"}},
			[]string{"arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:uuid-of-app:autoScalingGroupName/app",
				"arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:uuid-of-web:autoScalingGroupName/web"}, true},
		{"autoscaling", "DescribeAutoScalingInstances", url.Values{}, []string{"*"}, true},
		{"autoscaling", "DeleteAutoScalingGroup", url.Values{"AutoScalingGroupName": {"app"}}, nil, false},
		{"ecs", "UpdateService", url.Values{"cluster": {"prod"}, "service": {"api"}}, []string{"arn:aws:ecs:us-east-1:123456789012:service/prod/api"}, true},
		{"ecs", "UpdateService", url.Values{"cluster": {"arn:aws:ecs:us-east-1:123456789012:cluster/prod"}, "service": {"api"}},
			[]string{"arn:aws:ecs:us-east-1:123456789012:service/prod/api"}, true},
		{"ecs", "UpdateService", url.Values{"service": {"api"}}, []string{"arn:aws:ecs:us-east-1:123456789012:service/default/api"}, true},
		{"ecs", "TagResource", url.Values{"resourceArn": {"arn:aws:ecs:us-east-1:123456789012:service/prod/api"}},
			[]string{"arn:aws:ecs:us-east-1:123456789012:service/prod/api"}, true},
		{"ecs", "ListServices", url.Values{"cluster": {"prod"}}, []string{"*"}, true},
		{"ecs", "DeleteService", url.Values{"service": {"api"}}, nil, false},
		{"redshift", "PauseCluster", url.Values{"ClusterIdentifier": {"dwh"}}, []string{"arn:aws:redshift:us-east-1:123456789012:cluster:dwh"}, true},
		{"redshift", "DescribeClusters", url.Values{"ClusterIdentifier": {"dwh"}}, []string{"*"}, true},
		{"redshift", "DeleteCluster", url.Values{"ClusterIdentifier": {"dwh"}}, nil, false},
		{"ec2", "RunInstances", url.Values{}, nil, false},
		{"rds", "DeleteDBInstance", url.Values{"DBInstanceIdentifier": {"db1"}}, nil, false},
	}
	for _, tt := range tests {
		got, ok := resourceARNs(tt.service, tt.op, tt.form, "us-east-1", "123456789012", func(name string) string { return "uuid-of-" + name })
		if ok != tt.modelled || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:%s %v = %q %v, want %q %v", tt.service, tt.op, tt.form, got, ok, tt.want, tt.modelled)
		}
	}
}

// TestAuthorizer checks the Authorizer against moto with enforcement on: a
// policy scoped to one instance ARN allows that instance only (moto alone
// would refuse both), a call naming an allowed and a refused instance is
// refused as AWS refuses it, an action without a resource model is refused,
// and S3 is left to moto's own per-key check.
func TestAuthorizer(t *testing.T) {
	m := StartMotoIAM(t)
	ec2c, _ := m.Moto.Clients(t)
	ids := RunInstances(t, ec2c, 2)
	if _, err := awsclient.S3(m.Moto.Config(t)).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("authz-bucket")}); err != nil {
		t.Fatal(err)
	}
	user := m.User(t, "one-instance", map[string]string{"p": `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["ec2:StopInstances"],"Resource":"arn:aws:ec2:*:*:instance/` + ids[0] + `"},
		{"Effect":"Allow","Action":"ec2:DescribeInstances","Resource":"*"},
		{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::authz-bucket/in/*"}]}`})
	m.Enforce(t)
	cfg := user.Config(t)
	c := awsclient.EC2(cfg)
	ctx := context.Background()
	stop := func(ids ...string) error {
		_, err := c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: ids})
		return err
	}
	if err := stop(ids[0]); err != nil {
		t.Errorf("allowed instance: %v", err)
	}
	for _, call := range [][]string{{ids[1]}, {ids[0], ids[1]}} {
		if err := stop(call...); awsclient.Code(err) != "UnauthorizedOperation" {
			t.Errorf("StopInstances %v: %v, want UnauthorizedOperation", call, err)
		}
	}
	if _, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Errorf("DescribeInstances: %v", err)
	}
	if _, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids[:1]}); err == nil || !strings.Contains(err.Error(), "no resource model") {
		t.Errorf("TerminateInstances: %v, want a refusal naming the missing model", err)
	}
	if _, err := awsclient.RDS(cfg).StopDBInstance(ctx, &rds.StopDBInstanceInput{DBInstanceIdentifier: aws.String("db")}); awsclient.Code(err) != "AccessDenied" {
		t.Errorf("StopDBInstance: %v, want AccessDenied", err)
	}
	s3c := awsclient.S3(cfg)
	for key, want := range map[string]bool{"in/x": true, "out/x": false} {
		_, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("authz-bucket"), Key: aws.String(key), Body: strings.NewReader("x")})
		if (err == nil) != want {
			t.Errorf("PutObject %s: %v, want allowed %v", key, err, want)
		}
	}
	m.Relax(t)
	if st := InstanceStates(t, ec2c, ids...); st[ids[0]] != "stopped" || st[ids[1]] != "running" {
		t.Errorf("states %v, want only %s stopped", st, ids[0])
	}
}

// TestEvaluatorConditions checks authorize.py's condition handling against
// AWS's rules, where moto's own differs (see authorize.py): a missing key
// fails StringEquals, Null tests presence, a failed condition makes a
// statement not apply (a Deny with it does not deny), and an operator it
// does not evaluate is an error, never a silent grant.
func TestEvaluatorConditions(t *testing.T) {
	Require(t)
	ev, err := startEvaluator(t)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.close()
	const arn = "arn:aws:ecs:us-east-1:123456789012:service/prod/api"
	allow := func(cond string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:UpdateService","Resource":"arn:aws:ecs:*:*:service/*","Condition":` + cond + `}]}`
	}
	twoKeys := allow(`{"StringEquals":{"aws:ResourceTag/team":"a","aws:ResourceTag/env":["dev","test"]}}`)
	present := allow(`{"Null":{"aws:ResourceTag/team":"false"}}`)
	denyB := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ecs:*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"b"}}}]}`
	plain := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:UpdateService","Resource":"*"}]}`
	tests := []struct {
		name     string
		policies []string
		context  map[string]string
		want     Decision
	}{
		{"all keys match", []string{twoKeys}, map[string]string{"aws:ResourceTag/team": "a", "aws:ResourceTag/env": "test"}, Permitted},
		{"one key differs", []string{twoKeys}, map[string]string{"aws:ResourceTag/team": "b", "aws:ResourceTag/env": "dev"}, Neutral},
		{"one key missing", []string{twoKeys}, map[string]string{"aws:ResourceTag/env": "dev"}, Neutral},
		{"no context", []string{twoKeys}, nil, Neutral},
		{"Null false, present", []string{present}, map[string]string{"aws:ResourceTag/team": "x"}, Permitted},
		{"Null false, absent", []string{present}, map[string]string{"aws:ResourceTag/env": "x"}, Neutral},
		{"deny not met", []string{plain, denyB}, map[string]string{"aws:ResourceTag/team": "a"}, Permitted},
		{"deny met", []string{plain, denyB}, map[string]string{"aws:ResourceTag/team": "b"}, Denied},
	}
	for _, tt := range tests {
		got, err := ev.decide(tt.policies, "ecs:UpdateService", arn, tt.context)
		if err != nil || got != tt.want {
			t.Errorf("%s: %s %v, want %s", tt.name, got, err, tt.want)
		}
	}
	if _, err := ev.decide([]string{allow(`{"StringLike":{"aws:ResourceTag/team":"a*"}}`)}, "ecs:UpdateService", arn, nil); err == nil || !strings.Contains(err.Error(), "StringLike") {
		t.Errorf("an operator the test bed does not evaluate: %v, want an error naming it", err)
	}
}
