package yamlnode

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The tags PyYAML gives these plain scalars
// (yaml.resolver.Resolver().resolve(ScalarNode, value, (True, False)), in
// the release docs/NOTES.md names).
func TestTagIsPyYAMLs(t *testing.T) {
	pyyaml := map[string]string{
		"yes": "!!bool", "no": "!!bool", "on": "!!bool", "off": "!!bool", "Yes": "!!bool", "TRUE": "!!bool",
		"True": "!!bool", "NO": "!!bool", "Off": "!!bool", "y": "!!str", "n": "!!str",
		"1e3": "!!str", "1.0e+3": "!!float", ".5": "!!float", "-.inf": "!!float", ".NaN": "!!float", "1.2.3": "!!str",
		"0o17": "!!str", "1:20": "!!int", "012": "!!int", "019": "!!str", "08": "!!str", "1_000": "!!int",
		"0x1f": "!!int", "0b101": "!!int", "+12": "!!int", "-0": "!!int",
		"2001-12-14": "!!timestamp", "2001-12-14 21:59:43.10 -5": "!!timestamp",
		"~": "!!null", "null": "!!null", "Null": "!!null",
		"<<": "!!merge", "=": "!!value",
		"i-0123456789abcdef0": "!!str", "ap-northeast-1": "!!str", "my-postgres": "!!str",
	}
	for v, want := range pyyaml {
		d, err := Parse("f.yml", []byte("k: "+v+"\n"))
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if got := Tag(d.Root.Content[1]); got != want {
			t.Errorf("Tag(%s) = %s, PyYAML %s", v, got, want)
		}
	}
	d, err := Parse("f.yml", []byte("a: 'yes'\nb: \"1:20\"\nc: !!str on\nd: |\n  yes\ne:\nf: &x on\ng: *x\nh: [on]\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"!!str", "!!str", "!!str", "!!str", "!!null", "!!bool", "!!bool", "!!seq"}
	for i := range want {
		if got := Tag(d.Root.Content[2*i+1]); got != want[i] {
			t.Errorf("value %d (%s): %s, want %s", i, d.Root.Content[2*i].Value, got, want[i])
		}
	}
}

// rootPairs parses doc as f.yml and returns it with the entries of its
// top mapping.
func rootPairs(t *testing.T, doc string) (*Doc, []Pair) {
	t.Helper()
	d, err := Parse("f.yml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	root, err := d.Pairs(d.Root)
	if err != nil {
		t.Fatal(err)
	}
	return d, root
}

// pairs renders a mapping's entries as "key=value" with the value's line.
func pairs(t *testing.T, d *Doc, m *yaml.Node) string {
	t.Helper()
	p, err := d.Pairs(m)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, e := range p {
		s = append(s, fmt.Sprintf("%s=%s@%d", Resolve(e.Key).Value, Resolve(e.Value).Value, e.Value.Line))
	}
	return strings.Join(s, " ")
}

// Each "m" below, as PyYAML's safe_load gives it (json.dumps of
// yaml.safe_load(doc)["m"] in the release docs/NOTES.md names), keys in
// its order.
func TestPairsAsPyYAML(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"written wins over merged", "b: &b {k: b, j: b}\nm:\n  <<: *b\n  k: own\n", "k=own@4 j=b@1"},
		{"written before the merge still wins", "b: &b {k: b}\nm:\n  k: own\n  <<: *b\n", "k=own@3"},
		{"earlier of a merge list wins", "x: &x {key: x, aa: x}\ny: &y {key: y, bb: y}\nm: {<<: [*x, *y], cc: m}\n", "key=x@1 bb=y@2 aa=x@1 cc=m@3"},
		{"later of two merge keys wins", "x: &x {key: x}\ny: &y {key: y}\nm: {<<: *x, <<: *y}\n", "key=y@2"},
		{"merge of a merge", "x: &x {k: x}\ny: &y {<<: *x, j: y}\nm: {<<: *y}\n", "k=x@1 j=y@2"},
		{"inline mapping", "m: {<<: {k: inline}, j: m}\n", "k=inline@1 j=m@1"},
		{"a key written twice: the later", "m:\n  k: 1\n  k: 2\n", "k=2@3"},
		{"quoted << is a key", "m: {\"<<\": {k: 1}}\n", "<<=@1"},
		{"alias key", "a: &a k\nm: {*a : v}\n", "k=v@2"},
		{"merge list through an alias", "x: &x {k: x}\ny: &y {k: y, j: y}\nl: &l [*x, *y]\nm: {<<: *l}\n", "k=x@1 j=y@2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, root := rootPairs(t, tt.doc)
			var m *yaml.Node
			for _, p := range root {
				if p.Key.Value == "m" {
					m = p.Value
				}
			}
			if got := pairs(t, d, m); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"undefined alias", "a: 1\nb:\n  - c\n  - *nope\n", "f.yml:4: malformed YAML: unknown anchor 'nope' referenced"},
		{"alias before its anchor", "a: *x\nb: &x 1\n", "f.yml:1: malformed YAML: unknown anchor 'x' referenced"},
		{"undefined alias as a key", "a: 1\n*k : 2\n", "f.yml:2: malformed YAML: unknown anchor 'k' referenced"},
		{"undefined alias, CRLF", "a: 1\r\nb: *x\r\n", "f.yml:2: malformed YAML: unknown anchor 'x' referenced"},
		{"anchor twice", "a: &x 1\nb: [&x 2]\n", "f.yml:2: malformed YAML: anchor &x defined twice (first on line 1)"},
		{"syntax", "a: [1\n", "f.yml:1: malformed YAML: did not find expected ',' or ']'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.yml", []byte(tt.doc))
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v\nwant %s", err, tt.want)
			}
		})
	}
	merge := []struct{ name, doc, want string }{
		{"scalar", "m: {<<: 1}\n", "f.yml:1: <<: want a mapping or a list of mappings to merge, found a scalar"},
		{"list with a list", "a: &a {k: 1}\nm:\n  <<: [*a, [1]]\n", "f.yml:3: <<: want a mapping to merge, found a list"},
		{"itself", "m: &m {k: 1, <<: *m}\n", "f.yml:1: <<: merges a mapping into itself"},
		{"cycle of two", "a: &a {k: 1, <<: {<<: *a}}\nm: *a\n", "f.yml:1: <<: merges a mapping into itself"},
	}
	for _, tt := range merge {
		t.Run("merge "+tt.name, func(t *testing.T) {
			d, root := rootPairs(t, tt.doc)
			_, err := d.Pairs(root[len(root)-1].Value)
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v\nwant %s", err, tt.want)
			}
		})
	}
}

