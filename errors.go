package clerkauth

import "errors"

// Reason codes name why a request is not signed in. They follow the
// vocabulary of Clerk's @clerk/backend (TokenVerificationErrorReason and
// AuthErrorReason) so that logs and dashboards read the same across a
// Next.js front end and a Go back end. Where Clerk folds several failures
// into one generic code, clerkauth names the failure precisely (these codes
// are marked "clerkauth" below); the README lists them all.
//
// Each code a token verification can end with has a sentinel error beside
// it (ErrTokenExpired for ReasonTokenExpired, …), for errors.Is. Sentinels
// are constants, so no caller can change or replace one for everybody.
const (
	// ReasonSessionTokenMissing: no token in the Authorization header or the
	// __session cookie.
	ReasonSessionTokenMissing          = "session-token-missing"
	ErrSessionTokenMissing    sentinel = ReasonSessionTokenMissing
	// ReasonTokenInvalid: the token is malformed (not three base64url
	// segments, bad JSON, missing or mistyped claims), too large, or sent
	// twice in conflicting ways.
	ReasonTokenInvalid          = "token-invalid"
	ErrTokenInvalid    sentinel = ReasonTokenInvalid
	// ReasonTokenInvalidAlgorithm: the header names an algorithm other than
	// RS256 ("none" and HMAC are never accepted).
	ReasonTokenInvalidAlgorithm          = "token-invalid-algorithm"
	ErrTokenInvalidAlgorithm    sentinel = ReasonTokenInvalidAlgorithm
	// ReasonTokenInvalidSignature: the signature does not verify with the
	// instance's key.
	ReasonTokenInvalidSignature          = "token-invalid-signature"
	ErrTokenInvalidSignature    sentinel = ReasonTokenInvalidSignature
	// ReasonTokenExpired: exp is in the past (beyond the clock skew).
	ReasonTokenExpired          = "token-expired"
	ErrTokenExpired    sentinel = ReasonTokenExpired
	// ReasonTokenNotActiveYet: nbf is in the future (beyond the clock skew).
	ReasonTokenNotActiveYet          = "token-not-active-yet"
	ErrTokenNotActiveYet    sentinel = ReasonTokenNotActiveYet
	// ReasonTokenIatInTheFuture: iat is in the future (beyond the clock skew).
	ReasonTokenIatInTheFuture          = "token-iat-in-the-future"
	ErrTokenIatInTheFuture    sentinel = ReasonTokenIatInTheFuture
	// ReasonTokenInvalidAuthorizedParties: azp is missing or not listed in
	// Config.AuthorizedParties.
	ReasonTokenInvalidAuthorizedParties          = "token-invalid-authorized-parties"
	ErrTokenInvalidAuthorizedParties    sentinel = ReasonTokenInvalidAuthorizedParties
	// ReasonTokenInvalidIssuer (clerkauth): iss is not this instance's
	// issuer. Clerk reports this as token-invalid.
	ReasonTokenInvalidIssuer          = "token-invalid-issuer"
	ErrTokenInvalidIssuer    sentinel = ReasonTokenInvalidIssuer
	// ReasonTokenInvalidAudience (clerkauth): aud does not contain any value
	// of Config.Audience. Clerk reports this as token-verification-failed.
	ReasonTokenInvalidAudience          = "token-invalid-audience"
	ErrTokenInvalidAudience    sentinel = ReasonTokenInvalidAudience
	// ReasonJWKKidMismatch: no key of the instance has the token's kid, even
	// after refreshing the key set.
	ReasonJWKKidMismatch          = "jwk-kid-mismatch"
	ErrJWKKidMismatch    sentinel = ReasonJWKKidMismatch
	// ReasonJWKFailedToLoad: the instance's keys could not be fetched and
	// none are cached. The middleware answers 503, never 401, for this one:
	// the client did nothing wrong and should retry.
	ReasonJWKFailedToLoad          = "jwk-remote-failed-to-load"
	ErrJWKFailedToLoad    sentinel = ReasonJWKFailedToLoad
	// ReasonSessionPending (clerkauth): the session is valid but pending
	// (sts: "pending", for example an organization must still be chosen).
	// Like Clerk's default treatPendingAsSignedOut, it counts as signed out.
	ReasonSessionPending          = "session-pending"
	ErrSessionPending    sentinel = ReasonSessionPending

	// Reasons of the cookie side (Clerk's AuthErrorReason): why a page load
	// is sent through Clerk's handshake, or, for a request that cannot
	// follow one (a fetch, a POST), why it is signed out.
	//
	// ReasonSessionTokenWithoutClientUAT: a __session cookie without
	// __client_uat.
	ReasonSessionTokenWithoutClientUAT          = "session-token-but-no-client-uat"
	ErrSessionTokenWithoutClientUAT    sentinel = ReasonSessionTokenWithoutClientUAT
	// ReasonClientUATWithoutSessionToken: __client_uat says signed in, but
	// there is no __session cookie (it expired in the browser).
	ReasonClientUATWithoutSessionToken          = "client-uat-but-no-session-token"
	ErrClientUATWithoutSessionToken    sentinel = ReasonClientUATWithoutSessionToken
	// ReasonSessionTokenIATBeforeClientUAT: the session cookie was issued
	// before the browser last signed in or out.
	ReasonSessionTokenIATBeforeClientUAT          = "session-token-iat-before-client-uat"
	ErrSessionTokenIATBeforeClientUAT    sentinel = ReasonSessionTokenIATBeforeClientUAT
	// ReasonDevBrowserMissing and ReasonDevBrowserSync: development
	// instances only, the dev browser token (__clerk_db_jwt) is missing or
	// has just arrived in the URL.
	ReasonDevBrowserMissing          = "dev-browser-missing"
	ErrDevBrowserMissing    sentinel = ReasonDevBrowserMissing
	ReasonDevBrowserSync             = "dev-browser-sync"
	ErrDevBrowserSync       sentinel = ReasonDevBrowserSync
	// ReasonPrimaryDomainCrossOriginSync: a page load from another site;
	// the handshake makes sure the cookies are this domain's session.
	ReasonPrimaryDomainCrossOriginSync          = "primary-domain-cross-origin-sync"
	ErrPrimaryDomainCrossOriginSync    sentinel = ReasonPrimaryDomainCrossOriginSync
	// ReasonCrossOriginRequest (clerkauth): a request signed in by the
	// session cookie, with an unsafe method (POST, PUT, PATCH, DELETE), from
	// another origin (http.CrossOriginProtection's rule): refused with 403
	// on protected routes, signed out on public ones.
	ReasonCrossOriginRequest          = "cross-origin-request"
	ErrCrossOriginRequest    sentinel = ReasonCrossOriginRequest

	// ReasonTokenTypeMismatch: the token is of a type this route does not
	// accept (Config.AcceptsToken, Require(TokenTypes(…))): a machine token
	// where a session is expected, or the reverse.
	ReasonTokenTypeMismatch          = "token-type-mismatch"
	ErrTokenTypeMismatch    sentinel = ReasonTokenTypeMismatch
	// ReasonSecretKeyInvalid: the Backend API refused our secret key while
	// verifying a machine token. Answered 503 (the client is not at fault)
	// and logged at error level: fix CLERK_SECRET_KEY or
	// CLERK_MACHINE_SECRET_KEY.
	ReasonSecretKeyInvalid          = "secret-key-invalid"
	ErrSecretKeyInvalid    sentinel = ReasonSecretKeyInvalid
	// ReasonUnexpectedError: the Backend API could not verify a machine
	// token (unreachable, timed out, or an answer other than 200, 401 and
	// 404). Answered 503 with Retry-After.
	ReasonUnexpectedError          = "unexpected-error"
	ErrUnexpectedError    sentinel = ReasonUnexpectedError
	// ReasonMachineVerifierBusy (clerkauth): a machine token not in the
	// cache arrived while the Backend API verification budget
	// (BackendAPIRate, BackendAPIConcurrency) was spent; answered 503
	// with Retry-After at once, rather than queued.
	ReasonMachineVerifierBusy          = "machine-verifier-busy"
	ErrMachineVerifierBusy    sentinel = ReasonMachineVerifierBusy

	// ReasonMissingRole (clerkauth): Require(Role(…)) failed; answered 403.
	ReasonMissingRole = "missing-role"
	// ReasonMissingPermission (clerkauth): Require(Permission(…)) failed;
	// answered 403.
	ReasonMissingPermission = "missing-permission"
	// ReasonMissingFeature (clerkauth): Require(Feature(…)) failed; 403.
	ReasonMissingFeature = "missing-feature"
	// ReasonMissingPlan (clerkauth): Require(Plan(…)) failed; 403.
	ReasonMissingPlan = "missing-plan"
	// ReasonMissingScope (clerkauth): Require(Scope(…)) failed; 403.
	ReasonMissingScope = "missing-scope"
	// ReasonReverificationRequired: Require(Reverification(…)) failed; 403
	// with the body Clerk's front end reads, whose reason is this code.
	ReasonReverificationRequired = "reverification-error"
)

