package clerkauth

import (
	"regexp"
	"testing"

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
