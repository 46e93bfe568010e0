package clerkauth

import (
	"strconv"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth/internal/clerkjs"
)

// TestMatchMultiRuneCaseMappings: the runes whose full case mappings in
// JavaScript (all of Unicode, default, Turkish and Lithuanian locales) are
// several ASCII letters are exactly caseToASCIILetters' (ẞ aside, which
// reaches them through ß), and a protected pattern protects each spelling:
// /ﬁles is /FILES to a front end that upper-cases JavaScript's way, and
// /files to one that folds the other way.
func TestMatchMultiRuneCaseMappings(t *testing.T) {
	var js map[string]string
	clerkjs.Run(t, "casemap.mjs", map[string]any{}, &js)
	want := map[rune]string{}
	for cp, letters := range js {
		n, err := strconv.Atoi(cp)
		require.NoError(t, err)
		want[rune(n)] = letters
	}
	got := map[rune]string{}
	for r, letters := range caseToASCIILetters {
		if r != 'ẞ' {
			got[r] = letters
		}
	}
	assert.Equal(t, want, got, "JavaScript's one-to-many case mappings onto ASCII")
	assert.Equal(t, unicode.SimpleFold('ẞ'), 'ß', "ẞ folds to ß")

	for r, letters := range caseToASCIILetters {
		lower := string(unicode.ToLower(rune(letters[0]))) + letters[1:]
		m, err := NewRouteMatcher("/p"+letters+"x(.*)", "/r/:id/"+lower+"x", "/e"+lower+"x")
		require.NoError(t, err)
		for _, p := range []string{"/p" + string(r) + "x/y", "/r/1/" + string(r) + "X", "/E" + string(r) + "X"} {
			assert.True(t, m.MatchPathAnyCase(p), "%U (%q): %q", r, string(r), p)
		}
		enc := ""
		for _, c := range []byte(string(r)) {
			enc += "%" + strconv.FormatUint(uint64(c), 16)
		}
		assert.True(t, m.MatchPathAnyCase("/e"+enc+"x"), "%U percent-encoded: %q", r, "/e"+enc+"x")
		assert.False(t, m.MatchPath("/e"+string(r)+"x"), "%U: in the case as written (Clerk's reading, public routes), no expansion", r)
	}
	m, err := NewRouteMatcher("/files(.*)")
	require.NoError(t, err)
	for _, p := range []string{"/fies", "/ßiles", "/ﬁle", "/fﬁles"} {
		assert.False(t, m.MatchPathAnyCase(p), "%q differs from /files in more than case", p)
	}
}
