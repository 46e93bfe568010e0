package clerkauth

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
)

// Middleware authenticates every request and enforces the route policy:
//
//  1. The token is taken from "Authorization: Bearer …" (any type in
//     Config.AcceptsToken) or, without that header, from Clerk's session
//     cookies, and verified. With a publishable key the cookies are read
//     by Clerk's rules, and a page load with a stale session is sent
//     through Clerk's handshake (a 307 to the Frontend API, on any route);
//     see AuthenticateRequest and the README's "Server-rendered pages".
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
// slash, …) is always treated as protected; see the README's route policy.
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
			a.redirectHandshake(w, r, s, loc)
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
// answer either instead.
//
// Require panics when a check has no Allow function: that is a programming
// error best found at start-up.
func (a *Auth) Require(checks ...Check) func(http.Handler) http.Handler {
	for _, c := range checks {
		if c.Allow == nil {
			panic("clerkauth: Require: a Check has a nil Allow function")
		}
	}
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
				switch {
				case id != nil:
					r = r.WithContext(ContextWithIdentity(r.Context(), id))
				case failure.Reason == ReasonCrossOriginRequest:
					a.forbid(w, r, Check{Reason: ReasonCrossOriginRequest})
					return
				default:
					a.reject(w, r, failure)
					return
				}
			}
			if c, err := failedCheck(id, checks); err != nil {
				if err.Status() == http.StatusUnauthorized {
					// Not this kind of caller at all (TokenTypes): 401, as
					// the middleware answers a token type it does not accept.
					a.reject(w, r, err)
				} else {
					a.forbid(w, r, c)
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Authenticate finds the request's token and verifies it. The
// Authorization header wins over the cookie, as in Clerk: when both are
// present and disagree, only the header is considered. The cookie only
// ever carries a session token; the header carries any type listed in
// Config.AcceptsToken, and a token of another type is ErrTokenTypeMismatch.
//
// It is AuthenticateRequest without the handshake: a request that needs
// one is signed out with its reason, and cookies a handshake or a refresh
// would set are not set. Use AuthenticateRequest (or Middleware) to serve
// pages.
func (a *Auth) Authenticate(r *http.Request) (*Identity, error) {
	s := a.AuthenticateRequest(r)
	if s.Status == SignedIn {
		return s.Identity, nil
	}
	return nil, s.Err
}

// AuthenticateRequest decides a request as @clerk/backend's
// authenticateRequest does, for code that does not use Middleware: a
// Bearer token is verified by its type; without one, the session cookies
// are read by Clerk's rules, and a stale session on a page load is a
// Handshake (answer 307 to RequestState.Redirect(), with
// RequestState.Headers). With a publishable key, that is; without one, the
// session cookie is simply verified.
func (a *Auth) AuthenticateRequest(r *http.Request) RequestState {
	if a.cfg.Hooks.Decision == nil {
		return a.authenticate(r)
	}
	start := sinceEpoch()
	s := a.authenticate(r)
	a.cfg.Hooks.Decision(r.Context(), s.decisionInfo(sinceEpoch()-start))
	return s
}

// authenticate is AuthenticateRequest without the hook.
func (a *Auth) authenticate(r *http.Request) RequestState {
	if a.frontendAPI != "" && len(r.Header["Authorization"]) == 0 && slices.Contains(a.accepts, SessionToken) {
		return a.authenticateCookie(r) // Clerk's cookie rules, which read the cookies themselves
	}
	token, bearer, err := a.tokenFromRequest(r)
	var hit bool
	switch {
	case bearer && err != nil:
		return signedOutState(err, nil)
	case bearer:
		id, err := a.verifyBearer(r.Context(), token, &hit)
		if err != nil {
			return signedOutState(err, nil)
		}
		s := signedInState(id, nil, false)
		s.cached = hit
		return s
	case !slices.Contains(a.accepts, SessionToken):
		// Sessions are not accepted here: no cookie is read, and a request
		// without a Bearer token is of the wrong type, as Clerk answers it.
		return signedOutState(a.noCredential(), nil)
	case a.frontendAPI != "":
		return a.authenticateCookie(r)
	case err != nil:
		return signedOutState(err, nil)
	}
	id, err := a.verifySession(r.Context(), token, &hit)
	if err != nil {
		return signedOutState(err, nil)
	}
	s := signedInState(id, nil, true)
	s.cached = hit
	return s
}

// crossOrigin reports whether a request with an unsafe method comes from
// another origin, by http.CrossOriginProtection's rules (Sec-Fetch-Site,
// else Origin against Host); AuthorizedParties are trusted origins.
func (a *Auth) crossOrigin(r *http.Request) bool {
	return a.csrf.Check(r) != nil
}

// redirectHandshake answers a handshake (or the return from one) with 307
// and Clerk's status headers.
func (a *Auth) redirectHandshake(w http.ResponseWriter, r *http.Request, s RequestState, loc string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if s.Status == Handshake {
		h.Set("X-Clerk-Auth-Status", string(Handshake))
		h.Set("X-Clerk-Auth-Reason", s.HandshakeReason)
	}
	http.Redirect(w, r, loc, http.StatusTemporaryRedirect)
}

// verifyBearer verifies a token from the Authorization header by its type.
// When hit is not nil, *hit is set when the verdict came from a cache.
func (a *Auth) verifyBearer(ctx context.Context, token string, hit *bool) (*Identity, error) {
	if isOpaque(token) {
		typ := classifyToken(token) // by prefix alone
		if !slices.Contains(a.accepts, typ) {
			return nil, tokenTypeMismatch(typ)
		}
		return a.machine.verifyOpaque(ctx, typ, token, hit)
	}
	typ := SessionToken
	if a.machine != nil { // some machine type is accepted: which is this?
		if id := a.cachedIdentity(token); id != nil {
			typ = id.TokenType // verified before
		} else {
			typ = classifyToken(token) // reads the payload and header, unverified
		}
	}
	if !slices.Contains(a.accepts, typ) {
		return nil, tokenTypeMismatch(typ)
	}
	if typ != SessionToken {
		return a.verifyMachineJWT(ctx, token, typ, hit)
	}
	id, err := a.verifySession(ctx, token, hit)
	if err != nil && a.machine == nil {
		// Only sessions are accepted, so the token was not classified
		// (that costs a decode per request). A machine's JWT that failed
		// verification is reported for what it is, as Clerk does; one
		// that verified was refused as a mismatch by VerifyToken.
		if t := classifyToken(token); t != SessionToken {
			return nil, tokenTypeMismatch(t)
		}
	}
	return id, err
}

// SessionCookie is the name of Clerk's session cookie. Clerk also sets a
// suffixed copy, "__session_<suffix>", whose suffix is derived from the
// publishable key, so that several instances on one domain do not clash.
const SessionCookie = "__session"

// tokenFromRequest returns the request's token and whether it came from
// the Authorization header (else from the session cookie).
func (a *Auth) tokenFromRequest(r *http.Request) (token string, bearer bool, err error) {
	// Direct map access: the key is canonical, and it tells one header
	// from two (Header.Get would hide a second Authorization header).
	if token, found, err := bearerToken(r.Header["Authorization"]); found {
		if err != nil {
			return "", true, err
		}
		return token, true, nil
	}
	// No header, or another scheme (Basic, …): the cookie.
	if a.cookieSuffixed != "" {
		if v, ok := findCookie(r.Header["Cookie"], a.cookieSuffixed, false); ok && v != "" {
			return v, false, nil
		}
	}
	if v, ok := findCookie(r.Header["Cookie"], SessionCookie, a.cookieSuffixed == ""); ok && v != "" {
		return v, false, nil
	}
	return "", false, newError(ReasonSessionTokenMissing, "no Bearer token and no __session cookie")
}

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
