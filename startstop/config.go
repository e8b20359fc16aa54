package startstop

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/awsutils/awsutils/internal/yamlnode"
)

// ConfigFile is the original name of the start/stop config file.
const ConfigFile = "aws_resource_start_stop.yml"

// Type is a kind of resource, spelled as in the config file.
type Type string

// The resource types of the original (registry lists them all).
const (
	EC2Instance Type = "ec2.instance"
	DBCluster   Type = "rds.db_cluster"
	DBInstance  Type = "rds.db_instance"
)

// Group is one {type, ids} or {type, tags} entry under a key.
type Group struct {
	Type Type
	IDs  []string
	// Tags select the type's resources whose tags all match, resolved at
	// run time; a value of "*" matches any value of a tag that is present.
	// nil: the group only lists ids.
	Tags map[string]string
	// Region overrides the file's region_name for this group; "" means
	// region_name.
	Region string
	// Regions are the regions a tag selector looks in (instead of
	// Region); only tag-selector groups without ids have them.
	Regions []string
	// RoleARN, when set, is the IAM role in another account the group's
	// calls go through (STS AssumeRole), with ExternalID if given.
	RoleARN, ExternalID string
	// Fields are the type's own group fields that were given (see
	// kind.Fields), e.g. "hibernate": true.
	Fields map[string]any
	// Line is where the group starts in the file.
	Line int
}

// Key is one config key (any top-level name other than region_name) with
// its groups.
type Key struct {
	Name   string
	Groups []Group
	Line   int
}

// Config is an aws_resource_start_stop.yml.
type Config struct {
	// File is the name the config was read from, used in messages.
	File string
	// Region is region_name; "" means the environment's region.
	Region string
	// Keys in file order.
	Keys []Key
	// KeepStopped are the keys named by keep_stopped: their RDS DB
	// instances and clusters are stopped again when RDS starts them after
	// 7 days (see KeepStopped).
	KeepStopped []string
	// Warnings are problems that do not stop a run, such as an id listed
	// twice under one key (it is acted on once) or a top-level key that is
	// not a list of groups (ignored).
	Warnings []string
	// skipped are the top-level keys whose value is not a list of {type,
	// ids} entries, such as one that only holds anchors for other keys. The
	// original only ever read the keys it was asked for, so such a key is
	// an error only when asked for (see Lookup).
	skipped []skippedKey
}

type skippedKey struct {
	name string
	err  error // what asking for it says
}

