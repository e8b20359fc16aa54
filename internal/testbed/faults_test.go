package testbed

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/awsutils/awsutils/awsclient"
)

func decisions(f Faults, n int) []Fault {
	d := newDecider(f)
	out := make([]Fault, n)
	for i := range out {
		_, out[i] = d.next()
	}
	return out
}

// TestDecisionsAreSeeded pins the sequence of one seed: a run logged as
// "seed 7" must replay with the same faults on any machine and Go release
// (math/rand/v2's PCG is specified, not an implementation detail).
func TestDecisionsAreSeeded(t *testing.T) {
	f := Faults{Seed: 7, Reset: 0.1, Error500: 0.1, SlowDown503: 0.1, Throttle: 0.2}
	const (
		n = FaultNone
		r = FaultReset
		e = FaultError500
		s = FaultSlowDown
		h = FaultThrottle
	)
	want := []Fault{
		r, n, h, n, n, e, n, r, n, e, e, e,
		n, e, n, r, n, h, n, n, n, s, h, h,
	}
	got := decisions(f, len(want))
	if !slices.Equal(got, want) {
		t.Fatalf("seed 7 decided\n%q\nwant\n%q", got, want)
	}
	if again := decisions(f, len(want)); !slices.Equal(again, got) {
		t.Fatalf("same seed, different decisions:\n%q\n%q", again, got)
	}
	f.Seed = 8
	if other := decisions(f, len(want)); slices.Equal(other, got) {
		t.Fatalf("seeds 7 and 8 decided the same: %q", got)
	}
}

func TestDecisionFrequencies(t *testing.T) {
	tests := []Faults{
		{Seed: 1},
		{Seed: 2, Throttle: 1},
		{Seed: 3, Throttle: 0.5},
		{Seed: 4, Error500: 0.05, Reset: 0.01},
		{Seed: 5, Reset: 0.25, Error500: 0.25, SlowDown503: 0.25, Throttle: 0.25},
	}
	const draws = 40000
	for _, f := range tests {
		t.Run(fmt.Sprintf("seed %d", f.Seed), func(t *testing.T) {
			count := map[Fault]int{}
			for _, k := range decisions(f, draws) {
				count[k]++
			}
			for _, k := range faultOrder {
				p := f.probability(k)
				got := float64(count[k]) / draws
				// 5 standard deviations: a wrong mapping fails, chance does not.
				if tol := 5 * math.Sqrt(p*(1-p)/draws); math.Abs(got-p) > tol+1e-12 {
					t.Errorf("%s: frequency %.4f, want %.4f ± %.4f", k, got, p, tol)
				}
			}
		})
	}
}

