package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
)

// useProfiles points the AWS settings of this test process at a shared
// config file and a shared credentials file written into a temporary
// folder, and clears every variable that would otherwise say where to go
// or who to be, so what the CLI reaches can only come from a profile.
func useProfiles(t *testing.T, config, credentials string) {
	t.Helper()
	dir := t.TempDir()
	cfgPath, credPath := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	for path, body := range map[string]string{cfgPath: config, credPath: credentials} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
		"AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_RDS"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", cfgPath)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credPath)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// A profile that does not exist, named by --profile or by AWS_PROFILE, is a
// usage error before anything is touched: exit 2 and one line naming it.
func TestProfileMissing(t *testing.T) {
	useProfiles(t, "[default]\nregion = us-east-1\n", "")
	conf := writeConfig(t, "dev:\n  - type: ec2.instance\n    ids: [i-0123456789abcdef0]\n")
	src := t.TempDir()
	for _, tt := range []struct {
		name, env string
		args      []string
	}{
		{"stop --profile", "", []string{"stop", "--profile", "nope", "--config", conf, "dev"}},
		{"start --profile", "", []string{"start", "--profile", "nope", "--config", conf, "dev"}},
		{"upload --profile", "", []string{"upload", "--profile", "nope", src, "s3://bucket/p"}},
		{"stop AWS_PROFILE", "nope", []string{"stop", "--config", conf, "dev"}},
		{"upload AWS_PROFILE", "nope", []string{"upload", src, "s3://bucket/p"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_PROFILE", tt.env)
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != exitUsage || stdout != "" {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitUsage, stdout, stderr)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, `profile "nope" not found`) {
				t.Errorf("want one line naming the profile, got:\n%s", stderr)
			}
		})
	}
}

// --profile selects region, endpoint and keys of a profile for start and
// stop: the moto profile is the only way to moto (its EC2 and RDS endpoints
// come from a services section, its keys from the credentials file), the
// default profile has no region. AWS_PROFILE works when the flag is absent;
// the flag wins over it.
func TestProfileStartStop(t *testing.T) {
	m := testbed.StartMoto(t)
	ec2c := awsclient.EC2(m.Config(t))
	ids := testbed.RunInstances(t, ec2c, 1)
	useProfiles(t, fmt.Sprintf(`[default]
output = json

[profile moto]
region = %s
services = moto-local

[services moto-local]
ec2 =
  endpoint_url = %[2]s
rds =
  endpoint_url = %[2]s
`, testbed.Region, m.Endpoint), "[moto]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
	conf := writeConfig(t, fmt.Sprintf("dev:\n  - type: ec2.instance\n    ids: [%s]\n", ids[0]))

	state := func() string {
		out, err := ec2c.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: ids})
		if err != nil {
			t.Fatal(err)
		}
		return string(out.Reservations[0].Instances[0].State.Name)
	}
	steps := []struct {
		name, env string
		args      []string
		want      string
	}{
		{"stop --profile", "", []string{"stop", "--profile", "moto"}, "stopped"},
		{"start with AWS_PROFILE", "moto", []string{"start"}, "running"},
		{"--profile wins over AWS_PROFILE", "no-such-profile", []string{"stop", "--profile", "moto"}, "stopped"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			t.Setenv("AWS_PROFILE", s.env)
			code, stdout, stderr := runCLI(t, append(s.args, "--config", conf, "dev")...)
			if code != exitOK {
				t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
			}
			if got := state(); got != s.want {
				t.Errorf("instance is %s, want %s\n%s", got, s.want, stdout)
			}
		})
	}
	t.Run("no profile: no region", func(t *testing.T) {
		code, _, stderr := runCLI(t, "stop", "--config", conf, "dev")
		if code != exitUsage || !strings.Contains(stderr, "no AWS region") {
			t.Errorf("exit %d\n%s", code, stderr)
		}
	})
}

// --profile reaches the credentials: versitygw checks every signature, so
// only the profile with its keys uploads; one with a wrong secret fails
// and leaves the bucket empty. The endpoint comes from the profile's
// endpoint_url.
func TestProfileUpload(t *testing.T) {
	v := testbed.StartVersity(t)
	cfg := v.Config(t)
	bucket := testbed.CreateBucket(t, cfg)
	useProfiles(t, fmt.Sprintf(`[profile versity]
region = %[1]s
endpoint_url = %[2]s

[profile wrong]
region = %[1]s
endpoint_url = %[2]s
`, testbed.Region, v.Endpoint), fmt.Sprintf(`[versity]
aws_access_key_id = %[1]s
aws_secret_access_key = %[2]s

[wrong]
aws_access_key_id = %[1]s
aws_secret_access_key = not-%[2]s
`, v.AccessKey, v.SecretKey))

	objects := func(prefix string) int {
		out, err := awsclient.S3(cfg).ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Contents)
	}
	for _, tt := range []struct {
		name, env string
		args      []string
		want      int // exit code
	}{
		{"--profile", "", []string{"--profile", "versity"}, exitOK},
		{"AWS_PROFILE", "versity", nil, exitOK},
		{"--profile wins over AWS_PROFILE", "wrong", []string{"--profile", "versity"}, exitOK},
		{"--profile with a wrong secret", "versity", []string{"--profile", "wrong"}, exitFailed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_PROFILE", tt.env)
			src := t.TempDir()
			testbed.WriteFiles(t, src, map[string]string{"a.txt": "a", "d/b.txt": "b"})
			prefix := strings.ReplaceAll(tt.name, " ", "-")
			args := append(append([]string{"upload"}, tt.args...), src, "s3://"+bucket+"/"+prefix)
			code, stdout, stderr := runCLI(t, args...)
			if code != tt.want {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.want, stdout, stderr)
			}
			want := 2
			if tt.want != exitOK {
				want = 0
				if !strings.Contains(stdout, "SignatureDoesNotMatch") {
					t.Errorf("the failure does not say the signature was refused:\n%s", stdout)
				}
			}
			if got := objects(prefix + "/"); got != want {
				t.Errorf("%d objects under %s/, want %d", got, prefix, want)
			}
		})
	}
}
