package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/bench/internal/measure"
	"github.com/awsutils/awsutils/bench/internal/report"
	"github.com/awsutils/awsutils/internal/testbed"
)

// NoLatency marks the phase of a start/stop run made without the proxy's
// added latency.
const NoLatency = ", no added latency"

// configKey is the key the bench's start/stop config lists everything under.
const configKey = "bench"

// fleet is a set of resources created in moto.
type fleet struct {
	EC2, RDS, Clusters []string
}

// motoServer returns the bench's moto server, starting it on first use.
// testbed.StopAll (deferred in run) stops it.
func (b *bench) motoServer() (*testbed.Moto, error) {
	if b.moto == nil {
		m, err := testbed.LaunchMoto()
		if err != nil {
			return nil, err
		}
		b.moto = m
	}
	return b.moto, nil
}

// freshMoto is the shared moto server, reset, and a config that reaches it
// directly.
func (b *bench) freshMoto(ctx context.Context) (*testbed.Moto, aws.Config, error) {
	m, err := b.motoServer()
	if err != nil {
		return nil, aws.Config{}, err
	}
	if err := m.Reset(); err != nil {
		return nil, aws.Config{}, err
	}
	cfg, err := motoConfig(ctx, m.Endpoint)
	return m, cfg, err
}

// motoConfig is an aws.Config that reaches endpoint with moto's keys.
func motoConfig(ctx context.Context, endpoint string) (aws.Config, error) {
	return awsclient.Load(ctx, awsclient.Options{Region: testbed.Region, AccessKeyID: "testing", SecretAccessKey: "testing", MaxConnsPerHost: 64, Endpoint: endpoint})
}

// createFleet makes running EC2 instances, available RDS instances and
// Aurora clusters with one member each, straight in moto (not through the
// proxy: setup is not measured).
func createFleet(ctx context.Context, cfg aws.Config, nEC2, nRDS, nAurora int) (fleet, error) {
	var f fleet
	ec2c, rdsc := awsclient.EC2(cfg), awsclient.RDS(cfg)
	for len(f.EC2) < nEC2 {
		batch := min(nEC2-len(f.EC2), 500)
		out, err := ec2c.RunInstances(ctx, &ec2.RunInstancesInput{
			ImageId: aws.String(testbed.AMI), InstanceType: ec2types.InstanceTypeT3Micro,
			MinCount: aws.Int32(int32(batch)), MaxCount: aws.Int32(int32(batch)),
		})
		if err != nil {
			return f, fmt.Errorf("run instances: %w", err)
		}
		for _, i := range out.Instances {
			f.EC2 = append(f.EC2, aws.ToString(i.InstanceId))
		}
	}
	for i := range nRDS {
		id := fmt.Sprintf("bench-db-%04d", i)
		_, err := rdsc.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
			DBInstanceIdentifier: aws.String(id), DBInstanceClass: aws.String("db.t3.micro"),
			Engine: aws.String("postgres"), AllocatedStorage: aws.Int32(20),
			MasterUsername: aws.String("admin1"), MasterUserPassword: aws.String("password123"),
		})
		if err != nil {
			return f, fmt.Errorf("create DB instance %s: %w", id, err)
		}
		f.RDS = append(f.RDS, id)
	}
	for i := range nAurora {
		id := fmt.Sprintf("bench-aurora-%03d", i)
		_, err := rdsc.CreateDBCluster(ctx, &rds.CreateDBClusterInput{
			DBClusterIdentifier: aws.String(id), Engine: aws.String("aurora-postgresql"),
			MasterUsername: aws.String("admin1"), MasterUserPassword: aws.String("password123"),
		})
		if err != nil {
			return f, fmt.Errorf("create DB cluster %s: %w", id, err)
		}
		_, err = rdsc.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
			DBInstanceIdentifier: aws.String(id + "-1"), DBClusterIdentifier: aws.String(id),
			DBInstanceClass: aws.String("db.r6g.large"), Engine: aws.String("aurora-postgresql"),
		})
		if err != nil {
			return f, fmt.Errorf("create cluster member %s-1: %w", id, err)
		}
		f.Clusters = append(f.Clusters, id)
	}
	return f, nil
}

