package clerkauth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

// TestRefusalHandler: the hook renders its own answer for what it takes
// (here an HTML page for 403 and every 401), sees the redirect to sign-in
// with its Location, and leaves the rest to clerkauth by returning false.
func TestRefusalHandler(t *testing.T) {
	iss := shared(t)
	var seen []clerkauth.Refusal
	auth := iss.MustAuth(func(c *clerkauth.Config) {
		c.SignInURL = "/sign-in"
		c.PublicRoutes = []string{"/sign-in"}
		c.RefusalHandler = func(w http.ResponseWriter, r *http.Request, ref clerkauth.Refusal) bool {
			seen = append(seen, ref)
			if ref.Status == http.StatusTemporaryRedirect {
				return false // keep clerkauth's redirect
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(ref.Status)
			fmt.Fprintf(w, "<h1>Not allowed</h1><p>%s</p>", ref.Reason)
			return true
		}
	})
	h := auth.Middleware(auth.Require(clerkauth.Role("admin"))(whoami))

	res := serve(h, bearer(httptest.NewRequest("GET", "/admin", nil), iss.MustSessionToken("user_1")))
	assert.Equal(t, 403, res.status)
	assert.Equal(t, "<h1>Not allowed</h1><p>missing-role</p>", res.body)
	assert.Equal(t, "no-store", res.header.Get("Cache-Control"), "clerkauth's headers are set before the hook runs")
	assert.Equal(t, clerkauth.ReasonMissingRole, clerkauth.Reason(res.header.Get("X-Clerk-Auth-Reason")))

	res = serve(h, bearer(httptest.NewRequest("GET", "/admin", nil), "garbage"))
	assert.Equal(t, 401, res.status)
	assert.Contains(t, res.body, "token-invalid")
	assert.Equal(t, `Bearer error="invalid_token"`, res.header.Get("WWW-Authenticate"))

	page := httptest.NewRequest("GET", "/admin?tab=1", nil)
	page.Header.Set("Sec-Fetch-Dest", "document")
	res = serve(h, page)
	assert.Equal(t, 307, res.status)
	assert.Equal(t, "/sign-in?redirect_url="+url.QueryEscape("http://example.com/admin?tab=1"), res.header.Get("Location"))

	require.Len(t, seen, 3)
	assert.Equal(t, http.StatusTemporaryRedirect, seen[2].Status)
	assert.Equal(t, res.header.Get("Location"), seen[2].Location)
	require.NotNil(t, seen[1].Err)
	assert.Equal(t, clerkauth.ReasonTokenInvalid, seen[1].Err.Reason)

	// Reverification refusals say which level was asked for.
	seen = nil
	h = auth.Middleware(auth.Require(clerkauth.Reverification(clerkauth.Moderate))(whoami))
	serve(h, bearer(httptest.NewRequest("GET", "/admin", nil), iss.MustSessionToken("user_1")))
	require.Len(t, seen, 1)
	assert.Equal(t, &clerkauth.Moderate, seen[0].Reverification)
}

// TestRedirectHelpers: a handler sends the browser to sign-in or sign-up
// with the right redirect_url; without a page configured, it answers 401.
func TestRedirectHelpers(t *testing.T) {
	iss := shared(t)
	auth := iss.MustAuth(func(c *clerkauth.Config) {
		c.SignInURL, c.SignUpURL = "https://accounts.example.com/sign-in", "/join"
		c.PublicRoutes = []string{"/join", "/"}
	})
	r := httptest.NewRequest("GET", "https://app.example.com/pricing?plan=pro", nil)
	rec := httptest.NewRecorder()
	auth.RedirectToSignUp(rec, r)
	assert.Equal(t, 307, rec.Code)
	assert.Equal(t, "/join?redirect_url="+url.QueryEscape("https://app.example.com/pricing?plan=pro"), rec.Header().Get("Location"))
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	rec = httptest.NewRecorder()
	auth.RedirectToSignIn(rec, r)
	assert.Equal(t, "https://accounts.example.com/sign-in?redirect_url="+url.QueryEscape("https://app.example.com/pricing?plan=pro"), rec.Header().Get("Location"))

	bare := iss.MustAuth(func(c *clerkauth.Config) { c.PublishableKey = "" }) // no publishable key, no pages
	rec = httptest.NewRecorder()
	bare.RedirectToSignIn(rec, r)
	assert.Equal(t, 401, rec.Code)

	// The Account Portal's pages come from the publishable key.
	portal, err := clerkauth.New(clerkauth.Config{PublishableKey: clerktest.PublishableKey("clerk.example.com", true)})
	require.NoError(t, err)
	rec = httptest.NewRecorder()
	portal.RedirectToSignUp(rec, r)
	assert.Contains(t, rec.Header().Get("Location"), "https://accounts.example.com/sign-up?redirect_url=")

	_, err = clerkauth.New(clerkauth.Config{PublishableKey: clerktest.PublishableKey("clerk.example.com", true), SignUpURL: "/join"})
	assert.ErrorContains(t, err, "SignUpURL /join is a protected route")

	cfg := clerkauth.ConfigFromLookup(func(k string) string {
		return map[string]string{"NEXT_PUBLIC_CLERK_SIGN_UP_URL": "/register"}[k]
	})
	assert.Equal(t, "/register", cfg.SignUpURL)
}

// TestIdentityAndErrorFromContext: a handler on a route that is public
// learns whether the request is signed in (the checks on the nil Identity
// of a signed-out one are false, not a panic), and why a token was
// refused.
func TestIdentityAndErrorFromContext(t *testing.T) {
	iss := shared(t)
	auth := iss.MustAuth(func(c *clerkauth.Config) { c.PublicRoutes = []string{"/"} })
	h := auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := clerkauth.IdentityFromContext(r.Context())
		user := "-"
		if ok {
			user = id.UserID
		}
		why := "-"
		if e, ok := clerkauth.ErrorFromContext(r.Context()); ok {
			why = string(e.Reason)
		}
		fmt.Fprintf(w, "%s %v %s", user, id.HasRole("admin"), why)
	}))
	assert.Equal(t, `- false session-token-missing`, serve(h, httptest.NewRequest("GET", "/", nil)).body)
	assert.Equal(t, `- false token-expired`, serve(h, bearer(httptest.NewRequest("GET", "/", nil), iss.MustSessionToken("user_1", clerktest.WithExpiry(-time.Hour)))).body)
	assert.Equal(t, `user_1 false -`, serve(h, bearer(httptest.NewRequest("GET", "/", nil), iss.MustSessionToken("user_1"))).body)
}
