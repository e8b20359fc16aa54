package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// lambdas measures each function's cold start under the emulator (see
// coldStart), the function process's peak RSS after a real invocation
// (VmHWM), and the zip size for both architectures.
func (b *bench) lambdas(ctx context.Context) error {
	m, direct, err := b.freshMoto(ctx)
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
		if otherArch != "" && !b.cfg.LambdaNativeOnly {
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
		// cheap(i) is an invocation that does almost nothing, so that the
		// first one's extra time is the start-up; real is one that does
		// the job at a small scale, for the peak RSS.
		var cheap func(i int) string
		var real string
		switch fn.name {
		case "startstop":
			// The cheap event asks to start an instance that is running
			// and that the real event leaves alone: every cheap
			// invocation, cold or warm, makes the same one describe call.
			conf := filepath.Join(filepath.Dir(bootstrap), "aws_resource_start_stop.yml")
			rest := f
			rest.EC2 = f.EC2[1:]
			if err := writeStartStopConfig(conf, rest); err != nil {
				return err
			}
			if err := appendKey(conf, "tiny", "ec2.instance", f.EC2[:1]); err != nil {
				return err
			}
			cheap = func(int) string { return `{"action": "start", "configKey": "tiny"}` }
			real = fmt.Sprintf(`{"action": "stop", "configKey": %q}`, configKey)
		case "s3upload":
			one := filepath.Join(dir, "one-file")
			if err := os.MkdirAll(one, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(one, "a.txt"), []byte("cold start\n"), 0o644); err != nil {
				return err
			}
			cheap = func(i int) string {
				return fmt.Sprintf(`{"srcDir": %q, "bucket": %q, "keyPrefix": "cheap-%d", "removeSrc": false}`, one, bucket, i)
			}
			real = fmt.Sprintf(`{"srcDir": %q, "bucket": %q, "keyPrefix": "real", "removeSrc": false}`, tree.Root, bucket)
		}
		for rep := range b.cfg.LambdaReps {
			row := report.Row{Section: report.SectionLambda, Workload: fn.name, Tool: report.ToolAwsutils, Rep: rep + 1, ZipBytes: zipNative}
			if err := coldStart(ctx, bootstrap, env, cheap, real, &row); err != nil {
				row.Error = err.Error()
			}
			b.add(row)
			status := "ok"
			if row.Error != "" {
				status = "FAILED: " + firstLine(row.Error)
			}
			b.logf("lambda %-9s cold start %d: init %.1f ms, real invocation %.0f ms, peak RSS %.1f MiB, zip %.1f MiB  %s",
				fn.name, rep+1, row.InitMS, row.Wall*1000, float64(row.MaxRSS)/(1<<20), float64(row.ZipBytes)/(1<<20), status)
		}
	}
	return ctx.Err()
}

// warmInvokes is how many warm invocations the cold one is compared with;
// the fastest counts.
const warmInvokes = report.LambdaWarmInvokes

// coldStart runs one emulator and measures one cold start. The emulator's
// own "Init Duration" cannot be used: it times an asynchronous call and
// reports about 0 ms whatever the function does. Instead the first,
// cold invocation of a cheap event is compared with the fastest warm
// invocation of the same kind: the difference is what a cold start adds
// (starting the process, the Go runtime, the function's init, its first
// client set-up), an upper bound of Lambda's Init Duration. A last, real
// invocation then does the job at a small scale and the function's peak
// RSS is read after it.
func coldStart(ctx context.Context, bootstrap string, env map[string]string, cheap func(int) string, real string, row *report.Row) error {
	l, err := testbed.LaunchLambda(bootstrap, env)
	if err != nil {
		return err
	}
	defer l.Close()
	ictx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	timed := func(event string) (time.Duration, error) {
		start := time.Now()
		_, err := l.Invoke(ictx, event)
		return time.Since(start), err
	}
	cold, err := timed(cheap(0))
	if err != nil {
		return fmt.Errorf("cold invocation: %w; log: %s", err, tail(l.Log(), 500))
	}
	warm := time.Duration(1<<63 - 1)
	for i := 1; i <= warmInvokes; i++ {
		d, err := timed(cheap(i))
		if err != nil {
			return fmt.Errorf("warm invocation: %w; log: %s", err, tail(l.Log(), 500))
		}
		warm = min(warm, d)
	}
	row.InitMS = float64(max(cold-warm, 0).Microseconds()) / 1000
	d, err := timed(real)
	row.Wall = d.Seconds()
	if err != nil {
		return fmt.Errorf("invocation: %w; log: %s", err, tail(l.Log(), 500))
	}
	rss, err := peakRSS(bootstrap)
	if err != nil {
		return err
	}
	row.MaxRSS = rss
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
