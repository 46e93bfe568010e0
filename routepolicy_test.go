package clerkauth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/clerkauth/clerkauth"
)

// policyApp is a ServeMux with protected and public handlers. Protected
// handlers count the times they ran without a session; a catch-all handler
// routes without regard to case, as a file server on a case-insensitive
// disk or a router with case folding would.
type policyApp struct {
	mux      *http.ServeMux
	breaches atomic.Int64
}

func newPolicyApp(protectedMux, publicMux []string, caseless func(lower string) bool) *policyApp {
	app := &policyApp{mux: http.NewServeMux()}
	secret := func(w http.ResponseWriter, r *http.Request) {
		if _, ok := clerkauth.IdentityFromContext(r.Context()); !ok {
			app.breaches.Add(1)
		}
		fmt.Fprint(w, "SECRET")
	}
	for _, p := range protectedMux {
		app.mux.HandleFunc(p, secret)
	}
	for _, p := range publicMux {
		app.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "public") })
	}
	if caseless != nil {
		app.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			// A front end may lower- or upper-case the path: ı upper-cases to I.
			if caseless(strings.ToLower(r.URL.Path)) || caseless(strings.ToLower(strings.ToUpper(r.URL.Path))) {
				secret(w, r)
				return
			}
			http.NotFound(w, r)
		})
	}
	return app
}

// routeProbe is what a policy test sends over raw TCP: paths that must
// never reach a protected handler without a session; paths that do reach
// one with a session (so the test can fail); and paths that answer
// "public" without one.
type routeProbe struct {
	denied, secret, public []string
}

// probe serves app behind auth and sends p's requests.
func (app *policyApp) probe(t *testing.T, auth *clerkauth.Auth, token string, p routeProbe) {
	t.Helper()
	srv := httptest.NewServer(auth.Middleware(app.mux))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	for _, path := range p.denied {
		status, body := rawGet(t, addr, path, "")
		assert.NotContains(t, body, "SECRET", "%s answered %d", path, status)
	}
	assert.Zero(t, app.breaches.Load(), "a protected handler ran without a session")
	for _, path := range p.secret {
		status, body := rawGet(t, addr, path, token)
		assert.Equal(t, 200, status, path)
		assert.Equal(t, "SECRET", body, "%s reaches a protected handler with a session", path)
	}
	for _, path := range p.public {
		status, body := rawGet(t, addr, path, "")
		assert.Equal(t, 200, status, path)
		assert.Equal(t, "public", body, path)
	}
}

// TestRoutePolicyEncodedDelimiters sends raw request lines over TCP to a
// real server and proves that encoded "?" and "#" (in a segment, at the
// end, or a raw "#"), encoded reserved characters and case variants never
// reach a protected handler without a session, in both modes.
func TestRoutePolicyEncodedDelimiters(t *testing.T) {
	iss := shared(t)
	token := iss.MustSessionToken("user_1")

	t.Run("ProtectedRoutes", func(t *testing.T) {
		app := newPolicyApp(
			[]string{"/t/{tenant}/secrets", "/{locale}/dashboard", "/admin/users/{id}", "/v1/things:purge"},
			[]string{"/{$}", "/docs/{page}/{part}"},
			func(lower string) bool {
				return strings.HasPrefix(lower, "/admin") || strings.HasSuffix(lower, "/secrets") || strings.HasSuffix(lower, "/dashboard")
			})
		auth := iss.MustAuth(func(c *clerkauth.Config) {
			c.ProtectedRoutes = []string{"/t/:tenant/secrets", "/:locale/dashboard", "/admin/users/:id", "/admin(.*)", "/v1/things\\:purge"}
		})
		app.probe(t, auth, token, routeProbe{
			denied: []string{
				"/t/acme%3F/secrets", "/t/acme%3f/secrets", "/t/acme%23/secrets", "/t/acme#/secrets", "/t/%3F/secrets",
				"/t/a%3Fb%23c/secrets", "/en%3F/dashboard", "/en%23/dashboard", "/%3F/dashboard", "/admin/users/1%3F",
				"/admin/users/%23", "/admin/users/1%23", "/admin%3F/users/1", "/v1/things%3Apurge", "/v1/things%3apurge",
				"/ADMIN/users/1", "/Admin/", "/aDmIn", "/t/acme/SECRETS", "/T/acme/Secrets", "/EN/DASHBOARD",
				"/%41DMIN/x", "/t/acme/secrets", "/en/dashboard", "/admin/users/7", "/admin/x",
			},
			secret: []string{"/t/acme%3F/secrets", "/ADMIN/users/1", "/v1/things%3Apurge"},
			public: []string{"/docs/intro/1"},
		})
	})

	t.Run("PublicRoutes", func(t *testing.T) {
		app := newPolicyApp(
			[]string{"/{org}", "/{org}/settings"},
			[]string{"/{$}", "/pricing", "/docs/{page}/{$}"}, nil)
		auth := iss.MustAuth(func(c *clerkauth.Config) {
			c.PublicRoutes = []string{"/", "/pricing", "/docs/:page/"}
		})
		app.probe(t, auth, token, routeProbe{
			denied: []string{
				"/pricing%3F", "/pricing%3f", "/pricing%23", "/pricing#", "/%23", "/%3F", "/%3f", "/#",
				"/pricing%3F/settings", "/%23/settings", "/Pricing", "/PRICING", "/pricinG", "/pricing%3F%23",
				"/docs%3F", "/acme", "/acme/settings",
			},
			secret: []string{"/pricing%3F"}, // ServeMux routes it to /{org}
			public: []string{"/", "/pricing", "/docs/a%40b/"},
		})
	})
}

