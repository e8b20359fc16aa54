package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/bench/internal/measure"
	"github.com/awsutils/awsutils/internal/testbed"
)

// The spread of the accounts comparison: 10 accounts × 2 regions.
var (
	benchAccounts = 10
	benchRegions  = []string{testbed.Region, "eu-west-1"}
)

// place is one account and region of the spread fleet, with credentials
// that act in that account (moto keeps a backend per account id).
type place struct {
	account, region string
	cfg             aws.Config
	f               fleet
}

// accounts measures `awsutils stop` and `start` of the start/stop fleet in
// one account against the same fleet spread over benchAccounts accounts ×
// benchRegions, each group reached through AssumeRole, at the same
// latency: the spread run should take at most twice as long.
func (b *bench) accounts(ctx context.Context) error {
	m, direct, err := b.freshMoto(ctx)
	if err != nil {
		return err
	}
	proxy, err := testbed.NewFaultProxy(m.Endpoint, testbed.Faults{Latency: b.cfg.Latency, Logf: log.New(io.Discard, "", 0).Printf})
	if err != nil {
		return err
	}
	defer proxy.Close()
	dir := filepath.Join(b.tmp, "accounts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		"AWS_REGION=" + testbed.Region, "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_ENDPOINT_URL=" + proxy.Endpoint,
	}

	b.logf("accounts: creating %d EC2, %d RDS, %d Aurora in one account", b.cfg.EC2, b.cfg.RDS, b.cfg.Aurora)
	one, err := createFleet(ctx, direct, b.cfg.EC2, b.cfg.RDS, b.cfg.Aurora)
	if err != nil {
		return err
	}
	oneConf := filepath.Join(dir, "one.yml")
	if err := writeStartStopConfig(oneConf, one); err != nil {
		return err
	}

	n := benchAccounts * len(benchRegions)
	b.logf("accounts: creating the same spread over %d accounts × %d regions", benchAccounts, len(benchRegions))
	var places []place
	var conf strings.Builder
	fmt.Fprintf(&conf, "region_name: %s\n%s:\n", testbed.Region, configKey)
	for a := range benchAccounts {
		account := fmt.Sprintf("%012d", 300000000000+a)
		role := "arn:aws:iam::" + account + ":role/awsutils-member"
		out, err := awsclient.STS(direct).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("bench")})
		if err != nil {
			return fmt.Errorf("assume %s: %w", role, err)
		}
		for _, region := range benchRegions {
			i := len(places)
			cfg, err := awsclient.Load(ctx, awsclient.Options{Region: region, Endpoint: m.Endpoint, MaxConnsPerHost: 64,
				AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey)})
			if err != nil {
				return err
			}
			// Cumulative shares, so the totals are exactly the one
			// account's.
			share := func(total int) int { return total*(i+1)/n - total*i/n }
			f, err := createFleet(ctx, cfg, share(b.cfg.EC2), share(b.cfg.RDS), share(b.cfg.Aurora))
			if err != nil {
				return fmt.Errorf("account %s %s: %w", account, region, err)
			}
			places = append(places, place{account, region, cfg, f})
			for _, g := range []struct {
				typ string
				ids []string
			}{{"ec2.instance", f.EC2}, {"rds.db_instance", f.RDS}, {"rds.db_cluster", f.Clusters}} {
				if len(g.ids) > 0 {
					fmt.Fprintf(&conf, "  - type: %s\n    role_arn: %s\n    region: %s\n    ids: [%s]\n", g.typ, role, region, strings.Join(g.ids, ", "))
				}
			}
		}
	}
	spreadConf := filepath.Join(dir, "spread.yml")
	if err := os.WriteFile(spreadConf, []byte(conf.String()), 0o644); err != nil {
		return err
	}

	wall := map[string]time.Duration{}
	for round := range 2 { // the first is a warm-up
		for _, c := range []struct {
			name, conf string
			check      func(action string) error
		}{
			{"one account", oneConf, func(a string) error { return checkFleet(ctx, direct, one, a) }},
			{fmt.Sprintf("%d accounts × %d regions", benchAccounts, len(benchRegions)), spreadConf, func(a string) error {
				for _, p := range places {
					if err := checkFleet(ctx, p.cfg, p.f, a); err != nil {
						return fmt.Errorf("account %s %s: %w", p.account, p.region, err)
					}
				}
				return nil
			}},
		} {
			for _, action := range []string{"stop", "start"} {
				proxy.ResetStats()
				u, err := b.runner.Run(ctx, measure.Command{Argv: []string{b.awsutils, action, "--config", c.conf, configKey}, Env: env, Dir: dir})
				if err == nil {
					err = c.check(action)
				}
				if err != nil {
					return fmt.Errorf("accounts: %s %s: %w", c.name, action, err)
				}
				st := proxy.Stats()
				b.logf("accounts: round %d %-22s %-5s %6.2f s, %d API calls (%d AssumeRole)", round, c.name, action, u.Wall.Seconds(), st.Requests, st.Ops["AssumeRole"])
				if round == 1 {
					wall[c.name+" "+action] = u.Wall
				}
			}
		}
	}
	spread := fmt.Sprintf("%d accounts × %d regions", benchAccounts, len(benchRegions))
	for _, action := range []string{"stop", "start"} {
		o, s := wall["one account "+action], wall[spread+" "+action]
		b.note("accounts: %s of %d EC2 + %d RDS + %d Aurora at %s: one account %.2f s, %s through AssumeRole %.2f s (%.2f×; target ≤ 2×)",
			action, b.cfg.EC2, b.cfg.RDS, b.cfg.Aurora, b.cfg.Latency, o.Seconds(), spread, s.Seconds(), s.Seconds()/o.Seconds())
	}
	return nil
}
