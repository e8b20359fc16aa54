package testbed

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/awsutils/awsutils/awsclient"
)

// Region is the region every test-bed client uses.
const Region = "us-east-1"

// Moto is a running moto server, shared by the tests of one package.
type Moto struct {
	// Endpoint is the server's base URL, e.g. http://127.0.0.1:40123.
	Endpoint string
	// Account is the account id the credentials act in: moto's default
	// (123456789012), or one of StartMotoAccount's.
	Account string
	// key and secret are the credentials; empty means moto's dummy ones,
	// which act in the default account.
	key, secret string
	server
}

var motoShared = shared[*Moto]{name: "moto server", tool: ".venv/bin/moto_server", start: startMoto}

// StartMoto returns the package's moto server, starting it on first use,
// with its state reset so the test starts from an empty account. The reset
// empties every account, so a test that calls it must not run in parallel
// with others that use the server; those take StartMotoAccount.
func StartMoto(t testing.TB) *Moto {
	t.Helper()
	m := motoShared.get(t)
	if err := m.Reset(); err != nil {
		t.Fatal(err)
	}
	return m
}

// accountSeq numbers the accounts of StartMotoAccount.
var accountSeq atomic.Int64

// StartMotoAccount returns the package's moto server, starting it on first
// use, as seen from a new account of its own: empty, and used by no other
// test. The server is not reset, so tests that each take an account may
// run in parallel. The credentials are an STS AssumeRole into the account,
// which moto then ties every call to; Env and Options carry them.
func StartMotoAccount(t testing.TB) *Moto {
	t.Helper()
	m := motoShared.get(t)
	// Far from moto's default 123456789012, and never reused while the
	// server lives (it outlives -count rounds).
	id := fmt.Sprintf("%012d", 200000000000+accountSeq.Add(1))
	out, err := awsclient.STS(load(t, m.Options())).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::" + id + ":role/testbed"), RoleSessionName: aws.String("testbed"),
	})
	if err != nil {
		t.Fatalf("testbed: moto account %s: %v", id, err)
	}
	a := *m
	a.Account = id
	a.key, a.secret = aws.ToString(out.Credentials.AccessKeyId), aws.ToString(out.Credentials.SecretAccessKey)
	return &a
}

// LaunchMoto starts a moto server of its own for a program (the demo, the
// benchmarks); the caller closes it.
func LaunchMoto() (*Moto, error) { return launch(motoShared.tool, startMoto) }

// Close stops the server.
func (m *Moto) Close() { m.proc.stop() }

func startMoto(bin string) (*Moto, error) { return startMotoEnv(bin) }

// startMotoEnv starts moto server with env added to baseEnv.
func startMotoEnv(bin string, env ...string) (*Moto, error) {
	p, addr, err := startListening("moto_server", append(baseEnv(), env...), "", 60*time.Second, func(addr string) ([]string, error) {
		host, port, _ := net.SplitHostPort(addr)
		return []string{bin, "-H", host, "-p", port}, nil
	})
	if err != nil {
		return nil, err
	}
	return &Moto{Endpoint: "http://" + addr, Account: Account, server: server{p}}, nil
}

// Reset empties every service's state in every account (POST
// /moto-api/reset).
func (m *Moto) Reset() error { return m.motoAPI("reset", "") }

// motoAPI posts body to one of moto's /moto-api/ endpoints.
func (m *Moto) motoAPI(endpoint, body string) error {
	resp, err := http.Post(m.Endpoint+"/moto-api/"+endpoint, "text/plain", strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("testbed: moto %s: %w", endpoint, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("testbed: moto %s: HTTP %d", endpoint, resp.StatusCode)
	}
	return nil
}

// Env is the environment that points a child process (a CLI binary, a
// Lambda function) at this server, with m's credentials.
func (m *Moto) Env() map[string]string {
	key, secret := m.credentials()
	return clientEnv(m.Endpoint, key, secret)
}

// Options reach this server with m's credentials.
func (m *Moto) Options() awsclient.Options {
	key, secret := m.credentials()
	return clientOptions(m.Endpoint, key, secret)
}

func (m *Moto) credentials() (key, secret string) {
	if m.key == "" {
		return "testing", "testing"
	}
	return m.key, m.secret
}

// Config is an aws.Config for this server built by awsclient.
func (m *Moto) Config(t testing.TB) aws.Config {
	t.Helper()
	return load(t, m.Options())
}

func clientEnv(endpoint, key, secret string) map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL":          endpoint,
		"AWS_ACCESS_KEY_ID":         key,
		"AWS_SECRET_ACCESS_KEY":     secret,
		"AWS_REGION":                Region,
		"AWS_EC2_METADATA_DISABLED": "true",
	}
}

// clientOptions name endpoint, keys and region in code, so that a test
// reaches its server without the process environment (which t.Setenv
// would change for every test, and which parallel tests may not touch).
// The explicit endpoint wins over any endpoint variable a developer has set.
func clientOptions(endpoint, key, secret string) awsclient.Options {
	return awsclient.Options{Region: Region, AccessKeyID: key, SecretAccessKey: secret, Endpoint: endpoint}
}

func load(t testing.TB, opts awsclient.Options) aws.Config {
	t.Helper()
	cfg, err := awsclient.Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
