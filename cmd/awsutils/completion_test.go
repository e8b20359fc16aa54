package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/awsutils/awsutils/internal/testbed"
)

// The completion and help tests read nothing of the process environment
// (each shell gets its own), so they run in parallel.

// script returns `awsutils completion SHELL` and writes it to a file.
func script(t *testing.T, shell string) (text, path string) {
	t.Helper()
	code, stdout, stderr := runCLI(t, "completion", shell)
	if code != exitOK || stderr != "" {
		t.Fatalf("completion %s: exit %d\n%s", shell, code, stderr)
	}
	path = filepath.Join(t.TempDir(), "awsutils."+shell)
	if err := os.WriteFile(path, []byte(stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	return stdout, path
}

// needShell skips when shell is not installed: bash is everywhere the
// tests run, zsh and fish only where someone installed them.
func needShell(t *testing.T, shell string) string {
	t.Helper()
	p, err := exec.LookPath(shell)
	if err != nil {
		t.Skipf("%s is not installed; its completion script is not checked (apt-get install %s)", shell, shell)
	}
	return p
}

// shellEnv is a minimal environment for a shell under test: its own HOME
// with an AWS config holding two profiles, and nothing of the user's.
func shellEnv(t *testing.T) (env []string, home string) {
	t.Helper()
	home = t.TempDir()
	testbed.WriteFiles(t, home, map[string]string{
		".aws/config": "[default]\nregion = us-east-1\n[profile dev]\nregion = eu-west-1\n" +
			"[sso-session corp]\nsso_region = us-east-1\n[services local]\ns3 =\n  endpoint_url = http://localhost\n",
		".aws/credentials":       "[ci]\naws_access_key_id = x\n",
		"work/src/a.txt":         "a",
		"work/src2/b.txt":        "b",
		"work/settings.yml":      "x: 1",
		"work/dev-config.yml":    "y: 2",
		"work/sub folder/c.txt":  "c",
		"work/.hidden/d.txt":     "d",
		"work/scripts/README.md": "",
	})
	return []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "TERM=dumb", "LANG=C.UTF-8",
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_DATA_HOME=" + filepath.Join(home, ".local/share")}, home
}

// completionShell is a shell under test (skipped if not installed) with
// the completion script written for it, in a home of its own (shellEnv).
type completionShell struct {
	bin, script string
	env         []string
	home        string
}

func newCompletionShell(t *testing.T, shell string) completionShell {
	t.Helper()
	bin := needShell(t, shell)
	_, path := script(t, shell)
	env, home := shellEnv(t)
	return completionShell{bin: bin, script: path, env: env, home: home}
}

// run runs the shell with args in the work folder of its home.
func (s completionShell) run(t *testing.T, args ...string) string {
	t.Helper()
	return runShell(t, s.env, filepath.Join(s.home, "work"), append([]string{s.bin}, args...)...)
}

func runShell(t *testing.T, env []string, dir string, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = env, dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

func TestCompletionUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"completion", "ksh"}, {"completion"}, {"completion", "bash", "zsh"}, {"completion", "--bogus"}} {
		code, stdout, stderr := runCLI(t, args...)
		if code != exitUsage || stdout != "" || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, want %d and one line\nstdout: %s\nstderr: %s", args, code, exitUsage, stdout, stderr)
		}
	}
	if _, _, stderr := runCLI(t, "completion", "ksh"); !strings.Contains(stderr, `unknown shell "ksh"`) {
		t.Errorf("the error does not name the shell: %s", stderr)
	}
}

// Every flag that takes a value is in flagValues, so how its value
// completes was decided; every command in commandArgs exists.
func TestCompletionKnowsEveryFlag(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, c := range commands() {
		names[c.name] = true
		flagsOf(c).VisitAll(func(f *pflag.Flag) {
			if _, ok := flagValues[f.Name]; !ok && !isBool(f) {
				t.Errorf("%s --%s: add it to flagValues", c.name, f.Name)
			}
		})
	}
	for name := range commandArgs {
		if !names[name] {
			t.Errorf("commandArgs has %s, which is not a command", name)
		}
	}
}

