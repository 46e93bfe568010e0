package clerkauth

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// This file reads a request the way the rest of the package needs it
// read, once and in one place, as Clerk's ClerkRequest does: the URL the
// browser addressed (behind the forwarded-header policy), whether the
// request is a page load, and its cookies. Two readings of the same
// request are a bug waiting for a proxy; every other file calls these.

// The URL the browser addressed.
//
// Behind a reverse proxy the request's Host and scheme are the proxy's
// view, and the browser's sits in X-Forwarded-Host and X-Forwarded-Proto.
// Those headers are believed only from a peer listed in
// Config.TrustedProxies (by default nobody), and only when they hold one
// value: the proxy must set them, not append to what the client sent.
//
// The threat: any client can send X-Forwarded-Host. Believed, it names
// the host of the URLs we build for that response: the sign-in page's and
// the handshake's redirect_url, the origin of a session refresh. It cannot
// sign anyone in (tokens are verified against the instance's keys, not the
// host), and each answer goes to the client that asked; but a cache
// between us and the browser that keyed a redirect without that header
// would serve it to others, and a sign-in page that does not check
// redirect_url (Clerk's does) would follow it. Not believing it by default
// removes both; naming the proxy restores the right URLs behind it.

// addressedURL is the request's URL as the browser addressed it: scheme
// and host from the connection and Host header, or from the forwarded
// headers of a trusted proxy; path and query from the request line.
func (a *Auth) addressedURL(r *http.Request) *url.URL {
	scheme, host := a.addressedOrigin(r)
	return &url.URL{Scheme: scheme, Host: host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
}

// canonicalHost is a host as browsers compare it: lower case, without
// the scheme's default port.
func canonicalHost(scheme, host string) string {
	host = strings.ToLower(host)
	switch {
	case scheme == "https":
		host = strings.TrimSuffix(host, ":443")
	case scheme == "http":
		host = strings.TrimSuffix(host, ":80")
	}
	return host
}

// canonicalOrigin is u's origin as browsers serialize it (and Clerk's azp
// says it).
func canonicalOrigin(u *url.URL) string { return u.Scheme + "://" + canonicalHost(u.Scheme, u.Host) }

// addressedPath is u's path as the browser sent it, serialized as the URL
// Standard (and so Clerk's code) serializes it: the request line's own
// escapes are kept, where Go's EscapedPath re-escapes a whole path for one
// character it would have escaped (| ^ ' are left alone by browsers and
// the Standard alike), and only the characters of the Standard's path
// percent-encode set are escaped.
func addressedPath(u *url.URL) string {
	p := u.RawPath
	if p == "" {
		p = u.EscapedPath()
	} else if dec, err := url.PathUnescape(p); err != nil || dec != u.Path {
		p = u.EscapedPath() // RawPath no longer says Path (a handler changed it)
	}
	return percentEncode(p, `"#<>?`+"`{}")
}

// addressedQuery is a raw query as the URL Standard serializes a special
// URL's: the request line's escapes kept, its special-query percent-encode
// set escaped (' among them).
func addressedQuery(raw string) string { return percentEncode(raw, `"#<>'`) }

// percentEncode escapes controls, space, bytes above ~ and the bytes of
// set; "%" and everything else are left as they are.
func percentEncode(s, set string) string {
	const hex = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > ' ' && c < 0x7f && strings.IndexByte(set, c) < 0 {
			if b != nil {
				b = append(b, c)
			}
			continue
		}
		if b == nil {
			b = append(make([]byte, 0, len(s)+8), s[:i]...)
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	if b == nil {
		return s
	}
	return string(b)
}

// addressedOrigin is addressedURL's scheme and host, for a caller that
// needs no more (Hosts, on every request).
func (a *Auth) addressedOrigin(r *http.Request) (scheme, host string) {
	scheme = "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host = r.Host
	if len(a.trustedProxies) > 0 && a.fromTrustedProxy(r) {
		if p, ok := forwardedValue(r.Header, "X-Forwarded-Proto"); ok && (strings.EqualFold(p, "https") || strings.EqualFold(p, "http")) {
			scheme = strings.ToLower(p)
		}
		if h, ok := forwardedValue(r.Header, "X-Forwarded-Host"); ok && validAuthority(h) {
			host = h
		}
	}
	return scheme, host
}

// fromTrustedProxy reports whether the request's peer is a trusted proxy.
func (a *Auth) fromTrustedProxy(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	for _, p := range a.trustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// forwardedValue returns a forwarded header's value when it holds exactly
// one: a list ("a, b", or two header lines) means a proxy appended to what
// the client sent, whose first value is the client's, and is not believed.
func forwardedValue(h http.Header, key string) (string, bool) {
	vs := h[key]
	if len(vs) != 1 || strings.IndexByte(vs[0], ',') >= 0 {
		return "", false
	}
	v := strings.TrimSpace(vs[0])
	return v, v != ""
}

// validAuthority: a host[:port] and nothing else (no user info, path, query or
// spaces), as a URL's authority reads it back.
func validAuthority(h string) bool {
	u, err := url.Parse("http://" + h + "/")
	return err == nil && u.Host == h && u.User == nil && u.Path == "/" && !strings.ContainsAny(h, " \t")
}

// parseTrustedProxies reads Config.TrustedProxies: IP addresses or CIDR
// prefixes.
func parseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("clerkauth: TrustedProxies lists %q, which is neither an IP address nor a CIDR prefix (e.g. \"10.0.0.0/8\", \"127.0.0.1\")", s)
		}
		addr = addr.Unmap()
		out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
	}
	return out, nil
}

