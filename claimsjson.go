package clerkauth

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// parseClaims decodes a JWT payload, which must be one JSON object, into
// the map encoding/json would produce with UseNumber (strings unescaped,
// numbers as json.Number, nested objects and arrays as map[string]any and
// []any), but stricter: a name repeated in any object is an error. It
// exists because encoding/json's reflection-driven decoding costs about a
// third of an RSA verification on every cold token; FuzzParseClaims proves
// that the two decoders agree on every input this one accepts.
func parseClaims(b []byte) (map[string]any, error) {
	// Names, plain strings and numbers are sliced from one copy of the
	// payload instead of being copied one by one.
	p := claimsParser{b: b, s: string(b)}
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return nil, errClaimsSyntax
	}
	m, err := p.object(0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.b) {
		return nil, errClaimsSyntax
	}
	return m, nil
}

var (
	errClaimsSyntax    = errors.New("invalid JSON")
	errClaimsDuplicate = errors.New("a name appears twice in one object")
)

// maxClaimsDepth matches encoding/json's nesting limit.
const maxClaimsDepth = 10000

type claimsParser struct {
	b []byte
	s string // the same bytes, for slicing without copies
	i int
}

func (p *claimsParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *claimsParser) value(depth int) (any, error) {
	p.ws()
	if p.i >= len(p.b) {
		return nil, errClaimsSyntax
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		return p.string()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case p.literal("true"):
		return true, nil
	case p.literal("false"):
		return false, nil
	case p.literal("null"):
		return nil, nil
	}
	return nil, errClaimsSyntax
}

func (p *claimsParser) literal(word string) bool {
	if len(p.b)-p.i >= len(word) && string(p.b[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return true
	}
	return false
}

func (p *claimsParser) object(depth int) (map[string]any, error) {
	if depth++; depth > maxClaimsDepth {
		return nil, errClaimsSyntax
	}
	p.i++ // {
	m := make(map[string]any, 16)
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return m, nil
	}
	for {
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, errClaimsSyntax
		}
		name, err := p.string()
		if err != nil {
			return nil, err
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, errClaimsSyntax
		}
		p.i++
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		if _, dup := m[name]; dup {
			return nil, errClaimsDuplicate
		}
		m[name] = v
		p.ws()
		if p.i >= len(p.b) {
			return nil, errClaimsSyntax
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return m, nil
		default:
			return nil, errClaimsSyntax
		}
	}
}

func (p *claimsParser) array(depth int) ([]any, error) {
	if depth++; depth > maxClaimsDepth {
		return nil, errClaimsSyntax
	}
	p.i++ // [
	list := []any{}
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return list, nil
	}
	for {
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
		p.ws()
		if p.i >= len(p.b) {
			return nil, errClaimsSyntax
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return list, nil
		default:
			return nil, errClaimsSyntax
		}
	}
}

// string reads a JSON string. Plain ASCII and valid UTF-8 without escapes
// (every claim Clerk emits) is sliced directly; anything with escapes or
// invalid UTF-8 is handed to encoding/json, so that its unescaping and
// replacement rules apply exactly.
func (p *claimsParser) string() (string, error) {
	start := p.i
	p.i++ // "
	simple := true
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			if simple {
				return p.s[start+1 : p.i-1], nil
			}
			var s string
			if err := json.Unmarshal(p.b[start:p.i], &s); err != nil {
				return "", errClaimsSyntax
			}
			return s, nil
		case c == '\\':
			simple = false
			p.i += 2 // the escaped character; \u's digits are checked by encoding/json
		case c < 0x20:
			return "", errClaimsSyntax
		case c < utf8.RuneSelf:
			p.i++
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size == 1 {
				simple = false
			}
			p.i += size
		}
	}
	return "", errClaimsSyntax
}

// number reads a JSON number (RFC 8259 §6) and keeps its text, as
// json.Number does.
func (p *claimsParser) number() (json.Number, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.i < len(p.b) && p.b[p.i] >= '1' && p.b[p.i] <= '9':
		p.digits()
	default:
		return "", errClaimsSyntax
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if !p.digits() {
			return "", errClaimsSyntax
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if !p.digits() {
			return "", errClaimsSyntax
		}
	}
	return json.Number(p.s[start:p.i]), nil
}

func (p *claimsParser) digits() bool {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}
