package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
)

const (
	configKey = "dev-env"
	bucket    = "awsutils-demo"
	region    = testbed.Region
)

// demo holds what the steps share.
type demo struct {
	w        io.Writer
	work     string
	cli      string
	config   string
	env      map[string]string
	ec2      *ec2.Client
	rds      *rds.Client
	s3       *s3.Client
	ids      []string
	startFn  string
	uploadFn string
}

func run(ctx context.Context, w io.Writer) error {
	work, err := os.MkdirTemp("", "awsutils-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	d := &demo{w: w, work: work}

	d.title("Building the awsutils CLI and both Lambda bootstraps")
	d.cli = filepath.Join(work, "awsutils")
	d.startFn = filepath.Join(work, "startstop", "bootstrap")
	d.uploadFn = filepath.Join(work, "s3upload", "bootstrap")
	for pkg, out := range map[string]string{"./cmd/awsutils": d.cli, "./cmd/startstop-lambda": d.startFn, "./cmd/s3upload-lambda": d.uploadFn} {
		if err := testbed.Build(pkg, out); err != nil {
			return err
		}
	}

	d.title("Starting moto server (EC2, RDS, S3 on a free loopback port)")
	moto, err := testbed.LaunchMoto()
	if err != nil {
		return err
	}
	defer moto.Close()
	fmt.Fprintf(w, "moto server: %s\n", moto.Endpoint)
	// The demo's own clients name the endpoint in code; the CLI and the
	// functions get it as a user gives it, in their environment (d.env).
	d.env = moto.Env()
	cfg, err := awsclient.Load(ctx, moto.Options())
	if err != nil {
		return err
	}
	d.ec2, d.rds, d.s3 = awsclient.EC2(cfg), awsclient.RDS(cfg), awsclient.S3(cfg)

	if err := d.createResources(ctx); err != nil {
		return err
	}
	if err := d.startStop(ctx); err != nil {
		return err
	}
	if err := d.upload(ctx); err != nil {
		return err
	}
	d.title("Done: both jobs ran through the CLI and through Lambda; everything is cleaned up")
	return nil
}

func (d *demo) title(s string) { fmt.Fprintf(d.w, "\n=== %s\n", s) }

func (d *demo) createResources(ctx context.Context) error {
	d.title("Creating sample resources: 3 EC2 instances, RDS instance demo-postgres, Aurora cluster demo-aurora")
	out, err := d.ec2.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String(testbed.AMI), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(3), MaxCount: aws.Int32(3),
	})
	if err != nil {
		return fmt.Errorf("run instances: %w", err)
	}
	for _, i := range out.Instances {
		d.ids = append(d.ids, aws.ToString(i.InstanceId))
	}
	if _, err := d.rds.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String("demo-postgres"), DBInstanceClass: aws.String("db.t3.micro"),
		Engine: aws.String("postgres"), AllocatedStorage: aws.Int32(20),
		MasterUsername: aws.String("demo"), MasterUserPassword: aws.String("demo-password-1"),
	}); err != nil {
		return fmt.Errorf("create DB instance: %w", err)
	}
	if _, err := d.rds.CreateDBCluster(ctx, &rds.CreateDBClusterInput{
		DBClusterIdentifier: aws.String("demo-aurora"), Engine: aws.String("aurora-postgresql"),
		MasterUsername: aws.String("demo"), MasterUserPassword: aws.String("demo-password-1"),
	}); err != nil {
		return fmt.Errorf("create DB cluster: %w", err)
	}
	if _, err := d.rds.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String("demo-aurora-1"), DBClusterIdentifier: aws.String("demo-aurora"),
		DBInstanceClass: aws.String("db.r6g.large"), Engine: aws.String("aurora-postgresql"),
	}); err != nil {
		return fmt.Errorf("create cluster member: %w", err)
	}

	// The config goes beside the start/stop bootstrap, i.e. into
	// $LAMBDA_TASK_ROOT, where the function looks by default, just as the
	// original's YAML sat at the root of its zip.
	d.config = filepath.Join(filepath.Dir(d.startFn), "aws_resource_start_stop.yml")
	yml := fmt.Sprintf(`region_name: %s
%s:
  - type: ec2.instance
    ids:
%s  - type: rds.db_instance
    ids: [demo-postgres]
  - type: rds.db_cluster
    ids: [demo-aurora]
`, region, configKey, "      - "+strings.Join(d.ids, "\n      - ")+"\n")
	if err := os.WriteFile(d.config, []byte(yml), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(d.w, "config %s:\n%s", d.config, indent(yml))
	return nil
}

