package packaging

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/awsutils/awsutils/internal/testbed"
	"go.yaml.in/yaml/v3"
)

// The template itself is checked by cfn-lint (`make cfnlint`, part of
// `make test`); these tests pin what cfn-lint cannot know: that the
// schedules send the original's event, and that no role grows beyond the
// permissions deploy/README.md documents.

func loadTemplate(t *testing.T) *yaml.Node {
	t.Helper()
	root, err := testbed.Root()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "deploy", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("deploy/template.yaml: %v", err)
	}
	return doc.Content[0]
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

// TestTemplateRoles pins each role's actions, and which of them may apply
// to every resource ("*"): only calls that cannot be limited.
func TestTemplateRoles(t *testing.T) {
	tmpl := loadTemplate(t)
	tests := []struct {
		role     string
		want     []string
		anyWhere []string // actions allowed on Resource "*"
	}{
		{"StartStopRole", []string{
			"ec2:DescribeInstances", "ec2:StartInstances", "ec2:StopInstances",
			"logs:CreateLogStream", "logs:PutLogEvents",
			"rds:DescribeDBClusters", "rds:DescribeDBInstances",
			"rds:StartDBCluster", "rds:StartDBInstance", "rds:StopDBCluster", "rds:StopDBInstance",
			"sqs:SendMessage",
		}, []string{"ec2:DescribeInstances", "rds:DescribeDBClusters", "rds:DescribeDBInstances"}},
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
