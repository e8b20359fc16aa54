package testbed

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/redshift"
	redshifttypes "github.com/aws/aws-sdk-go-v2/service/redshift/types"

	"github.com/awsutils/awsutils/awsclient"
)

// Scaling are clients for the types beyond EC2 and RDS that reach m
// directly.
type Scaling struct {
	ASG      *autoscaling.Client
	ECS      *ecs.Client
	Redshift *redshift.Client
}

// ScalingClients are Auto Scaling, ECS and Redshift clients that reach m
// directly.
func (m *Moto) ScalingClients(t testing.TB) Scaling {
	t.Helper()
	cfg := m.Config(t)
	return Scaling{awsclient.AutoScaling(cfg), awsclient.ECS(cfg), awsclient.Redshift(cfg)}
}

// Group is an Auto Scaling group's sizes, instances (not terminated) and
// tags.
type Group struct {
	Min, Max, Desired int32
	Instances         int
	Tags              map[string]string
}

// CreateAutoScalingGroup creates a group of t3.micro instances in one
// zone with the given sizes and returns the ids of its instances: moto
// launches desired instances at once.
func (s Scaling) CreateAutoScalingGroup(t testing.TB, name string, min, max, desired int32) []string {
	t.Helper()
	ctx := context.Background()
	_, err := s.ASG.CreateLaunchConfiguration(ctx, &autoscaling.CreateLaunchConfigurationInput{
		LaunchConfigurationName: aws.String(name + "-lc"), ImageId: aws.String(AMI), InstanceType: aws.String("t3.micro"),
	})
	if err != nil {
		t.Fatalf("testbed: create launch configuration for %s: %v", name, err)
	}
	_, err = s.ASG.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name), LaunchConfigurationName: aws.String(name + "-lc"),
		MinSize: aws.Int32(min), MaxSize: aws.Int32(max), DesiredCapacity: aws.Int32(desired),
		AvailabilityZones: []string{s.ASG.Options().Region + "a"},
	})
	if err != nil {
		t.Fatalf("testbed: create Auto Scaling group %s: %v", name, err)
	}
	out, err := s.ASG.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil || len(out.AutoScalingGroups) != 1 {
		t.Fatalf("testbed: describe Auto Scaling group %s: %v", name, err)
	}
	var ids []string
	for _, i := range out.AutoScalingGroups[0].Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	if len(ids) != int(desired) {
		t.Fatalf("testbed: Auto Scaling group %s has %d instances, want %d", name, len(ids), desired)
	}
	return ids
}

// TagGroup sets tag key to value on group name.
func (s Scaling) TagGroup(t testing.TB, name, key, value string) {
	t.Helper()
	_, err := s.ASG.CreateOrUpdateTags(context.Background(), &autoscaling.CreateOrUpdateTagsInput{Tags: []astypes.Tag{{
		ResourceId: aws.String(name), ResourceType: aws.String("auto-scaling-group"),
		Key: aws.String(key), Value: aws.String(value), PropagateAtLaunch: aws.Bool(false),
	}}})
	if err != nil {
		t.Fatalf("testbed: tag group %s: %v", name, err)
	}
}

