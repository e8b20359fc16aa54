package s3upload

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
)

func TestFileMetadataFormats(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		mtime time.Time
		mode  os.FileMode
		want  map[string]string
	}{
		{"nanoseconds", time.Unix(1700000000, 123456789), 0o640, map[string]string{
			"mtime": "1700000000.123456789", "file-mtime": "1700000000123456789ns", "mode": "100640", "file-permissions": "0100640"}},
		{"whole second", time.Unix(1500000000, 0), 0o755, map[string]string{
			"mtime": "1500000000.000000000", "file-mtime": "1500000000000000000ns", "mode": "100755", "file-permissions": "0100755"}},
		{"leading zeros", time.Unix(1600000000, 5), 0o600, map[string]string{
			"mtime": "1600000000.000000005", "file-mtime": "1600000000000000005ns", "mode": "100600", "file-permissions": "0100600"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name)
			if err := os.WriteFile(p, []byte("x"), tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, tt.mtime, tt.mtime); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			got := fileMetadata(fi)
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			uid, gid := strconv.Itoa(os.Getuid()), strconv.Itoa(os.Getgid())
			if got["uid"] != uid || got["file-owner"] != uid || got["gid"] != gid || got["file-group"] != gid || len(got) != 8 {
				t.Errorf("owner: %v", got)
			}
		})
	}
}

// TestMetadataStored uploads a small file (one PUT) and a large one
// (multipart) and reads their metadata back with HeadObject; rclone, when
// the test bed has it, lists the files with their original mtimes. With
// NoMetadata nothing is stored. A second run with SkipUnchanged knows the
// files unchanged from size and mtime alone.
func TestMetadataStored(t *testing.T) {
	t.Parallel()
	testbed.EachS3Server(t, func(t *testing.T, s testbed.S3Server) {
		ctx := context.Background()
		src := t.TempDir()
		files := map[string][]byte{"small.txt": []byte("small"), "big.bin": randBytes(6 << 20)}
		writeTree(t, src, files)
		mtimes := map[string]time.Time{"small.txt": time.Unix(1234567890, 987654321), "big.bin": time.Unix(1111111111, 0)}
		for rel, mt := range mtimes {
			if err := os.Chtimes(filepath.Join(src, rel), mt, mt); err != nil {
				t.Fatal(err)
			}
		}
		opts := Options{Src: src, Bucket: s.Bucket, Prefix: "m", MultipartThreshold: 5 << 20, PartSize: 5 << 20}
		rep, err := Run(ctx, s.Config, opts)
		if err != nil || !rep.OK() || rep.Totals.Uploaded != 2 {
			t.Fatalf("%v %+v", err, rep)
		}
		client := awsclient.S3(s.Config)
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(src, "small.txt"), &st); err != nil {
			t.Fatal(err)
		}
		for rel, mt := range mtimes {
			h, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String("m/" + rel)})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				"mtime":      strconv.FormatInt(mt.Unix(), 10) + "." + strings.Repeat("0", 9-len(strconv.Itoa(mt.Nanosecond()))) + strconv.Itoa(mt.Nanosecond()),
				"file-mtime": strconv.FormatInt(mt.UnixNano(), 10) + "ns",
				"mode":       strconv.FormatUint(uint64(st.Mode), 8), "file-permissions": "0" + strconv.FormatUint(uint64(st.Mode), 8),
				"uid": strconv.Itoa(int(st.Uid)), "file-owner": strconv.Itoa(int(st.Uid)),
				"gid": strconv.Itoa(int(st.Gid)), "file-group": strconv.Itoa(int(st.Gid)),
			}
			for k, v := range want {
				if h.Metadata[k] != v {
					t.Errorf("%s: metadata %s = %q, want %q (all: %v)", rel, k, h.Metadata[k], v, h.Metadata)
				}
			}
		}
		if rclone, err := exec.LookPath("rclone"); err == nil {
			out := rcloneLsl(t, rclone, s, "m")
			for rel, mt := range mtimes {
				if want := mt.Local().Format("2006-01-02 15:04:05.000000000") + " " + rel; !strings.Contains(out, want) {
					t.Errorf("rclone lsl: want %q in\n%s", want, out)
				}
			}
		} else {
			t.Log("rclone is not in the test bed: the mtimes were checked with HeadObject only")
		}

		// Unchanged files are known from size and mtime, without a read.
		opts.SkipUnchanged = true
		rep, err = Run(ctx, s.Config, opts)
		if err != nil || rep.Totals.Skipped != 2 {
			t.Fatalf("%v %+v", err, rep)
		}
		for _, f := range rep.Files {
			if f.Message != "unchanged in S3 (same size and mtime)" {
				t.Errorf("%+v", f)
			}
		}

		opts = Options{Src: src, Bucket: s.Bucket, Prefix: "none", NoMetadata: true}
		if rep, err := Run(ctx, s.Config, opts); err != nil || !rep.OK() {
			t.Fatalf("%v %+v", err, rep)
		}
		h, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String("none/small.txt")})
		if err != nil || len(h.Metadata) != 0 {
			t.Errorf("NoMetadata: %v %v", h.Metadata, err)
		}
	})
}

// rcloneLsl lists prefix with rclone, configured by environment only.
func rcloneLsl(t *testing.T, rclone string, s testbed.S3Server, prefix string) string {
	t.Helper()
	cmd := exec.Command(rclone, "lsl", "tb:"+s.Bucket+"/"+prefix)
	env := []string{"RCLONE_CONFIG=/dev/null", "HOME=" + t.TempDir(),
		"RCLONE_CONFIG_TB_TYPE=s3", "RCLONE_CONFIG_TB_PROVIDER=Other", "RCLONE_CONFIG_TB_ENDPOINT=" + s.Endpoint,
		"RCLONE_CONFIG_TB_ACCESS_KEY_ID=" + s.Env["AWS_ACCESS_KEY_ID"], "RCLONE_CONFIG_TB_SECRET_ACCESS_KEY=" + s.Env["AWS_SECRET_ACCESS_KEY"],
		"RCLONE_CONFIG_TB_FORCE_PATH_STYLE=true", "RCLONE_CONFIG_TB_REGION=" + testbed.Region}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "TZ=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rclone lsl: %v\n%s", err, out)
	}
	return string(out)
}

// BenchmarkFileMetadata is the per-file cost of the metadata
// (docs/NOTES.md has the figure):
//
//	go test -run '^$' -bench FileMetadata ./s3upload
func BenchmarkFileMetadata(b *testing.B) {
	p := filepath.Join(b.TempDir(), "f")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for range b.N {
		_ = fileMetadata(fi)
	}
}