func TestDecisionMaxFaults(t *testing.T) {
	f := Faults{Seed: 1, Throttle: 1, MaxFaults: 2}
	got := decisions(f, 5)
	want := []Fault{FaultThrottle, FaultThrottle, FaultNone, FaultNone, FaultNone}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestFaultsValidate(t *testing.T) {
	tests := []struct {
		name string
		f    Faults
		want string
	}{
		{"zero", Faults{}, ""},
		{"all in one", Faults{Throttle: 1}, ""},
		{"negative", Faults{Reset: -0.1}, "Reset = -0.1"},
		{"above one", Faults{Error500: 1.5}, "Error500 = 1.5"},
		{"NaN", Faults{SlowDown503: math.NaN()}, "SlowDown503 = NaN"},
		{"sum above one", Faults{Throttle: 0.6, Error500: 0.6}, "sum to 1.2"},
		{"negative latency", Faults{Latency: -time.Second}, "Latency = -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.f.validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := NewFaultProxy("127.0.0.1:9000", Faults{}); err == nil {
		t.Error("a target without a scheme was accepted")
	}
	if _, err := NewFaultProxy("http://127.0.0.1:9000/bucket", Faults{}); err == nil {
		t.Error("a target with a path was accepted")
	}
}

func TestDescribeRequests(t *testing.T) {
	const auth = "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/%s/aws4_request, SignedHeaders=host, Signature=00"
	tests := []struct {
		method, target, svc, body, copySrc string
		wantSvc, wantOp                    string
	}{
		{"POST", "/", "ec2", "Action=RunInstances&Version=2016-11-15", "", "ec2", "RunInstances"},
		{"POST", "/", "rds", "Action=StopDBCluster&Version=2014-10-31", "", "rds", "StopDBCluster"},
		{"POST", "/", "", "Action=DescribeInstances&Version=2016-11-15", "", "ec2", "DescribeInstances"},
		{"POST", "/", "", "Action=DescribeDBInstances&Version=2014-10-31", "", "rds", "DescribeDBInstances"},
		{"GET", "/", "s3", "", "", "s3", "ListBuckets"},
		{"PUT", "/b", "s3", "", "", "s3", "CreateBucket"},
		{"HEAD", "/b", "s3", "", "", "s3", "HeadBucket"},
		{"DELETE", "/b", "s3", "", "", "s3", "DeleteBucket"},
		{"GET", "/b?list-type=2&prefix=a", "s3", "", "", "s3", "ListObjectsV2"},
		{"GET", "/b?prefix=a", "s3", "", "", "s3", "ListObjects"},
		{"GET", "/b?uploads", "s3", "", "", "s3", "ListMultipartUploads"},
		{"PUT", "/b?versioning", "s3", "", "", "s3", "PutBucketVersioning"},
		{"GET", "/b?location", "s3", "", "", "s3", "GetBucketLocation"},
		{"POST", "/b?delete", "s3", "", "", "s3", "DeleteObjects"},
		{"PUT", "/b/dir/k.txt", "s3", "", "", "s3", "PutObject"},
		{"PUT", "/b/k?x-id=PutObject", "", "", "", "s3", "PutObject"},
		{"PUT", "/b/k", "s3", "", "/src/k", "s3", "CopyObject"},
		{"GET", "/b/k", "s3", "", "", "s3", "GetObject"},
		{"HEAD", "/b/k", "s3", "", "", "s3", "HeadObject"},
		{"DELETE", "/b/k", "s3", "", "", "s3", "DeleteObject"},
		{"POST", "/b/k?uploads", "s3", "", "", "s3", "CreateMultipartUpload"},
		{"PUT", "/b/k?partNumber=2&uploadId=u", "s3", "", "", "s3", "UploadPart"},
		{"PUT", "/b/k?partNumber=2&uploadId=u", "s3", "", "/src/k", "s3", "UploadPartCopy"},
		{"POST", "/b/k?uploadId=u", "s3", "", "", "s3", "CompleteMultipartUpload"},
		{"DELETE", "/b/k?uploadId=u", "s3", "", "", "s3", "AbortMultipartUpload"},
		{"GET", "/b/k?uploadId=u", "s3", "", "", "s3", "ListParts"},
		{"PUT", "/b/k?tagging", "s3", "", "", "s3", "PutObjectTagging"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			r, err := http.NewRequest(tt.method, "http://127.0.0.1:1"+tt.target, body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.body != "" {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			}
			if tt.svc != "" {
				r.Header.Set("Authorization", fmt.Sprintf(auth, tt.svc))
			}
			if tt.copySrc != "" {
				r.Header.Set("X-Amz-Copy-Source", tt.copySrc)
			}
			form, err := bufferForm(r)
			if err != nil {
				t.Fatal(err)
			}
			svc, op := describe(r, form)
			if svc != tt.wantSvc || op != tt.wantOp {
				t.Errorf("got %s %s, want %s %s", svc, op, tt.wantSvc, tt.wantOp)
			}
			if tt.body != "" {
				// The body must still be there for the server.
				b, _ := io.ReadAll(r.Body)
				if string(b) != tt.body {
					t.Errorf("body after buffering is %q", b)
				}
			}
		})
	}
}

// proxyConfig starts a proxy in front of server and returns a config whose
// clients go through it.
func proxyConfig(t *testing.T, endpoint string, env map[string]string, f Faults, opts awsclient.Options) (*FaultProxy, aws.Config) {
	t.Helper()
	p := StartFaultProxy(t, endpoint, f)
	return p, p.Config(t, env, opts)
}

// ec2Bed is a moto account of its own with running instances and a proxy
// in front of it.
type ec2Bed struct {
	proxy  *FaultProxy
	cfg    aws.Config  // through the proxy
	client *ec2.Client // through the proxy
	direct *ec2.Client // straight to moto, to set up and check
	ids    []string
}

func newEC2Bed(t *testing.T, instances int, opts awsclient.Options) ec2Bed {
	t.Helper()
	moto := StartMotoAccount(t)
	p, cfg := proxyConfig(t, moto.Endpoint, moto.Env(), Faults{}, opts)
	b := ec2Bed{proxy: p, cfg: cfg, client: awsclient.EC2(cfg), direct: awsclient.EC2(moto.Config(t))}
	if instances > 0 {
		b.ids = RunInstances(t, b.direct, instances)
	}
	return b
}

// s3Bed is versitygw with a bucket of its own and a proxy in front of it.
type s3Bed struct {
	v      *Versity
	bucket string
	proxy  *FaultProxy
	client *s3.Client // through the proxy
	direct *s3.Client // straight to versitygw
}

func newS3Bed(t *testing.T, f Faults, opts awsclient.Options) s3Bed {
	t.Helper()
	v := StartVersity(t)
	p, cfg := proxyConfig(t, v.Endpoint, v.Env(), f, opts)
	return s3Bed{v: v, bucket: v.Bucket(t), proxy: p, client: awsclient.S3(cfg), direct: awsclient.S3(v.Config(t))}
}

func wantOps(t *testing.T, st Stats, want map[string]int) {
	t.Helper()
	for op, n := range want {
		if st.Ops[op] != n {
			t.Errorf("Ops[%s] = %d, want %d (all: %v)", op, st.Ops[op], n, st.Ops)
		}
	}
	total := 0
	for _, n := range st.Ops {
		total += n
	}
	if total != st.Requests {
		t.Errorf("Ops add up to %d, Requests = %d", total, st.Requests)
	}
}

func TestFaultProxyForwardsEC2AndRDS(t *testing.T) {
	t.Parallel()
	moto := StartMotoAccount(t)
	ctx := context.Background()
	p, cfg := proxyConfig(t, moto.Endpoint, moto.Env(), Faults{Seed: 1}, awsclient.Options{})
	ec2c, rdsc := awsclient.EC2(cfg), awsclient.RDS(cfg)

	ids := RunInstances(t, ec2c, 3)
	out, err := ec2c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(out.Reservations[0].Instances); n != 3 {
		t.Fatalf("described %d instances through the proxy, want 3", n)
	}
	CreateDBInstance(t, rdsc, "db-through-proxy")
	dbs, err := rdsc.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(dbs.DBInstances) != 1 {
		t.Fatalf("described %d DB instances, want 1", len(dbs.DBInstances))
	}

	st := p.Stats()
	wantOps(t, st, map[string]int{"RunInstances": 1, "DescribeInstances": 1, "CreateDBInstance": 1, "DescribeDBInstances": 1})
	if st.Requests != 4 || st.Injected() != 0 || st.Delayed != 0 {
		t.Errorf("stats %+v, want 4 requests and nothing injected", st)
	}
}

func TestFaultProxyForwardsSignedS3(t *testing.T) {
	t.Parallel()
	b := newS3Bed(t, Faults{Seed: 1}, awsclient.Options{})
	v, p, client, bucket := b.v, b.proxy, b.client, b.bucket
	ctx := context.Background()

	body := []byte("hello through the proxy")
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("dir/a b+c.txt"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatalf("signed PutObject through the proxy: %v", err)
	}
	got := getObject(t, client, bucket, "dir/a b+c.txt")
	if !bytes.Equal(got, body) {
		t.Fatalf("got %q back", got)
	}
	if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("dir/a b+c.txt")}); err != nil {
		t.Fatal(err)
	}
	list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 1 {
		t.Fatalf("listed %d objects, want 1", len(list.Contents))
	}

	// Multipart, as the upload job sends large files.
	key := aws.String("big")
	mp, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	part1, part2 := randomBytes(t, 5<<20), randomBytes(t, 1<<10)
	var parts []s3types.CompletedPart
	for i, b := range [][]byte{part1, part2} {
		up, err := client.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: key, UploadId: mp.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(b)})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", i+1, err)
		}
		parts = append(parts, s3types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	if _, err := client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: key,
		UploadId: mp.UploadId, MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	if got := getObject(t, client, bucket, "big"); !bytes.Equal(got, append(part1, part2...)) {
		t.Fatal("multipart object differs from its parts")
	}
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: key}); err != nil {
		t.Fatal(err)
	}

	wantOps(t, p.Stats(), map[string]int{
		"PutObject": 1, "GetObject": 2, "HeadObject": 1, "ListObjectsV2": 1,
		"CreateMultipartUpload": 1, "UploadPart": 2, "CompleteMultipartUpload": 1, "DeleteObject": 1,
	})

	// The control: versitygw does check signatures through the proxy.
	badCfg := p.Config(t, v.Env(), awsclient.Options{AccessKeyID: v.AccessKey, SecretAccessKey: "not-the-secret", MaxAttempts: 1})
	_, err = awsclient.S3(badCfg).PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("x"), Body: strings.NewReader("x")})
	if awsclient.Classify(err) != awsclient.KindAccessDenied {
		t.Fatalf("a wrong signature through the proxy gave %v, want access denied", err)
	}
}

