package packaging

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/awsutils/awsutils/internal/testbed"
	"github.com/awsutils/awsutils/startstop"
	"go.yaml.in/yaml/v3"
)

// The template itself is checked by cfn-lint (`make cfnlint`, part of
// `make test`); these tests pin what cfn-lint cannot know: that the
// schedules send the original's event, and that no role grows beyond the
// permissions deploy/README.md documents.

func loadTemplate(t *testing.T) *yaml.Node {
	t.Helper()
	b := templateFile(t)
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("deploy/template.yaml: %v", err)
	}
	return doc.Content[0]
}

// templateFile is deploy/template.yaml.
func templateFile(t *testing.T) []byte {
	t.Helper()
	root, err := testbed.Root()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "deploy", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// get follows mapping keys from n.
func get(t *testing.T, n *yaml.Node, path ...string) *yaml.Node {
	t.Helper()
	for _, k := range path {
		var next *yaml.Node
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == k {
					next = n.Content[i+1]
				}
			}
		}
		if next == nil {
			t.Fatalf("template: no %q in %v", k, path)
		}
		n = next
	}
	return n
}

// eval resolves the few intrinsic functions the schedule inputs use, with
// list parameters taken from params.
func eval(t *testing.T, n *yaml.Node, params map[string][]string) any {
	t.Helper()
	switch n.Tag {
	case "!Ref":
		if v, ok := params[n.Value]; ok {
			return v
		}
		t.Fatalf("template: !Ref %s not given", n.Value)
	case "!Join":
		sep := n.Content[0].Value
		list, ok := eval(t, n.Content[1], params).([]string)
		if !ok {
			t.Fatalf("template: !Join of a non-list at line %d", n.Line)
		}
		return strings.Join(list, sep)
	case "!Sub":
		s, local := n.Value, map[string]string{}
		if n.Kind == yaml.SequenceNode {
			s = n.Content[0].Value
			m := n.Content[1]
			for i := 0; i+1 < len(m.Content); i += 2 {
				local[m.Content[i].Value] = eval(t, m.Content[i+1], params).(string)
			}
		}
		for k, v := range local {
			s = strings.ReplaceAll(s, "${"+k+"}", v)
		}
		if strings.Contains(s, "${") {
			t.Fatalf("template: unresolved variable in %q", s)
		}
		return s
	case "!!str":
		return n.Value
	}
	t.Fatalf("template: cannot evaluate %s at line %d", n.Tag, n.Line)
	return nil
}

func TestTemplateScheduleInput(t *testing.T) {
	tmpl := loadTemplate(t)
	tests := []struct {
		resource, param, action string
		keys                    []string
	}{
		{"ScheduleStart", "StartConfigKeys", "start", []string{"dev-env"}},
		{"ScheduleStart", "StartConfigKeys", "start", []string{"dev-env", "batch_servers", "日本語"}},
		{"ScheduleStop", "StopConfigKeys", "stop", []string{"dev-env", "batch-servers"}},
	}
	for _, tt := range tests {
		t.Run(tt.resource+"/"+strings.Join(tt.keys, ","), func(t *testing.T) {
			in := get(t, tmpl, "Resources", tt.resource, "Properties", "Target", "Input")
			s := eval(t, in, map[string][]string{tt.param: tt.keys}).(string)
			var got struct {
				Action    string   `json:"action"`
				ConfigKey []string `json:"configKey"`
			}
			dec := json.NewDecoder(strings.NewReader(s))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("input %q is not the original's event: %v", s, err)
			}
			if got.Action != tt.action || !reflect.DeepEqual(got.ConfigKey, tt.keys) {
				t.Errorf("input %q = %+v, want action %q keys %q", s, got, tt.action, tt.keys)
			}
		})
	}
}

// actions collects the IAM statements under n, both branches of every !If,
// as action -> the resources it is allowed on.
func actions(n *yaml.Node, into map[string][]string) {
	if n.Kind == yaml.MappingNode {
		var acts, res *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			switch n.Content[i].Value {
			case "Action":
				acts = n.Content[i+1]
			case "Resource":
				res = n.Content[i+1]
			}
		}
		if acts != nil && res != nil {
			for _, a := range scalars(acts) {
				into[a] = append(into[a], scalars(res)...)
			}
			return
		}
	}
	for _, c := range n.Content {
		actions(c, into)
	}
}

func scalars(n *yaml.Node) []string {
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!Ref" && n.Value == "AWS::NoValue" {
			return nil
		}
		return []string{n.Value}
	}
	content := n.Content
	if n.Tag == "!If" {
		content = content[1:] // both branches, not the condition's name
	}
	var out []string
	for _, c := range content {
		out = append(out, scalars(c)...)
	}
	return out
}

