package clerkauth_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/internal/testutil"
)

// machineFixture: an issuer, its Backend API, a clock they share with the
// Auth, and a handler that reports the identity.
type machineFixture struct {
	iss   *clerktest.Issuer
	bapi  *clerktest.BackendAPI
	clock *testutil.FakeClock
	logs  *testutil.LockedBuffer
	auth  *clerkauth.Auth
	h     http.Handler
}

func newMachineFixture(t *testing.T, edit func(*clerkauth.Config)) *machineFixture {
	t.Helper()
	f := &machineFixture{iss: clerktest.NewIssuer(t), clock: testutil.NewFakeClock(time.Now()), logs: &testutil.LockedBuffer{}}
	f.iss.SetNow(f.clock.Now)
	f.bapi = clerktest.NewBackendAPI(t, f.iss)
	f.auth = f.iss.MustAuth(func(c *clerkauth.Config) {
		f.bapi.Configure(c)
		c.AcceptsToken = []clerkauth.TokenType{clerkauth.SessionToken, clerkauth.APIKey, clerkauth.M2MToken, clerkauth.OAuthToken}
		c.Now = f.clock.Now
		c.Logger = slog.New(slog.NewTextHandler(f.logs, nil))
		if edit != nil {
			edit(c)
		}
	})
	f.h = f.auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := clerkauth.IdentityFromContext(r.Context())
		if !ok {
			id = &clerkauth.Identity{} // a public route: every field empty
		}
		json.NewEncoder(w).Encode(map[string]any{
			"type": id.TokenType, "subject": id.Subject, "user": id.UserID, "org": id.OrgID, "machine": id.MachineID,
			"client": id.ClientID, "scopes": id.Scopes, "key_name": id.KeyName, "token_id": id.TokenID,
		})
	}))
	return f
}

func (f *machineFixture) get(token string) response {
	r := httptest.NewRequest("GET", "/api/data", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return serve(f.h, r)
}

func decodeIdentity(t *testing.T, res response) map[string]any {
	t.Helper()
	require.Equal(t, 200, res.status, res.body)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.body), &m))
	return m
}

func TestMachineTokensSignIn(t *testing.T) {
	f := newMachineFixture(t, nil)
	userKey := f.bapi.CreateAPIKey("user_1", "ci", []string{"read", "write"}, map[string]any{"team": "a"}, 0)
	orgKey := f.bapi.CreateAPIKey("org_1", "org key", nil, nil, 0)
	m2m := f.bapi.CreateM2MToken(f.bapi.MachineID, []string{"mch_other"}, nil, time.Hour)
	oauth := f.bapi.CreateOAuthToken("user_2", "client_1", []string{"profile", "email"}, time.Hour)

	for _, tc := range []struct {
		name, token string
		want        map[string]any
	}{
		{"API key of a user", userKey.Secret, map[string]any{"type": "api_key", "subject": "user_1", "user": "user_1", "org": "", "key_name": "ci", "scopes": []any{"read", "write"}, "token_id": userKey.ID}},
		{"API key of an organization", orgKey.Secret, map[string]any{"type": "api_key", "subject": "org_1", "user": "", "org": "org_1", "key_name": "org key", "scopes": []any{}}},
		{"opaque M2M token", m2m.Secret, map[string]any{"type": "m2m_token", "subject": f.bapi.MachineID, "machine": f.bapi.MachineID, "scopes": []any{"mch_other"}, "token_id": m2m.ID}},
		{"opaque OAuth token", oauth.Secret, map[string]any{"type": "oauth_token", "subject": "user_2", "user": "user_2", "client": "client_1", "scopes": []any{"profile", "email"}}},
		{"JWT M2M token", f.iss.MustM2MJWT("mch_9", []string{"mch_a", "mch_b"}, time.Hour), map[string]any{"type": "m2m_token", "subject": "mch_9", "machine": "mch_9", "scopes": []any{"mch_a", "mch_b"}}},
		{"JWT OAuth token", f.iss.MustOAuthJWT("user_3", "client_2", []string{"read"}, time.Hour), map[string]any{"type": "oauth_token", "subject": "user_3", "user": "user_3", "client": "client_2", "scopes": []any{"read"}}},
		{"session token", f.iss.MustSessionToken("user_4"), map[string]any{"type": "session_token", "subject": "user_4", "user": "user_4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeIdentity(t, f.get(tc.token))
			for k, v := range tc.want {
				assert.Equal(t, v, got[k], k)
			}
		})
	}
}