func getObject(t *testing.T, client *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("GetObject %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// call is one API call of a service, through a config built for the proxy.
type call struct {
	service string
	op      string
	do      func(ctx context.Context, cfg aws.Config) error
}

// calls sets up what each service's call needs (directly, not through the
// proxy) and returns the calls.
func calls(t *testing.T) (moto *Moto, v *Versity, cs []call) {
	moto = StartMotoAccount(t)
	v = StartVersity(t)
	bucket := v.Bucket(t)
	return moto, v, []call{
		{"ec2", "DescribeInstances", func(ctx context.Context, cfg aws.Config) error {
			_, err := awsclient.EC2(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
			return err
		}},
		{"rds", "DescribeDBInstances", func(ctx context.Context, cfg aws.Config) error {
			_, err := awsclient.RDS(cfg).DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{})
			return err
		}},
		{"s3", "PutObject", func(ctx context.Context, cfg aws.Config) error {
			_, err := awsclient.S3(cfg).PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("k"),
				Body: bytes.NewReader(bytes.Repeat([]byte("x"), 3<<20))})
			return err
		}},
	}
}

func (c call) server(moto *Moto, v *Versity) (string, map[string]string) {
	if c.service == "s3" {
		return v.Endpoint, v.Env()
	}
	return moto.Endpoint, moto.Env()
}

