package s3upload

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
)

func TestUploadTree(t *testing.T) {
	t.Parallel()
	testbed.EachS3Server(t, func(t *testing.T, s testbed.S3Server) {
		src, files := sampleSrc(t, map[string][]byte{"big/forty.bin": randBytes(40 << 20)})
		rep, err := Run(context.Background(), s.Config, Options{Src: src, Bucket: s.Bucket, Prefix: "backup/2024/"})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || rep.Totals.Uploaded != len(files) || rep.Totals.Files != len(files) {
			t.Fatalf("report %+v", rep.Totals)
		}
		if size := treeBytes(files); rep.Totals.Bytes != size {
			t.Errorf("bytes %d, want %d", rep.Totals.Bytes, size)
		}
		compare(t, testbed.Objects(t, s.Config, s.Bucket), "backup/2024", files)
		for rel := range files {
			if _, err := os.Stat(filepath.Join(src, rel)); err != nil {
				t.Errorf("source %s: %v", rel, err)
			}
		}
		c := awsclient.S3(s.Config)
		big, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String("backup/2024/big/forty.bin")})
		if err != nil {
			t.Fatal(err)
		}
		// Below the 100 MiB default threshold one PUT is faster than parts
		// (TestMultipartStraightFromFile covers the multipart path).
		if strings.Contains(aws.ToString(big.ETag), "-") {
			t.Errorf("40 MiB file went multipart under the default threshold: ETag %s", aws.ToString(big.ETag))
		}
		txt, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String("backup/2024/top.txt")})
		if err != nil {
			t.Fatal(err)
		}
		if ct := aws.ToString(txt.ContentType); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("top.txt Content-Type %q", ct)
		}
		if n := testbed.MultipartUploads(t, s.Config, s.Bucket); n != 0 {
			t.Errorf("%d multipart uploads left", n)
		}
	})
}

func TestRemoveSrcRemovesExactlyTheVerifiedFiles(t *testing.T) {
	testbed.EachS3Server(t, func(t *testing.T, s testbed.S3Server) {
		src, files := sampleSrc(t, map[string][]byte{"big/twelve.bin": randBytes(12 << 20), "grow/appended.log": []byte("line 1\n")})
		if err := os.Mkdir(filepath.Join(src, "already-empty"), 0o755); err != nil {
			t.Fatal(err)
		}
		appended := filepath.Join(src, "grow", "appended.log")
		setHook(t, func(at stage, path string) {
			if at == atVerified && path == appended {
				f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = f.WriteString("line 2\n")
				f.Close()
			}
		})

		rep, err := Run(context.Background(), s.Config, Options{
			Src: src, Bucket: s.Bucket, RemoveSrc: true, PruneEmptyDirs: true,
			MultipartThreshold: 5 << 20, PartSize: 5 << 20,
		})
		if err != nil {
			t.Fatal(err)
		}
		res := byResult(rep)
		if !rep.OK() || rep.Totals.Removed != len(files)-1 || len(res[Kept]) != 1 || res[Kept][0] != appended {
			t.Fatalf("totals %+v, results %v", rep.Totals, res)
		}
		for _, f := range rep.Files {
			if f.Result == Kept && !strings.Contains(f.Message, "changed during upload") {
				t.Errorf("kept message %q", f.Message)
			}
		}
		// Every object is what the file held when read; only the changed
		// file remains, with its new line.
		compare(t, testbed.Objects(t, s.Config, s.Bucket), "", files)
		b, err := os.ReadFile(appended)
		if err != nil || string(b) != "line 1\nline 2\n" {
			t.Fatalf("appended file: %q, %v", b, err)
		}
		var left []string
		_ = filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
			if err == nil && p != src {
				rel, _ := filepath.Rel(src, p)
				left = append(left, rel)
			}
			return nil
		})
		sort.Strings(left)
		// Folders emptied by the run are pruned; a folder that was empty
		// before and SRC itself stay.
		if want := []string{"already-empty", "grow", "grow/appended.log"}; strings.Join(left, ",") != strings.Join(want, ",") {
			t.Errorf("left in SRC: %v, want %v", left, want)
		}
	})
}

