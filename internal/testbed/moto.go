package testbed

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/awsutils/awsutils/awsclient"
)

// Region is the region every test-bed client uses.
const Region = "us-east-1"

// Moto is a running moto server, shared by the tests of one package.
type Moto struct {
	// Endpoint is the server's base URL, e.g. http://127.0.0.1:40123.
	Endpoint string
	proc     *process
}

var (
	motoOnce sync.Once
	motoSrv  *Moto
	motoErr  error
)

// StartMoto returns the package's moto server, starting it on first use,
// with its state reset so the test starts from an empty account.
func StartMoto(t testing.TB) *Moto {
	t.Helper()
	Require(t)
	bin := tool(t, ".venv/bin/moto_server")
	motoOnce.Do(func() { motoSrv, motoErr = startMoto(bin) })
	if motoErr != nil {
		t.Fatal(motoErr)
	}
	if motoSrv.proc.exited() {
		t.Fatalf("testbed: moto server has exited (%v); its log:\n%s", motoSrv.proc.err, motoSrv.proc.log.Since(0))
	}
	if err := motoSrv.Reset(); err != nil {
		t.Fatal(err)
	}
	logOnFailure(t, motoSrv.proc)
	return motoSrv
}

// LaunchMoto starts a moto server of its own for a program (the demo, the
// benchmarks); the caller closes it.
func LaunchMoto() (*Moto, error) {
	bin, err := ToolPath(".venv/bin/moto_server")
	if err != nil {
		return nil, err
	}
	return startMoto(bin)
}

// Close stops the server.
func (m *Moto) Close() { m.proc.stop() }

func startMoto(bin string) (*Moto, error) {
	var lastErr error
	for try := 0; try < 3; try++ {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		p, err := startProcess("moto_server", baseEnv(), "", bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
		if err != nil {
			return nil, err
		}
		if lastErr = p.waitTCP(addr, 60*time.Second); lastErr == nil {
			return &Moto{Endpoint: "http://" + addr, proc: p}, nil
		}
		p.stop()
	}
	return nil, lastErr
}

// Reset empties every service's state (POST /moto-api/reset).
func (m *Moto) Reset() error {
	resp, err := http.Post(m.Endpoint+"/moto-api/reset", "application/json", nil)
	if err != nil {
		return fmt.Errorf("testbed: reset moto: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("testbed: reset moto: HTTP %d", resp.StatusCode)
	}
	return nil
}

// Env is the environment that points a client or a Lambda function at
// this server, with moto's dummy credentials.
func (m *Moto) Env() map[string]string {
	return clientEnv(m.Endpoint, "testing", "testing")
}

// Setenv points awsclient (and anything else reading the standard AWS
// variables) in this test process at the server.
func (m *Moto) Setenv(t testing.TB) { setenv(t, m.Env()) }

// Config is an aws.Config for this server built by awsclient.
func (m *Moto) Config(t testing.TB) aws.Config {
	t.Helper()
	m.Setenv(t)
	cfg, err := awsclient.Load(context.Background(), awsclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
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

// setenv applies env and clears the settings that would point the SDK
// elsewhere (profiles, service-specific endpoints, session tokens).
func setenv(t testing.TB, env map[string]string) {
	t.Helper()
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
		"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_RDS", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	for k, v := range env {
		t.Setenv(k, v)
	}
}