func TestFaultProxyErrorsInServiceShape(t *testing.T) {
	t.Parallel()
	moto, v, cs := calls(t)
	want := map[string]map[Fault]struct {
		status int
		code   string
		kind   awsclient.Kind
	}{
		"ec2": {
			FaultThrottle: {503, "RequestLimitExceeded", awsclient.KindThrottled},
			FaultSlowDown: {503, "Unavailable", awsclient.KindOther},
			FaultError500: {500, "InternalError", awsclient.KindOther},
		},
		"rds": {
			FaultThrottle: {400, "Throttling", awsclient.KindThrottled},
			FaultSlowDown: {503, "ServiceUnavailable", awsclient.KindOther},
			FaultError500: {500, "InternalFailure", awsclient.KindOther},
		},
		"s3": {
			FaultThrottle: {503, "SlowDown", awsclient.KindThrottled},
			FaultSlowDown: {503, "SlowDown", awsclient.KindThrottled},
			FaultError500: {500, "InternalError", awsclient.KindOther},
		},
	}
	for _, c := range cs {
		for _, fault := range []Fault{FaultThrottle, FaultSlowDown, FaultError500} {
			t.Run(c.service+" "+string(fault), func(t *testing.T) {
				f := Faults{Seed: 1}
				switch fault {
				case FaultThrottle:
					f.Throttle = 1
				case FaultSlowDown:
					f.SlowDown503 = 1
				case FaultError500:
					f.Error500 = 1
				}
				endpoint, env := c.server(moto, v)
				p, cfg := proxyConfig(t, endpoint, env, f, awsclient.Options{MaxAttempts: 1})
				err := c.do(context.Background(), cfg)
				w := want[c.service][fault]
				var apiErr smithy.APIError
				if !errors.As(err, &apiErr) {
					t.Fatalf("error %v is not an API error", err)
				}
				if apiErr.ErrorCode() != w.code {
					t.Errorf("code %q, want %q (%v)", apiErr.ErrorCode(), w.code, err)
				}
				var re *awshttp.ResponseError
				if !errors.As(err, &re) || re.HTTPStatusCode() != w.status {
					t.Errorf("HTTP status of %v, want %d", err, w.status)
				}
				if k := awsclient.Classify(err); k != w.kind {
					t.Errorf("Classify = %v, want %v", k, w.kind)
				}
				st := p.Stats()
				if st.Requests != 1 || st.Faults[fault] != 1 || st.FaultsByOp[c.op] != 1 {
					t.Errorf("stats %+v, want one %s fault on %s", st, fault, c.op)
				}
				ev := p.Events()
				if len(ev) != 1 || ev[0].Seq != 1 || ev[0].Service != c.service || ev[0].Op != c.op || ev[0].Fault != fault {
					t.Errorf("events %+v", ev)
				}
			})
		}
	}
}

