package clerkauth

import "errors"

// Reason codes name why a request is not signed in. They follow the
// vocabulary of Clerk's @clerk/backend (TokenVerificationErrorReason and
// AuthErrorReason) so that logs and dashboards read the same across a
// Next.js front end and a Go back end. Where Clerk folds several failures
// into one generic code, clerkauth names the failure precisely (these codes
// are marked "clerkauth" below); the README lists them all.
//
// A Reason is an error too, so errors.Is(err, ReasonTokenExpired) holds
// for every expired-token *Error whatever its detail. Reasons are
// constants, so no caller can change or replace one for everybody.
const (
	// ReasonSessionTokenMissing: no token in the Authorization header or the
	// __session cookie.
	ReasonSessionTokenMissing Reason = "session-token-missing"
	// ReasonTokenInvalid: the token is malformed (not three base64url
	// segments, bad JSON, missing or mistyped claims), too large, or sent
	// twice in conflicting ways.
	ReasonTokenInvalid Reason = "token-invalid"
	// ReasonTokenInvalidAlgorithm: the header names an algorithm other than
	// RS256 ("none" and HMAC are never accepted).
	ReasonTokenInvalidAlgorithm Reason = "token-invalid-algorithm"
	// ReasonTokenInvalidSignature: the signature does not verify with the
	// instance's key.
	ReasonTokenInvalidSignature Reason = "token-invalid-signature"
	// ReasonTokenExpired: exp is in the past (beyond the clock skew).
	ReasonTokenExpired Reason = "token-expired"
	// ReasonTokenNotActiveYet: nbf is in the future (beyond the clock skew).
	ReasonTokenNotActiveYet Reason = "token-not-active-yet"
	// ReasonTokenIatInTheFuture: iat is in the future (beyond the clock skew).
	ReasonTokenIatInTheFuture Reason = "token-iat-in-the-future"
	// ReasonTokenInvalidAuthorizedParties: azp is missing or not listed in
	// Config.AuthorizedParties.
	ReasonTokenInvalidAuthorizedParties Reason = "token-invalid-authorized-parties"
	// ReasonTokenInvalidIssuer (clerkauth): iss is not this instance's
	// issuer. Clerk reports this as token-invalid.
	ReasonTokenInvalidIssuer Reason = "token-invalid-issuer"
	// ReasonTokenInvalidAudience (clerkauth): aud does not contain any value
	// of Config.Audience. Clerk reports this as token-verification-failed.
	ReasonTokenInvalidAudience Reason = "token-invalid-audience"
	// ReasonJWKKidMismatch: no key of the instance has the token's kid, even
	// after refreshing the key set.
	ReasonJWKKidMismatch Reason = "jwk-kid-mismatch"
	// ReasonJWKRemoteFailedToLoad: the instance's keys could not be fetched and
	// none are cached. The middleware answers 503, never 401, for this one:
	// the client did nothing wrong and should retry.
	ReasonJWKRemoteFailedToLoad Reason = "jwk-remote-failed-to-load"
	// ReasonSessionPending (clerkauth): the session is valid but pending
	// (sts: "pending", for example an organization must still be chosen).
	// Like Clerk's default treatPendingAsSignedOut, it counts as signed out,
	// except on a route with Require(AllowPending()); a page load goes to
	// the sign-in page's /tasks.
	ReasonSessionPending Reason = "session-pending"

	// Reasons of the cookie side (Clerk's AuthErrorReason): why a page load
	// is sent through Clerk's handshake, or, for a request that cannot
	// follow one (a fetch, a POST), why it is signed out.
	//
	// ReasonSessionTokenButNoClientUAT: a __session cookie without
	// __client_uat.
	ReasonSessionTokenButNoClientUAT Reason = "session-token-but-no-client-uat"
	// ReasonClientUATButNoSessionToken: __client_uat says signed in, but
	// there is no __session cookie (it expired in the browser).
	ReasonClientUATButNoSessionToken Reason = "client-uat-but-no-session-token"
	// ReasonSessionTokenIATBeforeClientUAT: the session cookie was issued
	// before the browser last signed in or out.
	ReasonSessionTokenIATBeforeClientUAT Reason = "session-token-iat-before-client-uat"
	// ReasonDevBrowserMissing and ReasonDevBrowserSync: development
	// instances only, the dev browser token (__clerk_db_jwt) is missing or
	// has just arrived in the URL.
	ReasonDevBrowserMissing Reason = "dev-browser-missing"
	ReasonDevBrowserSync    Reason = "dev-browser-sync"
	// ReasonPrimaryDomainCrossOriginSync: a page load from another site;
	// the handshake makes sure the cookies are this domain's session.
	ReasonPrimaryDomainCrossOriginSync Reason = "primary-domain-cross-origin-sync"
	// ReasonSatelliteNeedsSyncing: a page load on a satellite domain
	// without a session of its own, or back from sign-in on the primary
	// (__clerk_synced=false): it syncs with the primary first.
	ReasonSatelliteNeedsSyncing Reason = "satellite-needs-syncing"
	// ReasonPrimaryRespondsToSyncing: development instances, on the
	// primary: a satellite asked to sync (__clerk_redirect_url), and the
	// browser is sent back to it with its dev browser token.
	ReasonPrimaryRespondsToSyncing Reason = "primary-responds-to-syncing"
	// ReasonCrossOriginRequest (clerkauth): a request signed in by the
	// session cookie, with an unsafe method (POST, PUT, PATCH, DELETE), from
	// another origin (http.CrossOriginProtection's rule): refused with 403
	// on protected routes, signed out on public ones.
	ReasonCrossOriginRequest Reason = "cross-origin-request"

	// ReasonTokenTypeMismatch: the token is of a type this route does not
	// accept (Config.AcceptsToken, Require(TokenTypes(…))): a machine token
	// where a session is expected, or the reverse.
	ReasonTokenTypeMismatch Reason = "token-type-mismatch"
	// ReasonSecretKeyInvalid: the Backend API refused our secret key while
	// verifying a machine token. Answered 503 (the client is not at fault)
	// and logged at error level: fix CLERK_SECRET_KEY or
	// CLERK_MACHINE_SECRET_KEY.
	ReasonSecretKeyInvalid Reason = "secret-key-invalid"
	// ReasonUnexpectedError: the Backend API could not verify a machine
	// token (unreachable, timed out, or an answer other than 200, 401 and
	// 404). Answered 503 with Retry-After.
	ReasonUnexpectedError Reason = "unexpected-error"
	// ReasonMachineVerifierBusy (clerkauth): a machine token not in the
	// cache arrived while the Backend API verification budget
	// (BackendAPIRate, BackendAPIConcurrency) was spent; answered 503
	// with Retry-After at once, rather than queued.
	ReasonMachineVerifierBusy Reason = "machine-verifier-busy"

	// ReasonMissingRole (clerkauth): Require(Role(…)) failed; answered 403.
	ReasonMissingRole Reason = "missing-role"
	// ReasonMissingPermission (clerkauth): Require(Permission(…)) failed;
	// answered 403.
	ReasonMissingPermission Reason = "missing-permission"
	// ReasonMissingFeature (clerkauth): Require(Feature(…)) failed; 403.
	ReasonMissingFeature Reason = "missing-feature"
	// ReasonMissingPlan (clerkauth): Require(Plan(…)) failed; 403.
	ReasonMissingPlan Reason = "missing-plan"
	// ReasonMissingScope (clerkauth): Require(Scope(…)) failed; 403.
	ReasonMissingScope Reason = "missing-scope"
	// ReasonReverificationError: Require(Reverification(…)) failed; 403
	// with the body Clerk's front end reads, whose reason is this code.
	ReasonReverificationError Reason = "reverification-error"

	// ReasonUnknownHost (clerkauth): Hosts has no instance for the
	// request's host; answered 421 Misdirected Request, never by another
	// instance.
	ReasonUnknownHost Reason = "unknown-host"
)

