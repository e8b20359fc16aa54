// Package statemachine reads the upload state machine (distributed mode) out
// of deploy/template.yaml, the one place its definition is written, as Step
// Functions receives it once CloudFormation has applied the template's
// DefinitionSubstitutions. The tests that execute it on moto server and the
// lint step that runs asl-validator on it both read it through here, so
// neither can drift from what is deployed.
package statemachine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// TemplateFile is the template's path from the module root.
const TemplateFile = "deploy/template.yaml"

// Resource is the state machine's logical id in the template.
const Resource = "UploadStateMachine"

// Definition returns the definition of the template's UploadStateMachine as
// JSON, each ${name} of its DefinitionSubstitutions replaced by subs[name].
// subs must give exactly the names the template substitutes, so a test
// cannot run a definition the template would deploy differently.
func Definition(template []byte, subs map[string]string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(template, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", TemplateFile, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty", TemplateFile)
	}
	props, err := lookup(doc.Content[0], "Resources", Resource, "Properties")
	if err != nil {
		return nil, err
	}
	def, err := lookup(props, "Definition")
	if err != nil {
		return nil, err
	}
	if err := plain(def); err != nil {
		return nil, err
	}
	names, err := substitutionNames(props)
	if err != nil {
		return nil, err
	}
	given := make([]string, 0, len(subs))
	for k := range subs {
		given = append(given, k)
	}
	sort.Strings(given)
	if !slices.Equal(names, given) {
		return nil, fmt.Errorf("%s: %s substitutes %q; given %q", TemplateFile, Resource, names, given)
	}
	var v any
	if err := def.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s:%d: Definition: %w", TemplateFile, def.Line, err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("%s:%d: Definition: %w", TemplateFile, def.Line, err)
	}
	out := buf.String()
	for _, name := range names {
		// As CloudFormation does, in the JSON text; the value is escaped
		// so that it stays inside its string.
		q, _ := json.Marshal(subs[name])
		out = strings.ReplaceAll(out, "${"+name+"}", string(q[1:len(q)-1]))
	}
	if i := strings.Index(out, "${"); i >= 0 {
		end := min(len(out), i+40)
		return nil, fmt.Errorf("%s: %s: ${ without a substitution near %q", TemplateFile, Resource, out[i:end])
	}
	return []byte(out), nil
}

// lookup follows mapping keys from n.
func lookup(n *yaml.Node, path ...string) (*yaml.Node, error) {
	for i, k := range path {
		var next *yaml.Node
		if n.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(n.Content); j += 2 {
				if n.Content[j].Value == k {
					next = n.Content[j+1]
				}
			}
		}
		if next == nil {
			return nil, fmt.Errorf("%s:%d: no %s", TemplateFile, n.Line, strings.Join(path[:i+1], "."))
		}
		n = next
	}
	return n, nil
}

// plain refuses intrinsic functions (!Sub, !Ref, ...) inside the
// definition: only DefinitionSubstitutions may change it, or the JSON read
// here would not be what CloudFormation deploys.
func plain(n *yaml.Node) error {
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return fmt.Errorf("%s:%d: %s in the state machine's Definition; use DefinitionSubstitutions", TemplateFile, n.Line, n.Tag)
	}
	for _, c := range n.Content {
		if err := plain(c); err != nil {
			return err
		}
	}
	return nil
}

// substitutionNames are the keys of DefinitionSubstitutions, sorted.
func substitutionNames(props *yaml.Node) ([]string, error) {
	var names []string
	for j := 0; j+1 < len(props.Content); j += 2 {
		if props.Content[j].Value != "DefinitionSubstitutions" {
			continue
		}
		m := props.Content[j+1]
		if m.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s:%d: DefinitionSubstitutions is not a mapping", TemplateFile, m.Line)
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			names = append(names, m.Content[i].Value)
		}
	}
	sort.Strings(names)
	return names, nil
}
