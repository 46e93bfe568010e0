package clerkauth

import (
	"context"
	"net/http"
	"slices"
)

// This file is the decision: AuthenticateRequest reads a request once
// (request.go), verifies its credential by type (a Bearer token of any
// accepted type, or the session cookies by Clerk's rules, handshake.go),
// and returns the state with every header its answer needs. Middleware
// and Require only write what it decided (middleware.go, respond.go).

// AuthStatus is the outcome of AuthenticateRequest, in Clerk's words.
type AuthStatus string

// The outcomes of AuthenticateRequest.
const (
	SignedIn  AuthStatus = "signed-in"
	SignedOut AuthStatus = "signed-out"
	// Handshake: the browser must go through Clerk's handshake; answer
	// with RequestState.Headers (a 307 to the Frontend API).
	Handshake AuthStatus = "handshake"
)

// RequestState is the decision AuthenticateRequest makes for a request, as
// @clerk/backend's authenticateRequest makes it: signed in (as Identity),
// signed out (with Err), or a handshake. Headers holds what the response
// must carry in every case: the cookies a handshake or a refresh sets, and
// for a handshake (or, on development instances, the return from one) the
// Location to redirect to with 307. Middleware does all of this.
type RequestState struct {
	Status   AuthStatus
	Identity *Identity // SignedIn
	Err      *Error    // SignedOut and Handshake: why
	// HandshakeReason is Clerk's reason for a handshake (also sent to the
	// Frontend API), e.g. "session-token-expired-refresh-non-eligible-no-refresh-cookie".
	HandshakeReason string
	Headers         http.Header
	// cookie: the identity came from the session cookie (for the
	// cross-site request check).
	cookie bool
}

// Redirect reports where the response must redirect (307), if anywhere.
func (s RequestState) Redirect() string { return s.Headers.Get("Location") }

// WriteHeaders copies Headers to w (Set-Cookie lines added, others set).
func (s RequestState) WriteHeaders(w http.ResponseWriter) {
	h := w.Header()
	for k, vs := range s.Headers {
		if k == "Set-Cookie" {
			h[k] = append(h[k], vs...)
		} else {
			h[k] = slices.Clone(vs)
		}
	}
}

func signedInState(id *Identity, headers http.Header, cookie bool) RequestState {
	return RequestState{Status: SignedIn, Identity: id, Headers: headers, cookie: cookie}
}

func signedOutState(err error, headers http.Header) RequestState {
	return RequestState{Status: SignedOut, Err: asError(err), Headers: headers}
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
		return a.authenticate(r, nil)
	}
	var tr verdictTrace
	s := a.authenticate(r, &tr)
	a.cfg.Hooks.Decision(r.Context(), s.decisionInfo(&tr))
	return s
}

// authenticate is AuthenticateRequest, telling tr (when not nil) what
// the hook reports.
func (a *Auth) authenticate(r *http.Request, tr *verdictTrace) RequestState {
	if a.frontendAPI != "" && len(r.Header["Authorization"]) == 0 && slices.Contains(a.accepts, SessionToken) {
		return a.authenticateCookie(r, tr) // Clerk's cookie rules, which read the cookies themselves
	}
	token, bearer, err := a.tokenFromRequest(r)
	switch {
	case bearer && err != nil:
		return signedOutState(err, nil)
	case bearer:
		id, err := a.verifyBearer(r.Context(), token, tr)
		if err != nil {
			return signedOutState(fromBearer(err), nil)
		}
		return signedInState(id, nil, false)
	case !slices.Contains(a.accepts, SessionToken):
		// Sessions are not accepted here: no cookie is read, and a request
		// without a Bearer token is of the wrong type, as Clerk answers it.
		return signedOutState(a.noCredential(), nil)
	case a.frontendAPI != "":
		return a.authenticateCookie(r, tr)
	case err != nil:
		return signedOutState(err, nil)
	}
	id, err := a.verifySession(r.Context(), token, tr)
	if err != nil {
		return signedOutState(err, nil)
	}
	return signedInState(id, nil, true)
}

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

// verifyBearer verifies a token from the Authorization header by its type.
// tr, when not nil, hears whether a cache answered (Hooks.Decision).
func (a *Auth) verifyBearer(ctx context.Context, token string, tr *verdictTrace) (*Identity, error) {
	if isOpaque(token) {
		typ := classifyToken(token) // by prefix alone
		if !slices.Contains(a.accepts, typ) {
			return nil, tokenTypeMismatch(typ)
		}
		return a.machine.verifyOpaque(ctx, typ, token, tr)
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
		return a.verifyMachineJWT(ctx, token, typ, tr)
	}
	id, err := a.verifySession(ctx, token, tr)
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
