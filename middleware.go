package clerkauth

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/clerkauth/clerkauth/internal/redact"
)

// Middleware authenticates every request and enforces the route policy:
//
//  1. The token is taken from "Authorization: Bearer …" (any type in
//     Config.AcceptsToken) or, without that header, from Clerk's session
//     cookies, and verified. With a publishable key the cookies are read
//     by Clerk's rules, and a page load with a stale session is sent
//     through Clerk's handshake (a 307 to the Frontend API, on any route);
//     see AuthenticateRequest and docs/handshake.md.
//  2. A valid session puts the Identity into the request context (read it
//     with IdentityFromContext; clerk.SessionClaimsFromContext works too).
//  3. Public routes always pass, signed in or not.
//  4. A protected route without a valid session is answered here: a
//     browser navigation is redirected to the sign-in page with
//     ?redirect_url=<the original URL>; anything else gets 401 with
//     WWW-Authenticate and {"error":"unauthenticated","reason":"…"}. When
//     the instance's keys cannot be fetched the answer is 503 with
//     Retry-After, never 401: the client's session may be fine.
//
// CORS preflights are requests like any other: they carry no credentials,
// so on a protected route they are refused. Wrap Middleware in your CORS
// middleware, which answers preflights before they get here.
//
// A path that a router could read differently from the matcher (an
// encoded slash, backslash or percent sign, a dot segment, a doubled
// slash, …) is always treated as protected; see docs/routing.md.
func (a *Auth) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protected := a.routes.protects(r.URL)
		id, failure, done := a.decide(w, r, protected)
		switch {
		case done:
		case id != nil:
			next.ServeHTTP(w, r.WithContext(ContextWithIdentity(r.Context(), id)))
		case !protected:
			next.ServeHTTP(w, r.WithContext(contextWithFailure(r.Context(), failure)))
		default:
			a.reject(w, r, failure)
		}
	})
}

// decide authenticates a request for Middleware and Require and writes
// what the decision itself needs written: the cookies of a handshake or a
// refresh, a handshake's redirect (on any route: a public page also shows
// who is signed in), and the refusal of a cross-site request on a
// protected route. It returns the identity, or why there is none, or done
// when the response is written.
func (a *Auth) decide(w http.ResponseWriter, r *http.Request, protected bool) (id *Identity, failure *Error, done bool) {
	s := a.AuthenticateRequest(r)
	if len(s.Headers) > 0 {
		s.WriteHeaders(w)
		if loc := s.Redirect(); loc != "" {
			// A handshake, or the return from a development one: the
			// state's headers are the whole answer but for the redirect.
			http.Redirect(w, r, loc, http.StatusTemporaryRedirect)
			return nil, nil, true
		}
	}
	if s.Status == SignedIn && s.cookie && a.crossOrigin(r) {
		// The session cookie is ambient authority: a cross-site form or
		// fetch must not use it to change anything.
		if protected {
			a.forbid(w, r, Check{Reason: ReasonCrossOriginRequest})
			return nil, nil, true
		}
		return nil, newError(ReasonCrossOriginRequest, "an unsafe request from another origin, signed in only by the session cookie"), false
	}
	if s.Status == SignedIn {
		return s.Identity, nil, false
	}
	return nil, s.Err, false
}

