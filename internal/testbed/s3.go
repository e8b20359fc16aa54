package testbed

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/awsutils/awsutils/awsclient"
)

// S3Server is one of the test bed's S3 servers as a test sees it, with a
// bucket of its own.
type S3Server struct {
	Name     string     // "moto" or "versitygw"
	Endpoint string     // the server's base URL
	Config   aws.Config // clients that reach the server directly
	Bucket   string
	Env      map[string]string // for a child process (a CLI binary, a Lambda function)
}

// EachS3Server runs fn in a subtest against moto and against versitygw,
// each time on a new bucket (and on moto a new account), so that tests
// using it may run in parallel.
func EachS3Server(t *testing.T, fn func(t *testing.T, s S3Server)) {
	t.Helper()
	for _, name := range []string{"moto", "versitygw"} {
		t.Run(name, func(t *testing.T) {
			s := S3Server{Name: name}
			if name == "moto" {
				m := StartMotoAccount(t)
				s.Endpoint, s.Config, s.Bucket, s.Env = m.Endpoint, m.Config(t), m.Bucket(t), m.Env()
			} else {
				v := StartVersity(t)
				s.Endpoint, s.Config, s.Bucket, s.Env = v.Endpoint, v.Config(t), v.Bucket(t), v.Env()
			}
			fn(t, s)
		})
	}
}

// WriteFiles writes files (a slash-separated path relative to dir ->
// content) under dir, making the folders they need.
func WriteFiles[T string | []byte](t testing.TB, dir string, files map[string]T) {
	t.Helper()
	if err := WriteTree(dir, files); err != nil {
		t.Fatal(err)
	}
}

// WriteTree is WriteFiles for programs (the demo).
func WriteTree[T string | []byte](dir string, files map[string]T) error {
	for rel, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// CountFiles is the number of regular files under dir.
func CountFiles(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

// Objects returns every object in bucket (key -> content).
func Objects(t testing.TB, cfg aws.Config, bucket string) map[string][]byte {
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

// ObjectStrings is Objects with the contents as strings.
func ObjectStrings(t testing.TB, cfg aws.Config, bucket string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for k, b := range Objects(t, cfg, bucket) {
		got[k] = string(b)
	}
	return got
}

// MultipartUploads is the number of unfinished multipart uploads in bucket.
func MultipartUploads(t testing.TB, cfg aws.Config, bucket string) int {
	t.Helper()
	out, err := awsclient.S3(cfg).ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}