// Group describes group name.
func (s Scaling) Group(t testing.TB, name string) Group {
	t.Helper()
	out, err := s.ASG.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil || len(out.AutoScalingGroups) != 1 {
		t.Fatalf("testbed: describe group %s: %v", name, err)
	}
	g := out.AutoScalingGroups[0]
	got := Group{Min: aws.ToInt32(g.MinSize), Max: aws.ToInt32(g.MaxSize), Desired: aws.ToInt32(g.DesiredCapacity), Tags: map[string]string{}}
	for _, i := range g.Instances {
		if i.LifecycleState != astypes.LifecycleStateTerminated {
			got.Instances++
		}
	}
	for _, tag := range g.Tags {
		got.Tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	return got
}

// Service is an ECS service's counts and tags.
type Service struct {
	Desired, Running int32
	Tags             map[string]string
}

// CreateECSService creates cluster (if new) and a service in it running a
// one-container task desired times.
func (s Scaling) CreateECSService(t testing.TB, cluster, service string, desired int32) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.ECS.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(cluster)}); err != nil {
		t.Fatalf("testbed: create ECS cluster %s: %v", cluster, err)
	}
	td, err := s.ECS.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(service),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{
			Name: aws.String("app"), Image: aws.String("public.ecr.aws/nginx/nginx:latest"), Memory: aws.Int32(128),
		}},
	})
	if err != nil {
		t.Fatalf("testbed: register task definition %s: %v", service, err)
	}
	_, err = s.ECS.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String(cluster), ServiceName: aws.String(service),
		TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(desired),
	})
	if err != nil {
		t.Fatalf("testbed: create ECS service %s/%s: %v", cluster, service, err)
	}
	// moto starts a created service's tasks only on an update (then all
	// at once): without it, running would stay 0.
	if _, err := s.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String(service),
		DesiredCount: aws.Int32(desired)}); err != nil {
		t.Fatalf("testbed: update ECS service %s/%s: %v", cluster, service, err)
	}
}

// TagService sets tag key to value on cluster/service.
func (s Scaling) TagService(t testing.TB, cluster, service, key, value string) {
	t.Helper()
	arn := s.serviceARN(t, cluster, service)
	_, err := s.ECS.TagResource(context.Background(), &ecs.TagResourceInput{ResourceArn: aws.String(arn),
		Tags: []ecstypes.Tag{{Key: aws.String(key), Value: aws.String(value)}}})
	if err != nil {
		t.Fatalf("testbed: tag service %s/%s: %v", cluster, service, err)
	}
}

func (s Scaling) describeService(t testing.TB, cluster, service string) ecstypes.Service {
	t.Helper()
	out, err := s.ECS.DescribeServices(context.Background(), &ecs.DescribeServicesInput{
		Cluster: aws.String(cluster), Services: []string{service}, Include: []ecstypes.ServiceField{ecstypes.ServiceFieldTags},
	})
	if err != nil || len(out.Services) != 1 {
		t.Fatalf("testbed: describe service %s/%s: %v", cluster, service, err)
	}
	return out.Services[0]
}

func (s Scaling) serviceARN(t testing.TB, cluster, service string) string {
	t.Helper()
	return aws.ToString(s.describeService(t, cluster, service).ServiceArn)
}

