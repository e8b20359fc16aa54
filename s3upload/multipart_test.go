package s3upload

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
)

// TestMultipartStraightFromFile uploads files on both sides of the
// threshold and with a short last part, removing the sources: each large
// object must be assembled from the expected number of parts (its ETag
// ends in -N), hold the file's bytes, and have been verified before its
// file went.
func TestMultipartStraightFromFile(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	files := map[string][]byte{
		"below.bin":         randBytes(5*mib - 1), // one PUT
		"exact.bin":         randBytes(10 * mib),  // two full parts
		"ragged/last.bin":   randBytes(11*mib + 7),
		"ragged/small.txt":  []byte("small\n"),
		"ragged/empty.file": {},
	}
	wantParts := map[string]string{"exact.bin": "-2", "ragged/last.bin": "-3"}
	testbed.EachS3Server(t, func(t *testing.T, s testbed.S3Server) {
		src := t.TempDir()
		writeTree(t, src, files)
		rep, err := Run(context.Background(), s.Config, Options{
			Src: src, Bucket: s.Bucket, Prefix: "mp", RemoveSrc: true,
			MultipartThreshold: 5 * mib, PartSize: 5 * mib, PartConcurrency: 2,
		})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || rep.Totals.Removed != len(files) {
			t.Fatalf("totals %+v, files %+v", rep.Totals, rep.Files)
		}
		if want := treeBytes(files); rep.Totals.Bytes != want {
			t.Errorf("report says %d bytes uploaded, the files hold %d", rep.Totals.Bytes, want)
		}
		compare(t, testbed.Objects(t, s.Config, s.Bucket), "mp", files)
		c := awsclient.S3(s.Config)
		for rel := range files {
			h, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String("mp/" + rel)})
			if err != nil {
				t.Fatal(err)
			}
			etag := strings.Trim(aws.ToString(h.ETag), `"`)
			suffix, multi := wantParts[rel]
			if multi && !strings.HasSuffix(etag, suffix) || !multi && strings.Contains(etag, "-") {
				t.Errorf("%s: ETag %s; want a %s", rel, etag, map[bool]string{true: "multipart ETag ending in " + suffix, false: "single-PUT ETag"}[multi])
			}
		}
		if n := testbed.MultipartUploads(t, s.Config, s.Bucket); n != 0 {
			t.Errorf("%d multipart uploads left open", n)
		}
	})
}

// TestMultipartPartFailureAborts fails every UploadPart (no SDK retries):
// the file must be reported failed, stay on disk, and leave no multipart
// upload behind; a second run without faults then uploads it.
func TestMultipartPartFailureAborts(t *testing.T) {
	t.Parallel()
	v := testbed.StartVersity(t)
	bucket := v.Bucket(t)
	p := testbed.StartFaultProxy(t, v.Endpoint, testbed.Faults{Seed: 7, Error500: 1, Only: []string{"UploadPart"}, Logf: func(string, ...any) {}})
	cfg := p.Config(t, v.Env(), awsclient.Options{MaxAttempts: 1})
	src := t.TempDir()
	big := randBytes(12 << 20)
	writeTree(t, src, map[string][]byte{"big.bin": big})
	opts := Options{Src: src, Bucket: bucket, RemoveSrc: true, MultipartThreshold: 5 << 20, PartSize: 5 << 20}

	rep, err := Run(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Totals.Failed != 1 || !strings.Contains(rep.Files[0].Message, "part") {
		t.Fatalf("totals %+v, files %+v; want big.bin failed on a part", rep.Totals, rep.Files)
	}
	if _, err := os.Stat(filepath.Join(src, "big.bin")); err != nil {
		t.Fatalf("source of a failed upload: %v", err)
	}
	if n := testbed.MultipartUploads(t, v.Config(t), bucket); n != 0 {
		t.Fatalf("%d multipart uploads left after a failed part; want it aborted", n)
	}
	if got := p.Stats().Injected(); got == 0 {
		t.Fatal("the proxy injected no fault: the file did not go multipart")
	}

	if err := p.SetFaults(testbed.Faults{}); err != nil {
		t.Fatal(err)
	}
	rep, err = Run(context.Background(), cfg, opts)
	if err != nil || !rep.OK() || rep.Totals.Removed != 1 {
		t.Fatalf("rerun: %v, totals %+v, files %+v", err, rep.Totals, rep.Files)
	}
	compare(t, testbed.Objects(t, v.Config(t), bucket), "", map[string][]byte{"big.bin": big})
}

// TestStorageOptions: the storage class and server-side encryption reach
// both single PUTs and multipart uploads (moto stores and reports both).
func TestStorageOptions(t *testing.T) {
	t.Parallel()
	m := testbed.StartMotoAccount(t)
	cfg, bucket := m.Config(t), m.Bucket(t)
	src := t.TempDir()
	writeTree(t, src, map[string][]byte{"small.txt": []byte("x\n"), "large.bin": randBytes(6 << 20)})
	rep, err := Run(context.Background(), cfg, Options{
		Src: src, Bucket: bucket, StorageClass: "STANDARD_IA", SSE: "AES256",
		MultipartThreshold: 5 << 20, PartSize: 5 << 20,
	})
	if err != nil || !rep.OK() || rep.Totals.Uploaded != 2 {
		t.Fatalf("%v, totals %+v, files %+v", err, rep.Totals, rep.Files)
	}
	c := awsclient.S3(cfg)
	for _, key := range []string{"small.txt", "large.bin"} {
		h, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		if h.StorageClass != "STANDARD_IA" || h.ServerSideEncryption != "AES256" {
			t.Errorf("%s: storage class %q, encryption %q; want STANDARD_IA, AES256", key, h.StorageClass, h.ServerSideEncryption)
		}
	}
}
