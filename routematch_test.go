package clerkauth_test

import (
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
)

// TestRouteMatcherSpec is the specification of the pattern syntax: each
// row is a pattern and the paths it must and must not match, with the
// meaning path-to-regexp 6 gives them inside Clerk's createRouteMatcher
// (except case, which is significant here).
func TestRouteMatcherSpec(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		noMatch []string
	}{
		{"/", []string{"/", "//"}, []string{"", "/x"}}, // one trailing delimiter is allowed (the middleware treats "//" as protected anyway)
		{"/dashboard", []string{"/dashboard", "/dashboard/"}, []string{"/dashboard/x", "/dashboardx", "/Dashboard", "/dash", "/x/dashboard"}},
		{"/sign-in(.*)", []string{"/sign-in", "/sign-in/", "/sign-in/factor-one", "/sign-inx"}, []string{"/sign", "/x/sign-in", "/Sign-in"}},
		{"/api(.*)", []string{"/api", "/api/x", "/apiary"}, []string{"/ap", "/v1/api"}},
		{"/api/webhooks/(.*)", []string{"/api/webhooks/", "/api/webhooks/clerk"}, []string{"/api/webhooks", "/api/webhooksx"}},
		{"/(.*)", []string{"/", "/anything/at/all"}, []string{""}},
		{"(.*)", []string{"", "/", "/x"}, nil},
		{"/users/:id", []string{"/users/42", "/users/42/", "/users/user_2abc"}, []string{"/users", "/users/", "/users/42/posts"}},
		{"/users/:id?", []string{"/users", "/users/", "/users/42"}, []string{"/users/42/posts"}},
		{"/files/:path*", []string{"/files", "/files/a", "/files/a/b/c"}, []string{"/filesx"}},
		{"/files/:path+", []string{"/files/a", "/files/a/b"}, []string{"/files", "/files/"}},
		{`/org/:id(\d+)`, []string{"/org/12"}, []string{"/org/ab", "/org/12a"}},
		{"/photo{-:size}?.jpg", []string{"/photo.jpg", "/photo-large.jpg"}, []string{"/photo-.jpg", "/photo-large.png"}},
		{"/a{/b}?", []string{"/a", "/a/b"}, []string{"/a/c"}},
		{`/literal\(paren\)`, []string{"/literal(paren)"}, []string{"/literal"}},
		{"/:locale/sign-in(.*)", []string{"/en/sign-in", "/fr/sign-in/sso"}, []string{"/sign-in", "/en/x/sign-in"}},
		{"/blog/:slug.html", []string{"/blog/hello.html"}, []string{"/blog/hello"}},
		{"/caf\u00e9", []string{"/caf\u00e9"}, []string{"/cafe"}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			m, err := clerkauth.NewRouteMatcher(tt.pattern)
			require.NoError(t, err)
			for _, p := range tt.match {
				assert.True(t, m.MatchPath(p), "%q should match %q", tt.pattern, p)
			}
			for _, p := range tt.noMatch {
				assert.False(t, m.MatchPath(p), "%q should not match %q", tt.pattern, p)
			}
		})
	}
}

func TestRouteMatcherMany(t *testing.T) {
	m := mustRouteMatcher(t, "/", "/sign-in(.*)", "/sign-up(.*)", "/api/webhooks(.*)", "/blog/:slug", "", "/docs/:path*")
	assert.Equal(t, []string{"/", "/sign-in(.*)", "/sign-up(.*)", "/api/webhooks(.*)", "/blog/:slug", "/docs/:path*"}, m.Patterns(), "empty patterns are ignored")
	for _, p := range []string{"/", "/sign-in", "/sign-up/verify", "/api/webhooks/clerk", "/blog/x", "/docs", "/docs/a/b"} {
		assert.True(t, m.MatchPath(p), p)
	}
	for _, p := range []string{"/dashboard", "/api/me", "/blog/x/y", "/blog"} {
		assert.False(t, m.MatchPath(p), p)
	}
	assert.True(t, m.MatchPath(httptest.NewRequest("GET", "/sign-in?redirect_url=x", nil).URL.EscapedPath()), "the query is not part of the path")

	var zero clerkauth.RouteMatcher
	assert.False(t, zero.MatchPath("/"), "the zero RouteMatcher matches nothing")
	var nilM *clerkauth.RouteMatcher
	assert.False(t, nilM.MatchPath("/"))
}

func TestRouteMatcherErrors(t *testing.T) {
	tests := []struct {
		pattern string
		pos     int
	}{
		{"/x/:", 3},
		{"/x/(", 3},
		{"/x/((a))", 4},
		{"/x/(?=a)", 4},
		{"/x/()", 3},
		{"{/x", 3},
		{"/x}", 2},
		{"*", 0},
		{"/x/:id(a\\", 8},
		{`/x/:id(\1)`, 3},
		{`/x/:id([a-)`, 3},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			perr := requirePatternError(t, tt.pattern)
			assert.Equal(t, tt.pos, perr.Pos, perr.Error())
			assert.Contains(t, perr.Error(), strconv.Quote(tt.pattern))
		})
	}
}
