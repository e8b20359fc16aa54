// Command awsutils starts and stops EC2 instances, RDS DB instances and
// Aurora clusters listed in a YAML file, and uploads directory trees to S3.
//
// Each subcommand lives in its own file and only translates flags into one
// library call and its report into output and an exit code.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes shared by every subcommand.
const (
	exitOK     = 0 // everything done
	exitFailed = 1 // some resource or file failed
	exitUsage  = 2 // usage or configuration error; nothing was touched
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands in the order help shows them.
func commands() []command {
	return []command{
		versionCommand(),
		startCommand(),
		stopCommand(),
		statusCommand(),
		uploadCommand(),
		policyCommand(),
		completionCommand(),
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "awsutils: unknown command %q; run `awsutils help` for the list\n", args[0])
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: awsutils COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	width := 0
	for _, c := range commands() {
		width = max(width, len(c.name))
	}
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-*s   %s\n", width, c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `awsutils COMMAND --help` for a command's flags.")
}