// Each script is one the shell accepts, and names every command and flag.
func TestCompletionScriptsParse(t *testing.T) {
	t.Parallel()
	for shell := range shells {
		t.Run(shell, func(t *testing.T) {
			bin := needShell(t, shell)
			text, path := script(t, shell)
			runShell(t, nil, "", bin, "-n", path)
			for _, c := range commands() {
				if !strings.Contains(text, c.name) {
					t.Errorf("script does not name the command %s", c.name)
				}
				flagsOf(c).VisitAll(func(f *pflag.Flag) {
					if !strings.Contains(text, f.Name) {
						t.Errorf("script does not name %s --%s", c.name, f.Name)
					}
				})
			}
		})
	}
}

// The bash script, sourced, completes through the function it registers
// with `complete`, given COMP_WORDS and COMP_CWORD as bash sets them (bash
// splits words at "=" and ":").
func TestCompletionBash(t *testing.T) {
	t.Parallel()
	sh := newCompletionShell(t, "bash")
	tests := []struct {
		words []string // the last one is the word being completed
		want  []string
	}{
		{[]string{"awsutils", "up"}, []string{"upload"}},
		{[]string{"awsutils", "st"}, []string{"start", "status", "stop"}},
		{[]string{"awsutils", "c"}, []string{"completion"}},
		{[]string{"awsutils", "upload", "--dr"}, []string{"--dry-run"}},
		{[]string{"awsutils", "upload", "--remove-src", "--pr"}, []string{"--profile", "--prune-empty-dirs"}},
		{[]string{"awsutils", "stop", "--w"}, []string{"--wait", "--wait-timeout"}},
		{[]string{"awsutils", "stop", "--output", ""}, []string{"json", "text"}},
		{[]string{"awsutils", "stop", "--output", "=", ""}, []string{"json", "text"}},
		{[]string{"awsutils", "stop", "--output", "=", "j"}, []string{"json"}},
		{[]string{"awsutils", "upload", "--sse", "aws", ":", "k"}, []string{"kms", "kms:dsse"}},
		{[]string{"awsutils", "upload", "--profile", ""}, []string{"ci", "default", "dev"}},
		{[]string{"awsutils", "stop", "--profile", "d"}, []string{"default", "dev"}},
		{[]string{"awsutils", "upload", "--config", "d"}, []string{"dev-config.yml"}},
		{[]string{"awsutils", "upload", "sr"}, []string{"src", "src2"}},
		{[]string{"awsutils", "upload", "--output", "json", "--dry-run", "s"}, []string{"scripts", "src", "src2", "sub folder"}},
		{[]string{"awsutils", "upload", "src", "s"}, nil},         // the destination: s3://…, no files
		{[]string{"awsutils", "upload", "--include", "s"}, nil},   // a glob: no files
		{[]string{"awsutils", "stop", "--wait-timeout", ""}, nil}, // a duration
		{[]string{"awsutils", "stop", "--", "--"}, nil},           // after --, no flags
		{[]string{"awsutils", "completion", ""}, []string{"bash", "fish", "zsh"}},
		{[]string{"awsutils", "completion", "bash", ""}, nil},
		{[]string{"awsutils", "policy", "--partition", "aws-"}, []string{"aws-cn", "aws-us-gov"}},
		{[]string{"awsutils", "nosuch", "--"}, nil},
	}
	var prog strings.Builder
	prog.WriteString("source " + shQuote(sh.script) + "\n")
	// The function that `complete -p` says bash would call.
	prog.WriteString(`fn=$(complete -p awsutils | sed -n 's/.* -F \([^ ]*\) .*/\1/p')` + "\n")
	prog.WriteString(`[[ -n $fn ]] || { echo "awsutils has no completion function"; exit 1; }` + "\n")
	for _, tt := range tests {
		q := make([]string, len(tt.words))
		for i, w := range tt.words {
			q[i] = shQuote(w)
		}
		prog.WriteString("COMP_WORDS=(" + strings.Join(q, " ") + "); COMP_CWORD=" + strconv.Itoa(len(tt.words)-1) +
			"; COMP_LINE=\"${COMP_WORDS[*]}\"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()\n")
		prog.WriteString(`"$fn" awsutils "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"` + "\n")
		prog.WriteString(`printf '%s\n' "${#COMPREPLY[@]}" "${COMPREPLY[@]}"` + "\n")
	}
	out := sh.run(t, "--norc", "--noprofile", "-c", prog.String())
	lines := strings.Split(out, "\n")
	for _, tt := range tests {
		var got []string
		if len(lines) > 0 {
			n := atoi(t, lines[0])
			if n+1 > len(lines) {
				t.Fatalf("short output:\n%s", out)
			}
			got, lines = slices.Clone(lines[1:n+1]), lines[n+1:]
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q: completes to %q, want %q", strings.Join(tt.words, " "), got, tt.want)
		}
	}
}