// Service describes cluster/service.
func (s Scaling) Service(t testing.TB, cluster, service string) Service {
	t.Helper()
	d := s.describeService(t, cluster, service)
	got := Service{Desired: d.DesiredCount, Running: d.RunningCount, Tags: map[string]string{}}
	for _, tag := range d.Tags {
		got.Tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	return got
}

// CreateRedshiftCluster creates an available single-node cluster.
func (s Scaling) CreateRedshiftCluster(t testing.TB, id string) {
	t.Helper()
	_, err := s.Redshift.CreateCluster(context.Background(), &redshift.CreateClusterInput{
		ClusterIdentifier: aws.String(id), NodeType: aws.String("ra3.xlplus"), ClusterType: aws.String("single-node"),
		MasterUsername: aws.String("admin1"), MasterUserPassword: aws.String("Password123"),
	})
	if err != nil {
		t.Fatalf("testbed: create Redshift cluster %s: %v", id, err)
	}
}

// RedshiftStatus is cluster id's status (available, paused, ...).
func (s Scaling) RedshiftStatus(t testing.TB, id string) string {
	t.Helper()
	out, err := s.Redshift.DescribeClusters(context.Background(), &redshift.DescribeClustersInput{ClusterIdentifier: aws.String(id)})
	if err != nil || len(out.Clusters) != 1 {
		t.Fatalf("testbed: describe Redshift cluster %s: %v", id, err)
	}
	return aws.ToString(out.Clusters[0].ClusterStatus)
}

// Fleet is one resource of every type, for tests of a key that mixes them.
type Fleet struct {
	Instance, DB, Cluster, Group, Service, Redshift string
	// Groups lists each of them by id, as the entries of a config key.
	Groups string
	// Config has the keys "fleet", listing all of them, and "broken": a
	// group that does not exist, one at 0 whose saved capacity tag is
	// malformed, and a service that does not exist.
	Config string
	s      Scaling
}

// CreateFleet creates the resources of a Fleet in m: an instance, a DB
// instance, an Aurora cluster, a group of min 1, max 3, desired 2, a
// service of desired count 2 and a Redshift cluster, plus "badtag", a
// group at 0 tagged awsutils:capacity=1,2.
func CreateFleet(t testing.TB, m *Moto) *Fleet {
	t.Helper()
	ec2c, rdsc := m.Clients(t)
	f := &Fleet{Instance: RunInstances(t, ec2c, 1)[0], DB: "pg-fleet", Cluster: "aurora-fleet",
		Group: "app", Service: "prod/api", Redshift: "dwh", s: m.ScalingClients(t)}
	CreateDBInstance(t, rdsc, f.DB)
	CreateAuroraCluster(t, rdsc, f.Cluster)
	f.s.CreateAutoScalingGroup(t, f.Group, 1, 3, 2)
	f.s.CreateAutoScalingGroup(t, "badtag", 0, 0, 0)
	f.s.TagGroup(t, "badtag", "awsutils:capacity", "1,2")
	f.s.CreateECSService(t, "prod", "api", 2)
	f.s.CreateRedshiftCluster(t, f.Redshift)
	f.Groups = fmt.Sprintf(`  - type: ec2.instance
    ids: [%s]
  - type: rds.db_instance
    ids: [%s]
  - type: rds.db_cluster
    ids: [%s]
  - type: autoscaling.group
    ids: [%s]
  - type: ecs.service
    ids: [%s]
  - type: redshift.cluster
    ids: [%s]
`, f.Instance, f.DB, f.Cluster, f.Group, f.Service, f.Redshift)
	f.Config = "region_name: " + Region + "\nfleet:\n" + f.Groups + `broken:
  - type: autoscaling.group
    ids: [nope, badtag]
  - type: ecs.service
    ids: [prod/nope]
`
	return f
}

// State is moto's state of every resource of f (and badtag): EC2, RDS and
// Redshift states, a group's min,max,desired, instances and tags, a
// service's desired and running counts and tags.
func (f *Fleet) State(t testing.TB, m *Moto) map[string]string {
	t.Helper()
	ec2c, rdsc := m.Clients(t)
	st := map[string]string{
		f.Instance: InstanceStates(t, ec2c, f.Instance)[f.Instance],
		f.DB:       DBInstanceStatus(t, rdsc, f.DB),
		f.Cluster:  DBClusterStatus(t, rdsc, f.Cluster),
		f.Redshift: f.s.RedshiftStatus(t, f.Redshift),
	}
	for _, name := range []string{f.Group, "badtag"} {
		g := f.s.Group(t, name)
		st[name] = fmt.Sprintf("%d,%d,%d instances %d tags %v", g.Min, g.Max, g.Desired, g.Instances, g.Tags)
	}
	cluster, service, _ := strings.Cut(f.Service, "/")
	svc := f.s.Service(t, cluster, service)
	st[f.Service] = fmt.Sprintf("desired %d running %d tags %v", svc.Desired, svc.Running, svc.Tags)
	return st
}

// TagRedshiftCluster sets tag key to value on cluster id of account.
func (s Scaling) TagRedshiftCluster(t testing.TB, account, id, key, value string) {
	t.Helper()
	arn := "arn:aws:redshift:" + s.Redshift.Options().Region + ":" + account + ":cluster:" + id
	_, err := s.Redshift.CreateTags(context.Background(), &redshift.CreateTagsInput{ResourceName: aws.String(arn),
		Tags: []redshifttypes.Tag{{Key: aws.String(key), Value: aws.String(value)}}})
	if err != nil {
		t.Fatalf("testbed: tag Redshift cluster %s: %v", id, err)
	}
}
