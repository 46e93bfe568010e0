package clerkauth

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mustRouteMatcher compiles patterns that the test knows to be valid.
func mustRouteMatcher(t testing.TB, patterns ...string) *RouteMatcher {
	t.Helper()
	m, err := NewRouteMatcher(patterns...)
	require.NoError(t, err)
	return m
}

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
		m := mustRouteMatcher(t, p)
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
	m := mustRouteMatcher(t, "/", "/sign-in(.*)", "/blog/:slug", "/docs/:path*", "/api/webhooks(.*)")
	allocs := testing.AllocsPerRun(100, func() {
		m.MatchPath("/blog/hello")
		m.MatchPath("/docs/a/b")
		m.MatchPath("/dashboard/settings")
		m.MatchPathAnyCase("/Blog/hello")
		m.MatchPathAnyCase("/DASHBOARD/settings")
		m.matchPublic("/blog/hello")
		m.matchPublic("/blog/hello/")
		m.matchPublic("/docs/a/b/")
	})
	require.Zero(t, allocs)
}

// TestPolicyPublicWithoutTrailingSlash: in PublicRoutes mode a path is public only
// if a public pattern matches it without the optional trailing delimiter
// that Clerk's (non-strict) path-to-regexp allows. ServeMux, chi and
// gorilla/mux route /pricing/ and /users/42/ to subtree handlers
// (/{org}/, /users/{id}/), not to /pricing and /users/{id}. A pattern that
// ends in "/" itself, or says "and more" with (.*), keeps its paths.
func TestPolicyPublicWithoutTrailingSlash(t *testing.T) {
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
			m := mustRouteMatcher(t, tt.pattern)
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
	assert.True(t, mustRouteMatcher(t, "/pricing").MatchPath("/pricing/"))
	assert.True(t, mustRouteMatcher(t, "/users/:id").MatchPath("/users/42/"))
	// Protected patterns keep matching with it: that fails closed already.
	assert.True(t, routePolicy{protected: mustRouteMatcher(t, "/admin", "/users/:id")}.protectsPath("/admin/"))
	assert.True(t, routePolicy{protected: mustRouteMatcher(t, "/admin", "/users/:id")}.protectsPath("/Users/42/"))
}

// TestPolicyPublicReadingIsStrict: the policy's public reading is path-to-regexp's
// expression with the sensitive and strict options (no optional trailing
// delimiter), for every kind of compiled route.
func TestPolicyPublicReadingIsStrict(t *testing.T) {
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
		policy := routePolicy{public: mustRouteMatcher(t, p)}
		for _, path := range paths {
			norm, ok := normalizePath(path)
			if !ok {
				continue
			}
			assert.Equal(t, strict.MatchString(norm), !policy.protectsPath(path), "pattern %q path %q (strict %s)", p, path, strict)
		}
	}
}

// TestMatchCaseMappingsToASCII enumerates all of Unicode for runes that some
// case mapping turns into ASCII (K, the Kelvin sign, and ſ through simple
// folding; İ and ı, which simple folding leaves alone, through ToLower and
// ToUpper), and proves that protected patterns treat each one as its
// ASCII letter, in both directions and in every kind of route: a front
// end that lower- or upper-cases paths turns /admİn into /admin. It
// iterates to unicode.MaxRune so that a new Unicode table cannot add
// another one unnoticed.
func TestMatchCaseMappingsToASCII(t *testing.T) {
	found := map[rune]rune{} // rune outside ASCII → the ASCII letter it reaches
	var runes []rune
	var all strings.Builder
	specials := []unicode.SpecialCase{unicode.TurkishCase, unicode.AzeriCase}
	var buf [16]rune
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue // surrogates
		}
		runes = append(runes, r)
		all.WriteRune(r)
		images := append(buf[:0], unicode.ToLower(r), unicode.ToUpper(r), unicode.ToTitle(r))
		for _, sc := range specials {
			images = append(images, sc.ToLower(r), sc.ToUpper(r), sc.ToTitle(r))
		}
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			images = append(images, f)
		}
		for _, img := range images {
			if img < utf8.RuneSelf {
				found[r] = img
			}
		}
	}
	// The string mappings, over all of Unicode at once.
	s := all.String()
	mapped := []string{strings.ToLower(s), strings.ToUpper(s), strings.ToTitle(s)}
	for _, sc := range specials {
		mapped = append(mapped, strings.ToLowerSpecial(sc, s), strings.ToUpperSpecial(sc, s), strings.ToTitleSpecial(sc, s))
	}
	for _, m := range mapped {
		got := []rune(m)
		require.Len(t, got, len(runes), "package strings no longer maps case rune by rune: compare its mappings another way")
		for i, c := range got {
			if c < utf8.RuneSelf {
				found[runes[i]] = c
			}
		}
	}
	require.Contains(t, found, '\u0130', "İ lower-cases to i")
	require.Contains(t, found, '\u0131', "ı upper-cases to I")
	require.Contains(t, found, '\u212a', "the Kelvin sign folds to k")
	require.Contains(t, found, '\u017f', "ſ folds to s")
	for r, letter := range found {
		lower, upper := string(unicode.ToLower(letter)), string(unicode.ToUpper(letter))
		require.True(t, lower != upper, "%U reaches %q, which is not a letter: protect it here", r, letter)
		assert.Equal(t, foldRune(letter), foldRune(r), "%U reaches %q", r, letter)
		enc := url.PathEscape(string(r))
		m := mustRouteMatcher(t, "/p"+lower+"x(.*)", "/e"+upper+"x", "/r/:id/"+lower+"x", "/c/:id(["+lower+"]x)",
			"/q"+string(r)+"x(.*)", "/f/:id/"+string(r)+"x")
		for _, p := range []string{
			"/p" + string(r) + "x/y", "/p" + enc + "x", "/e" + string(r) + "x", "/E" + enc + "X/",
			"/r/1/" + string(r) + "x", "/r/1/" + enc + "X", "/c/" + string(r) + "x", "/c/" + enc + "X",
			"/q" + lower + "x/y", "/Q" + upper + "X", "/f/1/" + lower + "x", "/f/1/" + upper + "X",
		} {
			assert.True(t, m.MatchPathAnyCase(p), "%U (%q) should be protected as %q: %q", r, string(r), letter, p)
		}
	}
	for _, c := range caseToASCII {
		assert.Contains(t, found, c.r, "caseToASCII lists %U, which no case mapping takes to ASCII", c.r)
	}
	t.Logf("runes outside ASCII whose case mappings reach ASCII: %q", found)
}

// TestMatchCaseMappingsKeepOtherPaths: treating İ and ı as i protects no path
// that differs from a protected pattern in anything else.
func TestMatchCaseMappingsKeepOtherPaths(t *testing.T) {
	m := mustRouteMatcher(t, "/admin(.*)", "/billing", "/users/:id/edit")
	for _, p := range []string{"/blog/k%C4%B1rm%C4%B1z%C4%B1", "/%C4%B0stanbul", "/adm%C4%B0", "/admn", "/bill%C4%B1ng/x",
		"/users/1/ed%C4%B1", "/users/1/e%C4%B0it", "/adm\u0130\u0130n"} {
		assert.False(t, m.MatchPathAnyCase(p), p)
	}
}