// TestRoutePolicyTrailingSlash sends raw request lines over TCP to a real
// ServeMux and proves that a public pattern's optional trailing slash
// never opens a subtree handler: ServeMux (like chi and gorilla/mux) routes
// /pricing/ to /{org}/ and /users/42/ to /users/{id}/, not to /pricing and
// /users/{id}. Patterns that ask for the slash or for more keep it.
func TestRoutePolicyTrailingSlash(t *testing.T) {
	iss := shared(t)
	token := iss.MustSessionToken("user_1")
	app := newPolicyApp(
		[]string{"/{org}/", "/users/{id}/"},
		[]string{"/{$}", "/pricing", "/users/{id}", "/docs/{page}/{$}", "/blog/", "/shop/", "/plans/{$}"}, nil)
	auth := iss.MustAuth(func(c *clerkauth.Config) {
		c.PublicRoutes = []string{"/", "/pricing", "/users/:id", "/docs/:page/", "/blog(.*)", "/shop/(.*)", "/plans/"}
	})
	app.probe(t, auth, token, routeProbe{
		denied: []string{
			"/pricing/", "/users/42/", "/users/", "/users/42/posts", "/pricing/x", "/acme/", "/acme/settings/",
			"/docs/intro", "/plans", "/pricing%3F", "/users/42%3F/", "/Pricing/", "/pricing/%3F",
		},
		// ServeMux really routes these to protected handlers.
		secret: []string{"/pricing/", "/users/42/"},
		public: []string{"/", "/pricing", "/users/42", "/docs/intro/", "/blog/", "/blog/post/", "/shop/", "/shop/cart/", "/plans/"},
	})
}

// TestRoutePolicyCaseMappings: a front end or router that lower- or
// upper-cases paths turns İ (U+0130) and ı (U+0131) into i and I, which
// Unicode simple case folding does not. Behind one, /adm%C4%B0n/x is
// /admin/x, so ProtectedRoutes must protect it, in every kind of pattern;
// a path that differs in anything else stays public.
func TestRoutePolicyCaseMappings(t *testing.T) {
	iss := shared(t)
	token := iss.MustSessionToken("user_1")
	app := newPolicyApp(
		[]string{"/admin/", "/billing", "/users/{id}/edit"},
		[]string{"/blog/{slug}"},
		func(lower string) bool {
			return strings.HasPrefix(lower, "/admin") || lower == "/billing" || strings.HasSuffix(lower, "/edit")
		})
	auth := iss.MustAuth(func(c *clerkauth.Config) {
		c.ProtectedRoutes = []string{"/admin(.*)", "/billing", "/users/:id/edit"}
	})
	app.probe(t, auth, token, routeProbe{
		denied: []string{
			"/adm%C4%B0n/x", "/adm%C4%B1n/x", "/ADM%C4%B0N", "/adm%c4%b1n", "/adm\u0131n/x", "/b%C4%B0lling", "/B%C4%B1LLING",
			"/users/1/ed%C4%B0t", "/users/1/ED%C4%B1T", "/users/1/ed\u0131t",
		},
		// The case-mapping handler serves these as /admin/x and /users/1/edit.
		secret: []string{"/adm%C4%B0n/x", "/adm%C4%B1n/x", "/users/1/ed%C4%B0t"},
		// Only paths equal to a protected pattern but for İ and ı are protected.
		public: []string{"/blog/k%C4%B1rm%C4%B1z%C4%B1"},
	})
}

// TestPreflightNeverRunsProtectedHandlers: a CORS preflight carries no
// credentials, so on a protected route it is refused like any request
// without a session, by the middleware and by Require. A CORS middleware
// that wraps the app from outside answers preflights itself
// (examples/cors proves it with github.com/rs/cors).
func TestPreflightNeverRunsProtectedHandlers(t *testing.T) {
	iss := shared(t)
	auth := iss.MustAuth(func(c *clerkauth.Config) { c.ProtectedRoutes = []string{"/api/admin(.*)"} })
	var ran atomic.Int64
	purge := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran.Add(1) })
	mux := http.NewServeMux()
	mux.Handle("/api/admin/purge", purge) // no method: it would run for OPTIONS
	mux.Handle("/api/public/purge", auth.Require()(purge))
	mux.HandleFunc("/api/open", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "open") })
	h := auth.Middleware(mux)

	preflight := func(path string) *http.Request {
		r := httptest.NewRequest("OPTIONS", path, nil)
		r.Header.Set("Origin", "https://evil.example")
		r.Header.Set("Access-Control-Request-Method", "DELETE")
		return r
	}
	for _, path := range []string{"/api/admin/purge", "/api/public/purge"} {
		assertUnauthenticated(t, serve(h, preflight(path)), clerkauth.ReasonSessionTokenMissing, false)
	}
	assertUnauthenticated(t, serve(auth.Require()(purge), preflight("/x")), clerkauth.ReasonSessionTokenMissing, false)
	assert.Zero(t, ran.Load(), "a protected handler ran for a preflight")

	res := serve(h, preflight("/api/open"))
	assert.Equal(t, 200, res.status, "a public route's preflight reaches its handler")
	assert.Equal(t, "open", res.body)
}

