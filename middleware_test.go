package clerkauth_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/internal/testutil"
)

func TestMiddlewareTokenSources(t *testing.T) {
	iss := shared(t)
	auth := iss.MustAuth(func(c *clerkauth.Config) {
		c.PublicRoutes = []string{"/public"}
		c.PublishableKey = "" // without it, any __session_<suffix> cookie counts
	})
	h := auth.Middleware(whoami)
	token := iss.MustSessionToken("user_1")
	get := func() *http.Request { return httptest.NewRequest("GET", "/me", nil) }

	// Every way a browser or client sends the token: the request gets in.
	for name, headers := range map[string]map[string][]string{
		"bearer":                            {"Authorization": {"Bearer " + token}},
		"bearer scheme is case-insensitive": {"Authorization": {"bEaReR  " + token}},
		"session cookie":                    {"Cookie": {"theme=dark; __session=" + token}},
		"suffixed cookie without a publishable key": {"Cookie": {"__session_Ab3dEf9h=" + token}},
		"cookie split over two header lines":        {"Cookie": {"a=1", "b=2; __session=" + token}},
	} {
		t.Run(name, func(t *testing.T) {
			r := get()
			maps.Copy(r.Header, headers)
			assert.Equal(t, "user:user_1", serve(h, r).body)
		})
	}
	t.Run("missing", func(t *testing.T) {
		assertUnauthenticated(t, serve(h, get()), clerkauth.ReasonSessionTokenMissing, false)
	})
	t.Run("other scheme falls back to the cookie", func(t *testing.T) {
		r := get()
		r.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
		assertUnauthenticated(t, serve(h, r), clerkauth.ReasonSessionTokenMissing, false)
		r.AddCookie(&http.Cookie{Name: "__session", Value: token})
		assert.Equal(t, "user:user_1", serve(h, r).body)
	})
	t.Run("empty bearer", func(t *testing.T) {
		r := get()
		r.Header.Set("Authorization", "Bearer ")
		assertUnauthenticated(t, serve(h, r), clerkauth.ReasonTokenInvalid, true)
	})
	t.Run("two authorization headers", func(t *testing.T) {
		r := get()
		r.Header.Add("Authorization", "Bearer "+token)
		r.Header.Add("Authorization", "Bearer "+token)
		assertUnauthenticated(t, serve(h, r), clerkauth.ReasonTokenInvalid, true)
	})
	t.Run("oversized header token", func(t *testing.T) {
		assertUnauthenticated(t, serve(h, bearer(get(), strings.Repeat("x", 1<<20))), clerkauth.ReasonTokenInvalid, true)
	})
	t.Run("oversized cookie token", func(t *testing.T) {
		r := get()
		r.Header.Set("Cookie", "__session="+strings.Repeat("x", 16<<10+1))
		assertUnauthenticated(t, serve(h, r), clerkauth.ReasonTokenInvalid, true)
	})
	t.Run("header wins over cookie", func(t *testing.T) {
		r := bearer(get(), iss.MustSessionToken("user_1", clerktest.WithExpiry(-time.Hour)))
		r.AddCookie(&http.Cookie{Name: "__session", Value: iss.MustSessionToken("user_2")})
		assertUnauthenticated(t, serve(h, r), clerkauth.ReasonTokenExpired, true)

		r = bearer(get(), iss.MustSessionToken("user_1"))
		r.AddCookie(&http.Cookie{Name: "__session", Value: iss.MustSessionToken("user_2")})
		assert.Equal(t, "user:user_1", serve(h, r).body)
	})
}

// TestMiddlewareSuffixedCookieWithPublishableKey: which cookie pair counts
// follows Clerk's rules (the differential test covers them all); here the
// two everyday cases.
func TestMiddlewareSuffixedCookieWithPublishableKey(t *testing.T) {
	iss := shared(t)
	pk := clerktest.PublishableKey("clerk.example.test", true)
	auth, err := clerkauth.New(clerkauth.Config{PublishableKey: pk, JWTKey: iss.MustPublicKeyPEM()})
	require.NoError(t, err)
	h := auth.Middleware(whoami)
	tok := func(user, issuer string) string {
		return iss.MustSessionToken(user, clerktest.WithClaims(map[string]any{"iss": issuer}))
	}
	suffix := suffixFor(pk)

	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "__session="+tok("user_other", "https://clerk.other.test")+"; __client_uat=1; __session_"+suffix+"="+tok("user_suffixed", "https://clerk.example.test")+"; __client_uat_"+suffix+"=1")
	assert.Equal(t, "user:user_suffixed", serve(h, r).body, "another instance's plain cookie: the suffixed pair counts")

	r = httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "__session_zzzzzzzz="+tok("user_other", "https://clerk.other.test")+"; __session="+tok("user_plain", "https://clerk.example.test")+"; __client_uat=1")
	assert.Equal(t, "user:user_plain", serve(h, r).body, "another instance's suffixed cookie is ignored")
}

