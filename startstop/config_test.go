package startstop

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// original is the example of the original README, with real-looking ids.
const original = `region_name: ap-northeast-1
dev-env:                 # a "config key": any name
  - type: ec2.instance
    ids: [i-0123456789abcdef0, i-0fedcba9876543210]
  - type: rds.db_cluster
    ids: [my-aurora-cluster]
  - type: rds.db_instance
    ids: [my-postgres]
batch_servers:
  - type: ec2.instance
    ids:
      - i-0aaaaaaaaaaaaaaaa
`

func TestParseOriginal(t *testing.T) {
	c, err := Parse("aws_resource_start_stop.yml", []byte(original))
	if err != nil {
		t.Fatal(err)
	}
	if c.Region != "ap-northeast-1" {
		t.Errorf("region %q", c.Region)
	}
	if got := c.KeyNames(); !reflect.DeepEqual(got, []string{"dev-env", "batch_servers"}) {
		t.Errorf("keys %v", got)
	}
	k, _ := c.Key("dev-env")
	want := []Group{
		{Type: EC2Instance, IDs: []string{"i-0123456789abcdef0", "i-0fedcba9876543210"}, Line: 3},
		{Type: DBCluster, IDs: []string{"my-aurora-cluster"}, Line: 5},
		{Type: DBInstance, IDs: []string{"my-postgres"}, Line: 7},
	}
	if !reflect.DeepEqual(k.Groups, want) {
		t.Errorf("groups\n got %+v\nwant %+v", k.Groups, want)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings %v", c.Warnings)
	}
}

