package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/awsutils/awsutils/bench/internal/report"
	"github.com/awsutils/awsutils/bench/internal/workload"
	"github.com/awsutils/awsutils/internal/statemachine"
	"github.com/awsutils/awsutils/internal/testbed"
)

// fanout compares, on one tree, one invocation of the upload function with
// the deployed state machine (plan, Distributed Map, summary) running
// FanoutChildren invocations at once. On one machine the children share
// its cores, so what is measured is the fan-out's mechanics: each function
// is held to what one Lambda invocation gets (UPLOAD_CONCURRENCY files in
// flight) behind a delay line of FanoutRTT in front of versitygw, so one
// invocation is bound by round trips, not by the cores.
//
// moto server executes the state machine (internal/testbed's
// StepFunctions); the router sends its Lambda calls to the emulators and
// its S3 calls (the ItemReader's manifest) to the versitygw the functions
// write to, which takes the interpreter's keys for that.
func (b *bench) fanout(ctx context.Context) error {
	srvDir, _, err := serverDir(b.tmp)
	if err != nil {
		return err
	}
	defer os.RemoveAll(srvDir)
	dataDir := filepath.Join(srvDir, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	srv, err := testbed.NewVersityWithKeys(dataDir, testbed.InterpreterAccessKey, testbed.InterpreterSecretKey)
	if err != nil {
		return err
	}
	defer srv.Close()
	line, err := testbed.NewDelayLine(srv.Endpoint, b.cfg.FanoutRTT)
	if err != nil {
		return err
	}
	defer line.Close()
	sf, err := testbed.LaunchStepFunctions()
	if err != nil {
		return err
	}
	defer sf.Close()
	if err := sf.Router.RouteS3(srv.Endpoint); err != nil {
		return err
	}
	client, err := s3Client(ctx, srv)
	if err != nil {
		return err
	}
	const bucket = "fanout"
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}

	scale := float64(b.cfg.FanoutFiles) / 100000
	plan, err := workload.New("W4", scale, b.cfg.Seed)
	if err != nil {
		return err
	}
	tree, err := workload.Materialize(filepath.Join(b.cfg.WorkDir, fmt.Sprintf("W4-scale%g-seed%d", scale, b.cfg.Seed)), plan)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("W4×%g", scale)
	b.meta.Workloads = append(b.meta.Workloads, report.WorkloadInfo{
		Name: name, Description: fmt.Sprintf("%d files of 1 KiB (W4 scaled) for the fan-out", len(plan.Files)),
		Files: len(plan.Files), Bytes: plan.Bytes(), Digest: plan.Digest(),
	})

	bootstrap := filepath.Join(b.bin, "s3upload-lambda", "bootstrap")
	if err := testbed.Build("./cmd/s3upload-lambda", bootstrap); err != nil {
		return err
	}
	const function = "s3upload"
	env := srv.Env()
	env["AWS_ENDPOINT_URL"] = line.Endpoint
	env["AWS_LAMBDA_FUNCTION_NAME"] = function
	env["UPLOAD_CONCURRENCY"] = strconv.Itoa(b.cfg.FanoutConcurrency)
	var fns []*testbed.Lambda
	for range b.cfg.FanoutChildren {
		l, err := testbed.LaunchLambda(bootstrap, env)
		if err != nil {
			return err
		}
		defer l.Close()
		fns = append(fns, l)
	}
	sf.Router.AddFunction(function, fns...)

	root := b.cfg.Root
	tmpl, err := os.ReadFile(filepath.Join(root, statemachine.TemplateFile))
	if err != nil {
		return err
	}
	def, err := statemachine.Definition(tmpl, map[string]string{
		"UploadFunctionArn": "arn:aws:lambda:" + testbed.Region + ":" + testbed.Account + ":function:" + function,
	})
	if err != nil {
		return err
	}
	sc, err := sf.NewClient(ctx)
	if err != nil {
		return err
	}
	sm, err := sc.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String(function), Definition: aws.String(string(def)),
		RoleArn: aws.String("arn:aws:iam::" + testbed.Account + ":role/" + function),
	})
	if err != nil {
		return fmt.Errorf("create state machine: %w", err)
	}

	// Warm every emulator, as a deployed function is after its first run.
	warm := filepath.Join(b.tmp, "fanout-warm")
	if err := os.MkdirAll(warm, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(warm, "a"), []byte("warm"), 0o644); err != nil {
		return err
	}
	for i, l := range fns {
		if _, err := l.Invoke(ctx, map[string]any{"srcDir": warm, "bucket": bucket, "keyPrefix": "warm-" + strconv.Itoa(i)}); err != nil {
			return fmt.Errorf("warm-up invocation: %w; log: %s", err, tail(l.Log(), 500))
		}
	}

	b.logf("fan-out: %d files, one function vs the state machine with %d children, %d files in flight each, %s round trip, batches of %d files",
		len(plan.Files), b.cfg.FanoutChildren, b.cfg.FanoutConcurrency, b.cfg.FanoutRTT, b.cfg.FanoutBatchFiles)
	for rep := range b.cfg.FanoutReps {
		row := func(tool string) report.Row {
			return report.Row{Section: report.SectionFanout, Workload: name, Tool: tool, RTT: b.cfg.FanoutRTT, Rep: rep + 1,
				Files: len(plan.Files), Bytes: plan.Bytes()}
		}
		// One function: the whole tree in one invocation.
		one := row(report.FanoutOne)
		prefix := fmt.Sprintf("one-%d", rep)
		start := time.Now()
		_, err := fns[0].Invoke(ctx, map[string]any{"srcDir": tree.Root, "bucket": bucket, "keyPrefix": prefix, "removeSrc": false})
		one.Wall = time.Since(start).Seconds()
		if err == nil {
			err = countObjects(ctx, client, bucket, prefix, len(plan.Files))
		}
		b.fanoutRow(one, err)

		// The state machine, plan and summary included.
		many := row(report.FanoutStateMachine + "-" + strconv.Itoa(b.cfg.FanoutChildren))
		planRow := row(report.FanoutPlan)
		prefix = fmt.Sprintf("sfn-%d", rep)
		before := len(sf.Router.Invocations())
		start = time.Now()
		err = b.fanoutExecution(ctx, sc, aws.ToString(sm.StateMachineArn), tree.Root, bucket, prefix, len(plan.Files))
		many.Wall = time.Since(start).Seconds()
		if err == nil {
			err = countObjects(ctx, client, bucket, prefix, len(plan.Files))
		}
		for _, inv := range sf.Router.Invocations()[before:] {
			var e struct {
				Mode string `json:"mode"`
			}
			if json.Unmarshal(inv.Event, &e) == nil && e.Mode == "plan" {
				planRow.Wall = inv.Duration.Seconds()
			}
		}
		b.fanoutRow(many, err)
		if planRow.Wall == 0 && err == nil {
			err = errors.New("no plan invocation seen")
		}
		b.fanoutRow(planRow, err)
		if one.Wall > 0 && many.Wall > 0 {
			b.logf("fan-out round %d: one function %.1f s, state machine %.1f s (%.2f×), plan %.2f s (%.2f s per 10,000 files)",
				rep+1, one.Wall, many.Wall, one.Wall/many.Wall, planRow.Wall, planRow.Wall*10000/float64(len(plan.Files)))
		}
	}
	return ctx.Err()
}

