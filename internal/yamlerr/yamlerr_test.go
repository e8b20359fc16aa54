package yamlerr

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestSyntax(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"region_name: [x\n", "c.yml:1: malformed YAML: did not find expected ',' or ']'"},
		{"a: 1\n b: 2\n", "c.yml:2: malformed YAML: mapping values are not allowed in this context"},
		{"a:\n\t- x\n", "c.yml:2: malformed YAML: found character that cannot start any token"},
	}
	for _, tt := range tests {
		var n yaml.Node
		err := yaml.Unmarshal([]byte(tt.in), &n)
		if err == nil {
			t.Fatalf("%q parsed", tt.in)
		}
		if got := Syntax("c.yml", err).Error(); got != tt.want {
			t.Errorf("Syntax(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
