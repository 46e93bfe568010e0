// Package strictjson is clerkauth's one hand-written JSON scanner. Decode
// decodes JWT payloads strictly (a name repeated in any object is an
// error) and cheaply; Members finds top-level members of a webhook body
// without decoding it. Both walk the input with the same tokenizer.
//
// Decode exists because encoding/json's reflection-driven decoding costs
// about a third of an RSA verification on every cold token; its fuzz
// target proves that it agrees with encoding/json on every input it
// accepts.
package strictjson

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
	"unsafe"
)

// Errors returned by Decode.
var (
	ErrSyntax    = errors.New("invalid JSON")
	ErrDuplicate = errors.New("a name appears twice in one object")
)

// MaxDepth is encoding/json's nesting limit, which Decode shares.
const MaxDepth = 10000

// scanner walks JSON tokens; it never allocates.
type scanner struct {
	b []byte
	i int
}

func (p *scanner) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *scanner) literal(word string) bool {
	if len(p.b)-p.i >= len(word) && string(p.b[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return true
	}
	return false
}

// str scans the string that starts at p.i (a '"') and reports where it
// started and whether it is plain: no escapes and valid UTF-8, so that its
// text is the bytes between the quotes.
func (p *scanner) str() (start int, plain, ok bool) {
	start = p.i
	p.i++ // "
	plain = true
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return start, plain, true
		case c == '\\':
			plain = false
			p.i += 2 // the escaped character; \u's digits are checked by encoding/json
		case c < 0x20:
			return start, false, false
		case c < utf8.RuneSelf:
			p.i++
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size == 1 {
				plain = false
			}
			p.i += size
		}
	}
	return start, false, false
}

// number scans a JSON number (RFC 8259 §6).
func (p *scanner) number() bool {
	if p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.i < len(p.b) && p.b[p.i] >= '1' && p.b[p.i] <= '9':
		p.digits()
	default:
		return false
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if !p.digits() {
			return false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if !p.digits() {
			return false
		}
	}
	return true
}

func (p *scanner) digits() bool {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}

// skip scans one value of any kind without building it.
func (p *scanner) skip(depth int) bool {
	p.ws()
	if p.i >= len(p.b) {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '{' || c == '[':
		if depth++; depth > MaxDepth {
			return false
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == closing {
			p.i++
			return true
		}
		for {
			if c == '{' {
				p.ws()
				if p.i >= len(p.b) || p.b[p.i] != '"' {
					return false
				}
				if _, _, ok := p.str(); !ok {
					return false
				}
				p.ws()
				if p.i >= len(p.b) || p.b[p.i] != ':' {
					return false
				}
				p.i++
			}
			if !p.skip(depth) {
				return false
			}
			p.ws()
			if p.i >= len(p.b) {
				return false
			}
			switch p.b[p.i] {
			case ',':
				p.i++
			case closing:
				p.i++
				return true
			default:
				return false
			}
		}
	case c == '"':
		_, _, ok := p.str()
		return ok
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	return p.literal("true") || p.literal("false") || p.literal("null")
}

// Decode decodes b, which must be one JSON object, into the map
// encoding/json would produce with UseNumber (strings unescaped, numbers as
// json.Number, nested objects and arrays as map[string]any and []any), but
// stricter: a name repeated in any object is ErrDuplicate.
func Decode(b []byte) (map[string]any, error) {
	// Names, plain strings and numbers are sliced from one copy of the
	// input instead of being copied one by one.
	return decode(b, string(b))
}

// DecodeOwned is Decode for a buffer that the caller hands over: no one
// may modify b afterwards, since the decoded strings share its memory
// (which saves copying it). A freshly base64-decoded JWT payload is such a
// buffer.
func DecodeOwned(b []byte) (map[string]any, error) {
	if len(b) == 0 {
		return nil, ErrSyntax
	}
	return decode(b, unsafe.String(&b[0], len(b)))
}

func decode(b []byte, s string) (map[string]any, error) {
	d := decoder{scanner: scanner{b: b}, s: s}
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != '{' {
		return nil, ErrSyntax
	}
	m, err := d.object(0)
	if err != nil {
		return nil, err
	}
	d.ws()
	if d.i != len(d.b) {
		return nil, ErrSyntax
	}
	return m, nil
}

type decoder struct {
	scanner
	s string // the same bytes, for slicing without copies
}

func (d *decoder) value(depth int) (any, error) {
	d.ws()
	if d.i >= len(d.b) {
		return nil, ErrSyntax
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		return d.string()
	case c == '-' || c >= '0' && c <= '9':
		start := d.i
		if !d.number() {
			return nil, ErrSyntax
		}
		return json.Number(d.s[start:d.i]), nil
	case d.literal("true"):
		return true, nil
	case d.literal("false"):
		return false, nil
	case d.literal("null"):
		return nil, nil
	}
	return nil, ErrSyntax
}

func (d *decoder) object(depth int) (map[string]any, error) {
	if depth++; depth > MaxDepth {
		return nil, ErrSyntax
	}
	d.i++ // {
	// A JWT payload has a dozen or two claims; nested objects (the v2
	// "o" claim, act) a handful: size for that, and let maps grow beyond.
	hint := 8
	if depth == 1 {
		hint = 24
	}
	m := make(map[string]any, hint)
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		d.ws()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, ErrSyntax
		}
		name, err := d.string()
		if err != nil {
			return nil, err
		}
		d.ws()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, ErrSyntax
		}
		d.i++
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		if _, dup := m[name]; dup {
			return nil, ErrDuplicate
		}
		m[name] = v
		if done, err := d.next('}'); done || err != nil {
			return m, err
		}
	}
}