func (d *demo) startStop(ctx context.Context) error {
	before, err := d.states(ctx)
	if err != nil {
		return err
	}
	steps := []struct {
		title string
		want  string // stop or start
		do    func() error
	}{
		{"CLI: awsutils stop --config aws_resource_start_stop.yml " + configKey, "stop", func() error {
			return d.runCLI(ctx, "stop", "--config", d.config, configKey)
		}},
		{"CLI: awsutils start --config aws_resource_start_stop.yml " + configKey, "start", func() error {
			return d.runCLI(ctx, "start", "--config", d.config, configKey)
		}},
		{`Lambda awsutils-startstop, the original's event {"action": "stop", "configKey": "` + configKey + `"}`, "stop", func() error {
			return d.invoke(ctx, d.startFn, "awsutils-startstop", map[string]any{"action": "stop", "configKey": configKey}, nil)
		}},
		{`Lambda awsutils-startstop, event {"action": "start", "configKey": ["` + configKey + `"]}`, "start", func() error {
			return d.invoke(ctx, d.startFn, "awsutils-startstop", map[string]any{"action": "start", "configKey": []string{configKey}}, nil)
		}},
		{"Lambda named ec2_stop_" + configKey + ", a plain scheduled event (action and key from the function name)", "stop", func() error {
			return d.invoke(ctx, d.startFn, "ec2_stop_"+configKey, scheduledEvent(), nil)
		}},
	}
	for _, s := range steps {
		d.title(s.title)
		if err := s.do(); err != nil {
			return err
		}
		now, err := d.states(ctx)
		if err != nil {
			return err
		}
		d.printStates(before, now)
		if err := checkStates(now, s.want); err != nil {
			return err
		}
		before = now
	}
	return nil
}

// checkStates makes the demo fail, not just look odd, when a step did not
// bring every resource to (or on its way to) the wanted state.
func checkStates(states map[string]string, action string) error {
	ok := map[string]bool{"stopped": true, "stopping": true}
	if action == "start" {
		ok = map[string]bool{"running": true, "pending": true, "available": true, "starting": true}
	}
	for r, s := range states {
		if !ok[s] {
			return fmt.Errorf("after %s, %s is %q", action, r, s)
		}
	}
	return nil
}

func scheduledEvent() map[string]any {
	return map[string]any{
		"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
		"source": "aws.events", "account": "123456789012", "time": "2026-11-28T20:00:00Z", "region": region,
		"resources": []string{"arn:aws:events:us-east-1:123456789012:rule/ec2_stop_dev-env"}, "detail": map[string]any{},
	}
}

// states reads every demo resource's state straight from the API.
func (d *demo) states(ctx context.Context) (map[string]string, error) {
	s := map[string]string{}
	out, err := d.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: d.ids})
	if err != nil {
		return nil, err
	}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			s["ec2.instance "+aws.ToString(i.InstanceId)] = string(i.State.Name)
		}
	}
	in, err := d.rds.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("demo-postgres")})
	if err != nil {
		return nil, err
	}
	s["rds.db_instance demo-postgres"] = aws.ToString(in.DBInstances[0].DBInstanceStatus)
	cl, err := d.rds.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("demo-aurora")})
	if err != nil {
		return nil, err
	}
	s["rds.db_cluster demo-aurora"] = aws.ToString(cl.DBClusters[0].Status)
	return s, nil
}

