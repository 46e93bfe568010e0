package clerkauth_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/internal/clerkjs"
)

// clerkMachineResult is what machine.mjs reports of @clerk/backend's
// authenticateRequest.
type clerkMachineResult struct {
	Status          string   `json:"status"`
	Reason          *string  `json:"reason"`
	TokenType       *string  `json:"tokenType"`
	IsAuthenticated bool     `json:"isAuthenticated"`
	Subject         *string  `json:"subject"`
	Scopes          []string `json:"scopes"`
	UserID          *string  `json:"userId"`
	OrgID           *string  `json:"orgId"`
	MachineID       *string  `json:"machineId"`
	ClientID        *string  `json:"clientId"`
	Name            *string  `json:"name"`
	ID              *string  `json:"id"`
}

// clerkReasonFor maps our reason codes onto @clerk/backend's, where ours
// name a failure that Clerk folds into a generic code. Machine JWTs fail in
// Clerk with token-verification-failed whatever the cause (its
// resolveKeyAndVerifyJwt wraps every error), sessions with the cause.
func clerkReasonFor(ours clerkauth.Reason, machineJWT bool) string {
	if machineJWT {
		switch ours {
		case clerkauth.ReasonTokenExpired, clerkauth.ReasonTokenInvalidSignature, clerkauth.ReasonJWKKidMismatch,
			clerkauth.ReasonTokenNotActiveYet, clerkauth.ReasonTokenIatInTheFuture, clerkauth.ReasonTokenInvalidAudience:
			return "token-verification-failed"
		}
	}
	switch ours {
	case clerkauth.ReasonSessionTokenMissing:
		return "session-token-and-uat-missing"
	case clerkauth.ReasonTokenExpired:
		// Clerk's code for an expired session names the refresh it tried
		// (session-token-expired-refresh-<why not>), cut to its prefix.
		return "session-token-expired-refresh"
	}
	return string(ours)
}

