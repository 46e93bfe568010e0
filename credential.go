package clerkauth

import (
	"context"
	"net/http"
	"slices"
	"strings"
)

// This file is the transport-neutral entry point: a credential verified
// without an http.Request (gRPC, Connect, queues, websockets), by the same
// code as the Bearer path of Middleware, and checks run outside HTTP. The
// answer is an *Error whose Status and Reason any transport can map.

// VerifyCredential verifies a credential that did not come in an HTTP
// request (a gRPC call's metadata, a websocket's first message, a queued
// job): a token of any type in Config.AcceptsToken, session or machine,
// told apart and verified exactly as Middleware does for
// "Authorization: Bearer <token>". token is the bare credential, without
// "Bearer ".
//
// The error is an *Error: its Reason is the reason code to send, its
// Status the HTTP status Middleware would answer with (401 for a missing,
// bad or unaccepted credential; 503 when the instance's keys or the
// Backend API cannot be reached or the machine-token verifier is busy;
// the client is not at fault then and may retry). An empty token is
// ReasonSessionTokenMissing, or ReasonTokenTypeMismatch when AcceptsToken
// does not list SessionToken, as Middleware answers a request without a
// token.
//
// Check the identity with [Identity.Authorize]; put it into a context with
// [ContextWithIdentity].
func (a *Auth) VerifyCredential(ctx context.Context, token string) (*Identity, error) {
	if token == "" {
		return a.reportCredential(ctx, nil, nil, a.noCredential())
	}
	if a.cfg.Hooks.Decision == nil {
		return a.verifyBearer(ctx, token, nil)
	}
	var tr verdictTrace
	id, err := a.verifyBearer(ctx, token, &tr)
	return a.reportCredential(ctx, &tr, id, err)
}

// reportCredential tells Hooks.Decision about a credential's verdict (tr
// nil: nothing was verified) and returns it.
func (a *Auth) reportCredential(ctx context.Context, tr *verdictTrace, id *Identity, err error) (*Identity, error) {
	if a.cfg.Hooks.Decision == nil {
		return id, err
	}
	s := signedInState(id, nil, false)
	if err != nil {
		s = signedOutState(err, nil)
	}
	if tr == nil {
		tr = &verdictTrace{}
	}
	a.cfg.Hooks.Decision(ctx, s.decisionInfo(tr))
	return id, err
}

// VerifyAuthorization is VerifyCredential for the values of an
// Authorization header (or of gRPC's "authorization" metadata), read by
// the rules of Middleware: one "Bearer <token>" value (the scheme in any
// case) is verified; none, or only values of another scheme (Basic, …),
// is a missing credential; an empty Bearer token, or more than one value,
// is ReasonTokenInvalid.
func (a *Auth) VerifyAuthorization(ctx context.Context, values []string) (*Identity, error) {
	token, found, err := bearerToken(values)
	switch {
	case err != nil:
		return a.reportCredential(ctx, nil, nil, err)
	case !found:
		return a.reportCredential(ctx, nil, nil, a.noCredential())
	}
	return a.VerifyCredential(ctx, token)
}

// bearerToken reads Authorization header values: the Bearer token, and
// whether the values speak to us at all (a Bearer scheme, or an ambiguity
// we refuse); found is false for no value or another scheme.
func bearerToken(values []string) (token string, found bool, err *Error) {
	switch len(values) {
	case 0:
		return "", false, nil
	case 1:
	default:
		// Two Authorization headers are an ambiguity that proxies and
		// servers resolve differently; refuse rather than pick one.
		return "", true, newError(ReasonTokenInvalid, "more than one Authorization header")
	}
	v := strings.TrimSpace(values[0])
	scheme, token, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false, nil // another scheme (Basic, …) belongs to someone else
	}
	if token = strings.TrimSpace(token); token == "" {
		return "", true, newError(ReasonTokenInvalid, "the Authorization header has an empty Bearer token")
	}
	return token, true, nil // the verifiers refuse oversized tokens before any work
}

// noCredential is the error for a request that brought no token: a
// missing session, or, where sessions are not accepted, a caller of the
// wrong type (as Clerk answers it).
func (a *Auth) noCredential() *Error {
	if !slices.Contains(a.accepts, SessionToken) {
		return newError(ReasonTokenTypeMismatch, "no Bearer token, and AcceptsToken does not list SessionToken")
	}
	return newError(ReasonSessionTokenMissing, "no credential")
}

// Authorize runs checks on a verified identity outside HTTP, as Require
// does: nil when every check passes, else an *Error with the first failed
// check's Reason and Status 403, except for a TokenTypes or Audience
// check, which fails with 401 token-type-mismatch or
// token-invalid-audience (not this kind of caller at all). A nil identity
// fails with 401 session-token-missing.
func (id *Identity) Authorize(checks ...Check) error {
	if _, err := failedCheck(id, checks); err != nil {
		return err
	}
	return nil
}

// failedCheck returns the first of checks that id fails, and its error;
// Require and Authorize both decide by it.
func failedCheck(id *Identity, checks []Check) (Check, *Error) {
	if id == nil {
		return Check{}, newError(ReasonSessionTokenMissing, "no identity to check")
	}
	for _, c := range checks {
		if c.Allow == nil || !c.Allow(id) { // a Check without Allow fails closed
			switch c.Reason {
			case ReasonTokenTypeMismatch:
				return c, tokenTypeMismatch(id.TokenType)
			case ReasonTokenInvalidAudience:
				return c, newError(ReasonTokenInvalidAudience, "the route requires a JWT-template token (Audience) and this token's aud does not name it")
			}
			return c, &Error{Reason: c.Reason, Detail: "the identity fails a check", status: http.StatusForbidden}
		}
	}
	return Check{}, nil
}

// Status is the HTTP status Middleware answers this error with: 401 for a
// missing, bad or unaccepted credential, 403 for a failed check (a Check's
// reason, a cross-site request), 503 when the keys or the Backend API are
// out of reach or the machine-token verifier is busy (retry later). A page
// load that Middleware redirects to the sign-in page is a 401 here. A
// reason clerkauth does not know is 401: fail closed.
func (e *Error) Status() int {
	if e.status != 0 {
		return e.status
	}
	if info, ok := knownReason(e.Reason); ok {
		return info.status
	}
	return http.StatusUnauthorized
}
