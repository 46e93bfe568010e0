package clerkauth

import (
	"cmp"
	"fmt"
	"net/http"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// RouteMatcher decides whether a request path matches any of a list of
// route patterns written in the syntax of Clerk's createRouteMatcher (the
// path-to-regexp 6.3 bundled in @clerk/shared):
//
//	/dashboard            the path itself, with or without a trailing slash
//	/sign-in(.*)          anything that starts with /sign-in (also /sign-inx)
//	/api/webhooks/(.*)    anything below /api/webhooks/
//	/users/:id            one segment: /users/42, not /users/42/posts
//	/users/:id?           /users and /users/42
//	/files/:path*         /files, /files/a, /files/a/b
//	/files/:path+         /files/a, /files/a/b (not /files)
//	/org/:id(\d+)         a parameter with a custom pattern
//	/photo{-:size}?.jpg   a group: /photo.jpg and /photo-large.jpg
//	/file{.:ext}?         /file and /file.gz; a parameter never contains the
//	                      literal text in front of it, so not /file.tar.gz
//	/literal\(paren\)     escaped special characters
//
// Before matching, a path is normalised as Clerk normalises it: percent
// escapes are decoded as JavaScript's decodeURI decodes them (escapes of
// the reserved characters ;/?:@&=+$,# stay encoded, so /a%2Fb is one
// segment), and runs of slashes collapse to one.
//
// Clerk matches without regard to case. A RouteMatcher offers both readings
// so that each decision can fail closed: [RouteMatcher.MatchPath] matches
// the case as written (use it to decide what is public: /Admin is not the
// public /admin behind a case-sensitive router), and
// [RouteMatcher.MatchPathAnyCase] matches in any case, with Unicode case
// folding (use it to decide what is protected: /ADMIN reaches /admin behind
// a case-insensitive one). The middleware's PublicRoutes are stricter still:
// a path is public only if a pattern matches it without the optional
// trailing slash, since routers send /pricing/ to a subtree handler (such
// as /{org}/), not to /pricing.
//
// Patterns are compiled once. Matching walks a tree of the patterns'
// literal prefixes, so its cost depends on the length of the path, not on
// the number of patterns; patterns that are pure literals or literal
// prefixes followed by (.*) never run a regular expression. Matching an
// ASCII path without percent escapes does not allocate.
//
// A RouteMatcher is safe for concurrent use. The zero value matches nothing.
type RouteMatcher struct {
	patterns []string
	exact    *trieNode // routes as written, case-sensitive
	anyCase  *trieNode // keys case-folded (foldString), regexps with (?i)
}

// NewRouteMatcher compiles patterns. An invalid pattern, or one that can
// never match a request path (such as "dashboard(.*)" without its leading
// slash, or a regular expression like "^/dashboard"), is an error that names
// the pattern and the position of the problem. Empty patterns are ignored,
// as Clerk ignores them.
func NewRouteMatcher(patterns ...string) (*RouteMatcher, error) {
	m := &RouteMatcher{exact: &trieNode{}, anyCase: &trieNode{}}
	for _, p := range patterns {
		if p == "" {
			continue
		}
		exact, anyCase, err := compileRoute(p)
		if err != nil {
			return nil, err
		}
		m.patterns = append(m.patterns, p)
		m.exact.insert(exact.literal, exact)
		m.anyCase.insert(anyCase.literal, anyCase)
	}
	return m, nil
}

// MustRouteMatcher is like NewRouteMatcher but panics on an invalid
// pattern. It is meant for patterns written in the source code, checked at
// start-up.
func MustRouteMatcher(patterns ...string) *RouteMatcher {
	m, err := NewRouteMatcher(patterns...)
	if err != nil {
		panic(err)
	}
	return m
}

// Patterns returns the patterns the matcher was built from.
func (m *RouteMatcher) Patterns() []string {
	if m == nil {
		return nil
	}
	return append([]string(nil), m.patterns...)
}

// Match reports whether the request's path matches one of the patterns in
// the case as written: MatchPath(r.URL.EscapedPath()).
//
// Match decides matching only. The middleware also treats paths that a
// router could read differently (encoded slashes, dot segments, encoded
// reserved characters) as protected before it consults a matcher.
func (m *RouteMatcher) Match(r *http.Request) bool {
	if r == nil || r.URL == nil {
		return false
	}
	return m.MatchPath(r.URL.EscapedPath())
}

// MatchAnyCase is like Match, in any case: MatchPathAnyCase(r.URL.EscapedPath()).
func (m *RouteMatcher) MatchAnyCase(r *http.Request) bool {
	if r == nil || r.URL == nil {
		return false
	}
	return m.MatchPathAnyCase(r.URL.EscapedPath())
}

// MatchPath reports whether path, a URL path as sent (percent escapes
// allowed, as in r.URL.EscapedPath()), matches one of the patterns with
// letters in the case the pattern has. A path with a malformed escape
// (which Clerk answers with 400) matches nothing.
func (m *RouteMatcher) MatchPath(path string) bool { return m.match(path, readAsWritten) }

// MatchPathAnyCase reports whether path matches one of the patterns in any
// case, as Clerk's matcher does. Case is folded with Unicode simple case
// folding, which equates a little more than JavaScript's case-insensitive
// regular expressions do (ſ and s, for example), and İ (U+0130) and ı
// (U+0131) count as i, because lower- or upper-casing a path turns them
// into i and I: docs/routing.md lists it.
func (m *RouteMatcher) MatchPathAnyCase(path string) bool { return m.match(path, readAnyCase) }

// matchPublic is the policy's reading for public patterns: MatchPath
// without the optional trailing delimiter (path-to-regexp's strict
// option). ServeMux, chi and gorilla/mux route /pricing/ and /users/42/ to
// subtree handlers (/{org}/, /users/{id}/), not to /pricing and
// /users/{id}, so the slash a pattern does not ask for makes a path
// protected. A pattern that ends in "/" or says "and more" with (.*) still
// covers /pricing/.
func (m *RouteMatcher) matchPublic(path string) bool { return m.match(path, readPublic) }

// reading is how a path is compared with the patterns.
type reading uint8

const (
	readAsWritten reading = iota // letters in the pattern's case; Clerk's optional trailing delimiter
	readAnyCase                  // in any case, with Unicode folding
	readPublic                   // as written, without the optional trailing delimiter
)

func (m *RouteMatcher) match(path string, how reading) bool {
	if m == nil || m.exact == nil {
		return false
	}
	norm, ok := normalizePath(path)
	switch {
	case !ok:
		return false
	case how != readAnyCase:
		return m.exact.matches(norm, norm, false, how == readPublic)
	case isASCII(norm):
		return m.anyCase.matches(norm, norm, true, false)
	}
	return m.anyCase.matches(foldString(norm), norm, false, false)
}

// normalizePath is Clerk's normalizePath: decodeURI, then runs of slashes
// collapse to one. It reports false where decodeURI throws (a malformed
// escape, or escapes that are not UTF-8). It allocates only when the path
// has a percent escape or a doubled slash.
func normalizePath(p string) (string, bool) {
	plain := true
	for i := 0; i < len(p) && plain; i++ {
		plain = p[i] != '%' && (p[i] != '/' || i+1 == len(p) || p[i+1] != '/')
	}
	if plain {
		return p, true
	}
	if strings.IndexByte(p, '%') >= 0 {
		var ok bool
		if p, ok = decodeURI(p); !ok {
			return "", false
		}
	}
	if !strings.Contains(p, "//") {
		return p, true
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && i > 0 && p[i-1] == '/' {
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String(), true
}

// uriReserved is what JavaScript's decodeURI leaves encoded: the characters
// that delimit parts of a URI.
const uriReserved = ";/?:@&=+$,#"

// decodeURI is JavaScript's decodeURI over a UTF-8 string: each escape
// sequence that spells one UTF-8 encoded character is replaced by it,
// except reserved characters, whose escapes are kept as written.
func decodeURI(s string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if s[i] != '%' {
			b.WriteByte(s[i])
			i++
			continue
		}
		c, ok := unhexByte(s, i)
		if !ok {
			return "", false
		}
		if c < utf8.RuneSelf {
			if strings.IndexByte(uriReserved, c) >= 0 {
				b.WriteString(s[i : i+3])
			} else {
				b.WriteByte(c)
			}
			i += 3
			continue
		}
		var n int
		switch {
		case c&0xE0 == 0xC0:
			n = 2
		case c&0xF0 == 0xE0:
			n = 3
		case c&0xF8 == 0xF0:
			n = 4
		default:
			return "", false
		}
		var buf [4]byte
		buf[0] = c
		for k := 1; k < n; k++ {
			cc, ok := unhexByte(s, i+3*k)
			if !ok || cc&0xC0 != 0x80 {
				return "", false
			}
			buf[k] = cc
		}
		// Overlong forms, surrogates and code points past U+10FFFF are
		// URIErrors in JavaScript and invalid UTF-8 in Go alike.
		if r, size := utf8.DecodeRune(buf[:n]); r == utf8.RuneError || size != n {
			return "", false
		}
		b.Write(buf[:n])
		i += 3 * n
	}
	return b.String(), true
}

// unhexByte decodes the escape "%XY" at s[i:].
func unhexByte(s string, i int) (byte, bool) {
	if i+2 >= len(s) || s[i] != '%' {
		return 0, false
	}
	hi, ok1 := unhex(s[i+1])
	lo, ok2 := unhex(s[i+2])
	return hi<<4 | lo, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// foldString maps every rune to the smallest rune of its simple case
// folding orbit (ASCII letters to upper case, and the runes of caseToASCII
// to their letter), so that two strings are equal in any case exactly when
// their folded forms are equal.
func foldString(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		return r
	}
	for _, c := range caseToASCII {
		if c.r == r {
			return c.ascii
		}
	}
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	return least
}

// caseToASCII pairs each rune outside ASCII that a case mapping turns into
// an ASCII letter, though simple case folding does not relate the two, with
// that letter in upper case: unicode.ToLower('İ') is 'i' and
// unicode.ToUpper('ı') is 'I' (and so in unicode.TurkishCase). A front end
// or router that lower- or upper-cases paths serves /admİn/x as /admin/x,
// so in any case (what decides protected routes) each rune counts as its
// letter. K (the Kelvin sign) and ſ fold to k and s without help.
// TestMatchCaseMappingsToASCII searches all of Unicode for more.
var caseToASCII = [...]struct{ r, ascii rune }{{'\u0130', 'I'}, {'\u0131', 'I'}}

// caseEquivalents returns the runes that equal c in any case when c is an
// ASCII letter or a rune of caseToASCII that such a mapping links, else nil.
func caseEquivalents(c rune) []rune {
	letter := unicode.ToUpper(c)
	for _, e := range caseToASCII {
		if e.r == c {
			letter = e.ascii
		}
	}
	var eq []rune
	for _, e := range caseToASCII {
		if e.ascii == letter {
			eq = append(eq, e.r)
		}
	}
	if eq == nil {
		return nil
	}
	return append(eq, letter, unicode.ToLower(letter))
}

// widenCase makes a regular expression parsed in any case ((?i)) treat the
// runes of caseToASCII as their letters, which RE2's simple folding does
// not: each literal letter or rune they link becomes a class of all of
// them, and a class holding one of them gets the others. It runs once per
// pattern, at construction.
func widenCase(re *syntax.Regexp) {
	for _, sub := range re.Sub {
		widenCase(sub)
	}
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase == 0 {
			return
		}
		subs := make([]*syntax.Regexp, 0, len(re.Rune))
		widened := false
		for _, c := range re.Rune {
			if eq := caseEquivalents(c); eq != nil {
				subs = append(subs, &syntax.Regexp{Op: syntax.OpCharClass, Rune: addToClass(nil, eq)})
				widened = true
				continue
			}
			subs = append(subs, &syntax.Regexp{Op: syntax.OpLiteral, Flags: re.Flags, Rune: []rune{c}})
		}
		if widened {
			*re = syntax.Regexp{Op: syntax.OpConcat, Flags: re.Flags, Sub: subs}
		}
	case syntax.OpCharClass:
		for _, e := range caseToASCII {
			if eq := caseEquivalents(e.r); classHasAny(re.Rune, eq) {
				re.Rune = addToClass(re.Rune, eq)
			}
		}
	}
}

// classHasAny reports whether the class ranges (lo, hi pairs) hold one of runes.
func classHasAny(ranges, runes []rune) bool {
	for i := 0; i+1 < len(ranges); i += 2 {
		for _, r := range runes {
			if ranges[i] <= r && r <= ranges[i+1] {
				return true
			}
		}
	}
	return false
}

// addToClass adds runes to the class ranges and returns them sorted and
// merged, as syntax.Regexp.String expects.
func addToClass(ranges, runes []rune) []rune {
	for _, r := range runes {
		ranges = append(ranges, r, r)
	}
	pairs := make([][2]rune, 0, len(ranges)/2)
	for i := 0; i+1 < len(ranges); i += 2 {
		pairs = append(pairs, [2]rune{ranges[i], ranges[i+1]})
	}
	slices.SortFunc(pairs, func(a, b [2]rune) int { return cmp.Compare(a[0], b[0]) })
	out := ranges[:0]
	for _, p := range pairs {
		if n := len(out); n > 0 && p[0] <= out[n-1]+1 {
			out[n-1] = max(out[n-1], p[1])
			continue
		}
		out = append(out, p[0], p[1])
	}
	return out
}

// trieNode is a node of the tree of literal prefixes: the routes stored at
// depth d have a literal prefix equal to the first d bytes of any path that
// reaches them.
type trieNode struct {
	labels   []byte
	children []*trieNode
	routes   []*route
}

// matches walks key (the normalised path, or its folded form) down the
// tree and tries the routes on the way. Routes that run a regular
// expression match orig, the normalised path itself. With upper, key is
// ASCII and its letters are compared in upper case. With strict, no
// optional trailing delimiter is allowed.
func (n *trieNode) matches(key, orig string, upper, strict bool) bool {
	for i := 0; ; i++ {
		for _, r := range n.routes {
			if r.match(key, orig, i, strict) {
				return true
			}
		}
		if i == len(key) {
			return false
		}
		c := key[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if n = n.child(c); n == nil {
			return false
		}
	}
}

func (n *trieNode) child(b byte) *trieNode {
	for i, l := range n.labels {
		if l == b {
			return n.children[i]
		}
	}
	return nil
}

func (n *trieNode) insert(key string, r *route) {
	for i := 0; i < len(key); i++ {
		c := n.child(key[i])
		if c == nil {
			c = &trieNode{}
			n.labels = append(n.labels, key[i])
			n.children = append(n.children, c)
		}
		n = c
	}
	n.routes = append(n.routes, r)
}

type routeKind uint8

const (
	routeExact  routeKind = iota // a literal path, with an optional trailing delimiter
	routePrefix                  // a literal followed by (.*): any path with that prefix
	routeRegexp                  // anything else: the compiled regular expression decides
)

type route struct {
	kind     routeKind
	literal  string         // the leading literal of the pattern (the trie key)
	re       *regexp.Regexp // for routeRegexp
	reStrict *regexp.Regexp // for routeRegexp as written: re without the optional trailing delimiter
}

// match is called with the key that the trie walked, whose first depth
// bytes equal r.literal, and the normalised path for regular expressions.
// With strict, the optional trailing delimiter is not allowed.
func (r *route) match(key, orig string, depth int, strict bool) bool {
	switch r.kind {
	case routeExact:
		// path-to-regexp (non-strict) allows one trailing delimiter.
		return depth == len(key) ||
			(!strict && depth == len(key)-1 && strings.IndexByte(delimiters, key[depth]) >= 0)
	case routePrefix:
		// (.*) takes a trailing delimiter itself: strict or not is the same.
		return !hasLineTerminator(key[depth:])
	case routeRegexp:
		if strict {
			return r.reStrict.MatchString(orig)
		}
	}
	return r.re.MatchString(orig)
}

// hasLineTerminator reports whether s holds a character that JavaScript's
// "." does not match: \n, \r, U+2028 or U+2029. (.*) stops there.
func hasLineTerminator(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n', '\r':
			return true
		case 0xE2: // U+2028 and U+2029 are E2 80 A8 and E2 80 A9
			if i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9) {
				return true
			}
		}
	}
	return false
}

