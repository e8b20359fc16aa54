package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/startstop"
)

func startCommand() command {
	return command{name: "start", summary: "start the EC2 instances, RDS DB instances and DB clusters under config keys",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			return runStartStop(ctx, startstop.Start, args, stdout, stderr)
		}}
}

func stopCommand() command {
	return command{name: "stop", summary: "stop the EC2 instances, RDS DB instances and DB clusters under config keys",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			return runStartStop(ctx, startstop.Stop, args, stdout, stderr)
		}}
}

func statusCommand() command {
	return command{name: "status", summary: "show the state of everything under config keys, changing nothing",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			return runStartStop(ctx, startstop.Status, args, stdout, stderr)
		}}
}

func runStartStop(ctx context.Context, action startstop.Action, args []string, stdout, stderr io.Writer) int {
	name := "awsutils " + string(action)
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	config := fs.String("config", startstop.ConfigFile, "config file listing the resources under keys")
	// status only describes: no dry run, nothing to wait for.
	dryRun, wait, waitTimeout := new(bool), new(bool), new(time.Duration)
	*waitTimeout = startstop.DefaultWaitTimeout
	if action != startstop.Status {
		dryRun = fs.Bool("dry-run", false, "change nothing: check EC2 permissions with DryRun calls, only plan RDS")
		wait = fs.Bool("wait", false, "wait until each resource reached the "+map[startstop.Action]string{startstop.Start: "running/available", startstop.Stop: "stopped"}[action]+" state")
		waitTimeout = fs.Duration("wait-timeout", startstop.DefaultWaitTimeout, "how long --wait waits")
	}
	output := fs.String("output", "text", "report format: text or json")
	region := fs.String("region", "", "region for groups without their own region (overrides region_name)")
	profile := profileFlag(fs)
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: %s [flags] KEY...\n\n", name)
		if action == startstop.Status {
			fmt.Fprintf(w, "Shows the state of everything listed under each KEY of the config file (%s), as start and stop would see it; changes nothing.\n", startstop.ConfigFile)
			fmt.Fprintf(w, "Exit status: 0 every resource found, 1 some resource not found, not describable or unsupported, 2 usage or config error.\n\nflags:\n")
			return
		}
		fmt.Fprintf(w, "%ss everything listed under each KEY of the config file (%s).\n", titleCase(string(action)), startstop.ConfigFile)
		fmt.Fprintf(w, "Exit status: 0 all in or moving to the wanted state, 1 some resource failed or unsupported, 2 usage or config error.\n\nflags:\n")
	}
	if code, done := parseArgs(fs, args, stdout, stderr, usage); done {
		return code
	}
	keys := fs.Args()
	if len(keys) == 0 {
		fmt.Fprintf(stderr, "%s: no config key given: want %s [flags] KEY...\n", name, name)
		return exitUsage
	}
	if *output != "text" && *output != "json" {
		fmt.Fprintf(stderr, "%s: --output %q: want text or json\n", name, *output)
		return exitUsage
	}
	opts := startstop.Options{DryRun: *dryRun, Wait: *wait, WaitTimeout: *waitTimeout, Region: *region}
	if *waitTimeout == 0 {
		// 0 would be the library's default, not a time to wait.
		fmt.Fprintf(stderr, "%s: %s\n", name, waitTimeoutMessage(0))
		return exitUsage
	}
	// startstop checks the options; this only says which flag was wrong.
	if err := opts.Validate(); err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", name, startStopOptionMessage(err, opts))
		return exitUsage
	}
	conf, err := startstop.Load(*config)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitUsage
	}
	cfg, err := awsclient.Load(ctx, awsclient.Options{Region: firstOf(*region, conf.Region), Profile: *profile})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitUsage
	}
	rep, err := startstop.Run(ctx, cfg, conf, startstop.Request{Action: action, Keys: keys}, opts)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", name, startStopOptionMessage(err, opts))
		return exitUsage
	}
	if *output == "json" {
		if err := rep.JSON(stdout); err != nil {
			fmt.Fprintf(stderr, "%s: write report: %v\n", name, err)
			return exitFailed
		}
	} else if err := rep.Text(stdout, false); err != nil {
		fmt.Fprintf(stderr, "%s: write report: %v\n", name, err)
		return exitFailed
	}
	if !rep.OK() {
		return exitFailed
	}
	return exitOK
}

// startStopOptionMessage names an option startstop refused (an
// *startstop.OptionError) as the flag it came from.
func startStopOptionMessage(err error, opts startstop.Options) string {
	if oe := (*startstop.OptionError)(nil); errors.As(err, &oe) && oe.Field == "WaitTimeout" {
		return waitTimeoutMessage(opts.WaitTimeout)
	}
	return err.Error()
}

func waitTimeoutMessage(d time.Duration) string {
	return fmt.Sprintf("--wait-timeout %s: want a positive duration such as 10m", d)
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
