// Package clerktest helps test code that uses clerkauth, without a Clerk
// account and without network access beyond loopback.
//
// An [Issuer] plays a Clerk instance: it holds an RSA key, serves its JWKS
// from an httptest server, hands out a clerkauth.Config wired to it (which
// behaves as a production configuration does, sign-in redirects
// included), and mints session tokens and JWT-template tokens with
// whatever claims a test needs. [NewWebhookRequest] builds Svix-signed
// webhook deliveries.
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
	*issuer.Issuer
}

// NewIssuer starts an issuer with a fresh RSA-2048 key. Its JWKS server is
// closed when the test ends. tb is used only during this call (to fail it,
// and to register the cleanup).
func NewIssuer(tb testing.TB) *Issuer {
	tb.Helper()
	i, err := issuer.Start()
	if err != nil {
		tb.Fatalf("clerktest: %v", err)
	}
	tb.Cleanup(i.Close)
	return &Issuer{i}
}

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

// WithExpiry sets exp to now+d (negative for an expired token). Session
// tokens default to 60 seconds, as Clerk's do.
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