// jsDot is JavaScript's "." (without the s flag) in RE2 syntax.
const jsDot = `[^\n\r\x{2028}\x{2029}]`

// delimiters is path-to-regexp's default delimiter set: a parameter never
// spans one, and one may trail a non-strict route (optionalTrailer).
const (
	delimiters      = "/#?"
	optionalTrailer = "[/#?]?"
)

// PatternError reports an invalid route pattern and where in it the
// problem is.
type PatternError struct {
	Pattern string
	Pos     int // byte offset in Pattern
	Msg     string
}

// Error implements error: the pattern, the problem and its position.
func (e *PatternError) Error() string {
	return fmt.Sprintf("clerkauth: invalid route pattern %q: %s at position %d", e.Pattern, e.Msg, e.Pos)
}

// The lexer and parser follow path-to-regexp 6.3, the version inside
// Clerk's createRouteMatcher, token for token, so a pattern means here what
// it means in a Next.js middleware.

type tokenType uint8

const (
	tokChar tokenType = iota
	tokEscaped
	tokModifier
	tokName
	tokPattern
	tokOpen
	tokClose
	tokEnd
)

type lexToken struct {
	typ   tokenType
	pos   int
	value string
}

func lexPattern(src string) ([]lexToken, error) {
	var toks []lexToken
	fail := func(pos int, msg string) error { return &PatternError{Pattern: src, Pos: pos, Msg: msg} }
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '*' || c == '+' || c == '?':
			toks = append(toks, lexToken{tokModifier, i, src[i : i+1]})
			i++
		case c == '\\':
			if i+1 >= len(src) {
				return nil, fail(i, "trailing escape character")
			}
			toks = append(toks, lexToken{tokEscaped, i, src[i+1 : i+2]})
			i += 2
		case c == '{':
			toks = append(toks, lexToken{tokOpen, i, "{"})
			i++
		case c == '}':
			toks = append(toks, lexToken{tokClose, i, "}"})
			i++
		case c == ':':
			j := i + 1
			for j < len(src) && isNameByte(src[j]) {
				j++
			}
			if j == i+1 {
				return nil, fail(i, "missing parameter name")
			}
			toks = append(toks, lexToken{tokName, i, src[i+1 : j]})
			i = j
		case c == '(':
			j := i + 1
			if j < len(src) && src[j] == '?' {
				return nil, fail(j, `pattern cannot start with "?"`)
			}
			depth := 1
			var pat strings.Builder
			for j < len(src) {
				if src[j] == '\\' {
					if j+1 >= len(src) {
						return nil, fail(j, "trailing escape character")
					}
					pat.WriteString(src[j : j+2])
					j += 2
					continue
				}
				if src[j] == ')' {
					depth--
					if depth == 0 {
						j++
						break
					}
				} else if src[j] == '(' {
					depth++
					if j+1 >= len(src) || src[j+1] != '?' {
						return nil, fail(j, "capturing groups are not allowed")
					}
				}
				pat.WriteByte(src[j])
				j++
			}
			if depth != 0 {
				return nil, fail(i, "unbalanced pattern")
			}
			if pat.Len() == 0 {
				return nil, fail(i, "missing pattern")
			}
			toks = append(toks, lexToken{tokPattern, i, pat.String()})
			i = j
		default:
			toks = append(toks, lexToken{tokChar, i, src[i : i+1]})
			i++
		}
	}
	return append(toks, lexToken{tokEnd, len(src), ""}), nil
}

func isNameByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_'
}

// routePart is a literal string (param is false) or a parameter.
type routePart struct {
	literal  string
	param    bool
	name     string // empty for groups without a parameter
	prefix   string
	suffix   string
	pattern  string // a custom pattern; empty with deflt, or for a group without a parameter
	deflt    bool   // the parameter has no pattern of its own
	avoid    string // with deflt: text the parameter may not contain
	modifier string
	pos      int
}

func parsePattern(src string) ([]routePart, error) {
	toks, err := lexPattern(src)
	if err != nil {
		return nil, err
	}
	var parts []routePart
	i := 0
	path := ""
	try := func(t tokenType) (string, bool) {
		if i < len(toks) && toks[i].typ == t {
			i++
			return toks[i-1].value, true
		}
		return "", false
	}
	text := func() string {
		var b strings.Builder
		for {
			if v, ok := try(tokChar); ok {
				b.WriteString(v)
			} else if v, ok := try(tokEscaped); ok {
				b.WriteString(v)
			} else {
				return b.String()
			}
		}
	}
	flush := func() {
		if path != "" {
			parts = append(parts, routePart{literal: path})
			path = ""
		}
	}
	// avoid is path-to-regexp 6.3's safePattern: a parameter without a
	// pattern of its own may not contain the literal text in front of it,
	// unless that text holds a delimiter; and it needs such text when it
	// follows another parameter.
	avoid := func(prefix string, pos int) (string, error) {
		text := prefix
		if len(parts) > 0 {
			last := parts[len(parts)-1]
			if last.param && prefix == "" {
				return "", &PatternError{Pattern: src, Pos: pos, Msg: "two parameters need text between them (write /:a-:b, not /:a:b)"}
			}
			if text == "" {
				text = last.literal
			}
		}
		if strings.ContainsAny(text, delimiters) {
			return "", nil
		}
		return text, nil
	}
	// addParam completes a parameter (its safe pattern, its modifier) and
	// appends it.
	addParam := func(p routePart) error {
		if p.deflt {
			var err error
			if p.avoid, err = avoid(p.prefix, p.pos); err != nil {
				return err
			}
		}
		p.modifier, _ = try(tokModifier)
		parts = append(parts, p)
		return nil
	}
	for i < len(toks) {
		char, hasChar := try(tokChar)
		pos := toks[i].pos // the parameter's position, after any prefix
		name, hasName := try(tokName)
		pat, hasPat := try(tokPattern)
		if hasName || hasPat {
			prefix := char
			if !hasChar || !strings.Contains("./", prefix) {
				path += prefix
				prefix = ""
			}
			flush()
			if err := addParam(routePart{param: true, name: name, prefix: prefix, pattern: pat, deflt: !hasPat, pos: pos}); err != nil {
				return nil, err
			}
			continue
		}
		if hasChar {
			path += char
			continue
		}
		if v, ok := try(tokEscaped); ok {
			path += v
			continue
		}
		flush()
		pos = toks[i].pos
		if _, ok := try(tokOpen); ok {
			prefix := text()
			name, hasName := try(tokName)
			pat, hasPat := try(tokPattern)
			suffix := text()
			if _, ok := try(tokClose); !ok {
				return nil, &PatternError{Pattern: src, Pos: toks[i].pos, Msg: "expected }"}
			}
			if err := addParam(routePart{param: true, name: name, prefix: prefix, suffix: suffix, pattern: pat, deflt: hasName && !hasPat, pos: pos}); err != nil {
				return nil, err
			}
			continue
		}
		if _, ok := try(tokEnd); !ok {
			what := "unexpected character"
			switch toks[i].typ {
			case tokModifier:
				what = "unexpected modifier " + toks[i].value
			case tokClose:
				what = "unexpected }"
			}
			return nil, &PatternError{Pattern: src, Pos: toks[i].pos, Msg: what}
		}
	}
	return parts, nil
}