func TestFaultProxyRetriesThroughThrottling(t *testing.T) {
	t.Parallel()
	moto, v, cs := calls(t)
	// Seed 8 at 50 % throttles the first two attempts and passes the next
	// two: one call retried twice, one call straight through. Retries use
	// awsclient's real backoff, so few throttles keep the test quick.
	f := Faults{Seed: 8, Throttle: 0.5}
	if got := decisions(f, 4); !slices.Equal(got, []Fault{FaultThrottle, FaultThrottle, FaultNone, FaultNone}) {
		t.Fatalf("seed 8 decides %q", got)
	}
	for _, c := range cs {
		t.Run(c.service, func(t *testing.T) {
			endpoint, env := c.server(moto, v)
			p, cfg := proxyConfig(t, endpoint, env, f, awsclient.Options{})
			for i := range 2 {
				if err := c.do(context.Background(), cfg); err != nil {
					t.Fatalf("call %d with default retries under 50%% throttling: %v", i, err)
				}
			}
			st := p.Stats()
			if st.Faults[FaultThrottle] != 2 || st.Ops[c.op] != 4 {
				t.Errorf("stats %+v: want 2 throttled attempts and 4 in all", st)
			}
		})
	}
}

func TestFaultProxyResetsConnection(t *testing.T) {
	t.Parallel()
	moto, v, cs := calls(t)
	for _, c := range cs {
		t.Run(c.service, func(t *testing.T) {
			endpoint, env := c.server(moto, v)
			p, cfg := proxyConfig(t, endpoint, env, Faults{Seed: 1, Reset: 1}, awsclient.Options{MaxAttempts: 1})
			err := c.do(context.Background(), cfg)
			// A query-API body is small and fully written before the reset,
			// which the client then reads; a large S3 body is still being
			// written, so any of IsReset's forms may surface.
			if !IsReset(err) || (c.service != "s3" && !errors.Is(err, syscall.ECONNRESET)) {
				t.Fatalf("error %v, want a connection reset", err)
			}
			if p.Stats().Faults[FaultReset] != 1 {
				t.Errorf("stats %+v", p.Stats())
			}

			// The SDK retries a reset; a run with resets half the time succeeds.
			if err := p.SetFaults(Faults{Seed: 1, Reset: 0.5}); err != nil {
				t.Fatal(err)
			}
			cfg = p.Config(t, env, awsclient.Options{})
			for i := range 4 {
				if err := c.do(context.Background(), cfg); err != nil {
					t.Fatalf("call %d with retries under 50%% resets: %v", i, err)
				}
			}
			// Each reset costs exactly one more attempt: nothing (Go's
			// transport included) replays a reset request behind our back.
			if st := p.Stats(); st.Faults[FaultReset] < 2 || st.Ops[c.op] != 4+st.Faults[FaultReset] {
				t.Errorf("stats %+v: want at least 2 resets, each retried once", st)
			}
		})
	}
}