// Require returns a guard for individual handlers: the request must be
// signed in and pass every check, e.g.
//
//	mux.Handle("/api/admin", auth.Require(clerkauth.Role("org:admin"))(adminHandler))
//
// Behind Middleware it reuses the middleware's result, so it also works on
// routes that the middleware treats as public; without Middleware it
// authenticates the request itself (a stale session cookie on a page load
// goes through Clerk's handshake there too). A request that is not signed in is
// answered as the middleware answers it (redirect, 401 or 503), CORS
// preflights included; a failed check gets 403 with
// {"error":"forbidden","reason":"<the check's reason>"} (a Reverification
// check, the body Clerk's front end reads). Config.RefusalHandler can
// answer either instead. Like auth.protect()'s options in Clerk's Next.js
// SDK, UnauthenticatedURL, UnauthorizedURL and NotFound change these
// answers for one route: a redirect of your choosing, or a 404 that hides
// the route (docs/authorization.md).
//
// Require panics when a check has no Allow function, an Audience check
// names an audience that Config.Audience does not list, or an option is
// given twice or names a URL it cannot redirect to: programming errors
// best found at start-up.
func (a *Auth) Require(checks ...Check) func(http.Handler) http.Handler {
	for _, c := range checks {
		if c.Allow == nil {
			panic("clerkauth: Require: a Check has a nil Allow function")
		}
	}
	if aud, ok := a.unlistedAudience(checks); ok {
		panic("clerkauth: Require: Audience(" + strconv.Quote(aud) + ") is not in Config.Audience, whose tokens alone verify; add it there")
	}
	pending := allowsPending(checks)
	opts := newProtection(checks)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, ok := IdentityFromContext(r.Context())
			if !ok {
				failure, found := failureFromContext(r.Context())
				if !found {
					// No Middleware in front: decide here, handshake included.
					var done bool
					if id, failure, done = a.decide(w, r, true); done {
						return
					}
				}
				if pending && id == nil && failure != nil && failure.pending != nil {
					// This route opted in (AllowPending), and only it.
					var admitted bool
					if id, admitted = a.admitPending(w, r, failure.pending); !admitted {
						return
					}
				}
				switch {
				case id != nil:
					r = r.WithContext(ContextWithIdentity(r.Context(), id))
				case failure.Reason == ReasonCrossOriginRequest:
					a.forbid(w, r, Check{Reason: ReasonCrossOriginRequest})
					return
				default:
					a.rejectAs(w, r, failure, opts.forSignedOut(r, failure))
					return
				}
			}
			if c, err := failedCheck(id, checks); err != nil {
				switch {
				case opts.forFailedCheck(id, c) != nil:
					a.forbidAs(w, r, c, opts) // UnauthorizedURL, NotFound
				case err.Status() == http.StatusUnauthorized:
					// Not this kind of caller at all (TokenTypes, Audience):
					// 401, as the middleware answers a token it does not accept.
					a.reject(w, r, err)
				default:
					a.forbid(w, r, c)
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// crossOrigin reports whether a request with an unsafe method comes from
// another origin, by http.CrossOriginProtection's rules (Sec-Fetch-Site,
// else Origin against Host); AuthorizedParties are trusted origins.
func (a *Auth) crossOrigin(r *http.Request) bool {
	return a.csrf.Check(r) != nil
}

// newCrossOriginProtection builds the cross-site request check of cookie
// sessions: the standard library's rules, with the authorized parties'
// origins trusted (they are the instance's own front ends).
func newCrossOriginProtection(parties []string) (*http.CrossOriginProtection, error) {
	csrf := http.NewCrossOriginProtection()
	for _, origin := range parties {
		if err := csrf.AddTrustedOrigin(origin); err != nil {
			return nil, fmt.Errorf("clerkauth: authorized party %q: %v", redact.URL(origin), err)
		}
	}
	return csrf, nil
}

// SessionCookie is the name of Clerk's session cookie. Clerk also sets a
// suffixed copy, "__session_<suffix>", whose suffix is derived from the
// publishable key, so that several instances on one domain do not clash.
const SessionCookie = "__session"

// findCookie finds a cookie by name (the first wins) without a
// publishable key's rules. With anySuffix, a "name_<8 characters>" cookie
// also matches: without a publishable key the instance's suffix is
// unknown.
func findCookie(lines []string, name string, anySuffix bool) (value string, found bool) {
	var suffixed string
	var haveSuffixed bool
	scanCookies(lines, func(k, v string) bool {
		if k == name {
			value, found = v, true
			return false
		}
		if anySuffix && !haveSuffixed && len(k) == len(name)+9 && strings.HasPrefix(k, name) && k[len(name)] == '_' {
			suffixed, haveSuffixed = v, true
		}
		return true
	})
	if !found {
		value, found = suffixed, haveSuffixed
	}
	return cookieValue(value), found
}

// asError converts any error to *Error (unknown errors become
// token-invalid: fail closed).
func asError(err error) *Error {
	if e, ok := err.(*Error); ok {
		return e
	}
	return wrapError(reasonOf(err), "", err)
}

// onceFlag is a lock-free "first time?" flag, for log lines that would
// otherwise repeat on every request.
type onceFlag struct{ done atomic.Bool }

func (f *onceFlag) first() bool { return f.done.CompareAndSwap(false, true) }
