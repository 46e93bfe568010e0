package clerkauth_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

// protect()'s options (issue 21): UnauthenticatedURL, UnauthorizedURL and
// NotFound answer a route's refusals as @clerk/nextjs's auth.protect(params,
// { unauthenticatedUrl, unauthorizedUrl }) does.

const (
	protectSignIn = "https://accounts.example.com/sign-in"
	protectPage   = "https://app.example.com/admin?tab=1"
	protectBack   = "redirect_url=https%3A%2F%2Fapp.example.com%2Fadmin%3Ftab%3D1"
)

// answer is the kind of response a request gets.
type answer string

const (
	answerOK         answer = "200"
	answerSignIn     answer = "307 to the sign-in page, with redirect_url"
	answerLogin      answer = "307 to UnauthenticatedURL, with redirect_url"
	answerDenied     answer = "307 to UnauthorizedURL"
	answer401        answer = "401"
	answer403        answer = "403"
	answer503        answer = "503"
	answerNotFound   answer = "404 as http.NotFound"
	protectLogin            = "/login"
	protectDenied           = "https://app.example.com/denied"
	protectAdminRole        = "org:admin"
)

// notFoundAnswer is what http.NotFound writes, for NotFound to match.
func notFoundAnswer() response {
	rec := httptest.NewRecorder()
	http.NotFound(rec, httptest.NewRequest("GET", "/", nil))
	return response{rec.Code, rec.Header(), rec.Body.String()}
}

// assertAnswer checks res against the whole contract of want.
func assertAnswer(t *testing.T, want answer, res response) {
	t.Helper()
	switch want {
	case answerOK:
		assert.Equal(t, 200, res.status, res.body)
		return
	case answerNotFound:
		nf := notFoundAnswer()
		assert.Equal(t, nf.status, res.status)
		assert.Equal(t, nf.body, res.body)
		wantHeader := nf.header.Clone()
		wantHeader.Set("Cache-Control", "no-store") // the one documented difference
		assert.Equal(t, wantHeader, res.header)
		return
	}
	assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
	assert.NotEmpty(t, res.header.Get("X-Clerk-Auth-Reason"))
	switch want {
	case answerSignIn:
		require.Equal(t, 307, res.status, res.body)
		assert.Equal(t, protectSignIn+"?"+protectBack, res.header.Get("Location"))
	case answerLogin:
		require.Equal(t, 307, res.status, res.body)
		assert.Equal(t, protectLogin+"?"+protectBack, res.header.Get("Location"))
		assert.Equal(t, "signed-out", res.header.Get("X-Clerk-Auth-Status"))
	case answerDenied:
		require.Equal(t, 307, res.status, res.body)
		assert.Equal(t, protectDenied, res.header.Get("Location"), "as given: Next's redirect(unauthorizedUrl) adds nothing")
	case answer401:
		require.Equal(t, 401, res.status, res.body)
		assert.NotEmpty(t, res.header.Get("WWW-Authenticate"))
		assert.Contains(t, res.body, `"error":"unauthenticated"`)
	case answer403:
		require.Equal(t, 403, res.status, res.body)
		assert.Contains(t, res.body, `"error":"forbidden"`)
	case answer503:
		require.Equal(t, 503, res.status, res.body)
		assert.NotEmpty(t, res.header.Get("Retry-After"))
		assert.Contains(t, res.body, `"error":"unavailable"`)
	default:
		t.Fatalf("unknown answer %q", want)
	}
}

// protectFixture is one instance with sessions and API keys, and one
// whose keys cannot be fetched.
type protectFixture struct {
	iss      *clerktest.Issuer
	bapi     *clerktest.BackendAPI
	auth     *clerkauth.Auth
	down     *clerkauth.Auth
	downTok  string
	apiKey   string
	admin    string // a session with the role
	member   string // a session without it
	refusals []clerkauth.Refusal
	logs     *bytes.Buffer
}

