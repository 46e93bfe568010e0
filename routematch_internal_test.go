package clerkauth

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// routePaths is a set of paths that exercise the edges of literal and
// prefix matching: trailing delimiters, near misses, case.
var routePaths = []string{
	"", "/", "//", "/a", "/a/", "/a#", "/a?", "/a//", "/ab", "/a/b", "/a/b/", "/A",
	"/sign-in", "/sign-in/", "/sign-inx", "/sign-in/x/y", "/sign", "/api", "/api/", "/apix",
	"/api/webhooks", "/api/webhooks/", "/api/webhooks/clerk", "/x/sign-in", "/caf\u00e9",
	"\n", "/api/\n", "/api/x\ny", "/sign-in\n", "/\r", "/api/\u2028", "/API/X", "/Sign-In",
	"/CAF\u00c9", "/\u017fign-in", "/%61pi/x", "/api%2Fx", "//api//x",
}

// TestFastPathsEqualRegexp proves that the exact and prefix shortcuts mean
// what path-to-regexp's regular expression means for the same pattern.
func TestFastPathsEqualRegexp(t *testing.T) {
	patterns := []string{"/", "/a", "/a/", "/a/b", "/sign-in(.*)", "/api(.*)", "/api/(.*)",
		"/api/webhooks(.*)", "/api/webhooks/(.*)", "(.*)", "/(.*)", `/a\:b`, "/caf\u00e9", "/a.b(.*)"}
	for _, p := range patterns {
		exact, anyCase, err := compileRoute(p)
		require.NoError(t, err, p)
		require.NotEqual(t, routeRegexp, exact.kind, "%q should take a fast path", p)
		require.NotEqual(t, routeRegexp, anyCase.kind, "%q should take a fast path in any case", p)
		parts, err := parsePattern(p)
		require.NoError(t, err)
		re, err := buildRegexp(p, parts, false)
		require.NoError(t, err)
		folded := regexp.MustCompile("(?i)" + re.String())
		m := MustRouteMatcher(p)
		for _, path := range routePaths {
			norm, ok := normalizePath(path)
			require.True(t, ok, path)
			require.Equal(t, re.MatchString(norm), m.MatchPath(path), "pattern %q path %q (regexp %s)", p, path, re)
			require.Equal(t, folded.MatchString(norm), m.MatchPathAnyCase(path), "pattern %q path %q in any case", p, path)
		}
	}
}

func TestMatchPathDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	m := MustRouteMatcher("/", "/sign-in(.*)", "/blog/:slug", "/docs/:path*", "/api/webhooks(.*)")
	allocs := testing.AllocsPerRun(100, func() {
		m.MatchPath("/blog/hello")
		m.MatchPath("/docs/a/b")
		m.MatchPath("/dashboard/settings")
		m.MatchPathAnyCase("/Blog/hello")
		m.MatchPathAnyCase("/DASHBOARD/settings")
	})
	require.Zero(t, allocs)
}