func TestMiddlewareResponses(t *testing.T) {
	iss := shared(t)
	var logs testutil.LockedBuffer
	auth := iss.MustAuth(func(c *clerkauth.Config) {
		c.PublicRoutes = []string{"/", "/sign-in(.*)", "/api/webhooks(.*)"}
		c.SignInURL = "/sign-in"
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	mux := http.NewServeMux()
	mux.Handle("/", whoami)
	mux.Handle("/api/admin", auth.Require(clerkauth.Role("org:admin"))(whoami))
	mux.Handle("/api/invoices", auth.Require(clerkauth.Permission("org:invoices:create"))(whoami))
	h := auth.Middleware(mux)

	member := iss.MustSessionToken("user_1", clerktest.WithOrg("org_1", "acme", "member", "org:invoices:read"))
	admin := iss.MustSessionToken("user_2", clerktest.WithOrg("org_1", "acme", "admin", "org:invoices:create"))
	expired := iss.MustSessionToken("user_1", clerktest.WithExpiry(-time.Hour))

	t.Run("public route, signed out", func(t *testing.T) {
		res := serve(h, httptest.NewRequest("GET", "/", nil))
		assert.Equal(t, 200, res.status)
		assert.Equal(t, "anonymous", res.body)
	})
	t.Run("public route, signed in", func(t *testing.T) {
		assert.Equal(t, "user:user_1", serve(h, bearer(httptest.NewRequest("GET", "/", nil), member)).body)
	})
	t.Run("public route, bad token", func(t *testing.T) {
		res := serve(h, bearer(httptest.NewRequest("GET", "/sign-in", nil), expired))
		assert.Equal(t, 200, res.status)
		assert.Equal(t, "anonymous", res.body)
	})
	t.Run("protected API without a token", func(t *testing.T) {
		assertUnauthenticated(t, serve(h, httptest.NewRequest("GET", "/dashboard", nil)), clerkauth.ReasonSessionTokenMissing, false)
	})
	t.Run("protected API with an expired token", func(t *testing.T) {
		res := serve(h, bearer(httptest.NewRequest("GET", "/dashboard", nil), expired))
		assertUnauthenticated(t, res, clerkauth.ReasonTokenExpired, true)
		assert.NotContains(t, res.body, expired[:30])
	})
	t.Run("browser navigation is redirected", func(t *testing.T) {
		r := httptest.NewRequest("GET", "http://app.example.com/dashboard?tab=1", nil)
		r.Header.Set("Sec-Fetch-Dest", "document")
		res := serve(h, r)
		assert.Equal(t, http.StatusTemporaryRedirect, res.status)
		loc, err := url.Parse(res.header.Get("Location"))
		require.NoError(t, err)
		assert.Equal(t, "/sign-in", loc.Path)
		assert.Equal(t, "http://app.example.com/dashboard?tab=1", loc.Query().Get("redirect_url"))
		assert.Equal(t, clerkauth.ReasonSessionTokenMissing, clerkauth.Reason(res.header.Get("X-Clerk-Auth-Reason")))
	})
	t.Run("navigation judged by Accept without Sec-Fetch-Dest", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/dashboard", nil)
		r.Header.Set("Accept", "text/html,application/xhtml+xml")
		res := serve(h, r)
		assert.Equal(t, http.StatusTemporaryRedirect, res.status)
		assert.Contains(t, res.header.Get("Location"), url.QueryEscape("http://example.com/dashboard"))
	})
	t.Run("fetch from a page is not redirected", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/dashboard", nil)
		r.Header.Set("Accept", "text/html")
		r.Header.Set("Sec-Fetch-Dest", "empty")
		assertUnauthenticated(t, serve(h, r), clerkauth.ReasonSessionTokenMissing, false)
	})
	t.Run("POST is never redirected", func(t *testing.T) {
		r := httptest.NewRequest("POST", "/dashboard", nil)
		r.Header.Set("Sec-Fetch-Dest", "document")
		assertUnauthenticated(t, serve(h, r), clerkauth.ReasonSessionTokenMissing, false)
	})
	t.Run("Require: role", func(t *testing.T) {
		res := serve(h, bearer(httptest.NewRequest("GET", "/api/admin", nil), member))
		assert.Equal(t, http.StatusForbidden, res.status)
		assert.JSONEq(t, `{"error":"forbidden","reason":"missing-role"}`, res.body)
		assert.Equal(t, "user:user_2", serve(h, bearer(httptest.NewRequest("GET", "/api/admin", nil), admin)).body)
	})
	t.Run("Require: permission", func(t *testing.T) {
		res := serve(h, bearer(httptest.NewRequest("GET", "/api/invoices", nil), member))
		assert.Equal(t, http.StatusForbidden, res.status)
		assert.JSONEq(t, `{"error":"forbidden","reason":"missing-permission"}`, res.body)
		assert.Equal(t, 200, serve(h, bearer(httptest.NewRequest("GET", "/api/invoices", nil), admin)).status)
	})
	t.Run("plain OPTIONS is protected", func(t *testing.T) {
		assertUnauthenticated(t, serve(h, httptest.NewRequest("OPTIONS", "/api/admin", nil)), clerkauth.ReasonSessionTokenMissing, false)
	})
	t.Run("webhook refused: one warning", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			r := httptest.NewRequest("POST", "/webhooks/clerk", strings.NewReader("{}"))
			r.Header.Set("svix-id", "msg_1")
			assert.Equal(t, 401, serve(h, r).status)
		}
		assert.Equal(t, 1, strings.Count(logs.String(), `add \"/api/webhooks(.*)\" to PublicRoutes`), logs.String())
	})
	t.Run("logs never hold tokens", func(t *testing.T) {
		assert.NotContains(t, logs.String(), "eyJ")
	})
}

