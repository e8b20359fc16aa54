package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/awsutils/awsutils/internal/testbed"
	"github.com/awsutils/awsutils/s3upload"
)

func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }

var cliTree = map[string]string{
	"a.txt": "a", "empty": "", "d/e/deep.csv": "1,2", "スペース 入り/ファイル.txt": "こんにちは",
}

func TestUploadCommand(t *testing.T) {
	t.Parallel()
	testbed.EachS3Server(t, func(t *testing.T, s testbed.S3Server) {
		cfg, bucket, env := s.Config, s.Bucket, s.Env
		src := t.TempDir()
		testbed.WriteFiles(t, src, cliTree)

		// Dry run first: nothing uploaded, nothing deleted.
		code, _, stderr := runBin(t, env, "upload", src, "s3://"+bucket+"/pre/", "--remove-src", "--dry-run", "--quiet")
		if code != exitOK {
			t.Fatalf("dry run: exit %d: %s", code, stderr)
		}
		if got := testbed.ObjectStrings(t, cfg, bucket); len(got) != 0 {
			t.Fatalf("dry run uploaded %v", got)
		}

		// Flags may follow the arguments.
		code, stdout, stderr := runBin(t, env, "upload", src, "s3://"+bucket+"/pre/", "--remove-src", "--prune-empty-dirs", "--output", "json", "--concurrency", "8")
		if code != exitOK {
			t.Fatalf("exit %d: %s %s", code, stdout, stderr)
		}
		var rep s3upload.Report
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("report %q: %v", stdout, err)
		}
		if rep.Totals.Removed != len(cliTree) || rep.Totals.Failed != 0 {
			t.Fatalf("totals %+v", rep.Totals)
		}
		// The streamed document lists every file, as s3upload.Report does.
		if rep.Bucket != bucket || rep.Prefix != "pre/" || len(rep.Files) != len(cliTree) || rep.Omitted != 0 {
			t.Fatalf("report head %q %q, %d files listed (omitted %d), want %d", rep.Bucket, rep.Prefix, len(rep.Files), rep.Omitted, len(cliTree))
		}
		for _, f := range rep.Files {
			rel, _ := filepath.Rel(src, f.Path)
			if f.Result != s3upload.Removed || f.Key != "pre/"+filepath.ToSlash(rel) || f.Size != int64(len(cliTree[filepath.ToSlash(rel)])) {
				t.Errorf("report entry %+v", f)
			}
		}
		got := testbed.ObjectStrings(t, cfg, bucket)
		for rel, data := range cliTree {
			if got["pre/"+rel] != data {
				t.Errorf("pre/%s = %q, want %q", rel, got["pre/"+rel], data)
			}
		}
		if len(got) != len(cliTree) {
			t.Errorf("bucket holds %v", got)
		}
		entries, _ := os.ReadDir(src)
		if len(entries) != 0 {
			t.Errorf("SRC still holds %v", entries)
		}
		if _, err := os.Stat(src); err != nil {
			t.Errorf("SRC itself removed: %v", err)
		}

		// A second run with --skip-unchanged uploads nothing.
		testbed.WriteFiles(t, src, cliTree)
		code, stdout, stderr = runBin(t, env, "upload", "--skip-unchanged", src, "s3://"+bucket+"/pre")
		if code != exitOK || !strings.Contains(stdout, "0 uploaded") {
			t.Fatalf("skip-unchanged: exit %d: %s %s", code, stdout, stderr)
		}
		if n := strings.Count(stdout, "skipped  "); n != len(cliTree) || !strings.Contains(stdout, "unchanged in S3") {
			t.Fatalf("text report has %d skipped lines, want one per file (%d):\n%s", n, len(cliTree), stdout)
		}
	})
}