// TestPublicWithoutTrailingSlash: in PublicRoutes mode a path is public only
// if a public pattern matches it without the optional trailing delimiter
// that Clerk's (non-strict) path-to-regexp allows. ServeMux, chi and
// gorilla/mux route /pricing/ and /users/42/ to subtree handlers
// (/{org}/, /users/{id}/), not to /pricing and /users/{id}. A pattern that
// ends in "/" itself, or says "and more" with (.*), keeps its paths.
func TestPublicWithoutTrailingSlash(t *testing.T) {
	tests := []struct {
		pattern           string
		public, protected []string
	}{
		{"/pricing", []string{"/pricing", "//pricing"}, []string{"/pricing/", "/pricing%3F", "/pricing%23", "/pricing/x"}},
		{"/users/:id", []string{"/users/42"}, []string{"/users/42/", "/users/", "/users/42/x"}},
		{"/users/:id?", []string{"/users", "/users/42"}, []string{"/users/", "/users/42/"}},
		{"/files/:path*", []string{"/files", "/files/a", "/files/a/b"}, []string{"/files/", "/files/a/", "/files/a/b/"}},
		{"/files/:path+", []string{"/files/a/b"}, []string{"/files/a/b/"}},
		{`/org/:id(\d+)`, []string{"/org/12"}, []string{"/org/12/"}},
		{"/photo{-:size}?.jpg", []string{"/photo.jpg", "/photo-l.jpg"}, []string{"/photo.jpg/", "/photo-l.jpg/"}},
		{"/a{/b}?", []string{"/a", "/a/b"}, []string{"/a/", "/a/b/"}},
		{"/:locale/docs", []string{"/en/docs"}, []string{"/en/docs/"}},
		{"/", []string{"/"}, []string{"/x"}},
		// The pattern asks for the slash, or for more.
		{"/pricing/", []string{"/pricing/"}, []string{"/pricing", "/pricing/x"}},
		{"/docs/:page/", []string{"/docs/intro/"}, []string{"/docs/intro", "/docs/intro/x"}},
		{"/pricing(.*)", []string{"/pricing", "/pricing/", "/pricing/x/", "/pricingx"}, nil},
		{"/pricing/(.*)", []string{"/pricing/", "/pricing/x/"}, []string{"/pricing"}},
		{"/x/:rest(.*)", []string{"/x/a/", "/x/a/b/"}, []string{"/x"}},
		{"/x/:a/:rest(.*)", []string{"/x/a/b/", "/x/a/"}, []string{"/x/a"}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			m := MustRouteMatcher(tt.pattern)
			policy := routePolicy{public: m}
			for _, p := range tt.public {
				assert.False(t, policy.protectsPath(p), "%q should make %q public", tt.pattern, p)
			}
			for _, p := range tt.protected {
				assert.True(t, policy.protectsPath(p), "%q should not make %q public", tt.pattern, p)
			}
		})
	}
	// Clerk's reading is unchanged: the matcher still matches the optional
	// trailing delimiter; the stricter rule is the policy's.
	assert.True(t, MustRouteMatcher("/pricing").MatchPath("/pricing/"))
	assert.True(t, MustRouteMatcher("/users/:id").MatchPath("/users/42/"))
	// Protected patterns keep matching with it: that fails closed already.
	assert.True(t, routePolicy{protected: MustRouteMatcher("/admin", "/users/:id")}.protectsPath("/admin/"))
	assert.True(t, routePolicy{protected: MustRouteMatcher("/admin", "/users/:id")}.protectsPath("/Users/42/"))
}

// TestPublicReadingIsStrict: the policy's public reading is path-to-regexp's
// expression with the sensitive and strict options (no optional trailing
// delimiter), for every kind of compiled route.
func TestPublicReadingIsStrict(t *testing.T) {
	patterns := []string{"/", "/a", "/a/", "/a/b", "/sign-in(.*)", "/api(.*)", "/api/(.*)", "(.*)", "/(.*)",
		"/users/:id", "/users/:id?", "/files/:p*", "/files/:p+", `/org/:id(\d+)`, "/a{/b}?", "/:x/sign-in",
		"/a{-:b}", "/file{.:ext}?", "/x/:p(.*)", "/api/webhooks/:id/"}
	var paths []string
	for _, p := range append(routePaths, "/users/42", "/users/42/", "/files/x/y", "/files/x/y/", "/org/1", "/org/1/",
		"/a-x", "/a-x/", "/file.gz", "/file.gz/", "/x/p/", "/api/webhooks/1/", "/api/webhooks/1//", "/en/sign-in/") {
		paths = append(paths, p, p+"/", p+"%3F", p+"%23")
	}
	for _, p := range patterns {
		parts, err := parsePattern(p)
		require.NoError(t, err)
		re, err := buildRegexp(p, parts, false)
		require.NoError(t, err)
		src, ok := strings.CutSuffix(re.String(), "[/#?]?$")
		require.True(t, ok, re.String())
		strict := regexp.MustCompile(src + "$")
		policy := routePolicy{public: MustRouteMatcher(p)}
		for _, path := range paths {
			norm, ok := normalizePath(path)
			if !ok {
				continue
			}
			assert.Equal(t, strict.MatchString(norm), !policy.protectsPath(path), "pattern %q path %q (strict %s)", p, path, strict)
		}
	}
}