// Error is the error returned by [Auth.VerifyToken] and [Auth.Authenticate].
// Its Reason is one of the Reason constants; Error() adds a short
// explanation meant for developers (and for `clerkauth doctor`), never for
// clients: the middleware only ever sends the reason code.
//
// Errors compare by reason, so errors.Is(err, ErrTokenExpired) holds for
// every expired-token error whatever its detail.
type Error struct {
	Reason string // a Reason constant, safe to send to clients
	Detail string // what exactly failed, for developers; never sent to clients
	cause  error
	status int // set for a failed check (403 whatever its reason); else by Reason
}

// Error implements error: "clerkauth: <reason>: <detail>".
func (e *Error) Error() string {
	if e.Detail == "" {
		return "clerkauth: " + e.Reason
	}
	return "clerkauth: " + e.Reason + ": " + e.Detail
}

// Unwrap returns the underlying cause, if any (for example a network error
// while fetching keys).
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is a sentinel (ErrTokenExpired, …) or an
// *Error with the same Reason.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case sentinel:
		return string(t) == e.Reason
	case *Error:
		return t.Reason == e.Reason
	}
	return false
}

type reasonInfo struct {
	code     string
	status   int // 401 (or a 307 to sign-in for page loads), 403 or 503
	sentinel error
	ours     bool
}

