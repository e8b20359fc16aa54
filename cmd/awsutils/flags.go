package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

// parseArgs parses a command's args into fs, which is named after the
// command. With --help it writes head and the flag list to stdout; a
// mistake is one line on stderr. done reports that the command ends here,
// with exit status code.
func parseArgs(fs *pflag.FlagSet, args []string, stdout, stderr io.Writer, head func(io.Writer)) (code int, done bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return exitOK, false
	case errors.Is(err, pflag.ErrHelp):
		head(stdout)
		printFlags(stdout, fs)
		return exitOK, true
	default:
		fmt.Fprintf(stderr, "%s: %v; run `%s --help`\n", fs.Name(), err, fs.Name())
		return exitUsage, true
	}
}

// text is a head for parseArgs that writes s.
func text(s string) func(io.Writer) {
	return func(w io.Writer) { _, _ = io.WriteString(w, s) }
}

// printFlags writes the flag list of a command's help. It reads like
// pflag's PrintDefaults, except that a boolean flag shows as plain --name:
// pflag prints --name[=true|false] (docs/NOTES.md), which reads as if the
// flag wanted a value, and no AWS-CLI-like tool writes its switches that
// way.
//
// When w is a *flagRecorder (shell completion asking for a command's
// flags), the flag set itself is handed over instead of text: help is the
// one place every command shows all its flags, so completion cannot drift
// from what the commands accept.
func printFlags(w io.Writer, fs *pflag.FlagSet) {
	if r, ok := w.(*flagRecorder); ok {
		r.fs = fs
		return
	}
	type line struct{ left, usage string }
	var lines []line
	width := 0
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		left := "      --" + f.Name
		if f.Shorthand != "" {
			left = "  -" + f.Shorthand + ", --" + f.Name
		}
		varname, usage := pflag.UnquoteUsage(f)
		if !isBool(f) && varname != "" {
			left += " " + varname
		}
		if d := shownDefault(f); d != "" {
			usage += " (default " + d + ")"
		}
		width = max(width, len(left))
		lines = append(lines, line{left, usage})
	})
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%-*s   %s\n", width, l.left, l.usage)
	}
	_, _ = io.WriteString(w, b.String())
}

// isBool reports a switch: a flag given without a value.
func isBool(f *pflag.Flag) bool { return f.Value.Type() == "bool" }

// shownDefault is the default worth printing: none for the zero value of
// the flag's type, which would only say "nothing".
func shownDefault(f *pflag.Flag) string {
	switch f.DefValue {
	case "", "false", "0", "0s", "[]":
		return ""
	}
	if f.Value.Type() == "string" {
		return fmt.Sprintf("%q", f.DefValue)
	}
	return f.DefValue
}

// flagRecorder receives a command's flag set from printFlags when the
// command is run with --help; see flagsOf.
type flagRecorder struct {
	fs *pflag.FlagSet
}

// Write swallows whatever else a command prints around its flags.
func (r *flagRecorder) Write(p []byte) (int, error) { return len(p), nil }

// profileFlag adds --profile to a command that talks to AWS, worded the
// same everywhere.
func profileFlag(fs *pflag.FlagSet) *string {
	return fs.String("profile", "", "use profile `NAME` of the shared AWS config and credentials files (default $AWS_PROFILE, else default)")
}
