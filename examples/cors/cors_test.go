package main

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

const origin = "https://app.example.com"

func request(method, path, token string, preflight bool) *http.Request {
	r := httptest.NewRequest(method, path, nil)
	r.Header.Set("Origin", origin)
	if preflight {
		r.Header.Set("Access-Control-Request-Method", "DELETE")
		r.Header.Set("Access-Control-Request-Headers", "authorization")
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// TestCORSOutsideClerkauth: with rs/cors wrapping the middleware, browsers
// on an allowed origin get their preflights answered and can read every
// response, 401 included, while no protected handler runs without a session.
func TestCORSOutsideClerkauth(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	auth := iss.MustAuth(func(c *clerkauth.Config) { c.ProtectedRoutes = []string{"/api/me", "/api/admin(.*)"} })
	h := newHandler(auth, []string{origin})

	pre := serve(h, request("OPTIONS", "/api/admin/purge", "", true))
	assert.Equal(t, http.StatusNoContent, pre.Code, "rs/cors answers the preflight")
	assert.Equal(t, origin, pre.Header().Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "DELETE", pre.Header().Get("Access-Control-Allow-Methods"))
	assert.Equal(t, "authorization", pre.Header().Get("Access-Control-Allow-Headers"))

	res := serve(h, request("DELETE", "/api/admin/purge", "", false))
	assert.Equal(t, http.StatusUnauthorized, res.Code)
	assert.Equal(t, origin, res.Header().Get("Access-Control-Allow-Origin"), "the app can read the 401")
	assert.Equal(t, "X-Clerk-Auth-Reason", res.Header().Get("Access-Control-Expose-Headers"))
	assert.Equal(t, clerkauth.ReasonSessionTokenMissing, clerkauth.Reason(res.Header().Get("X-Clerk-Auth-Reason")))

	token := iss.MustSessionToken("user_1")
	res = serve(h, request("DELETE", "/api/admin/purge", token, false))
	assert.Equal(t, http.StatusNoContent, res.Code)
	assert.Equal(t, origin, res.Header().Get("Access-Control-Allow-Origin"))
	res = serve(h, request("GET", "/api/me", token, false))
	assert.Equal(t, 200, res.Code)
	assert.JSONEq(t, `{"user":"user_1"}`, res.Body.String())

	res = serve(h, request("GET", "/api/health", "", false))
	assert.Equal(t, 200, res.Code)
	assert.Equal(t, origin, res.Header().Get("Access-Control-Allow-Origin"))

	other := request("OPTIONS", "/api/admin/purge", "", true)
	other.Header.Set("Origin", "https://evil.example")
	assert.Empty(t, serve(h, other).Header().Get("Access-Control-Allow-Origin"), "other origins get no CORS grant")
}

// TestCORSInsideClerkauthFails shows why the order matters: with clerkauth
// outermost, a preflight to a protected route is refused without CORS
// headers (and its handler never runs), so browsers block the call.
func TestCORSInsideClerkauthFails(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	auth := iss.MustAuth(func(c *clerkauth.Config) { c.ProtectedRoutes = []string{"/api/admin(.*)"} })
	var ran atomic.Int64
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran.Add(1) })
	wrong := auth.Middleware(newHandlerAround(inner))
	pre := serve(wrong, request("OPTIONS", "/api/admin/purge", "", true))
	require.Equal(t, http.StatusUnauthorized, pre.Code)
	assert.Empty(t, pre.Header().Get("Access-Control-Allow-Origin"))
	assert.Zero(t, ran.Load())
}

// newHandlerAround is the CORS layer of newHandler around any handler.
func newHandlerAround(h http.Handler) http.Handler {
	return newCORS([]string{origin}).Handler(h)
}