// compileRoute turns one pattern into two routes, one matching in the case
// as written and one in any case, choosing the cheapest kind that has the
// same meaning as path-to-regexp's regular expression.
func compileRoute(src string) (exact, anyCase *route, err error) {
	parts, err := parsePattern(src)
	if err != nil {
		return nil, nil, err
	}
	loose, err := buildRegexp(src, parts, true)
	if err != nil {
		return nil, nil, err
	}
	if !canMatchRequestPath(loose) {
		return nil, nil, neverMatches(src)
	}
	lead := ""
	rest := parts
	if len(parts) > 0 && !parts[0].param {
		lead, rest = parts[0].literal, parts[1:]
	}
	switch {
	case len(rest) == 0:
		return &route{kind: routeExact, literal: lead}, &route{kind: routeExact, literal: foldString(lead)}, nil
	case len(rest) == 1 && rest[0].pattern == ".*" && rest[0].suffix == "" && rest[0].modifier == "":
		// "/x(.*)" and "/x/(.*)": .* followed by an optional delimiter and
		// the end matches any remainder without a line terminator, so a
		// prefix test is exact.
		lit := lead + rest[0].prefix
		return &route{kind: routePrefix, literal: lit}, &route{kind: routePrefix, literal: foldString(lit)}, nil
	}
	strict, err := buildRegexp(src, parts, false)
	if err != nil {
		return nil, nil, err
	}
	strictEnd, err := regexp.Compile(strings.TrimSuffix(strict.String(), optionalTrailer+"$") + "$")
	if err != nil {
		return nil, nil, &PatternError{Pattern: src, Msg: "cannot compile: " + err.Error()}
	}
	folded, err := compileAnyCase(loose)
	if err != nil {
		return nil, nil, &PatternError{Pattern: src, Msg: "cannot compile: " + err.Error()}
	}
	return &route{kind: routeRegexp, literal: lead, re: strict, reStrict: strictEnd},
		&route{kind: routeRegexp, literal: foldString(lead), re: folded}, nil
}

