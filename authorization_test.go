package clerkauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/internal/clerkjs"
)

// TestReverificationFlow drives step-up end to end: a session whose second
// factor is 30 minutes old gets 403 with exactly the body clerk-js's
// useReverification() reads; after the user verifies again (a new token
// with a fresh fva), the same request passes.
func TestReverificationFlow(t *testing.T) {
	iss := shared(t)
	auth := iss.MustAuth(nil)
	h := auth.Middleware(auth.Require(clerkauth.Reverification(clerkauth.Strict))(whoami))

	stale := iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{"fva": []int{30, 30}}))
	res := serve(h, bearer(httptest.NewRequest("POST", "/api/transfer", nil), stale))
	require.Equal(t, http.StatusForbidden, res.status)
	var clerk struct {
		Clerk string `json:"clerk"`
		Hint  bool   `json:"hint"`
	}
	clerkjs.Run(t, "reverification.mjs", map[string]any{"level": clerkauth.Strict, "body": res.body}, &clerk)
	assert.Equal(t, clerk.Clerk+"\n", res.body, "byte for byte the body @clerk/shared's reverificationError builds")
	assert.True(t, clerk.Hint, "clerk-js's isReverificationHint recognises it")
	assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
	assert.Equal(t, clerkauth.ReasonReverificationError, clerkauth.Reason(res.header.Get("X-Clerk-Auth-Reason")))
	assert.Equal(t, "application/json; charset=utf-8", res.header.Get("Content-Type"))

	fresh := iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{"fva": []int{30, 2}}))
	res = serve(h, bearer(httptest.NewRequest("POST", "/api/transfer", nil), fresh))
	assert.Equal(t, 200, res.status)
	assert.Equal(t, "user:user_1", res.body)

	// No second factor set up: the first factor must be fresh, as in Clerk.
	firstOnly := iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{"fva": []int{3, -1}}))
	assert.Equal(t, 200, serve(h, bearer(httptest.NewRequest("POST", "/", nil), firstOnly)).status)
}

// TestEveryRefusalIsNotCached: 401, 403 and 503 all carry Cache-Control:
// no-store and X-Clerk-Auth-Reason.
func TestEveryRefusalIsNotCached(t *testing.T) {
	iss := shared(t)
	auth := iss.MustAuth(nil)
	h := auth.Middleware(auth.Require(clerkauth.Role("admin"))(whoami))
	for status, r := range map[int]*http.Request{
		401: httptest.NewRequest("GET", "/", nil),
		403: bearer(httptest.NewRequest("GET", "/", nil), iss.MustSessionToken("user_1")),
	} {
		res := serve(h, r)
		assert.Equal(t, status, res.status)
		assert.Equal(t, "no-store", res.header.Get("Cache-Control"), status)
		assert.NotEmpty(t, res.header.Get("X-Clerk-Auth-Reason"), status)
	}
	// 503 is covered by TestMiddlewareKeysUnavailable's reject path.
}

// TestChecks: the has() forms, on one identity.
func TestChecks(t *testing.T) {
	iss := shared(t)
	auth := iss.MustAuth(nil)
	token := iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{
		"v": 2, "fea": "o:reports,u:export,ou:sso", "pla": "o:pro,u:free", "fva": []int{5, 20},
		"o": map[string]any{"id": "org_1", "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "3,1"},
	}))
	id, err := auth.VerifyToken(t.Context(), token)
	require.NoError(t, err)
	assert.Equal(t, []clerkauth.Entitlement{{Name: "reports", Org: true}, {Name: "export", User: true}, {Name: "sso", Org: true, User: true}}, id.Features)
	assert.Equal(t, [2]int{5, 20}, id.FactorAge)
	assert.ElementsMatch(t, []string{"org:reports:read", "org:reports:manage", "org:sso:read"}, id.OrgPermissions)

	for _, tt := range []struct {
		check clerkauth.Check
		want  bool
	}{
		{clerkauth.Role("admin"), true}, {clerkauth.Role("org:admin"), true}, {clerkauth.Role("member"), false},
		{clerkauth.Permission("reports:manage"), true}, {clerkauth.Permission("org:sso:manage"), false},
		{clerkauth.Feature("reports"), true}, {clerkauth.Feature("user:reports"), false}, {clerkauth.Feature("org:sso"), true},
		{clerkauth.Feature("u:export"), true}, {clerkauth.Feature("org:export"), false},
		{clerkauth.Plan("pro"), true}, {clerkauth.Plan("user:pro"), false}, {clerkauth.Plan("free"), true},
		{clerkauth.Reverification(clerkauth.Lax), true}, {clerkauth.Reverification(clerkauth.Strict), false},
		{clerkauth.Reverification(clerkauth.ReverificationLevel{Level: "first_factor", AfterMinutes: 10}), true},
		{clerkauth.Reverification(clerkauth.StrictMFA), false},
		{clerkauth.AnyOf(clerkauth.Role("member"), clerkauth.Plan("pro")), true},
		{clerkauth.AnyOf(clerkauth.Role("member"), clerkauth.Plan("team")), false},
	} {
		assert.Equal(t, tt.want, tt.check.Allow(id), tt.check.Reason)
	}
	assert.Equal(t, clerkauth.ReasonMissingRole, clerkauth.AnyOf(clerkauth.Role("member"), clerkauth.Plan("team")).Reason, "AnyOf answers with its first check")
	assert.Panics(t, func() {
		clerkauth.Reverification(clerkauth.ReverificationLevel{Level: "third_factor", AfterMinutes: 5})
	})
	assert.Panics(t, func() { clerkauth.Reverification(clerkauth.ReverificationLevel{Level: "first_factor"}) })
	assert.Panics(t, func() { clerkauth.AnyOf() })
}