// TestNeverMatchingPatterns: a pattern that no request path can match is a
// configuration error, from NewRouteMatcher and from New, in both modes.
func TestNeverMatchingPatterns(t *testing.T) {
	tests := []struct {
		pattern string
		hint    string
	}{
		{"dashboard(.*)", `write "/dashboard(.*)"`},
		{"^/dashboard", `write "/dashboard"`},
		{"^/dashboard$", `write "/dashboard"`},
		{"api/:id", `write "/api/:id"`},
		{"*/x", ""}, // already a syntax error: an unexpected modifier
		{":id", "can never match"},
		{`(\d+)`, "can never match"},
		{"{:id}/x", "can never match"},
		{"/a//b", "can never match"},
		{"//", "can never match"},
		{`/search\?q`, "can never match"},
		{`/x\#y`, "can never match"},
		{`/x/(\?)`, "can never match"},
		{`/x(#.*)`, "can never match"},
		{`/x/:id(\d*)/(/.*)`, "can never match"},
	}
	iss := shared(t)
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			perr := requirePatternError(t, tt.pattern)
			assert.Contains(t, perr.Error(), tt.hint)
			for _, edit := range []func(*clerkauth.Config){
				func(c *clerkauth.Config) { c.PublicRoutes = []string{tt.pattern} },
				func(c *clerkauth.Config) { c.ProtectedRoutes = []string{tt.pattern} },
			} {
				cfg := iss.Config()
				edit(&cfg)
				_, err := clerkauth.New(cfg)
				assert.ErrorAs(t, err, &perr)
			}
		})
	}
	for _, ok := range []string{"/", "(.*)", "/(.*)", "{/:id}", ":id(/.*)", `(/\d+)`, "{/x}?{/y}", "/a/:b?/c", "/x/:rest*"} {
		_, err := clerkauth.NewRouteMatcher(ok)
		assert.NoError(t, err, ok)
	}
}

// TestPathToRegexp63 covers what path-to-regexp 6.3 (bundled in
// @clerk/shared) changed from earlier 6.x: a parameter never contains the
// literal text in front of it, two parameters need text between them, and
// repeated parameters need a prefix or suffix.
func TestPathToRegexp63(t *testing.T) {
	m := mustRouteMatcher(t, "/file{.:ext}?")
	assert.True(t, m.MatchPath("/file.gz"))
	assert.True(t, m.MatchPath("/file"))
	assert.False(t, m.MatchPath("/file.tar.gz"), "the parameter may not contain the '.' in front of it")

	m = mustRouteMatcher(t, "/a{-:b}")
	assert.True(t, m.MatchPath("/a-x"))
	assert.False(t, m.MatchPath("/a-x-y"), ":b may not contain '-'")

	for _, bad := range []string{"/:a:b", "/:a(\\d+):b", "{:a}{:b}", "/{a}:b", "/foo-:bar*", "(.*)+"} {
		_, err := clerkauth.NewRouteMatcher(bad)
		assert.Error(t, err, bad)
	}
}

// TestRouteMatcherCase: MatchPath keeps the case as written (it decides
// what is public), MatchPathAnyCase folds it (it decides what is
// protected), with Unicode folding.
func TestRouteMatcherCase(t *testing.T) {
	m := mustRouteMatcher(t, "/admin(.*)", "/users/:id", "/caf\u00e9", "/settings")
	for _, p := range []string{"/ADMIN", "/Admin/x", "/USERS/1", "/CAF\u00c9", "/caf%C3%89", "/\u017fettings", "/SETTINGS/"} {
		assert.False(t, m.MatchPath(p), p)
		assert.True(t, m.MatchPathAnyCase(p), p)
	}
	for _, p := range []string{"/admin/x", "/users/1", "/caf%C3%A9", "//admin"} {
		assert.True(t, m.MatchPath(p), p)
		assert.True(t, m.MatchPathAnyCase(p), p)
	}
	r := httptest.NewRequest("GET", "/Admin", nil)
	assert.False(t, m.MatchPath(r.URL.EscapedPath()))
	assert.True(t, m.MatchPathAnyCase(r.URL.EscapedPath()))
	assert.False(t, m.MatchPath("/caf%C3"), "a malformed escape matches nothing")
}