func TestMachineTokensRefused(t *testing.T) {
	f := newMachineFixture(t, nil)
	revoked := f.bapi.CreateAPIKey("user_1", "old", nil, nil, 0)
	f.bapi.Revoke(revoked.ID)
	expiring := f.bapi.CreateM2MToken(f.bapi.MachineID, nil, nil, time.Minute)
	f.clock.Advance(2 * time.Minute)
	expiredJWT := f.iss.MustM2MJWT("mch_1", nil, -time.Minute)
	other := clerktest.NewIssuer(t)

	for _, tc := range []struct {
		name, token string
		reason      clerkauth.Reason
		calls       int // Backend API verifications it may cost
	}{
		{"unknown API key", "ak_" + strings.Repeat("x", 40), clerkauth.ReasonTokenInvalid, 1},
		{"revoked API key", revoked.Secret, clerkauth.ReasonTokenInvalid, 1},
		{"expired M2M token", expiring.Secret, clerkauth.ReasonTokenInvalid, 1},
		{"unknown OAuth token", "oat_nothing", clerkauth.ReasonTokenInvalid, 1},
		{"API key with a space", "ak_a b", clerkauth.ReasonTokenInvalid, 0},
		{"API key with a control character", "ak_a\x01b", clerkauth.ReasonTokenInvalid, 0},
		{"oversized API key", "ak_" + strings.Repeat("a", 2000), clerkauth.ReasonTokenInvalid, 0},
		{"expired M2M JWT", expiredJWT, clerkauth.ReasonTokenExpired, 0},
		{"M2M JWT of another instance", other.MustM2MJWT("mch_1", nil, time.Hour, clerktest.WithKeyID(f.iss.KeyID())), clerkauth.ReasonTokenInvalidSignature, 0},
		{"M2M JWT with a session category", f.iss.MustM2MJWT("mch_1", nil, time.Hour, clerktest.WithHeader("cat", "cl_B7d4PD111AAA")), clerkauth.ReasonTokenInvalid, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.bapi.VerifyCalls()
			res := f.get(tc.token)
			assert.Equal(t, 401, res.status, res.body)
			assert.Equal(t, tc.reason, clerkauth.Reason(res.header.Get("X-Clerk-Auth-Reason")))
			assert.Equal(t, tc.calls, f.bapi.VerifyCalls()-before, "Backend API calls")
			assert.NotContains(t, res.body, tc.token[:min(len(tc.token), 12)], "the token is never echoed")
		})
	}
}