// The merge-key document of yaml/pyyaml#916, which takes PyYAML
// exponential time (docs/NOTES.md: in which releases): each mapping is
// flattened once here.
func TestMergeExpansionIsLinear(t *testing.T) {
	var b strings.Builder
	b.WriteString("n0: &n0 {k0: 0, k1: 1, k2: 2, k3: 3, k4: 4, k5: 5, k6: 6, k7: 7}\n")
	for lvl := 0; lvl < 12; lvl++ {
		var refs []string
		for i := 0; i < 8; i++ {
			fmt.Fprintf(&b, "a%d_%d: &a%d_%d {<<: *n%d}\n", lvl, i, lvl, i, lvl)
			refs = append(refs, fmt.Sprintf("*a%d_%d", lvl, i))
		}
		fmt.Fprintf(&b, "n%d: &n%d {<<: [%s]}\n", lvl+1, lvl+1, strings.Join(refs, ", "))
	}
	start := time.Now()
	d, root := rootPairs(t, b.String())
	last := root[len(root)-1]
	if got := pairs(t, d, last.Value); !strings.HasPrefix(got, "k0=0@1 k1=1@1") || strings.Count(got, "=") != 8 {
		t.Errorf("%s: %s", last.Key.Value, got)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %s", el)
	}
}

// Lists that alias lists are never expanded, but a reader that walks the
// same large list through many aliases runs out of budget.
func TestItemsBudget(t *testing.T) {
	var b strings.Builder
	b.WriteString("big: &big [")
	for i := 0; i < 2000; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "x%d", i)
	}
	b.WriteString("]\nuses: [")
	for i := 0; i < 2000; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("*big")
	}
	b.WriteString("]\n")
	d, err := Parse("f.yml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	uses, err := d.Items(d.Root.Content[3])
	if err != nil {
		t.Fatal(err)
	}
	var walked int
	for _, u := range uses {
		items, err := d.Items(u)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yml:2: aliases and merge keys expand to too many values") {
				t.Fatal(err)
			}
			if walked < 100_000 || walked > 2_000_000 {
				t.Errorf("stopped after %d values", walked)
			}
			return
		}
		walked += len(items)
	}
	t.Fatalf("walked %d values through aliases without a limit", walked)
}
