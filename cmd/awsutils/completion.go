package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

func completionCommand() command {
	return command{name: "completion", summary: "print a shell completion script: bash, zsh or fish", run: runCompletion}
}

const completionUsage = `usage: awsutils completion bash|zsh|fish

Prints a script that completes awsutils' commands, their flags and the
values of --output, --config, --profile and the like. Load it with

  bash:  source <(awsutils completion bash)     (e.g. in ~/.bashrc)
  zsh:   source <(awsutils completion zsh)      (after compinit, e.g. in ~/.zshrc)
  fish:  awsutils completion fish | source      (or save it as ~/.config/fish/completions/awsutils.fish)
`

// shells are the shells a script is written for, each by its own writer.
var shells = map[string]func(io.Writer, []compCommand){
	"bash": writeBash,
	"zsh":  writeZsh,
	"fish": writeFish,
}

func runCompletion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "awsutils completion"
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if code, done := parseArgs(fs, args, stdout, stderr, text(completionUsage)); done {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "%s: want one shell: bash, zsh or fish\n", name)
		return exitUsage
	}
	write, ok := shells[fs.Arg(0)]
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown shell %q: want bash, zsh or fish\n", name, fs.Arg(0))
		return exitUsage
	}
	write(stdout, completionModel())
	return exitOK
}

// valueKind is how a flag's value or a positional argument completes.
type valueKind int

const (
	anyValue valueKind = iota // free text: complete nothing rather than file names
	fileValue
	dirValue
	wordValue    // one of words
	profileValue // a profile of the shared AWS config and credentials files
)

type value struct {
	kind  valueKind
	what  string // what the value is, for zsh's and fish's descriptions
	words []string
}

// flagValues says how the value of each flag that takes one completes,
// by flag name across all commands. TestCompletionKnowsEveryFlag makes
// sure every such flag is listed, so a new flag gets a decision here
// instead of completing file names (or nothing) by accident.
var flagValues = map[string]value{
	"config":              {kind: fileValue, what: "config file"},
	"output":              {kind: wordValue, what: "report format", words: []string{"text", "json"}},
	"profile":             {kind: profileValue, what: "AWS profile"},
	"region":              {what: "region"},
	"wait-timeout":        {what: "duration, e.g. 15m"},
	"concurrency":         {what: "files in parallel"},
	"part-size":           {what: "size, e.g. 16MiB"},
	"multipart-threshold": {what: "size, e.g. 100MiB"},
	"include":             {what: "glob"},
	"exclude":             {what: "glob"},
	"storage-class": {kind: wordValue, what: "storage class", words: []string{
		"STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE", "REDUCED_REDUNDANCY"}},
	"sse":            {kind: wordValue, what: "encryption", words: []string{"AES256", "aws:kms", "aws:kms:dsse"}},
	"sse-kms-key-id": {what: "KMS key id or ARN"},
	"upload":         {what: "s3://BUCKET[/PREFIX]"},
	"partition":      {kind: wordValue, what: "ARN partition", words: []string{"aws", "aws-cn", "aws-us-gov"}},
	"account-id":     {what: "account id"},
	"function-name":  {what: "Lambda function name"},
	"shard":          {what: "K/N or auto/N"},
	"plan":           {what: "s3://BUCKET/MANIFEST-PREFIX/"},
	"plans":          {what: "s3://BUCKET/MANIFEST-PREFIX/"},
	"batch":          {what: "s3://BUCKET/.../manifest.json#K"},
	"summary":        {what: "s3://BUCKET/.../manifest.json"},
	"batch-files":    {what: "files per batch"},
	"batch-bytes":    {what: "size, e.g. 16GiB"},
	"member-account": {what: "hub role ARN"},
}

// commandArgs are the positional arguments of the commands that take
// some; with repeat the last one may be given any number of times.
var commandArgs = map[string]struct {
	args   []value
	repeat bool
}{
	"start":      {args: []value{{what: "config key"}}, repeat: true},
	"stop":       {args: []value{{what: "config key"}}, repeat: true},
	"status":     {args: []value{{what: "config key"}}, repeat: true},
	"upload":     {args: []value{{kind: dirValue, what: "source folder"}, {what: "s3://BUCKET[/PREFIX]"}}},
	"completion": {args: []value{{kind: wordValue, what: "shell", words: []string{"bash", "fish", "zsh"}}}},
}

// compCommand is what a completion script knows of one command.
type compCommand struct {
	name, summary string
	flags         []compFlag
	args          []value
	repeat        bool
}

type compFlag struct {
	name, usage string
	takesValue  bool // --name VALUE; otherwise a switch
	repeatable  bool
	value       value
}

