package startstop

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/awsutils/awsutils/internal/yamlerr"
)

// ConfigFile is the original name of the start/stop config file.
const ConfigFile = "aws_resource_start_stop.yml"

// Type is a kind of resource, spelled as in the config file.
type Type string

// The resource types of the original.
const (
	EC2Instance Type = "ec2.instance"
	DBCluster   Type = "rds.db_cluster"
	DBInstance  Type = "rds.db_instance"
)

// Types are the valid types in the order they are reported.
var Types = []Type{EC2Instance, DBCluster, DBInstance}

func (t Type) valid() bool {
	for _, v := range Types {
		if t == v {
			return true
		}
	}
	return false
}

// Group is one {type, ids} entry under a key.
type Group struct {
	Type Type
	IDs  []string
	// Region overrides the file's region_name for this group; "" means
	// region_name.
	Region string
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
	// Warnings are problems that do not stop a run, such as an id listed
	// twice under one key (it is acted on once).
	Warnings []string
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

// KeyNames are the config keys in file order.
func (c *Config) KeyNames() []string {
	names := make([]string, len(c.Keys))
	for i, k := range c.Keys {
		names[i] = k.Name
	}
	return names
}

// ec2ID is an instance id: i- and 8 (old format) or 17 hex digits.
var ec2ID = regexp.MustCompile(`^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$`)

// Load reads and checks a config file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse checks the content of a config file; name is used in errors, which
// read "name:line: message".
func Parse(name string, data []byte) (*Config, error) {
	c := &Config{File: name}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlerr.Syntax(name, err)
	}
	if len(doc.Content) == 0 || len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s: empty config: want region_name and at least one key listing resources", name)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a mapping of region_name and config keys", name, root.Line)
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if prev, ok := seen[k.Value]; ok {
			return nil, fmt.Errorf("%s:%d: key %q given twice (first on line %d)", name, k.Line, k.Value, prev)
		}
		seen[k.Value] = k.Line
		if k.Value == "region_name" {
			if v.Kind != yaml.ScalarNode || (v.Tag != "!!str" && v.Tag != "!!null") {
				return nil, fmt.Errorf("%s:%d: region_name: want a region name such as ap-northeast-1", name, v.Line)
			}
			if v.Tag == "!!str" {
				c.Region = strings.TrimSpace(v.Value)
			}
			continue
		}
		key, warns, err := parseKey(name, k, v)
		if err != nil {
			return nil, err
		}
		c.Keys = append(c.Keys, key)
		c.Warnings = append(c.Warnings, warns...)
	}
	if len(c.Keys) == 0 {
		return nil, fmt.Errorf("%s: no config keys: want at least one key listing resources besides region_name", name)
	}
	return c, nil
}

func parseKey(file string, k, v *yaml.Node) (Key, []string, error) {
	key := Key{Name: k.Value, Line: k.Line}
	if k.Value == "" {
		return key, nil, fmt.Errorf("%s:%d: empty key name", file, k.Line)
	}
	if v.Kind != yaml.SequenceNode {
		return key, nil, fmt.Errorf("%s:%d: %s: want a list of {type, ids} entries", file, v.Line, k.Value)
	}
	if len(v.Content) == 0 {
		// Found by FuzzParse: an empty list would make a key that silently
		// acts on nothing, which is almost surely a config mistake.
		return key, nil, fmt.Errorf("%s:%d: %s: empty list (want at least one {type, ids} entry)", file, v.Line, k.Value)
	}
	var warns []string
	// An id twice under one key would be acted on twice; warn and keep one.
	first := map[string]int{}
	for _, g := range v.Content {
		group, err := parseGroup(file, k.Value, g)
		if err != nil {
			return key, nil, err
		}
		ids := group.IDs[:0:0]
		for _, id := range group.IDs {
			dk := string(group.Type) + "\x00" + group.Region + "\x00" + id
			if line, ok := first[dk]; ok {
				warns = append(warns, fmt.Sprintf("%s:%d: %s: %s %s is listed twice (first on line %d); acting on it once",
					file, g.Line, k.Value, group.Type, id, line))
				continue
			}
			first[dk] = g.Line
			ids = append(ids, id)
		}
		group.IDs = ids
		key.Groups = append(key.Groups, group)
	}
	return key, warns, nil
}

