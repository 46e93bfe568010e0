// Package routertest is the specification the router examples
// (examples/chi, examples/echo) prove their wiring against: the routes the
// docs/frameworks.md shows, and what
// each answers. It is for tests only (it imports testing).
//
// An example serves, behind clerkauth's Middleware:
//
//	GET /api/health   public, through Config.PublicRoutes: {"status":"ok"}
//	GET /api/me       signed in: {"user":"<user ID>"}
//	GET /api/admin    signed in with org:admin, through auth.Require:
//	                  {"user":"<user ID>","org":"<org slug>"}
package routertest

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

// Run builds the example's handler from a configuration wired to a fresh
// clerktest issuer (build adds the example's route policy, as its main
// does) and checks every route against the specification.
func Run(t *testing.T, build func(clerkauth.Config) (http.Handler, error)) {
	t.Helper()
	iss := clerktest.NewIssuer(t)
	cfg := iss.Config()
	cfg.Logger = slog.New(slog.DiscardHandler)
	h, err := build(cfg)
	require.NoError(t, err)

	member := iss.MustSessionToken("user_member", clerktest.WithOrg("org_1", "acme", "member"))
	admin := iss.MustSessionToken("user_admin", clerktest.WithOrg("org_1", "acme", "admin"))
	for _, tc := range []struct {
		name, path, token string
		status            int
		body              string
	}{
		{"public route, signed out", "/api/health", "", 200, `{"status":"ok"}`},
		{"protected route without a token", "/api/me", "", 401, `{"error":"unauthenticated","reason":"session-token-missing"}`},
		{"protected route with a token: the handler sees the identity", "/api/me", member, 200, `{"user":"user_member"}`},
		{"Require'd route without a token", "/api/admin", "", 401, `{"error":"unauthenticated","reason":"session-token-missing"}`},
		{"Require'd route without the role", "/api/admin", member, 403, `{"error":"forbidden","reason":"missing-role"}`},
		{"Require'd route with the role", "/api/admin", admin, 200, `{"user":"user_admin","org":"acme"}`},
		// The middleware runs before the router's 404: an unknown path
		// is protected like any other.
		{"unknown route without a token", "/api/nope", "", 401, `{"error":"unauthenticated","reason":"session-token-missing"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tc.path, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, tc.status, rec.Code)
			assert.JSONEq(t, tc.body, rec.Body.String())
			if tc.status != 200 {
				assert.NotEmpty(t, rec.Header().Get("X-Clerk-Auth-Reason"), "clerkauth answered, not the router")
			}
		})
	}
}