// Key returns the key named name.
func (c *Config) Key(name string) (Key, bool) {
	for _, k := range c.Keys {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

// Lookup returns the key a request names. A key the file does not have is
// an *UnknownKeyError; a top-level key Parse ignored because it is not a
// list of {type, ids} entries gives that error, with its file and line.
func (c *Config) Lookup(name string) (Key, error) {
	if k, ok := c.Key(name); ok {
		return k, nil
	}
	for _, s := range c.skipped {
		if s.name == name {
			return Key{}, s.err
		}
	}
	return Key{}, &UnknownKeyError{File: c.File, Key: name, Known: c.KeyNames()}
}

// KeyNames are the config keys in file order.
func (c *Config) KeyNames() []string {
	names := make([]string, len(c.Keys))
	for i, k := range c.Keys {
		names[i] = k.Name
	}
	return names
}

// Load reads and checks a config file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse checks the content of a config file; name is used in errors, which
// read "name:line: message". The file means what PyYAML's safe_load, which
// the original used, makes of it: anchors, aliases and merge keys (<<)
// work, and plain yes/no/on/off are booleans (see internal/yamlnode).
func Parse(name string, data []byte) (*Config, error) {
	c := &Config{File: name}
	doc, err := yamlnode.Parse(name, data)
	if err != nil {
		return nil, err
	}
	if doc.Root == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s: empty config: want region_name and at least one key listing resources", name)
	}
	root := yamlnode.Resolve(doc.Root)
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a mapping of region_name and config keys", name, root.Line)
	}
	// A key written twice is most likely a copy-paste slip, so it is
	// refused rather than the later one silently winning as in PyYAML. A
	// key written here still wins silently over one a merge key brings in.
	if k, first := yamlnode.Repeated(root); k != nil {
		return nil, fmt.Errorf("%s:%d: key %q given twice (first on line %d)", name, k.Line, yamlnode.Resolve(k).Value, first)
	}
	pairs, err := doc.Pairs(root)
	if err != nil {
		return nil, err
	}
	var keepNames []*yaml.Node
	for _, p := range pairs {
		k := yamlnode.Resolve(p.Key)
		if k.Value == "keep_stopped" {
			if keepNames, err = parseKeepStopped(doc, p.Value); err != nil {
				return nil, err
			}
			continue
		}
		if k.Value == "region_name" {
			v := yamlnode.Resolve(p.Value)
			tag := yamlnode.Tag(v)
			if v.Kind != yaml.ScalarNode || (tag != "!!str" && tag != "!!null") {
				return nil, fmt.Errorf("%s:%d: region_name: want a region name such as ap-northeast-1", name, p.Value.Line)
			}
			if tag == "!!str" {
				c.Region = strings.TrimSpace(v.Value)
			}
			continue
		}
		if k.Value == "" {
			return nil, fmt.Errorf("%s:%d: empty key name", name, p.Key.Line)
		}
		shaped, err := groupShaped(doc, p.Value)
		if err != nil {
			return nil, err
		}
		key, warns, err := parseKey(doc, p.Key, p.Value)
		if !shaped {
			c.skipped = append(c.skipped, skippedKey{name: k.Value, err: err})
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s:%d: %s: not a list of {type, ids} entries; ignored (asking for this key is an error)",
				name, p.Key.Line, k.Value))
			continue
		}
		if err != nil {
			return nil, err
		}
		c.Keys = append(c.Keys, key)
		c.Warnings = append(c.Warnings, warns...)
	}
	if len(c.Keys) == 0 {
		if len(c.skipped) > 0 {
			// Nothing could be asked for: say why the first key is not one.
			return nil, c.skipped[0].err
		}
		return nil, fmt.Errorf("%s: no config keys: want at least one key listing resources besides region_name", name)
	}
	for _, n := range keepNames {
		if _, ok := c.Key(n.Value); !ok {
			return nil, fmt.Errorf("%s:%d: keep_stopped: no config key %q (keys: %s)", name, n.Line, n.Value, strings.Join(c.KeyNames(), ", "))
		}
		if !slices.Contains(c.KeepStopped, n.Value) {
			c.KeepStopped = append(c.KeepStopped, n.Value)
		}
	}
	return c, nil
}

// parseKeepStopped reads keep_stopped: a list of key names.
func parseKeepStopped(doc *yamlnode.Doc, v *yaml.Node) ([]*yaml.Node, error) {
	const want = "want a list of config keys, e.g. [dev-env]"
	if yamlnode.Resolve(v).Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d: keep_stopped: %s", doc.File, v.Line, want)
	}
	items, err := doc.Items(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%s:%d: keep_stopped: empty (%s)", doc.File, v.Line, want)
	}
	var names []*yaml.Node
	for _, n := range items {
		rn := yamlnode.Resolve(n)
		if rn.Kind != yaml.ScalarNode || yamlnode.Tag(rn) != "!!str" || strings.TrimSpace(rn.Value) == "" {
			return nil, fmt.Errorf("%s:%d: keep_stopped: %s", doc.File, n.Line, want)
		}
		names = append(names, &yaml.Node{Value: strings.TrimSpace(rn.Value), Line: n.Line})
	}
	return names, nil
}

// groupShaped says whether v looks like a config key's value, a list with
// mappings in it: such a key is checked in full even when no one asks for
// it, while anything else (a list of ids, a mapping of defaults) is taken
// for a key that holds anchors for others.
func groupShaped(doc *yamlnode.Doc, v *yaml.Node) (bool, error) {
	if yamlnode.Resolve(v).Kind != yaml.SequenceNode {
		return false, nil
	}
	items, err := doc.Items(v)
	if err != nil {
		return false, err
	}
	for _, g := range items {
		if yamlnode.Resolve(g).Kind == yaml.MappingNode {
			return true, nil
		}
	}
	return false, nil
}