// flagsOf returns c's flags as its help shows them (see printFlags); a
// command that shows none gets an empty set.
func flagsOf(c command) *pflag.FlagSet {
	r := &flagRecorder{}
	c.run(context.Background(), []string{"--help"}, r, r)
	if r.fs == nil {
		return pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	}
	return r.fs
}

func completionModel() []compCommand {
	var cmds []compCommand
	for _, c := range commands() {
		cc := compCommand{name: c.name, summary: c.summary, args: commandArgs[c.name].args, repeat: commandArgs[c.name].repeat}
		flagsOf(c).VisitAll(func(f *pflag.Flag) {
			if f.Hidden {
				return
			}
			_, usage := pflag.UnquoteUsage(f)
			t := f.Value.Type()
			cc.flags = append(cc.flags, compFlag{
				name: f.Name, usage: usage, takesValue: !isBool(f),
				repeatable: strings.HasSuffix(t, "Array") || strings.HasSuffix(t, "Slice"),
				value:      flagValues[f.Name],
			})
		})
		cmds = append(cmds, cc)
	}
	return cmds
}

// profileSed lists the profile names of an AWS config file ([default],
// [profile NAME]) and of a credentials file ([NAME]); the other sections
// of the config file (sso-session, services) are not profiles.
const (
	profileSedConfig      = `sed -n -e 's/^[[:space:]]*\[[[:space:]]*\(default\)[[:space:]]*\].*/\1/p' -e 's/^[[:space:]]*\[[[:space:]]*profile[[:space:]][[:space:]]*\([^][:space:]]*\)[[:space:]]*\].*/\1/p'`
	profileSedCredentials = `sed -n -e 's/^[[:space:]]*\[[[:space:]]*\([^][:space:]]*\)[[:space:]]*\].*/\1/p'`
)