func newProtectFixture(t *testing.T) *protectFixture {
	t.Helper()
	f := &protectFixture{iss: clerktest.NewIssuer(t), logs: &bytes.Buffer{}}
	f.bapi = clerktest.NewBackendAPI(t, f.iss)
	f.auth = f.iss.MustAuth(func(c *clerkauth.Config) {
		f.bapi.Configure(c)
		c.SignInURL = protectSignIn
		c.AcceptsToken = []clerkauth.TokenType{clerkauth.SessionToken, clerkauth.APIKey}
		c.PublicRoutes = []string{"/public(.*)"}
		c.Logger = slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.RefusalHandler = func(_ http.ResponseWriter, _ *http.Request, ref clerkauth.Refusal) bool {
			f.refusals = append(f.refusals, ref)
			return false
		}
	})
	f.apiKey = f.bapi.CreateAPIKey("user_1", "k", nil, nil, 0).Secret
	f.admin = f.iss.MustSessionToken("user_1", clerktest.WithOrg("org_1", "acme", protectAdminRole))
	f.member = f.iss.MustSessionToken("user_2")

	gone := clerktest.NewIssuer(t)
	f.down = gone.MustAuth(func(c *clerkauth.Config) {
		c.SignInURL = protectSignIn
		c.Logger = slog.New(slog.DiscardHandler) // the failed fetch is logged at error
	})
	f.downTok = gone.MustSessionToken("user_1", clerktest.WithOrg("org_1", "acme", protectAdminRole))
	gone.Close() // the keys are out of reach from now on
	return f
}

// request is a GET of protectPage: a page load (Sec-Fetch-Dest: document)
// or a fetch, with a Bearer token or none.
func protectRequest(page bool, token string) *http.Request {
	r := httptest.NewRequest("GET", protectPage, nil)
	if page {
		r.Header.Set("Sec-Fetch-Dest", "document")
		r.Header.Set("Accept", "text/html")
	} else {
		r.Header.Set("Sec-Fetch-Dest", "empty")
	}
	if token != "" {
		bearer(r, token)
	}
	return r
}

// TestProtectOptions: each option, alone and together, on each kind of
// request, with Require alone (no Middleware in front).
func TestProtectOptions(t *testing.T) {
	f := newProtectFixture(t)
	type scenario struct {
		name  string
		down  bool // the instance whose keys are out of reach
		page  bool
		token string
	}
	scenarios := []scenario{
		{name: "page load, signed out", page: true},
		{name: "fetch, signed out"},
		{name: "signed in, failing the Role check", token: f.member},
		{name: "signed in, passing", token: f.admin},
		{name: "page load, keys out of reach", down: true, page: true, token: f.downTok},
		{name: "fetch, keys out of reach", down: true, token: f.downTok},
		{name: "API key on a sessions-only route", token: f.apiKey},
		{name: "unknown API key", token: "ak_unknown"},
	}
	// Each option set's answers, in the order of scenarios. What stays
	// the same everywhere: a pass, a 503, machine tokens' 401.
	for _, tc := range []struct {
		name    string
		options []clerkauth.Check
		want    [4]answer // signed-out page load, signed-out fetch, failing, passing
	}{
		{"no options", nil, [4]answer{answerSignIn, answer401, answer403, answerOK}},
		{"UnauthenticatedURL", []clerkauth.Check{clerkauth.UnauthenticatedURL(protectLogin)}, [4]answer{answerLogin, answerLogin, answer403, answerOK}},
		{"UnauthorizedURL", []clerkauth.Check{clerkauth.UnauthorizedURL(protectDenied)}, [4]answer{answerSignIn, answer401, answerDenied, answerOK}},
		{"NotFound", []clerkauth.Check{clerkauth.NotFound()}, [4]answer{answerSignIn, answerNotFound, answerNotFound, answerOK}},
		{"UnauthenticatedURL beats NotFound", []clerkauth.Check{clerkauth.NotFound(), clerkauth.UnauthenticatedURL(protectLogin)}, [4]answer{answerLogin, answerLogin, answerNotFound, answerOK}},
		{"UnauthorizedURL beats NotFound", []clerkauth.Check{clerkauth.UnauthorizedURL(protectDenied), clerkauth.NotFound()}, [4]answer{answerSignIn, answerNotFound, answerDenied, answerOK}},
		{"all three", []clerkauth.Check{clerkauth.UnauthenticatedURL(protectLogin), clerkauth.UnauthorizedURL(protectDenied), clerkauth.NotFound()}, [4]answer{answerLogin, answerLogin, answerDenied, answerOK}},
	} {
		checks := append(append([]clerkauth.Check{}, tc.options...), clerkauth.TokenTypes(clerkauth.SessionToken), clerkauth.Role(protectAdminRole))
		h, down := f.auth.Require(checks...)(whoami), f.down.Require(checks...)(whoami)
		want := append(tc.want[:], answer503, answer503, answer401, answer401)
		for i, sc := range scenarios {
			t.Run(tc.name+"/"+sc.name, func(t *testing.T) {
				f.refusals = nil
				handler := h
				if sc.down {
					handler = down
				}
				res := serve(handler, protectRequest(sc.page, sc.token))
				assertAnswer(t, want[i], res)
				if want[i] == answerOK || sc.down {
					return
				}
				// The RefusalHandler was offered the answer about to be sent.
				require.Len(t, f.refusals, 1)
				ref := f.refusals[0]
				assert.Equal(t, res.status, ref.Status)
				assert.Equal(t, res.header.Get("Location"), ref.Location)
				assert.NotEmpty(t, ref.Reason, "the reason stays with you, 404 or not")
			})
		}
	}
}

