package testbed

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/awsutils/awsutils/awsclient"
)

func TestResourceIDs(t *testing.T) {
	tests := []struct {
		form string
		want []string
	}{
		{"Action=StopInstances&InstanceId.2=i-b&InstanceId.10=i-c&InstanceId.1=i-a", []string{"i-a", "i-b", "i-c"}},
		{"Action=StopDBInstance&DBInstanceIdentifier=pg1", []string{"pg1"}},
		{"Action=StopDBCluster&DBClusterIdentifier=aurora1", []string{"aurora1"}},
		{"Action=DescribeInstances&Filter.1.Name=instance-id&Filter.1.Value.1=i-a", nil},
	}
	for _, tt := range tests {
		form, err := url.ParseQuery(tt.form)
		if err != nil {
			t.Fatal(err)
		}
		if got := ResourceIDs(form); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.form, got, tt.want)
		}
	}
}

func wantStatus(t *testing.T, err error, status int, code string) {
	t.Helper()
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != status || awsclient.Code(err) != code {
		t.Fatalf("error %v, want HTTP %d %s", err, status, code)
	}
	if awsclient.Classify(err) != awsclient.KindAccessDenied {
		t.Fatalf("Classify(%v) = %v, want access denied", err, awsclient.Classify(err))
	}
}

// decode asks STS, through the proxy, for the meaning of an EC2 refusal.
func decode(t *testing.T, cfg aws.Config, err error) (authorization, error) {
	t.Helper()
	_, enc, ok := strings.Cut(awsclient.Message(err), "Encoded authorization failure message: ")
	if !ok {
		t.Fatalf("no encoded message in %v", err)
	}
	out, err := sts.NewFromConfig(cfg).DecodeAuthorizationMessage(context.Background(), &sts.DecodeAuthorizationMessageInput{EncodedMessage: &enc})
	if err != nil {
		return authorization{}, err
	}
	var a authorization
	if err := json.Unmarshal([]byte(aws.ToString(out.DecodedMessage)), &a); err != nil {
		t.Fatalf("decoded message is not JSON: %v", err)
	}
	return a, nil
}

// EC2 refuses the whole call when it names one instance the role may not
// touch, and only the encoded message says which one.
func TestDenyEC2ByID(t *testing.T) {
	t.Parallel()
	b := newEC2Bed(t, 3, awsclient.Options{})
	p, cfg, client, ids := b.proxy, b.cfg, b.client, b.ids
	ctx := context.Background()
	p.Deny(Denial{Ops: []string{"StartInstances", "StopInstances"}, IDs: ids[1:2]})

	_, err := client.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: ids})
	wantStatus(t, err, 403, "UnauthorizedOperation")
	msg := awsclient.Message(err)
	if !strings.HasPrefix(msg, "UnauthorizedOperation: You are not authorized to perform this operation. Encoded authorization failure message: ") ||
		strings.Contains(msg, ids[1]) {
		t.Errorf("message %q: want EC2's, naming the instance only in the encoded part", msg)
	}
	a, err := decode(t, cfg, err)
	if err != nil {
		t.Fatal(err)
	}
	if a.Allowed || a.ExplicitDeny || a.Context.Action != "ec2:StopInstances" ||
		a.Context.Resource != "arn:aws:ec2:"+Region+":"+Account+":instance/"+ids[1] || a.Context.Principal.Arn != Principal {
		t.Errorf("decoded %+v", a)
	}
	if st := InstanceStates(t, b.direct, ids...); st[ids[0]] != "running" {
		t.Fatalf("a refused call reached the server: %v", st)
	}

	// Without the refused instance the call goes through; a describe by
	// filter names no instance, so it is not refused.
	if _, err := client.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{ids[0], ids[2]}}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("instance-id"), Values: ids}}}); err != nil {
		t.Fatal(err)
	}
	if st := InstanceStates(t, b.direct, ids...); st[ids[0]] != "stopped" || st[ids[1]] != "running" || st[ids[2]] != "stopped" {
		t.Errorf("states %v", st)
	}
	if n := p.Stats().Denied; n != 1 {
		t.Errorf("Denied = %d, want 1", n)
	}
}

