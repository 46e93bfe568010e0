package clerkauth

import "errors"

// Reason codes name why a request is not signed in. They follow the
// vocabulary of Clerk's @clerk/backend (TokenVerificationErrorReason and
// AuthErrorReason) so that logs and dashboards read the same across a
// Next.js front end and a Go back end. Where Clerk folds several failures
// into one generic code, clerkauth names the failure precisely (these codes
// are marked "clerkauth" below); the README lists them all.
const (
	// ReasonSessionTokenMissing: no token in the Authorization header or the
	// __session cookie.
	ReasonSessionTokenMissing = "session-token-missing"
	// ReasonTokenInvalid: the token is malformed (not three base64url
	// segments, bad JSON, missing or mistyped claims), too large, or sent
	// twice in conflicting ways.
	ReasonTokenInvalid = "token-invalid"
	// ReasonTokenInvalidAlgorithm: the header names an algorithm other than
	// RS256 ("none" and HMAC are never accepted).
	ReasonTokenInvalidAlgorithm = "token-invalid-algorithm"
	// ReasonTokenInvalidSignature: the signature does not verify with the
	// instance's key.
	ReasonTokenInvalidSignature = "token-invalid-signature"
	// ReasonTokenExpired: exp is in the past (beyond the clock skew).
	ReasonTokenExpired = "token-expired"
	// ReasonTokenNotActiveYet: nbf is in the future (beyond the clock skew).
	ReasonTokenNotActiveYet = "token-not-active-yet"
	// ReasonTokenIatInTheFuture: iat is in the future (beyond the clock skew).
	ReasonTokenIatInTheFuture = "token-iat-in-the-future"
	// ReasonTokenInvalidAuthorizedParties: azp is missing or not listed in
	// Config.AuthorizedParties.
	ReasonTokenInvalidAuthorizedParties = "token-invalid-authorized-parties"
	// ReasonTokenInvalidIssuer (clerkauth): iss is not this instance's
	// issuer. Clerk reports this as token-invalid.
	ReasonTokenInvalidIssuer = "token-invalid-issuer"
	// ReasonTokenInvalidAudience (clerkauth): aud does not contain any value
	// of Config.Audience. Clerk reports this as token-verification-failed.
	ReasonTokenInvalidAudience = "token-invalid-audience"
	// ReasonJWKKidMismatch: no key of the instance has the token's kid, even
	// after refreshing the key set.
	ReasonJWKKidMismatch = "jwk-kid-mismatch"
	// ReasonJWKFailedToLoad: the instance's keys could not be fetched and
	// none are cached. The middleware answers 503, never 401, for this one:
	// the client did nothing wrong and should retry.
	ReasonJWKFailedToLoad = "jwk-remote-failed-to-load"
	// ReasonSessionPending (clerkauth): the session is valid but pending
	// (sts: "pending", for example an organization must still be chosen).
	// Like Clerk's default treatPendingAsSignedOut, it counts as signed out.
	ReasonSessionPending = "session-pending"

	// ReasonMissingRole (clerkauth): Require(Role(…)) failed; answered 403.
	ReasonMissingRole = "missing-role"
	// ReasonMissingPermission (clerkauth): Require(Permission(…)) failed;
	// answered 403.
	ReasonMissingPermission = "missing-permission"
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

// Is reports whether target is an *Error with the same Reason.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// Sentinel errors, one per reason, for use with errors.Is.
var (
	ErrSessionTokenMissing           = &Error{Reason: ReasonSessionTokenMissing}
	ErrTokenInvalid                  = &Error{Reason: ReasonTokenInvalid}
	ErrTokenInvalidAlgorithm         = &Error{Reason: ReasonTokenInvalidAlgorithm}
	ErrTokenInvalidSignature         = &Error{Reason: ReasonTokenInvalidSignature}
	ErrTokenExpired                  = &Error{Reason: ReasonTokenExpired}
	ErrTokenNotActiveYet             = &Error{Reason: ReasonTokenNotActiveYet}
	ErrTokenIatInTheFuture           = &Error{Reason: ReasonTokenIatInTheFuture}
	ErrTokenInvalidAuthorizedParties = &Error{Reason: ReasonTokenInvalidAuthorizedParties}
	ErrTokenInvalidIssuer            = &Error{Reason: ReasonTokenInvalidIssuer}
	ErrTokenInvalidAudience          = &Error{Reason: ReasonTokenInvalidAudience}
	ErrJWKKidMismatch                = &Error{Reason: ReasonJWKKidMismatch}
	ErrJWKFailedToLoad               = &Error{Reason: ReasonJWKFailedToLoad}
	ErrSessionPending                = &Error{Reason: ReasonSessionPending}
)

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
	return ReasonTokenInvalid
}
