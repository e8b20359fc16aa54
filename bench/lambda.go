package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/bench/internal/report"
	"github.com/awsutils/awsutils/bench/internal/workload"
	"github.com/awsutils/awsutils/internal/packaging"
	"github.com/awsutils/awsutils/internal/testbed"
)

// function is one Lambda function of the project.
type function struct {
	name, pkg string
}

var functions = []function{
	{"startstop", "./cmd/startstop-lambda"},
	{"s3upload", "./cmd/s3upload-lambda"},
}

// buildLambda builds pkg as make package does (static, lambda.norpc,
// stripped, trimmed) for goarch.
func buildLambda(ctx context.Context, root, pkg, goarch, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid=", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOAMD64=v1", "GOARM64=v8.0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s for %s: %v\n%s", pkg, goarch, err, b)
	}
	return nil
}

// zipSize packages bootstrap with the project's zip writer (the one make
// package uses) and returns the zip's size.
func zipSize(bootstrap, out string) (int64, error) {
	if err := packaging.WriteFile(out, []packaging.File{{Name: packaging.Bootstrap, Path: bootstrap}}); err != nil {
		return 0, err
	}
	info, err := os.Stat(out)
	if err != nil {
		return 0, err
	}
	return info.Size(), nil
}

var initRE = regexp.MustCompile(`Init Duration: ([0-9.]+) ms`)

// lambdas measures each function's cold start under the emulator: the Init
// Duration the emulator reports for the first invocation, the function
// process's peak RSS after it (VmHWM), and the zip size for both
// architectures.
func (b *bench) lambdas(ctx context.Context) error {
	m, err := b.motoServer()
	if err != nil {
		return err
	}
	if err := m.Reset(); err != nil {
		return err
	}
	direct, err := motoConfig(ctx, m.Endpoint)
	if err != nil {
		return err
	}
	// A small fleet and a small tree: the invocation does real work, but
	// the point is the start-up.
	f, err := createFleet(ctx, direct, 50, 5, 2)
	if err != nil {
		return err
	}
	const bucket = "lambda-bench"
	if _, err := awsclient.S3(direct).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	plan, err := workload.New("W1", 0.04, b.cfg.Seed)
	if err != nil {
		return err
	}
	tree, err := workload.Materialize(filepath.Join(b.cfg.WorkDir, fmt.Sprintf("lambda-W1-seed%d", b.cfg.Seed)), plan)
	if err != nil {
		return err
	}
	native := runtime.GOARCH
	otherArch := map[string]string{"amd64": "arm64", "arm64": "amd64"}[native]
	archName := map[string]string{"amd64": "x86_64", "arm64": "arm64"}

	for _, fn := range functions {
		if _, err := os.Stat(filepath.Join(b.cfg.Root, fn.pkg)); err != nil {
			b.note("Lambda %s not measured: %s does not exist in this build", fn.name, fn.pkg)
			continue
		}
		dir := filepath.Join(b.tmp, "lambda", fn.name)
		bootstrap := filepath.Join(dir, native, "bootstrap")
		if err := buildLambda(ctx, b.cfg.Root, fn.pkg, native, bootstrap); err != nil {
			return err
		}
		zipNative, err := zipSize(bootstrap, filepath.Join(dir, fn.name+"-"+archName[native]+".zip"))
		if err != nil {
			return err
		}
		zipNote := fmt.Sprintf("%s %.1f MiB", archName[native], float64(zipNative)/(1<<20))
		if otherArch != "" {
			other := filepath.Join(dir, otherArch, "bootstrap")
			if err := buildLambda(ctx, b.cfg.Root, fn.pkg, otherArch, other); err != nil {
				return err
			}
			zipOther, err := zipSize(other, filepath.Join(dir, fn.name+"-"+archName[otherArch]+".zip"))
			if err != nil {
				return err
			}
			zipNote += fmt.Sprintf(", %s %.1f MiB", archName[otherArch], float64(zipOther)/(1<<20))
			zipNative = max(zipNative, zipOther)
		}
		b.note("Lambda %s zips (bootstrap only, as make package builds it): %s", fn.name, zipNote)

		env := m.Env()
		env["AWS_LAMBDA_FUNCTION_NAME"] = "awsutils-" + fn.name
		var event func(rep int) string
		switch fn.name {
		case "startstop":
			if err := writeStartStopConfig(filepath.Join(filepath.Dir(bootstrap), "aws_resource_start_stop.yml"), f); err != nil {
				return err
			}
			event = func(rep int) string {
				action := []string{"stop", "start"}[rep%2]
				return fmt.Sprintf(`{"action": %q, "configKey": %q}`, action, configKey)
			}
		case "s3upload":
			event = func(rep int) string {
				return fmt.Sprintf(`{"srcDir": %q, "bucket": %q, "keyPrefix": "run-%d", "removeSrc": false}`, tree.Root, bucket, rep)
			}
		}
		for rep := range b.cfg.LambdaReps {
			row := report.Row{Section: report.SectionLambda, Workload: fn.name, Tool: report.ToolAwsutils, Rep: rep + 1, ZipBytes: zipNative}
			if err := coldStart(ctx, bootstrap, env, event(rep), &row); err != nil {
				row.Error = err.Error()
			}
			b.add(row)
			status := "ok"
			if row.Error != "" {
				status = "FAILED: " + firstLine(row.Error)
			}
			b.logf("lambda %-9s cold start %d: init %.1f ms, invoke %.0f ms, peak RSS %.1f MiB, zip %.1f MiB  %s",
				fn.name, rep+1, row.InitMS, row.Wall*1000, float64(row.MaxRSS)/(1<<20), float64(row.ZipBytes)/(1<<20), status)
		}
	}
	return ctx.Err()
}

// coldStart runs one emulator, invokes once and fills the row.
func coldStart(ctx context.Context, bootstrap string, env map[string]string, event string, row *report.Row) error {
	l, err := testbed.LaunchLambda(bootstrap, env)
	if err != nil {
		return err
	}
	defer l.Close()
	start := time.Now()
	ictx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	_, invErr := l.Invoke(ictx, event)
	row.Wall = time.Since(start).Seconds()
	// The emulator prints its REPORT line just after replying.
	deadline := time.Now().Add(3 * time.Second)
	for {
		if mm := initRE.FindStringSubmatch(l.Log()); mm != nil {
			row.InitMS, _ = strconv.ParseFloat(mm[1], 64)
			break
		}
		if time.Now().After(deadline) {
			return errors.Join(invErr, fmt.Errorf("the emulator reported no Init Duration; its log: %s", tail(l.Log(), 500)))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rss, err := peakRSS(bootstrap); err == nil {
		row.MaxRSS = rss
	} else {
		invErr = errors.Join(invErr, err)
	}
	if invErr != nil {
		return fmt.Errorf("invoke: %w", invErr)
	}
	row.Verified = true
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return strings.TrimSpace(s)
}

// peakRSS is VmHWM of the running process whose executable is exe: the
// function process the emulator started. ru_maxrss would not do: the
// emulator outlives it and never reaps it before the bench asks.
func peakRSS(exe string) (int64, error) {
	want, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return 0, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if got, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err != nil || got != want {
			continue
		}
		f, err := os.Open(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var kb int64
			if _, err := fmt.Sscanf(sc.Text(), "VmHWM: %d kB", &kb); err == nil {
				f.Close()
				return kb << 10, nil
			}
		}
		f.Close()
	}
	return 0, fmt.Errorf("no running process of %s found to read its peak RSS", exe)
}
