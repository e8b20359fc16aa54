package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/pflag"
)

// version and commit are set by the release build with -ldflags -X; a
// `go install`ed binary falls back to the module and VCS build info.
var (
	version = ""
	commit  = ""
)

func versionCommand() command {
	return command{name: "version", summary: "print version and commit", run: runVersion}
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "awsutils version"
	// No flags, but a flag set all the same, so that --help is a help page
	// like every other command's and a stray argument is a usage error
	// rather than silently ignored.
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if code, done := parseArgs(fs, args, stdout, stderr, text("usage: "+name+"\n\nPrints the version and the commit awsutils was built from.\n")); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", name, fs.Arg(0))
		return exitUsage
	}
	v, c := version, commit
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && c == "" {
				c = s.Value
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if c == "" {
		c = "unknown"
	}
	fmt.Fprintf(stdout, "awsutils %s (commit %s)\n", v, c)
	return exitOK
}
