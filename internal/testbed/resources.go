package testbed

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/neptune"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/awsutils/awsutils/awsclient"
)

// RunInstances launches n running EC2 instances and returns their ids.
func RunInstances(t testing.TB, client *ec2.Client, n int) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for len(ids) < n {
		batch := min(n-len(ids), 500)
		out, err := client.RunInstances(ctx, &ec2.RunInstancesInput{
			ImageId: aws.String(AMI), InstanceType: ec2types.InstanceTypeT3Micro,
			MinCount: aws.Int32(int32(batch)), MaxCount: aws.Int32(int32(batch)),
		})
		if err != nil {
			t.Fatalf("testbed: run instances: %v", err)
		}
		for _, i := range out.Instances {
			ids = append(ids, aws.ToString(i.InstanceId))
		}
	}
	return ids
}

// AMI is an image id that moto knows without setup.
const AMI = "ami-12c6146b"

// CreateDBInstance creates an available PostgreSQL DB instance.
func CreateDBInstance(t testing.TB, client *rds.Client, id string) {
	t.Helper()
	_, err := client.CreateDBInstance(context.Background(), &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String(id), DBInstanceClass: aws.String("db.t3.micro"),
		Engine: aws.String("postgres"), AllocatedStorage: aws.Int32(20),
		MasterUsername: aws.String("admin1"), MasterUserPassword: aws.String("password123"),
	})
	if err != nil {
		t.Fatalf("testbed: create DB instance %s: %v", id, err)
	}
}

// CreateAuroraCluster creates an Aurora PostgreSQL cluster with the given
// member instances.
func CreateAuroraCluster(t testing.TB, client *rds.Client, id string, members ...string) {
	t.Helper()
	ctx := context.Background()
	_, err := client.CreateDBCluster(ctx, &rds.CreateDBClusterInput{
		DBClusterIdentifier: aws.String(id), Engine: aws.String("aurora-postgresql"),
		MasterUsername: aws.String("admin1"), MasterUserPassword: aws.String("password123"),
	})
	if err != nil && !clusterExists(ctx, client, id) {
		// moto under load sometimes fails an attempt after creating the
		// cluster; the SDK's retry then meets the automated snapshot of the
		// first attempt (DBClusterSnapshotAlreadyExistsFault). Only a
		// cluster that really is missing fails the test.
		t.Fatalf("testbed: create DB cluster %s: %v", id, err)
	}
	for _, m := range members {
		_, err := client.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
			DBInstanceIdentifier: aws.String(m), DBClusterIdentifier: aws.String(id),
			DBInstanceClass: aws.String("db.r6g.large"), Engine: aws.String("aurora-postgresql"),
		})
		if err != nil {
			t.Fatalf("testbed: create cluster member %s: %v", m, err)
		}
	}
}

func clusterExists(ctx context.Context, client *rds.Client, id string) bool {
	out, err := client.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
	return err == nil && len(out.DBClusters) == 1
}

// Clients are EC2 and RDS clients that reach m directly.
func (m *Moto) Clients(t testing.TB) (*ec2.Client, *rds.Client) {
	t.Helper()
	cfg := m.Config(t)
	return awsclient.EC2(cfg), awsclient.RDS(cfg)
}

// InstanceStates maps each of ids to its EC2 state name ("running",
// "stopped", ...).
func InstanceStates(t testing.TB, client *ec2.Client, ids ...string) map[string]string {
	t.Helper()
	out, err := client.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: ids})
	if err != nil {
		t.Fatal(err)
	}
	st := map[string]string{}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			st[aws.ToString(i.InstanceId)] = string(i.State.Name)
		}
	}
	return st
}

// DBInstanceStatus is the status of DB instance id ("available",
// "stopped", ...).
func DBInstanceStatus(t testing.TB, client *rds.Client, id string) string {
	t.Helper()
	out, err := client.DescribeDBInstances(context.Background(), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.DBInstances[0].DBInstanceStatus)
}

// DBClusterStatus is the status of DB cluster id.
func DBClusterStatus(t testing.TB, client *rds.Client, id string) string {
	t.Helper()
	out, err := client.DescribeDBClusters(context.Background(), &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.DBClusters[0].Status)
}

// CreateOriginalExample creates what the example of the original README
// names: three EC2 instances, the Aurora cluster my-aurora-cluster (with
// the member my-aurora-cluster-1) and the DB instance my-postgres. It
// returns the instance ids and that example's config for them: ids[0] and
// ids[1], the cluster and the DB instance under dev-env, ids[2] under
// batch_servers.
func CreateOriginalExample(t testing.TB, ec2c *ec2.Client, rdsc *rds.Client) (ids []string, config string) {
	t.Helper()
	ids = RunInstances(t, ec2c, 3)
	CreateAuroraCluster(t, rdsc, "my-aurora-cluster", "my-aurora-cluster-1")
	CreateDBInstance(t, rdsc, "my-postgres")
	return ids, fmt.Sprintf(`region_name: %s
dev-env:
  - type: ec2.instance
    ids: [%s, %s]
  - type: rds.db_cluster
    ids: [my-aurora-cluster]
  - type: rds.db_instance
    ids: [my-postgres]
batch_servers:
  - type: ec2.instance
    ids: [%s]
`, Region, ids[0], ids[1], ids[2])
}

// CreateNeptuneCluster creates a Neptune cluster with the given member
// instances through the Neptune API (in moto, its RDS backend; on AWS, the
// same endpoint and actions as RDS).
func (m *Moto) CreateNeptuneCluster(t testing.TB, id string, members ...string) {
	t.Helper()
	ctx := context.Background()
	c := neptune.NewFromConfig(m.Config(t), func(o *neptune.Options) { o.BaseEndpoint = aws.String(m.Endpoint) })
	if _, err := c.CreateDBCluster(ctx, &neptune.CreateDBClusterInput{DBClusterIdentifier: aws.String(id), Engine: aws.String("neptune")}); err != nil {
		t.Fatalf("testbed: create Neptune cluster %s: %v", id, err)
	}
	for _, mb := range members {
		if _, err := c.CreateDBInstance(ctx, &neptune.CreateDBInstanceInput{
			DBInstanceIdentifier: aws.String(mb), DBClusterIdentifier: aws.String(id),
			DBInstanceClass: aws.String("db.r5.large"), Engine: aws.String("neptune"),
		}); err != nil {
			t.Fatalf("testbed: create Neptune instance %s: %v", mb, err)
		}
	}
}
