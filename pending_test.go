package clerkauth_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

// TestAllowPending: a pending session reaches only the routes whose
// Require has AllowPending; every other route, public ones included,
// sees it signed out.
func TestAllowPending(t *testing.T) {
	iss := shared(t)
	auth := iss.MustAuth(func(c *clerkauth.Config) {
		c.PublishableKey = "" // the session cookie is read as it is
		c.PublicRoutes = []string{"/public(.*)", "/onboarding(.*)"}
	})
	mux := http.NewServeMux()
	mux.Handle("/onboarding", auth.Require(clerkauth.AllowPending())(whoami))
	mux.Handle("/onboarding/admin", auth.Require(clerkauth.AllowPending(), clerkauth.Role("org:admin"))(whoami))
	mux.Handle("/public", whoami)
	mux.Handle("/public/required", auth.Require()(whoami))
	mux.Handle("/", whoami)
	behind := auth.Middleware(mux)
	alone := http.NewServeMux() // Require without Middleware in front
	alone.Handle("/onboarding", auth.Require(clerkauth.AllowPending())(whoami))
	alone.Handle("/other", auth.Require()(whoami))

	pending := iss.MustSessionToken("user_1", clerktest.WithPending())
	active := iss.MustSessionToken("user_2")
	for _, tc := range []struct {
		name    string
		h       http.Handler
		path    string
		token   string
		cookie  bool
		status  int
		body    string // for 200
		reason  clerkauth.Reason
		headers map[string]string
	}{
		{name: "opted-in route admits a pending session", h: behind, path: "/onboarding", token: pending, status: 200, body: "user:user_1"},
		{name: "opted-in route, by cookie", h: behind, path: "/onboarding", token: pending, cookie: true, status: 200, body: "user:user_1"},
		{name: "opted-in route admits an active session", h: behind, path: "/onboarding", token: active, status: 200, body: "user:user_2"},
		{name: "opted-in route still needs a session", h: behind, path: "/onboarding", status: 401, reason: clerkauth.ReasonSessionTokenMissing},
		{name: "opted-in route runs the other checks", h: behind, path: "/onboarding/admin", token: pending, status: 403, reason: clerkauth.ReasonMissingRole},
		{name: "public route: signed out", h: behind, path: "/public", token: pending, status: 200, body: "anonymous"},
		{name: "Require without AllowPending", h: behind, path: "/public/required", token: pending, status: 401, reason: clerkauth.ReasonSessionPending},
		{name: "route the middleware protects", h: behind, path: "/dashboard", token: pending, status: 401, reason: clerkauth.ReasonSessionPending},
		{name: "Require alone, opted in", h: alone, path: "/onboarding", token: pending, status: 200, body: "user:user_1"},
		{name: "Require alone, not opted in", h: alone, path: "/other", token: pending, status: 401, reason: clerkauth.ReasonSessionPending},
		{name: "cross-site POST riding the cookie", h: behind, path: "/onboarding", token: pending, cookie: true, status: 403, reason: clerkauth.ReasonCrossOriginRequest,
			headers: map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{name: "cross-site POST with a Bearer token", h: behind, path: "/onboarding", token: pending, status: 200, body: "user:user_1",
			headers: map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{name: "cross-site POST, not opted in", h: behind, path: "/public/required", token: pending, cookie: true, status: 401, reason: clerkauth.ReasonSessionPending,
			headers: map[string]string{"Sec-Fetch-Site": "cross-site"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := "GET"
			if tc.headers != nil {
				method = "POST"
			}
			r := httptest.NewRequest(method, tc.path, nil)
			switch {
			case tc.token != "" && tc.cookie:
				r.AddCookie(&http.Cookie{Name: clerkauth.SessionCookie, Value: tc.token})
			case tc.token != "":
				bearer(r, tc.token)
			}
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			res := serve(tc.h, r)
			require.Equal(t, tc.status, res.status, res.body)
			if tc.status == 200 {
				assert.Equal(t, tc.body, res.body)
			} else {
				assert.Equal(t, string(tc.reason), res.header.Get("X-Clerk-Auth-Reason"))
				assert.Contains(t, res.body, `"reason":"`+string(tc.reason)+`"`)
			}
		})
	}
}

// TestPendingPageLoadGoesToTasks: a page load of a pending session on a
// protected route goes to <sign-in page>/tasks, as Clerk's createRedirect
// sends it; other signed-out page loads still go to the sign-in page.
func TestPendingPageLoadGoesToTasks(t *testing.T) {
	iss := shared(t)
	pending := iss.MustSessionToken("user_1", clerktest.WithPending())
	for _, tc := range []struct {
		name, signIn string
		public       []string
		token        string
		want         string // the Location before "?redirect_url="
	}{
		{"pending, absolute sign-in page", "https://accounts.example.com/sign-in", nil, pending, "https://accounts.example.com/sign-in/tasks"},
		{"pending, sign-in page with a trailing slash", "https://accounts.example.com/sign-in/", nil, pending, "https://accounts.example.com/sign-in/tasks"},
		{"pending, local sign-in page", "/sign-in", []string{"/sign-in(.*)"}, pending, "/sign-in/tasks"},
		{"pending, tasks page would be protected: sign-in page", "/login", []string{"/login"}, pending, "/login"},
		{"signed out", "https://accounts.example.com/sign-in", nil, "", "https://accounts.example.com/sign-in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auth := iss.MustAuth(func(c *clerkauth.Config) { c.SignInURL, c.PublicRoutes = tc.signIn, tc.public })
			r := httptest.NewRequest("GET", "https://app.example.com/dashboard", nil)
			r.Header.Set("Sec-Fetch-Dest", "document")
			if tc.token != "" {
				bearer(r, tc.token)
			}
			res := serve(auth.Middleware(whoami), r)
			require.Equal(t, http.StatusTemporaryRedirect, res.status, res.body)
			assert.Equal(t, tc.want+"?redirect_url=https%3A%2F%2Fapp.example.com%2Fdashboard", res.header.Get("Location"))
		})
	}
}

// TestPendingRedirectHelpers: behind Middleware, RedirectToSignIn and
// RedirectToSignUp send a pending session to the page's /tasks, as
// Clerk's redirectToSignIn and redirectToSignUp do; anyone else to the page.
func TestPendingRedirectHelpers(t *testing.T) {
	iss := shared(t)
	auth := iss.MustAuth(func(c *clerkauth.Config) {
		c.SignInURL, c.SignUpURL = "https://accounts.example.com/sign-in", "/join"
		c.PublicRoutes = []string{"/in", "/up", "/join(.*)"}
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/in", auth.RedirectToSignIn)
	mux.HandleFunc("/up", auth.RedirectToSignUp)
	h := auth.Middleware(mux)
	pending := iss.MustSessionToken("user_1", clerktest.WithPending())
	for _, tc := range []struct{ name, path, token, want string }{
		{"sign-in, pending", "/in", pending, "https://accounts.example.com/sign-in/tasks"},
		{"sign-up, pending", "/up", pending, "/join/tasks"},
		{"sign-in, signed out", "/in", "", "https://accounts.example.com/sign-in"},
		{"sign-up, signed out", "/up", "", "/join"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "https://app.example.com"+tc.path, nil)
			if tc.token != "" {
				bearer(r, tc.token)
			}
			res := serve(h, r)
			require.Equal(t, http.StatusTemporaryRedirect, res.status)
			assert.Equal(t, tc.want+"?redirect_url="+url.QueryEscape("https://app.example.com"+tc.path), res.header.Get("Location"))
		})
	}
}

func ExampleAllowPending() {
	auth, err := clerkauth.New(clerkauth.Config{
		PublishableKey: examplePublishableKey,
		// The middleware must let the route through for Require to decide.
		PublicRoutes: []string{"/onboarding(.*)"},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	// Here, and only here, a user with pending tasks (choosing an
	// organization, say) is signed in: Identity.SessionStatus is "pending".
	mux.Handle("/onboarding/organizations", auth.Require(clerkauth.AllowPending())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Require let only signed-in requests through.
		id, _ := clerkauth.IdentityFromContext(r.Context())
		_ = id.SessionStatus // "pending" or "active"
	})))
	_ = auth.Middleware(mux)
}
