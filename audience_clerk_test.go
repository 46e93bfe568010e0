package clerkauth_test

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/internal/clerkjs"
)

// TestAudienceAgreesWithClerk verifies session and JWT-template tokens
// (aud absent, "", [], [""], one listed value, a list holding one, an
// unknown value, another case) under three audience lists, with our
// Authenticate and with @clerk/backend 3.25.0's authenticateRequest
// ({ audience }), and requires the same answer: signed in as whom, or
// signed out (our token-invalid-audience is Clerk's
// token-verification-failed).
//
// The difference on purpose, checked rather than skipped: with no
// Config.Audience, a token that has an aud is refused here (RFC 7519
// §4.1.3: an aud that does not name us), where Clerk skips the check and
// takes it for a session.
func TestAudienceAgreesWithClerk(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	bapi := clerktest.NewBackendAPI(t, iss)
	withAud := func(aud any) string {
		return iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{"aud": aud}))
	}
	tokens := []struct {
		name, token string
		hasAud      bool
	}{
		{"session, no aud", iss.MustSessionToken("user_1"), false},
		{`aud ""`, withAud(""), false},
		{"aud []", withAud([]string{}), false},
		{`aud [""]`, withAud([]string{""}), false},
		{"template convex", iss.MustTemplateToken("user_2", "convex", map[string]any{"email": "a@example.com"}), true},
		{`aud ["other", "convex"]`, withAud([]string{"other", "convex"}), true},
		{`aud ["", "convex"]`, withAud([]string{"", "convex"}), true},
		{"template supabase", iss.MustTemplateToken("user_3", "supabase", nil), true},
		{"template Convex", iss.MustTemplateToken("user_4", "Convex", nil), true},
	}
	audiences := [][]string{nil, {"convex"}, {"supabase", "convex"}}

	type scenario struct {
		AcceptsToken  []clerkauth.TokenType `json:"acceptsToken"`
		Authorization string                `json:"authorization"`
		Audience      []string              `json:"audience"`
		name          string
		hasAud        bool
	}
	var cases []scenario
	for _, aud := range audiences {
		for _, tok := range tokens {
			cases = append(cases, scenario{AcceptsToken: []clerkauth.TokenType{clerkauth.SessionToken},
				Authorization: "Bearer " + tok.token, Audience: aud, name: tok.name, hasAud: tok.hasAud})
		}
	}
	var clerk []clerkMachineResult
	clerkjs.Run(t, "machine.mjs", map[string]any{
		"options": map[string]any{
			"secretKey": bapi.SecretKey, "apiUrl": bapi.URL,
			"publishableKey": clerktest.PublishableKey("clerk.clerktest.example", true),
		},
		"cases": cases,
	}, &clerk)
	require.Len(t, clerk, len(cases))

	compared, signedIn, differ := 0, 0, 0
	for i, c := range cases {
		auth := iss.MustAuth(func(cfg *clerkauth.Config) { bapi.Configure(cfg); cfg.Audience = c.Audience })
		r := httptest.NewRequest("GET", "/api/data", nil)
		r.Header.Set("Authorization", c.Authorization)
		id, err := authenticate(auth, r)
		got, want := clerk[i], fmt.Sprintf("%s, audience %q", c.name, c.Audience)
		if len(c.Audience) == 0 && c.hasAud {
			assert.True(t, got.IsAuthenticated, "%s: Clerk skips the aud check without an audience (%+v)", want, got)
			assert.ErrorIs(t, err, clerkauth.ReasonTokenInvalidAudience, want)
			differ++
			continue
		}
		compared++
		if !assert.Equal(t, got.IsAuthenticated, err == nil, "%s: Clerk %+v, ours %v", want, got, err) {
			continue
		}
		if err != nil {
			var e *clerkauth.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, clerkauth.ReasonTokenInvalidAudience, e.Reason, want)
			assert.Equal(t, "token-verification-failed", deref(got.Reason), want)
			continue
		}
		signedIn++
		assert.Equal(t, deref(got.UserID), id.UserID, want)
		assert.Equal(t, deref(got.TokenType), string(id.TokenType), want)
	}
	t.Logf("%d requests compared with @clerk/backend (%d signed in); %d template tokens without Config.Audience refused here, accepted by Clerk", compared, signedIn, differ)
	assert.Equal(t, 22, compared)
	assert.Equal(t, 19, signedIn)
	assert.Equal(t, 5, differ)
}
