package testbed_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
)

func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }

func TestMotoEC2StopsAnInstance(t *testing.T) {
	t.Parallel()
	moto := testbed.StartMotoAccount(t)
	ctx := context.Background()
	client := awsclient.EC2(moto.Config(t))
	ids := testbed.RunInstances(t, client, 3)

	if _, err := client.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: ids[:1]}); err != nil {
		t.Fatal(err)
	}
	states := testbed.InstanceStates(t, client, ids...)
	if states[ids[0]] != string(ec2types.InstanceStateNameStopped) {
		t.Errorf("stopped instance is %q", states[ids[0]])
	}
	for _, id := range ids[1:] {
		if states[id] != string(ec2types.InstanceStateNameRunning) {
			t.Errorf("%s is %q, want running", id, states[id])
		}
	}
}

func TestMotoResetEmptiesState(t *testing.T) {
	moto := testbed.StartMoto(t)
	client := awsclient.EC2(moto.Config(t))
	testbed.RunInstances(t, client, 1)
	if err := moto.Reset(); err != nil {
		t.Fatal(err)
	}
	out, err := client.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Reservations) != 0 {
		t.Fatalf("after reset: %d reservations", len(out.Reservations))
	}
}

// Each StartMotoAccount is an empty account that sees nothing of another
// one's, through Config and through the Env a child process gets.
func TestMotoAccountsAreSeparate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := testbed.StartMotoAccount(t), testbed.StartMotoAccount(t)
	if a.Account == b.Account || a.Account == testbed.Account {
		t.Fatalf("accounts %s and %s (default %s)", a.Account, b.Account, testbed.Account)
	}
	ids := testbed.RunInstances(t, awsclient.EC2(a.Config(t)), 2)
	count := func(cfg aws.Config) int {
		out, err := awsclient.EC2(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range out.Reservations {
			n += len(r.Instances)
		}
		return n
	}
	envCfg, err := awsclient.Load(ctx, awsclient.Options{Region: testbed.Region, Endpoint: a.Endpoint,
		AccessKeyID: a.Env()["AWS_ACCESS_KEY_ID"], SecretAccessKey: a.Env()["AWS_SECRET_ACCESS_KEY"]})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(a.Config(t)); n != len(ids) {
		t.Errorf("account %s sees %d instances, want %d", a.Account, n, len(ids))
	}
	if n := count(envCfg); n != len(ids) {
		t.Errorf("account %s through its Env sees %d instances, want %d", a.Account, n, len(ids))
	}
	if n := count(b.Config(t)); n != 0 {
		t.Errorf("account %s sees %d instances of another account", b.Account, n)
	}
}

func TestMotoRDSInstanceAndAuroraCluster(t *testing.T) {
	t.Parallel()
	moto := testbed.StartMotoAccount(t)
	ctx := context.Background()
	client := awsclient.RDS(moto.Config(t))
	testbed.CreateDBInstance(t, client, "pg1")
	testbed.CreateAuroraCluster(t, client, "aurora1", "aurora1-a")

	in, err := client.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("pg1")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(in.DBInstances[0].DBInstanceStatus); got != "available" {
		t.Errorf("pg1 status %q", got)
	}
	cl, err := client.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("aurora1")})
	if err != nil {
		t.Fatal(err)
	}
	c := cl.DBClusters[0]
	if got := aws.ToString(c.Status); got != "available" {
		t.Errorf("aurora1 status %q", got)
	}
	if len(c.DBClusterMembers) != 1 || aws.ToString(c.DBClusterMembers[0].DBInstanceIdentifier) != "aurora1-a" {
		t.Errorf("aurora1 members %+v", c.DBClusterMembers)
	}
}

func TestS3PutGetWithChecksum(t *testing.T) {
	t.Parallel()
	testbed.EachS3Server(t, func(t *testing.T, s testbed.S3Server) {
		ctx, bucket := context.Background(), s.Bucket
		client := awsclient.S3(s.Config)
		body := []byte("hello, test bed\n")
		put, err := client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String("dir/hello.txt"),
			Body: bytes.NewReader(body), ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32,
		})
		if err != nil {
			t.Fatal(err)
		}
		if put.ChecksumCRC32 == nil {
			t.Fatal("PutObject returned no CRC32")
		}
		get, err := client.GetObject(ctx, &s3.GetObjectInput{
			Bucket: aws.String(bucket), Key: aws.String("dir/hello.txt"), ChecksumMode: s3types.ChecksumModeEnabled,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer get.Body.Close()
		var got bytes.Buffer
		if _, err := got.ReadFrom(get.Body); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), body) {
			t.Fatalf("got %q", got.Bytes())
		}
		if aws.ToString(get.ChecksumCRC32) != aws.ToString(put.ChecksumCRC32) {
			t.Fatalf("checksum on get %q, on put %q", aws.ToString(get.ChecksumCRC32), aws.ToString(put.ChecksumCRC32))
		}
	})
}

func TestVersityRejectsWrongSecret(t *testing.T) {
	t.Parallel()
	v := testbed.StartVersity(t)
	bucket := v.Bucket(t)
	opts := v.Options()
	opts.SecretAccessKey, opts.MaxAttempts = "not-the-secret", 1
	cfg, err := awsclient.Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = awsclient.S3(cfg).PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("x"), Body: strings.NewReader("x"),
	})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "SignatureDoesNotMatch" {
		t.Fatalf("want SignatureDoesNotMatch, got %v", err)
	}
}

func TestLambdaEmulator(t *testing.T) {
	t.Parallel()
	bootstrap := testbed.BuildBootstrap(t, "./internal/testbed/echofn")
	fn := testbed.StartLambda(t, bootstrap, map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "ec2_stop_dev_env"})
	ctx := context.Background()

	payload, err := fn.Invoke(ctx, map[string]any{"action": "stop"})
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		FunctionName string `json:"functionName"`
		Event        struct {
			Action string `json:"action"`
		} `json:"event"`
	}
	if err := json.Unmarshal(payload, &r); err != nil {
		t.Fatalf("payload %s: %v", payload, err)
	}
	if r.FunctionName != "ec2_stop_dev_env" || r.Event.Action != "stop" {
		t.Fatalf("payload %s", payload)
	}

	_, err = fn.Invoke(ctx, `{"fail": "boom: bad input"}`)
	var fe *testbed.FunctionError
	if !errors.As(err, &fe) || fe.Message != "boom: bad input" {
		t.Fatalf("want a function error, got %v", err)
	}
}