// credentialPresented reports whether the request carried a credential
// this Auth reads: a Bearer Authorization header (another scheme, Basic
// say, is someone else's), or a session cookie, plain or suffixed, where
// sessions are accepted.
func (a *Auth) credentialPresented(r *http.Request) bool {
	if _, found, _ := bearerToken(r.Header["Authorization"]); found {
		return true
	}
	if !slices.Contains(a.accepts, SessionToken) {
		return false
	}
	v, found := findCookie(r.Header["Cookie"], SessionCookie, true)
	return found && v != ""
}

// Is this a page load? Two questions, answered as Clerk answers each:
//
//   - isBrowserNavigation: should a refusal redirect to the sign-in page
//     (else 401)? GET or HEAD, and Sec-Fetch-Dest document or iframe, or,
//     from clients without Fetch Metadata, an Accept that names text/html
//     anywhere (Clerk's redirect helpers read it so).
//   - handshakeEligible: may a stale session go through the handshake?
//     GET only (a HEAD cannot follow Clerk's round trip usefully), and
//     without Fetch Metadata an Accept that starts with text/html (Clerk's
//     isRequestEligibleForHandshake).
//
// isBrowserNavigation tells a page load (to be redirected to sign-in) from
// an API call (to be answered 401), as Clerk does: Sec-Fetch-Dest says so
// when the browser sends it; older clients are judged by Accept.
func isBrowserNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if dest := r.Header.Get("Sec-Fetch-Dest"); dest != "" {
		return dest == "document" || dest == "iframe"
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// handshakeEligible: only a page load can be sent through the handshake
// (Clerk's isRequestEligibleForHandshake).
func handshakeEligible(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	switch dest := headerValue(r.Header, "Sec-Fetch-Dest"); {
	case dest == "document" || dest == "iframe":
		return true
	case dest == "":
		return strings.HasPrefix(headerValue(r.Header, "Accept"), "text/html")
	}
	return false
}

// headerValue is h.Get(key) for a key already in canonical form, without
// canonicalizing it again on every request.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// maxCookieBytes bounds how much of the Cookie header is read: browsers
// send at most a few kilobytes per site (Clerk's own cookies are about
// 3 KiB), and a cookie beyond the bound is read as absent, which never
// signs anyone in.
const maxCookieBytes = 64 << 10

// scanCookies calls yield with each name=value pair of the Cookie header
// lines, in order, names and values trimmed, values still encoded (see
// cookieValue), until yield returns false. One pass, no allocation: the
// pairs are substrings of the header. The one cookie parser of the
// package.
func scanCookies(lines []string, yield func(name, value string) bool) {
	budget := maxCookieBytes
	for _, line := range lines {
		if len(line) > budget {
			line = line[:budget]
		}
		budget -= len(line)
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(part, "=")
			if !ok {
				continue
			}
			if k = strings.TrimSpace(k); k == "" {
				continue
			}
			if !yield(k, strings.TrimSpace(v)) {
				return
			}
		}
		if budget <= 0 {
			return
		}
	}
}

// cookieValue unquotes a cookie value and percent-decodes it, as the
// cookie package Clerk uses does (a value that is not valid escaping is
// kept as it is).
func cookieValue(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if strings.IndexByte(v, '%') >= 0 {
		if dec, err := url.PathUnescape(v); err == nil {
			v = dec
		}
	}
	return v
}

// cookieJar holds the few cookies Clerk reads (cookieNames.kept), found
// in one pass over the Cookie header: every other cookie is skipped as it
// is scanned, so a header of thousands of cookies costs its length and no
// memory. The first of repeated names wins, as in the cookie package Clerk
// uses; values are unquoted and percent-decoded as Clerk's are.
type cookieJar struct {
	names  *[jarSize]string
	values [jarSize]string
	seen   uint16
}

// jarSize is the number of cookie names the cookie side reads.
const jarSize = 11

func (j *cookieJar) parse(lines []string, names *[jarSize]string) {
	j.names = names
	scanCookies(lines, func(k, v string) bool {
		for i := range names {
			if names[i] == k {
				if j.seen&(1<<i) == 0 {
					j.values[i], j.seen = cookieValue(v), j.seen|1<<i
				}
				break
			}
		}
		return true
	})
}

// get returns a kept cookie's value ("" when absent). name must be one of
// the kept names.
func (j *cookieJar) get(name string) string {
	for i := range j.names {
		if j.names[i] == name {
			return j.values[i]
		}
	}
	return ""
}

// cookieNames are the instance's suffixed cookie names and the list of
// every name the cookie side reads, built once.
type cookieNames struct {
	sessionSuffixed, clientUATSuffixed, devBrowserSuffixed, refreshSuffixed string
	kept                                                                    [jarSize]string
}

func newCookieNames(suffix string) cookieNames {
	n := cookieNames{
		sessionSuffixed:    SessionCookie + "_" + suffix,
		clientUATSuffixed:  cookieClientUAT + "_" + suffix,
		devBrowserSuffixed: cookieDevBrowser + "_" + suffix,
		refreshSuffixed:    cookieRefresh + "_" + suffix,
	}
	n.kept = [jarSize]string{
		SessionCookie, cookieClientUAT, cookieDevBrowser, cookieHandshake, cookieHandshakeNonce, cookieRedirectCount,
		n.sessionSuffixed, n.clientUATSuffixed, n.devBrowserSuffixed, n.refreshSuffixed, cookieHandshakeStarted,
	}
	return n
}