// startStopRole is the StartStopRole's row of TestTemplateRoles: the
// registry's permissions, its log group and the failure queue.
func startStopRole() (row struct {
	role     string
	want     []string
	anyWhere []string
}) {
	row.role = "StartStopRole"
	row.want = []string{"logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage"}
	for _, p := range startstop.Permissions() {
		row.want = append(row.want, p.Actions...)
		if p.Resource == "*" {
			row.anyWhere = append(row.anyWhere, p.Actions...)
		}
	}
	slices.Sort(row.want)
	row.want = slices.Compact(row.want)
	return row
}

// TestTemplateStartStopRole checks the start/stop policy of the template's
// role against the registry: each type's start and stop actions on its
// ARN in the target region and the stack's account (any id), its describe
// calls on "*", nothing else.
func TestTemplateStartStopRole(t *testing.T) {
	tmpl := loadTemplate(t)
	var stmts *yaml.Node
	for _, p := range get(t, tmpl, "Resources", "StartStopRole", "Properties", "Policies").Content {
		if get(t, p, "PolicyName").Value == "startstop" {
			stmts = get(t, p, "PolicyDocument", "Statement")
		}
	}
	if stmts == nil {
		t.Fatal("StartStopRole: no policy named startstop")
	}
	arn := strings.NewReplacer("${AWS::Partition}", "{partition}", "${Region}", "{region}", "${AWS::AccountId}", "{account}")
	got := map[string][]string{}
	for _, st := range stmts.Content {
		res := get(t, st, "Resource")
		r := res.Value
		if res.Tag == "!Sub" && res.Kind == yaml.SequenceNode {
			r = res.Content[0].Value
		}
		r = arn.Replace(r)
		for _, a := range scalars(get(t, st, "Action")) {
			got[a] = append(got[a], r)
		}
	}
	want := map[string][]string{}
	for _, p := range startstop.Permissions() {
		for _, a := range p.Actions {
			if !slices.Contains(want[a], p.Resource) {
				want[a] = append(want[a], p.Resource)
			}
		}
	}
	for a := range got {
		slices.Sort(got[a])
	}
	for a := range want {
		slices.Sort(want[a])
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("StartStopRole's startstop policy (action: resources)\n got %v\nwant %v (startstop's registry)", got, want)
	}
}

// TestTemplateRoles pins each role's actions, and which of them may apply
// to every resource ("*"): only calls that cannot be limited.
func TestTemplateRoles(t *testing.T) {
	tmpl := loadTemplate(t)
	tests := []struct {
		role     string
		want     []string
		anyWhere []string // actions allowed on Resource "*"
	}{
		// What start/stop needs comes from startstop's registry (see
		// TestTemplateStartStopRole).
		startStopRole(),
		{"UploadRole", []string{
			"ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
			"ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses",
			"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite",
			"kms:Decrypt", "kms:GenerateDataKey",
			"logs:CreateLogStream", "logs:PutLogEvents",
			"s3:AbortMultipartUpload", "s3:GetObject", "s3:ListBucket", "s3:PutObject",
			"sqs:SendMessage",
		}, []string{
			"ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
			"ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses",
		}},
		{"StartStopSchedulerRole", []string{"lambda:InvokeFunction", "sqs:SendMessage"}, nil},
		{"UploadSchedulerRole", []string{"lambda:InvokeFunction", "sqs:SendMessage"}, nil},
		{"UploadStateMachineRole", []string{
			"lambda:InvokeFunction", "s3:GetObject",
			"states:DescribeExecution", "states:StartExecution", "states:StopExecution",
		}, nil},
		{"UploadStateMachineSchedulerRole", []string{"sqs:SendMessage", "states:StartExecution"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			got := map[string][]string{}
			actions(get(t, tmpl, "Resources", tt.role, "Properties", "Policies"), got)
			var names []string
			for a := range got {
				names = append(names, a)
				if strings.Contains(a, "*") {
					t.Errorf("wildcard action %q", a)
				}
				if slices.Contains(got[a], "*") != slices.Contains(tt.anyWhere, a) {
					t.Errorf("%s on resources %q; on \"*\" only %v may be", a, got[a], tt.anyWhere)
				}
			}
			slices.Sort(names)
			if !reflect.DeepEqual(names, tt.want) {
				t.Errorf("actions\n got %q\nwant %q", names, tt.want)
			}
		})
	}
}