func TestFaultProxyResetLeavesNoObject(t *testing.T) {
	t.Parallel()
	b := newS3Bed(t, Faults{Seed: 1, Reset: 1}, awsclient.Options{MaxAttempts: 1})
	bucket, direct := b.bucket, b.direct
	ctx := context.Background()
	_, err := b.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("cut"),
		Body: bytes.NewReader(randomBytes(t, 8<<20))})
	if !IsReset(err) {
		t.Fatalf("PutObject through a reset gave %v", err)
	}
	_, err = direct.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("cut")})
	if awsclient.Classify(err) != awsclient.KindNotFound {
		t.Fatalf("after a reset mid-body HeadObject gave %v, want not found", err)
	}
}

func TestFaultProxyAddsLatency(t *testing.T) {
	t.Parallel()
	moto := StartMotoAccount(t)
	const delay = 300 * time.Millisecond
	p, cfg := proxyConfig(t, moto.Endpoint, moto.Env(), Faults{Latency: delay}, awsclient.Options{})
	client := awsclient.EC2(cfg)
	start := time.Now()
	if _, err := client.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("call took %v through a %v proxy", took, delay)
	}
	if st := p.Stats(); st.Delayed != 1 || st.Injected() != 0 {
		t.Errorf("stats %+v", st)
	}

	// A deadline shorter than the latency fails the call as canceled.
	ctx, cancel := context.WithTimeout(context.Background(), delay/3)
	defer cancel()
	_, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if awsclient.Classify(err) != awsclient.KindCanceled {
		t.Errorf("call with a short deadline gave %v, want canceled", err)
	}
}