func (b *bench) fanoutRow(r report.Row, err error) {
	if err != nil {
		r.Error = err.Error()
	} else {
		r.Verified = true
	}
	b.add(r)
}

// fanoutExecution runs the state machine on tree and checks its summary.
func (b *bench) fanoutExecution(ctx context.Context, sc *sfn.Client, arn, src, bucket, prefix string, files int) error {
	in, err := json.Marshal(map[string]any{
		"srcDir": src, "bucket": bucket, "keyPrefix": prefix, "removeSrc": false,
		"manifestPrefix": "s3://" + bucket + "/.awsutils/manifests/",
		"batchFiles":     b.cfg.FanoutBatchFiles, "batchBytes": 0,
		"maxConcurrency": b.cfg.FanoutChildren, "toleratedFailurePercentage": 0.0,
	})
	if err != nil {
		return err
	}
	start, err := sc.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Input: aws.String(string(in))})
	if err != nil {
		return fmt.Errorf("start execution: %w", err)
	}
	out, err := testbed.WaitExecution(ctx, sc, aws.ToString(start.ExecutionArn))
	if err != nil {
		return err
	}
	if out.Status != sfntypes.ExecutionStatusSucceeded {
		return fmt.Errorf("execution %s: %s: %s", out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
	}
	var s struct {
		Uploaded, Failed int
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.Output)), &s); err != nil {
		return fmt.Errorf("execution output %s: %w", aws.ToString(out.Output), err)
	}
	if s.Uploaded != files || s.Failed != 0 {
		return fmt.Errorf("summary %s: want %d uploaded", aws.ToString(out.Output), files)
	}
	return nil
}

// countObjects checks that prefix holds exactly want objects.
func countObjects(ctx context.Context, c *s3.Client, bucket, prefix string, want int) error {
	n := 0
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix + "/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		n += len(page.Contents)
	}
	if n != want {
		return fmt.Errorf("%d objects under %s/, want %d", n, prefix, want)
	}
	return nil
}