// resolve evaluates n for one deployment: !Ref of parameters and pseudo
// parameters (a resource's !Ref is its logical id: see withResources),
// !Sub (both forms), !If on the named conditions, !GetAtt as
// "<resource>.<attribute>".
func resolve(t *testing.T, n *yaml.Node, params map[string]string, conds map[string]bool) any {
	t.Helper()
	switch n.Tag {
	case "!Ref":
		if n.Value == "AWS::NoValue" {
			return nil
		}
		if v, ok := params[n.Value]; ok {
			return v
		}
		t.Fatalf("template: !Ref %s not given", n.Value)
	case "!GetAtt":
		return n.Value
	case "!If":
		c, ok := conds[n.Content[0].Value]
		if !ok {
			t.Fatalf("template: condition %s not given", n.Content[0].Value)
		}
		if c {
			return resolve(t, n.Content[1], params, conds)
		}
		return resolve(t, n.Content[2], params, conds)
	case "!Sub":
		s, vars := n.Value, map[string]string{}
		for k, v := range params {
			vars[k] = v
		}
		if n.Kind == yaml.SequenceNode {
			s = n.Content[0].Value
			m := n.Content[1]
			for i := 0; i+1 < len(m.Content); i += 2 {
				vars[m.Content[i].Value] = resolve(t, m.Content[i+1], params, conds).(string)
			}
		}
		for k, v := range vars {
			s = strings.ReplaceAll(s, "${"+k+"}", v)
		}
		if strings.Contains(s, "${") {
			t.Fatalf("template: unresolved variable in %q", s)
		}
		return s
	case "!!str", "!!int", "!!float", "!!bool":
		return n.Value
	}
	if n.Kind == yaml.SequenceNode {
		var out []any
		for _, c := range n.Content {
			out = append(out, resolve(t, c, params, conds))
		}
		return out
	}
	if n.Kind == yaml.MappingNode {
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			out[n.Content[i].Value] = resolve(t, n.Content[i+1], params, conds)
		}
		return out
	}
	t.Fatalf("template: cannot resolve %s at line %d", n.Tag, n.Line)
	return nil
}

var deployment = map[string]string{
	"AWS::Partition": "aws", "AWS::Region": "ap-northeast-1", "AWS::AccountId": "123456789012", "AWS::StackName": "awsutils",
	"UploadFunctionName": "", "UploadSrcDir": "/mnt/efs/out", "UploadBucket": "archive", "UploadKeyPrefix": "batch/out",
	"UploadRemoveSrc": "true", "UploadMaxConcurrency": "40", "UploadToleratedFailurePercentage": "10.0",
	"UploadBatchFiles": "2000", "UploadBatchBytes": "0",
}

// The distributed schedule's input is the state machine's input: every
// field the definition reads (internal/statemachine checks that list),
// typed as Step Functions needs them (moto refuses an integer tolerance
// written in a definition; here it comes from the input as a float).
func TestTemplateDistributedScheduleInput(t *testing.T) {
	tmpl := loadTemplate(t)
	for _, named := range []bool{false, true} {
		params := withResources(tmpl, deployment)
		name := "awsutils-s3upload"
		if named {
			params["UploadFunctionName"], name = "nightly", "nightly"
		}
		conds := map[string]bool{"HasUploadName": named}
		in := get(t, tmpl, "Resources", "ScheduleUploadDistributed", "Properties", "Target", "Input")
		s := resolve(t, in, params, conds).(string)
		var got struct {
			SrcDir         string  `json:"srcDir"`
			Bucket         string  `json:"bucket"`
			KeyPrefix      string  `json:"keyPrefix"`
			RemoveSrc      bool    `json:"removeSrc"`
			ManifestPrefix string  `json:"manifestPrefix"`
			BatchFiles     int     `json:"batchFiles"`
			BatchBytes     int64   `json:"batchBytes"`
			MaxConcurrency int     `json:"maxConcurrency"`
			Tolerated      float64 `json:"toleratedFailurePercentage"`
		}
		dec := json.NewDecoder(strings.NewReader(s))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("input %q: %v", s, err)
		}
		want := "s3://archive/.awsutils/manifests/" + name + "/"
		if got.SrcDir != "/mnt/efs/out" || got.Bucket != "archive" || got.KeyPrefix != "batch/out" || !got.RemoveSrc ||
			got.ManifestPrefix != want || got.BatchFiles != 2000 || got.BatchBytes != 0 || got.MaxConcurrency != 40 || got.Tolerated != 10 {
			t.Errorf("input %q = %+v, want the parameters and manifests under %s", s, got, want)
		}
		if !strings.Contains(s, `"toleratedFailurePercentage": 10.0`) {
			t.Errorf("input %q: tolerance not written as the float given", s)
		}
	}
}

