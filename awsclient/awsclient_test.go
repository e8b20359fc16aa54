package awsclient

import (
	"context"
	"errors"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// cleanEnv isolates a test from the developer's AWS settings.
func cleanEnv(t *testing.T) {
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_RDS",
		"AWS_ENDPOINT_URL_STS", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_MAX_ATTEMPTS"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestLoad(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	tests := []struct {
		name        string
		env         map[string]string
		opts        Options
		wantRegion  string
		wantKey     string
		wantErr     string
		wantRetries int
	}{
		{name: "region from options wins", env: map[string]string{"AWS_REGION": "eu-west-1"},
			opts: Options{Region: "ap-northeast-1"}, wantRegion: "ap-northeast-1", wantRetries: DefaultMaxAttempts},
		{name: "region from environment", env: map[string]string{"AWS_REGION": "eu-west-1"},
			wantRegion: "eu-west-1", wantRetries: DefaultMaxAttempts},
		{name: "no region anywhere", wantErr: "no AWS region"},
		{name: "static keys from config", opts: Options{Region: "us-east-1", AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: secret},
			wantRegion: "us-east-1", wantKey: "AKIDEXAMPLE", wantRetries: DefaultMaxAttempts},
		{name: "half a key pair", opts: Options{Region: "us-east-1", SecretAccessKey: secret}, wantErr: "must be given together"},
		{name: "max attempts from environment", env: map[string]string{"AWS_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "4"},
			wantRegion: "us-east-1", wantRetries: 4},
		{name: "max attempts from options", env: map[string]string{"AWS_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "4"},
			opts: Options{MaxAttempts: 2}, wantRegion: "us-east-1", wantRetries: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := Load(context.Background(), tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), secret) {
					t.Fatal("error shows the secret")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Region != tt.wantRegion {
				t.Errorf("region %q, want %q", cfg.Region, tt.wantRegion)
			}
			if got := cfg.Retryer().MaxAttempts(); got != tt.wantRetries {
				t.Errorf("max attempts %d, want %d", got, tt.wantRetries)
			}
			if tt.wantKey != "" {
				creds, err := cfg.Credentials.Retrieve(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if creds.AccessKeyID != tt.wantKey || creds.SecretAccessKey != secret {
					t.Errorf("credentials not the static ones")
				}
			}
		})
	}
}

func TestS3PathStyleOnlyWithCustomEndpoint(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		wantPath  bool
		wantEndpt string
	}{
		{"AWS itself", nil, false, ""},
		{"global endpoint variable", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}, true, "http://127.0.0.1:4566"},
		{"S3-specific endpoint variable", map[string]string{"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:7070"}, true, "http://127.0.0.1:7070"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			t.Setenv("AWS_REGION", "us-east-1")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := Load(context.Background(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			o := S3(cfg).Options()
			if o.UsePathStyle != tt.wantPath {
				t.Errorf("UsePathStyle = %v, want %v", o.UsePathStyle, tt.wantPath)
			}
			if got := aws.ToString(o.BaseEndpoint); got != tt.wantEndpt {
				t.Errorf("endpoint %q, want %q", got, tt.wantEndpt)
			}
		})
	}
}

func TestS3OptionsCanBeOverridden(t *testing.T) {
	cleanEnv(t)
	cfg, err := Load(context.Background(), Options{Region: "us-east-1", Endpoint: "http://127.0.0.1:4566"})
	if err != nil {
		t.Fatal(err)
	}
	if S3(cfg, func(o *s3.Options) { o.UsePathStyle = false }).Options().UsePathStyle {
		t.Error("caller's option did not apply after the default")
	}
}

// endpointsOf are the base endpoints of the four clients awsclient builds
// (empty: the SDK resolves AWS's own).
func endpointsOf(cfg aws.Config) map[string]string {
	return map[string]string{
		"s3":  aws.ToString(S3(cfg).Options().BaseEndpoint),
		"ec2": aws.ToString(EC2(cfg).Options().BaseEndpoint),
		"rds": aws.ToString(RDS(cfg).Options().BaseEndpoint),
		"sts": aws.ToString(STS(cfg).Options().BaseEndpoint),
	}
}

// TestEndpointPrecedence: an endpoint given in Options wins over the
// environment and the shared config file, per service over all services;
// without one, the user-facing settings keep working as the SDK defines
// them (service variable over global variable over the config file).
func TestEndpointPrecedence(t *testing.T) {
	const (
		envAll  = "http://127.0.0.1:1001"
		envS3   = "http://127.0.0.1:1002"
		fileAll = "http://127.0.0.1:1003"
		fileEC2 = "http://127.0.0.1:1004"
		optAll  = "http://127.0.0.1:1005"
		optS3   = "http://127.0.0.1:1006"
	)
	shared := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(shared, []byte("[default]\nendpoint_url = "+fileAll+"\nservices = local\n\n[services local]\nec2 =\n  endpoint_url = "+fileEC2+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	envBoth := map[string]string{"AWS_ENDPOINT_URL": envAll, "AWS_ENDPOINT_URL_S3": envS3}
	tests := []struct {
		name string
		env  map[string]string
		file bool
		opts Options
		want map[string]string
	}{
		{name: "nothing set: AWS itself", want: map[string]string{"s3": "", "ec2": "", "rds": "", "sts": ""}},
		{name: "environment", env: envBoth,
			want: map[string]string{"s3": envS3, "ec2": envAll, "rds": envAll, "sts": envAll}},
		{name: "shared config", file: true,
			want: map[string]string{"s3": fileAll, "ec2": fileEC2, "rds": fileAll, "sts": fileAll}},
		{name: "one endpoint in options wins over environment", env: envBoth, opts: Options{Endpoint: optAll},
			want: map[string]string{"s3": optAll, "ec2": optAll, "rds": optAll, "sts": optAll}},
		{name: "one endpoint in options wins over shared config", file: true, opts: Options{Endpoint: optAll},
			want: map[string]string{"s3": optAll, "ec2": optAll, "rds": optAll, "sts": optAll}},
		{name: "a service's endpoint in options, others from environment", env: envBoth, opts: Options{Endpoints: map[string]string{"s3": optS3}},
			want: map[string]string{"s3": optS3, "ec2": envAll, "rds": envAll, "sts": envAll}},
		{name: "a service's endpoint in options, others from shared config", file: true, opts: Options{Endpoints: map[string]string{"S3": optS3}},
			want: map[string]string{"s3": optS3, "ec2": fileEC2, "rds": fileAll, "sts": fileAll}},
		{name: "a service's endpoint over the one for all", env: envBoth, opts: Options{Endpoint: optAll, Endpoints: map[string]string{"s3": optS3, "rds": ""}},
			want: map[string]string{"s3": optS3, "ec2": optAll, "rds": optAll, "sts": optAll}},
		{name: "options apply when configured endpoints are ignored",
			env:  map[string]string{"AWS_ENDPOINT_URL": envAll, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"},
			opts: Options{Endpoints: map[string]string{"ec2": optAll}},
			want: map[string]string{"s3": "", "ec2": optAll, "rds": "", "sts": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			t.Setenv("AWS_REGION", "us-east-1")
			if tt.file {
				t.Setenv("AWS_CONFIG_FILE", shared)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := Load(context.Background(), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := endpointsOf(cfg); !maps.Equal(got, tt.want) {
				t.Errorf("endpoints %v, want %v", got, tt.want)
			}
			// Another region keeps them.
			if got := endpointsOf(WithRegion(cfg, "eu-west-1")); !maps.Equal(got, tt.want) {
				t.Errorf("after WithRegion: endpoints %v, want %v", got, tt.want)
			}
			if o := S3(cfg).Options(); o.UsePathStyle != (tt.want["s3"] != "") {
				t.Errorf("S3 UsePathStyle = %v with endpoint %q", o.UsePathStyle, tt.want["s3"])
			}
		})
	}
}

func TestEndpointForUnknownService(t *testing.T) {
	cleanEnv(t)
	_, err := Load(context.Background(), Options{Region: "us-east-1", Endpoints: map[string]string{"s4": "http://127.0.0.1:1"}})
	if err == nil || !strings.Contains(err.Error(), `unknown service "s4"`) {
		t.Fatalf("err = %v, want it to name the unknown service", err)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want Kind
	}{
		{&smithy.GenericAPIError{Code: "RequestLimitExceeded"}, KindThrottled},
		{&smithy.GenericAPIError{Code: "Throttling"}, KindThrottled},
		{&smithy.GenericAPIError{Code: "SlowDown"}, KindThrottled},
		{&smithy.GenericAPIError{Code: "UnauthorizedOperation"}, KindAccessDenied},
		{&smithy.GenericAPIError{Code: "InvalidInstanceID.NotFound"}, KindNotFound},
		{&smithy.GenericAPIError{Code: "InvalidDBInstanceState"}, KindWrongState},
		{&smithy.GenericAPIError{Code: "DryRunOperation"}, KindDryRunOK},
		{&smithy.GenericAPIError{Code: "SomethingNew"}, KindOther},
		{context.DeadlineExceeded, KindCanceled},
		{errors.New("plain"), KindOther},
	}
	for _, tt := range tests {
		wrapped := &smithy.OperationError{ServiceID: "EC2", OperationName: "StopInstances", Err: tt.err}
		if got := Classify(wrapped); got != tt.want {
			t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestMessage(t *testing.T) {
	err := &smithy.OperationError{ServiceID: "RDS", OperationName: "StopDBInstance",
		Err: &smithy.GenericAPIError{Code: "InvalidDBInstanceState", Message: "Instance pg1 is not in available state."}}
	if got, want := Message(err), "InvalidDBInstanceState: Instance pg1 is not in available state."; got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}
}

// TestTLSIsVerified: a server whose certificate nobody signed is refused;
// awsutils never trusts an endpoint it cannot verify.
func TestTLSIsVerified(t *testing.T) {
	reached := false
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	cleanEnv(t)
	cfg, err := Load(context.Background(), Options{Region: "us-east-1", AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret",
		Endpoint: srv.URL, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = S3(cfg).HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String("b")})
	if err == nil || reached {
		t.Fatalf("request to a self-signed server went through (err %v)", err)
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("want a certificate error, got %v", err)
	}
}

// TestNoInsecureSkipVerify keeps certificate checks from being switched off
// anywhere in the module's own code.
func TestNoInsecureSkipVerify(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && p != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "InsecureSkipVerify") {
			return errors.New(p + " sets InsecureSkipVerify")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