// TestProtectOptionsKeepTheirRefusals: the refusals the options leave as
// they are, and the ones Clerk's protect() sends where clerkauth alone
// would answer otherwise.
func TestProtectOptionsKeepTheirRefusals(t *testing.T) {
	f := newProtectFixture(t)
	all := []clerkauth.Check{clerkauth.UnauthenticatedURL(protectLogin), clerkauth.UnauthorizedURL(protectDenied), clerkauth.NotFound()}
	hidden := []clerkauth.Check{clerkauth.NotFound()}
	with := func(options []clerkauth.Check, checks ...clerkauth.Check) http.Handler {
		return f.auth.Require(append(append([]clerkauth.Check{}, options...), checks...)...)(whoami)
	}
	pending := f.iss.MustSessionToken("user_3", clerktest.WithPending())
	stale := f.iss.MustSessionToken("user_1", clerktest.WithFactorAge(100, 100))
	for _, tc := range []struct {
		name   string
		h      http.Handler
		r      func() *http.Request
		status int
		reason clerkauth.Reason
		check  func(t *testing.T, res response)
	}{
		{name: "Reverification keeps Clerk's 403 body under UnauthorizedURL", h: with(all, clerkauth.Reverification(clerkauth.Strict)),
			r: func() *http.Request { return protectRequest(false, stale) }, status: 403, reason: clerkauth.ReasonReverificationError,
			check: func(t *testing.T, res response) {
				assert.Contains(t, res.body, `"clerk_error":{"type":"forbidden","reason":"reverification-error"`)
			}},
		{name: "Reverification keeps Clerk's 403 body under NotFound", h: with(hidden, clerkauth.Reverification(clerkauth.Strict)),
			r: func() *http.Request { return protectRequest(false, stale) }, status: 403, reason: clerkauth.ReasonReverificationError},
		{name: "a cross-site POST riding the cookie stays 403", h: with(all),
			r: func() *http.Request {
				r := httptest.NewRequest("POST", protectPage, nil)
				r.Header.Set("Sec-Fetch-Site", "cross-site")
				r.AddCookie(&http.Cookie{Name: clerkauth.SessionCookie, Value: f.admin})
				r.AddCookie(&http.Cookie{Name: "__client_uat", Value: "1"})
				return r
			}, status: 403, reason: clerkauth.ReasonCrossOriginRequest},
		{name: "an API key failing a Scope check keeps its 403", h: with(all, clerkauth.Scope("write")),
			r: func() *http.Request { return protectRequest(false, f.apiKey) }, status: 403, reason: clerkauth.ReasonMissingScope},
		{name: "a pending session goes to UnauthenticatedURL (Clerk's handleUnauthenticated)", h: with(all),
			r: func() *http.Request { return protectRequest(true, pending) }, status: 307, reason: clerkauth.ReasonSessionPending,
			check: func(t *testing.T, res response) {
				assert.Equal(t, protectLogin+"?"+protectBack, res.header.Get("Location"))
			}},
		{name: "a pending session's page load still goes to the tasks under NotFound", h: with(hidden),
			r: func() *http.Request { return protectRequest(true, pending) }, status: 307, reason: clerkauth.ReasonSessionPending,
			check: func(t *testing.T, res response) {
				assert.Equal(t, protectSignIn+"/tasks?"+protectBack, res.header.Get("Location"))
			}},
		{name: "a session on an API-key route is signed in, failing: UnauthorizedURL", h: with(all, clerkauth.TokenTypes(clerkauth.APIKey)),
			r: func() *http.Request { return protectRequest(false, f.admin) }, status: 307, reason: clerkauth.ReasonTokenTypeMismatch,
			check: func(t *testing.T, res response) { assert.Equal(t, protectDenied, res.header.Get("Location")) }},
		{name: "a session on an API-key route under NotFound", h: with(hidden, clerkauth.TokenTypes(clerkauth.APIKey)),
			r: func() *http.Request { return protectRequest(false, f.admin) }, status: 404},
		{name: "a session on an API-key route, UnauthenticatedURL alone: 401 as before", h: with([]clerkauth.Check{clerkauth.UnauthenticatedURL(protectLogin)}, clerkauth.TokenTypes(clerkauth.APIKey)),
			r: func() *http.Request { return protectRequest(true, f.admin) }, status: 401, reason: clerkauth.ReasonTokenTypeMismatch},
		{name: "an expired session's fetch is hidden", h: with(hidden),
			r: func() *http.Request {
				return protectRequest(false, f.iss.MustSessionToken("user_1", clerktest.WithExpiry(-1)))
			}, status: 404},
		{name: "an M2M JWT where only sessions and API keys are accepted keeps its 401", h: with(all),
			r: func() *http.Request { return protectRequest(false, f.iss.MustM2MJWT("mch_1", nil, -1)) }, status: 401, reason: clerkauth.ReasonTokenTypeMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := serve(tc.h, tc.r())
			require.Equal(t, tc.status, res.status, res.body)
			if tc.status == 404 {
				assertAnswer(t, answerNotFound, res)
			} else {
				assert.Equal(t, string(tc.reason), res.header.Get("X-Clerk-Auth-Reason"))
			}
			if tc.check != nil {
				tc.check(t, res)
			}
		})
	}
}

