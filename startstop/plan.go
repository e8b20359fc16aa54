package startstop

import (
	"fmt"
	"sort"
	"strings"
)

// resource is a resource's identity: the same id in another region or of
// another type is another resource. Region is "" in a group without its
// own region.
type resource struct {
	Region string
	Type   Type
	ID     string
}

// Batch is the resources of one type in one region with the same group
// fields.
type Batch struct {
	Region string
	Type   Type
	IDs    []string
	// Fields are the groups' own fields (Group.Fields).
	Fields map[string]any
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
// and type, each resource once.
type Plan struct {
	Action   Action
	Keys     []string
	Batches  []Batch
	Warnings []string
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
	p := &Plan{Action: req.Action, Keys: req.Keys}
	type ref struct {
		region string
		typ    Type
		fields string
	}
	index := map[ref]int{}
	from := map[resource]string{} // the first key that listed it
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
			r := ref{region: g.Region, typ: g.Type, fields: fieldsKey(g.Fields)}
			if r.region == "" {
				r.region = region
			}
			i, ok := index[r]
			if !ok {
				i = len(p.Batches)
				index[r] = i
				p.Batches = append(p.Batches, Batch{Region: r.region, Type: r.typ, Fields: g.Fields})
			}
			for _, id := range g.IDs {
				rk := resource{r.region, r.typ, id}
				if first, seen := from[rk]; seen {
					if first != name {
						p.Warnings = append(p.Warnings, fmt.Sprintf("%s %s is listed under both %q and %q; acting on it once", r.typ, id, first, name))
					}
					continue
				}
				from[rk] = name
				p.Batches[i].IDs = append(p.Batches[i].IDs, id)
			}
		}
	}
	sort.SliceStable(p.Batches, func(a, b int) bool {
		if p.Batches[a].Region != p.Batches[b].Region {
			return p.Batches[a].Region < p.Batches[b].Region
		}
		return typeOrder(p.Batches[a].Type) < typeOrder(p.Batches[b].Type)
	})
	return p, nil
}
