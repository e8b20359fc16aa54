package startstop

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// pyyamlCase is what PyYAML's yaml.safe_load made of one file in
// testdata/pyyaml, as testdata/pyyaml/gen.py recorded it in expected.json.
type pyyamlCase struct {
	Value     map[string]any `json:"value"`
	Error     string         `json:"error"`
	Line      int            `json:"line"`
	Recursive []string       `json:"recursive"` // keys whose value contains itself, left out of Value
}

// The files in testdata/pyyaml must mean here what they meant to the
// original, which read them with PyYAML's safe_load. expected.json names
// the release it was recorded with, one that agrees with the YAML merge
// spec on which mapping of a merge list wins, as the files were written
// for; a release that lets the later one win (yaml/pyyaml#953) reads only
// merge-list.yml differently (docs/NOTES.md).
func TestParseAsPyYAML(t *testing.T) {
	raw, err := os.ReadFile("testdata/pyyaml/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var expected struct {
		PyYAML string                `json:"pyyaml"`
		Cases  map[string]pyyamlCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &expected); err != nil {
		t.Fatal(err)
	}
	if expected.PyYAML != "6.0.3" {
		t.Fatalf("expected.json is from PyYAML %s; regenerate it with 6.0.3 (see the comment above)", expected.PyYAML)
	}
	const ignored = "not a list of {type, ids} entries; ignored (asking for this key is an error)"
	tests := []struct {
		file  string
		err   string   // Parse's error; "" when the file parses
		warns []string // exactly these warnings
		// asked maps a key Parse ignored to the error asking for it gives.
		asked map[string]string
		// why Parse refuses a file PyYAML reads.
		why string
	}{
		{file: "ids-alias.yml", warns: []string{"ids-alias.yml:2: x-common: " + ignored},
			asked: map[string]string{"x-common": "ids-alias.yml:2: x-common: want an entry with type and ids"}},
		{file: "id-alias-in-list.yml"},
		{file: "merge-base.yml", warns: []string{"merge-base.yml:1: .defaults: " + ignored},
			asked: map[string]string{".defaults": "merge-base.yml:1: .defaults: want a list of {type, ids} entries"}},
		{file: "merge-list.yml", warns: []string{"merge-list.yml:1: .ec2: " + ignored, "merge-list.yml:2: .rds: " + ignored, "merge-list.yml:3: .tokyo: " + ignored}},
		{file: "merge-override.yml", warns: []string{"merge-override.yml:1: .defaults: " + ignored}},
		{file: "merge-nested.yml", warns: []string{"merge-nested.yml:1: .ec2: " + ignored, "merge-nested.yml:2: .osaka: " + ignored}},
		{file: "two-merge-keys.yml", warns: []string{"two-merge-keys.yml:1: .a: " + ignored, "two-merge-keys.yml:2: .b: " + ignored}},
		{file: "group-anchor-two-keys.yml"},
		{file: "helper-keys.yml", warns: []string{
			"helper-keys.yml:2: x-common: " + ignored,
			"helper-keys.yml:3: .defaults: " + ignored,
			"helper-keys.yml:4: x-note: " + ignored,
		}, asked: map[string]string{
			"x-common":  "helper-keys.yml:2: x-common: want an entry with type and ids",
			".defaults": "helper-keys.yml:3: .defaults: want a list of {type, ids} entries",
			"x-note":    "helper-keys.yml:4: x-note: want a list of {type, ids} entries",
		}},
		// A key a merge key brings in loses silently to one written out, at
		// the top (prod) as in a group (batch's ids); .keys and .g are
		// mappings, so not config keys.
		{file: "merge-then-duplicate.yml", warns: []string{"merge-then-duplicate.yml:1: .keys: " + ignored, "merge-then-duplicate.yml:12: .g: " + ignored}},
		{file: "alias-cycle.yml", warns: []string{"alias-cycle.yml:1: x-loop: " + ignored},
			asked: map[string]string{"x-loop": "alias-cycle.yml:1: x-loop: want an entry with type and ids"}},
		{file: "yaml11-quoted.yml"},
		{file: "undefined-alias.yml", err: "undefined-alias.yml:6: malformed YAML: unknown anchor 'web2' referenced"},
		{file: "duplicate-anchor.yml", err: "duplicate-anchor.yml:2: malformed YAML: anchor &ids defined twice (first on line 1)"},
		{file: "merge-scalar.yml", err: "merge-scalar.yml:2: <<: want a mapping or a list of mappings to merge, found a scalar"},
		{file: "ids-alias-mapping.yml", err: "ids-alias-mapping.yml:4: dev: ids: want a list of resource ids",
			why: "ids is a mapping to PyYAML too (the line is where the alias is used)"},
		{file: "yaml11-bool-ids.yml", err: `yaml11-bool-ids.yml:3: dev: ids: on is not a string id (YAML 1.1 reads it as a boolean; quote it: 'on')`,
			why: "PyYAML reads on as True, which no AWS call takes as an id"},
		{file: "yaml11-bool-region.yml", err: "yaml11-bool-region.yml:3: dev: region: want a region name",
			why: "PyYAML reads no as False"},
		{file: "yaml11-bool-region-name.yml", err: "yaml11-bool-region-name.yml:1: region_name: want a region name",
			why: "PyYAML reads off as False"},
		{file: "merge-self.yml", err: "merge-self.yml:3: <<: merges a mapping into itself",
			why: "PyYAML drops a merge of the mapping it is in; a cycle is surely a slip, so say so"},
	}
	files, _ := filepath.Glob("testdata/pyyaml/*.yml")
	if len(files) != len(tests) || len(expected.Cases) != len(tests) {
		t.Fatalf("%d files, %d recorded, %d cases: keep them in step (run gen.py after adding a file)", len(files), len(expected.Cases), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			py, ok := expected.Cases[tt.file]
			if !ok {
				t.Fatalf("no PyYAML result for %s: run gen.py", tt.file)
			}
			data, err := os.ReadFile(filepath.Join("testdata/pyyaml", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(tt.file, data)
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("error %v\nwant %q", err, tt.err)
				}
				if py.Error == "" && tt.why == "" {
					t.Errorf("PyYAML reads this file (%v): say why refusing it is right", py.Value)
				}
				if py.Error != "" && py.Line != 0 && !strings.HasPrefix(err.Error(), fmt.Sprintf("%s:%d:", tt.file, py.Line)) {
					t.Errorf("PyYAML's error is on line %d (%s); ours: %v", py.Line, py.Error, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("PyYAML reads it, Parse: %v", err)
			}
			if py.Error != "" {
				t.Fatalf("Parse reads a file PyYAML refuses: %s", py.Error)
			}
			if got, want := c.Region, originalRegion(py.Value); got != want {
				t.Errorf("region %q, PyYAML %q", got, want)
			}
			want := originalKeys(py.Value)
			if got := parsedKeys(c); !reflect.DeepEqual(got, want) {
				t.Errorf("keys\n got %v\nwant %v", got, want)
			}
			if !reflect.DeepEqual(c.Warnings, tt.warns) && (len(c.Warnings)+len(tt.warns) > 0) {
				t.Errorf("warnings\n got %q\nwant %q", c.Warnings, tt.warns)
			}
			// Every key PyYAML has is a config key or ignored.
			for name := range py.Value {
				if _, isKey := want[name]; !isKey && name != "region_name" {
					if _, err := c.Lookup(name); err == nil {
						t.Errorf("%s: Lookup finds a key that is not a list of groups", name)
					}
				}
			}
			for name, msg := range tt.asked {
				_, err := c.Lookup(name)
				if err == nil || err.Error() != msg {
					t.Errorf("Lookup(%q) = %v, want %q", name, err, msg)
				}
				if _, err := NewPlan(c, Request{Action: Stop, Keys: []string{name}}, "us-east-1"); err == nil || err.Error() != msg {
					t.Errorf("NewPlan(%q) = %v, want %q", name, err, msg)
				}
			}
		})
	}
}

// group is a {type, ids, region} entry as the original acted on it.
type group struct {
	Type, Region string
	IDs          []string
}

func originalRegion(v map[string]any) string {
	s, _ := v["region_name"].(string)
	return s
}

// originalKeys are the config keys PyYAML's value has: the top-level lists
// of mappings, each id once per key as Parse keeps it.
func originalKeys(v map[string]any) map[string][]group {
	out := map[string][]group{}
	for name, val := range v {
		list, ok := val.([]any)
		if name == "region_name" || !ok {
			continue
		}
		var groups []group
		seen := map[[3]string]bool{}
		for _, item := range list {
			m, ok := item.(map[string]any)
			if !ok {
				continue
			}
			g := group{}
			g.Type, _ = m["type"].(string)
			g.Region, _ = m["region"].(string)
			ids, _ := m["ids"].([]any)
			for _, id := range ids {
				s := fmt.Sprint(id)
				if k := [3]string{g.Type, g.Region, s}; !seen[k] {
					seen[k] = true
					g.IDs = append(g.IDs, s)
				}
			}
			groups = append(groups, g)
		}
		if groups != nil {
			out[name] = groups
		}
	}
	return out
}

func parsedKeys(c *Config) map[string][]group {
	out := map[string][]group{}
	for _, k := range c.Keys {
		for _, g := range k.Groups {
			out[k.Name] = append(out[k.Name], group{Type: string(g.Type), Region: g.Region, IDs: g.IDs})
		}
	}
	return out
}

// Lines in messages are where the value is written: a merged field's own
// line, an id's line inside the anchored list, an alias's line where it
// is used.
func TestParseAliasLines(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"merged type", ".d: &d {type: ec2.instanse}\nk:\n  - <<: *d\n    ids: [i-0123456789abcdef0]\n", `f.yml:1: k: type: unknown type "ec2.instanse"`},
		{"id in an anchored list", "x: &ids\n  - i-0123456789abcdef0\n  - web-1\nk:\n  - type: ec2.instance\n    ids: *ids\n", `f.yml:3: k: ids: "web-1" is not an EC2 instance id`},
		{"aliased id", "a:\n  - type: rds.db_instance\n    ids: [&n 42x]\nk:\n  - type: ec2.instance\n    ids:\n      - i-0123456789abcdef0\n      - *n\n", `f.yml:8: k: ids: "42x" is not an EC2 instance id`},
		{"aliased group missing ids", "x: &g {type: rds.db_instance}\nk:\n  - type: rds.db_instance\n    ids: [a]\n  - *g\n", "f.yml:5: k: ids: missing"},
		{"merge list with a scalar", ".a: &a {type: ec2.instance}\nk:\n  - <<: [*a, x]\n    ids: [i-0123456789abcdef0]\n", "f.yml:3: <<: want a mapping to merge, found a scalar"},
		{"aliased ids scalar", "x: &s pg1\nk:\n  - type: rds.db_instance\n    ids: *s\n", "f.yml:4: k: ids: want a list, e.g. [pg1]"},
		{"unknown anchor in flow", "k: [{type: ec2.instance,\n  ids: [i-0123456789abcdef0,\n   *nope]}]\n", "f.yml:3: malformed YAML: unknown anchor 'nope' referenced"},
		{"unknown anchor, last line without newline", "k:\n  - *g", "f.yml:2: malformed YAML: unknown anchor 'g' referenced"},
		{"quoted << is a field", "k:\n  - type: ec2.instance\n    \"<<\": {}\n    ids: [i-0123456789abcdef0]\n", `f.yml:3: k: unknown field "<<"`},
		{"helper only", "x-common: &c [i-0123456789abcdef0]\n", "f.yml:1: x-common: want an entry with type and ids"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.yml", []byte(tt.yaml))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %v\nwant %q", err, tt.want)
			}
		})
	}
}

// A key asked for that the file has only as a helper says so through the
// whole run, and names no other key as missing.
func TestRunRefusesIgnoredKey(t *testing.T) {
	c, err := Parse("f.yml", []byte("region_name: us-east-1\nx-ids: &ids [i-0123456789abcdef0]\ndev:\n  - type: ec2.instance\n    ids: *ids\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.KeyNames(); !reflect.DeepEqual(got, []string{"dev"}) {
		t.Errorf("keys %v", got)
	}
	_, err = NewPlan(c, Request{Action: Start, Keys: []string{"dev", "x-ids"}}, "us-east-1")
	if err == nil || err.Error() != "f.yml:2: x-ids: want an entry with type and ids" {
		t.Errorf("err = %v", err)
	}
	_, err = NewPlan(c, Request{Action: Start, Keys: []string{"nope"}}, "us-east-1")
	if err == nil || err.Error() != `f.yml: no config key "nope" (keys: "dev")` {
		t.Errorf("err = %v", err)
	}
	names := append([]string(nil), c.KeyNames()...)
	sort.Strings(names)
	if len(names) != 1 {
		t.Errorf("ignored key listed: %v", names)
	}
}
