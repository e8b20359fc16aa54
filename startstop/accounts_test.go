package startstop

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
)

// fakeSTS answers AssumeRole with credentials valid for ttl, counting the
// calls: moto's shortest credentials live 15 minutes, too long to outlive
// in a test.
type fakeSTS struct {
	ttl   time.Duration
	calls atomic.Int32
	last  *sts.AssumeRoleInput
}

func (f *fakeSTS) AssumeRole(_ context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	f.calls.Add(1)
	f.last = in
	return &sts.AssumeRoleOutput{Credentials: &ststypes.Credentials{
		AccessKeyId: aws.String("AKID"), SecretAccessKey: aws.String("secret"), SessionToken: aws.String("token"),
		Expiration: aws.Time(time.Now().Add(f.ttl)),
	}}, nil
}

// A role is assumed once per run, with session name awsutils and the
// group's external id, and its credentials are reused while valid and
// assumed again once they expired.
func TestRoleCredentialsCachedAndRefreshed(t *testing.T) {
	const role = "arn:aws:iam::111111111111:role/member"
	for _, c := range []struct {
		name      string
		ttl       time.Duration
		wantCalls int32
	}{
		{"valid for an hour: cached", time.Hour, 1},
		{"already expired: refreshed on every use", -time.Minute, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			plan := &Plan{Action: Stop, Batches: []Batch{{Region: "r", Type: EC2Instance, IDs: []string{"i-0123456789abcdef0"}, Role: role, ExternalID: "hub-42"}}}
			r := newRunner(aws.Config{Region: "r"}, plan, Options{}.withDefaults())
			f := &fakeSTS{ttl: c.ttl}
			r.stsAPI = f
			r.prepare(context.Background(), plan)
			cfg, err := r.configFor(role, "hub-42", "r")
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if _, err := cfg.Credentials.Retrieve(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if n := f.calls.Load(); n != c.wantCalls {
				t.Errorf("%d AssumeRole calls, want %d", n, c.wantCalls)
			}
			if aws.ToString(f.last.RoleSessionName) != "awsutils" || aws.ToString(f.last.ExternalId) != "hub-42" || aws.ToString(f.last.RoleArn) != role {
				t.Errorf("AssumeRole input %+v", f.last)
			}
		})
	}
}
