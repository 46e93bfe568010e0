package clerkauth

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// RouteMatcher decides whether a request path matches any of a list of
// route patterns written in the syntax of Clerk's createRouteMatcher (which
// is path-to-regexp 6):
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
//	/literal\(paren\)     escaped special characters
//
// Patterns are compiled once. Matching walks a tree of the patterns'
// literal prefixes, so its cost depends on the length of the path, not on
// the number of patterns; patterns that are pure literals or literal
// prefixes followed by (.*) never run a regular expression. Matching does
// not allocate.
//
// Unlike Clerk's matcher, matching is case-sensitive, as Go's
// http.ServeMux is; the README lists every difference.
//
// A RouteMatcher is safe for concurrent use. The zero value matches nothing.
type RouteMatcher struct {
	patterns []string
	root     *trieNode
}

// NewRouteMatcher compiles patterns. An invalid pattern is an error that
// names the pattern and the position of the problem. Empty patterns are
// ignored, as Clerk ignores them.
func NewRouteMatcher(patterns ...string) (*RouteMatcher, error) {
	m := &RouteMatcher{root: &trieNode{}}
	for _, p := range patterns {
		if p == "" {
			continue
		}
		r, err := compileRoute(p)
		if err != nil {
			return nil, err
		}
		m.patterns = append(m.patterns, p)
		m.root.insert(r.literal, r)
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

// Match reports whether the request's path (r.URL.Path) matches one of the
// patterns. It reads only the decoded path: the middleware treats paths
// whose raw form could be routed differently (encoded slashes, dot
// segments) as protected before it consults a matcher.
func (m *RouteMatcher) Match(r *http.Request) bool {
	if r == nil || r.URL == nil {
		return false
	}
	return m.MatchPath(r.URL.Path)
}

// MatchPath reports whether path, a decoded URL path as in r.URL.Path,
// matches one of the patterns.
func (m *RouteMatcher) MatchPath(path string) bool {
	if m == nil || m.root == nil {
		return false
	}
	n := m.root
	for i := 0; ; i++ {
		for _, r := range n.routes {
			if r.match(path, i) {
				return true
			}
		}
		if i == len(path) {
			return false
		}
		if n = n.child(path[i]); n == nil {
			return false
		}
	}
}

// trieNode is a node of the tree of literal prefixes: the routes stored at
// depth d have a literal prefix equal to the first d bytes of any path that
// reaches them.
type trieNode struct {
	labels   []byte
	children []*trieNode
	routes   []*route
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
	kind    routeKind
	literal string         // the leading literal of the pattern (the trie key)
	re      *regexp.Regexp // for routeRegexp
}

// match is called with the path and the length of the prefix that already
// equals r.literal.
func (r *route) match(path string, depth int) bool {
	switch r.kind {
	case routeExact:
		// path-to-regexp (non-strict) allows one trailing delimiter.
		return depth == len(path) ||
			(depth == len(path)-1 && strings.IndexByte(delimiters, path[depth]) >= 0)
	case routePrefix:
		// (.*) stops at a newline: "." matches anything but \n, in
		// path-to-regexp's JavaScript as in RE2.
		return strings.IndexByte(path[depth:], '\n') < 0
	default:
		return r.re.MatchString(path)
	}
}

// delimiters is path-to-regexp's default delimiter set: a parameter never
// spans one, and one may trail a non-strict route.
const delimiters = "/#?"

// defaultParamPattern is what a :param matches when it has no pattern of
// its own: one or more characters up to the next delimiter.
const defaultParamPattern = `[^/#?]+?`

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

// The lexer and parser follow path-to-regexp 6.x, the version inside
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

// routePart is a literal string (key == false) or a parameter.
type routePart struct {
	literal  string
	param    bool
	name     string // empty for groups without a parameter
	prefix   string
	suffix   string
	pattern  string
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
			if !hasPat {
				pat = defaultParamPattern
			}
			mod, _ := try(tokModifier)
			parts = append(parts, routePart{param: true, name: name, prefix: prefix, pattern: pat, modifier: mod, pos: pos})
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
			if hasName && !hasPat {
				pat = defaultParamPattern
			}
			mod, _ := try(tokModifier)
			parts = append(parts, routePart{param: true, name: name, prefix: prefix, suffix: suffix, pattern: pat, modifier: mod, pos: pos})
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

// compileRoute turns one pattern into a route, choosing the cheapest kind
// that has the same meaning as path-to-regexp's regular expression.
func compileRoute(src string) (*route, error) {
	parts, err := parsePattern(src)
	if err != nil {
		return nil, err
	}
	lead := ""
	rest := parts
	if len(parts) > 0 && !parts[0].param {
		lead, rest = parts[0].literal, parts[1:]
	}
	switch {
	case len(rest) == 0:
		return &route{kind: routeExact, literal: lead}, nil
	case len(rest) == 1 && rest[0].pattern == ".*" && rest[0].suffix == "" && rest[0].modifier == "":
		// "/x(.*)" and "/x/(.*)": .* followed by an optional delimiter and
		// the end matches any remainder, so a prefix test is exact.
		return &route{kind: routePrefix, literal: lead + rest[0].prefix}, nil
	}

	re, err := buildRegexp(src, parts)
	if err != nil {
		return nil, err
	}
	return &route{kind: routeRegexp, literal: lead, re: re}, nil
}

// buildRegexp is path-to-regexp's tokensToRegexp with Clerk's options
// (start, end, non-strict) except that matching is case-sensitive.
func buildRegexp(src string, parts []routePart) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for _, p := range parts {
		if !p.param {
			b.WriteString(regexp.QuoteMeta(p.literal))
			continue
		}
		prefix, suffix := regexp.QuoteMeta(p.prefix), regexp.QuoteMeta(p.suffix)
		if p.pattern == "" {
			// A group without a parameter: {…}?
			fmt.Fprintf(&b, "(?:%s%s)%s", prefix, suffix, p.modifier)
			continue
		}
		// Check the custom pattern on its own first, so the error points
		// at it rather than at the generated expression.
		if _, err := regexp.Compile(p.pattern); err != nil {
			return nil, &PatternError{Pattern: src, Pos: p.pos, Msg: "invalid regular expression " + p.pattern + " (Go's RE2 syntax has no lookaround or backreferences)"}
		}
		repeat := p.modifier == "+" || p.modifier == "*"
		switch {
		case (prefix != "" || suffix != "") && repeat:
			opt := ""
			if p.modifier == "*" {
				opt = "?"
			}
			fmt.Fprintf(&b, "(?:%s((?:%s)(?:%s%s(?:%s))*)%s)%s", prefix, p.pattern, suffix, prefix, p.pattern, suffix, opt)
		case prefix != "" || suffix != "":
			fmt.Fprintf(&b, "(?:%s(%s)%s)%s", prefix, p.pattern, suffix, p.modifier)
		case repeat:
			fmt.Fprintf(&b, "((?:%s)%s)", p.pattern, p.modifier)
		default:
			fmt.Fprintf(&b, "(%s)%s", p.pattern, p.modifier)
		}
	}
	b.WriteString("[/#?]?$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, &PatternError{Pattern: src, Pos: 0, Msg: "cannot compile: " + err.Error()}
	}
	return re, nil
}