// TestProtectOptionsBehindMiddleware: the middleware answers signed-out
// requests to the routes it protects before Require runs; failed checks
// are Require's on every route.
func TestProtectOptionsBehindMiddleware(t *testing.T) {
	f := newProtectFixture(t)
	guard := f.auth.Require(clerkauth.UnauthenticatedURL(protectLogin), clerkauth.NotFound(), clerkauth.Role(protectAdminRole))
	mux := http.NewServeMux()
	mux.Handle("/public/admin", guard(whoami))
	mux.Handle("/admin", guard(whoami))
	h := f.auth.Middleware(mux)
	at := func(path string, page bool, token string) *http.Request {
		r := protectRequest(page, token)
		r.URL.Path = path
		return r
	}
	for _, tc := range []struct {
		name     string
		r        *http.Request
		status   int
		location string
	}{
		{"public route, signed out: Require's UnauthenticatedURL", at("/public/admin", false, ""), 307, protectLogin + "?redirect_url=https%3A%2F%2Fapp.example.com%2Fpublic%2Fadmin%3Ftab%3D1"},
		{"public route, failing: hidden", at("/public/admin", false, f.member), 404, ""},
		{"protected route, signed out: the middleware's 401", at("/admin", false, ""), 401, ""},
		{"protected route, signed out page load: the middleware's sign-in", at("/admin", true, ""), 307, protectSignIn + "?" + protectBack},
		{"protected route, failing: hidden by Require", at("/admin", false, f.member), 404, ""},
		{"protected route, passing", at("/admin", false, f.admin), 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := serve(h, tc.r)
			require.Equal(t, tc.status, res.status, res.body)
			assert.Equal(t, tc.location, res.header.Get("Location"))
			if tc.status == 404 {
				assertAnswer(t, answerNotFound, res)
			}
		})
	}
}

// TestNotFoundIsTheRoutersOwn: over a real server, a hidden route's 404
// is the router's 404 for a path that does not exist, header for header
// (Date aside), but for Cache-Control: no-store.
func TestNotFoundIsTheRoutersOwn(t *testing.T) {
	f := newProtectFixture(t)
	mux := http.NewServeMux()
	mux.Handle("/admin", f.auth.Require(clerkauth.NotFound(), clerkauth.Role(protectAdminRole))(whoami))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	get := func(path, token string) *http.Response {
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		require.NoError(t, err)
		if token != "" {
			bearer(req, token)
		}
		res, err := srv.Client().Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	missing := get("/no-such-route", "")
	require.Equal(t, 404, missing.StatusCode)
	missingBody := readAll(t, missing)
	for _, tc := range []struct{ name, token string }{
		{"signed out", ""},
		{"failing a check", f.member},
		{"a bad token", "not-a-token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := get("/admin", tc.token)
			assert.Equal(t, missing.StatusCode, res.StatusCode)
			want, got := missing.Header.Clone(), res.Header.Clone()
			want.Del("Date")
			got.Del("Date")
			want.Set("Cache-Control", "no-store")
			assert.Equal(t, want, got)
			assert.Equal(t, missingBody, readAll(t, res))
		})
	}
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	var b bytes.Buffer
	_, err := b.ReadFrom(res.Body)
	require.NoError(t, err)
	return b.String()
}

