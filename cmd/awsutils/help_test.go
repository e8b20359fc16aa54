package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// Every command's --help lists its flags, a switch as plain --name and its
// description (not --name[=true|false], not with a type word), a flag that
// takes a value as --name and the kind of value.
func TestHelpShowsPlainSwitches(t *testing.T) {
	t.Parallel()
	// A few switches each command must show, so that a command whose help
	// stops listing flags fails here instead of passing with nothing to check.
	wantSwitches := map[string][]string{
		"start":  {"dry-run", "wait"},
		"stop":   {"dry-run", "wait"},
		"upload": {"dry-run", "remove-src", "skip-unchanged", "prune-empty-dirs", "follow-symlinks", "quiet"},
	}
	flagLine := regexp.MustCompile(`^\s+--([a-z0-9-]+)`)
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, c.name, "--help")
			help := stdout + stderr
			if code != exitOK {
				t.Fatalf("exit %d\n%s", code, help)
			}
			if strings.Contains(help, "[=") {
				t.Errorf("help shows an optional value:\n%s", help)
			}
			fs := flagsOf(c)
			lines := strings.Split(help, "\n")
			for _, l := range lines {
				if m := flagLine.FindStringSubmatch(l); m != nil && fs.Lookup(m[1]) == nil {
					t.Errorf("help lists --%s, which the command does not have", m[1])
				}
			}
			seen := map[string]bool{}
			fs.VisitAll(func(f *pflag.Flag) {
				seen[f.Name] = true
				_, usage := pflag.UnquoteUsage(f)
				kind := ` \S+\s{2,}` // --name TYPE, then the description
				if isBool(f) {
					kind = `\s{2,}` // nothing between the name and the description
				}
				re := regexp.MustCompile(`^\s+--` + regexp.QuoteMeta(f.Name) + kind + regexp.QuoteMeta(usage))
				if !slices.ContainsFunc(lines, re.MatchString) {
					t.Errorf("no line `--%s  %s` in:\n%s", f.Name, usage, help)
				}
			})
			for _, name := range wantSwitches[c.name] {
				if f := fs.Lookup(name); f == nil || !isBool(f) {
					t.Errorf("help does not show the switch --%s", name)
				}
			}
		})
	}
}

// Every command that talks to AWS takes --profile.
func TestProfileFlagWhereAWSIsReached(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"start", "stop", "status", "upload"} {
		i := slices.IndexFunc(commands(), func(c command) bool { return c.name == name })
		if i < 0 {
			t.Fatalf("no command %s", name)
		}
		if f := flagsOf(commands()[i]).Lookup("profile"); f == nil || isBool(f) {
			t.Errorf("%s has no --profile NAME", name)
		}
	}
}