// parseKey reads the groups of the key k; k and v are the nodes as written,
// so an alias's line is where it is used.
func parseKey(doc *yamlnode.Doc, k, v *yaml.Node) (Key, []string, error) {
	file := doc.File
	name := yamlnode.Resolve(k).Value
	key := Key{Name: name, Line: k.Line}
	if yamlnode.Resolve(v).Kind != yaml.SequenceNode {
		return key, nil, fmt.Errorf("%s:%d: %s: want a list of {type, ids} entries", file, v.Line, name)
	}
	items, err := doc.Items(v)
	if err != nil {
		return key, nil, err
	}
	if len(items) == 0 {
		// An empty list would make a key that silently acts on nothing,
		// which is almost surely a config mistake (FuzzParse's corpus
		// keeps the case).
		return key, nil, fmt.Errorf("%s:%d: %s: empty list (want at least one {type, ids} entry)", file, v.Line, name)
	}
	var warns []string
	// An id twice under one key would be acted on twice; warn and keep one.
	first := map[resource]int{} // the line that listed it
	for _, g := range items {
		group, err := parseGroup(doc, name, g)
		if err != nil {
			return key, nil, err
		}
		ids := group.IDs[:0:0]
		for _, id := range group.IDs {
			dk := resource{accountOf(group.RoleARN), group.Region, group.Type, id}
			if line, ok := first[dk]; ok {
				warns = append(warns, fmt.Sprintf("%s:%d: %s: %s %s is listed twice (first on line %d); acting on it once",
					file, g.Line, name, group.Type, id, line))
				continue
			}
			first[dk] = g.Line
			ids = append(ids, id)
		}
		if len(ids) == 0 && group.Tags == nil {
			// Every id was listed before (e.g. one group aliased twice):
			// an empty group would make an empty batch.
			continue
		}
		group.IDs = ids
		key.Groups = append(key.Groups, group)
	}
	return key, warns, nil
}

// parseGroup reads one {type, ids} entry, merge keys included: a field
// written in the entry wins over a merged one, as in PyYAML.
func parseGroup(doc *yamlnode.Doc, key string, g *yaml.Node) (Group, error) {
	file := doc.File
	group := Group{Line: g.Line}
	if yamlnode.Resolve(g).Kind != yaml.MappingNode {
		return group, fmt.Errorf("%s:%d: %s: want an entry with type and ids", file, g.Line, key)
	}
	pairs, err := doc.Pairs(g)
	if err != nil {
		return group, err
	}
	var haveType, haveIDs bool
	var idLines []int
	var tagsLine, regionsLine, externalLine int
	type extra struct{ k, v *yaml.Node }
	var extras []extra
	for _, p := range pairs {
		f, v := yamlnode.Resolve(p.Key), yamlnode.Resolve(p.Value)
		switch f.Value {
		case "type":
			haveType = true
			if v.Kind != yaml.ScalarNode || !Type(v.Value).valid() {
				return group, fmt.Errorf("%s:%d: %s: type: unknown type %q (want one of %s)", file, p.Value.Line, key, v.Value, validTypes())
			}
			group.Type = Type(v.Value)
		case "ids":
			haveIDs = true
			ids, lines, err := parseIDs(doc, key, p.Value)
			if err != nil {
				return group, err
			}
			group.IDs, idLines = ids, lines
		case "region":
			if v.Kind != yaml.ScalarNode || yamlnode.Tag(v) != "!!str" || strings.TrimSpace(v.Value) == "" {
				return group, fmt.Errorf("%s:%d: %s: region: want a region name such as eu-west-1", file, p.Value.Line, key)
			}
			group.Region = strings.TrimSpace(v.Value)
		case "tags":
			tagsLine = p.Key.Line
			if group.Tags, err = parseTags(doc, key, p.Value); err != nil {
				return group, err
			}
		case "regions":
			regionsLine = p.Key.Line
			if group.Regions, err = parseRegions(doc, key, p.Value); err != nil {
				return group, err
			}
		case "role_arn":
			if v.Kind != yaml.ScalarNode || !roleARN.MatchString(strings.TrimSpace(v.Value)) {
				return group, fmt.Errorf("%s:%d: %s: role_arn: %q is not an IAM role ARN (want arn:aws:iam::123456789012:role/NAME)", file, p.Value.Line, key, v.Value)
			}
			group.RoleARN = strings.TrimSpace(v.Value)
		case "external_id":
			externalLine = p.Key.Line
			if v.Kind != yaml.ScalarNode || yamlnode.Tag(v) != "!!str" || !externalID.MatchString(v.Value) || len(v.Value) < 2 || len(v.Value) > 1224 {
				return group, fmt.Errorf("%s:%d: %s: external_id: want 2 to 1224 letters, digits or +=,.@:/-", file, p.Value.Line, key)
			}
			group.ExternalID = v.Value
		default:
			// A type's own field is checked once the type is known: it
			// may come after the field.
			extras = append(extras, extra{p.Key, p.Value})
		}
	}
	if !haveType {
		return group, fmt.Errorf("%s:%d: %s: type: missing (want one of %s)", file, g.Line, key, validTypes())
	}
	k, _ := lookup(group.Type)
	for _, e := range extras {
		name := yamlnode.Resolve(e.k).Value
		f, ok := k.field(name)
		if !ok {
			if ts := typesWithField(name); len(ts) > 0 {
				return group, fmt.Errorf("%s:%d: %s: %s: only %s groups take it, not %s", file, e.k.Line, key, name, strings.Join(ts, " and "), group.Type)
			}
			return group, fmt.Errorf("%s:%d: %s: unknown field %q (want type, ids or tags, and optionally region, regions, role_arn, external_id%s)", file, e.k.Line, key, name, k.fieldNames())
		}
		val, ok := f.Parse(yamlnode.Resolve(e.v))
		if !ok {
			return group, fmt.Errorf("%s:%d: %s: %s: want %s", file, e.v.Line, key, name, f.Want)
		}
		if group.Fields == nil {
			group.Fields = map[string]any{}
		}
		group.Fields[name] = val
	}
	if !haveIDs && group.Tags == nil {
		return group, fmt.Errorf("%s:%d: %s: ids: missing (want a list of resource ids, or tags to select by)", file, g.Line, key)
	}
	if group.Tags != nil && k.Select == nil {
		return group, fmt.Errorf("%s:%d: %s: tags: %s resources cannot be selected by tags (list their ids)", file, tagsLine, key, group.Type)
	}
	if group.Regions != nil {
		switch {
		case haveIDs || group.Tags == nil:
			return group, fmt.Errorf("%s:%d: %s: regions: only a tag-selector group without ids takes it (ids name resources of one region: use region)", file, regionsLine, key)
		case group.Region != "":
			return group, fmt.Errorf("%s:%d: %s: regions: give region or regions, not both", file, regionsLine, key)
		}
	}
	if group.ExternalID != "" && group.RoleARN == "" {
		return group, fmt.Errorf("%s:%d: %s: external_id: only with role_arn", file, externalLine, key)
	}
	for i, id := range group.IDs {
		if err := k.CheckID(id); err != nil {
			return group, fmt.Errorf("%s:%d: %s: ids: %v (want %s)", file, idLines[i], key, err, k.IDs)
		}
	}
	return group, nil
}