// shQuote single-quotes s for bash, zsh and POSIX shells.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func writeBash(w io.Writer, cmds []compCommand) {
	var b strings.Builder
	b.WriteString(`# bash completion for awsutils, written by ` + "`awsutils completion bash`" + `. Load it with
#   source <(awsutils completion bash)
# or save it as ~/.local/share/bash-completion/completions/awsutils.

_awsutils_profiles() {
    local f=${AWS_CONFIG_FILE:-$HOME/.aws/config}
    [[ -r $f ]] && ` + profileSedConfig + ` "$f"
    f=${AWS_SHARED_CREDENTIALS_FILE:-$HOME/.aws/credentials}
    [[ -r $f ]] && ` + profileSedCredentials + ` "$f"
}

# _awsutils_reply sets COMPREPLY to the lines it reads, names with spaces
# intact (mapfile would do, but macOS still ships bash 3.2 without it).
_awsutils_reply() {
    COMPREPLY=()
    local line
    while IFS= read -r line; do
        COMPREPLY+=("$line")
    done
}

# _awsutils_value KIND [WORD...] completes $cur as a value of KIND.
_awsutils_value() {
    case $1 in
    file)
        compopt -o filenames 2>/dev/null
        _awsutils_reply < <(compgen -f -- "$cur") ;;
    dir)
        compopt -o filenames 2>/dev/null
        _awsutils_reply < <(compgen -d -- "$cur") ;;
    profile)
        _awsutils_reply < <(compgen -W "$(_awsutils_profiles | sort -u)" -- "$cur") ;;
    word)
        shift
        _awsutils_reply < <(compgen -W "$*" -- "$cur") ;;
    esac
    # bash replaces only what follows the last ":" of the word (see _awsutils).
    if [[ $cur == *:* ]]; then
        COMPREPLY=("${COMPREPLY[@]#"${cur%:*}:"}")
    fi
}

_awsutils() {
    local cw=$COMP_CWORD
    local cur=${COMP_WORDS[cw]} prev=
    # bash splits words at ":" too, so "--sse aws:km" arrives as "aws" ":"
    # "km": join the pieces back into the value being completed.
    while (( cw > 2 )) && [[ $cur == :* || ${COMP_WORDS[cw-1]} == *: ]]; do
        cur=${COMP_WORDS[cw-1]}$cur
        (( cw-- ))
    done
    (( cw > 0 )) && prev=${COMP_WORDS[cw-1]}
    # bash splits --flag=value at "=": complete the value of the flag before it.
    if [[ $cur == = ]]; then
        cur=
    elif [[ $prev == = ]] && (( cw > 1 )); then
        prev=${COMP_WORDS[cw-2]}
    fi
    COMPREPLY=()
    if (( cw == 1 )); then
`)
	names := []string{"help"}
	for _, c := range cmds {
		names = append(names, c.name)
	}
	fmt.Fprintf(&b, "        _awsutils_reply < <(compgen -W %s -- \"$cur\")\n", shQuote(strings.Join(names, " ")))
	b.WriteString(`        return
    fi
    local cmd=${COMP_WORDS[1]} flags valued
    case $cmd in
`)
	for _, c := range cmds {
		fmt.Fprintf(&b, "    %s)\n", c.name)
		var flags, valued []string
		byValue := map[string][]string{} // the case pattern for each value completion
		var order []string
		for _, f := range c.flags {
			flags = append(flags, "--"+f.name)
			if !f.takesValue {
				continue
			}
			valued = append(valued, "--"+f.name)
			action := bashValue(f.value)
			if _, ok := byValue[action]; !ok {
				order = append(order, action)
			}
			byValue[action] = append(byValue[action], "--"+f.name)
		}
		flags = append(flags, "--help")
		fmt.Fprintf(&b, "        flags=%s\n        valued=%s\n", shQuote(strings.Join(flags, " ")), shQuote(strings.Join(valued, " ")))
		if len(order) > 0 {
			b.WriteString("        case $prev in\n")
			for _, action := range order {
				stmt := "return"
				if action != "" {
					stmt = action + "; return"
				}
				fmt.Fprintf(&b, "        %s) %s ;;\n", strings.Join(byValue[action], "|"), stmt)
			}
			b.WriteString("        esac\n")
		}
		b.WriteString("        ;;\n")
	}
	b.WriteString(`    *) return ;;
    esac
    # Which positional argument the cursor is on: skip flags and the
    # values of the flags that take one; after "--" all are arguments.
    local n=0 i=2 w dashdash=
    while (( i < cw )); do
        w=${COMP_WORDS[i]}
        if [[ -n $dashdash || $w != -* ]]; then
            (( ++n ))
        elif [[ $w == -- ]]; then
            dashdash=1
        elif [[ ${COMP_WORDS[i+1]} == = ]]; then
            (( i += 2 ))
        elif [[ " $valued " == *" $w "* ]]; then
            (( i++ ))
        fi
        (( i++ ))
    done
    if [[ -z $dashdash && $cur == -* ]]; then
        _awsutils_reply < <(compgen -W "$flags" -- "$cur")
        return
    fi
    case $cmd in
`)
	for _, c := range cmds {
		if len(c.args) == 0 {
			continue
		}
		var arms []string
		for i, a := range c.args {
			pat := fmt.Sprint(i)
			if c.repeat && i == len(c.args)-1 {
				pat = "*"
			}
			if action := bashValue(a); action != "" {
				arms = append(arms, fmt.Sprintf("        %s) %s ;;\n", pat, action))
			}
		}
		if len(arms) == 0 {
			continue
		}
		fmt.Fprintf(&b, "    %s)\n        case $n in\n%s        esac ;;\n", c.name, strings.Join(arms, ""))
	}
	b.WriteString(`    esac
}

complete -F _awsutils awsutils
`)
	_, _ = io.WriteString(w, b.String())
}

// bashValue is the bash command that completes v; none for free text.
func bashValue(v value) string {
	switch v.kind {
	case fileValue:
		return "_awsutils_value file"
	case dirValue:
		return "_awsutils_value dir"
	case profileValue:
		return "_awsutils_value profile"
	case wordValue:
		return "_awsutils_value word " + strings.Join(v.words, " ")
	}
	return ""
}

func writeZsh(w io.Writer, cmds []compCommand) {
	var b strings.Builder
	b.WriteString(`#compdef awsutils
# zsh completion for awsutils, written by ` + "`awsutils completion zsh`" + `. Load it with
#   source <(awsutils completion zsh)
# after compinit, or save it as _awsutils in a folder of $fpath.

_awsutils_profiles() {
  local -a profiles
  local f=${AWS_CONFIG_FILE:-$HOME/.aws/config}
  [[ -r $f ]] && profiles+=(${(f)"$(` + profileSedConfig + ` "$f")"})
  f=${AWS_SHARED_CREDENTIALS_FILE:-$HOME/.aws/credentials}
  [[ -r $f ]] && profiles+=(${(f)"$(` + profileSedCredentials + ` "$f")"})
  _wanted profiles expl 'AWS profile' compadd -a profiles
}

_awsutils() {
  local -a commands
  commands=(
`)
	for _, c := range cmds {
		fmt.Fprintf(&b, "    %s\n", shQuote(c.name+":"+c.summary))
	}
	b.WriteString(`  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'awsutils command' commands
    return
  fi
  local cmd=$words[2]
  shift words
  (( CURRENT-- ))
  case $cmd in
`)
	for _, c := range cmds {
		fmt.Fprintf(&b, "  %s)\n    _arguments -S \\\n", c.name)
		for _, f := range c.flags {
			spec := "--" + f.name
			if f.repeatable {
				spec = "*" + spec
			}
			if f.takesValue {
				spec += "=[" + zshDesc(f.usage) + "]:" + zshMessage(f.value) + ":" + zshAction(f.value)
			} else {
				spec += "[" + zshDesc(f.usage) + "]"
			}
			fmt.Fprintf(&b, "      %s \\\n", shQuote(spec))
		}
		b.WriteString("      '(- *)--help[show help]'")
		for i, a := range c.args {
			pos := fmt.Sprint(i + 1)
			if c.repeat && i == len(c.args)-1 {
				pos = "*"
			}
			fmt.Fprintf(&b, " \\\n      %s", shQuote(pos+":"+zshMessage(a)+":"+zshAction(a)))
		}
		b.WriteString("\n    ;;\n")
	}
	b.WriteString(`  esac
}

# Autoloaded from $fpath the file is _awsutils's body; sourced, it registers.
if [[ $funcstack[1] == _awsutils ]]; then
  _awsutils "$@"
else
  compdef _awsutils awsutils
fi
`)
	_, _ = io.WriteString(w, b.String())
}