func TestUploadCommandFailuresRemoveNothing(t *testing.T) {
	t.Parallel()
	v := testbed.StartVersity(t)
	bucket := v.Bucket(t)
	src := t.TempDir()
	testbed.WriteFiles(t, src, cliTree)
	check := func(t *testing.T) {
		for rel := range cliTree {
			if _, err := os.Stat(filepath.Join(src, rel)); err != nil {
				t.Errorf("source %s: %v", rel, err)
			}
		}
	}
	t.Run("wrong bucket", func(t *testing.T) {
		code, stdout, stderr := runBin(t, v.Env(), "upload", "--remove-src", src, "s3://no-such-bucket-here")
		if code != exitFailed || !strings.Contains(stdout, "NoSuchBucket") {
			t.Fatalf("exit %d: %s %s", code, stdout, stderr)
		}
		check(t)
	})
	t.Run("denied credentials", func(t *testing.T) {
		code, stdout, stderr := runBin(t, withEnv(v.Env(), "AWS_SECRET_ACCESS_KEY", "wrong"), "upload", "--remove-src", src, "s3://"+bucket)
		if code != exitFailed || !strings.Contains(stdout, "SignatureDoesNotMatch") {
			t.Fatalf("exit %d: %s %s", code, stdout, stderr)
		}
		check(t)
	})
}

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

func TestUploadCommandUsageErrors(t *testing.T) {
	src := t.TempDir()
	dir := t.TempDir()
	badKey := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(badKey, []byte("region_name: r\nbucket: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unreadable := filepath.Join(dir, "unreadable.yml")
	if err := os.WriteFile(unreadable, []byte("region_name: r\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no args", []string{"upload"}, "want SRC_DIR"},
		{"missing src", []string{"upload", filepath.Join(src, "nope"), "s3://b"}, "not a readable folder"},
		{"bad url", []string{"upload", src, "b/prefix"}, "want s3://BUCKET"},
		{"no bucket", []string{"upload", src, "s3:///x"}, "no bucket"},
		{"bad output", []string{"upload", src, "s3://b", "--output", "xml"}, "--output"},
		{"bad part size", []string{"upload", src, "s3://b", "--part-size", "1MiB"}, "part size"},
		{"tiny multipart threshold", []string{"upload", src, "s3://b", "--multipart-threshold", "1MiB"}, "--multipart-threshold 1MiB: want 5MiB to 5GiB"},
		{"multipart threshold not a size", []string{"upload", src, "s3://b", "--multipart-threshold", "big"}, `--multipart-threshold: "big" is not a size`},
		{"bad glob", []string{"upload", src, "s3://b", "--exclude", "[x"}, "unclosed"},
		{"bad include", []string{"upload", src, "s3://b", "--include", ""}, `--include "": empty glob`},
		{"negative concurrency", []string{"upload", src, "s3://b", "--concurrency", "-4"}, "--concurrency must not be negative"},
		{"bad sse", []string{"upload", src, "s3://b", "--sse", "rot13"}, "--sse rot13: want AES256, aws:kms or aws:kms:dsse"},
		{"src is a file", []string{"upload", badKey, "s3://b"}, "SRC_DIR " + badKey + " is not a readable folder"},
		{"bad prefix", []string{"upload", src, "s3://b/a/../c"}, `destination "s3://b/a/../c": prefix "a/../c": ".." segment`},
		{"unknown flag", []string{"upload", src, "s3://b", "--nope"}, "unknown flag"},
		{"unknown config key", []string{"upload", src, "s3://b", "--config", badKey}, `bad.yml:2: unknown key "bucket"`},
		{"missing config", []string{"upload", src, "s3://b", "--config", filepath.Join(dir, "none.yml")}, "none.yml"},
	}
	if os.Geteuid() != 0 {
		tests = append(tests, struct {
			name    string
			args    []string
			wantErr string
		}{"unreadable config", []string{"upload", src, "s3://b", "--config", unreadable}, "permission denied"})
	}
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "y")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.wantErr) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and %q", code, stderr, tt.wantErr)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"8MiB": 8 << 20, "16M": 16 << 20, "1GiB": 1 << 30, "5242880": 5 << 20, "64 KiB": 64 << 10} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1M", "1.5M", "0"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q): no error", in)
		}
	}
}