// TestProtectOptionsRefusalHandler: a RefusalHandler that answers itself
// replaces the redirect or the 404, told which one it replaces.
func TestProtectOptionsRefusalHandler(t *testing.T) {
	iss := shared(t)
	var seen clerkauth.Refusal
	auth := iss.MustAuth(func(c *clerkauth.Config) {
		c.SignInURL = protectSignIn
		c.RefusalHandler = func(w http.ResponseWriter, _ *http.Request, ref clerkauth.Refusal) bool {
			seen = ref
			w.WriteHeader(http.StatusTeapot)
			return true
		}
	})
	for _, tc := range []struct {
		name     string
		options  []clerkauth.Check
		token    string
		status   int
		location string
		reason   clerkauth.Reason
	}{
		{"UnauthenticatedURL", []clerkauth.Check{clerkauth.UnauthenticatedURL(protectLogin)}, "", 307, protectLogin + "?" + protectBack, clerkauth.ReasonSessionTokenMissing},
		{"UnauthorizedURL", []clerkauth.Check{clerkauth.UnauthorizedURL(protectDenied)}, iss.MustSessionToken("user_1"), 307, protectDenied, clerkauth.ReasonMissingRole},
		{"NotFound, signed out", []clerkauth.Check{clerkauth.NotFound()}, "", 404, "", clerkauth.ReasonSessionTokenMissing},
		{"NotFound, failing", []clerkauth.Check{clerkauth.NotFound()}, iss.MustSessionToken("user_1"), 404, "", clerkauth.ReasonMissingRole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen = clerkauth.Refusal{}
			h := auth.Require(append(tc.options, clerkauth.Role(protectAdminRole))...)(whoami)
			res := serve(h, protectRequest(false, tc.token))
			assert.Equal(t, http.StatusTeapot, res.status)
			assert.Equal(t, tc.status, seen.Status)
			assert.Equal(t, tc.location, seen.Location)
			assert.Equal(t, tc.reason, seen.Reason)
			if tc.status == 404 {
				assert.Empty(t, res.header.Get("X-Clerk-Auth-Reason"), "set before the handler runs only where it is sent")
				assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
			}
		})
	}
}

// TestProtectOptionsLogTheReason: a 404 hides the reason from the client,
// not from the debug log.
func TestProtectOptionsLogTheReason(t *testing.T) {
	f := newProtectFixture(t)
	res := serve(f.auth.Require(clerkauth.NotFound(), clerkauth.Role(protectAdminRole))(whoami), protectRequest(false, f.member))
	require.Equal(t, 404, res.status)
	assert.Contains(t, f.logs.String(), "status=404 reason=missing-role")
}

