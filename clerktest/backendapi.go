package clerktest

import (
	"encoding/json"
	"fmt"
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
// does. It also serves the users set with SetUser at /v1/users/{id}, so
// that clerkauth's CurrentUser works in tests, and JWT-template tokens at
// /v1/sessions/{sid}/tokens/{template} (aud: the template's name) for the
// sessions "sess_<user>" that Issuer.SessionToken names by default, for
// clerkauth's TemplateToken. Calls, FailVerifications
// and HoldVerifications let a test see and shape the traffic. The server
// speaks @clerk/backend's wire format, so Clerk's own SDK can be pointed
// at it (its apiUrl is URL).
//
// Its fields, set by NewBackendAPI:
//   - URL: the server's base URL (clerkauth's Config.APIURL is URL+"/v1");
//     Server: the loopback server (its Client method gives a client);
//   - SecretKey: the instance's secret key (sk_live_, or sk_test_ for a
//     development issuer; SecretKeyFor gives the other type's);
//     MachineSecretKey: the secret key of machine MachineID;
//   - PublishableKey: the instance the Frontend API plays (its cookie
//     suffix, its development rules); default the issuer's Config's;
//   - SessionIssuer: the iss of the sessions the handshake and the refresh
//     mint; default the issuer's URL.
//
// Set PublishableKey and SessionIssuer before the first request.
type BackendAPI struct {
	*issuer.BackendAPI
}

// MachineToken is a token the BackendAPI knows; clients send its Secret.
type MachineToken = issuer.MachineToken

// NewBackendAPI starts a Backend API for the instance of iss (whose clock
// it shares, for expirations). It is closed when the test ends.
func NewBackendAPI(tb testing.TB, iss *Issuer) *BackendAPI {
	tb.Helper()
	b := issuer.StartBackendAPI(iss.i)
	tb.Cleanup(b.Close)
	return &BackendAPI{b}
}

// Configure points cfg at this server: the Backend API URL, the
// instance's secret key (of cfg's instance type: sk_test_ for a pk_test_
// publishable key, as Clerk's keys pair up), the machine secret key (for
// M2M tokens), and ProxyURL, so that handshakes come here too (it plays
// the Frontend API's /v1/client/handshake; set who its client is with
// SetClient).
func (b *BackendAPI) Configure(cfg *clerkauth.Config) {
	cfg.APIURL = b.URL + "/v1"
	cfg.SecretKey = b.SecretKey
	if cfg.PublishableKey != "" {
		cfg.SecretKey = b.SecretKeyFor(cfg.PublishableKey)
	}
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

// Close stops the server before the test ends.
func (b *BackendAPI) Close() { b.BackendAPI.Close() }

// SecretKeyFor returns the secret key that goes with publishable key pk
// ("sk_test_…" for "pk_test_…", else "sk_live_…"): the server accepts
// both types, so that production and development configurations can
// share it.
func (b *BackendAPI) SecretKeyFor(pk string) string { return b.BackendAPI.SecretKeyFor(pk) }

// CreateAPIKey creates an API key for subject (a user "user_…" or an
// organization "org_…") with the given name, scopes and custom claims;
// ttl 0 never expires.
func (b *BackendAPI) CreateAPIKey(subject, name string, scopes []string, claims map[string]any, ttl time.Duration) *MachineToken {
	return b.BackendAPI.CreateAPIKey(subject, name, scopes, claims, ttl)
}

// CreateM2MToken creates an opaque M2M token ("mt_…") for machine; ttl 0
// never expires.
func (b *BackendAPI) CreateM2MToken(machine string, scopes []string, claims map[string]any, ttl time.Duration) *MachineToken {
	return b.BackendAPI.CreateM2MToken(machine, scopes, claims, ttl)
}

// CreateOAuthToken creates an opaque OAuth access token ("oat_…") that
// OAuth application clientID holds for user; ttl 0 never expires.
func (b *BackendAPI) CreateOAuthToken(user, clientID string, scopes []string, ttl time.Duration) *MachineToken {
	return b.BackendAPI.CreateOAuthToken(user, clientID, scopes, ttl)
}

// Expire makes a token expire now (a minute ago), by its id or secret; it
// reports whether the token exists.
func (b *BackendAPI) Expire(idOrSecret string) bool { return b.BackendAPI.Expire(idOrSecret) }

// Revoke revokes a token by its id or its secret; it reports whether the
// token exists.
func (b *BackendAPI) Revoke(idOrSecret string) bool { return b.BackendAPI.Revoke(idOrSecret) }

// Calls returns how many requests reached path ("/api_keys/verify",
// "/v1/users/user_123", …).
func (b *BackendAPI) Calls(path string) int { return b.BackendAPI.Calls(path) }

// VerifyCalls returns how many verification requests arrived, all token
// types.
func (b *BackendAPI) VerifyCalls() int { return b.BackendAPI.VerifyCalls() }

// WaitVerifyCalls waits until n verification requests have arrived (held
// ones included).
func (b *BackendAPI) WaitVerifyCalls(n int) { b.BackendAPI.WaitVerifyCalls(n) }

// FailVerifications makes every verification answer status (500, 401,
// 429, …) until it is called with 0.
func (b *BackendAPI) FailVerifications(status int) { b.BackendAPI.FailVerifications(status) }

// HoldVerifications makes verifications wait until the returned function
// is called (for tests of concurrent requests).
func (b *BackendAPI) HoldVerifications() (release func()) { return b.BackendAPI.HoldVerifications() }

// SetClient sets who the Frontend API's client (the browser's Clerk
// session) is signed in as on the next handshakes; "" is signed out.
func (b *BackendAPI) SetClient(userID string) { b.BackendAPI.SetClient(userID) }

// SetRefreshToken makes refreshToken valid for refreshing session sid
// (POST /v1/sessions/{sid}/refresh).
func (b *BackendAPI) SetRefreshToken(sid, refreshToken string) {
	b.BackendAPI.SetRefreshToken(sid, refreshToken)
}

// HandshakeNonce stores Set-Cookie directives under a new nonce, as a
// handshake does, and returns it (for tests that build the handshake's
// return by hand). Unlike a served handshake's nonce, it can be exchanged
// more than once.
func (b *BackendAPI) HandshakeNonce(directives []string) string {
	return b.BackendAPI.HandshakeNonce(directives)
}

// SetUser makes GET /v1/users/{u.ID} answer with u, as Clerk's Backend API
// does, so that clerkauth's CurrentUser returns it for a session of u.ID.
// Setting a user again replaces it (CurrentUser caches it for
// UserCacheTTL). It panics when u's metadata cannot be encoded.
func (b *BackendAPI) SetUser(u User) {
	raw, err := json.Marshal(u)
	if err != nil {
		panic(fmt.Sprintf("clerktest: encoding user %s: %v", u.ID, err)) // a mistake in the test's source
	}
	b.BackendAPI.SetUser(u.ID, raw)
}

// DeleteUser removes a user: /v1/users/{id} answers 404, as Clerk's
// Backend API does for a deleted user (CurrentUser: ErrUserNotFound).
func (b *BackendAPI) DeleteUser(id string) { b.BackendAPI.SetUser(id, nil) }
