package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/awsutils/awsutils/internal/emf"
	"github.com/awsutils/awsutils/internal/lambdaerr"
	"github.com/awsutils/awsutils/internal/testbed"
	"github.com/awsutils/awsutils/startstop"
)

func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }

func TestSettingsFromEnv(t *testing.T) {
	env := map[string]string{"LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_FUNCTION_NAME": "ec2_stop_dev"}
	s := SettingsFromEnv(func(k string) string { return env[k] })
	if s.ConfigPath != "/var/task/aws_resource_start_stop.yml" || s.FunctionName != "ec2_stop_dev" || s.Mode != "" {
		t.Errorf("%+v", s)
	}
	env["AWSUTILS_CONFIG"] = "/mnt/efs/conf.yml"
	if s := SettingsFromEnv(func(k string) string { return env[k] }); s.ConfigPath != "/mnt/efs/conf.yml" {
		t.Errorf("AWSUTILS_CONFIG ignored: %+v", s)
	}
}

func TestRequest(t *testing.T) {
	const scheduled = `{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`
	tests := []struct {
		name, mode, fn, event string
		want                  startstop.Request
		wantErr               string
	}{
		{"auto, event with one key", "", "ec2_stop_other", `{"action":"start","configKey":"dev"}`, startstop.Request{Action: startstop.Start, Keys: []string{"dev"}}, ""},
		{"auto, event with key list", "auto", "", `{"action":"stop","configKey":["a","b"]}`, startstop.Request{Action: startstop.Stop, Keys: []string{"a", "b"}}, ""},
		{"auto, scheduled event uses the name", "", "ec2_start_batch_servers", scheduled, startstop.Request{Action: startstop.Start, Keys: []string{"batch_servers"}}, ""},
		{"auto, bad event is not covered by the name", "", "ec2_start_dev", `{"action":"restart","configKey":"dev"}`, startstop.Request{}, `action "restart"`},
		{"auto, scheduled event and bad name", "", "startstop", scheduled, startstop.Request{}, `function name "startstop": want ec2_start_KEY or ec2_stop_KEY`},
		{"event mode ignores the name", "event", "ec2_start_dev", scheduled, startstop.Request{}, "event has neither action nor configKey"},
		{"function-name mode ignores the event", "function-name", "ec2_stop_dev", `{"action":"start","configKey":"x"}`, startstop.Request{Action: startstop.Stop, Keys: []string{"dev"}}, ""},
		{"bad mode", "name", "ec2_stop_dev", scheduled, startstop.Request{}, `AWSUTILS_MODE="name"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &Handler{Settings: Settings{Mode: tt.mode, FunctionName: tt.fn}}
			got, err := h.Request(json.RawMessage(tt.event))
			if tt.wantErr != "" {
				var br *lambdaerr.BadRequest
				if !errors.As(err, &br) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want BadRequest %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

type fixture struct {
	moto *testbed.Moto
	ec2  *ec2.Client
	ids  []string // 0,1 under dev-env; 2 under batch_servers
	conf string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	m := testbed.StartMotoAccount(t)
	ec2c, rdsc := m.Clients(t)
	ids, conf := testbed.CreateOriginalExample(t, ec2c, rdsc)
	return &fixture{moto: m, ec2: ec2c, ids: ids, conf: writeFile(t, startstop.ConfigFile, conf)}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) lambda(t *testing.T, extra map[string]string) *testbed.Lambda {
	t.Helper()
	env := f.moto.Env()
	env["AWSUTILS_CONFIG"] = f.conf
	env["AWS_LAMBDA_FUNCTION_NAME"] = "startstop"
	maps.Copy(env, extra)
	for k, v := range extra {
		if v == "" {
			delete(env, k)
		}
	}
	return testbed.StartLambda(t, testbed.BuildBootstrap(t, "./cmd/startstop-lambda"), env)
}

func (f *fixture) states(t *testing.T) []string {
	t.Helper()
	st := testbed.InstanceStates(t, f.ec2, f.ids...)
	return []string{st[f.ids[0]], st[f.ids[1]], st[f.ids[2]]}
}

// named is the environment of a function that reads its config at the
// default place of task root root, $LAMBDA_TASK_ROOT/aws_resource_start_stop.yml,
// named name ("": the fixture's default).
func named(root, name string) map[string]string {
	env := map[string]string{"AWSUTILS_CONFIG": "", "LAMBDA_TASK_ROOT": root}
	if name != "" {
		env["AWS_LAMBDA_FUNCTION_NAME"] = name
	}
	return env
}

// scheduledEvent is what an EventBridge schedule sends.
const scheduledEvent = `{"version":"0","id":"89d1a02d","detail-type":"Scheduled Event","source":"aws.events","time":"2026-01-01T00:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/stop"],"detail":{}}`

// wantStates checks the EC2 states of the fixture's instances, in order.
func (f *fixture) wantStates(t *testing.T, want ...string) {
	t.Helper()
	if got := f.states(t); !reflect.DeepEqual(got, want) {
		t.Errorf("states %v, want %v", got, want)
	}
}

func report(t *testing.T, l *testbed.Lambda, event string) startstop.Report {
	t.Helper()
	payload, err := l.Invoke(context.Background(), event)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var rep startstop.Report
	if err := json.Unmarshal(payload, &rep); err != nil {
		t.Fatalf("payload is not a report: %v\n%s", err, payload)
	}
	return rep
}

func TestLambdaEventForms(t *testing.T) {
	t.Parallel()
	f := setup(t)
	l := f.lambda(t, nil)

	rep := report(t, l, `{"action": "stop", "configKey": "dev-env"}`)
	if rep.Totals.Changed != 4 || rep.Totals.Total != 4 {
		t.Fatalf("stop dev-env: %+v", rep)
	}
	f.wantStates(t, "stopped", "stopped", "running")

	rep = report(t, l, `{"action": "start", "configKey": ["dev-env", "batch_servers"]}`)
	if rep.Totals.Changed != 4 || rep.Totals.Unchanged != 1 {
		t.Fatalf("start both: %+v", rep)
	}
	f.wantStates(t, "running", "running", "running")

	// One JSON log line per resource, naming it and what happened.
	var perResource int
	sc := bufio.NewScanner(strings.NewReader(l.Log()))
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		if line["id"] == f.ids[0] && line["msg"] == "stop" && line["result"] == "changed" && line["before"] == "running" {
			perResource++
		}
	}
	if perResource != 1 {
		t.Errorf("%d log lines for stopping %s, want 1; log:\n%s", perResource, f.ids[0], l.Log())
	}
}

// Function names ec2_stop_KEY / ec2_start_KEY with a plain scheduled event;
// the config at the default place, $LAMBDA_TASK_ROOT/aws_resource_start_stop.yml.
func TestLambdaFunctionNameForms(t *testing.T) {
	t.Parallel()
	f := setup(t)
	root := filepath.Dir(f.conf) // the config is named as at the default place

	stop := f.lambda(t, named(root, "ec2_stop_batch_servers"))
	rep := report(t, stop, scheduledEvent)
	if rep.Action != startstop.Stop || rep.Totals.Changed != 1 || rep.Results[0].ID != f.ids[2] {
		t.Fatalf("%+v", rep)
	}
	f.wantStates(t, "running", "running", "stopped")
	stop.Close()

	start := f.lambda(t, named(root, "ec2_start_batch_servers"))
	rep = report(t, start, scheduledEvent)
	if rep.Action != startstop.Start || rep.Totals.Changed != 1 {
		t.Fatalf("%+v", rep)
	}
	f.wantStates(t, "running", "running", "running")
}

// Bad input fails the invocation with one line and touches nothing.
func TestLambdaBadInput(t *testing.T) {
	t.Parallel()
	f := setup(t)
	malformed := writeFile(t, "bad.yml", "region_name: us-east-1\ndev-env:\n  - type: ec2.instance\n    ids: [i-0123456789abcdef0\n")
	ctx := context.Background()
	l := f.lambda(t, nil)
	tests := []struct {
		name, event, wantType, want string
	}{
		{"bad action", `{"action": "reboot", "configKey": "dev-env"}`, "BadRequest", `action "reboot": want "start", "stop" or "status"`},
		{"configKey not a string", `{"action": "stop", "configKey": {"k": 1}}`, "BadRequest", "configKey is neither a string nor a list of strings"},
		{"unknown key", `{"action": "stop", "configKey": ["dev-env", "staging"]}`, "BadRequest", `no config key "staging" (keys: "batch_servers", "dev-env")`},
		{"scheduled event, name not ec2_*", `{"detail-type": "Scheduled Event"}`, "BadRequest", `function name "startstop": want ec2_start_KEY or ec2_stop_KEY`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := l.Invoke(ctx, tt.event)
			if fe := testbed.WantFunctionError(t, err, tt.wantType, tt.want); strings.Contains(fe.Message, "\n") {
				t.Errorf("%s: %q, want one line", fe.Type, fe.Message)
			}
		})
	}
	l.Close()

	bad := f.lambda(t, map[string]string{"AWSUTILS_CONFIG": malformed})
	_, err := bad.Invoke(ctx, `{"action": "stop", "configKey": "dev-env"}`)
	if fe := testbed.WantFunctionError(t, err, "BadConfig", "malformed YAML"); !strings.HasPrefix(fe.Message, malformed+":") {
		t.Errorf("malformed YAML: %q, want it to start with the file", fe.Message)
	}
	bad.Close()

	// hibernate on a group of another type: the file and line, nothing
	// touched.
	hib := writeFile(t, "hibernate.yml", fmt.Sprintf("region_name: %s\ndev-env:\n  - type: ec2.instance\n    ids: [%s]\n  - type: rds.db_instance\n    ids: [my-postgres]\n    hibernate: true\n",
		testbed.Region, f.ids[0]))
	_, err = f.lambda(t, map[string]string{"AWSUTILS_CONFIG": hib}).Invoke(ctx, `{"action": "stop", "configKey": "dev-env"}`)
	testbed.WantFunctionError(t, err, "BadConfig", hib+":7: dev-env: hibernate: only ec2.instance groups take it, not rds.db_instance")
	if got := f.states(t); !reflect.DeepEqual(got, []string{"running", "running", "running"}) {
		t.Errorf("bad input touched instances: %v", got)
	}
}

// A resource that fails fails the invocation, naming it, after the others
// were done.
func TestLambdaFailedResourceFailsInvocation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const missing = "i-0123456789abcdef0"
	f.conf = writeFile(t, startstop.ConfigFile, fmt.Sprintf("region_name: %s\nk:\n  - type: ec2.instance\n    ids: [%s, %s]\n  - type: rds.db_instance\n    ids: [my-aurora-cluster-1]\n", testbed.Region, f.ids[0], missing))
	l := f.lambda(t, nil)
	_, err := l.Invoke(context.Background(), `{"action": "stop", "configKey": "k"}`)
	fe := testbed.WantFunctionError(t, err, "ResourcesFailed", "")
	for _, want := range []string{"2 of 3 resources failed or unsupported", missing + ": instance not found", "member of cluster my-aurora-cluster"} {
		if !strings.Contains(fe.Message, want) {
			t.Errorf("message %q lacks %q", fe.Message, want)
		}
	}
	if got := f.states(t); got[0] != "stopped" {
		t.Errorf("the valid instance was not stopped: %v", got)
	}
	// The failed run still publishes its counts.
	out := l.Output()
	docs, err := emf.FromLog(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 {
		t.Fatalf("%d EMF lines, want 1:\n%s", len(docs), out)
	}
	d := docs[0]
	if d["function"] != "startstop" || d["key"] != "k" || d["action"] != "stop" || d["ResourcesChanged"] != 1.0 ||
		d["ResourcesFailed"].(float64)+d["ResourcesUnsupported"].(float64) != 2 || d["ResourcesUnchanged"] != 0.0 {
		t.Errorf("EMF line %v, want function startstop, key k, action stop, 1 changed, 2 failed or unsupported", d)
	}
}

func TestMetrics(t *testing.T) {
	rep := &startstop.Report{Action: startstop.Start, Keys: []string{"dev-env", "batch"}, Duration: 1500 * time.Millisecond,
		Totals: startstop.Totals{Total: 10, Changed: 4, Unchanged: 3, Failed: 2, Unsupported: 1}}
	at := time.UnixMilli(1767225600000)
	var buf bytes.Buffer
	if err := metrics("ec2_start_dev", rep, at).Write(&buf); err != nil {
		t.Fatal(err)
	}
	docs, err := emf.FromLog(buf.String())
	if err != nil || len(docs) != 1 {
		t.Fatalf("%v %v", docs, err)
	}
	d := docs[0]
	delete(d, "_aws")
	want := map[string]any{"function": "ec2_start_dev", "key": "dev-env,batch", "action": "start",
		"ResourcesChanged": 4.0, "ResourcesUnchanged": 3.0, "ResourcesFailed": 2.0, "ResourcesUnsupported": 1.0, "Duration": 1500.0}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("got  %v\nwant %v", d, want)
	}
}

// A person who keeps the aws_resource_start_stop.yml of the Python version,
// which uses anchors, aliases, merge keys and helper keys, and replaces only
// the zip: the file at the function's root, the original function names
// and events.
func TestLambdaKeptYAML(t *testing.T) {
	t.Parallel()
	f := setup(t)
	conf := fmt.Sprintf(`region_name: %s
x-app-servers: &app [%s, %s]
.ec2: &ec2 {type: ec2.instance}
dev-env:
  - <<: *ec2
    ids: *app
  - &aurora {type: rds.db_cluster, ids: [my-aurora-cluster]}
  - {type: rds.db_instance, ids: [&pg my-postgres]}
batch_servers:
  - <<: *ec2
    ids: [%s]
  - *aurora
  - type: rds.db_instance
    ids: [*pg]
`, testbed.Region, f.ids[0], f.ids[1], f.ids[2])
	root := filepath.Dir(writeFile(t, startstop.ConfigFile, conf))

	l := f.lambda(t, named(root, ""))
	rep := report(t, l, `{"action": "stop", "configKey": "dev-env"}`)
	if rep.Totals.Changed != 4 || rep.Totals.Total != 4 {
		t.Fatalf("stop dev-env: %+v", rep)
	}
	f.wantStates(t, "stopped", "stopped", "running")
	warning := filepath.Join(root, startstop.ConfigFile) + ":2: x-app-servers: not a list of {type, ids} entries; ignored"
	if !slices.ContainsFunc(rep.Warnings, func(n string) bool { return strings.HasPrefix(n, warning) }) {
		t.Errorf("notes %q lack %q", rep.Warnings, warning)
	}
	if !strings.Contains(l.Log(), warning) {
		t.Errorf("log lacks %q:\n%s", warning, l.Log())
	}

	// A helper key asked for is a config error naming its line.
	_, err := l.Invoke(context.Background(), `{"action": "start", "configKey": ".ec2"}`)
	want := filepath.Join(root, startstop.ConfigFile) + ":3: .ec2: want a list of {type, ids} entries"
	if fe := testbed.WantFunctionError(t, err, "BadConfig", want); fe.Message != want {
		t.Errorf("configKey .ec2: %q, want %q", fe.Message, want)
	}
	l.Close()

	// The function-name form; the aliased group and id are acted on again
	// (unchanged) along with the instance.
	stop := f.lambda(t, named(root, "ec2_stop_batch_servers"))
	rep = report(t, stop, scheduledEvent)
	if rep.Action != startstop.Stop || rep.Totals.Total != 3 || rep.Totals.Changed != 1 || rep.Totals.Unchanged != 2 {
		t.Fatalf("ec2_stop_batch_servers: %+v", rep)
	}
	f.wantStates(t, "stopped", "stopped", "stopped")
}

// An instance the function's role may not stop fails the invocation, naming
// it and why, after the others were stopped: EC2 refuses every call that
// names it, and the batch is split until it is alone.
func TestLambdaPermissionDeniedFailsOnlyThatInstance(t *testing.T) {
	t.Parallel()
	f := setup(t)
	a, bad, c := f.ids[0], f.ids[1], f.ids[2]
	p := testbed.StartFaultProxy(t, f.moto.Endpoint, testbed.Faults{})
	p.Deny(testbed.Denial{Ops: []string{"StartInstances", "StopInstances"}, IDs: []string{bad}})
	f.conf = writeFile(t, startstop.ConfigFile, fmt.Sprintf("region_name: %s\nk:\n  - type: ec2.instance\n    ids: [%s, %s, %s]\n", testbed.Region, a, bad, c))
	l := f.lambda(t, map[string]string{"AWS_ENDPOINT_URL": p.Endpoint})
	_, err := l.Invoke(context.Background(), `{"action": "stop", "configKey": "k"}`)
	fe := testbed.WantFunctionError(t, err, "ResourcesFailed", "")
	want := "1 of 3 resources failed or unsupported: ec2.instance " + bad + ": StopInstances: UnauthorizedOperation: " + testbed.Principal +
		" is not authorized to perform ec2:StopInstances on arn:aws:ec2:us-east-1:123456789012:instance/" + bad
	if !strings.Contains(fe.Message, want) || strings.Contains(fe.Message, "\n") {
		t.Errorf("message %q, want one line containing %q", fe.Message, want)
	}
	if got := f.states(t); !reflect.DeepEqual(got, []string{"stopped", "running", "stopped"}) {
		t.Errorf("states %v, want %s and %s stopped and %s running", got, a, c, bad)
	}
}
