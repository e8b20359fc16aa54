// Command demo runs both awsutils jobs end to end against a local moto
// server, through the CLI and through both Lambda functions under the
// Runtime Interface Emulator, and prints what changed. `make demo` runs it;
// it needs only the tools `make tools` installs, no AWS account.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/awsutils/awsutils/internal/testbed"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stdout)
	stop()
	testbed.StopAll()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}
