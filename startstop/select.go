package startstop

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/redshift"

	"github.com/awsutils/awsutils/awsclient"
)

// anyValue as a tag's value selects every resource that has the tag.
const anyValue = "*"

// resolve finds the resources of each of the plan's selectors, all at
// once within the services' bounds, and adds them to the plan's batches,
// each resource once: one already listed (or found by another selector)
// keeps where it came from first. It returns a failed Result for each
// selector that could not be resolved; one that matched nothing is a note.
func (r *runner) resolve(ctx context.Context, plan *Plan) []Result {
	type found struct {
		ids []string
		err error
	}
	got := make([]found, len(plan.Selectors))
	var wg sync.WaitGroup
	for i, s := range plan.Selectors {
		wg.Go(func() {
			k, _ := lookup(s.Type)
			cfg, err := r.configFor(s.Role, s.ExternalID, s.Region)
			if err != nil {
				got[i].err = err
				return
			}
			ids, err := k.Select(withLane(ctx, accountOf(s.Role), s.Region), r, cfg, s.Tags)
			if err != nil {
				got[i].err = fmt.Errorf("%s", failure(err, k.Describe.Op))
			}
			got[i].ids = ids
		})
	}
	wg.Wait()
	var failed []Result
	for i, s := range plan.Selectors {
		sel := s.String()
		if err := got[i].err; err != nil {
			failed = append(failed, Result{Type: s.Type, Region: s.Region, Account: accountOf(s.Role), From: FromTags,
				Selector: sel, Outcome: Failed, Message: "selecting by tags: " + err.Error()})
			continue
		}
		if len(got[i].ids) == 0 {
			where := s.Region
			if a := accountOf(s.Role); a != "" {
				where = "account " + a + ", " + s.Region
			}
			r.note(fmt.Sprintf("%s: %s tags %s matched nothing in %s", s.Key, s.Type, sel, where))
			continue
		}
		b := Batch{Region: s.Region, Type: s.Type, Fields: s.Fields, Role: s.Role, ExternalID: s.ExternalID}
		for _, id := range got[i].ids {
			plan.add(b, id, s.Key, sel)
		}
	}
	return failed
}

