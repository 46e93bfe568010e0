package clerkauth

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// This file compiles one route pattern, as path-to-regexp 6.3 (which
// Clerk's createRouteMatcher uses) does, into the regular expressions
// routematch.go's matcher runs, and refuses a pattern that can never match
// a request path.

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
