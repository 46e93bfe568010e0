package clerktest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/internal/issuer"
)

// BackendAPI is a local stand-in for the parts of Clerk's Backend and
// Frontend APIs a server uses: it creates, verifies and revokes API keys,
// M2M tokens and OAuth access tokens; serves the instance's keys at
// /v1/jwks; plays the Frontend API's handshake (/v1/client/handshake; see
// "The Frontend API" below), the nonce exchange
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
//     mint; default the issuer's URL;
//   - PrimaryFrontendAPI: the primary domain's Frontend API URL as
//     browsers address it, for satellite sync (below); default "", no
//     satellites.
//
// Set PublishableKey, SessionIssuer and PrimaryFrontendAPI before the
// first request.
//
// # The Frontend API
//
// The handshake mints an app's cookies (__session, __client_uat, and on a
// development instance __clerk_db_jwt) from the browser's client, who it
// is signed in as, and returns to redirect_url: in production with the
// nonce in a cookie on the Frontend API's host, in development with it in
// the URL. The session token's azp is redirect_url's origin, as Clerk's.
//
//   - The client: a browser that signs in through the fake's sign-in, a
//     form POSTed to /v1/client/sign_ins (identifier: the user ID, no
//     password; redirect_url; on a development instance __clerk_db_jwt,
//     the dev browser), has a client of its own, kept in a __client cookie
//     on the Frontend API's host (and under its dev browser), as Clerk's
//     Frontend API keeps it. The sign-in sets the session cookies on that
//     host, as clerk-js does on the page's, and returns to redirect_url.
//     Every other browser shares the default client, which SetClient sets.
//   - Organizations: AddMembership declares who belongs where; a
//     handshake's organization_id (an ID or slug, "" for the personal
//     account, as Config.OrganizationSync sends it) activates that
//     organization for a member, and the client keeps it.
//   - Satellites: with PrimaryFrontendAPI set, a production handshake that
//     reaches the fake at another Frontend API URL (its Clerk-Proxy-Url
//     header, as a Frontend API proxy sends it and FrontendAPIHandler
//     sets it, or its host) is a satellite's. Its Frontend API knows no client of its own until
//     synced: for satellite-needs-syncing, or without a __client cookie
//     there, it sends the browser to the primary's /v1/client/sync,
//     which knows the browser's client by its cookie there, and back with
//     a one-time link; the satellite's handshake then remembers the client
//     in its own __client cookie, mints for it, and returns with
//     __clerk_synced=true. On a development instance the dev browser,
//     which the primary's middleware hands to the satellite, names the
//     client.
//
// The fake simplifies Clerk's Frontend API: cookies are host-only (so a
// Frontend API that shares the app's host, as behind a proxy at the
// app's ProxyURL path or on another loopback port, hands them to the
// app; Clerk's sets them on the app's site from clerk.<domain>); one
// session per client; a sign-in needs no password; at most 1024 clients,
// dev browsers and pending links are remembered, the oldest forgotten
// first.
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

// SetClient sets who the Frontend API's default client (the Clerk session
// of every browser it does not know) is signed in as on the next
// handshakes; "" is signed out. opts shape the session tokens they mint
// (WithOrg, for an active organization). A browser that signed in through
// the fake's sign-in (POST /v1/client/sign_ins) has a client of its own,
// which SetClient does not change.
func (b *BackendAPI) SetClient(userID string, opts ...TokenOption) {
	b.BackendAPI.SetClient(userID, opts...)
}

// FrontendAPIHandler returns the fake Frontend API's browser endpoints
// (/v1/client/…: the handshake, the sign-in, the satellite sync) as a
// handler to mount at an app's ProxyURL path, as a Frontend API proxy
// forwards them, for an app whose Config.ProxyURL is that path:
//
//	mux.Handle("/__clerk/", http.StripPrefix("/__clerk", bapi.FrontendAPIHandler(origin+"/__clerk")))
//
// The fake takes proxyURL (absolute: the app's origin and the path) as
// the Frontend API URL the browser addressed, as Clerk's reads a proxy's
// Clerk-Proxy-Url, so the cookies it sets land on the app's host, and one
// fake plays the Frontend API of several sites (a primary and its
// satellites, PrimaryFrontendAPI naming the primary's proxyURL).
func (b *BackendAPI) FrontendAPIHandler(proxyURL string) http.Handler {
	return b.BackendAPI.FrontendAPIHandler(proxyURL)
}

// AddMembership makes m.User.ID a member of m.Organization, with m.Role
// and m.Permissions (with or without "org:", as WithOrg takes them): a
// handshake whose organization_id names the organization (by its ID or
// Slug, as Config.OrganizationSync sends it) activates it for that
// user's client, and the session tokens it mints carry it. For a
// non-member the session keeps its organization, as Clerk's Frontend API
// does. Adding the same organization again replaces the membership. It
// panics when m names no user or no organization ID.
func (b *BackendAPI) AddMembership(m Membership) {
	if m.User.ID == "" || m.Organization.ID == "" {
		panic("clerktest: AddMembership needs m.User.ID and m.Organization.ID") // a mistake in the test's source
	}
	b.BackendAPI.AddMembership(m.User.ID, issuer.Membership{
		OrgID: m.Organization.ID, OrgSlug: m.Organization.Slug, Role: m.Role, Permissions: m.Permissions,
	})
}

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