// Error is the error of [Auth.VerifyToken], [Auth.VerifyCredential] and [RequestState].
// Its Reason is one of the Reason constants; Error() adds a short
// explanation meant for developers (and for `clerkauth doctor`), never for
// clients: the middleware only ever sends the reason code.
//
// Errors compare by reason, so errors.Is(err, ReasonTokenExpired) holds
// for every expired-token error whatever its detail.
type Error struct {
	Reason Reason // a Reason constant, safe to send to clients
	Detail string // what exactly failed, for developers; never sent to clients
	cause  error
	status int // set for a failed check (403 whatever its reason); else by Reason

	pending *pendingSession // session-pending: the identity, for AllowPending only
}

// Error implements error: "clerkauth: <reason>: <detail>".
func (e *Error) Error() string {
	if e.Detail == "" {
		return "clerkauth: " + string(e.Reason)
	}
	return "clerkauth: " + string(e.Reason) + ": " + e.Detail
}

// Unwrap returns the underlying cause, if any (for example a network error
// while fetching keys).
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is e's Reason (ReasonTokenExpired, …) or an
// *Error with the same Reason.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case Reason:
		return t == e.Reason
	case *Error:
		return t.Reason == e.Reason
	}
	return false
}

type reasonInfo struct {
	code   Reason
	status int // 401 (or a 307 to sign-in for page loads), 403, 421 or 503
	ours   bool
}

