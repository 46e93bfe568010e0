package clerkauth_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

// TestAudienceRoutes: Config.Audience lists every template audience
// accepted anywhere; Require(Audience(x)) makes a route take x's tokens
// only; every other route takes plain sessions (and, as in Clerk, the
// listed templates' tokens). Each token goes to a normal route and to the
// audience route, under three configurations.
func TestAudienceRoutes(t *testing.T) {
	iss := shared(t)
	session := iss.MustSessionToken("user_1")
	convex := iss.MustTemplateToken("user_1", "convex", nil)
	convexAndMore := iss.MustTemplateToken("user_1", "", nil, clerktest.WithClaims(map[string]any{"aud": []string{"other", "convex"}}))
	unknown := iss.MustTemplateToken("user_1", "supabase", nil)
	wrongCase := iss.MustTemplateToken("user_1", "Convex", nil)
	emptyAud := iss.MustTemplateToken("user_1", "", nil)
	emptyList := iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{"aud": []string{}}))

	const invalid = clerkauth.ReasonTokenInvalidAudience
	type want struct {
		status int
		reason clerkauth.Reason // "" when 200
	}
	ok := want{200, ""}
	refused := want{401, invalid}
	tests := []struct {
		name              string
		audience          []string
		token             string
		normal, audRoute  want
		skipAudienceRoute bool // Require(Audience("convex")) panics without "convex" listed
	}{
		{"session, convex listed", []string{"convex"}, session, ok, refused, false},
		{"template token, convex listed", []string{"convex"}, convex, ok, ok, false},
		{"template token with two audiences", []string{"convex"}, convexAndMore, ok, ok, false},
		{"unknown aud", []string{"convex"}, unknown, refused, refused, false},
		{"aud in another case", []string{"convex"}, wrongCase, refused, refused, false},
		{`aud "" is no aud (as in Clerk)`, []string{"convex"}, emptyAud, ok, refused, false},
		{"aud [] is no aud (as in Clerk)", []string{"convex"}, emptyList, ok, refused, false},
		{"session, two audiences listed", []string{"supabase", "convex"}, session, ok, refused, false},
		{"other listed template on the convex route", []string{"supabase", "convex"}, unknown, ok, refused, false},
		{"session, no Audience", nil, session, ok, want{}, true},
		{"template token, no Audience: refused everywhere", nil, convex, refused, want{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auth := iss.MustAuth(func(c *clerkauth.Config) { c.Audience = tt.audience })
			mux := http.NewServeMux()
			mux.Handle("/api/data", whoami)
			if !tt.skipAudienceRoute {
				mux.Handle("/convex", auth.Require(clerkauth.Audience("convex"))(whoami))
			}
			h := auth.Middleware(mux)
			check := func(path string, w want) {
				t.Helper()
				res := serve(h, bearer(httptest.NewRequest("GET", path, nil), tt.token))
				if w.status == 200 {
					assert.Equal(t, 200, res.status, "%s: %s", path, res.body)
					assert.Equal(t, "user:user_1", res.body, path)
					return
				}
				assertUnauthenticated(t, res, w.reason, true)
			}
			check("/api/data", tt.normal)
			if !tt.skipAudienceRoute {
				check("/convex", tt.audRoute)
			}
		})
	}
}

// TestAudienceCheck: the check alone, its start-up errors, and callers it
// never lets in.
func TestAudienceCheck(t *testing.T) {
	iss := shared(t)
	t.Run("Require panics for an audience Config.Audience does not list", func(t *testing.T) {
		auth := iss.MustAuth(func(c *clerkauth.Config) { c.Audience = []string{"supabase"} })
		assert.PanicsWithValue(t, `clerkauth: Require: Audience("convex") is not in Config.Audience, whose tokens alone verify; add it there`,
			func() { auth.Require(clerkauth.Audience("convex")) })
		assert.Panics(t, func() { auth.Require(clerkauth.AnyOf(clerkauth.Role("admin"), clerkauth.Audience("convex"))) }, "inside AnyOf too")
		assert.NotPanics(t, func() { auth.Require(clerkauth.Audience("supabase")) })
	})
	t.Run("empty audience", func(t *testing.T) {
		assert.Panics(t, func() { clerkauth.Audience("") })
	})
	t.Run("machine tokens and hand-built identities", func(t *testing.T) {
		check := clerkauth.Audience("convex")
		assert.False(t, check.Allow(&clerkauth.Identity{TokenType: clerkauth.OAuthToken, Audience: []string{"convex"}}), "an OAuth token is not a template token")
		assert.False(t, check.Allow(&clerkauth.Identity{TokenType: clerkauth.M2MToken, Audience: []string{"convex"}}), "nor is an M2M token")
		assert.True(t, check.Allow(&clerkauth.Identity{Audience: []string{"convex"}}), "an Identity without a TokenType counts as a session")
		assert.False(t, check.Allow(&clerkauth.Identity{UserID: "user_1"}))
	})
	t.Run("Authorize answers 401 token-invalid-audience", func(t *testing.T) {
		err := (&clerkauth.Identity{UserID: "user_1"}).Authorize(clerkauth.Audience("convex"))
		var e *clerkauth.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, clerkauth.ReasonTokenInvalidAudience, e.Reason)
		assert.Equal(t, http.StatusUnauthorized, e.Status())
		assert.NoError(t, (&clerkauth.Identity{UserID: "user_1", Audience: []string{"convex"}}).Authorize(clerkauth.Audience("convex")))
	})
	t.Run("a signed-in browser is not sent to sign in again", func(t *testing.T) {
		auth := iss.MustAuth(func(c *clerkauth.Config) {
			c.Audience = []string{"convex"}
			c.SignInURL = "/sign-in"
			c.PublicRoutes = []string{"/sign-in"}
		})
		h := auth.Middleware(auth.Require(clerkauth.Audience("convex"))(whoami))
		r := httptest.NewRequest("GET", "/convex", nil)
		r.Header.Set("Sec-Fetch-Dest", "document")
		r.AddCookie(&http.Cookie{Name: clerkauth.SessionCookie, Value: iss.MustSessionToken("user_1")})
		r.AddCookie(&http.Cookie{Name: "__client_uat", Value: strconv.FormatInt(time.Now().Unix()-60, 10)})
		res := serve(h, r)
		assert.Equal(t, http.StatusUnauthorized, res.status, "a session has no aud: signing in again gives another session")
		assert.Equal(t, clerkauth.ReasonTokenInvalidAudience, clerkauth.Reason(res.header.Get("X-Clerk-Auth-Reason")))
	})
	t.Run("cached template tokens are checked per route", func(t *testing.T) {
		auth := iss.MustAuth(func(c *clerkauth.Config) { c.Audience = []string{"convex", "supabase"} })
		convexRoute := auth.Middleware(auth.Require(clerkauth.Audience("convex"))(whoami))
		supabaseRoute := auth.Middleware(auth.Require(clerkauth.Audience("supabase"))(whoami))
		token := iss.MustTemplateToken("user_1", "convex", nil, clerktest.WithExpiry(time.Hour))
		for range 2 { // the second time from the token cache
			assert.Equal(t, 200, serve(convexRoute, bearer(httptest.NewRequest("GET", "/", nil), token)).status)
			assert.Equal(t, 401, serve(supabaseRoute, bearer(httptest.NewRequest("GET", "/", nil), token)).status)
		}
	})
}
