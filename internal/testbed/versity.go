package testbed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/awsutils/awsutils/awsclient"
)

// Versity is a running versitygw (posix backend), shared by the tests of one
// package. Unlike moto it checks SigV4 signatures and stores real files.
type Versity struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	server
}

var versityShared = shared[*Versity]{name: "versitygw", tool: ".bin/versitygw", start: startVersityTemp}

// StartVersity returns the package's versitygw, starting it on first use.
// Tests isolate themselves with a fresh bucket from Bucket.
func StartVersity(t testing.TB) *Versity {
	t.Helper()
	return versityShared.get(t)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// LaunchVersity starts a versitygw of its own for a program (the demo, the
// benchmarks); the caller closes it.
func LaunchVersity() (*Versity, error) { return launch(versityShared.tool, startVersityTemp) }

// NewVersity is LaunchVersity keeping the objects in dir, which must exist
// and is left in place: the benchmarks put it on tmpfs and delete each
// run's objects straight from it.
func NewVersity(dir string) (*Versity, error) {
	bin, err := ToolPath(versityShared.tool)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("testbed: versitygw data folder %q is not a folder", dir)
	}
	return startVersity(bin, dir)
}

// NewVersityWithKeys is NewVersity with the given root keys instead of
// random ones, e.g. the dummy keys moto's state machine interpreter signs
// with (InterpreterAccessKey), so that its S3 calls verify here.
func NewVersityWithKeys(dir, accessKey, secretKey string) (*Versity, error) {
	bin, err := ToolPath(versityShared.tool)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("testbed: versitygw data folder %q is not a folder", dir)
	}
	return startVersityKeys(bin, dir, accessKey, secretKey)
}

// Close stops the server.
func (v *Versity) Close() { v.proc.stop() }

// Pid is the server's process id, e.g. to read the CPU time it used.
func (v *Versity) Pid() int { return v.proc.cmd.Process.Pid }

// startVersityTemp starts versitygw on a temporary folder, removed when
// the process's servers stop.
func startVersityTemp(bin string) (*Versity, error) {
	dir, err := sharedTempDir("versitygw-")
	if err != nil {
		return nil, err
	}
	return startVersity(bin, dir)
}

// startVersity starts versitygw on dir.
func startVersity(bin, dir string) (*Versity, error) {
	return startVersityKeys(bin, dir, "AK"+strings.ToUpper(randomHex(8)), randomHex(20))
}

func startVersityKeys(bin, dir, ak, sk string) (*Versity, error) {
	env := append(baseEnv(), "ROOT_ACCESS_KEY="+ak, "ROOT_SECRET_KEY="+sk)
	p, addr, err := startListening("versitygw", env, "", 30*time.Second, func(addr string) ([]string, error) {
		return []string{bin, "--port", addr, "--quiet", "--keep-alive", "posix", dir}, nil
	})
	if err != nil {
		return nil, err
	}
	return &Versity{Endpoint: "http://" + addr, AccessKey: ak, SecretKey: sk, server: server{p}}, nil
}

// Env points a child process (a CLI binary, a Lambda function) at this
// server with its root keys.
func (v *Versity) Env() map[string]string { return clientEnv(v.Endpoint, v.AccessKey, v.SecretKey) }

// Options reach this server with its root keys.
func (v *Versity) Options() awsclient.Options {
	return clientOptions(v.Endpoint, v.AccessKey, v.SecretKey)
}

// Config is an aws.Config for this server built by awsclient.
func (v *Versity) Config(t testing.TB) aws.Config {
	t.Helper()
	return load(t, v.Options())
}

// Bucket creates a bucket of its own for t.
func (v *Versity) Bucket(t testing.TB) string {
	t.Helper()
	return CreateBucket(t, v.Config(t))
}

// Bucket creates a bucket of its own for t.
func (m *Moto) Bucket(t testing.TB) string {
	t.Helper()
	return CreateBucket(t, m.Config(t))
}

// bucketSeq numbers the buckets of CreateBucket.
var bucketSeq atomic.Int64

// CreateBucket creates a uniquely named bucket through cfg.
func CreateBucket(t testing.TB, cfg aws.Config) string {
	t.Helper()
	name := "tb-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36) + "-" + strconv.FormatInt(bucketSeq.Add(1), 10)
	_, err := awsclient.S3(cfg).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)})
	if err != nil {
		t.Fatalf("testbed: create bucket %s: %v", name, err)
	}
	return name
}
