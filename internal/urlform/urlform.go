// Package urlform is the URL Standard's application/x-www-form-urlencoded
// parser and serializer (JavaScript's URLSearchParams), which Clerk's
// handshake URLs are built with: reproducing them byte for byte needs the
// Standard's rules, not net/url's.
package urlform

import "strings"

// Pair is one name=value of a query, in order.
type Pair struct{ K, V string }

// Parse parses a query as the URL Standard's
// application/x-www-form-urlencoded parser does (URLSearchParams).
func Parse(q string) []Pair {
	var out []Pair
	for seq := range strings.SplitSeq(q, "&") {
		if seq == "" {
			continue
		}
		k, v, _ := strings.Cut(seq, "=")
		out = append(out, Pair{K: decode(k), V: decode(v)})
	}
	return out
}

func decode(s string) string {
	s = strings.ReplaceAll(s, "+", " ")
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c, ok := Unescape(s, i); ok {
			out = append(out, c)
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// Set is URLSearchParams.set: the first pair named k takes v and the
// others named k go; without one, k=v is appended.
func Set(pairs []Pair, k, v string) []Pair {
	out := pairs[:0:0]
	found := false
	for _, p := range pairs {
		switch {
		case p.K != k:
			out = append(out, p)
		case !found:
			out = append(out, Pair{K: k, V: v})
			found = true
		}
	}
	if !found {
		out = append(out, Pair{K: k, V: v})
	}
	return out
}

// Serialize is the URL Standard's application/x-www-form-urlencoded
// serializer: space as +, alphanumerics and *-._ as they are, every other
// byte percent-encoded.
func Serialize(pairs []Pair) string {
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		encode(&b, p.K)
		b.WriteByte('=')
		encode(&b, p.V)
	}
	return b.String()
}

func encode(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ':
			b.WriteByte('+')
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '*' || c == '-' || c == '.' || c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
}

// Unescape decodes the percent escape "%XY" at s[i:].
func Unescape(s string, i int) (byte, bool) {
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