func (d *demo) printStates(before, after map[string]string) {
	keys := make([]string, 0, len(after))
	for k := range after {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(d.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  resource\tbefore\t\tafter")
	for _, k := range keys {
		fmt.Fprintf(tw, "  %s\t%s\t→\t%s\n", k, before[k], after[k])
	}
	tw.Flush()
}

// runCLI runs the awsutils binary with the demo's environment and shows
// its output as a user would see it.
func (d *demo) runCLI(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, d.cli, args...)
	cmd.Env = os.Environ()
	for k, v := range d.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	fmt.Fprint(d.w, indent(out.String()))
	if err != nil {
		return fmt.Errorf("awsutils %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// invoke runs a bootstrap under the Runtime Interface Emulator as function
// name, sends event and prints a short form of the JSON report.
func (d *demo) invoke(ctx context.Context, bootstrap, name string, event any, extra map[string]string) error {
	env := map[string]string{"AWS_LAMBDA_FUNCTION_NAME": name}
	for k, v := range d.env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	fn, err := testbed.LaunchLambda(bootstrap, env)
	if err != nil {
		return err
	}
	defer fn.Close()
	payload, err := fn.Invoke(ctx, event)
	fmt.Fprintf(d.w, "  report: %s\n", summarize(payload))
	if err != nil {
		var fe *testbed.FunctionError
		if errors.As(err, &fe) {
			return fmt.Errorf("function %s failed: %v\nlog:\n%s", name, fe, fn.Log())
		}
		return err
	}
	return nil
}

// summarize keeps the report's summary when it has one; the per-item
// detail is in the states table printed after each step.
func summarize(payload []byte) string {
	var r map[string]json.RawMessage
	if json.Unmarshal(payload, &r) == nil {
		for _, k := range []string{"summary", "totals"} {
			if v, ok := r[k]; ok {
				return string(v)
			}
		}
	}
	if len(payload) > 300 {
		return string(payload[:300]) + "…"
	}
	return string(payload)
}

func (d *demo) upload(ctx context.Context) error {
	d.title("Creating bucket " + bucket + " and two folders of sample files (nested, empty, Unicode names)")
	if _, err := d.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	cliDir, fnDir := filepath.Join(d.work, "efs", "cli"), filepath.Join(d.work, "efs", "lambda")
	for _, dir := range []string{cliDir, fnDir} {
		if err := testbed.WriteTree(dir, sampleFiles); err != nil {
			return err
		}
	}
	fmt.Fprintf(d.w, "  %s: %d files\n  %s: %d files\n", cliDir, testbed.CountFiles(cliDir), fnDir, testbed.CountFiles(fnDir))

	d.title("CLI: awsutils upload --remove-src " + cliDir + " s3://" + bucket + "/from-cli")
	if err := d.runCLI(ctx, "upload", "--remove-src", cliDir, "s3://"+bucket+"/from-cli"); err != nil {
		return err
	}
	d.title(`Lambda s3upload, event {"srcDir": ..., "bucket": "` + bucket + `", "keyPrefix": "from-lambda", "removeSrc": true}`)
	event := map[string]any{"srcDir": fnDir, "bucket": bucket, "keyPrefix": "from-lambda", "removeSrc": true}
	if err := d.invoke(ctx, d.uploadFn, "awsutils-s3upload", event, nil); err != nil {
		return err
	}

	d.title("Result: objects in s3://" + bucket + " and files left on disk")
	tw := tabwriter.NewWriter(d.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  source\tfiles left\tobjects under prefix")
	for _, r := range []struct{ dir, prefix string }{{cliDir, "from-cli/"}, {fnDir, "from-lambda/"}} {
		n, err := d.countObjects(ctx, r.prefix)
		if err != nil {
			return err
		}
		left := testbed.CountFiles(r.dir)
		fmt.Fprintf(tw, "  %s\t%d\t%s %d\n", r.dir, left, r.prefix, n)
		if left != 0 || n != len(sampleFiles) {
			tw.Flush()
			return fmt.Errorf("%s: %d files left and %d objects, want 0 and %d", r.dir, left, n, len(sampleFiles))
		}
	}
	tw.Flush()
	return nil
}

var sampleFiles = map[string]string{
	"report.csv":                   "day,count\n2026-11-28,42\n",
	"logs/app.log":                 "started\nstopped\n",
	"logs/2026/11/28/batch.log":    strings.Repeat("line of batch output\n", 500),
	"empty.txt":                    "",
	"日本語/レポート.txt":                 "こんにちは\n",
	"with space/file name.json":    `{"ok": true}`,
	"images/pixel.gif":             "GIF89a\x01\x00\x01\x00\x00\x00\x00;",
	"deep/a/b/c/d/e/readme.md":     "# deep\n",
	"data/big.bin":                 strings.Repeat("0123456789abcdef", 64<<10),
	"data/part-0001.parquet":       "PAR1",
	"data/part-0002.parquet":       "PAR1",
	"data/part-0003.parquet":       "PAR1",
	"archive/2026-11-27.tar.gz":    "\x1f\x8b",
	"archive/2026-11-26.tar.gz":    "\x1f\x8b",
	"config/settings.yaml":         "a: 1\n",
	"config/nested/settings2.yaml": "b: 2\n",
}

func (d *demo) countObjects(ctx context.Context, prefix string) (int, error) {
	n := 0
	p := s3.NewListObjectsV2Paginator(d.s3, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		n += len(page.Contents)
	}
	return n, nil
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
}