func validTypes() string {
	s := make([]string, len(Types))
	for i, t := range Types {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

func parseGroup(file, key string, g *yaml.Node) (Group, error) {
	group := Group{Line: g.Line}
	if g.Kind != yaml.MappingNode {
		return group, fmt.Errorf("%s:%d: %s: want an entry with type and ids", file, g.Line, key)
	}
	var haveType, haveIDs bool
	for i := 0; i+1 < len(g.Content); i += 2 {
		f, v := g.Content[i], g.Content[i+1]
		switch f.Value {
		case "type":
			haveType = true
			if v.Kind != yaml.ScalarNode || !Type(v.Value).valid() {
				return group, fmt.Errorf("%s:%d: %s: type: unknown type %q (want one of %s)", file, v.Line, key, v.Value, validTypes())
			}
			group.Type = Type(v.Value)
		case "ids":
			haveIDs = true
			ids, err := parseIDs(file, key, v)
			if err != nil {
				return group, err
			}
			group.IDs = ids
		case "region":
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" || strings.TrimSpace(v.Value) == "" {
				return group, fmt.Errorf("%s:%d: %s: region: want a region name such as eu-west-1", file, v.Line, key)
			}
			group.Region = strings.TrimSpace(v.Value)
		default:
			return group, fmt.Errorf("%s:%d: %s: unknown field %q (want type, ids and optionally region)", file, f.Line, key, f.Value)
		}
	}
	if !haveType {
		return group, fmt.Errorf("%s:%d: %s: type: missing (want one of %s)", file, g.Line, key, validTypes())
	}
	if !haveIDs {
		return group, fmt.Errorf("%s:%d: %s: ids: missing (want a list of resource ids)", file, g.Line, key)
	}
	if group.Type == EC2Instance {
		for i, id := range group.IDs {
			if !ec2ID.MatchString(id) {
				return group, fmt.Errorf("%s:%d: %s: ids: %q is not an EC2 instance id (want i- and 8 or 17 hex digits)",
					file, g.Content[idsIndex(g)].Content[i].Line, key, id)
			}
		}
	}
	return group, nil
}

// idsIndex is the index of the ids value in a group mapping; parseGroup
// only calls it after finding ids.
func idsIndex(g *yaml.Node) int {
	for i := 0; i+1 < len(g.Content); i += 2 {
		if g.Content[i].Value == "ids" {
			return i + 1
		}
	}
	return 1
}

func parseIDs(file, key string, v *yaml.Node) ([]string, error) {
	var nodes []*yaml.Node
	switch v.Kind {
	case yaml.SequenceNode:
		nodes = v.Content
	case yaml.ScalarNode:
		// A single id written without brackets is a common slip; a list is
		// what the original reads, so say so rather than guess.
		if v.Tag == "!!null" {
			return nil, fmt.Errorf("%s:%d: %s: ids: empty (want a list of resource ids)", file, v.Line, key)
		}
		return nil, fmt.Errorf("%s:%d: %s: ids: want a list, e.g. [%s]", file, v.Line, key, v.Value)
	default:
		return nil, fmt.Errorf("%s:%d: %s: ids: want a list of resource ids", file, v.Line, key)
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("%s:%d: %s: ids: empty (want at least one resource id)", file, v.Line, key)
	}
	ids := make([]string, 0, len(nodes))
	for _, n := range nodes {
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			what := n.Value
			if n.Kind != yaml.ScalarNode {
				what = "a " + kindName(n.Kind)
			}
			return nil, fmt.Errorf("%s:%d: %s: ids: %s is not a string id", file, n.Line, key, what)
		}
		id := strings.TrimSpace(n.Value)
		if id == "" {
			return nil, fmt.Errorf("%s:%d: %s: ids: empty id", file, n.Line, key)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
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