// The fish script, sourced, completes as `complete -C` shows.
func TestCompletionFish(t *testing.T) {
	t.Parallel()
	sh := newCompletionShell(t, "fish")
	tests := []struct {
		line string
		want []string
	}{
		{"awsutils up", []string{"upload"}},
		{"awsutils upload --dr", []string{"--dry-run"}},
		{"awsutils stop --output ", []string{"json", "text"}},
		{"awsutils stop --output=j", []string{"--output=json"}},
		{"awsutils upload --profile ", []string{"ci", "default", "dev"}},
		{"awsutils upload --sse aws:", []string{"aws:kms", "aws:kms:dsse"}},
		{"awsutils upload sr", []string{"src/", "src2/"}},
		{"awsutils upload --include ", nil},
		{"awsutils completion ", []string{"bash", "fish", "zsh"}},
	}
	var prog strings.Builder
	prog.WriteString("source " + shQuote(sh.script) + "\n")
	for _, tt := range tests {
		prog.WriteString("echo '=='; complete -C " + fishQuote(tt.line) + "\n")
	}
	out := sh.run(t, "--no-config", "-c", prog.String())
	blocks := strings.Split(out, "==\n")[1:]
	if len(blocks) != len(tests) {
		t.Fatalf("%d answers for %d lines:\n%s", len(blocks), len(tests), out)
	}
	for i, tt := range tests {
		var got []string
		for _, l := range strings.Split(strings.TrimSuffix(blocks[i], "\n"), "\n") {
			if l != "" {
				got = append(got, strings.SplitN(l, "\t", 2)[0])
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q: completes to %q, want %q", tt.line, got, tt.want)
		}
	}
}

// The zsh script, sourced after compinit in an interactive zsh, completes
// what is typed before a TAB: the test drives the shell through a
// pseudo-terminal (zsh/zpty) and reads back the edited command line.
func TestCompletionZsh(t *testing.T) {
	t.Parallel()
	sh := newCompletionShell(t, "zsh")
	tests := []struct{ typed, want string }{
		{"awsutils up", "awsutils upload "},
		{"awsutils upload --dr", "awsutils upload --dry-run "},
		{"awsutils stop --output j", "awsutils stop --output json "},
		{"awsutils stop --output=t", "awsutils stop --output=text "},
		{"awsutils upload --sse aws:kms:", "awsutils upload --sse aws:kms:dsse "},
		{"awsutils upload --profile c", "awsutils upload --profile ci "},
		{"awsutils upload --config dev-", "awsutils upload --config dev-config.yml "},
		{"awsutils upload src2", "awsutils upload src2/"},
		{"awsutils completion f", "awsutils completion fish "},
	}
	var prog strings.Builder
	prog.WriteString(`zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z 'unsetopt zle_bracketed_paste 2>/dev/null; PS1="> "; autoload -U compinit; compinit -u -D; source ` + shQuote(sh.script) + `; show() { print -r -- "LINE<$BUFFER>"; BUFFER=; }; zle -N show; bindkey "^X" show; print READY'
zpty -r z line '*READY*'
`)
	for _, tt := range tests {
		prog.WriteString(`zpty -w -n z ` + shQuote(tt.typed) + `$'\t\C-x'
zpty -r z out '*LINE<*>*'
print -r -- "${${out##*LINE<}%%>*}"
`)
	}
	prog.WriteString("zpty -d z\n")
	out := sh.run(t, "-f", "-c", prog.String())
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(got) != len(tests) {
		t.Fatalf("%d lines for %d completions:\n%s", len(got), len(tests), out)
	}
	for i, tt := range tests {
		if got[i] != tt.want {
			t.Errorf("%q<TAB>: %q, want %q", tt.typed, got[i], tt.want)
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("want a count, got %q", s)
	}
	return n
}
