package packaging

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// parsePyLiteral reads a Python literal (dict, list, str, int, float,
// True, False, None) into Go values. moto 5.2.5's GetRolePolicy answers a
// role policy created by its CloudFormation as the repr of a Python dict
// instead of JSON; this reads it back without guessing at quotes.
func parsePyLiteral(s string) (any, error) {
	p := &pyParser{s: s}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("python literal: trailing %q", p.s[p.i:])
	}
	return v, nil
}

type pyParser struct {
	s string
	i int
}

func (p *pyParser) space() {
	for p.i < len(p.s) && unicode.IsSpace(rune(p.s[p.i])) {
		p.i++
	}
}

func (p *pyParser) fail(what string) error {
	return fmt.Errorf("python literal: want %s at offset %d of %q", what, p.i, p.s)
}

func (p *pyParser) value() (any, error) {
	p.space()
	if p.i >= len(p.s) {
		return nil, p.fail("a value")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.seq('}', true)
	case c == '[' || c == '(':
		return p.seq(map[byte]byte{'[': ']', '(': ')'}[c], false)
	case c == '\'' || c == '"':
		return p.str()
	}
	for _, w := range []struct {
		word string
		v    any
	}{{"True", true}, {"False", false}, {"None", nil}} {
		if strings.HasPrefix(p.s[p.i:], w.word) {
			p.i += len(w.word)
			return w.v, nil
		}
	}
	j := p.i
	for j < len(p.s) && strings.IndexByte("+-0123456789.eE", p.s[j]) >= 0 {
		j++
	}
	num := p.s[p.i:j]
	if i, err := strconv.ParseInt(num, 10, 64); err == nil {
		p.i = j
		return i, nil
	}
	if f, err := strconv.ParseFloat(num, 64); err == nil {
		p.i = j
		return f, nil
	}
	return nil, p.fail("a value")
}

func (p *pyParser) seq(end byte, dict bool) (any, error) {
	p.i++
	var list []any
	m := map[string]any{}
	for {
		p.space()
		if p.i < len(p.s) && p.s[p.i] == end {
			p.i++
			if dict {
				return m, nil
			}
			if list == nil {
				list = []any{}
			}
			return list, nil
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if dict {
			k, ok := v.(string)
			if !ok {
				return nil, p.fail("a string key")
			}
			p.space()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, p.fail("':'")
			}
			p.i++
			if v, err = p.value(); err != nil {
				return nil, err
			}
			m[k] = v
		} else {
			list = append(list, v)
		}
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
		} else if p.i >= len(p.s) || p.s[p.i] != end {
			return nil, p.fail(fmt.Sprintf("',' or %q", end))
		}
	}
}

func (p *pyParser) str() (string, error) {
	q := p.s[p.i]
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), nil
		case c == '\\' && p.i+1 < len(p.s):
			p.i++
			e := p.s[p.i]
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				if p.i+n >= len(p.s) {
					return "", p.fail("an escape")
				}
				r, err := strconv.ParseUint(p.s[p.i+1:p.i+1+n], 16, 32)
				if err != nil {
					return "", p.fail("an escape")
				}
				b.WriteRune(rune(r))
				p.i += n
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
		p.i++
	}
	return "", p.fail("the closing quote")
}

func TestParsePyLiteral(t *testing.T) {
	tests := []struct {
		in      string
		want    any
		wantErr bool
	}{
		{`{'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': ['s3:PutObject'], 'Resource': 'arn:aws:s3:::b/*'}]}`,
			map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
				"Effect": "Allow", "Action": []any{"s3:PutObject"}, "Resource": "arn:aws:s3:::b/*"}}}, false},
		{`{"it's": 'a \'b\' \\ \n', 'n': 3, 'f': 1.5, 't': True, 'x': None, 'l': []}`,
			map[string]any{"it's": "a 'b' \\ \n", "n": int64(3), "f": 1.5, "t": true, "x": nil, "l": []any{}}, false},
		{`'\xe9\u65e5'`, "é日", false},
		{`{'a': 1`, nil, true},
		{`{'a' 1}`, nil, true},
		{`{1: 2}`, nil, true},
		{`[1, 2] x`, nil, true},
	}
	for _, tt := range tests {
		got, err := parsePyLiteral(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parsePyLiteral(%q) error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parsePyLiteral(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}