// next reads what follows a member or an element: a comma (more to come)
// or the closing bracket (done).
func (d *decoder) next(closing byte) (done bool, err error) {
	d.ws()
	switch {
	case d.i >= len(d.b):
		return false, ErrSyntax
	case d.b[d.i] == ',':
		d.i++
		return false, nil
	case d.b[d.i] == closing:
		d.i++
		return true, nil
	}
	return false, ErrSyntax
}

func (d *decoder) array(depth int) ([]any, error) {
	if depth++; depth > MaxDepth {
		return nil, ErrSyntax
	}
	d.i++ // [
	list := []any{}
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return list, nil
	}
	for {
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
		if done, err := d.next(']'); done || err != nil {
			return list, err
		}
	}
}

// string reads a JSON string. A plain one (every claim Clerk emits) is
// sliced directly; anything with escapes or invalid UTF-8 is handed to
// encoding/json, so that its unescaping and replacement rules apply
// exactly.
func (d *decoder) string() (string, error) {
	start, plain, ok := d.str()
	switch {
	case !ok:
		return "", ErrSyntax
	case plain:
		return d.s[start+1 : d.i-1], nil
	}
	var s string
	if err := json.Unmarshal(d.b[start:d.i], &s); err != nil {
		return "", ErrSyntax
	}
	return s, nil
}

// Members returns the raw bytes of the top-level members named a and c of
// the JSON object b (nil when absent), in one walk that builds nothing.
// Names are compared as written (a name spelled with escapes does not
// match), and the first of repeated names wins: it is a fast guess for a
// caller that decodes b with encoding/json anyway, never the last word. It
// stops at the first syntax error, with what it found.
func Members(b []byte, a, c string) (valueA, valueC []byte) {
	var found [2][]byte
	names := [2]string{a, c}
	defer func() { valueA, valueC = found[0], found[1] }()
	p := scanner{b: b}
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return
	}
	p.i++
	for {
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return
		}
		start, plain, ok := p.str()
		if !ok {
			return
		}
		name := p.b[start+1 : p.i-1]
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return
		}
		p.i++
		p.ws()
		valueStart := p.i
		if !p.skip(1) { // the enclosing object is depth 1
			return
		}
		for k, n := range names {
			if plain && found[k] == nil && string(name) == n {
				found[k] = b[valueStart:p.i]
			}
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ',' {
			return
		}
		p.i++
	}
}

// PlainString returns the text of a raw JSON string that has no escapes,
// or "" and false.
func PlainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' || c == '"' || c < 0x20 {
			return "", false
		}
	}
	return string(raw[1 : len(raw)-1]), true
}
