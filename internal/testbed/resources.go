package testbed

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
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