// TestMachineTokensAgreeWithClerk sends the same requests to our middleware
// and to @clerk/backend 3.25.0's authenticateRequest (pinned in
// testdata/oracle, run with node), both pointed at one fake Backend API:
// every token type (valid, revoked, expired, unknown, malformed, of another
// instance, with the wrong header), under seven AcceptsToken lists, with
// header variants. They must agree on signed in or not, the reason, the
// token type, the subject, the scopes and the ids.
//
// Differences on purpose, excluded from the comparison and listed in the
// README:
//   - "Authorization: bearer <token>" (lower case): Bearer is
//     case-insensitive (RFC 7235), so we read the token; Clerk ignores the
//     header.
//   - "Authorization: <token>" without a scheme: Clerk takes the whole
//     header as the token; we take no token from a header without the
//     Bearer scheme.
func TestMachineTokensAgreeWithClerk(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	bapi := clerktest.NewBackendAPI(t, iss)
	other := clerktest.NewIssuer(t)

	key := func(subject string, scopes ...string) string {
		return bapi.CreateAPIKey(subject, "key of "+subject, scopes, map[string]any{"tier": "gold"}, 0).Secret
	}
	revoked := func(tok *clerktest.MachineToken) string { bapi.Revoke(tok.ID); return tok.Secret }
	expired := func(tok *clerktest.MachineToken) string { bapi.Expire(tok.ID); return tok.Secret }
	tokens := []struct {
		name, token string
		machineJWT  bool
	}{
		{"API key of a user", key("user_1", "read", "write"), false},
		{"API key of an organization", key("org_1"), false},
		{"revoked API key", revoked(bapi.CreateAPIKey("user_1", "k", nil, nil, 0)), false},
		{"expired API key", expired(bapi.CreateAPIKey("user_1", "k", nil, nil, time.Hour)), false},
		{"unknown API key", "ak_" + strings.Repeat("z", 32), false},
		{"API key with a space", "ak_bad key", false},
		{"opaque M2M token", bapi.CreateM2MToken(bapi.MachineID, []string{"mch_peer"}, map[string]any{"job": "sync"}, time.Hour).Secret, false},
		{"revoked M2M token", revoked(bapi.CreateM2MToken(bapi.MachineID, nil, nil, 0)), false},
		{"expired M2M token", expired(bapi.CreateM2MToken(bapi.MachineID, nil, nil, time.Hour)), false},
		{"unknown M2M token", "mt_" + strings.Repeat("q", 32), false},
		{"opaque OAuth token", bapi.CreateOAuthToken("user_2", "client_1", []string{"profile", "email"}, time.Hour).Secret, false},
		{"revoked OAuth token", revoked(bapi.CreateOAuthToken("user_2", "client_1", nil, 0)), false},
		{"unknown OAuth token", "oat_" + strings.Repeat("w", 32), false},
		{"M2M JWT", iss.MustM2MJWT("mch_jwt", []string{"mch_a", "mch_b"}, time.Hour), true},
		{"M2M JWT without a category", iss.MustM2MJWT("mch_jwt", []string{"mch_a"}, time.Hour, clerktest.WithHeader("cat", nil)), true},
		{"expired M2M JWT", iss.MustM2MJWT("mch_jwt", nil, -time.Hour), true},
		{"M2M JWT of another instance", other.MustM2MJWT("mch_jwt", nil, time.Hour, clerktest.WithKeyID(iss.KeyID())), true},
		{"M2M JWT with a session category", iss.MustM2MJWT("mch_jwt", nil, time.Hour, clerktest.WithHeader("cat", "cl_B7d4PD111AAA")), true},
		{"OAuth JWT", iss.MustOAuthJWT("user_3", "client_2", []string{"read", "write"}, time.Hour), true},
		{"OAuth JWT typ application/at+jwt", iss.MustOAuthJWT("user_3", "client_2", []string{"read"}, time.Hour, clerktest.WithHeader("typ", "application/at+jwt")), true},
		{"expired OAuth JWT", iss.MustOAuthJWT("user_3", "client_2", nil, -time.Hour), true},
		{"OAuth JWT of another instance", other.MustOAuthJWT("user_3", "client_2", nil, time.Hour, clerktest.WithKeyID(iss.KeyID())), true},
		{"OAuth JWT with scp", iss.MustOAuthJWT("user_3", "client_2", nil, time.Hour, clerktest.WithClaims(map[string]any{"scp": []string{"x", "y"}})), true},
		{"session token", iss.MustSessionToken("user_4"), false},
		{"expired session token", iss.MustSessionToken("user_4", clerktest.WithExpiry(-time.Hour)), false},
		{"session token of another instance", other.MustSessionToken("user_4", clerktest.WithKeyID(iss.KeyID())), false},
		{"garbage", "abc", false},
		{"JWT-shaped garbage", "eyJhbGciOiJSUzI1NiJ9.e30.AAAA", false},
	}
	accepts := [][]clerkauth.TokenType{
		{clerkauth.SessionToken},
		{clerkauth.APIKey},
		{clerkauth.M2MToken},
		{clerkauth.OAuthToken},
		{clerkauth.APIKey, clerkauth.M2MToken},
		{clerkauth.SessionToken, clerkauth.APIKey},
		{clerkauth.SessionToken, clerkauth.APIKey, clerkauth.M2MToken, clerkauth.OAuthToken},
	}
	type scenario struct {
		AcceptsToken  []clerkauth.TokenType `json:"acceptsToken"`
		Authorization *string               `json:"authorization"`
		name          string
		machineJWT    bool
		compared      bool
	}
	str := func(s string) *string { return &s }
	var cases []scenario
	for _, acc := range accepts {
		for _, tok := range tokens {
			cases = append(cases, scenario{AcceptsToken: acc, Authorization: str("Bearer " + tok.token), name: tok.name, machineJWT: tok.machineJWT, compared: true})
		}
		cases = append(cases,
			scenario{AcceptsToken: acc, name: "no Authorization header", compared: true},
			scenario{AcceptsToken: acc, Authorization: str("Basic dXNlcjpwYXNz"), name: "another scheme", compared: true},
			scenario{AcceptsToken: acc, Authorization: str("bearer " + tokens[0].token), name: "lower-case bearer"},
			scenario{AcceptsToken: acc, Authorization: str(tokens[0].token), name: "no scheme"},
		)
	}

	var clerk []clerkMachineResult
	clerkjs.Run(t, "machine.mjs", map[string]any{
		"options": map[string]any{
			"secretKey": bapi.SecretKey, "machineSecretKey": bapi.MachineSecretKey, "apiUrl": bapi.URL,
			"publishableKey": clerktest.PublishableKey("clerk.clerktest.example", true),
		},
		"cases": cases,
	}, &clerk)
	require.Len(t, clerk, len(cases))

	auths := map[string]*clerkauth.Auth{}
	compared, signedIn := 0, 0
	for i, c := range cases {
		k := fmt.Sprint(c.AcceptsToken)
		if auths[k] == nil {
			auths[k] = iss.MustAuth(func(cfg *clerkauth.Config) {
				bapi.Configure(cfg)
				cfg.AcceptsToken = c.AcceptsToken
				cfg.MachineTokenCacheTTL = -1 // both sides see the Backend API as it is now
				cfg.BackendAPIRate = 1 << 20
			})
		}
		r := httptest.NewRequest("GET", "/api/data", nil)
		if c.Authorization != nil {
			r.Header.Set("Authorization", *c.Authorization)
		}
		id, err := authenticate(auths[k], r)
		if !c.compared {
			continue
		}
		compared++
		got, want := clerk[i], fmt.Sprintf("%s, accepting %v", c.name, c.AcceptsToken)
		if !assert.Equal(t, got.IsAuthenticated, err == nil, "%s: Clerk %+v, ours %v", want, got, err) {
			continue
		}
		if err != nil {
			var e *clerkauth.Error
			require.ErrorAs(t, err, &e)
			clerkReason := deref(got.Reason)
			if strings.HasPrefix(clerkReason, "session-token-expired-refresh-") {
				clerkReason = "session-token-expired-refresh"
			}
			assert.Equal(t, clerkReason, clerkReasonFor(e.Reason, c.machineJWT), "%s: reason (ours %s)", want, e.Reason)
			continue
		}
		signedIn++
		assert.Equal(t, deref(got.TokenType), string(id.TokenType), want)
		assert.Equal(t, deref(got.Subject), id.Subject, "%s: subject", want)
		if id.TokenType != clerkauth.SessionToken {
			assert.ElementsMatch(t, got.Scopes, id.Scopes, "%s: scopes", want)
			assert.Equal(t, deref(got.MachineID), id.MachineID, "%s: machine", want)
			assert.Equal(t, deref(got.ClientID), id.ClientID, "%s: client", want)
			assert.Equal(t, deref(got.OrgID), id.OrgID, "%s: org", want)
			assert.Equal(t, deref(got.Name), id.KeyName, "%s: key name", want)
		}
		assert.Equal(t, deref(got.UserID), id.UserID, "%s: user", want)
	}
	t.Logf("%d requests compared with @clerk/backend (%d signed in), %d header variants that differ on purpose", compared, signedIn, len(cases)-compared)
	assert.GreaterOrEqual(t, compared, 150)
	assert.GreaterOrEqual(t, signedIn, 25)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
