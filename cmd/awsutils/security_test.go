package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/awsutils/awsutils/internal/testbed"
)

// TestUploadNeverShowsTheSecret runs the upload with static keys from
// aws_s3_upload.yml, on the success path and on failing ones, in both
// output forms, and greps everything the CLI printed for the secret. A key
// file that others can read draws a warning; a private one does not.
func TestUploadNeverShowsTheSecret(t *testing.T) {
	t.Parallel()
	v := testbed.StartVersity(t)
	// The keys come only from the config files.
	env := v.Env()
	delete(env, "AWS_ACCESS_KEY_ID")
	delete(env, "AWS_SECRET_ACCESS_KEY")
	bucket := v.Bucket(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	bad := filepath.Join(dir, "bad.yml")
	const wrongSecret = "Wr0ngSecretThatMustNeverBePrinted0123456789"
	write := func(path, secret string, mode os.FileMode) {
		body := fmt.Sprintf("region_name: %s\naccess_key_id: %s\nsecret_access_key: %s\n", testbed.Region, v.AccessKey, secret)
		if err := os.WriteFile(path, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	write(good, v.SecretKey, 0o600)
	write(bad, wrongSecret, 0o644)

	dest := "s3://" + bucket + "/sec"
	tests := []struct {
		name     string
		args     []string
		dest     string
		wantCode int
		warn     bool
	}{
		{"uploads, text", []string{"--config", good}, dest, exitOK, false},
		{"uploads, json", []string{"--config", good, "--output", "json"}, dest, exitOK, false},
		{"wrong bucket", []string{"--config", good, "--output", "json"}, "s3://no-such-bucket-sec/x", exitFailed, false},
		{"wrong secret, text", []string{"--config", bad}, dest, exitFailed, true},
		{"wrong secret, json", []string{"--config", bad, "--output", "json"}, dest, exitFailed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := t.TempDir()
			testbed.WriteFiles(t, src, map[string]string{"a.txt": "a", "d/b.txt": "b"})
			args := append(append([]string{"upload"}, tt.args...), src, tt.dest)
			code, stdout, stderr := runBin(t, env, args...)
			all := stdout + stderr
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\n%s", code, tt.wantCode, all)
			}
			for _, secret := range []string{v.SecretKey, wrongSecret} {
				if strings.Contains(all, secret) {
					t.Fatalf("output shows a secret key:\n%s", all)
				}
			}
			if got := strings.Contains(strings.ToLower(stderr), "readable"); got != tt.warn {
				t.Errorf("warning about a readable key file: %v, want %v\n%s", got, tt.warn, stderr)
			}
		})
	}
}
