package clerkauth

import (
	"context"
	"slices"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
)

// Identity is who a verified Clerk token says the caller is.
//
// An Identity may be shared between requests that carry the same token (see
// Config.TokenCacheSize), so handlers must treat it, its slices and its
// Claims map as read-only.
type Identity struct {
	// TokenType is the kind of token that signed the request in:
	// SessionToken, or a machine token (APIKey, M2MToken, OAuthToken) when
	// Config.AcceptsToken allows them.
	TokenType TokenType
	// Subject is who the token speaks for: the user ("user_…") of a
	// session or OAuth token, the user or organization ("org_…") that owns
	// an API key, the machine ("mch_…") of an M2M token.
	Subject string

	UserID    string // the Clerk user ID, "user_…": sub of a session token; the owner of a user's API key; the user of an OAuth token
	SessionID string // sid: the Clerk session ID, "sess_…" (empty for some JWT-template tokens)
	Issuer    string // iss: the instance's Frontend API URL
	// TokenIdentifier is Issuer + "|" + UserID: a key that is unique across
	// Clerk instances (the identity key Convex uses).
	TokenIdentifier string
	Email           string // from JWT-template claims ("email"), when present
	Name            string // from JWT-template claims ("name"), when present

	OrgID          string   // the active organization, "org_…"; the owner of an organization's API key
	OrgSlug        string   // its slug
	OrgRole        string   // the user's role in it, "org:admin"
	OrgPermissions []string // "org:invoices:create", … (from v1 claims, or computed from v2's fea/o.per/o.fpm)

	// Features and Plans are the session's billing entitlements (the fea
	// and pla claims), each with whom it belongs to. A claim Clerk cannot
	// read (an item without a scope) gives none.
	Features []Entitlement
	Plans    []Entitlement
	// FactorAge is how many minutes ago the session last verified its
	// first and second factor (the fva claim); -1 means never (also when
	// the claim is absent or malformed, as Clerk reads it).
	FactorAge [2]int

	AuthorizedParty string   // azp: the origin the token was issued to
	Audience        []string // aud, for JWT-template tokens
	SessionStatus   string   // sts: "active", "pending" or empty (v1 tokens)
	Version         int      // v: the session-token claims version (1 when absent)
	// Actor is set when the session is an impersonation: the act claim,
	// whose "sub" is the impersonating user.
	Actor map[string]any

	ExpiresAt time.Time // exp
	IssuedAt  time.Time // iat (zero when absent)
	NotBefore time.Time // nbf (zero when absent)

	// Claims holds every claim of the token as decoded JSON (numbers as
	// json.Number), including custom JWT-template claims; for an API key or
	// an opaque M2M token, the custom claims it was created with.
	Claims map[string]any

	// Machine tokens only.
	Scopes    []string // the scopes granted to an API key, M2M or OAuth token
	MachineID string   // the machine of an M2M token, "mch_…"
	ClientID  string   // the OAuth application of an OAuth token
	TokenID   string   // the token's own id: "ak_…"'s object id, "mt_…", "oat_…", or a JWT's jti
	KeyName   string   // an API key's name (Name stays the JWT-template claim)

	// sessionClaims is the same identity in clerk-sdk-go's shape, built once
	// with the Identity so that handlers written for clerk-sdk-go's
	// middleware keep working (clerk.SessionClaimsFromContext).
	sessionClaims *clerk.SessionClaims
}

// Impersonated reports whether the session is an impersonation (an act
// claim is present).
func (id *Identity) Impersonated() bool { return id != nil && id.Actor != nil }

// HasRole reports whether the identity has role in its active
// organization, as Clerk's has({ role }) decides: "admin" and "org:admin"
// are the same role (the "org:" prefix is added when missing), and without
// an active organization there is no role.
func (id *Identity) HasRole(role string) bool {
	return id != nil && id.UserID != "" && id.OrgID != "" && id.OrgRole != "" &&
		prefixWithOrg(id.OrgRole) == prefixWithOrg(role)
}

// HasPermission reports whether the identity has perm in its active
// organization, as has({ permission }) decides: "invoices:create" is
// "org:invoices:create".
func (id *Identity) HasPermission(perm string) bool {
	return id != nil && id.UserID != "" && id.OrgID != "" && slices.Contains(id.OrgPermissions, prefixWithOrg(perm))
}

// HasFeature reports whether the session has a billing feature, as
// has({ feature }) decides; see Feature for the scopes.
func (id *Identity) HasFeature(name string) bool {
	return id != nil && id.UserID != "" && hasEntitlement(id.Features, name)
}