// TestTokenTypeMismatch: each token type, offered where it is not accepted.
// A session token is never a machine token, nor the reverse; cookies carry
// only sessions.
func TestTokenTypeMismatch(t *testing.T) {
	base := newMachineFixture(t, nil)
	key := base.bapi.CreateAPIKey("user_1", "k", nil, nil, 0).Secret
	m2m := base.bapi.CreateM2MToken(base.bapi.MachineID, nil, nil, 0).Secret
	tokens := map[clerkauth.TokenType][]string{
		clerkauth.SessionToken: {base.iss.MustSessionToken("user_1")},
		clerkauth.APIKey:       {key},
		clerkauth.M2MToken:     {m2m, base.iss.MustM2MJWT("mch_1", nil, time.Hour)},
		clerkauth.OAuthToken:   {base.bapi.CreateOAuthToken("user_1", "c", nil, 0).Secret, base.iss.MustOAuthJWT("user_1", "c", nil, time.Hour)},
	}
	for _, accepted := range []clerkauth.TokenType{clerkauth.SessionToken, clerkauth.APIKey, clerkauth.M2MToken, clerkauth.OAuthToken} {
		h := base.iss.MustAuth(func(c *clerkauth.Config) {
			base.bapi.Configure(c)
			c.AcceptsToken = []clerkauth.TokenType{accepted}
		}).Middleware(whoami)
		for typ, list := range tokens {
			for i, token := range list {
				t.Run(fmt.Sprintf("%s where only %s is accepted #%d", typ, accepted, i), func(t *testing.T) {
					res := serve(h, bearer(httptest.NewRequest("GET", "/", nil), token))
					if typ == accepted {
						assert.Equal(t, 200, res.status, res.body)
						return
					}
					assert.Equal(t, 401, res.status)
					assert.Equal(t, clerkauth.ReasonTokenTypeMismatch, clerkauth.Reason(res.header.Get("X-Clerk-Auth-Reason")))
					assert.Contains(t, res.header.Get("WWW-Authenticate"), `error="invalid_token"`)
					assert.JSONEq(t, `{"error":"unauthenticated","reason":"token-type-mismatch"}`, res.body)
				})
			}
		}
	}
	t.Run("a session cookie where only API keys are accepted", func(t *testing.T) {
		h := base.iss.MustAuth(func(c *clerkauth.Config) {
			base.bapi.Configure(c)
			c.AcceptsToken = []clerkauth.TokenType{clerkauth.APIKey}
		}).Middleware(whoami)
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: "__session", Value: base.iss.MustSessionToken("user_1")})
		res := serve(h, r)
		assert.Equal(t, 401, res.status)
		assert.Equal(t, clerkauth.ReasonTokenTypeMismatch, clerkauth.Reason(res.header.Get("X-Clerk-Auth-Reason")))
		assert.Equal(t, "Bearer", res.header.Get("WWW-Authenticate"), "no Bearer credentials came: no error code (RFC 6750)")
	})
	t.Run("an API key in the session cookie", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: "__session", Value: key})
		r.AddCookie(&http.Cookie{Name: "__client_uat", Value: "1"})
		res := serve(base.h, r)
		assert.Equal(t, 401, res.status)
		assert.Equal(t, clerkauth.ReasonTokenInvalid, clerkauth.Reason(res.header.Get("X-Clerk-Auth-Reason")), "verified as a session, which it is not")
	})
}

func TestScopeAndTokenTypesChecks(t *testing.T) {
	f := newMachineFixture(t, nil)
	readKey := f.bapi.CreateAPIKey("user_1", "k", []string{"read"}, nil, 0).Secret
	mux := http.NewServeMux()
	mux.Handle("/write", f.auth.Require(clerkauth.Scope("write"))(whoami))
	mux.Handle("/keys-only", f.auth.Require(clerkauth.TokenTypes(clerkauth.APIKey))(whoami))
	h := f.auth.Middleware(mux)

	res := serve(h, bearer(httptest.NewRequest("GET", "/write", nil), readKey))
	assert.Equal(t, 403, res.status)
	assert.JSONEq(t, `{"error":"forbidden","reason":"missing-scope"}`, res.body)

	res = serve(h, bearer(httptest.NewRequest("GET", "/keys-only", nil), readKey))
	assert.Equal(t, 200, res.status)
	res = serve(h, bearer(httptest.NewRequest("GET", "/keys-only", nil), f.iss.MustSessionToken("user_1")))
	assert.Equal(t, 401, res.status)
	assert.Equal(t, clerkauth.ReasonTokenTypeMismatch, clerkauth.Reason(res.header.Get("X-Clerk-Auth-Reason")))

	id := &clerkauth.Identity{Scopes: []string{"a"}}
	assert.True(t, id.HasScope("a"))
	assert.False(t, id.HasScope(""))
	assert.False(t, (*clerkauth.Identity)(nil).HasScope("a"))
}