// zshDesc escapes an _arguments explanation, which ends at "]".
func zshDesc(s string) string {
	return strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`).Replace(s)
}

// zshMessage is an _arguments message, which ends at ":".
func zshMessage(v value) string {
	return strings.ReplaceAll(firstOf(v.what, "value"), ":", `\:`)
}

func zshAction(v value) string {
	switch v.kind {
	case fileValue:
		return "_files"
	case dirValue:
		return "_files -/"
	case profileValue:
		return "_awsutils_profiles"
	case wordValue:
		words := make([]string, len(v.words))
		for i, w := range v.words {
			words[i] = strings.ReplaceAll(w, ":", `\:`)
		}
		return "(" + strings.Join(words, " ") + ")"
	}
	return " " // nothing to complete: the message alone
}

func writeFish(w io.Writer, cmds []compCommand) {
	var b strings.Builder
	b.WriteString(`# fish completion for awsutils, written by ` + "`awsutils completion fish`" + `. Load it with
#   awsutils completion fish | source
# or save it as ~/.config/fish/completions/awsutils.fish.

function __awsutils_profiles
    set -l f $HOME/.aws/config
    set -q AWS_CONFIG_FILE; and set f $AWS_CONFIG_FILE
    test -r $f; and ` + profileSedConfig + ` $f
    set f $HOME/.aws/credentials
    set -q AWS_SHARED_CREDENTIALS_FILE; and set f $AWS_SHARED_CREDENTIALS_FILE
    test -r $f; and ` + profileSedCredentials + ` $f
end

# __awsutils_using CMD: the command line's command is CMD.
function __awsutils_using
    set -l words (commandline -opc)
    test (count $words) -ge 2; and test $words[2] = $argv[1]
end

complete -c awsutils -f
`)
	for _, c := range cmds {
		fmt.Fprintf(&b, "complete -c awsutils -n __fish_use_subcommand -a %s -d %s\n", fishQuote(c.name), fishQuote(c.summary))
	}
	for _, c := range cmds {
		cond := fishQuote("__awsutils_using " + c.name)
		fmt.Fprintf(&b, "\n# %s\n", c.name)
		for _, f := range c.flags {
			fmt.Fprintf(&b, "complete -c awsutils -n %s -l %s", cond, f.name)
			if f.takesValue {
				b.WriteString(fishValue(f.value))
			}
			fmt.Fprintf(&b, " -d %s\n", fishQuote(f.usage))
		}
		fmt.Fprintf(&b, "complete -c awsutils -n %s -l help -d 'show help'\n", cond)
		// fish does not count positional arguments; every argument of a
		// command completes as its first does.
		if len(c.args) > 0 {
			if v := fishValue(c.args[0]); v != " -x" {
				fmt.Fprintf(&b, "complete -c awsutils -n %s%s\n", cond, v)
			}
		}
	}
	_, _ = io.WriteString(w, b.String())
}

// fishQuote single-quotes s for fish, where \ and ' are escaped inside.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// fishValue is the part of a complete line that completes v.
func fishValue(v value) string {
	switch v.kind {
	case fileValue:
		return " -r -F"
	case dirValue:
		return " -x -a '(__fish_complete_directories (commandline -ct))'"
	case profileValue:
		return " -x -a '(__awsutils_profiles)'"
	case wordValue:
		return " -x -a " + fishQuote(strings.Join(v.words, " "))
	}
	return " -x"
}