// roleARN is an IAM role's ARN: the account is what a role group acts in.
var roleARN = regexp.MustCompile(`^arn:aws(?:-cn|-us-gov|-iso[a-z-]*)?:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)

// externalID is what STS accepts as an external id.
var externalID = regexp.MustCompile(`^[\w+=,.@:/-]+$`)

// accountOf is the account id of a role ARN; "" for none (the caller's
// own account).
func accountOf(role string) string {
	if role == "" {
		return ""
	}
	return strings.Split(role, ":")[4]
}

// parseTags reads a tag selector: a mapping of tag keys to values.
func parseTags(doc *yamlnode.Doc, key string, v *yaml.Node) (map[string]string, error) {
	file := doc.File
	const want = "want a mapping of tag keys to values, e.g. {Schedule: office-hours} (\"*\": any value)"
	rv := yamlnode.Resolve(v)
	if rv.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: %s: tags: %s", file, v.Line, key, want)
	}
	pairs, err := doc.Pairs(v)
	if err != nil {
		return nil, err
	}
	if len(pairs) == 0 {
		return nil, fmt.Errorf("%s:%d: %s: tags: empty (%s)", file, v.Line, key, want)
	}
	tags := map[string]string{}
	for _, p := range pairs {
		tk, tv := yamlnode.Resolve(p.Key), yamlnode.Resolve(p.Value)
		if tk.Kind != yaml.ScalarNode || yamlnode.Tag(tk) != "!!str" || tk.Value == "" {
			return nil, fmt.Errorf("%s:%d: %s: tags: %q is not a tag key (%s)", file, p.Key.Line, key, tk.Value, want)
		}
		if tv.Kind != yaml.ScalarNode || yamlnode.Tag(tv) != "!!str" {
			hint := ""
			if t := yamlnode.Tag(tv); t == "!!bool" || t == "!!int" || t == "!!float" || t == "!!null" {
				hint = fmt.Sprintf(" (YAML 1.1 does not read it as a string; quote it: '%s')", tv.Value)
			}
			return nil, fmt.Errorf("%s:%d: %s: tags: %s: want a string value%s", file, p.Value.Line, key, tk.Value, hint)
		}
		tags[tk.Value] = tv.Value
	}
	return tags, nil
}

// parseRegions reads the regions of a tag selector.
func parseRegions(doc *yamlnode.Doc, key string, v *yaml.Node) ([]string, error) {
	const want = "want a list of region names, e.g. [us-east-1, eu-west-1]"
	if yamlnode.Resolve(v).Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d: %s: regions: %s", doc.File, v.Line, key, want)
	}
	items, err := doc.Items(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%s:%d: %s: regions: empty (%s)", doc.File, v.Line, key, want)
	}
	var regions []string
	for _, n := range items {
		rn := yamlnode.Resolve(n)
		if rn.Kind != yaml.ScalarNode || yamlnode.Tag(rn) != "!!str" || strings.TrimSpace(rn.Value) == "" {
			return nil, fmt.Errorf("%s:%d: %s: regions: %s", doc.File, n.Line, key, want)
		}
		if r := strings.TrimSpace(rn.Value); !slices.Contains(regions, r) {
			regions = append(regions, r)
		}
	}
	return regions, nil
}

// parseIDs reads an ids list and the line of each id.
func parseIDs(doc *yamlnode.Doc, key string, v *yaml.Node) ([]string, []int, error) {
	file := doc.File
	var nodes []*yaml.Node
	switch rv := yamlnode.Resolve(v); rv.Kind {
	case yaml.SequenceNode:
		items, err := doc.Items(v)
		if err != nil {
			return nil, nil, err
		}
		nodes = items
	case yaml.ScalarNode:
		// A single id written without brackets is a common slip; a list is
		// what the original reads, so say so rather than guess.
		if yamlnode.Tag(rv) == "!!null" {
			return nil, nil, fmt.Errorf("%s:%d: %s: ids: empty (want a list of resource ids)", file, v.Line, key)
		}
		return nil, nil, fmt.Errorf("%s:%d: %s: ids: want a list, e.g. [%s]", file, v.Line, key, rv.Value)
	default:
		return nil, nil, fmt.Errorf("%s:%d: %s: ids: want a list of resource ids", file, v.Line, key)
	}
	if len(nodes) == 0 {
		return nil, nil, fmt.Errorf("%s:%d: %s: ids: empty (want at least one resource id)", file, v.Line, key)
	}
	ids := make([]string, 0, len(nodes))
	lines := make([]int, 0, len(nodes))
	for _, n := range nodes {
		rn := yamlnode.Resolve(n)
		if tag := yamlnode.Tag(rn); rn.Kind != yaml.ScalarNode || tag != "!!str" {
			what := rn.Value
			if rn.Kind != yaml.ScalarNode {
				what = "a " + kindName(rn.Kind)
			}
			hint := ""
			if tag == "!!bool" {
				// The original's PyYAML read it as true or false, which no
				// AWS call takes as an id.
				hint = fmt.Sprintf(" (YAML 1.1 reads it as a boolean; quote it: '%s')", rn.Value)
			}
			return nil, nil, fmt.Errorf("%s:%d: %s: ids: %s is not a string id%s", file, n.Line, key, what, hint)
		}
		id := strings.TrimSpace(rn.Value)
		if id == "" {
			return nil, nil, fmt.Errorf("%s:%d: %s: ids: empty id", file, n.Line, key)
		}
		ids = append(ids, id)
		lines = append(lines, n.Line)
	}
	return ids, lines, nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

// UnknownKeyError is a requested key that the config does not have.
type UnknownKeyError struct {
	File  string
	Key   string
	Known []string
}

func (e *UnknownKeyError) Error() string {
	known := append([]string(nil), e.Known...)
	sort.Strings(known)
	q := make([]string, len(known))
	for i, k := range known {
		q[i] = strconv.Quote(k)
	}
	return fmt.Sprintf("%s: no config key %q (keys: %s)", e.File, e.Key, strings.Join(q, ", "))
}

// ErrUnknownKey matches any *UnknownKeyError with errors.Is.
var ErrUnknownKey = errors.New("unknown config key")

// Is lets errors.Is(err, ErrUnknownKey) match.
func (e *UnknownKeyError) Is(target error) bool { return target == ErrUnknownKey }
