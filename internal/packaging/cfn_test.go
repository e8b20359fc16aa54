package packaging

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// A cfnTemplate is deploy/template.yaml as CloudFormation reads it: the
// short-form tags (!Ref, !Sub, ...) become their long forms, so that the
// deploy tests can work out which resources a set of parameters creates
// and what properties CloudFormation hands to each, for the resources
// moto's CloudFormation skips.
type cfnTemplate struct {
	Parameters map[string]map[string]any
	Conditions map[string]any
	Resources  map[string]cfnResource
	Outputs    map[string]any
}

type cfnResource struct {
	Type       string
	Condition  string
	Properties map[string]any
}

func readTemplate(t *testing.T) (*cfnTemplate, string) {
	t.Helper()
	body := templateFile(t)
	var doc yaml.Node
	if err := yaml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("deploy/template.yaml: %v", err)
	}
	top, ok := longForm(doc.Content[0]).(map[string]any)
	if !ok {
		t.Fatal("deploy/template.yaml: not a mapping")
	}
	tmpl := &cfnTemplate{Parameters: map[string]map[string]any{}, Resources: map[string]cfnResource{}}
	for name, p := range asMap(top["Parameters"]) {
		tmpl.Parameters[name] = asMap(p)
	}
	tmpl.Conditions = asMap(top["Conditions"])
	tmpl.Outputs = asMap(top["Outputs"])
	for name, r := range asMap(top["Resources"]) {
		m := asMap(r)
		typ, _ := m["Type"].(string)
		cond, _ := m["Condition"].(string)
		tmpl.Resources[name] = cfnResource{Type: typ, Condition: cond, Properties: asMap(m["Properties"])}
	}
	return tmpl, string(body)
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// longForm turns a YAML node into plain values, short-form intrinsic
// functions into their {"Fn::X": ...} forms.
func longForm(n *yaml.Node) any {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		return longForm(n.Content[0])
	case yaml.AliasNode:
		return longForm(n.Alias)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = longForm(n.Content[i+1])
		}
		v = m
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range n.Content {
			l = append(l, longForm(c))
		}
		v = l
	default:
		switch n.Tag {
		case "!!int":
			i, _ := strconv.ParseInt(n.Value, 0, 64)
			v = i
		case "!!float":
			f, _ := strconv.ParseFloat(n.Value, 64)
			v = f
		case "!!bool":
			v = n.Value == "true"
		case "!!null":
			v = nil
		default:
			v = n.Value
		}
	}
	switch tag := strings.TrimPrefix(n.Tag, "!"); {
	case !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!"):
		return v
	case tag == "Ref" || tag == "Condition":
		return map[string]any{tag: n.Value}
	case tag == "GetAtt" && n.Kind == yaml.ScalarNode:
		name, attr, _ := strings.Cut(n.Value, ".")
		return map[string]any{"Fn::GetAtt": []any{name, attr}}
	default:
		return map[string]any{"Fn::" + tag: v}
	}
}

// noValue is what AWS::NoValue evaluates to; lists and maps drop it.
type noValueT struct{}

var noValue = noValueT{}

// A stackView evaluates the template for one stack: its parameters,
// pseudo parameters, and the resources that exist (for Ref and GetAtt).
type stackView struct {
	tmpl   *cfnTemplate
	params map[string]any
	pseudo map[string]any
	// ref and getAtt answer for a resource of the stack.
	ref    func(name string) (any, error)
	getAtt func(name, attr string) (any, error)
}

// newStackView applies the template's parameter defaults and types to
// given: CommaDelimitedList becomes a list, Number a number.
func newStackView(t *testing.T, tmpl *cfnTemplate, given map[string]string, stack, account, region string) *stackView {
	t.Helper()
	params := map[string]any{}
	for name, p := range tmpl.Parameters {
		s, ok := given[name]
		if !ok {
			d, has := p["Default"]
			if !has {
				t.Fatalf("template: parameter %s has no default and was not given", name)
			}
			s = fmt.Sprint(d)
		}
		switch p["Type"] {
		case "CommaDelimitedList":
			var l []any
			for _, e := range strings.Split(s, ",") {
				l = append(l, e)
			}
			params[name] = l
		case "Number":
			// json.Number keeps the text CloudFormation hands to !Sub
			// ("10.0" stays "10.0") and marshals as a JSON number.
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				t.Fatalf("parameter %s=%q: %v", name, s, err)
			}
			params[name] = json.Number(s)
		default:
			params[name] = s
		}
	}
	for name := range given {
		if _, ok := tmpl.Parameters[name]; !ok {
			t.Fatalf("template has no parameter %s", name)
		}
	}
	return &stackView{tmpl: tmpl, params: params, pseudo: map[string]any{
		"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": "aws",
		"AWS::StackName": stack, "AWS::URLSuffix": "amazonaws.com",
	}}
}

// condition evaluates one of the template's conditions.
func (v *stackView) condition(name string) (bool, error) {
	c, ok := v.tmpl.Conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	r, err := v.eval(c)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	b, ok := r.(bool)
	if !ok {
		return false, fmt.Errorf("condition %s is %T, not a boolean", name, r)
	}
	return b, nil
}