func TestWrongBucketRemovesNothing(t *testing.T) {
	t.Parallel()
	testbed.EachS3Server(t, func(t *testing.T, s testbed.S3Server) {
		src, files := sampleSrc(t, nil)
		rep, err := Run(context.Background(), s.Config, Options{Src: src, Bucket: "no-such-bucket-" + strings.ToLower(t.Name()[len(t.Name())-4:]), RemoveSrc: true})
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK() || rep.Totals.Removed != 0 || rep.Totals.Failed == 0 {
			t.Fatalf("totals %+v", rep.Totals)
		}
		if !strings.Contains(rep.Stopped, "NoSuchBucket") {
			t.Errorf("stopped %q", rep.Stopped)
		}
		if rep.Totals.Failed+rep.Totals.Remaining != len(files) {
			t.Errorf("failed %d + remaining %d != %d files", rep.Totals.Failed, rep.Totals.Remaining, len(files))
		}
		for rel := range files {
			if _, err := os.Stat(filepath.Join(src, rel)); err != nil {
				t.Errorf("source %s: %v", rel, err)
			}
		}
	})
}

func TestDeniedCredentialsRemoveNothing(t *testing.T) {
	t.Parallel()
	v := testbed.StartVersity(t)
	bucket := v.Bucket(t)
	opts := v.Options()
	opts.SecretAccessKey = "wrong-secret"
	cfg, err := awsclient.Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	src, files := sampleSrc(t, nil)
	rep, err := Run(context.Background(), cfg, Options{Src: src, Bucket: bucket, RemoveSrc: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Totals.Removed != 0 || !strings.Contains(rep.Stopped, "SignatureDoesNotMatch") {
		t.Fatalf("totals %+v, stopped %q", rep.Totals, rep.Stopped)
	}
	for rel := range files {
		if _, err := os.Stat(filepath.Join(src, rel)); err != nil {
			t.Errorf("source %s: %v", rel, err)
		}
	}
}

func TestSymlinksAndSpecialFiles(t *testing.T) {
	t.Parallel()
	testbed.EachS3Server(t, func(t *testing.T, s testbed.S3Server) {
		outside := filepath.Join(t.TempDir(), "secret.txt")
		if err := os.WriteFile(outside, []byte("credentials"), 0o600); err != nil {
			t.Fatal(err)
		}
		src := t.TempDir()
		writeTree(t, src, map[string][]byte{"real/target.txt": []byte("target"), "plain.txt": []byte("plain")})
		for link, to := range map[string]string{
			"outside.txt": outside, "environ": "/proc/self/environ", "inside.txt": "real/target.txt",
			"loop": ".", "broken": "nowhere",
		} {
			if err := os.Symlink(to, filepath.Join(src, link)); err != nil {
				t.Fatal(err)
			}
		}
		if err := syscall.Mkfifo(filepath.Join(src, "fifo"), 0o644); err != nil {
			t.Fatal(err)
		}

		// Not followed: links are reported as skipped; the FIFO too.
		rep, err := Run(context.Background(), s.Config, Options{Src: src, Bucket: s.Bucket, DryRun: false, Prefix: "nofollow"})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Totals.Uploaded != 2 || rep.Totals.Skipped != 6 || !rep.OK() {
			t.Fatalf("no follow: totals %+v, %v", rep.Totals, rep.Files)
		}

		// Followed, removing: the inside link is uploaded and removed, its
		// target (excluded here) stays; outside targets are refused.
		rep, err = Run(context.Background(), s.Config, Options{
			Src: src, Bucket: s.Bucket, Prefix: "follow", FollowSymlinks: true, RemoveSrc: true, Exclude: []string{"real"},
		})
		if err != nil {
			t.Fatal(err)
		}
		msgs := map[string]string{}
		for _, f := range rep.Files {
			msgs[filepath.Base(f.Path)] = string(f.Result) + ": " + f.Message
		}
		for name, want := range map[string]string{
			"outside.txt": "skipped: symlink points outside", "environ": "skipped: symlink points outside",
			"inside.txt": "removed", "loop": "skipped: symlink loop", "broken": "skipped: broken symlink",
			"fifo": "skipped: not a regular file", "plain.txt": "removed",
		} {
			if !strings.HasPrefix(msgs[name], want) {
				t.Errorf("%s: %q, want %q", name, msgs[name], want)
			}
		}
		if _, err := os.Lstat(filepath.Join(src, "inside.txt")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("link not removed: %v", err)
		}
		if b, err := os.ReadFile(filepath.Join(src, "real/target.txt")); err != nil || string(b) != "target" {
			t.Errorf("link target: %q, %v", b, err)
		}
		got := testbed.Objects(t, s.Config, s.Bucket)
		if string(got["follow/inside.txt"]) != "target" {
			t.Errorf("follow/inside.txt = %q", got["follow/inside.txt"])
		}
		for k, v := range got {
			if strings.Contains(string(v), "credentials") || strings.Contains(k, "environ") || strings.Contains(k, "outside") {
				t.Errorf("uploaded %s from outside SRC", k)
			}
		}
	})
}

func TestSkipUnchanged(t *testing.T) {
	t.Parallel()
	testbed.EachS3Server(t, func(t *testing.T, s testbed.S3Server) {
		src, files := sampleSrc(t, map[string][]byte{"big/seven.bin": randBytes(7 << 20)})
		opts := Options{Src: src, Bucket: s.Bucket, Prefix: "p", SkipUnchanged: true, MultipartThreshold: 5 << 20, PartSize: 5 << 20}
		rep, err := Run(context.Background(), s.Config, opts)
		if err != nil || rep.Totals.Uploaded != len(files) {
			t.Fatalf("first run: %v %+v %v", err, rep.Totals, rep.Files)
		}
		rep, err = Run(context.Background(), s.Config, opts)
		if err != nil || rep.Totals.Uploaded != 0 || rep.Totals.Skipped != len(files) || rep.Totals.Bytes != 0 {
			t.Fatalf("second run: %v %+v %v", err, rep.Totals, rep.Files)
		}
		// A changed file is uploaded again; with RemoveSrc, unchanged files
		// already verified in S3 are removed without uploading.
		writeTree(t, src, map[string][]byte{"top.txt": []byte("changed\n")})
		opts.RemoveSrc = true
		rep, err = Run(context.Background(), s.Config, opts)
		if err != nil || rep.Totals.Uploaded != 0 || rep.Totals.Removed != len(files) || rep.Totals.Bytes != int64(len("changed\n")) {
			t.Fatalf("third run: %v %+v %v", err, rep.Totals, rep.Files)
		}
		files["top.txt"] = []byte("changed\n")
		compare(t, testbed.Objects(t, s.Config, s.Bucket), "p", files)
	})
}

func TestDryRunTouchesNothing(t *testing.T) {
	t.Parallel()
	testbed.EachS3Server(t, func(t *testing.T, s testbed.S3Server) {
		src, files := sampleSrc(t, nil)
		rep, err := Run(context.Background(), s.Config, Options{Src: src, Bucket: s.Bucket, RemoveSrc: true, DryRun: true})
		if err != nil || !rep.OK() || rep.Totals.Skipped != len(files) || rep.Totals.Uploaded != 0 {
			t.Fatalf("%v %+v", err, rep.Totals)
		}
		if got := testbed.Objects(t, s.Config, s.Bucket); len(got) != 0 {
			t.Errorf("dry run uploaded %d objects", len(got))
		}
		for rel := range files {
			if _, err := os.Stat(filepath.Join(src, rel)); err != nil {
				t.Errorf("source %s: %v", rel, err)
			}
		}
	})
}

// TestDeadline reaches the deadline while requests are held at the proxy,
// so what is done and what remains never depends on the machine's speed.
func TestDeadline(t *testing.T) {
	t.Parallel()
	smallFiles := func(t *testing.T) (string, int) {
		src := t.TempDir()
		files := map[string][]byte{}
		for i := range 40 {
			files[filepath.Join("d", string(rune('a'+i%26))+strings.Repeat("x", i/26)+".txt")] = []byte("data")
		}
		writeTree(t, src, files)
		return src, len(files)
	}
	t.Run("small files", func(t *testing.T) {
		m := testbed.StartMotoAccount(t)
		bucket := m.Bucket(t)
		p := testbed.StartFaultProxy(t, m.Endpoint, testbed.Faults{})
		cfg := p.Config(t, m.Env(), awsclient.Options{})
		const passed = 6
		gate := p.Hold(testbed.IsOp("PutObject"))
		gate.ReleaseN(passed)
		src, total := smallFiles(t)
		ctx, expire := testbed.ManualDeadline(context.Background())
		defer expire()
		var removed int
		rep, err := Run(ctx, cfg, Options{Src: src, Bucket: bucket, RemoveSrc: true, Concurrency: 4, DeadlineMargin: time.Second,
			OnFile: func(f File) {
				if f.Result == Removed {
					if removed++; removed == passed {
						// The next four files are in flight, held: the
						// deadline passes now.
						go func() {
							if err := gate.WaitHeld(context.Background(), 4); err != nil {
								t.Error(err)
							}
							expire()
						}()
					}
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		// The deadline also ends the listing, so the report may know of
		// fewer remaining files than the disk holds, and then says so.
		tot := rep.Totals
		if tot.Removed != passed || tot.Remaining < 4 || tot.Remaining > total-passed || tot.Failed != 0 ||
			(tot.Remaining < total-passed && !strings.Contains(rep.Stopped, "at least")) {
			t.Fatalf("totals %+v, stopped %q", tot, rep.Stopped)
		}
		if got := testbed.Objects(t, m.Config(t), bucket); len(got) != passed {
			t.Errorf("bucket holds %d objects, %d removed", len(got), passed)
		}
		if left := testbed.CountFiles(src); left != total-passed {
			t.Errorf("%d files left, want %d", left, total-passed)
		}
	})
	t.Run("no file starts within the margin", func(t *testing.T) {
		m := testbed.StartMotoAccount(t)
		bucket := m.Bucket(t)
		p := testbed.StartFaultProxy(t, m.Endpoint, testbed.Faults{})
		cfg := p.Config(t, m.Env(), awsclient.Options{})
		p.Hold(testbed.IsOp("PutObject")) // nothing can finish: whatever the timing, every file remains
		src, total := smallFiles(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		rep, err := Run(ctx, cfg, Options{Src: src, Bucket: bucket, RemoveSrc: true, Concurrency: 4, DeadlineMargin: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Totals.Remaining != total || rep.Totals.Failed != 0 || !strings.Contains(rep.Stopped, "deadline") {
			t.Fatalf("totals %+v, stopped %q", rep.Totals, rep.Stopped)
		}
		if left := testbed.CountFiles(src); left != total {
			t.Errorf("%d files left of %d", left, total)
		}
	})
	t.Run("multipart in flight", func(t *testing.T) {
		testbed.EachS3Server(t, func(t *testing.T, s testbed.S3Server) {
			p := testbed.StartFaultProxy(t, s.Endpoint, testbed.Faults{})
			cfg := p.Config(t, s.Env, awsclient.Options{})
			gate := p.Hold(testbed.IsOp("UploadPart"))
			src := t.TempDir()
			writeTree(t, src, map[string][]byte{"big.bin": randBytes(11 << 20)})
			ctx, expire := testbed.ManualDeadline(context.Background())
			defer expire()
			go func() {
				if err := gate.WaitHeld(context.Background(), 1); err != nil {
					t.Error(err)
				}
				expire()
			}()
			rep, err := Run(ctx, cfg, Options{Src: src, Bucket: s.Bucket, RemoveSrc: true, DeadlineMargin: time.Second,
				MultipartThreshold: 5 << 20, PartSize: 5 << 20})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Totals.Remaining != 1 || rep.Totals.Failed != 0 || rep.Totals.Skipped != 1 {
				t.Fatalf("totals %+v, %v", rep.Totals, rep.Files)
			}
			if n := testbed.MultipartUploads(t, s.Config, s.Bucket); n != 0 {
				t.Errorf("%d multipart uploads left", n)
			}
			if _, err := os.Stat(filepath.Join(src, "big.bin")); err != nil {
				t.Error(err)
			}
		})
	})
}
