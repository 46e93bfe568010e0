package ginauth_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/ginauth"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// whoami is the application handler in both stacks: the signed-in user
// from the request's context, or "anonymous".
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if id, ok := clerkauth.IdentityFromContext(r.Context()); ok {
		fmt.Fprint(w, "user:"+id.UserID)
		return
	}
	fmt.Fprint(w, "anonymous")
})

// app is one Clerk instance (the fake Frontend and Backend API, with a
// production publishable key, so that stale cookies go through the
// handshake) served twice: by gin with ginauth, and by net/http with the
// library's middleware, on the same routes.
type app struct {
	iss   *clerktest.Issuer
	bapi  *clerktest.BackendAPI
	auth  *clerkauth.Auth
	gin   *gin.Engine
	std   http.Handler
	after atomic.Int64 // gin handlers run after ginauth.Middleware passed
	outer atomic.Int64 // the status an outer gin middleware saw, last request
}

func newApp(t *testing.T, edit func(*clerkauth.Config)) *app {
	t.Helper()
	a := &app{iss: clerktest.NewIssuer(t)}
	a.bapi = clerktest.NewBackendAPI(t, a.iss)
	pk := clerktest.PublishableKey("clerk.clerktest.example", true)
	a.bapi.PublishableKey = pk
	a.auth = a.iss.MustAuth(func(c *clerkauth.Config) {
		a.bapi.Configure(c)
		c.PublishableKey, c.SecretKey = pk, a.bapi.SecretKeyFor(pk)
		c.PublicRoutes = []string{"/", "/public(.*)"}
		c.Logger = slog.New(slog.DiscardHandler)
		if edit != nil {
			edit(c)
		}
	})
	admin := clerkauth.Role("org:admin")

	r := gin.New()
	r.Use(func(c *gin.Context) { c.Next(); a.outer.Store(int64(c.Writer.Status())) })
	r.Use(ginauth.Middleware(a.auth), func(c *gin.Context) { a.after.Add(1) })
	h := gin.WrapH(whoami)
	r.GET("/", h)
	r.GET("/dashboard", h)
	r.Any("/api/me", h)
	r.GET("/api/admin", ginauth.Require(a.auth, admin), h)
	r.GET("/public/admin", ginauth.Require(a.auth, admin), h)
	a.gin = r

	mux := http.NewServeMux()
	mux.Handle("/", whoami)
	mux.Handle("/api/admin", a.auth.Require(admin)(whoami))
	mux.Handle("/public/admin", a.auth.Require(admin)(whoami))
	a.std = a.auth.Middleware(mux)
	return a
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// assertSameAnswer checks that got is want: status, every header, body.
func assertSameAnswer(t *testing.T, want, got *httptest.ResponseRecorder) {
	t.Helper()
	assert.Equal(t, want.Code, got.Code)
	assert.Equal(t, want.Header(), got.Header())
	assert.Equal(t, want.Body.String(), got.Body.String())
}

// request builds a request; header pairs are name, value, …
func request(method, target string, header ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return r
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// pageLoad is what a browser sends when it navigates.
var pageLoad = []string{"Sec-Fetch-Dest", "document", "Accept", "text/html"}

// cases are requests that reach each kind of answer the library gives.
func cases(a *app) []struct {
	name string
	req  func() *http.Request
} {
	user := a.iss.MustSessionToken("user_1")
	adminUser := a.iss.MustSessionToken("user_2", clerktest.WithOrg("org_1", "acme", "admin"))
	expired := a.iss.MustSessionToken("user_1", clerktest.WithExpiry(-time.Minute))
	stale := append([]string{"Cookie", "__session=" + expired + "; __client_uat=1"}, pageLoad...)
	return []struct {
		name string
		req  func() *http.Request
	}{
		{"signed in", func() *http.Request { return request("GET", "/api/me", bearer(user)...) }},
		{"public, signed out", func() *http.Request { return request("GET", "/") }},
		{"public, signed in", func() *http.Request { return request("GET", "/", bearer(user)...) }},
		{"API call without a token: 401", func() *http.Request { return request("GET", "/api/me") }},
		{"expired token: 401", func() *http.Request { return request("GET", "/api/me", bearer(expired)...) }},
		{"garbage token: 401", func() *http.Request { return request("GET", "/api/me", bearer("not.a.token")...) }},
		{"page load signed out: sign-in redirect", func() *http.Request { return request("GET", "/dashboard?tab=1", pageLoad...) }},
		{"stale cookie on a page load: handshake", func() *http.Request { return request("GET", "/dashboard", stale...) }},
		{"stale cookie on a public page: handshake", func() *http.Request { return request("GET", "/", stale...) }},
		{"cross-site POST with the cookie: 403", func() *http.Request {
			return request("POST", "/api/me", "Cookie", "__session="+user+"; __client_uat=1", "Sec-Fetch-Site", "cross-site")
		}},
		{"Require, without the role: 403", func() *http.Request { return request("GET", "/api/admin", bearer(user)...) }},
		{"Require, with the role", func() *http.Request { return request("GET", "/api/admin", bearer(adminUser)...) }},
		{"Require on a public route, signed out: 401", func() *http.Request { return request("GET", "/public/admin") }},
		{"Require on a public route, without the role: 403", func() *http.Request { return request("GET", "/public/admin", bearer(user)...) }},
	}
}

// TestSameAnswersAsMiddleware is the differential proof that ginauth adds
// no decision of its own: for each request, gin with ginauth and net/http
// with auth.Middleware answer with the same status, headers and body.
func TestSameAnswersAsMiddleware(t *testing.T) {
	a := newApp(t, nil)
	for _, tc := range cases(a) {
		t.Run(tc.name, func(t *testing.T) {
			assertSameAnswer(t, serve(a.std, tc.req()), serve(a.gin, tc.req()))
		})
	}

	t.Run("keys unavailable: 503", func(t *testing.T) {
		failing := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
			return nil, fmt.Errorf("connection refused")
		})}
		down := newApp(t, func(c *clerkauth.Config) { c.HTTPClient = failing })
		token := down.iss.MustSessionToken("user_1")
		want := serve(down.std, request("GET", "/api/me", bearer(token)...))
		got := serve(down.gin, request("GET", "/api/me", bearer(token)...))
		require.Equal(t, http.StatusServiceUnavailable, want.Code)
		assertSameAnswer(t, want, got)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestMiddleware: each kind of answer, seen from gin, and which gin
// handlers ran.
func TestMiddleware(t *testing.T) {
	a := newApp(t, nil)
	user := a.iss.MustSessionToken("user_1")
	expired := a.iss.MustSessionToken("user_1", clerktest.WithExpiry(-time.Minute))
	for _, tc := range []struct {
		name     string
		req      *http.Request
		status   int
		reason   string
		body     string
		location string // a prefix
		handlers int64  // gin handlers run after ginauth.Middleware
	}{
		{"signed in", request("GET", "/api/me", bearer(user)...), 200, "", "user:user_1", "", 1},
		{"public route, signed out", request("GET", "/"), 200, "", "anonymous", "", 1},
		{"API call without a token", request("GET", "/api/me"), 401, string(clerkauth.ReasonSessionTokenMissing),
			`{"error":"unauthenticated","reason":"session-token-missing"}`, "", 0},
		{"unknown route without a token: gin's 404 is behind the middleware", request("GET", "/nope"), 401, string(clerkauth.ReasonSessionTokenMissing),
			`{"error":"unauthenticated","reason":"session-token-missing"}`, "", 0},
		{"page load, signed out", request("GET", "/dashboard", pageLoad...), 307, "", "",
			"https://accounts.clerktest.example/sign-in?redirect_url=http%3A%2F%2Fexample.com%2Fdashboard", 0},
		{"page load with a stale cookie", request("GET", "/dashboard", append(pageLoad, "Cookie", "__session="+expired+"; __client_uat=1")...), 307,
			"session-token-expired-refresh-non-eligible-no-refresh-cookie", "", a.bapi.URL + "/v1/client/handshake?", 0},
		{"Require without the role", request("GET", "/api/admin", bearer(user)...), 403, string(clerkauth.ReasonMissingRole),
			`{"error":"forbidden","reason":"missing-role"}`, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := a.after.Load()
			res := serve(a.gin, tc.req)
			assert.Equal(t, tc.status, res.Code)
			assert.Equal(t, int64(tc.status), a.outer.Load(), "a gin middleware outside sees the status")
			assert.Equal(t, tc.handlers, a.after.Load()-before, "gin handlers after ginauth.Middleware")
			if tc.reason != "" {
				assert.Equal(t, tc.reason, res.Header().Get("X-Clerk-Auth-Reason"))
				assert.Equal(t, "no-store", res.Header().Get("Cache-Control"))
			}
			if tc.body != "" {
				assert.Equal(t, strings.TrimSpace(tc.body), strings.TrimSpace(res.Body.String()))
			}
			if tc.location != "" {
				assert.True(t, strings.HasPrefix(res.Header().Get("Location"), tc.location), res.Header().Get("Location"))
			}
		})
	}
}

// TestNoHandlerAfterRefusal: a refused request stops the gin chain where
// the refusal is, for Middleware and for Require, with or without
// Middleware in front.
func TestNoHandlerAfterRefusal(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	auth := iss.MustAuth(func(c *clerkauth.Config) { c.Logger = slog.New(slog.DiscardHandler) })
	var ran atomic.Int64
	count := func(c *gin.Context) { ran.Add(1) }
	r := gin.New()
	r.GET("/mw", ginauth.Middleware(auth), count, count)
	r.GET("/require", ginauth.Require(auth, clerkauth.Role("org:admin")), count, count)
	r.GET("/both", ginauth.Middleware(auth), ginauth.Require(auth, clerkauth.Role("org:admin")), count, count)
	signedIn := bearer(iss.MustSessionToken("user_1"))
	for _, tc := range []struct {
		path   string
		header []string
		status int
	}{
		{"/mw", nil, 401},
		{"/require", nil, 401},
		{"/require", signedIn, 403},
		{"/both", nil, 401},
		{"/both", signedIn, 403},
	} {
		t.Run(fmt.Sprint(tc.path, " ", tc.status), func(t *testing.T) {
			ran.Store(0)
			res := serve(r, request("GET", tc.path, tc.header...))
			assert.Equal(t, tc.status, res.Code)
			assert.Zero(t, ran.Load(), "no handler after the refusal ran")
		})
	}
	// And the counter can count: a passing request runs both.
	ran.Store(0)
	assert.Equal(t, 200, serve(r, request("GET", "/mw", signedIn...)).Code)
	assert.Equal(t, int64(2), ran.Load())
}

// TestIdentity: gin handlers find the identity with ginauth.Identity, in
// c.Request's context, and (with ContextWithFallback) in c itself.
func TestIdentity(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	auth := iss.MustAuth(func(c *clerkauth.Config) { c.PublicRoutes = []string{"/"} })
	r := gin.New()
	r.ContextWithFallback = true
	r.Use(ginauth.Middleware(auth))
	r.GET("/", func(c *gin.Context) {
		id, ok := ginauth.Identity(c)
		fromRequest, _ := clerkauth.IdentityFromContext(c.Request.Context())
		fromGin, _ := clerkauth.IdentityFromContext(c)
		if !ok {
			c.String(200, "anonymous")
			return
		}
		c.String(200, "%s %t %t", id.UserID, fromRequest == id, fromGin == id)
	})
	assert.Equal(t, "anonymous", serve(r, request("GET", "/")).Body.String())
	token := iss.MustSessionToken("user_1", clerktest.WithOrg("org_1", "acme", "admin"))
	assert.Equal(t, "user_1 true true", serve(r, request("GET", "/", bearer(token)...)).Body.String())

	id, ok := ginauth.Identity(&gin.Context{})
	assert.Nil(t, id)
	assert.False(t, ok, "a context without a request has no identity, and no panic")
}

// TestHandshakeRoundTrip: a browser whose session cookie went stale is sent
// through Clerk's handshake by the gin app and lands back on the page,
// signed in, with the fresh cookies the handshake set through gin's writer.
func TestHandshakeRoundTrip(t *testing.T) {
	a := newApp(t, nil)
	srv := httptest.NewServer(a.gin)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	var hops []string
	browser := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		hops = append(hops, req.URL.Host+req.URL.Path)
		if len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	stale := a.iss.MustSessionToken("user_1", clerktest.WithExpiry(-time.Minute))
	jar.SetCookies(u, []*http.Cookie{{Name: "__session", Value: stale}, {Name: "__client_uat", Value: "1"}})
	a.bapi.SetClient("user_1")

	load := func() string {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+"/dashboard", nil)
		require.NoError(t, err)
		req.Header.Set("Sec-Fetch-Dest", "document")
		res, err := browser.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.Equal(t, 200, res.StatusCode, string(body))
		return string(body)
	}
	assert.Equal(t, "user:user_1", load(), "back on the page, signed in")
	require.NotEmpty(t, hops)
	assert.Contains(t, hops[0], "/v1/client/handshake")

	hops = nil
	assert.Equal(t, "user:user_1", load(), "the handshake's cookies are in the browser")
	assert.Empty(t, hops, "no handshake the second time")
}

// TestRequirePanicsOnNilCheck: as auth.Require does, at start-up.
func TestRequirePanicsOnNilCheck(t *testing.T) {
	auth := clerktest.NewIssuer(t).MustAuth(nil)
	assert.Panics(t, func() { ginauth.Require(auth, clerkauth.Check{Reason: "x"}) })
}