// TestOAuthResourceMetadata: with OAuth tokens accepted, a 401 tells OAuth
// clients where the authorization server's metadata is (RFC 9728).
func TestOAuthResourceMetadata(t *testing.T) {
	f := newMachineFixture(t, nil)
	want := `Bearer resource_metadata="` + f.iss.URL + `/.well-known/oauth-protected-resource"`
	assert.Equal(t, want, f.get("").header.Get("WWW-Authenticate"))
	assert.Equal(t, want+`, error="invalid_token"`, f.get("oat_unknown").header.Get("WWW-Authenticate"))

	g := newMachineFixture(t, func(c *clerkauth.Config) { c.AcceptsToken = []clerkauth.TokenType{clerkauth.APIKey} })
	assert.Equal(t, "Bearer", g.get("").header.Get("WWW-Authenticate"))
}

// TestBackendAPIFailures: 401 from the Backend API means our key is wrong
// (503, logged loudly, the client not blamed); anything else is 503 with
// Retry-After. Neither is cached.
func TestBackendAPIFailures(t *testing.T) {
	for _, tc := range []struct {
		status int
		reason clerkauth.Reason
	}{
		{401, clerkauth.ReasonSecretKeyInvalid},
		{500, clerkauth.ReasonUnexpectedError},
		{429, clerkauth.ReasonUnexpectedError},
		{403, clerkauth.ReasonUnexpectedError},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			f := newMachineFixture(t, nil)
			key := f.bapi.CreateAPIKey("user_1", "k", nil, nil, 0).Secret
			f.bapi.FailVerifications(tc.status)
			res := f.get(key)
			assert.Equal(t, 503, res.status)
			assert.Equal(t, tc.reason, clerkauth.Reason(res.header.Get("X-Clerk-Auth-Reason")))
			assert.NotEmpty(t, res.header.Get("Retry-After"))
			assert.JSONEq(t, `{"error":"unavailable","reason":"`+string(tc.reason)+`"}`, res.body)
			if tc.status == 401 {
				assert.Contains(t, f.logs.String(), "level=ERROR")
				assert.Contains(t, f.logs.String(), "CLERK_SECRET_KEY")
			}
			assert.NotContains(t, f.logs.String(), key, "never a token in the logs")
			assert.NotContains(t, f.logs.String(), f.bapi.SecretKey, "never a secret in the logs")

			f.bapi.FailVerifications(0) // the Backend API recovers: not cached
			assert.Equal(t, 200, f.get(key).status)
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		f := newMachineFixture(t, nil)
		key := f.bapi.CreateAPIKey("user_1", "k", nil, nil, 0).Secret
		f.bapi.Close()
		res := f.get(key)
		assert.Equal(t, 503, res.status)
		assert.Equal(t, clerkauth.ReasonUnexpectedError, clerkauth.Reason(res.header.Get("X-Clerk-Auth-Reason")))
	})
}

// TestMachineTokenCacheAndRevocation: a revoked key keeps working until
// the cache time passes; with the cache off, it stops at once.
func TestMachineTokenCacheAndRevocation(t *testing.T) {
	f := newMachineFixture(t, func(c *clerkauth.Config) { c.MachineTokenCacheTTL = 30 * time.Second })
	key := f.bapi.CreateAPIKey("user_1", "k", nil, nil, 0)
	for range 5 {
		require.Equal(t, 200, f.get(key.Secret).status)
	}
	assert.Equal(t, 1, f.bapi.VerifyCalls(), "one call, then the cache")
	f.bapi.Revoke(key.ID)
	f.clock.Advance(29 * time.Second)
	assert.Equal(t, 200, f.get(key.Secret).status, "within the cache time, a revoked key still works")
	f.clock.Advance(2 * time.Second)
	assert.Equal(t, 401, f.get(key.Secret).status, "after it, the revocation is seen")
	assert.Equal(t, 401, f.get(key.Secret).status)
	assert.Equal(t, 2, f.bapi.VerifyCalls(), "the unknown verdict is cached too")

	// A token's own expiration bounds its cache time.
	short := f.bapi.CreateM2MToken(f.bapi.MachineID, nil, nil, 5*time.Second)
	assert.Equal(t, 200, f.get(short.Secret).status)
	f.clock.Advance(6 * time.Second)
	assert.Equal(t, 401, f.get(short.Secret).status)

	off := newMachineFixture(t, func(c *clerkauth.Config) { c.MachineTokenCacheTTL = -1 })
	key = off.bapi.CreateAPIKey("user_1", "k", nil, nil, 0)
	assert.Equal(t, 200, off.get(key.Secret).status)
	assert.Equal(t, 200, off.get(key.Secret).status)
	assert.Equal(t, 2, off.bapi.VerifyCalls(), "no cache: a call per request")
	off.bapi.Revoke(key.ID)
	assert.Equal(t, 401, off.get(key.Secret).status, "no cache: revocation is immediate")
}

