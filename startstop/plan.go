package startstop

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// resource is a resource's identity: the same id in another account,
// region or of another type is another resource. Account is "" for the
// caller's own (a group without role_arn); Region is "" in a group without
// its own region.
type resource struct {
	Account string
	Region  string
	Type    Type
	ID      string
}

// Batch is the resources of one type in one region, reached through one
// role, with the same group fields.
type Batch struct {
	Region string
	Type   Type
	IDs    []string
	// Fields are the groups' own fields (Group.Fields).
	Fields map[string]any
	// Role and ExternalID are the group's role_arn and external_id ("":
	// the caller's own credentials).
	Role, ExternalID string
	// Selected are the ids a tag selector found, each with the selector
	// (as Selector.String says it); an id not in it was listed.
	Selected map[string]string
}

// Account is the id of the account b's role is in; "" for the caller's.
func (b Batch) Account() string { return accountOf(b.Role) }

// result is a Result for id of b, before anything happened to it.
func (b Batch) result(id string) Result {
	return Result{Type: b.Type, ID: id, Region: b.Region, Account: b.Account()}
}

// Selector is a group's tags in one region, resolved at run time.
type Selector struct {
	Key              string
	Type             Type
	Region           string
	Role, ExternalID string
	Tags             map[string]string
	Fields           map[string]any
	Line             int
}

// String is the selector as reports show it: "Env=dev,Schedule=*".
func (s Selector) String() string {
	keys := make([]string, 0, len(s.Tags))
	for k := range s.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + s.Tags[k]
	}
	return strings.Join(parts, ",")
}

// batchRef tells batches apart: resources in one batch share a region,
// type, role and fields.
type batchRef struct {
	region, role, external string
	typ                    Type
	fields                 string
}

func (b Batch) ref() batchRef {
	return batchRef{region: b.Region, role: b.Role, external: b.ExternalID, typ: b.Type, fields: fieldsKey(b.Fields)}
}

// Flag is the boolean group field name (false when not given).
func (b Batch) Flag(name string) bool {
	v, _ := b.Fields[name].(bool)
	return v
}

// fieldsKey tells batches with different fields apart.
func fieldsKey(f map[string]any) string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var s strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&s, "%s=%v;", k, f[k])
	}
	return s.String()
}

// Plan is a request resolved against a config: what to act on, by region
// and type, each resource once. Selectors are resolved at run time into
// more ids of the batches (see Run).
type Plan struct {
	Action    Action
	Keys      []string
	Batches   []Batch
	Selectors []Selector
	Warnings  []string
	// from is the first key that listed each resource.
	from map[resource]string
}

// Len is the number of resources in the plan.
func (p *Plan) Len() int {
	n := 0
	for _, b := range p.Batches {
		n += len(b.IDs)
	}
	return n
}

// NewPlan resolves req against conf. region is used for groups without a
// region of their own; it is the caller's choice between a --region flag,
// the file's region_name and the environment. An unknown key is an
// *UnknownKeyError listing the keys that exist; a key the config ignored
// (not a list of groups) gives its own error (see Config.Lookup).
func NewPlan(conf *Config, req Request, region string) (*Plan, error) {
	if _, err := ParseAction(string(req.Action)); err != nil {
		return nil, err
	}
	if len(req.Keys) == 0 {
		return nil, fmt.Errorf("no config key given (keys in %s: %s)", conf.File, strings.Join(conf.KeyNames(), ", "))
	}
	p := &Plan{Action: req.Action, Keys: req.Keys, from: map[resource]string{}}
	asked := map[string]bool{}
	for _, name := range req.Keys {
		if asked[name] {
			continue
		}
		asked[name] = true
		key, err := conf.Lookup(name)
		if err != nil {
			return nil, err
		}
		for _, g := range key.Groups {
			groupRegion := cmp.Or(g.Region, region)
			if g.Tags != nil {
				regions := g.Regions
				if regions == nil {
					regions = []string{groupRegion}
				}
				for _, reg := range regions {
					p.Selectors = append(p.Selectors, Selector{Key: name, Type: g.Type, Region: reg, Role: g.RoleARN,
						ExternalID: g.ExternalID, Tags: g.Tags, Fields: g.Fields, Line: g.Line})
				}
			}
			b := Batch{Region: groupRegion, Type: g.Type, Fields: g.Fields, Role: g.RoleARN, ExternalID: g.ExternalID}
			for _, id := range g.IDs {
				p.add(b, id, name, "")
			}
		}
	}
	p.sort()
	return p, nil
}

// add puts id into the batch like b, unless another key or selector has it
// already; selector is "" for a listed id. It reports whether id was new.
func (p *Plan) add(b Batch, id, key, selector string) bool {
	rk := resource{b.Account(), b.Region, b.Type, id}
	if first, seen := p.from[rk]; seen {
		if first != key && selector == "" {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s %s is listed under both %q and %q; acting on it once", b.Type, id, first, key))
		}
		return false
	}
	p.from[rk] = key
	ref := b.ref()
	i := slices.IndexFunc(p.Batches, func(x Batch) bool { return x.ref() == ref })
	if i < 0 {
		i = len(p.Batches)
		p.Batches = append(p.Batches, b)
	}
	p.Batches[i].IDs = append(p.Batches[i].IDs, id)
	if selector != "" {
		if p.Batches[i].Selected == nil {
			p.Batches[i].Selected = map[string]string{}
		}
		p.Batches[i].Selected[id] = selector
	}
	return true
}

// sort orders batches by account, region and the registry's order of types.
func (p *Plan) sort() {
	sort.SliceStable(p.Batches, func(a, b int) bool {
		x, y := p.Batches[a], p.Batches[b]
		if x.Account() != y.Account() {
			return x.Account() < y.Account()
		}
		if x.Region != y.Region {
			return x.Region < y.Region
		}
		return typeOrder(x.Type) < typeOrder(y.Type)
	})
}