func TestParseGroupRegionAndDuplicates(t *testing.T) {
	c, err := Parse("f.yml", []byte(`region_name: us-east-1
k:
  - type: ec2.instance
    ids: [i-0123456789abcdef0, i-0123456789abcdef0]
  - type: ec2.instance
    region: eu-west-1
    ids: [i-0123456789abcdef0]
  - type: ec2.instance
    ids: [i-0123456789abcdef0, i-01234567]
`))
	if err != nil {
		t.Fatal(err)
	}
	k, _ := c.Key("k")
	if got := k.Groups[0].IDs; !reflect.DeepEqual(got, []string{"i-0123456789abcdef0"}) {
		t.Errorf("group 0 ids %v", got)
	}
	if k.Groups[1].Region != "eu-west-1" || len(k.Groups[1].IDs) != 1 {
		t.Errorf("group with its own region: %+v", k.Groups[1])
	}
	if got := k.Groups[2].IDs; !reflect.DeepEqual(got, []string{"i-01234567"}) {
		t.Errorf("group 2 ids %v", got)
	}
	if len(c.Warnings) != 2 || !strings.Contains(c.Warnings[0], "f.yml:3: k: ec2.instance i-0123456789abcdef0 is listed twice") {
		t.Errorf("warnings %q", c.Warnings)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"malformed YAML", "region_name: x\nk:\n  - type: ec2.instance\n   ids: [a\n", "f.yml:2: malformed YAML"},
		{"unclosed quote", "region_name: x\nk:\n  - type: \"ec2.instance\n", "f.yml:3: malformed YAML"},
		{"tab indentation", "k:\n\t- type: x\n", "f.yml:2: malformed YAML"},
		{"empty file", "", "f.yml: empty config"},
		{"not a mapping", "- a\n- b\n", "f.yml:1: want a mapping"},
		{"only region", "region_name: us-east-1\n", "f.yml: no config keys"},
		{"region not a string", "region_name: [a]\nk: []\n", "f.yml:1: region_name"},
		{"key not a list", "region_name: r\ndev:\n  type: ec2.instance\n", "f.yml:3: dev: want a list of {type, ids} entries"},
		{"key is a scalar", "region_name: r\ndev: i-0123456789abcdef0\n", "f.yml:2: dev: want a list"},
		{"entry not a mapping", "k:\n  - ec2.instance\n", "f.yml:2: k: want an entry with type and ids"},
		{"unknown type", "k:\n  - type: ec2.instances\n    ids: [i-0123456789abcdef0]\n", `f.yml:2: k: type: unknown type "ec2.instances" (want one of ` + strings.Join(typeNames(), ", ") + ")"},
		{"missing type", "k:\n  - ids: [i-0123456789abcdef0]\n", "f.yml:2: k: type: missing"},
		{"missing ids", "k:\n  - type: rds.db_instance\n", "f.yml:2: k: ids: missing"},
		{"empty ids", "k:\n  - type: rds.db_instance\n    ids: []\n", "f.yml:3: k: ids: empty"},
		{"null ids", "k:\n  - type: rds.db_instance\n    ids:\n", "f.yml:3: k: ids: empty"},
		{"ids a scalar", "k:\n  - type: rds.db_instance\n    ids: pg1\n", "f.yml:3: k: ids: want a list, e.g. [pg1]"},
		{"non-string id", "k:\n  - type: rds.db_instance\n    ids:\n      - pg1\n      - 42\n", "f.yml:5: k: ids: 42 is not a string id"},
		{"nested id", "k:\n  - type: rds.db_instance\n    ids:\n      - [a]\n", "f.yml:4: k: ids: a list is not a string id"},
		{"bad EC2 id", "k:\n  - type: ec2.instance\n    ids:\n      - i-0123456789abcdef0\n      - my-server\n", `f.yml:5: k: ids: "my-server" is not an EC2 instance id`},
		{"EC2 id not hex", "k:\n  - type: ec2.instance\n    ids: [i-0123456789abcdefg]\n", `is not an EC2 instance id`},
		{"ECS id without cluster", "k:\n  - type: ecs.service\n    ids:\n      - web/api\n      - api\n", `f.yml:5: k: ids: "api" names no cluster (want CLUSTER/SERVICE`},
		{"ECS id with a path", "k:\n  - type: ecs.service\n    ids: [web/api/x]\n", `f.yml:3: k: ids: "web/api/x" is not an ECS CLUSTER/SERVICE`},
		{"ECS id empty cluster", "k:\n  - type: ecs.service\n    ids: [/api]\n", `is not an ECS CLUSTER/SERVICE`},
		{"ASG ARN", "k:\n  - type: autoscaling.group\n    ids: ['arn:aws:autoscaling:r:1:autoScalingGroup:x:autoScalingGroupName/web']\n", `has a colon, which a group name cannot have (give the name, not the ARN) (want the group name`},
		{"ASG name with a space", "k:\n  - type: autoscaling.group\n    ids: [my group]\n", `f.yml:3: k: ids: "my group" has a character an Auto Scaling group name cannot have (' ')`},
		{"unknown field", "k:\n  - type: ec2.instance\n    idz: [i-0123456789abcdef0]\n", `f.yml:3: k: unknown field "idz"`},
		{"empty region", "k:\n  - type: ec2.instance\n    region: ''\n    ids: [i-0123456789abcdef0]\n", "f.yml:3: k: region"},
		{"hibernate on RDS", "k:\n  - type: rds.db_instance\n    ids: [pg1]\n    hibernate: true\n", "f.yml:4: k: hibernate: only ec2.instance groups take it, not rds.db_instance"},
		{"hibernate before type", "k:\n  - hibernate: yes\n    type: rds.db_cluster\n    ids: [c1]\n", "f.yml:2: k: hibernate: only ec2.instance groups take it, not rds.db_cluster"},
		{"hibernate not a boolean", "k:\n  - type: ec2.instance\n    ids: [i-0123456789abcdef0]\n    hibernate: maybe\n", "f.yml:4: k: hibernate: want true or false"},
		{"hibernate quoted", "k:\n  - type: ec2.instance\n    ids: [i-0123456789abcdef0]\n    hibernate: 'true'\n", "f.yml:4: k: hibernate: want true or false"},
		{"unknown field of EC2", "k:\n  - type: ec2.instance\n    ids: [i-0123456789abcdef0]\n    hibernat: true\n", `f.yml:4: k: unknown field "hibernat" (want type, ids or tags, and optionally region, regions, role_arn, external_id, hibernate)`},
		{"key twice", "k:\n  - type: rds.db_instance\n    ids: [a]\nk:\n  - type: rds.db_instance\n    ids: [b]\n", `f.yml:4: key "k" given twice (first on line 1)`},
		{"neither ids nor tags", "k:\n  - type: ec2.instance\n    region: r\n", "f.yml:2: k: ids: missing (want a list of resource ids, or tags to select by)"},
		{"empty tags", "k:\n  - type: ec2.instance\n    tags: {}\n", "f.yml:3: k: tags: empty"},
		{"tags not a map", "k:\n  - type: ec2.instance\n    tags: [Env, dev]\n", "f.yml:3: k: tags: want a mapping of tag keys to values"},
		{"tags null", "k:\n  - type: ec2.instance\n    tags:\n", "f.yml:3: k: tags: want a mapping"},
		{"tag value a boolean", "k:\n  - type: ec2.instance\n    tags: {Stop: yes}\n", "f.yml:3: k: tags: Stop: want a string value (YAML 1.1 does not read it as a string; quote it: 'yes')"},
		{"tag value a list", "k:\n  - type: ec2.instance\n    tags:\n      Env: [a]\n", "f.yml:4: k: tags: Env: want a string value"},
		{"regions on an id group", "k:\n  - type: ec2.instance\n    ids: [i-0123456789abcdef0]\n    regions: [a, b]\n", "f.yml:4: k: regions: only a tag-selector group without ids takes it"},
		{"regions and region", "k:\n  - type: ec2.instance\n    tags: {A: b}\n    region: a\n    regions: [a, b]\n", "f.yml:5: k: regions: give region or regions, not both"},
		{"regions empty", "k:\n  - type: ec2.instance\n    tags: {A: b}\n    regions: []\n", "f.yml:4: k: regions: empty"},
		{"role_arn not a role", "k:\n  - type: ec2.instance\n    ids: [i-0123456789abcdef0]\n    role_arn: arn:aws:iam::123456789012:user/bob\n", `f.yml:4: k: role_arn: "arn:aws:iam::123456789012:user/bob" is not an IAM role ARN`},
		{"role_arn short account", "k:\n  - type: ec2.instance\n    ids: [i-0123456789abcdef0]\n    role_arn: arn:aws:iam::1234:role/x\n", `f.yml:4: k: role_arn: "arn:aws:iam::1234:role/x" is not an IAM role ARN`},
		{"external_id alone", "k:\n  - type: ec2.instance\n    ids: [i-0123456789abcdef0]\n    external_id: abc\n", "f.yml:4: k: external_id: only with role_arn"},
		{"keep_stopped unknown key", "keep_stopped: [dev, nope]\ndev:\n  - type: rds.db_instance\n    ids: [a]\n", `f.yml:1: keep_stopped: no config key "nope" (keys: dev)`},
		{"keep_stopped unknown key on its line", "keep_stopped:\n  - dev\n  - nope\ndev:\n  - type: rds.db_instance\n    ids: [a]\n", `f.yml:3: keep_stopped: no config key "nope"`},
		{"keep_stopped not a list", "keep_stopped: dev\ndev:\n  - type: rds.db_instance\n    ids: [a]\n", "f.yml:1: keep_stopped: want a list of config keys"},
		{"keep_stopped empty", "keep_stopped: []\ndev:\n  - type: rds.db_instance\n    ids: [a]\n", "f.yml:1: keep_stopped: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.yml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// typeNames are the registered types as the unknown-type message lists
// them: all of them, in the registry's order.
func typeNames() []string {
	var s []string
	for _, t := range Types {
		s = append(s, string(t))
	}
	return s
}

// A group's own fields: hibernate on EC2 (PyYAML's booleans), split into
// batches of their own.
func TestParseHibernate(t *testing.T) {
	c, err := Parse("f.yml", []byte("k:\n  - type: ec2.instance\n    ids: [i-0123456789abcdef0]\n    hibernate: yes\n"+
		"  - type: ec2.instance\n    ids: [i-0123456789abcdef1]\n  - type: ec2.instance\n    ids: [i-0123456789abcdef2]\n    hibernate: Off\n"))
	if err != nil {
		t.Fatal(err)
	}
	g := c.Keys[0].Groups
	if g[0].Fields["hibernate"] != true || g[1].Fields != nil || g[2].Fields["hibernate"] != false {
		t.Errorf("fields %v %v %v", g[0].Fields, g[1].Fields, g[2].Fields)
	}
	p, err := NewPlan(c, Request{Action: Stop, Keys: []string{"k"}}, "r")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Batches) != 3 || !p.Batches[0].Flag("hibernate") || p.Batches[1].Flag("hibernate") || p.Batches[2].Flag("hibernate") {
		t.Errorf("batches %+v", p.Batches)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), ConfigFile)
	_, err := Load(path)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v, want not-exist naming the file", err)
	}
}