func TestRequireWithoutMiddleware(t *testing.T) {
	iss := shared(t)
	auth := iss.MustAuth(nil)
	h := auth.Require()(whoami)
	assertUnauthenticated(t, serve(h, httptest.NewRequest("GET", "/x", nil)), clerkauth.ReasonSessionTokenMissing, false)
	assert.Equal(t, "user:user_1", serve(h, bearer(httptest.NewRequest("GET", "/x", nil), iss.MustSessionToken("user_1"))).body)

	custom := clerkauth.Check{Reason: "plan-required", Allow: func(id *clerkauth.Identity) bool { return id.Claims["plan"] == "pro" }}
	h = auth.Require(custom)(whoami)
	res := serve(h, bearer(httptest.NewRequest("GET", "/x", nil), iss.MustSessionToken("user_1")))
	assert.Equal(t, 403, res.status)
	assert.JSONEq(t, `{"error":"forbidden","reason":"plan-required"}`, res.body)
	assert.Equal(t, 200, serve(h, bearer(httptest.NewRequest("GET", "/x", nil), iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{"plan": "pro"})))).status)

	assert.Panics(t, func() { auth.Require(clerkauth.Check{Reason: "x"}) })

	// An identity put into the context by a test (no token) is honoured.
	r := httptest.NewRequest("GET", "/x", nil)
	r = r.WithContext(clerkauth.ContextWithIdentity(r.Context(), clerktest.Identity("user_ctx")))
	assert.Equal(t, "user:user_ctx", serve(auth.Require()(whoami), r).body)
}

func TestMiddlewarePendingSession(t *testing.T) {
	iss := shared(t)
	h := iss.MustAuth(func(c *clerkauth.Config) { c.PublicRoutes = []string{"/"} }).Middleware(whoami)
	pending := iss.MustSessionToken("user_1", clerktest.WithPending())
	assertUnauthenticated(t, serve(h, bearer(httptest.NewRequest("GET", "/x", nil), pending)), clerkauth.ReasonSessionPending, true)
	assert.Equal(t, "anonymous", serve(h, bearer(httptest.NewRequest("GET", "/", nil), pending)).body, "a pending session is signed out on public routes too")
}