// Each role of distributed mode reaches exactly its own: the function, the
// manifests of this stack's function, the state machine and its children.
func TestTemplateDistributedResources(t *testing.T) {
	tmpl := loadTemplate(t)
	params := withResources(tmpl, deployment)
	conds := map[string]bool{"HasUploadName": false, "HasKeyPrefix": true, "UploadHasBucket": true,
		"UploadHasKms": false, "UploadInVpc": false, "UploadHasEfs": false, "UploadRemovesSrc": true, "UploadDistributed": true}
	const manifests = "arn:aws:s3:::archive/.awsutils/manifests/awsutils-s3upload/*"
	tests := []struct {
		role string
		want map[string][]string
	}{
		{"UploadStateMachineRole", map[string][]string{
			"lambda:InvokeFunction":    {"UploadFunction.Arn"},
			"s3:GetObject":             {manifests},
			"states:StartExecution":    {"arn:aws:states:ap-northeast-1:123456789012:stateMachine:awsutils-s3upload"},
			"states:DescribeExecution": {"arn:aws:states:ap-northeast-1:123456789012:execution:awsutils-s3upload/*"},
			"states:StopExecution":     {"arn:aws:states:ap-northeast-1:123456789012:execution:awsutils-s3upload/*"},
		}},
		{"UploadStateMachineSchedulerRole", map[string][]string{
			"states:StartExecution": {"UploadStateMachine"},
			"sqs:SendMessage":       {"FailureQueue.Arn"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			got := statements(t, resolve(t, get(t, tmpl, "Resources", tt.role, "Properties", "Policies"), params, conds))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("statements\n got %v\nwant %v", got, tt.want)
			}
		})
	}
	got := statements(t, resolve(t, get(t, tmpl, "Resources", "UploadRole", "Properties", "Policies"), params, conds))
	for _, a := range []string{"s3:PutObject", "s3:GetObject"} {
		if !slices.Contains(got[a], manifests) {
			t.Errorf("UploadRole %s on %q, want also the manifests %s", a, got[a], manifests)
		}
	}
	if !slices.Contains(got["s3:ListBucket"], "arn:aws:s3:::archive") {
		t.Errorf("UploadRole s3:ListBucket on %q", got["s3:ListBucket"])
	}
}

// withResources adds each resource's logical id as its own !Ref value.
func withResources(tmpl *yaml.Node, params map[string]string) map[string]string {
	out := maps.Clone(params)
	for i := 0; i+1 < len(tmpl.Content); i += 2 {
		if tmpl.Content[i].Value != "Resources" {
			continue
		}
		r := tmpl.Content[i+1]
		for j := 0; j+1 < len(r.Content); j += 2 {
			out[r.Content[j].Value] = r.Content[j].Value
		}
	}
	return out
}

// statements maps each action of resolved policies to its resources.
func statements(t *testing.T, policies any) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, p := range policies.([]any) {
		pm, ok := p.(map[string]any)
		if !ok {
			continue // a resolved AWS::NoValue
		}
		for _, st := range pm["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			sm, ok := st.(map[string]any)
			if !ok {
				continue // an optional statement resolved to AWS::NoValue
			}
			res := list(sm["Resource"])
			for _, a := range list(sm["Action"]) {
				out[a] = append(out[a], res...)
			}
		}
	}
	return out
}

func list(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, e.(string))
		}
		return out
	}
	return nil
}

// The distributed schedule writes UploadSrcDir and UploadKeyPrefix into a
// JSON string: their patterns keep out what would end it early.
func TestTemplateJSONSafeParameters(t *testing.T) {
	tmpl := loadTemplate(t)
	tests := []struct {
		param     string
		good, bad []string
	}{
		{"UploadSrcDir", []string{"/mnt/efs", "/mnt/efs/out put/日本語"}, []string{`/mnt/"x`, `/mnt/a\b`, "mnt/efs"}},
		{"UploadKeyPrefix", []string{"", "a", "batch/out", "a b/c"}, []string{`a"b`, `a\b`, "/a", "a/"}},
	}
	for _, tt := range tests {
		re := regexp.MustCompile(get(t, tmpl, "Parameters", tt.param, "AllowedPattern").Value)
		for _, v := range tt.good {
			if !re.MatchString(v) {
				t.Errorf("%s refuses %q", tt.param, v)
			}
		}
		for _, v := range tt.bad {
			if re.MatchString(v) {
				t.Errorf("%s accepts %q", tt.param, v)
			}
		}
	}
}
