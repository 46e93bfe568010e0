// Package clerktest helps test code that uses clerkauth, without a Clerk
// account and without network access beyond loopback.
//
// An [Issuer] plays a Clerk instance: it holds an RSA key, serves its JWKS
// from an httptest server, hands out a clerkauth.Config wired to it, and
// mints session tokens and JWT-template tokens with whatever claims a test
// needs. [NewIssuer] plays a production instance (pk_live_: sign-in
// redirects for browsers, as in production); [NewDevelopmentIssuer] a
// development one (pk_test_: the dev browser rules too). [BackendAPI]
// plays the instance's Backend and Frontend API: machine tokens, users,
// and the Frontend API's handshake, with a client per browser that signed
// in through it, organization activation ([BackendAPI.AddMembership]) and
// satellite sync through the primary domain's Frontend API; its doc lists
// where it simplifies Clerk's. [NewWebhookRequest]
// builds Svix-signed webhook deliveries; [User], [Organization],
// [Membership] and [Invitation] build the payloads Clerk sends.
//
//	iss := clerktest.NewIssuer(t)
//	auth := iss.MustAuth(nil)
//	req := httptest.NewRequest("GET", "/api/me", nil)
//	req.Header.Set("Authorization", "Bearer "+iss.MustSessionToken("user_123"))
package clerktest

import (
	"crypto/rsa"
	"testing"
	"time"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/internal/issuer"
)

// Issuer is a local stand-in for a Clerk instance's token issuer: see
// NewIssuer. Its methods that can fail (minting, encoding keys) return
// errors; the Must variants panic instead, for tests, as httptest's
// helpers do.
type Issuer struct {
	// URL is the issuer (the iss claim of the tokens it mints) and the
	// base of its JWKS URL, e.g. "http://127.0.0.1:41234".
	URL string
	// Server serves GET /.well-known/jwks.json until the test ends; its
	// Client method returns a client for it.
	Server *issuer.Server

	i *issuer.Issuer
}

// NewIssuer starts an issuer of a production instance with a fresh
// RSA-2048 key: its Config has a production publishable key (pk_live_).
// Its JWKS server is closed when the test ends. tb is used only during
// this call (to fail it, and to register the cleanup).
func NewIssuer(tb testing.TB) *Issuer {
	tb.Helper()
	return newIssuer(tb, issuer.Start)
}

// NewDevelopmentIssuer is NewIssuer for a development instance: its
// Config has a development publishable key (pk_test_), so clerkauth
// applies the dev browser rules (a request without a token and without a
// dev browser is refused with dev-browser-missing), and a BackendAPI of it
// has a development secret key (sk_test_) and plays the Frontend API's
// development handshake, which gives a browser its dev browser.
func NewDevelopmentIssuer(tb testing.TB) *Issuer {
	tb.Helper()
	return newIssuer(tb, issuer.StartDevelopment)
}

func newIssuer(tb testing.TB, start func() (*issuer.Issuer, error)) *Issuer {
	tb.Helper()
	i, err := start()
	if err != nil {
		tb.Fatalf("clerktest: %v", err)
	}
	tb.Cleanup(i.Close)
	return &Issuer{URL: i.URL, Server: i.Server, i: i}
}

// Config returns a clerkauth.Config that trusts this issuer: IssuerDomain
// is the issuer's URL (whose JWKS endpoint provides the keys), and the
// publishable key names the instance's Frontend API,
// clerk.clerktest.example, so that a browser sent to a protected page is
// redirected to the Account Portal's sign-in page
// (https://accounts.clerktest.example/sign-in) and the cookie suffix is
// derived. The key is a production one (pk_live_) for NewIssuer, a
// development one (pk_test_) for NewDevelopmentIssuer.
func (i *Issuer) Config() clerkauth.Config { return i.i.Config() }

// Development reports whether the issuer plays a development instance
// (NewDevelopmentIssuer).
func (i *Issuer) Development() bool { return i.i.Development() }

// SetNow sets the clock used for iat, nbf and exp of minted tokens and
// for the BackendAPI's expirations (default time.Now).
func (i *Issuer) SetNow(now func() time.Time) { i.i.SetNow(now) }

// Close stops the JWKS server before the test ends.
func (i *Issuer) Close() { i.i.Close() }

// SessionToken mints a session token for userID, shaped like Clerk's
// session tokens v2: iss, sub, sid ("sess_"+userID), iat, nbf, exp (60s),
// azp (http://localhost:3000), v, sts, jti.
func (i *Issuer) SessionToken(userID string, opts ...TokenOption) (string, error) {
	return i.i.SessionToken(userID, opts...)
}

// TemplateToken mints a JWT-template token (as Clerk's
// getToken({template}) returns) for userID with audience aud and the
// template's extra claims, such as email and name; it is valid for an
// hour.
func (i *Issuer) TemplateToken(userID, aud string, extra map[string]any, opts ...TokenOption) (string, error) {
	return i.i.TemplateToken(userID, aud, extra, opts...)
}

