// Package redact makes configured values fit to print. Every place that
// shows a configured URL (an error of clerkauth.New, a log line, the
// clerkauth command's output) passes it through URL, so that a password
// written into CLERK_PROXY_URL or CLERK_JWT_ISSUER_DOMAIN never reaches a
// terminal, a log collector or a bug report.
package redact

import (
	"net/url"
	"strings"
)

// Mask replaces what URL hides.
const Mask = "xxxxx"

// URL returns s with any credential in it masked:
//
//   - a URL's password is replaced by xxxxx, as url.URL.Redacted does;
//   - a lone user name ("https://ghp_…@host") is masked too, because it is
//     usually a token;
//   - a string that does not parse as a URL with a host, or that has an
//     '@' url.Parse did not read as user information, or an opaque part
//     ("user:secret"), keeps only its scheme: the rest might be a
//     password that a parser other than net/url would find.
//
// A URL without user information is returned unchanged.
func URL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Opaque != "":
		return maskAfterScheme(s)
	case u.User != nil:
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
		u.User = url.User(Mask)
		return u.String()
	case u.Host == "" && strings.Contains(s, "@"):
		// "user:secret@host/x" without a scheme parses as a path.
		return maskAfterScheme(s)
	}
	return s
}

// maskAfterScheme keeps "scheme://" (or "scheme:") and masks the rest.
func maskAfterScheme(s string) string {
	if i := strings.Index(s, "://"); i > 0 && validScheme(s[:i]) {
		return s[:i+3] + Mask
	}
	if i := strings.IndexByte(s, ':'); i > 0 && validScheme(s[:i]) {
		return s[:i+1] + Mask
	}
	return Mask
}

// validScheme is RFC 3986's scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}