func TestDenyShapes(t *testing.T) {
	t.Parallel()
	moto := StartMotoAccount(t)
	v := StartVersity(t)
	bucket := v.Bucket(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		denial   Denial
		svc      string
		call     func(cfg aws.Config) error
		status   int
		code     string
		message  string
		decodeOK bool
	}{
		{"EC2 explicit deny, named in plain text", Denial{Ops: []string{"StopInstances"}, Explicit: true, PlainEC2: true},
			"ec2", func(cfg aws.Config) error {
				_, err := awsclient.EC2(cfg).StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
				return err
			}, 403, "UnauthorizedOperation",
			"UnauthorizedOperation: You are not authorized to perform this operation. User: " + Principal +
				" is not authorized to perform: ec2:StopInstances on resource: arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0 with an explicit deny in an identity-based policy. Encoded authorization failure message: ",
			true},
		{"EC2 describe", Denial{Ops: []string{"DescribeInstances"}},
			"ec2", func(cfg aws.Config) error {
				_, err := awsclient.EC2(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
				return err
			}, 403, "UnauthorizedOperation", "UnauthorizedOperation: You are not authorized to perform this operation. Encoded authorization failure message: ", true},
		{"RDS by identifier", Denial{IDs: []string{"pg-denied"}},
			"rds", func(cfg aws.Config) error {
				_, err := awsclient.RDS(cfg).StopDBInstance(ctx, &rds.StopDBInstanceInput{DBInstanceIdentifier: aws.String("pg-denied")})
				return err
			}, 403, "AccessDenied", "AccessDenied: User: " + Principal +
				" is not authorized to perform: rds:StopDBInstance on resource: arn:aws:rds:us-east-1:123456789012:db:pg-denied because no identity-based policy allows the rds:StopDBInstance action",
			false},
		{"RDS cluster", Denial{Ops: []string{"StartDBCluster"}},
			"rds", func(cfg aws.Config) error {
				_, err := awsclient.RDS(cfg).StartDBCluster(ctx, &rds.StartDBClusterInput{DBClusterIdentifier: aws.String("aurora1")})
				return err
			}, 403, "AccessDenied", "on resource: arn:aws:rds:us-east-1:123456789012:cluster:aurora1 because", false},
		{"S3", Denial{Ops: []string{"PutObject"}},
			"s3", func(cfg aws.Config) error {
				_, err := awsclient.S3(cfg).PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("k"), Body: strings.NewReader("x")})
				return err
			}, 403, "AccessDenied", "AccessDenied: Access Denied", false},
		{"STS decode", Denial{Ops: []string{"DecodeAuthorizationMessage"}},
			"sts", func(cfg aws.Config) error {
				_, err := sts.NewFromConfig(cfg).DecodeAuthorizationMessage(ctx, &sts.DecodeAuthorizationMessageInput{EncodedMessage: aws.String("x")})
				return err
			}, 403, "AccessDenied", "is not authorized to perform: sts:DecodeAuthorizationMessage because no identity-based policy allows", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			endpoint, env := moto.Endpoint, moto.Env()
			if tt.svc == "s3" {
				endpoint, env = v.Endpoint, v.Env()
			}
			p, cfg := proxyConfig(t, endpoint, env, Faults{}, awsclient.Options{MaxAttempts: 1})
			p.Deny(tt.denial)
			err := tt.call(cfg)
			wantStatus(t, err, tt.status, tt.code)
			if msg := awsclient.Message(err); !strings.Contains(msg, tt.message) {
				t.Errorf("message\n%q\nwant it to contain\n%q", msg, tt.message)
			}
			if tt.decodeOK {
				a, derr := decode(t, cfg, err)
				if derr != nil {
					t.Fatal(derr)
				}
				if a.ExplicitDeny != tt.denial.Explicit {
					t.Errorf("decoded %+v", a)
				}
			}
			if st := p.Stats(); st.Denied != 1 || st.Services[tt.svc] != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// A message STS did not issue is refused as STS refuses it; a denial can
// be lifted.
func TestDecodeAndLift(t *testing.T) {
	t.Parallel()
	moto := StartMotoAccount(t)
	p, cfg := proxyConfig(t, moto.Endpoint, moto.Env(), Faults{}, awsclient.Options{MaxAttempts: 1})
	ctx := context.Background()
	_, err := sts.NewFromConfig(cfg).DecodeAuthorizationMessage(ctx, &sts.DecodeAuthorizationMessageInput{EncodedMessage: aws.String("not-ours")})
	if awsclient.Code(err) != "InvalidAuthorizationMessageException" {
		t.Fatalf("decoding a foreign message: %v", err)
	}
	lift := p.Deny(Denial{Ops: []string{"DescribeInstances"}})
	if _, err := awsclient.EC2(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); awsclient.Classify(err) != awsclient.KindAccessDenied {
		t.Fatalf("denied describe: %v", err)
	}
	lift()
	if _, err := awsclient.EC2(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatalf("describe after the denial was lifted: %v", err)
	}
}