// TestFaultProxyReplaysSeed sends the same calls through two proxies with
// the same seed: they inject the same faults, in the decider's order.
func TestFaultProxyReplaysSeed(t *testing.T) {
	t.Parallel()
	moto := StartMotoAccount(t)
	f := Faults{Seed: 42, Throttle: 0.3, Error500: 0.2}
	run := func() []Fault {
		p, cfg := proxyConfig(t, moto.Endpoint, moto.Env(), f, awsclient.Options{MaxAttempts: 1})
		client := awsclient.EC2(cfg)
		got := make([]Fault, 20)
		for i := range got {
			_, err := client.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{})
			switch awsclient.Code(err) {
			case "":
				if err != nil {
					t.Fatal(err)
				}
			case "RequestLimitExceeded":
				got[i] = FaultThrottle
			case "InternalError":
				got[i] = FaultError500
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
		var logged []Fault
		for _, e := range p.Events() {
			logged = append(logged, e.Fault)
		}
		var injected []Fault
		for _, g := range got {
			if g != FaultNone {
				injected = append(injected, g)
			}
		}
		if !slices.Equal(logged, injected) {
			t.Errorf("events %q, client saw %q", logged, injected)
		}
		return got
	}
	first, second := run(), run()
	if !slices.Equal(first, second) {
		t.Fatalf("same seed, different faults:\n%q\n%q", first, second)
	}
	if want := decisions(f, 20); !slices.Equal(first, want) {
		t.Fatalf("client saw\n%q\ndecider says\n%q", first, want)
	}
}

func TestFaultProxyOnlyAndMaxFaults(t *testing.T) {
	t.Parallel()
	b := newS3Bed(t, Faults{Seed: 1, Throttle: 1, Only: []string{"PutObject"}, MaxFaults: 2}, awsclient.Options{MaxAttempts: 1})
	p, client, bucket := b.proxy, b.client, b.bucket
	ctx := context.Background()
	put := func() error {
		_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("k"), Body: strings.NewReader("v")})
		return err
	}
	if _, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket}); err != nil {
		t.Fatalf("ListObjectsV2 is not in Only but failed: %v", err)
	}
	for i := range 2 {
		if err := put(); awsclient.Code(err) != "SlowDown" {
			t.Fatalf("PutObject %d: %v, want SlowDown", i, err)
		}
	}
	if err := put(); err != nil {
		t.Fatalf("PutObject after MaxFaults: %v", err)
	}

	// Match narrows further: only keys under "slow/".
	if err := p.SetFaults(Faults{Seed: 1, Throttle: 1, Match: func(r *http.Request) bool {
		return Operation(r) == "PutObject" && strings.Contains(r.URL.Path, "/slow/")
	}}); err != nil {
		t.Fatal(err)
	}
	if err := put(); err != nil {
		t.Fatalf("PutObject of an unmatched key: %v", err)
	}
	_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("slow/k"), Body: strings.NewReader("v")})
	if awsclient.Code(err) != "SlowDown" {
		t.Fatalf("PutObject of a matched key: %v, want SlowDown", err)
	}
	st := p.Stats()
	wantOps(t, st, map[string]int{"ListObjectsV2": 1, "PutObject": 5})
	if st.Faults[FaultThrottle] != 3 {
		t.Errorf("stats %+v, want 3 throttled", st)
	}
}

// TestFaultProxyStreamsConcurrentUploads pushes many large bodies through at
// once, as the benchmarks do, and checks every byte arrives.
func TestFaultProxyStreamsConcurrentUploads(t *testing.T) {
	t.Parallel()
	b := newS3Bed(t, Faults{Seed: 1}, awsclient.Options{})
	p, client, bucket := b.proxy, b.client, b.bucket
	const n, size = 16, 4 << 20
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = randomBytes(t, size)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket,
				Key: aws.String(fmt.Sprintf("obj/%02d", i)), Body: bytes.NewReader(bodies[i])})
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range n {
		got := getObject(t, client, bucket, fmt.Sprintf("obj/%02d", i))
		if sha256.Sum256(got) != sha256.Sum256(bodies[i]) {
			t.Fatalf("object %d differs after the proxy", i)
		}
	}
	wantOps(t, p.Stats(), map[string]int{"PutObject": n, "GetObject": n})
}

// BenchmarkFaultProxyPutObject measures what the proxy costs an upload:
// compare "direct" with "proxy" (MB/s, allocations).
func BenchmarkFaultProxyPutObject(b *testing.B) {
	v := StartVersity(b)
	bucket := CreateBucket(b, v.Config(b))
	body := make([]byte, 8<<20)
	for _, via := range []string{"direct", "proxy"} {
		b.Run(via, func(b *testing.B) {
			cfg := v.Config(b)
			if via == "proxy" {
				cfg = StartFaultProxy(b, v.Endpoint, Faults{}).Config(b, v.Env(), awsclient.Options{})
			}
			client := awsclient.S3(cfg)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket,
					Key: aws.String(fmt.Sprintf("bench/%d", i%8)), Body: bytes.NewReader(body)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