// compileAnyCase compiles re in any case: (?i), widened by widenCase.
func compileAnyCase(re *regexp.Regexp) (*regexp.Regexp, error) {
	parsed, err := syntax.Parse("(?i)"+re.String(), syntax.Perl)
	if err != nil {
		return nil, err
	}
	widenCase(parsed)
	return regexp.Compile(parsed.String())
}

// buildRegexp is path-to-regexp's tokensToRegexp with Clerk's options
// (start, end, non-strict), case-sensitive. JavaScript's lookahead in a
// parameter that may not contain a multi-character text has no RE2
// equivalent: loose drops it (the parameter matches more, for deciding
// what is protected), strict forbids the text's first character (the
// parameter matches less, for deciding what is public).
func buildRegexp(src string, parts []routePart, loose bool) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for _, p := range parts {
		if !p.param {
			b.WriteString(regexp.QuoteMeta(p.literal))
			continue
		}
		prefix, suffix := regexp.QuoteMeta(p.prefix), regexp.QuoteMeta(p.suffix)
		pattern := defaultParam(p.avoid, loose)
		if !p.deflt {
			if p.pattern == "" {
				// A group without a parameter: {…}?
				fmt.Fprintf(&b, "(?:%s%s)%s", prefix, suffix, p.modifier)
				continue
			}
			// Check the custom pattern on its own first, so the error
			// points at it rather than at the generated expression.
			pattern = jsPattern(p.pattern)
			if _, err := regexp.Compile(pattern); err != nil {
				return nil, &PatternError{Pattern: src, Pos: p.pos, Msg: "invalid regular expression " + p.pattern + " (Go's RE2 syntax has no lookaround or backreferences)"}
			}
		}
		repeat := p.modifier == "+" || p.modifier == "*"
		switch {
		case (prefix != "" || suffix != "") && repeat:
			opt := ""
			if p.modifier == "*" {
				opt = "?"
			}
			fmt.Fprintf(&b, "(?:%s((?:%s)(?:%s%s(?:%s))*)%s)%s", prefix, pattern, suffix, prefix, pattern, suffix, opt)
		case prefix != "" || suffix != "":
			fmt.Fprintf(&b, "(?:%s(%s)%s)%s", prefix, pattern, suffix, p.modifier)
		case repeat:
			return nil, &PatternError{Pattern: src, Pos: p.pos, Msg: "a repeated parameter needs a prefix or suffix (write /:name* or {-:name}*)"}
		default:
			fmt.Fprintf(&b, "(%s)%s", pattern, p.modifier)
		}
	}
	b.WriteString(optionalTrailer + "$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, &PatternError{Pattern: src, Pos: 0, Msg: "cannot compile: " + err.Error()}
	}
	return re, nil
}