// wanted lists the resources the parameters create, by logical id.
func (v *stackView) wanted() (map[string]cfnResource, error) {
	out := map[string]cfnResource{}
	for name, r := range v.tmpl.Resources {
		if r.Condition != "" {
			ok, err := v.condition(r.Condition)
			if err != nil {
				return nil, fmt.Errorf("resource %s: %w", name, err)
			}
			if !ok {
				continue
			}
		}
		out[name] = r
	}
	return out, nil
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

func (v *stackView) eval(x any) (any, error) {
	switch x := x.(type) {
	case []any:
		var out []any
		for _, e := range x {
			r, err := v.eval(e)
			if err != nil {
				return nil, err
			}
			if r != noValue {
				out = append(out, r)
			}
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
					return v.call(k, arg)
				}
			}
		}
		out := map[string]any{}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			r, err := v.eval(x[k])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if r != noValue {
				out[k] = r
			}
		}
		return out, nil
	}
	return x, nil
}

func (v *stackView) call(fn string, arg any) (any, error) {
	args, _ := arg.([]any)
	evalArgs := func() ([]any, error) {
		r, err := v.eval(arg)
		if err != nil {
			return nil, err
		}
		l, ok := r.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: arguments are not a list", fn)
		}
		return l, nil
	}
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		return v.lookup(name)
	case "Condition":
		name, _ := arg.(string)
		return v.condition(name)
	case "Fn::GetAtt":
		if len(args) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt %v", arg)
		}
		if v.getAtt == nil {
			return nil, errors.New("Fn::GetAtt before the stack exists")
		}
		return v.getAtt(fmt.Sprint(args[0]), fmt.Sprint(args[1]))
	case "Fn::If":
		if len(args) != 3 {
			return nil, fmt.Errorf("Fn::If %v", arg)
		}
		ok, err := v.condition(fmt.Sprint(args[0]))
		if err != nil {
			return nil, err
		}
		if ok {
			return v.eval(args[1])
		}
		return v.eval(args[2])
	case "Fn::Equals":
		l, err := evalArgs()
		if err != nil || len(l) != 2 {
			return nil, fmt.Errorf("Fn::Equals %v: %v", arg, err)
		}
		return fmt.Sprint(l[0]) == fmt.Sprint(l[1]), nil
	case "Fn::Not", "Fn::And", "Fn::Or":
		l, err := evalArgs()
		if err != nil {
			return nil, err
		}
		var bs []bool
		for _, e := range l {
			b, ok := e.(bool)
			if !ok {
				return nil, fmt.Errorf("%s of %T", fn, e)
			}
			bs = append(bs, b)
		}
		switch fn {
		case "Fn::Not":
			return len(bs) == 1 && !bs[0], nil
		case "Fn::And":
			return !slices.Contains(bs, false), nil
		}
		return slices.Contains(bs, true), nil
	case "Fn::Join":
		l, err := evalArgs()
		if err != nil || len(l) != 2 {
			return nil, fmt.Errorf("Fn::Join %v: %v", arg, err)
		}
		parts, _ := l[1].([]any)
		var s []string
		for _, p := range parts {
			s = append(s, scalar(p))
		}
		return strings.Join(s, scalar(l[0])), nil
	case "Fn::Split":
		l, err := evalArgs()
		if err != nil || len(l) != 2 {
			return nil, fmt.Errorf("Fn::Split %v: %v", arg, err)
		}
		var out []any
		for _, p := range strings.Split(scalar(l[1]), scalar(l[0])) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::Select":
		l, err := evalArgs()
		if err != nil || len(l) != 2 {
			return nil, fmt.Errorf("Fn::Select %v: %v", arg, err)
		}
		i, _ := strconv.Atoi(scalar(l[0]))
		list, _ := l[1].([]any)
		if i < 0 || i >= len(list) {
			return nil, fmt.Errorf("Fn::Select %d of %d", i, len(list))
		}
		return list[i], nil
	case "Fn::Sub":
		s, _ := arg.(string)
		local := map[string]any{}
		if args != nil {
			s, _ = args[0].(string)
			for k, e := range asMap(args[1]) {
				r, err := v.eval(e)
				if err != nil {
					return nil, err
				}
				local[k] = r
			}
		}
		var subErr error
		out := subVar.ReplaceAllStringFunc(s, func(m string) string {
			name := m[2 : len(m)-1]
			if strings.HasPrefix(name, "!") {
				return "${" + name[1:] + "}"
			}
			if r, ok := local[name]; ok {
				return scalar(r)
			}
			var r any
			var err error
			if res, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
				r, err = v.call("Fn::GetAtt", []any{res, attr})
			} else {
				r, err = v.lookup(name)
			}
			if err != nil {
				subErr = err
			}
			return scalar(r)
		})
		return out, subErr
	}
	return nil, fmt.Errorf("template: %s is not evaluated by this test; add it to stackView.call", fn)
}

func (v *stackView) lookup(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue, nil
	}
	if p, ok := v.pseudo[name]; ok {
		return p, nil
	}
	if p, ok := v.params[name]; ok {
		return p, nil
	}
	if _, ok := v.tmpl.Resources[name]; ok && v.ref != nil {
		return v.ref(name)
	}
	return nil, fmt.Errorf("Ref %s: no such parameter or resource", name)
}

func scalar(x any) string {
	switch x := x.(type) {
	case []any:
		var s []string
		for _, e := range x {
			s = append(s, scalar(e))
		}
		return strings.Join(s, ",")
	case nil:
		return ""
	}
	return fmt.Sprint(x)
}
