package startstop

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// TestRegistryComplete fails when a registered type lacks any part the
// rest of awsutils reads from the registry.
func TestRegistryComplete(t *testing.T) {
	seen := map[Type]bool{}
	for i := range registry {
		k := &registry[i]
		if err := checkKind(k); err != nil {
			t.Error(err)
		}
		if seen[k.Type] {
			t.Errorf("type %q registered twice", k.Type)
		}
		seen[k.Type] = true
		for _, a := range append(append(append([]string(nil), k.Start.IAM...), k.Stop.IAM...), k.Describe.IAM...) {
			if !strings.HasPrefix(a, k.Service+":") {
				t.Errorf("%s: IAM action %s is not of service %s", k.Type, a, k.Service)
			}
		}
		if k.New(nil, k, aws.Config{}, Batch{Region: "r", Type: k.Type}) == nil {
			t.Errorf("%s: New made no worker", k.Type)
		}
	}
	if len(Types) != len(registry) {
		t.Errorf("Types %v, registry %d", Types, len(registry))
	}
}

// TestCheckKind shows that each missing part is found.
func TestCheckKind(t *testing.T) {
	full := ec2Kind
	if err := checkKind(&full); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		strip func(k *kind)
	}{
		{"YAML name", func(k *kind) { k.Type = "" }},
		{"Noun", func(k *kind) { k.Noun = "" }},
		{"Sid", func(k *kind) { k.Sid = "" }},
		{"IDs", func(k *kind) { k.IDs = "" }},
		{"CheckID", func(k *kind) { k.CheckID = nil }},
		{"ARN form", func(k *kind) { k.ARN = "arn:{partition}:ec2:{region}:instance/{id}" }},
		{"Service", func(k *kind) { k.Service = "nope" }},
		{"Start call", func(k *kind) { k.Start.IAM = nil }},
		{"Stop call", func(k *kind) { k.Stop.Op = "" }},
		{"Describe call", func(k *kind) { k.Describe.IAM = []string{"ec2:Describe*"} }},
		{"Also x", func(k *kind) { k.Also = []grant{{Sid: "x"}} }},
		{"Target", func(k *kind) { k.Target = map[Action]string{Start: "running"} }},
		{"Chunk", func(k *kind) { k.Chunk = 0 }},
		{"field f", func(k *kind) { k.Fields = []field{{Name: "f"}} }},
		{"Doc", func(k *kind) { k.Doc.Stop = "" }},
		{"New", func(k *kind) { k.New = nil }},
	} {
		k := full
		tt.strip(&k)
		err := checkKind(&k)
		if err == nil || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("without %s: %v", tt.name, err)
		}
	}
}

// TestPolicyCoversEveryType: the policy for one resource of every
// registered type allows each type's start and stop actions on that
// resource's ARN only, and its describe and further calls on "*".
func TestPolicyCoversEveryType(t *testing.T) {
	conf := &Config{Region: "eu-west-1"}
	key := Key{Name: "k"}
	for _, k := range registry {
		key.Groups = append(key.Groups, Group{Type: k.Type, IDs: []string{"id-" + strings.ReplaceAll(string(k.Type), ".", "-")}})
	}
	conf.Keys = []Key{key}
	doc := Policy(conf, PolicyOptions{Partition: "aws", AccountID: "123456789012"})
	allowed := map[string][]string{} // action -> resources
	for _, st := range doc.Statement {
		for _, a := range st.Action {
			allowed[a] = append(allowed[a], st.Resource...)
		}
	}
	want := map[string][]string{}
	for _, k := range registry {
		arn := k.arn("aws", "eu-west-1", "123456789012", "id-"+strings.ReplaceAll(string(k.Type), ".", "-"))
		for _, a := range distinct(append(append([]string(nil), k.Start.IAM...), k.Stop.IAM...)) {
			want[a] = append(want[a], arn)
		}
		for _, a := range anywhere(&k) {
			if !slices.Contains(want[a], "*") {
				want[a] = append(want[a], "*")
			}
		}
	}
	for _, m := range []map[string][]string{want, allowed} {
		for a := range m {
			slices.Sort(m[a])
		}
	}
	if !reflect.DeepEqual(allowed, want) {
		t.Errorf("policy allows\n%v\nwant\n%v", allowed, want)
	}
}
