package clerkauth

import (
	"cmp"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/clerkauth/clerkauth/internal/urlform"
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

// Patterns returns the patterns the matcher was built from.
func (m *RouteMatcher) Patterns() []string {
	if m == nil {
		return nil
	}
	return append([]string(nil), m.patterns...)
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
	if exp, ok := expandCase(norm); ok && m.anyCase.matches(foldString(exp), exp, false, false) {
		return true
	}
	return m.anyCase.matches(foldString(norm), norm, false, false)
}

// caseToASCIILetters are the runes that a full case mapping (JavaScript's
// toUpperCase, Unicode's SpecialCasing) turns into several ASCII letters,
// which Go's rune-by-rune mappings and simple folding leave alone: a front
// end that upper-cases paths that way serves /ﬁles as /FILES. ẞ joins ß,
// whose capital it is. TestMatchMultiRuneCaseMappings checks the list
// against JavaScript's mappings of all of Unicode.
var caseToASCIILetters = map[rune]string{
	'ß': "SS", 'ẞ': "SS", 'ﬀ': "FF", 'ﬁ': "FI", 'ﬂ': "FL", 'ﬃ': "FFI", 'ﬄ': "FFL", 'ﬅ': "ST", 'ﬆ': "ST",
}

// expandCase is path with every rune of caseToASCIILetters replaced by its
// letters, and whether there was one: in any case (what decides protected
// routes) a path is protected when either reading matches.
func expandCase(path string) (string, bool) {
	var b strings.Builder
	found := false
	for i, r := range path {
		letters, ok := caseToASCIILetters[r]
		switch {
		case ok && !found:
			found = true
			b.Grow(len(path) + 4)
			b.WriteString(path[:i])
			b.WriteString(letters)
		case ok:
			b.WriteString(letters)
		case found:
			b.WriteRune(r)
		}
	}
	return b.String(), found
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
		c, ok := urlform.Unescape(s, i)
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
			cc, ok := urlform.Unescape(s, i+3*k)
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