// HasPlan reports whether the session has a billing plan, as
// has({ plan }) decides; see Feature for the scopes.
func (id *Identity) HasPlan(name string) bool {
	return id != nil && id.UserID != "" && hasEntitlement(id.Plans, name)
}

// Reverified reports whether the session verified recently enough for
// level, as has({ reverification }) decides. An invalid level never
// passes.
func (id *Identity) Reverified(level ReverificationLevel) bool {
	return id != nil && id.UserID != "" && level.valid() && level.passes(id.FactorAge)
}

// Context keys are unexported pointer-free types so no other package can
// read or forge them.
type identityKey struct{}
type failureKey struct{}

// ContextWithIdentity returns a copy of ctx carrying id. It also stores id
// in clerk-sdk-go's form (clerk.ContextWithSessionClaims), so code written
// for that SDK sees the same session. Tests use it to call handlers with an
// identity without a token.
func ContextWithIdentity(ctx context.Context, id *Identity) context.Context {
	ctx = context.WithValue(ctx, identityKey{}, id)
	if id != nil && !isMachineType(id.TokenType) { // a machine is not a session
		sc := id.sessionClaims // built once by the verifier
		if sc == nil {
			// An Identity built by hand (tests): build without mutating
			// id, which other goroutines may be reading.
			sc = id.buildSessionClaims()
		}
		ctx = clerk.ContextWithSessionClaims(ctx, sc)
	}
	return ctx
}

// IdentityFromContext returns the identity the middleware verified for this
// request. ok is false, and id nil, when the request is not signed in
// (public routes let such requests through, and a protected route can
// become public): check ok before reading fields. HasRole, HasPermission
// and the other Has… checks report false on a nil Identity. It never
// panics.
//
//	id, ok := clerkauth.IdentityFromContext(r.Context())
//	if !ok { … signed out … }
func IdentityFromContext(ctx context.Context) (*Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(*Identity)
	return id, ok && id != nil
}

// ErrorFromContext tells a handler on a public route why the request is not
// signed in: the *Error the middleware found (ReasonSessionTokenMissing when
// no token was sent, ReasonTokenExpired for a stale one, …). ok is false
// when the request is signed in or did not pass through the middleware.
func ErrorFromContext(ctx context.Context) (*Error, bool) {
	return failureFromContext(ctx)
}

// contextWithFailure records why the middleware found no valid session, so
// that Require on a public route can answer with the real reason.
func contextWithFailure(ctx context.Context, err *Error) context.Context {
	return context.WithValue(ctx, failureKey{}, err)
}

func failureFromContext(ctx context.Context) (*Error, bool) {
	err, ok := ctx.Value(failureKey{}).(*Error)
	return err, ok
}

// buildSessionClaims maps the identity onto clerk.SessionClaims (whose
// organization fields are those of v1 tokens; v2 tokens are translated).
func (id *Identity) buildSessionClaims() *clerk.SessionClaims {
	sc := &clerk.SessionClaims{
		RegisteredClaims: clerk.RegisteredClaims{
			Issuer:   id.Issuer,
			Subject:  id.UserID,
			Audience: id.Audience,
		},
		Claims: clerk.Claims{
			Version:                       id.Version,
			SessionID:                     id.SessionID,
			AuthorizedParty:               id.AuthorizedParty,
			ActiveOrganizationID:          id.OrgID,
			ActiveOrganizationSlug:        id.OrgSlug,
			ActiveOrganizationRole:        id.OrgRole,
			ActiveOrganizationPermissions: id.OrgPermissions,
		},
		Custom: id.Claims,
	}
	times := new([3]int64) // one allocation for the three pointers
	unix := func(i int, t time.Time) *int64 {
		if t.IsZero() {
			return nil
		}
		times[i] = t.Unix()
		return &times[i]
	}
	sc.Expiry, sc.IssuedAt, sc.NotBefore = unix(0, id.ExpiresAt), unix(1, id.IssuedAt), unix(2, id.NotBefore)
	if jti, ok := id.Claims["jti"].(string); ok {
		sc.ID = jti
	}
	return sc
}

// Check is a condition that Require evaluates on a signed-in identity. When
// Allow returns false, the request is answered 403 with Reason.
type Check struct {
	Reason Reason // sent as the 403's reason code, e.g. "missing-role"
	Allow  func(*Identity) bool

	reverify  *ReverificationLevel // set by Reverification: answer as Clerk's front end expects
	audiences []string             // set by Audience: each must be in Config.Audience

	allowPending bool // set by AllowPending: Require admits a pending session

	option *protectOption // set by UnauthenticatedURL, UnauthorizedURL, NotFound: how Require answers its refusals
}