// writeStartStopConfig writes the fleet as an aws_resource_start_stop.yml.
func writeStartStopConfig(path string, f fleet) error {
	var b strings.Builder
	fmt.Fprintf(&b, "region_name: %s\n%s:\n", testbed.Region, configKey)
	group := func(typ string, ids []string) {
		if len(ids) > 0 {
			fmt.Fprintf(&b, "  - type: %s\n    ids: [%s]\n", typ, strings.Join(ids, ", "))
		}
	}
	group("ec2.instance", f.EC2)
	group("rds.db_instance", f.RDS)
	group("rds.db_cluster", f.Clusters)
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// appendKey adds a config key with one group to a config file.
func appendKey(path, key, typ string, ids []string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%s:\n  - type: %s\n    ids: [%s]\n", key, typ, strings.Join(ids, ", "))
	return errors.Join(err, f.Close())
}

// checkFleet confirms every resource reached (or is moving to) the state
// action leads to, straight from moto.
func checkFleet(ctx context.Context, cfg aws.Config, f fleet, action string) error {
	okEC2 := map[string][]string{"stop": {"stopping", "stopped"}, "start": {"pending", "running"}}[action]
	okRDS := map[string][]string{"stop": {"stopping", "stopped"}, "start": {"starting", "available"}}[action]
	var bad []string
	want := map[string]bool{}
	for _, id := range f.EC2 {
		want[id] = true
	}
	p := ec2.NewDescribeInstancesPaginator(awsclient.EC2(cfg), &ec2.DescribeInstancesInput{MaxResults: aws.Int32(1000)})
	seen := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("describe instances: %w", err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				id := aws.ToString(i.InstanceId)
				if !want[id] {
					continue
				}
				seen++
				if st := string(i.State.Name); !slices.Contains(okEC2, st) {
					bad = append(bad, id+" "+st)
				}
			}
		}
	}
	if seen != len(f.EC2) {
		bad = append(bad, fmt.Sprintf("%d of %d instances found", seen, len(f.EC2)))
	}
	rdsc := awsclient.RDS(cfg)
	for _, id := range f.RDS {
		out, err := rdsc.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
		if err != nil || len(out.DBInstances) == 0 {
			bad = append(bad, id+" not found")
			continue
		}
		if st := aws.ToString(out.DBInstances[0].DBInstanceStatus); !slices.Contains(okRDS, st) {
			bad = append(bad, id+" "+st)
		}
	}
	for _, id := range f.Clusters {
		out, err := rdsc.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
		if err != nil || len(out.DBClusters) == 0 {
			bad = append(bad, id+" not found")
			continue
		}
		if st := aws.ToString(out.DBClusters[0].Status); !slices.Contains(okRDS, st) {
			bad = append(bad, id+" "+st)
		}
	}
	if len(bad) > 0 {
		n := len(bad)
		if n > 5 {
			bad = append(bad[:5], fmt.Sprintf("and %d more", n-5))
		}
		return fmt.Errorf("after %s, %d resources in the wrong state: %s", action, n, strings.Join(bad, "; "))
	}
	return nil
}

// opService tells the services of the operations the jobs use apart by
// name: every RDS operation names a DB resource or is
// ListTagsForResource, and Auto Scaling's (the EC2 worker's membership
// check) name Auto Scaling.
func opService(op string) string {
	switch {
	case strings.Contains(op, "AutoScaling"):
		return "autoscaling"
	case strings.Contains(op, "DB") || op == "ListTagsForResource":
		return "rds"
	}
	return "ec2"
}

