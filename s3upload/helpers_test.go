package s3upload

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
)

func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }

// target is one S3 server with a fresh bucket.
type target struct {
	name     string
	cfg      aws.Config
	bucket   string
	endpoint string
	env      map[string]string
}

// eachServer runs fn against moto and versitygw, each time on a bucket (and
// a moto account) of its own, so that tests using it may run in parallel.
func eachServer(t *testing.T, fn func(t *testing.T, s target)) {
	for _, name := range []string{"moto", "versitygw"} {
		t.Run(name, func(t *testing.T) {
			var s target
			if name == "moto" {
				m := testbed.StartMotoAccount(t)
				s = target{name: name, cfg: m.Config(t), bucket: m.Bucket(t), endpoint: m.Endpoint, env: m.Env()}
			} else {
				v := testbed.StartVersity(t)
				s = target{name: name, cfg: v.Config(t), bucket: v.Bucket(t), endpoint: v.Endpoint, env: v.Env()}
			}
			fn(t, s)
		})
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// writeTree writes files (relative path -> content) under dir.
func writeTree(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for rel, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sampleTree is a nested tree with empty files, Unicode and space names.
func sampleTree() map[string][]byte {
	return map[string][]byte{
		"top.txt":                     []byte("top\n"),
		"empty.bin":                   {},
		"a/b/c/deep.csv":              []byte("x,y\n1,2\n"),
		"a/b/empty":                   {},
		"a/with space/file name.json": []byte(`{"k": "v"}`),
		"日本語/ファイル.txt":                []byte("こんにちは\n"),
		"a/random.bin":                randBytes(300 << 10),
	}
}

// treeBytes is the size of all files of a tree written by writeTree.
func treeBytes(files map[string][]byte) int64 {
	var n int64
	for _, b := range files {
		n += int64(len(b))
	}
	return n
}

// objects returns every object in bucket with its content.
func objects(t *testing.T, cfg aws.Config, bucket string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	c := awsclient.S3(cfg)
	got := map[string][]byte{}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			got[*o.Key] = b
		}
	}
	return got
}

// multipartUploads lists unfinished multipart uploads.
func multipartUploads(t *testing.T, cfg aws.Config, bucket string) int {
	t.Helper()
	out, err := awsclient.S3(cfg).ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

// compare checks that want (relative path -> content) is exactly what the
// bucket holds under prefix.
func compare(t *testing.T, got map[string][]byte, prefix string, want map[string][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("bucket holds %d objects, want %d", len(got), len(want))
	}
	for rel, data := range want {
		key, _ := Key(prefix, rel)
		b, ok := got[key]
		if !ok {
			t.Errorf("missing object %q", key)
			continue
		}
		if !bytes.Equal(b, data) {
			t.Errorf("object %q: %d bytes differ from the source's %d", key, len(b), len(data))
		}
	}
}

func byResult(rep *Report) map[Result][]string {
	m := map[Result][]string{}
	for _, f := range rep.Files {
		m[f.Result] = append(m[f.Result], f.Path)
	}
	return m
}

// setHook sets testHook for the life of t. Every run in the process calls
// it, so tests that set it must not be parallel (t.Parallel); parallel
// tests run only after them.
func setHook(t *testing.T, fn func(at stage, name string)) {
	t.Helper()
	testHook = fn
	t.Cleanup(func() { testHook = nil })
}