// knownReason looks a code up in reasons.
func knownReason(code string) (reasonInfo, bool) {
	for _, r := range reasons {
		if r.code == code {
			return r, true
		}
	}
	return reasonInfo{}, false
}

// sentinel is a reason code as an error, for errors.Is. The type is
// unexported: callers use the constants, and compare with errors.Is.
type sentinel string

func (s sentinel) Error() string { return "clerkauth: " + string(s) }

// reasons is the one list of reason codes: the status each is answered
// with, its sentinel (if any), and whether the code is clerkauth's own
// (Clerk reports the failure under a generic code). The prebuilt response
// bodies, the fuzz targets and the README's table (checked by a test) all
// come from it.
var reasons = []reasonInfo{
	{ReasonSessionTokenMissing, 401, ErrSessionTokenMissing, false},
	{ReasonTokenInvalid, 401, ErrTokenInvalid, false},
	{ReasonTokenInvalidAlgorithm, 401, ErrTokenInvalidAlgorithm, false},
	{ReasonTokenInvalidSignature, 401, ErrTokenInvalidSignature, false},
	{ReasonTokenExpired, 401, ErrTokenExpired, false},
	{ReasonTokenNotActiveYet, 401, ErrTokenNotActiveYet, false},
	{ReasonTokenIatInTheFuture, 401, ErrTokenIatInTheFuture, false},
	{ReasonTokenInvalidAuthorizedParties, 401, ErrTokenInvalidAuthorizedParties, false},
	{ReasonTokenInvalidIssuer, 401, ErrTokenInvalidIssuer, true},
	{ReasonTokenInvalidAudience, 401, ErrTokenInvalidAudience, true},
	{ReasonJWKKidMismatch, 401, ErrJWKKidMismatch, false},
	{ReasonSessionPending, 401, ErrSessionPending, true},
	{ReasonSessionTokenWithoutClientUAT, 401, ErrSessionTokenWithoutClientUAT, false},
	{ReasonClientUATWithoutSessionToken, 401, ErrClientUATWithoutSessionToken, false},
	{ReasonSessionTokenIATBeforeClientUAT, 401, ErrSessionTokenIATBeforeClientUAT, false},
	{ReasonDevBrowserMissing, 401, ErrDevBrowserMissing, false},
	{ReasonDevBrowserSync, 401, ErrDevBrowserSync, false},
	{ReasonPrimaryDomainCrossOriginSync, 401, ErrPrimaryDomainCrossOriginSync, false},
	{ReasonTokenTypeMismatch, 401, ErrTokenTypeMismatch, false},
	{ReasonJWKFailedToLoad, 503, ErrJWKFailedToLoad, false},
	{ReasonSecretKeyInvalid, 503, ErrSecretKeyInvalid, false},
	{ReasonUnexpectedError, 503, ErrUnexpectedError, false},
	{ReasonMachineVerifierBusy, 503, ErrMachineVerifierBusy, true},
	{ReasonMissingRole, 403, nil, true},
	{ReasonMissingPermission, 403, nil, true},
	{ReasonMissingFeature, 403, nil, true},
	{ReasonMissingPlan, 403, nil, true},
	{ReasonMissingScope, 403, nil, true},
	{ReasonCrossOriginRequest, 403, ErrCrossOriginRequest, true},
	{ReasonReverificationRequired, 403, nil, false},
}

func newError(reason, detail string) *Error { return &Error{Reason: reason, Detail: detail} }

func wrapError(reason, detail string, cause error) *Error {
	return &Error{Reason: reason, Detail: detail, cause: cause}
}

// reasonOf returns the reason code of err, or token-invalid for errors that
// did not come from this package (fail closed: an unknown error is never
// treated as success or as a key outage).
func reasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	var s sentinel
	if errors.As(err, &s) {
		return string(s)
	}
	return ReasonTokenInvalid
}
