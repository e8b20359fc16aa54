package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
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

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) int {
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