// knownReason looks a code up in reasons.
func knownReason(code Reason) (reasonInfo, bool) {
	for _, r := range reasons {
		if r.code == code {
			return r, true
		}
	}
	return reasonInfo{}, false
}

// Reason is a reason code. It is an error, for errors.Is: an *Error is
// its Reason. It prints as the code itself ("token-expired"), in logs,
// headers and format strings alike.
type Reason string

// Error implements error: the code.
func (r Reason) Error() string { return string(r) }

// reasons is the one list of reason codes: the status each is answered
// with, and whether the code is clerkauth's own
// (Clerk reports the failure under a generic code). The prebuilt response
// bodies, the fuzz targets and the README's table (checked by a test) all
// come from it.
var reasons = []reasonInfo{
	{ReasonSessionTokenMissing, 401, false},
	{ReasonTokenInvalid, 401, false},
	{ReasonTokenInvalidAlgorithm, 401, false},
	{ReasonTokenInvalidSignature, 401, false},
	{ReasonTokenExpired, 401, false},
	{ReasonTokenNotActiveYet, 401, false},
	{ReasonTokenIatInTheFuture, 401, false},
	{ReasonTokenInvalidAuthorizedParties, 401, false},
	{ReasonTokenInvalidIssuer, 401, true},
	{ReasonTokenInvalidAudience, 401, true},
	{ReasonJWKKidMismatch, 401, false},
	{ReasonSessionPending, 401, true},
	{ReasonSessionTokenButNoClientUAT, 401, false},
	{ReasonClientUATButNoSessionToken, 401, false},
	{ReasonSessionTokenIATBeforeClientUAT, 401, false},
	{ReasonDevBrowserMissing, 401, false},
	{ReasonDevBrowserSync, 401, false},
	{ReasonPrimaryDomainCrossOriginSync, 401, false},
	{ReasonSatelliteNeedsSyncing, 401, false},
	{ReasonPrimaryRespondsToSyncing, 401, false},
	{ReasonTokenTypeMismatch, 401, false},
	{ReasonJWKRemoteFailedToLoad, 503, false},
	{ReasonSecretKeyInvalid, 503, false},
	{ReasonUnexpectedError, 503, false},
	{ReasonMachineVerifierBusy, 503, true},
	{ReasonMissingRole, 403, true},
	{ReasonMissingPermission, 403, true},
	{ReasonMissingFeature, 403, true},
	{ReasonMissingPlan, 403, true},
	{ReasonMissingScope, 403, true},
	{ReasonCrossOriginRequest, 403, true},
	{ReasonReverificationError, 403, false},
	{ReasonUnknownHost, 421, true},
}

func newError(reason Reason, detail string) *Error { return &Error{Reason: reason, Detail: detail} }

func wrapError(reason Reason, detail string, cause error) *Error {
	return &Error{Reason: reason, Detail: detail, cause: cause}
}

// reasonOf returns the reason code of err, or token-invalid for errors that
// did not come from this package (fail closed: an unknown error is never
// treated as success or as a key outage).
func reasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	var r Reason
	if errors.As(err, &r) {
		return r
	}
	return ReasonTokenInvalid
}