// TestMachineSingleFlight: 100 concurrent requests with one new key cause
// one Backend API call. The call is held until all 99 other requests have
// joined it (the cache is off, so nothing else could save a call).
func TestMachineSingleFlight(t *testing.T) {
	f := newMachineFixture(t, func(c *clerkauth.Config) { c.MachineTokenCacheTTL = -1 })
	key := f.bapi.CreateAPIKey("user_1", "k", nil, nil, 0).Secret
	release := f.bapi.HoldVerifications()
	var joined sync.WaitGroup
	joined.Add(99)
	clerkauth.OnMachineJoin(f.auth, joined.Done)
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if f.get(key).status == 200 {
				ok.Add(1)
			}
		})
	}
	joined.Wait()
	release()
	wg.Wait()
	assert.EqualValues(t, 100, ok.Load())
	assert.Equal(t, 1, f.bapi.VerifyCalls())
}

// TestMachineFloodBound: 10,000 random API keys within one second cost
// the Backend API budget less its reserve (BackendAPIRate 100: 75 calls);
// the rest are answered 503 machine-verifier-busy at once. Time moves on:
// the budget refills at the same rate.
func TestMachineFloodBound(t *testing.T) {
	f := newMachineFixture(t, func(c *clerkauth.Config) { c.BackendAPIRate = 100 })
	busy := 0
	for i := range 10_000 {
		res := f.get(fmt.Sprintf("ak_random%06d", i))
		switch clerkauth.Reason(res.header.Get("X-Clerk-Auth-Reason")) {
		case clerkauth.ReasonMachineVerifierBusy:
			busy++
			assert.Equal(t, 503, res.status)
			assert.Equal(t, "1", res.header.Get("Retry-After"))
		default:
			assert.Equal(t, clerkauth.ReasonTokenInvalid, clerkauth.Reason(res.header.Get("X-Clerk-Auth-Reason")))
		}
	}
	assert.Equal(t, 75, f.bapi.VerifyCalls(), "the burst, less the reserve")
	assert.Equal(t, 9_925, busy)

	// Known keys are served from the cache during the flood.
	key := f.bapi.CreateAPIKey("user_1", "k", nil, nil, 0).Secret
	f.clock.Advance(time.Second) // the budget refills
	assert.Equal(t, 200, f.get(key).status)
	for i := range 1000 {
		f.get(fmt.Sprintf("ak_more%06d", i))
	}
	assert.Equal(t, 200, f.get(key).status, "a cached key is not held up by the flood")
	assert.Equal(t, 150, f.bapi.VerifyCalls(), "one more second, one more burst")
}

