package s3upload

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
)

// glob is an include or exclude pattern. A pattern with a "/" matches the
// whole relative path ("logs/**/*.gz"); one without matches the base name
// ("*.tmp"), as in .gitignore. "*" and "?" stay within a path segment, "**"
// crosses segments, [...] is a character class.
type glob struct {
	src string
	re  *regexp.Regexp
}

func compileGlob(p string) (glob, error) {
	if p == "" {
		return glob{}, errors.New("empty glob")
	}
	anchored := strings.Contains(strings.TrimSuffix(p, "/"), "/")
	p = strings.TrimPrefix(strings.TrimSuffix(p, "/"), "/")
	var b strings.Builder
	// (?s): a name may hold any byte but "/", a newline included.
	b.WriteString("(?s)^")
	if !anchored {
		b.WriteString("(?:.*/)?")
	}
	r := []rune(p)
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch c {
		case '*':
			if i+1 < len(r) && r[i+1] == '*' {
				i++
				if i+1 < len(r) && r[i+1] == '/' {
					i++
					b.WriteString("(?:.*/)?")
				} else {
					b.WriteString(".*")
				}
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		case '[':
			j := strings.IndexRune(string(r[i+1:]), ']')
			if j < 0 {
				return glob{}, errors.New("unclosed [")
			}
			j = len([]rune(string(r[i+1:])[:j]))
			class := string(r[i+1 : i+1+j])
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j + 1
		case '\\':
			if i+1 < len(r) {
				i++
				b.WriteString(regexp.QuoteMeta(string(r[i])))
			} else {
				b.WriteString(`\\`)
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	// A pattern naming a folder also covers everything under it.
	b.WriteString("(?:/.*)?$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return glob{}, err
	}
	return glob{src: p, re: re}, nil
}

func (g glob) match(rel string) bool { return g.re.MatchString(rel) }

// filter decides which files a run takes.
type filter struct {
	include, exclude []glob
}

func newFilter(include, exclude []string) (filter, error) {
	var f filter
	for _, p := range include {
		g, err := compileGlob(p)
		if err != nil {
			return filter{}, globError("Include", p, err)
		}
		f.include = append(f.include, g)
	}
	for _, p := range exclude {
		g, err := compileGlob(p)
		if err != nil {
			return filter{}, globError("Exclude", p, err)
		}
		f.exclude = append(f.exclude, g)
	}
	return f, nil
}

func globError(field, p string, err error) error {
	return &OptionError{Field: field, Value: strconv.Quote(p), Reason: err.Error(), Err: err}
}

// excluded reports whether rel (a file or a folder) matches an exclude.
func (f filter) excluded(rel string) bool {
	for _, g := range f.exclude {
		if g.match(rel) {
			return true
		}
	}
	return false
}

// takes reports whether the file at rel is part of the run.
func (f filter) takes(rel string) bool {
	if f.excluded(rel) {
		return false
	}
	if len(f.include) == 0 {
		return true
	}
	for _, g := range f.include {
		if g.match(rel) {
			return true
		}
	}
	return false
}