// Sign signs claims exactly as given (no defaults), with the current key.
func (i *Issuer) Sign(claims map[string]any, opts ...TokenOption) (string, error) {
	return i.i.Sign(claims, opts...)
}

// M2MJWT mints a JWT-format M2M token for machine ("mch_…"), as Clerk
// does for tokenFormat "jwt": scopes space-separated, Clerk's M2M
// category in the header. It expires after ttl as WithExpiry says (ttl <=
// 0: already expired, beyond the default clock skew).
func (i *Issuer) M2MJWT(machine string, scopes []string, ttl time.Duration, opts ...TokenOption) (string, error) {
	return i.i.M2MJWT(machine, scopes, ttl, opts...)
}

// OAuthJWT mints a JWT OAuth access token (typ "at+jwt", RFC 9068) that
// OAuth application clientID holds for user. It expires after ttl as
// WithExpiry says.
func (i *Issuer) OAuthJWT(user, clientID string, scopes []string, ttl time.Duration, opts ...TokenOption) (string, error) {
	return i.i.OAuthJWT(user, clientID, scopes, ttl, opts...)
}

// Rotate adds a new signing key, as Clerk does when an instance's keys are
// rotated: the new key signs from now on, and the old keys stay published
// until RemoveOldKeys. It returns the new key's kid.
func (i *Issuer) Rotate() (string, error) { return i.i.Rotate() }

// RemoveOldKeys stops publishing every key but the current one.
func (i *Issuer) RemoveOldKeys() { i.i.RemoveOldKeys() }

// KeyID returns the kid of the current signing key.
func (i *Issuer) KeyID() string { return i.i.KeyID() }

// PrivateKey returns the current signing key, for tests that sign tokens
// by hand.
func (i *Issuer) PrivateKey() *rsa.PrivateKey { return i.i.PrivateKey() }

// PublicKeyPEM returns the current key as CLERK_JWT_KEY holds it.
func (i *Issuer) PublicKeyPEM() (string, error) { return i.i.PublicKeyPEM() }

// JWKS returns the published key set as JSON.
func (i *Issuer) JWKS() ([]byte, error) { return i.i.JWKS() }

// JWKSFetches counts the requests the JWKS endpoint has answered.
func (i *Issuer) JWKSFetches() int { return i.i.JWKSFetches() }

// must panics on an error that a test cannot recover from.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// MustSessionToken is SessionToken for tests: it panics on failure.
func (i *Issuer) MustSessionToken(userID string, opts ...TokenOption) string {
	return must(i.SessionToken(userID, opts...))
}

// MustTemplateToken is TemplateToken for tests: it panics on failure.
func (i *Issuer) MustTemplateToken(userID, aud string, extra map[string]any, opts ...TokenOption) string {
	return must(i.TemplateToken(userID, aud, extra, opts...))
}

// MustSign is Sign for tests: it panics on failure.
func (i *Issuer) MustSign(claims map[string]any, opts ...TokenOption) string {
	return must(i.Sign(claims, opts...))
}

// MustRotate is Rotate for tests: it panics on failure.
func (i *Issuer) MustRotate() string { return must(i.Rotate()) }

// MustJWKS is JWKS for tests: it panics on failure.
func (i *Issuer) MustJWKS() []byte { return must(i.JWKS()) }

// MustPublicKeyPEM is PublicKeyPEM for tests: it panics on failure.
func (i *Issuer) MustPublicKeyPEM() string { return must(i.PublicKeyPEM()) }

// Auth builds a clerkauth.Auth from Config() with the changes edit makes
// (edit may be nil).
func (i *Issuer) Auth(edit func(*clerkauth.Config)) (*clerkauth.Auth, error) {
	cfg := i.Config()
	if edit != nil {
		edit(&cfg)
	}
	return clerkauth.New(cfg)
}

// MustAuth is Auth for tests: it panics on a configuration error.
func (i *Issuer) MustAuth(edit func(*clerkauth.Config)) *clerkauth.Auth {
	return must(i.Auth(edit))
}

// PublishableKey builds a publishable key for the Frontend API host, as
// Clerk does: "pk_test_" (or "pk_live_" when live) followed by base64 of
// "<host>$".
func PublishableKey(host string, live bool) string { return issuer.PublishableKey(host, live) }

// TokenOption changes the claims or header of a minted token.
type TokenOption = issuer.Option

