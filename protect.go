package clerkauth

import (
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/clerkauth/clerkauth/internal/redact"
)

// protect()'s options, per route.
//
// @clerk/nextjs's auth.protect(params, { unauthenticatedUrl,
// unauthorizedUrl }) chooses how a route answers the requests it refuses:
// a signed-out one is redirected to unauthenticatedUrl (without it, a page
// load goes to sign-in and anything else is Next's notFound()), a
// signed-in one that fails the check to unauthorizedUrl (without it,
// notFound()); a machine token is answered 401 whatever the options say.
// UnauthenticatedURL, UnauthorizedURL and NotFound are those options for
// Require, carried in Check like AllowPending. Which refusals they change
// is decided here, once; respond.go builds the answers.

// protectOption is one of those options, carried by the Check that names
// it.
type protectOption struct {
	name string // optUnauthenticatedURL, optUnauthorizedURL or optNotFound
	url  string
}

const (
	optUnauthenticatedURL = "UnauthenticatedURL"
	optUnauthorizedURL    = "UnauthorizedURL"
	optNotFound           = "NotFound"
)

// protection is a Require's options, read once when Require is called.
type protection struct {
	signedOut    *url.URL // UnauthenticatedURL: where a signed-out request goes, with redirect_url
	unauthorized string   // UnauthorizedURL: the Location for a signed-in request that fails a check
	notFound     bool     // NotFound: other refusals are the router's 404
}

// newProtection reads the options among checks; nil when there are none.
// It panics on a URL Require cannot redirect to, and on an option given
// twice: programming errors best found at start-up.
func newProtection(checks []Check) *protection {
	var p protection
	seen := map[string]bool{}
	for _, c := range checks {
		o := c.option
		if o == nil {
			continue
		}
		if seen[o.name] {
			panic("clerkauth: Require: " + o.name + " is given more than once; keep one")
		}
		seen[o.name] = true
		switch o.name {
		case optUnauthenticatedURL:
			p.signedOut = redirectTarget(o.name, o.url)
		case optUnauthorizedURL:
			p.unauthorized = redirectTarget(o.name, o.url).String()
		case optNotFound:
			p.notFound = true
		}
	}
	if len(seen) == 0 {
		return nil
	}
	return &p
}

// redirectTarget parses an option's URL: a path on this server ("/…") or
// an absolute http(s) URL without user information. A path starting with
// "//" or holding a backslash is refused: browsers read "//evil.example"
// and "/\evil.example" as another host.
func redirectTarget(option, s string) *url.URL {
	fail := func(why string) {
		panic("clerkauth: Require: " + option + "(" + strconv.Quote(redact.URL(s)) + ") " + why)
	}
	if s == "" {
		fail(`needs a URL: a path such as "/sign-in" or an absolute https URL`)
	}
	if strings.HasPrefix(s, "//") || strings.ContainsRune(s, '\\') {
		fail(`would send browsers to another host; write the path as "/…" or the URL as "https://host/…"`)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		fail(`is not a URL; use a path such as "/sign-in" or an absolute https URL`)
	case u.User != nil:
		fail("carries a user name or password, which every redirected browser would see; remove it")
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/"):
		// As http.Redirect will send it, so that the Location offered to
		// Config.RefusalHandler is the one sent.
		clean := path.Clean(u.Path)
		if strings.HasSuffix(u.Path, "/") && clean != "/" {
			clean += "/"
		}
		u.Path, u.RawPath = clean, ""
		return u
	case (u.Scheme == "https" || u.Scheme == "http") && u.Opaque == "" && u.Host != "" && validAuthority(u.Host):
		return u
	}
	fail(`must be a path starting with "/" or an absolute http(s) URL`)
	return nil
}

// forSignedOut is p for a request refused as not signed in, or nil when
// the options do not change its answer: a 503 (the client's session may be
// fine), a caller of the wrong kind (token-type-mismatch,
// token-invalid-audience: signing in again would not help), or a machine
// token, which Clerk answers 401 whatever protect() says.
func (p *protection) forSignedOut(r *http.Request, e *Error) *protection {
	switch {
	case p == nil || e.Status() == http.StatusServiceUnavailable,
		e.Reason == ReasonTokenTypeMismatch || e.Reason == ReasonTokenInvalidAudience,
		machineCaller(r):
		return nil
	}
	return p
}

// forFailedCheck is p for a signed-in identity that failed c, or nil when
// the options do not change its answer: no UnauthorizedURL or NotFound, a
// machine token (Clerk answers it 401; here it keeps its 401 or 403), or a
// Reverification check, whose 403 body clerk-js's useReverification reads
// to prompt the user.
func (p *protection) forFailedCheck(id *Identity, c Check) *protection {
	if p == nil || p.unauthorized == "" && !p.notFound || id == nil || isMachineType(id.TokenType) || c.reverify != nil {
		return nil
	}
	return p
}

// machineCaller reports whether the request's Bearer token is a machine
// token by its form (unverified, one bounded read): only on the refusal
// path of a route with options.
func machineCaller(r *http.Request) bool {
	token, found, err := bearerToken(r.Header["Authorization"])
	return found && err == nil && isMachineType(classifyToken(token))
}