func TestMiddlewareKeysUnavailable(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer down.Close()
	iss := shared(t)
	auth, err := clerkauth.New(clerkauth.Config{IssuerDomain: down.URL, HTTPClient: down.Client(), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	h := auth.Middleware(whoami)
	res := serve(h, bearer(httptest.NewRequest("GET", "/x", nil), iss.MustSessionToken("user_1")))
	assert.Equal(t, http.StatusServiceUnavailable, res.status)
	assert.Equal(t, "10", res.header.Get("Retry-After"))
	assert.JSONEq(t, `{"error":"unavailable","reason":"jwk-remote-failed-to-load"}`, res.body)
	assert.NotContains(t, res.body, "boom")
}

// TestPathConfusion sends raw request lines over TCP to a real server whose
// ServeMux has wildcard routes, and proves that no protected handler ever
// runs without a session, however the path is spelled.
func TestPathConfusion(t *testing.T) {
	iss := shared(t)
	token := iss.MustSessionToken("user_1")

	var secrets atomic.Int64
	secret := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := clerkauth.IdentityFromContext(r.Context()); !ok {
			secrets.Add(1)
		}
		fmt.Fprint(w, "SECRET")
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/public/{x}/{rest...}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "public") })
	mux.Handle("/admin/", secret)
	mux.Handle("/admin", secret)
	mux.Handle("/t/{tenant}/secrets", secret)
	mux.Handle("/api/me", secret)

	attacks := []string{
		"/admin", "/admin/", "/admin/x",
		"/%61dmin/x", "/%61%64%6d%69%6e",
		"/public/../admin/x", "/public/%2e%2e/admin/x", "/public/%2E%2E/admin/x", "/public/.%2e/admin/x",
		"/public/./../admin/x", "/public%2F..%2Fadmin%2Fx", "/public/..%2Fadmin/x", "/public/..%5Cadmin/x",
		"/public\\..\\admin/x", "//admin/x", "/public//../admin/x", "/admin/./x", "/admin/.",
		"/t/acme/secrets", "/t/a%2Fb/secrets", "/t/a%2fb/secrets", "/t/public%2Fx/secrets", "/t/acme/%73ecrets",
		"/t/acme//secrets", "/t//secrets", "/%74/acme/secrets", "/T/acme/secrets/../secrets", "/api/me", "/api/%6De", "/api/me/", "/api%2Fme",
		"/public/%00/../admin", "/public/x%0d%0a/../../admin",
	}
	modes := map[string]func(*clerkauth.Config){
		"PublicRoutes": func(c *clerkauth.Config) { c.PublicRoutes = []string{"/public(.*)"} },
		"ProtectedRoutes": func(c *clerkauth.Config) {
			c.ProtectedRoutes = []string{"/admin(.*)", "/t/:tenant/secrets", "/api(.*)"}
		},
	}
	for mode, edit := range modes {
		t.Run(mode, func(t *testing.T) {
			srv := httptest.NewServer(iss.MustAuth(edit).Middleware(mux))
			defer srv.Close()
			for _, path := range attacks {
				status, body := rawGet(t, srv.Listener.Addr().String(), path, "")
				assert.NotContains(t, body, "SECRET", "%s %s answered %d", mode, path, status)
			}
			assert.Zero(t, secrets.Load(), "a protected handler ran without a session")

			// The same server does serve the secrets with a session, and the
			// public pages without one: the test can fail.
			status, body := rawGet(t, srv.Listener.Addr().String(), "/t/a%2Fb/secrets", token)
			assert.Equal(t, 200, status)
			assert.Equal(t, "SECRET", body)
			status, body = rawGet(t, srv.Listener.Addr().String(), "/public/x/y", "")
			assert.Equal(t, 200, status)
			assert.Equal(t, "public", body)
		})
	}
}

func TestErrorResponsesAreJSON(t *testing.T) {
	iss := shared(t)
	h := iss.MustAuth(nil).Middleware(whoami)
	res := serve(h, bearer(httptest.NewRequest("GET", "/", nil), "garbage"))
	var body map[string]string
	require.NoError(t, json.Unmarshal([]byte(res.body), &body))
	assert.Equal(t, map[string]string{"error": "unauthenticated", "reason": "token-invalid"}, body)
}