// WithExpiry makes the token valid for d, or already expired when d <= 0,
// as clerkauth's verifier with the default ClockSkew sees it: with d > 0
// exp is now+d rounded up to a whole second (the verifier then accepts the
// token for up to ClockSkew longer); with d <= 0 exp is now+d rounded down
// to the whole second before it, minus clerkauth.DefaultClockSkew, so that
// WithExpiry(-time.Second) is refused as token-expired by the default
// configuration rather than accepted within the skew. For an exp of your
// choosing, set it with WithClaims. Session tokens default to 60 seconds,
// as Clerk's do.
func WithExpiry(d time.Duration) TokenOption { return issuer.Expiry(d) }

// WithAuthorizedParty sets azp, the origin the token was issued to.
func WithAuthorizedParty(origin string) TokenOption {
	return func(s *issuer.Spec) { s.Claims["azp"] = origin }
}

// WithSessionID sets sid.
func WithSessionID(sid string) TokenOption {
	return func(s *issuer.Spec) { s.Claims["sid"] = sid }
}

// WithOrg sets the active organization in session-token v2 form, encoded
// into fea, o.per and o.fpm as Clerk encodes them. role and permissions
// may be written with or without Clerk's "org:" prefix, as clerkauth's
// checks accept them: WithOrg("org_1", "acme", "admin", "invoices:create")
// is WithOrg("org_1", "acme", "org:admin", "org:invoices:create"). It
// panics on a permission that is not "<feature>:<permission>".
func WithOrg(id, slug, role string, permissions ...string) TokenOption {
	return issuer.Org(id, slug, role, permissions...)
}

// WithOrgV1 sets the active organization in session-token v1 form
// (org_id, org_slug, org_role, org_permissions).
func WithOrgV1(id, slug, role string, permissions ...string) TokenOption {
	return func(s *issuer.Spec) {
		delete(s.Claims, "v")
		s.Claims["org_id"], s.Claims["org_slug"], s.Claims["org_role"] = id, slug, role
		s.Claims["org_permissions"] = permissions
	}
}

// WithActor marks the session as an impersonation by actorUserID (the act
// claim).
func WithActor(actorUserID string) TokenOption {
	return func(s *issuer.Spec) { s.Claims["act"] = map[string]any{"sub": actorUserID} }
}

// WithFeatures sets the billing features (the fea claim), as Clerk writes
// them: "o:reports,u:export" (o: the organization's, u: the user's, ou:
// both).
func WithFeatures(fea string) TokenOption {
	return func(s *issuer.Spec) { s.Claims["fea"] = fea }
}

// WithPlans sets the billing plans (the pla claim), scoped like
// WithFeatures: "o:pro,u:free".
func WithPlans(pla string) TokenOption {
	return func(s *issuer.Spec) { s.Claims["pla"] = pla }
}

// WithFactorAge sets how many minutes ago the session verified its first
// and second factor (the fva claim); -1 for never. clerkauth's
// Reverification checks read it.
func WithFactorAge(firstFactorMinutes, secondFactorMinutes int) TokenOption {
	return func(s *issuer.Spec) { s.Claims["fva"] = []int{firstFactorMinutes, secondFactorMinutes} }
}

// WithPending marks the session as pending (sts: "pending").
func WithPending() TokenOption {
	return func(s *issuer.Spec) { s.Claims["sts"] = "pending" }
}

// WithClaims sets arbitrary claims; a nil value deletes the claim.
func WithClaims(claims map[string]any) TokenOption {
	return func(s *issuer.Spec) {
		for k, v := range claims {
			if v == nil {
				delete(s.Claims, k)
			} else {
				s.Claims[k] = v
			}
		}
	}
}

// WithKeyID sets the kid header (to test unknown or forged kids).
func WithKeyID(kid string) TokenOption {
	return func(s *issuer.Spec) { s.Kid = kid }
}

// WithSigningKey signs with key instead of the issuer's (to test tokens
// signed by another instance).
func WithSigningKey(key *rsa.PrivateKey) TokenOption {
	return func(s *issuer.Spec) { s.Key = key }
}

// SignRS256 signs claims with key under the given kid, as a compact JWS
// with typ "JWT". It is the building block for hand-made tokens. Claims of
// type []byte are signed byte for byte (to test malformed payloads);
// anything else is encoded with encoding/json. It fails tb on error.
func SignRS256(tb testing.TB, key *rsa.PrivateKey, kid string, claims any) string {
	tb.Helper()
	token, err := issuer.SignJWT(key, kid, claims)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return token
}

// Identity returns a signed-in identity for userID, for handler tests that
// skip tokens altogether: put it into a request with
// clerkauth.ContextWithIdentity.
func Identity(userID string) *clerkauth.Identity {
	return &clerkauth.Identity{
		UserID:          userID,
		SessionID:       "sess_" + userID,
		Issuer:          "https://clerk.example.test",
		TokenIdentifier: "https://clerk.example.test|" + userID,
		ExpiresAt:       time.Now().Add(time.Minute),
		Claims:          map[string]any{"sub": userID},
	}
}
