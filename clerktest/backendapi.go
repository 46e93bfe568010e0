package clerktest

import (
	"testing"
	"time"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/internal/issuer"
)

// BackendAPI is a local stand-in for the parts of Clerk's Backend and
// Frontend APIs a server uses: it creates, verifies and revokes API keys,
// M2M tokens and OAuth access tokens; serves the instance's keys at
// /v1/jwks; plays the Frontend API's handshake (/v1/client/handshake, for
// the client SetClient names), the nonce exchange
// (/v1/clients/handshake_payload) and the session refresh
// (/v1/sessions/{sid}/refresh, for refresh tokens set with
// SetRefreshToken). Point a Config at it with Configure:
//
//	iss := clerktest.NewIssuer(t)
//	bapi := clerktest.NewBackendAPI(t, iss)
//	auth := iss.MustAuth(func(c *clerkauth.Config) {
//		bapi.Configure(c)
//		c.AcceptsToken = []clerkauth.TokenType{clerkauth.SessionToken, clerkauth.APIKey}
//	})
//	key := bapi.CreateAPIKey("user_123", "ci", []string{"read"}, nil, 0)
//	req.Header.Set("Authorization", "Bearer "+key.Secret)
//
// Expired and revoked tokens are answered 404, as Clerk's Backend API
// does. Calls, FailVerifications and HoldVerifications let a test see and
// shape the traffic. The server speaks @clerk/backend's wire format, so
// Clerk's own SDK can be pointed at it (its apiUrl is URL).
type BackendAPI struct {
	*issuer.BackendAPI
}

// MachineToken is a token the BackendAPI knows; clients send its Secret.
type MachineToken = issuer.MachineToken

// NewBackendAPI starts a Backend API for the instance of iss (whose clock
// it shares, for expirations). It is closed when the test ends.
func NewBackendAPI(tb testing.TB, iss *Issuer) *BackendAPI {
	tb.Helper()
	b := issuer.StartBackendAPI(iss.Issuer)
	tb.Cleanup(b.Close)
	return &BackendAPI{b}
}

// Configure points cfg at this server: the Backend API URL, the
// instance's secret key, the machine secret key (for M2M tokens), and
// ProxyURL, so that handshakes come here too (it plays the Frontend API's
// /v1/client/handshake; set who its client is with SetClient).
func (b *BackendAPI) Configure(cfg *clerkauth.Config) {
	cfg.APIURL = b.URL + "/v1"
	cfg.SecretKey = b.SecretKey
	cfg.MachineSecretKey = b.MachineSecretKey
	cfg.ProxyURL = b.URL
}

// MustM2MJWT mints a JWT-format M2M token for machine ("mch_…"), as Clerk
// does for tokenFormat "jwt", signed with the issuer's key.
func (i *Issuer) MustM2MJWT(machine string, scopes []string, ttl time.Duration, opts ...TokenOption) string {
	return must(i.M2MJWT(machine, scopes, ttl, opts...))
}

// MustOAuthJWT mints a JWT OAuth access token (typ "at+jwt") that OAuth
// application clientID holds for user.
func (i *Issuer) MustOAuthJWT(user, clientID string, scopes []string, ttl time.Duration, opts ...TokenOption) string {
	return must(i.OAuthJWT(user, clientID, scopes, ttl, opts...))
}

// WithHeader sets a protected-header field of a minted token (typ, cat, …).
func WithHeader(name string, value any) TokenOption { return issuer.Header(name, value) }