// TestProtectOptionURLs: Require takes a path on this server or an
// absolute http(s) URL without user information, and panics on anything
// else, telling the fix and never printing a password.
func TestProtectOptionURLs(t *testing.T) {
	auth := shared(t).MustAuth(nil)
	options := map[string]func(string) clerkauth.Check{"UnauthenticatedURL": clerkauth.UnauthenticatedURL, "UnauthorizedURL": clerkauth.UnauthorizedURL}
	for name, option := range options {
		for _, tc := range []struct{ url, panic string }{
			{"", "needs a URL"},
			{"login", `must be a path starting with "/"`},
			{"//evil.example/login", "another host"},
			{`/\evil.example/login`, "another host"},
			{"https://user:hunter2@accounts.example.com/sign-in", "user name or password"},
			{"https://token@accounts.example.com/sign-in", "user name or password"},
			{"javascript:alert(1)", `must be a path starting with "/"`},
			{"ftp://files.example.com/", `must be a path starting with "/"`},
			{"https:accounts.example.com", `must be a path starting with "/"`},
			{"https://", `must be a path starting with "/"`},
			{"/login\x00", "is not a URL"},
		} {
			t.Run(name+"/"+tc.url, func(t *testing.T) {
				defer func() {
					msg, _ := recover().(string)
					require.NotEmpty(t, msg, "Require did not panic")
					assert.Contains(t, msg, "clerkauth: Require: "+name+"(")
					assert.Contains(t, msg, tc.panic)
					assert.NotContains(t, msg, "hunter2")
					assert.NotContains(t, msg, "token@")
				}()
				auth.Require(option(tc.url))
			})
		}
		for _, ok := range []string{"/login", "/a/../login?from=admin", "https://accounts.example.com/sign-in?x=1", "http://localhost:3000/login"} {
			t.Run(name+"/accepts "+ok, func(t *testing.T) {
				assert.NotPanics(t, func() { auth.Require(option(ok)) })
			})
		}
	}
	t.Run("an option given twice", func(t *testing.T) {
		assert.PanicsWithValue(t, "clerkauth: Require: NotFound is given more than once; keep one", func() { auth.Require(clerkauth.NotFound(), clerkauth.NotFound()) })
	})
	t.Run("an option inside AnyOf would let everyone in", func(t *testing.T) {
		assert.Panics(t, func() { clerkauth.AnyOf(clerkauth.Role("admin"), clerkauth.NotFound()) })
		assert.Panics(t, func() { clerkauth.AnyOf(clerkauth.AllowPending(), clerkauth.Role("admin")) }, "AllowPending always passes too")
		assert.Panics(t, func() { clerkauth.AnyOf(clerkauth.Role("admin"), clerkauth.AllowPending()) })
	})
	t.Run("a path is sent as http.Redirect sends it", func(t *testing.T) {
		var seen string
		a := shared(t).MustAuth(func(c *clerkauth.Config) {
			c.RefusalHandler = func(_ http.ResponseWriter, _ *http.Request, ref clerkauth.Refusal) bool {
				seen = ref.Location
				return false
			}
		})
		res := serve(a.Require(clerkauth.UnauthenticatedURL("/a/../login/"))(whoami), protectRequest(false, ""))
		require.Equal(t, 307, res.status)
		assert.Equal(t, seen, res.header.Get("Location"))
		assert.True(t, strings.HasPrefix(seen, "/login/?redirect_url="), seen)
	})
}

// TestUnauthenticatedURLHostileRequests: over raw TCP, the redirect_url
// of UnauthenticatedURL is the URL the browser addressed, read once
// (addressedURL) as for the sign-in page, and no request moves the
// redirect's target or splits its header.
func TestUnauthenticatedURLHostileRequests(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	auth := iss.MustAuth(func(c *clerkauth.Config) { c.SignInURL = protectSignIn })
	guard := auth.Require(clerkauth.UnauthenticatedURL(protectLogin))(whoami)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Sign-In") != "" {
			auth.RedirectToSignIn(w, r)
			return
		}
		guard.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	for _, tc := range []struct {
		name, target, headers, want string
	}{
		{"origin form", "/admin?x=1", "Host: app.example.com\r\n", "http://app.example.com/admin?x=1"},
		// RFC 9112 §3.2.2: the absolute-form target's authority wins over Host.
		{"absolute form naming another host", "http://evil.example/admin?x=1", "Host: app.example.com\r\n", "http://evil.example/admin?x=1"},
		{"forwarded headers from a peer nobody trusts", "/admin", "Host: app.example.com\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\n", "http://app.example.com/admin"},
		{"a path that reads as another host", "//evil.example/admin", "Host: app.example.com\r\n", "http://app.example.com//evil.example/admin"},
		{"an encoded CRLF in the query", "/admin?x=%0d%0aSet-Cookie:%20a=b", "Host: app.example.com\r\n", "http://app.example.com/admin?x=%0d%0aSet-Cookie:%20a=b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := "GET " + tc.target + " HTTP/1.1\r\n" + tc.headers + "Connection: close\r\n"
			res := rawRequest(t, addr, req+"\r\n")
			require.Equal(t, 307, res.StatusCode)
			loc := res.Header.Get("Location")
			require.True(t, strings.HasPrefix(loc, protectLogin+"?redirect_url="), loc)
			assert.Empty(t, res.Header.Values("Set-Cookie"))
			u, err := url.Parse(loc)
			require.NoError(t, err)
			assert.Equal(t, tc.want, u.Query().Get("redirect_url"))

			signIn := rawRequest(t, addr, req+"X-Sign-In: 1\r\n\r\n")
			require.Equal(t, 307, signIn.StatusCode)
			s, err := url.Parse(signIn.Header.Get("Location"))
			require.NoError(t, err)
			assert.Equal(t, s.Query().Get("redirect_url"), u.Query().Get("redirect_url"), "one reading of the addressed URL")
		})
	}
}