// defaultParam is what a parameter without a pattern of its own matches:
// one or more characters up to the next delimiter, none of them starting
// the text it avoids.
func defaultParam(avoid string, loose bool) string {
	if avoid == "" || loose && utf8.RuneCountInString(avoid) > 1 {
		return `[^/#?]+?`
	}
	first, _ := utf8.DecodeRuneInString(avoid)
	return `[^` + regexp.QuoteMeta(string(first)) + `/#?]+?`
}

// jsPattern rewrites what differs between a JavaScript regular expression
// and RE2 where both accept it: "." outside a character class does not
// match line terminators in JavaScript.
func jsPattern(p string) string {
	if !strings.Contains(p, ".") {
		return p
	}
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\' && i+1 < len(p):
			b.WriteString(p[i : i+2])
			i++
		case c == '[':
			inClass = true
			b.WriteByte(c)
		case c == ']':
			inClass = false
			b.WriteByte(c)
		case c == '.' && !inClass:
			b.WriteString(jsDot)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// canMatchRequestPath reports whether re can match some normalised request
// path: one that starts with "/", has no doubled slash, and carries "?"
// and "#" only percent-encoded. It runs re's program against that small
// automaton, so it decides for every pattern, not only the common typos.
func canMatchRequestPath(re *regexp.Regexp) bool {
	parsed, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return true // cannot analyse: leave the pattern to the tests
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return true
	}
	const (
		atStart = iota
		afterSlash
		afterOther
	)
	type state struct {
		pc uint32
		at uint8
	}
	seen := map[state]bool{}
	stack := []state{{uint32(prog.Start), atStart}}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[s] {
			continue
		}
		seen[s] = true
		inst := &prog.Inst[s.pc]
		switch inst.Op {
		case syntax.InstMatch:
			if s.at != atStart {
				return true
			}
		case syntax.InstAlt, syntax.InstAltMatch:
			stack = append(stack, state{inst.Out, s.at}, state{inst.Arg, s.at})
		case syntax.InstCapture, syntax.InstNop:
			stack = append(stack, state{inst.Out, s.at})
		case syntax.InstEmptyWidth:
			if syntax.EmptyOp(inst.Arg)&(syntax.EmptyBeginText|syntax.EmptyBeginLine) == 0 || s.at == atStart {
				stack = append(stack, state{inst.Out, s.at})
			}
		case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			slash, other := inst.MatchRune('/'), matchesOther(inst)
			if slash && s.at != afterSlash {
				stack = append(stack, state{inst.Out, afterSlash})
			}
			if other && s.at != atStart {
				stack = append(stack, state{inst.Out, afterOther})
			}
		}
	}
	return false
}

// matchesOther reports whether a rune instruction matches anything other
// than "/", "?" and "#".
func matchesOther(inst *syntax.Inst) bool {
	if inst.Op == syntax.InstRuneAny || inst.Op == syntax.InstRuneAnyNotNL {
		return true
	}
	if len(inst.Rune) == 1 {
		return !strings.ContainsRune("/?#", inst.Rune[0])
	}
	for i := 0; i+1 < len(inst.Rune); i += 2 {
		for r := inst.Rune[i]; r <= inst.Rune[i+1] && r <= inst.Rune[i]+1; r++ {
			if !strings.ContainsRune("/?#", r) {
				return true
			}
		}
	}
	return false
}

// neverMatches explains a pattern that no request path can match.
func neverMatches(src string) error {
	msg := `it can never match a request path: paths start with "/", runs of slashes collapse to one, and "?" and "#" only appear percent-encoded`
	if c := src[0]; c != '/' && c != '(' && c != '{' && c != ':' {
		fix := "/" + strings.TrimLeft(strings.TrimSuffix(src, "$"), "^/")
		msg = fmt.Sprintf(`route patterns are paths starting with "/", not regular expressions: write %q`, fix)
	}
	return &PatternError{Pattern: src, Pos: 0, Msg: msg}
}