// opsSummary is "Op=n Op=n" sorted by count, and the EC2 and Auto Scaling
// shares.
func opsSummary(ops map[string]int) (summary string, ec2Calls, asgCalls int) {
	keys := make([]string, 0, len(ops))
	for k, n := range ops {
		keys = append(keys, k)
		switch opService(k) {
		case "ec2":
			ec2Calls += n
		case "autoscaling":
			asgCalls += n
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		if ops[a] != ops[b] {
			return ops[b] - ops[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, ops[k])
	}
	return strings.Join(parts, " "), ec2Calls, asgCalls
}

// startStop measures `awsutils stop` and `start` through a latency proxy,
// and the naive loop as the reference.
func (b *bench) startStop(ctx context.Context) error {
	m, direct, err := b.freshMoto(ctx)
	if err != nil {
		return err
	}
	b.logf("start/stop: creating %d EC2 instances, %d RDS instances, %d Aurora clusters in moto", b.cfg.EC2, b.cfg.RDS, b.cfg.Aurora)
	f, err := createFleet(ctx, direct, b.cfg.EC2, b.cfg.RDS, b.cfg.Aurora)
	if err != nil {
		return err
	}
	wl := report.StartStopWorkload(len(f.EC2), len(f.RDS), len(f.Clusters))
	b.meta.StartStop = fmt.Sprintf("%s in moto server, every request through a proxy that adds %s (`testbed.FaultProxy`); API calls counted by operation at the proxy. `awsutils stop` then `start` with the config listing everything under one key, %d warm-up and %d measured rounds; the naive loop (one StopInstances/StopDBInstance/StopDBCluster call per resource, in sequence, written in the bench) %d round(s). One more round of `awsutils stop`/`start` without the added latency shows the server's own floor. After every phase the bench checks each resource's state in moto.",
		wl, b.cfg.Latency, b.cfg.Warmup, b.cfg.Reps, b.cfg.NaiveReps)

	proxy, err := testbed.NewFaultProxy(m.Endpoint, testbed.Faults{Latency: b.cfg.Latency, Logf: log.New(io.Discard, "", 0).Printf})
	if err != nil {
		return err
	}
	defer proxy.Close()

	dir := filepath.Join(b.tmp, "startstop")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	confPath := filepath.Join(dir, "aws_resource_start_stop.yml")
	if err := writeStartStopConfig(confPath, f); err != nil {
		return err
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		"AWS_REGION=" + testbed.Region, "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_ENDPOINT_URL=" + proxy.Endpoint,
	}

	if hasCommand(ctx, b.awsutils, "stop") && hasCommand(ctx, b.awsutils, "start") {
		for round := range b.cfg.Warmup + b.cfg.Reps {
			for _, action := range []string{"stop", "start"} {
				proxy.ResetStats()
				u, runErr := b.runner.Run(ctx, measure.Command{
					Argv: []string{b.awsutils, action, "--config", confPath, configKey}, Env: env, Dir: dir,
				})
				row := b.startStopRow(wl, report.ToolAwsutils, action, round, proxy.Stats())
				row.Wall, row.CPU, row.MaxRSS = u.Wall.Seconds(), u.CPU.Seconds(), u.MaxRSS
				row.Error = errString(runErr)
				if runErr == nil {
					row.Error = errString(checkFleet(ctx, direct, f, action))
				}
				b.add(row)
				b.logStartStop(row)
			}
		}
		// The same calls without the added latency show the server's own
		// floor: moto answers one request at a time in Python, so a
		// target below it cannot be reached here whatever the client does.
		if b.cfg.Latency > 0 {
			if err := proxy.SetFaults(testbed.Faults{}); err != nil {
				return err
			}
			for _, action := range []string{"stop", "start"} {
				proxy.ResetStats()
				u, runErr := b.runner.Run(ctx, measure.Command{
					Argv: []string{b.awsutils, action, "--config", confPath, configKey}, Env: env, Dir: dir,
				})
				row := b.startStopRow(wl, report.ToolAwsutils, action+NoLatency, b.cfg.Warmup, proxy.Stats())
				row.Wall, row.CPU, row.MaxRSS = u.Wall.Seconds(), u.CPU.Seconds(), u.MaxRSS
				row.Error = errString(runErr)
				if runErr == nil {
					row.Error = errString(checkFleet(ctx, direct, f, action))
				}
				b.add(row)
				b.logStartStop(row)
			}
			if err := proxy.SetFaults(testbed.Faults{Latency: b.cfg.Latency}); err != nil {
				return err
			}
		}
	} else {
		b.note("start/stop economy of awsutils not measured: `awsutils stop`/`start` do not exist in this build")
	}

	viaProxy, err := motoConfig(ctx, proxy.Endpoint)
	if err != nil {
		return err
	}
	for round := range b.cfg.NaiveReps {
		for _, action := range []string{"stop", "start"} {
			proxy.ResetStats()
			start := time.Now()
			runErr := naiveLoop(ctx, viaProxy, f, action)
			row := b.startStopRow(wl, report.ToolNaive, action, round+b.cfg.Warmup, proxy.Stats())
			row.Wall = time.Since(start).Seconds()
			row.Error = errString(runErr)
			if runErr == nil {
				row.Error = errString(checkFleet(ctx, direct, f, action))
			}
			b.add(row)
			b.logStartStop(row)
		}
	}
	return ctx.Err()
}

func (b *bench) startStopRow(wl, tool, action string, round int, st testbed.Stats) report.Row {
	ops, ec2Calls, asgCalls := opsSummary(st.Ops)
	return report.Row{
		Section: report.SectionStartStop, Workload: wl, Tool: tool, Phase: action,
		Rep: round - b.cfg.Warmup + 1, Warmup: round < b.cfg.Warmup,
		APICalls: st.Requests, APIOps: ops, EC2Calls: ec2Calls, ASGCalls: asgCalls,
	}
}

func (b *bench) logStartStop(r report.Row) {
	status := "ok"
	if r.Error != "" {
		status = "FAILED: " + firstLine(r.Error)
	}
	tag := ""
	if r.Warmup {
		tag = " (warm-up)"
	}
	b.logf("start/stop %-10s %-5s round %d%s: %6.2f s, %d API calls (%d EC2, %d Auto Scaling): %s  %s", r.Tool, r.Phase, r.Rep, tag, r.Wall, r.APICalls, r.EC2Calls, r.ASGCalls, r.APIOps, status)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// naiveLoop is the reference: one call per resource, one after another,
// as a first script would do it.
func naiveLoop(ctx context.Context, cfg aws.Config, f fleet, action string) error {
	ec2c, rdsc := awsclient.EC2(cfg), awsclient.RDS(cfg)
	for _, id := range f.EC2 {
		var err error
		if action == "stop" {
			_, err = ec2c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}})
		} else {
			_, err = ec2c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}})
		}
		if err != nil {
			return fmt.Errorf("naive %s %s: %w", action, id, err)
		}
	}
	for _, id := range f.RDS {
		var err error
		if action == "stop" {
			_, err = rdsc.StopDBInstance(ctx, &rds.StopDBInstanceInput{DBInstanceIdentifier: aws.String(id)})
		} else {
			_, err = rdsc.StartDBInstance(ctx, &rds.StartDBInstanceInput{DBInstanceIdentifier: aws.String(id)})
		}
		if err != nil {
			return fmt.Errorf("naive %s %s: %w", action, id, err)
		}
	}
	for _, id := range f.Clusters {
		var err error
		if action == "stop" {
			_, err = rdsc.StopDBCluster(ctx, &rds.StopDBClusterInput{DBClusterIdentifier: aws.String(id)})
		} else {
			_, err = rdsc.StartDBCluster(ctx, &rds.StartDBClusterInput{DBClusterIdentifier: aws.String(id)})
		}
		if err != nil {
			return fmt.Errorf("naive %s %s: %w", action, id, err)
		}
	}
	return nil
}
