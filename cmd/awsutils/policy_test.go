package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestPolicyGolden")

func TestPolicyGolden(t *testing.T) {
	tests := []struct {
		golden string
		args   []string
	}{
		{"original", []string{"--config", "testdata/policy/original.yml"}},
		{"original-account-lambda", []string{"--config", "testdata/policy/original.yml", "--account-id", "123456789012", "--function-name", "ec2_stop_dev-env"}},
		{"regions", []string{"--config", "testdata/policy/regions.yml"}},
		{"every-type", []string{"--config", "testdata/policy/every-type.yml", "--account-id", "123456789012"}},
		{"upload-prefix", []string{"--upload", "s3://my-bucket/folder1/folder2/"}},
		{"upload-bucket-kms", []string{"--upload", "s3://my-bucket", "--sse-kms-key-id", "arn:aws:kms:ap-northeast-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}},
		{"upload-plans", []string{"--upload", "s3://my-bucket/data", "--plans", "s3://my-bucket/.awsutils/manifests/", "--function-name", "s3upload"}},
		{"both-china", []string{"--config", "testdata/policy/regions.yml", "--upload", "s3://b/p", "--partition", "aws-cn"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), append([]string{"policy"}, tt.args...), &stdout, &stderr); code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if !json.Valid(stdout.Bytes()) {
				t.Fatalf("not JSON:\n%s", stdout.String())
			}
			path := filepath.Join("testdata", "policy", tt.golden+".golden.json")
			if *update {
				if err := os.WriteFile(path, stdout.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestPolicyGolden -update to create it)", err)
			}
			if !bytes.Equal(stdout.Bytes(), want) {
				t.Errorf("policy differs from %s:\n%s", path, stdout.String())
			}
		})
	}
}

func TestPolicyUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"nothing to describe", nil, "give --config FILE and/or --upload"},
		{"bad destination", []string{"--upload", "my-bucket/prefix"}, "want s3://BUCKET[/PREFIX]"},
		{"missing config", []string{"--config", "testdata/policy/missing.yml"}, "missing.yml"},
		{"unknown flag", []string{"--bucket", "x"}, "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), append([]string{"policy"}, tt.args...), &stdout, &stderr); code != exitUsage {
				t.Fatalf("exit %d, want %d", code, exitUsage)
			}
			msg := strings.TrimSpace(stderr.String())
			if !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("want one line with %q, got %q", tt.want, msg)
			}
		})
	}
}