// Issue 18, finding 4: a key that verified keeps working under a flood of
// unknown tokens that spends the budget every second, long after its
// cached verdict's TTL: it is renewed from the reserve, in the background
// while its verdict is still good. A revocation is seen within the TTL.
func TestMachineKnownKeyOutlivesAFlood(t *testing.T) {
	f := newMachineFixture(t, func(c *clerkauth.Config) { c.BackendAPIRate = 100 })
	key := f.bapi.CreateAPIKey("user_1", "k", nil, nil, 0)
	require.Equal(t, 200, f.get(key.Secret).status)
	junk := 0
	for second := range 60 { // a minute: six TTLs of 10s
		for range 200 { // twice the budget, every second
			junk++
			f.get(fmt.Sprintf("ak_flood%07d", junk))
		}
		res := f.get(key.Secret)
		require.Equal(t, 200, res.status, "second %d: %s", second, res.header.Get("X-Clerk-Auth-Reason"))
		clerkauth.WaitMachineIdle(f.auth)
		f.clock.Advance(time.Second)
	}
	f.bapi.Revoke(key.ID)
	revokedAt := f.clock.Now()
	for f.get(key.Secret).status == 200 {
		clerkauth.WaitMachineIdle(f.auth)
		f.clock.Advance(time.Second)
		require.LessOrEqual(t, f.clock.Now().Sub(revokedAt), 10*time.Second+time.Second, "the revocation is seen within MachineTokenCacheTTL")
	}
}

// TestMachineConcurrencyBound: with BackendAPIConcurrency calls in flight,
// less the reserve (3: 2 for unknown tokens), another new token is
// answered 503 at once instead of queueing.
func TestMachineConcurrencyBound(t *testing.T) {
	f := newMachineFixture(t, func(c *clerkauth.Config) { c.BackendAPIConcurrency = 3 })
	release := f.bapi.HoldVerifications()
	defer release()
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { f.get(fmt.Sprintf("ak_held%d", i)) })
	}
	f.bapi.WaitVerifyCalls(2) // both calls reached the Backend API
	res := f.get("ak_third")
	assert.Equal(t, 503, res.status)
	assert.Equal(t, clerkauth.ReasonMachineVerifierBusy, clerkauth.Reason(res.header.Get("X-Clerk-Auth-Reason")))
	release()
	wg.Wait()
}

func TestMachineConfigValidation(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	for _, tc := range []struct {
		name string
		edit func(*clerkauth.Config)
		want string
	}{
		{"unknown type", func(c *clerkauth.Config) { c.AcceptsToken = []clerkauth.TokenType{"jwt"} }, `AcceptsToken lists "jwt"`},
		{"API keys without a secret key", func(c *clerkauth.Config) { c.AcceptsToken = []clerkauth.TokenType{clerkauth.APIKey} }, "set CLERK_SECRET_KEY"},
		{"OAuth without a secret key", func(c *clerkauth.Config) { c.AcceptsToken = []clerkauth.TokenType{clerkauth.OAuthToken} }, "set CLERK_SECRET_KEY"},
		{"M2M without any key", func(c *clerkauth.Config) { c.AcceptsToken = []clerkauth.TokenType{clerkauth.M2MToken} }, "CLERK_MACHINE_SECRET_KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := iss.Auth(tc.edit)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := iss.Auth(func(c *clerkauth.Config) {
		c.MachineSecretKey = "ak_machine"
		c.AcceptsToken = []clerkauth.TokenType{clerkauth.M2MToken}
	})
	assert.NoError(t, err, "a machine secret key is enough for M2M tokens")
	cfg := clerkauth.ConfigFromLookup(func(k string) string {
		return map[string]string{clerkauth.EnvMachineSecretKey: " ak_env "}[k]
	})
	assert.Equal(t, "ak_env", cfg.MachineSecretKey)
}

// TestMachineSecretKeyForM2M: opaque M2M tokens are verified with the
// machine secret key when one is set, API keys with the instance's.
func TestMachineSecretKeyForM2M(t *testing.T) {
	f := newMachineFixture(t, func(c *clerkauth.Config) { c.SecretKey = "sk_live_wrong" })
	m2m := f.bapi.CreateM2MToken(f.bapi.MachineID, nil, nil, 0).Secret
	assert.Equal(t, 200, f.get(m2m).status, "the machine secret key is used")
	key := f.bapi.CreateAPIKey("user_1", "k", nil, nil, 0).Secret
	assert.Equal(t, 503, f.get(key).status, "API keys use the (wrong) instance key")
}
