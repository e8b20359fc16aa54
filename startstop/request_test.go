package startstop

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/awsutils/awsutils/internal/testbed"
)

func TestParseEvent(t *testing.T) {
	tests := []struct {
		name    string
		event   string
		want    Request
		wantErr string // "" means success; "none" means ErrNoRequest
	}{
		{"one key", `{"action": "start", "configKey": "dev-env"}`, Request{Start, []string{"dev-env"}}, ""},
		{"list of keys", `{"action": "stop", "configKey": ["dev-env", "batch_servers"]}`, Request{Stop, []string{"dev-env", "batch_servers"}}, ""},
		{"status", `{"action": "status", "configKey": ["dev-env"]}`, Request{Status, []string{"dev-env"}}, ""},
		{"extra fields ignored", `{"action": "stop", "configKey": "k", "source": "aws.events"}`, Request{Stop, []string{"k"}}, ""},
		{"scheduled event", `{"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}`, Request{}, "none"},
		{"empty object", `{}`, Request{}, "none"},
		{"null", `null`, Request{}, "none"},
		{"nothing", ``, Request{}, "none"},
		{"not an object", `"start"`, Request{}, "event is not a JSON object"},
		{"bad action", `{"action": "restart", "configKey": "k"}`, Request{}, `action "restart": want "start", "stop" or "status"`},
		{"action not a string", `{"action": 1, "configKey": "k"}`, Request{}, "action is not a string"},
		{"action missing", `{"configKey": "k"}`, Request{}, "action missing"},
		{"key missing", `{"action": "start"}`, Request{}, "configKey missing"},
		{"key a number", `{"action": "start", "configKey": 3}`, Request{}, "configKey is neither a string nor a list of strings"},
		{"key list of numbers", `{"action": "start", "configKey": [3]}`, Request{}, "configKey is neither"},
		{"empty key list", `{"action": "start", "configKey": []}`, Request{}, "configKey is empty"},
		{"empty key", `{"action": "start", "configKey": ""}`, Request{}, "empty key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEvent([]byte(tt.event))
			switch tt.wantErr {
			case "":
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got %+v, want %+v", got, tt.want)
				}
			case "none":
				if !errors.Is(err, ErrNoRequest) {
					t.Errorf("err = %v, want ErrNoRequest", err)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, ErrNoRequest) {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				if err != nil && !strings.Contains(err.Error(), `want {"action"`) {
					t.Errorf("error %q does not say what was expected", err)
				}
			}
		})
	}
}

func TestFromFunctionName(t *testing.T) {
	tests := []struct {
		name    string
		want    Request
		wantErr string
	}{
		{"ec2_start_dev", Request{Start, []string{"dev"}}, ""},
		{"ec2_stop_dev-env", Request{Stop, []string{"dev-env"}}, ""},
		{"ec2_start_batch_servers_tokyo", Request{Start, []string{"batch_servers_tokyo"}}, ""},
		{"ec2_stop_start_x", Request{Stop, []string{"start_x"}}, ""},
		{"ec2_start_", Request{}, "has no config key"},
		{"ec2_restart_dev", Request{}, "want ec2_start_KEY or ec2_stop_KEY"},
		{"startstop", Request{}, "want ec2_start_KEY or ec2_stop_KEY"},
		{"", Request{}, "no function name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromFunctionName(tt.name)
			if !testbed.WantErr(t, err, tt.wantErr) {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNewPlan(t *testing.T) {
	c, err := Parse("f.yml", []byte(`region_name: us-east-1
a:
  - type: rds.db_instance
    ids: [pg1]
  - type: ec2.instance
    ids: [i-0123456789abcdef0, i-0123456789abcdef1]
  - type: ec2.instance
    region: eu-west-1
    ids: [i-0123456789abcdef2]
b:
  - type: ec2.instance
    ids: [i-0123456789abcdef1, i-0123456789abcdef3]
  - type: rds.db_cluster
    ids: [aurora1]
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(c, Request{Start, []string{"a", "b", "a"}}, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	want := []Batch{
		{Region: "eu-west-1", Type: EC2Instance, IDs: []string{"i-0123456789abcdef2"}},
		{Region: "us-east-1", Type: EC2Instance, IDs: []string{"i-0123456789abcdef0", "i-0123456789abcdef1", "i-0123456789abcdef3"}},
		{Region: "us-east-1", Type: DBCluster, IDs: []string{"aurora1"}},
		{Region: "us-east-1", Type: DBInstance, IDs: []string{"pg1"}},
	}
	if !reflect.DeepEqual(p.Batches, want) {
		t.Errorf("batches\n got %+v\nwant %+v", p.Batches, want)
	}
	if p.Len() != 6 {
		t.Errorf("len %d", p.Len())
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], `i-0123456789abcdef1 is listed under both "a" and "b"`) {
		t.Errorf("warnings %q", p.Warnings)
	}

	_, err = NewPlan(c, Request{Stop, []string{"a", "nope"}}, "us-east-1")
	var uk *UnknownKeyError
	if !errors.As(err, &uk) || !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("err = %v, want UnknownKeyError", err)
	}
	if got := err.Error(); got != `f.yml: no config key "nope" (keys: "a", "b")` {
		t.Errorf("message %q", got)
	}
}

func TestReportText(t *testing.T) {
	r := &Report{Action: Stop, Keys: []string{"dev"}, Results: []Result{
		{Type: EC2Instance, ID: "i-0123456789abcdef0", Region: "us-east-1", Before: "running", After: "stopping", Outcome: Changed},
		{Type: DBInstance, ID: "pg1", Region: "us-east-1", Before: "available", After: "available", Outcome: Unsupported,
			Message: "member of cluster c1; list the cluster under rds.db_cluster"},
		{Type: EC2Instance, ID: "i-0123456789abcdef9", Region: "us-east-1", Outcome: Failed, Message: "instance not found in us-east-1"},
	}, Warnings: []string{"a note"}}
	r.summarize()
	var b strings.Builder
	if err := r.Text(&b, false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 6 {
		t.Fatalf("want header, 3 rows, note, summary; got:\n%s", b.String())
	}
	// tabwriter aligns in runes (the arrow is one rune, three bytes).
	col := len([]rune(lines[0][:strings.Index(lines[0], "RESULT")]))
	for i, l := range lines[1:4] {
		if got := string([]rune(l)[col:]); !strings.HasPrefix(got, string(r.Results[i].Outcome)) {
			t.Errorf("row not aligned under RESULT: %q", l)
		}
	}
	if !strings.Contains(lines[1], "running → stopping") || !strings.Contains(lines[3], "? → ?") {
		t.Errorf("state column:\n%s", b.String())
	}
	if lines[4] != "note: a note" {
		t.Errorf("note line %q", lines[4])
	}
	if !strings.HasPrefix(lines[5], "stop dev: 1 changed, 1 failed, 1 unsupported of 3 resources in ") {
		t.Errorf("summary %q", lines[5])
	}
	if r.OK() {
		t.Error("report with failures is OK")
	}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "2 of 3 resources failed or unsupported: rds.db_instance pg1: member of cluster c1") {
		t.Errorf("Err = %v", err)
	}
}
