// Package strictjson is clerkauth's one hand-written JSON scanner. Decode
// decodes JWT payloads strictly (a name repeated in any object is an
// error) and cheaply; Members finds top-level members of a webhook body
// without decoding it, as a guess that encoding/json's decoding confirms.
//
// Decode exists because encoding/json's reflection-driven decoding costs
// about a third of an RSA verification on every cold token; its fuzz
// target proves that it agrees with encoding/json on every input it
// accepts.
package strictjson

import (
	"bytes"
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
	b, i := p.b, p.i
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	p.i = i
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
	// Most bytes of a string are printable ASCII: a table lookup in a
	// tight loop over locals passes them (webhook bodies are mostly
	// strings, and this loop is most of the cost of reading one).
	b, i := p.b, p.i+1
	start, plain = p.i, true
	for {
		for i < len(b) && plainByte[b[i]] {
			i++
		}
		if i >= len(b) {
			p.i = len(b)
			return start, false, false
		}
		switch c := b[i]; {
		case c == '"':
			p.i = i + 1
			return start, plain, true
		case c == '\\':
			plain = false
			i += 2 // the escaped character; \u's digits are checked by encoding/json
		case c < 0x20:
			p.i = i
			return start, false, false
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				plain = false
			}
			i += size
		}
	}
}

// plainByte marks the bytes a string holds as they are: printable ASCII
// other than '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

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
// the JSON object b (nil when absent), in one pass that builds nothing.
// Names are compared as written (a name spelled with escapes does not
// match), and the first of repeated names wins.
//
// Members does not check syntax, which makes it several times cheaper than
// Decode's walk (strings are crossed with bytes.IndexByte): on input that
// encoding/json accepts its results are exact, on anything else they are a
// guess. It is for a caller that decodes b with encoding/json anyway and
// trusts the result only once that decoding succeeded. On any input it
// stays within b and returns subslices of it or nil.
func Members(b []byte, a, c string) (valueA, valueC []byte) {
	i := wsEnd(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, nil
	}
	i++
	for {
		i = wsEnd(b, i)
		if i >= len(b) || b[i] != '"' {
			return valueA, valueC
		}
		end := stringEnd(b, i)
		if end < 0 {
			return valueA, valueC
		}
		name := b[i+1 : end-1]
		i = wsEnd(b, end)
		if i >= len(b) || b[i] != ':' {
			return valueA, valueC
		}
		i = wsEnd(b, i+1)
		start := i
		if i = valueEnd(b, i); i < 0 {
			return valueA, valueC
		}
		switch {
		case valueA == nil && string(name) == a:
			valueA = b[start:i]
		case valueC == nil && string(name) == c:
			valueC = b[start:i]
		}
		i = wsEnd(b, i)
		if i >= len(b) || b[i] != ',' {
			return valueA, valueC
		}
		i++
	}
}

// structural marks the bytes valueEnd stops at inside a container.
var structural = [256]bool{'"': true, '{': true, '}': true, '[': true, ']': true}

func wsEnd(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the string that starts at b[i] (a
// '"'), or -1: its closing quote is the first one not escaped by an odd
// run of backslashes.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		j += k
		backslashes := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return j + 1
		}
	}
	return -1
}

// valueEnd returns the index after the value that starts at b[i], or -1.
// Inside containers only strings and brackets matter.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			for i < len(b) && !structural[b[i]] {
				i++
			}
			if i >= len(b) {
				break
			}
			switch b[i] {
			case '"':
				if i = stringEnd(b, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && wsEnd(b, i) == i {
		i++
	}
	return i
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
