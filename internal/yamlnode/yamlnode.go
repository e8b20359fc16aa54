// Package yamlnode reads a YAML config file the way the Python toolkit's
// PyYAML safe_load did, so that a file the original read means the same
// here: aliases stand for the node their anchor names, merge keys (<<)
// expand with PyYAML's precedence, and plain scalars are typed by YAML 1.1
// rules (yes, no, on and off are booleans). The config parsers walk the
// nodes themselves, which keeps every node's line for their messages;
// this package only answers what a node means.
//
// Nothing is copied or expanded ahead of time: a mapping's merged entries
// are worked out once when first asked for, and the work all aliases and
// merges may cause is bounded (see Doc.Pairs and Doc.Items), so an alias
// cycle or a "billion laughs" document ends with an error, not a hang.
package yamlnode

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/awsutils/awsutils/internal/yamlerr"
)

// Doc is one parsed YAML document.
type Doc struct {
	// File names the document in messages, which read "file:line: ...".
	File string
	// Root is the document's top node; nil when the document is empty.
	Root *yaml.Node

	flat   map[*yaml.Node][]Pair
	busy   map[*yaml.Node]bool
	budget int
}

// Pair is one entry of a mapping. Key and Value are the nodes as written
// (an alias stays an alias), so their lines are where the entry is.
type Pair struct{ Key, Value *yaml.Node }

// A document may cost this many entries and items through aliases and
// merges on top of a few per node it has: real configs stay far below,
// while a document built to expand exponentially stops early.
const (
	baseBudget    = 100_000
	budgetPerNode = 16
)

// Parse reads the first document of data. Syntax errors read
// "file:line: malformed YAML: ...", including an alias whose anchor is not
// defined before it and an anchor defined twice, both of which PyYAML
// refuses.
func Parse(file string, data []byte) (*Doc, error) {
	var top yaml.Node
	if err := yaml.Unmarshal(data, &top); err != nil {
		return nil, yamlerr.Syntax(file, withAliasLine(data, err))
	}
	d := &Doc{File: file, flat: map[*yaml.Node][]Pair{}, busy: map[*yaml.Node]bool{}}
	if len(top.Content) == 0 {
		d.budget = baseBudget
		return d, nil
	}
	d.Root = top.Content[0]
	nodes, err := d.checkAnchors()
	if err != nil {
		return nil, err
	}
	d.budget = baseBudget + budgetPerNode*nodes
	return d, nil
}

// checkAnchors refuses an anchor defined twice (yaml.v3 lets the later one
// win; PyYAML stops) and counts the nodes. Children are never shared and
// aliases are not followed, so this walks a tree.
func (d *Doc) checkAnchors() (int, error) {
	first := map[string]int{}
	stack := []*yaml.Node{d.Root}
	n := 0
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n++
		if x.Anchor != "" && x.Kind != yaml.AliasNode {
			if line, ok := first[x.Anchor]; ok {
				return 0, fmt.Errorf("%s:%d: malformed YAML: anchor &%s defined twice (first on line %d)", d.File, x.Line, x.Anchor, line)
			}
			first[x.Anchor] = x.Line
		}
		if x.Kind != yaml.AliasNode {
			// In reverse, so nodes are met in document order and the
			// error names the later anchor.
			for i := len(x.Content) - 1; i >= 0; i-- {
				stack = append(stack, x.Content[i])
			}
		}
	}
	return n, nil
}

var unknownAnchor = regexp.MustCompile(`^yaml: unknown anchor '.*' referenced$`)

// withAliasLine adds the line to yaml.v3's "unknown anchor" error, which
// has none. The parser stops at the first such alias and never needs text
// after the line the alias is on to see it, so the shortest run of whole
// lines that gives the same error ends on that line.
func withAliasLine(data []byte, err error) error {
	msg := err.Error()
	if !unknownAnchor.MatchString(msg) {
		return err
	}
	var ends []int // ends[i] is the offset just past line i+1
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	same := func(lines int) bool {
		var n yaml.Node
		e := yaml.Unmarshal(data[:ends[lines-1]], &n)
		return e != nil && e.Error() == msg
	}
	lo, hi := 1, len(ends)
	for lo < hi {
		mid := lo + (hi-lo)/2
		if same(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return fmt.Errorf("yaml: line %d: %s", lo, strings.TrimPrefix(msg, "yaml: "))
}

// Resolve returns the node an alias stands for, or n itself.
func Resolve(n *yaml.Node) *yaml.Node {
	// An anchor is never on an alias, so one step is enough; the bound
	// only guards against a hand-built node graph.
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	return n
}

// The implicit types PyYAML (YAML 1.1) gives a plain scalar, tried in this
// order; anything else is a string. Copied from PyYAML's resolver.py.
var implicit = []struct {
	tag string
	re  *regexp.Regexp
}{
	{"!!bool", regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)},
	{"!!float", regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)},
	{"!!int", regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)},
	{"!!merge", regexp.MustCompile(`^<<$`)},
	{"!!null", regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)},
	{"!!timestamp", regexp.MustCompile(`^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$`)},
	{"!!value", regexp.MustCompile(`^=$`)},
}

