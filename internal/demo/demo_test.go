package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/awsutils/awsutils/internal/testbed"
)

func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }

// TestDemo runs `make demo`'s program end to end, so the README's first
// command cannot rot. The demo checks its own results and fails on any
// resource or file that did not end where it should.
func TestDemo(t *testing.T) {
	testbed.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, &out)
	if err != nil {
		t.Fatalf("demo failed: %v\noutput:\n%s", err, out.String())
	}
	for _, want := range []string{"ec2_stop_dev-env", "running", "stopped", "from-cli/", "from-lambda/", "Done"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
