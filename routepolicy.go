package clerkauth

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// routePolicy decides which requests need a session. It fails closed both
// ways: a path is public only when a public pattern matches it in the case
// it is written in and without the optional trailing slash (a router sends
// /pricing/ to a subtree handler, not to /pricing), and protected when a
// protected pattern matches it in any case. A path that a router could
// read differently from the matcher is protected whatever the patterns say.
type routePolicy struct {
	public    *RouteMatcher // PublicRoutes mode: everything else is protected
	protected *RouteMatcher // ProtectedRoutes mode (public is nil)
}

// protects reports whether the request URL needs a session.
//
// The matcher reads the path as Clerk does: escapes of reserved characters
// (%3F, %23, %3A, …) stay encoded. Go's ServeMux reads each segment fully
// decoded. Where the two readings differ, the path is protected if either
// reading is, so "/t/acme%3F/secrets" is protected by "/t/:tenant/secrets"
// and "/pricing%3F" is not the public "/pricing".
func (p routePolicy) protects(u *url.URL) bool {
	if pathAmbiguous(u) {
		return true
	}
	escaped := u.EscapedPath()
	if p.protectsPath(escaped) {
		return true
	}
	return strings.IndexByte(escaped, '%') >= 0 && p.protectsPath(u.Path)
}

// protectsPath applies the patterns to one reading of the path.
func (p routePolicy) protectsPath(path string) bool {
	if p.protected != nil {
		return p.protected.MatchPathAnyCase(path)
	}
	return !p.public.matchPublic(path)
}

// pathAmbiguous reports whether a router, proxy or file server could
// resolve the request path to a different resource than the matcher sees:
//
//   - an encoded slash or backslash (%2F, %5C): ServeMux matches
//     "/{tenant}/secrets" against the escaped path, so "/a%2Fb/secrets" is
//     one segment there but two once decoded;
//   - an encoded percent sign (%25), which a second decoding reads as
//     another escape;
//   - dot segments ("/./", "/../", plain or encoded) and doubled slashes,
//     which routers clean or redirect in different ways;
//   - backslashes and control characters, which some servers and proxies
//     treat as slashes or strip, and U+2028/U+2029, where Clerk's (.*)
//     stops but a Go router does not;
//   - bytes that are not UTF-8 (Clerk answers 400: its decodeURI fails);
//   - anything that is not an absolute path ("*", or empty).
//
// Such paths are treated as protected: fail closed.
func pathAmbiguous(u *url.URL) bool {
	p := u.Path
	if p == "" || p[0] != '/' {
		return true
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < 0x20 || c == 0x7f || c == '\\' {
			return true
		}
		if c >= utf8.RuneSelf {
			// Leave the rare non-ASCII path to one careful pass.
			if !utf8.ValidString(p) || strings.ContainsAny(p, "\u2028\u2029") {
				return true
			}
			continue
		}
		if c == '/' && i > 0 && p[i-1] == '/' {
			return true
		}
		if c == '.' && p[i-1] == '/' {
			// "/." or "/.." followed by "/" or the end is a dot segment.
			j := i + 1
			if j < len(p) && p[j] == '.' {
				j++
			}
			if j == len(p) || p[j] == '/' {
				return true
			}
		}
	}
	if raw := u.RawPath; raw != "" {
		for i := 0; i+2 < len(raw); i++ {
			if raw[i] == '%' {
				h := raw[i+1 : i+3]
				if strings.EqualFold(h, "2f") || strings.EqualFold(h, "5c") || h == "25" {
					return true
				}
			}
		}
	}
	return false
}
