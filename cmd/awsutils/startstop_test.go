package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/awsutils/awsutils/internal/testbed"
	"github.com/awsutils/awsutils/startstop"
)

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), startstop.ConfigFile)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestStartStopCommand(t *testing.T) {
	t.Parallel()
	m := testbed.StartMotoAccount(t)
	ec2c, rdsc := m.Clients(t)
	ids := testbed.RunInstances(t, ec2c, 2)
	testbed.CreateDBInstance(t, rdsc, "my-postgres")
	path := writeConfig(t, fmt.Sprintf(`region_name: %s
dev-env:
  - type: ec2.instance
    ids: [%s, %s]
  - type: rds.db_instance
    ids: [my-postgres]
`, testbed.Region, ids[0], ids[1]))

	// Flags may follow the key.
	code, out, errs := runBin(t, m.Env(), "stop", "dev-env", "--config", path)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "TYPE") {
		t.Fatalf("want header, 3 rows, summary:\n%s", out)
	}
	if !strings.Contains(out, "running → stopping") || !strings.Contains(out, "available → stopped") {
		t.Errorf("state column:\n%s", out)
	}
	if !strings.HasPrefix(lines[4], "stop dev-env: 3 changed of 3 resources in ") {
		t.Errorf("summary %q", lines[4])
	}
	if st := testbed.InstanceStates(t, ec2c, ids...); st[ids[0]] != "stopped" || st[ids[1]] != "stopped" {
		t.Errorf("states %v", st)
	}

	// Idempotent, and JSON.
	code, out, errs = runBin(t, m.Env(), "stop", "--config="+path, "--output", "json", "dev-env")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	var rep struct {
		Action  string `json:"action"`
		Results []struct {
			ID, Before, After, Result, Message string
		} `json:"results"`
		Summary struct{ Total, Unchanged int } `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if rep.Action != "stop" || rep.Summary.Total != 3 || rep.Summary.Unchanged != 3 || rep.Results[0].Result != "unchanged" {
		t.Errorf("report %+v", rep)
	}

	code, out, errs = runBin(t, m.Env(), "start", "--config", path, "--wait", "--wait-timeout", "1m", "dev-env")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if strings.Count(out, "reached ") != 3 {
		t.Errorf("--wait output:\n%s", out)
	}
	if s := testbed.DBInstanceStatus(t, rdsc, "my-postgres"); s != "available" {
		t.Errorf("db after start: %s", s)
	}
}

// A bad id among good ones: the good ones act, exit 1, the bad one named.
func TestStartStopCommandPartialFailure(t *testing.T) {
	t.Parallel()
	m := testbed.StartMotoAccount(t)
	ec2c, rdsc := m.Clients(t)
	ids := testbed.RunInstances(t, ec2c, 2)
	testbed.CreateAuroraCluster(t, rdsc, "aurora1", "aurora1-a")
	const missing = "i-0fedcba9876543210"
	path := writeConfig(t, fmt.Sprintf("region_name: %s\nk:\n  - type: ec2.instance\n    ids: [%s, %s, %s]\n  - type: rds.db_instance\n    ids: [aurora1-a]\n",
		testbed.Region, ids[0], missing, ids[1]))
	code, out, errs := runBin(t, m.Env(), "stop", "--config", path, "k")
	if code != exitFailed {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errs)
	}
	var missingLine, memberLine string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, missing) {
			missingLine = l
		}
		if strings.Contains(l, "aurora1-a") {
			memberLine = l
		}
	}
	if !strings.Contains(missingLine, "failed") || !strings.Contains(missingLine, "not found") {
		t.Errorf("line for the bad id: %q\n%s", missingLine, out)
	}
	if !strings.Contains(memberLine, "unsupported") || !strings.Contains(memberLine, "member of cluster aurora1; list the cluster under rds.db_cluster") {
		t.Errorf("line for the member: %q", memberLine)
	}
	if st := testbed.InstanceStates(t, ec2c, ids...); st[ids[0]] != "stopped" || st[ids[1]] != "stopped" {
		t.Errorf("valid instances not stopped: %v", st)
	}
}

// Usage and config errors: one line, exit 2, nothing touched.
func TestStartStopCommandErrors(t *testing.T) {
	t.Parallel()
	m := testbed.StartMotoAccount(t)
	ec2c, _ := m.Clients(t)
	ids := testbed.RunInstances(t, ec2c, 1)
	good := writeConfig(t, fmt.Sprintf("region_name: %s\ndev:\n  - type: ec2.instance\n    ids: [%s]\nprod:\n  - type: ec2.instance\n    ids: [%s]\n", testbed.Region, ids[0], ids[0]))
	malformed := writeConfig(t, "region_name: us-east-1\ndev:\n  - type: ec2.instance\n    ids: [i-0123456789abcdef0\n")
	badType := writeConfig(t, "dev:\n  - type: ec2\n    ids: [i-0123456789abcdef0]\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no key", []string{"stop", "--config", good}, "no config key given"},
		{"unknown key", []string{"stop", "--config", good, "staging"}, `no config key "staging" (keys: "dev", "prod")`},
		{"malformed YAML", []string{"stop", "--config", malformed, "dev"}, malformed + ":"},
		{"unknown type", []string{"stop", "--config", badType, "dev"}, badType + `:2: dev: type: unknown type "ec2"`},
		{"missing file", []string{"stop", "--config", filepath.Join(t.TempDir(), "nope.yml"), "dev"}, "nope.yml"},
		{"bad output", []string{"stop", "--config", good, "--output", "yaml", "dev"}, `--output "yaml": want text or json`},
		{"bad flag", []string{"stop", "--bogus", "dev"}, "unknown flag: --bogus"},
		{"zero wait timeout", []string{"stop", "--config", good, "--wait-timeout", "0", "dev"}, "--wait-timeout 0s: want a positive duration such as 10m"},
		{"negative wait timeout", []string{"stop", "--config", good, "--wait-timeout", "-1m", "dev"}, "--wait-timeout -1m0s: want a positive duration such as 10m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runBin(t, m.Env(), tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want 2", code)
			}
			if out != "" {
				t.Errorf("stdout %q", out)
			}
			if !strings.Contains(errs, tt.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
				t.Errorf("stderr %q, want one line containing %q", errs, tt.want)
			}
		})
	}
	if st := testbed.InstanceStates(t, ec2c, ids...); st[ids[0]] != "running" {
		t.Errorf("an error touched the instance: %v", st)
	}
}

func TestStartStopCommandDryRun(t *testing.T) {
	t.Parallel()
	m := testbed.StartMotoAccount(t)
	ec2c, rdsc := m.Clients(t)
	ids := testbed.RunInstances(t, ec2c, 1)
	testbed.CreateDBInstance(t, rdsc, "pg1")
	path := writeConfig(t, fmt.Sprintf("dev:\n  - type: ec2.instance\n    ids: [%s]\n  - type: rds.db_instance\n    ids: [pg1]\n", ids[0]))
	code, out, errs := runBin(t, m.Env(), "stop", "--dry-run", "--config", path, "dev")
	if code != exitOK || strings.Count(out, "planned") != 3 || !strings.Contains(out, "(dry run)") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if st := testbed.InstanceStates(t, ec2c, ids...); st[ids[0]] != "running" {
		t.Errorf("dry run stopped the instance")
	}
	if s := testbed.DBInstanceStatus(t, rdsc, "pg1"); s != "available" {
		t.Errorf("dry run stopped the DB instance")
	}
}

func TestStartStopCommandHelp(t *testing.T) {
	code, out, _ := runCLI(t, "start", "--help")
	if code != exitOK || !strings.Contains(out, "usage: awsutils start [flags] KEY...") || !strings.Contains(out, "--dry-run") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

// keptConfig is an aws_resource_start_stop.yml as people wrote them for the
// Python version, which read it with PyYAML: helper keys that only hold
// anchors, id lists and single ids through aliases, groups through merge
// keys, a whole group reused under another key. %[1]s is the region,
// %[2]s to %[4]s instance ids.
const keptConfig = `region_name: %[1]s
x-web: &web [%[2]s, %[3]s]
.ec2: &ec2
  type: ec2.instance
.rds: &rds {type: rds.db_instance, region: %[1]s}
dev-env:
  - <<: *ec2
    ids: *web
  - &pg
    <<: *rds
    ids: [my-postgres]
batch_servers:
  - <<: [*ec2, *rds]
    ids: [&batch %[4]s]
everything:
  - <<: *ec2
    ids: [*batch, %[2]s, %[3]s]
  - *pg
`

// A kept config with anchors, aliases, merge keys and helper keys works
// through the CLI: the helper keys are one warning line each, and asking
// for one is a config error naming its line.
func TestStartStopCommandKeptYAML(t *testing.T) {
	t.Parallel()
	m := testbed.StartMotoAccount(t)
	ec2c, rdsc := m.Clients(t)
	ids := testbed.RunInstances(t, ec2c, 3)
	testbed.CreateDBInstance(t, rdsc, "my-postgres")
	path := writeConfig(t, fmt.Sprintf(keptConfig, testbed.Region, ids[0], ids[1], ids[2]))

	code, out, errs := runBin(t, m.Env(), "stop", "--config", path, "dev-env")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "stop dev-env: 3 changed of 3 resources in ") {
		t.Errorf("summary:\n%s", out)
	}
	for _, w := range []string{path + ":2: x-web: ", path + ":3: .ec2: ", path + ":5: .rds: "} {
		if n := strings.Count(out, "note: "+w+"not a list of {type, ids} entries; ignored"); n != 1 {
			t.Errorf("%d notes for %q, want 1:\n%s", n, w, out)
		}
	}
	if st := testbed.InstanceStates(t, ec2c, ids...); st[ids[0]] != "stopped" || st[ids[1]] != "stopped" || st[ids[2]] != "running" {
		t.Errorf("states after stop dev-env: %v", st)
	}

	// batch_servers merges [*ec2, *rds]: the earlier mapping's type wins.
	code, out, errs = runBin(t, m.Env(), "stop", "--config", path, "--output", "json", "batch_servers")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	var rep startstop.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Results[0].Type != startstop.EC2Instance || rep.Results[0].ID != ids[2] || rep.Results[0].Outcome != startstop.Changed {
		t.Errorf("batch_servers: %+v", rep.Results)
	}

	code, out, errs = runBin(t, m.Env(), "start", "--config", path, "everything")
	if code != exitOK || !strings.Contains(out, "start everything: 4 changed of 4 resources in ") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if st := testbed.InstanceStates(t, ec2c, ids...); st[ids[0]] != "running" || st[ids[1]] != "running" || st[ids[2]] != "running" {
		t.Errorf("states after start everything: %v", st)
	}

	code, out, errs = runBin(t, m.Env(), "stop", "--config", path, "x-web")
	if code != exitUsage || out != "" {
		t.Errorf("stop x-web: exit %d, stdout %q", code, out)
	}
	if want := "awsutils stop: " + path + ":2: x-web: want an entry with type and ids\n"; errs != want {
		t.Errorf("stop x-web: stderr %q, want %q", errs, want)
	}
	if st := testbed.InstanceStates(t, ec2c, ids...); st[ids[0]] != "running" {
		t.Errorf("asking for a helper key touched an instance: %v", st)
	}
}