// Tag is the tag PyYAML's safe_load gives n (after aliases): "!!str",
// "!!bool", "!!int", "!!null", "!!map", "!!seq", ... yaml.v3 types plain
// scalars by YAML 1.2, where yes and on are strings and 1e3 is a number;
// the original read them as YAML 1.1 does, the other way round.
func Tag(n *yaml.Node) string {
	n = Resolve(n)
	if n == nil {
		return ""
	}
	if n.Kind != yaml.ScalarNode || n.Style&yaml.TaggedStyle != 0 {
		return n.ShortTag()
	}
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return "!!str"
	}
	for _, t := range implicit {
		if t.re.MatchString(n.Value) {
			return t.tag
		}
	}
	return "!!str"
}

// IsMerge says whether k is a merge key: a plain <<, as in PyYAML (a
// quoted "<<" is an ordinary key).
func IsMerge(k *yaml.Node) bool { return Tag(k) == "!!merge" }

// Repeated returns the first key of mapping m that is written a second
// time, merge keys aside, with the line it was first written on; nil if
// none is. (PyYAML lets the later one win.)
func Repeated(m *yaml.Node) (k *yaml.Node, first int) {
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if IsMerge(k) {
			continue
		}
		kv := Resolve(k).Value
		if prev, ok := seen[kv]; ok {
			return k, prev
		}
		seen[kv] = k.Line
	}
	return nil, 0
}

// spend takes n from the budget, or says where it ran out.
func (d *Doc) spend(at *yaml.Node, n int) error {
	d.budget -= n
	if d.budget < 0 {
		return fmt.Errorf("%s:%d: aliases and merge keys expand to too many values; refusing to read further", d.File, at.Line)
	}
	return nil
}

// Items are the entries of the sequence s (after aliases), as written.
func (d *Doc) Items(s *yaml.Node) ([]*yaml.Node, error) {
	r := Resolve(s)
	if r == nil || r.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d: want a list", d.File, s.Line)
	}
	if err := d.spend(s, len(r.Content)); err != nil {
		return nil, err
	}
	return r.Content, nil
}

// Pairs are the entries of the mapping m (after aliases) as PyYAML's
// safe_load puts them in its dict: every merge key (<<: *a, <<: {...} or
// <<: [*a, *b]) is replaced by the entries it merges, and one entry per
// key is left, in the order the keys first appear. Which one is left is
// PyYAML's choice: a key written in m wins over a merged one; of the
// mappings in one merge list the earlier wins; of two merge keys in one
// mapping the later wins; of a key written twice the later wins. Callers
// that refuse a key written twice check m.Content themselves.
//
// (One PyYAML release lets the later mapping of a merge list win for keys
// longer than one character, yaml/pyyaml#953; the releases before it and
// the YAML merge spec agree on the earlier, and existing files were
// written for them. docs/NOTES.md says which release.)
func (d *Doc) Pairs(m *yaml.Node) ([]Pair, error) {
	r := Resolve(m)
	if r == nil || r.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a mapping", d.File, m.Line)
	}
	if p, ok := d.flat[r]; ok {
		if err := d.spend(m, len(p)); err != nil {
			return nil, err
		}
		return p, nil
	}
	if d.busy[r] {
		return nil, fmt.Errorf("%s:%d: <<: merges a mapping into itself", d.File, m.Line)
	}
	d.busy[r] = true
	defer delete(d.busy, r)
	if err := d.spend(m, len(r.Content)/2); err != nil {
		return nil, err
	}
	// all is PyYAML's flattened node.value: merged entries (in the order
	// that makes a later one win), then the mapping's own.
	var all, own []Pair
	for i := 0; i+1 < len(r.Content); i += 2 {
		k, v := r.Content[i], r.Content[i+1]
		if !IsMerge(k) {
			own = append(own, Pair{k, v})
			continue
		}
		merged, err := d.merge(k, v)
		if err != nil {
			return nil, err
		}
		all = append(all, merged...)
	}
	all = append(all, own...)
	p := dedupe(all)
	d.flat[r] = p
	return p, nil
}

// merge is what the merge key k with value v brings in.
func (d *Doc) merge(k, v *yaml.Node) ([]Pair, error) {
	rv := Resolve(v)
	switch rv.Kind {
	case yaml.MappingNode:
		return d.Pairs(v)
	case yaml.SequenceNode:
		for _, s := range rv.Content {
			if Resolve(s).Kind != yaml.MappingNode {
				return nil, fmt.Errorf("%s:%d: <<: want a mapping to merge, found %s", d.File, s.Line, kindName(s))
			}
		}
		// Later entries win, so the list's first mapping goes last.
		var out []Pair
		for i := len(rv.Content) - 1; i >= 0; i-- {
			p, err := d.Pairs(rv.Content[i])
			if err != nil {
				return nil, err
			}
			out = append(out, p...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s:%d: <<: want a mapping or a list of mappings to merge, found %s", d.File, k.Line, kindName(v))
}

// dedupe keeps one entry per key like a Python dict built from all: the
// place of the key's first entry, the content of its last.
func dedupe(all []Pair) []Pair {
	type id struct {
		tag, value string
		node       *yaml.Node // for keys that are not scalars
	}
	key := func(k *yaml.Node) id {
		r := Resolve(k)
		if r.Kind == yaml.ScalarNode {
			return id{tag: Tag(r), value: r.Value}
		}
		return id{node: r}
	}
	at := make(map[id]int, len(all))
	out := make([]Pair, 0, len(all))
	for _, p := range all {
		k := key(p.Key)
		if i, ok := at[k]; ok {
			out[i] = p
			continue
		}
		at[k] = len(out)
		out = append(out, p)
	}
	return out
}

func kindName(n *yaml.Node) string {
	switch Resolve(n).Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a scalar"
}