// ec2Select finds instances by tag: filters, which EC2 applies itself,
// leaving out those terminated or being terminated.
func ec2Select(ctx context.Context, r *runner, cfg aws.Config, tags map[string]string) ([]string, error) {
	c := awsclient.EC2(cfg)
	filters := []ec2types.Filter{{Name: aws.String("instance-state-name"),
		Values: []string{"pending", "running", "stopping", "stopped"}}}
	for _, k := range sortedKeys(tags) {
		if v := tags[k]; v == anyValue {
			filters = append(filters, ec2types.Filter{Name: aws.String("tag-key"), Values: []string{k}})
		} else {
			filters = append(filters, ec2types.Filter{Name: aws.String("tag:" + k), Values: []string{v}})
		}
	}
	in := &ec2.DescribeInstancesInput{Filters: filters, MaxResults: aws.Int32(1000)}
	var ids []string
	for {
		var out *ec2.DescribeInstancesOutput
		err := r.call(ctx, "ec2", func() (err error) {
			out, err = c.DescribeInstances(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, res := range out.Reservations {
			for _, inst := range res.Instances {
				ids = append(ids, aws.ToString(inst.InstanceId))
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return ids, nil
		}
		in.NextToken = out.NextToken
	}
}

// dbInstanceSelect finds DB instances by the tags DescribeDBInstances
// returns with each one (RDS has no tag filter), so one describe call per
// 100 instances does it: no ListTagsForResource per instance. Members of a
// cluster are left out: they start and stop with it (rds.db_cluster).
func dbInstanceSelect(ctx context.Context, r *runner, cfg aws.Config, tags map[string]string) ([]string, error) {
	c := awsclient.RDS(cfg)
	in := &rds.DescribeDBInstancesInput{MaxRecords: aws.Int32(100)}
	var ids []string
	members := 0
	for {
		var out *rds.DescribeDBInstancesOutput
		err := r.call(ctx, "rds", func() (err error) {
			out, err = c.DescribeDBInstances(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, db := range out.DBInstances {
			if !tagsMatch(tags, rdsTags(db.TagList)) {
				continue
			}
			if aws.ToString(db.DBClusterIdentifier) != "" {
				members++
				continue
			}
			ids = append(ids, aws.ToString(db.DBInstanceIdentifier))
		}
		if aws.ToString(out.Marker) == "" {
			break
		}
		in.Marker = out.Marker
	}
	if members > 0 {
		r.note(fmt.Sprintf("%s tags %s: left out %d DB instances that are cluster members in %s (select their cluster as %s)",
			DBInstance, Selector{Tags: tags}.String(), members, cfg.Region, DBCluster))
	}
	return ids, nil
}

// dbClusterSelect finds DB clusters by the tags DescribeDBClusters
// returns, as for DB instances.
func dbClusterSelect(ctx context.Context, r *runner, cfg aws.Config, tags map[string]string) ([]string, error) {
	c := awsclient.RDS(cfg)
	in := &rds.DescribeDBClustersInput{MaxRecords: aws.Int32(100)}
	var ids []string
	for {
		var out *rds.DescribeDBClustersOutput
		err := r.call(ctx, "rds", func() (err error) {
			out, err = c.DescribeDBClusters(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, cl := range out.DBClusters {
			if tagsMatch(tags, rdsTags(cl.TagList)) {
				ids = append(ids, aws.ToString(cl.DBClusterIdentifier))
			}
		}
		if aws.ToString(out.Marker) == "" {
			return ids, nil
		}
		in.Marker = out.Marker
	}
}

func rdsTags(list []rdstypes.Tag) map[string]string {
	m := make(map[string]string, len(list))
	for _, t := range list {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// tagsMatch says whether have has every tag of want, "*" matching any
// value of a tag that is present.
func tagsMatch(want, have map[string]string) bool {
	for k, v := range want {
		got, ok := have[k]
		if !ok || (v != anyValue && got != v) {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// asgSelect finds Auto Scaling groups by DescribeAutoScalingGroups' own
// tag filters, leaving out groups being deleted.
func asgSelect(ctx context.Context, r *runner, cfg aws.Config, tags map[string]string) ([]string, error) {
	c := awsclient.AutoScaling(cfg)
	var filters []astypes.Filter
	for _, k := range sortedKeys(tags) {
		if v := tags[k]; v == anyValue {
			filters = append(filters, astypes.Filter{Name: aws.String("tag-key"), Values: []string{k}})
		} else {
			filters = append(filters, astypes.Filter{Name: aws.String("tag:" + k), Values: []string{v}})
		}
	}
	in := &autoscaling.DescribeAutoScalingGroupsInput{Filters: filters, MaxRecords: aws.Int32(100)}
	var ids []string
	for {
		var out *autoscaling.DescribeAutoScalingGroupsOutput
		err := r.call(ctx, "autoscaling", func() (err error) {
			out, err = c.DescribeAutoScalingGroups(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, g := range out.AutoScalingGroups {
			if aws.ToString(g.Status) == "" {
				ids = append(ids, aws.ToString(g.AutoScalingGroupName))
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return ids, nil
		}
		in.NextToken = out.NextToken
	}
}

// ecsSelect finds ECS services by the tags DescribeServices returns (ECS
// has no tag filter): every cluster's services listed, then described 10
// at a time, the calls of all clusters at once.
func ecsSelect(ctx context.Context, r *runner, cfg aws.Config, tags map[string]string) ([]string, error) {
	c := awsclient.ECS(cfg)
	var clusters []string
	lc := &ecs.ListClustersInput{}
	for {
		var out *ecs.ListClustersOutput
		err := r.call(ctx, "ecs", func() (err error) {
			out, err = c.ListClusters(ctx, lc)
			return err
		})
		if err != nil {
			return nil, err
		}
		clusters = append(clusters, out.ClusterArns...)
		if aws.ToString(out.NextToken) == "" {
			break
		}
		lc.NextToken = out.NextToken
	}
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		ids   []string
		first error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
		}
	}
	for _, arn := range clusters {
		wg.Go(func() {
			name := arn[strings.LastIndex(arn, "/")+1:]
			in := &ecs.ListServicesInput{Cluster: aws.String(arn), MaxResults: aws.Int32(100)}
			for {
				var out *ecs.ListServicesOutput
				err := r.call(ctx, "ecs", func() (err error) {
					out, err = c.ListServices(ctx, in)
					return err
				})
				if err != nil {
					fail(err)
					return
				}
				for part := range chunks(out.ServiceArns, ecsPerCall) {
					var d *ecs.DescribeServicesOutput
					err := r.call(ctx, "ecs", func() (err error) {
						d, err = c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(arn), Services: part,
							Include: []ecstypes.ServiceField{ecstypes.ServiceFieldTags}})
						return err
					})
					if err != nil {
						fail(err)
						return
					}
					for _, s := range d.Services {
						have := map[string]string{}
						for _, t := range s.Tags {
							have[aws.ToString(t.Key)] = aws.ToString(t.Value)
						}
						if aws.ToString(s.Status) == "ACTIVE" && tagsMatch(tags, have) {
							mu.Lock()
							ids = append(ids, name+"/"+aws.ToString(s.ServiceName))
							mu.Unlock()
						}
					}
				}
				if aws.ToString(out.NextToken) == "" {
					return
				}
				in.NextToken = out.NextToken
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	sort.Strings(ids)
	return ids, nil
}

// redshiftSelect finds Redshift clusters by DescribeClusters' TagKeys,
// which match clusters with any of the keys, and then checks every tag
// (TagValues too would match any key with any of the values).
func redshiftSelect(ctx context.Context, r *runner, cfg aws.Config, tags map[string]string) ([]string, error) {
	c := awsclient.Redshift(cfg)
	in := &redshift.DescribeClustersInput{TagKeys: sortedKeys(tags), MaxRecords: aws.Int32(100)}
	var ids []string
	for {
		var out *redshift.DescribeClustersOutput
		err := r.call(ctx, "redshift", func() (err error) {
			out, err = c.DescribeClusters(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, cl := range out.Clusters {
			have := map[string]string{}
			for _, t := range cl.Tags {
				have[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			if st := aws.ToString(cl.ClusterStatus); st != "deleting" && st != "final-snapshot" && tagsMatch(tags, have) {
				ids = append(ids, aws.ToString(cl.ClusterIdentifier))
			}
		}
		if aws.ToString(out.Marker) == "" {
			return ids, nil
		}
		in.Marker = out.Marker
	}
}
