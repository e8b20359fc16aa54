// Package yamlerr turns the YAML parser's syntax errors into the one-line
// "file:line: malformed YAML: ..." form that both jobs' config errors use.
package yamlerr

import (
	"fmt"
	"regexp"
	"strings"
)

// yamlLine finds the line in the parser's text ("yaml: line 3: did not find
// expected key").
var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// Syntax rewrites err from yaml.Unmarshal of the file name.
func Syntax(name string, err error) error {
	first := strings.SplitN(err.Error(), "\n", 2)[0]
	if m := yamlLine.FindStringSubmatch(first); m != nil {
		if m[1] != "" {
			return fmt.Errorf("%s:%s: malformed YAML: %s", name, m[1], m[2])
		}
		return fmt.Errorf("%s: malformed YAML: %s", name, m[2])
	}
	return fmt.Errorf("%s: malformed YAML: %s", name, first)
}
