package awsclient

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// cleanEnv isolates a test from the developer's AWS settings.
func cleanEnv(t *testing.T) {
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_MAX_ATTEMPTS"} {
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
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
	cfg, err := Load(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if S3(cfg, func(o *s3.Options) { o.UsePathStyle = false }).Options().UsePathStyle {
		t.Error("caller's option did not apply after the default")
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
