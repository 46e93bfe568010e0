package clerkauth_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/internal/testutil"
)

// Shared fixtures: RSA key generation is slow, so tests that only read an
// issuer share one. Tests that change an issuer's keys make their own.
var (
	sharedOnce   sync.Once
	sharedIssuer *clerktest.Issuer
	otherKey     *rsa.PrivateKey
)

type fixtureTB struct{ testing.TB }

func (fixtureTB) Cleanup(func()) {} // the shared issuer lives for the whole test binary

func shared(t *testing.T) *clerktest.Issuer {
	t.Helper()
	sharedOnce.Do(func() {
		sharedIssuer = clerktest.NewIssuer(fixtureTB{t})
		var err error
		otherKey, err = rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
	})
	return sharedIssuer
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64JSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b64(b)
}

func reasonOf(t *testing.T, err error) clerkauth.Reason {
	t.Helper()
	var e *clerkauth.Error
	require.True(t, errors.As(err, &e), "error %v is not a *clerkauth.Error", err)
	return e.Reason
}

func TestVerifySessionToken(t *testing.T) {
	iss := shared(t)
	auth := iss.MustAuth(nil)
	token := iss.MustSessionToken("user_2abc",
		clerktest.WithOrg("org_1", "acme", "admin", "org:invoices:create", "org:invoices:read", "org:reports:read"),
		clerktest.WithSessionID("sess_9"))

	id, err := auth.VerifyToken(context.Background(), token)
	require.NoError(t, err)
	assert.Equal(t, "user_2abc", id.UserID)
	assert.Equal(t, "sess_9", id.SessionID)
	assert.Equal(t, iss.URL, id.Issuer)
	assert.Equal(t, iss.URL+"|user_2abc", id.TokenIdentifier)
	assert.Equal(t, "org_1", id.OrgID)
	assert.Equal(t, "acme", id.OrgSlug)
	assert.Equal(t, "org:admin", id.OrgRole)
	assert.ElementsMatch(t, []string{"org:invoices:create", "org:invoices:read", "org:reports:read"}, id.OrgPermissions)
	assert.True(t, id.HasRole("org:admin"))
	assert.True(t, id.HasRole("admin"), "the org: prefix is added when missing, as in Clerk")
	assert.False(t, id.HasRole("org:member"))
	assert.True(t, id.HasPermission("org:reports:read"))
	assert.False(t, id.HasPermission("org:reports:create"))
	assert.Equal(t, 2, id.Version)
	assert.Equal(t, "active", id.SessionStatus)
	assert.Equal(t, "http://localhost:3000", id.AuthorizedParty)
	assert.WithinDuration(t, time.Now().Add(time.Minute), id.ExpiresAt, 5*time.Second)
	assert.WithinDuration(t, time.Now(), id.IssuedAt, 5*time.Second)
	assert.Equal(t, "user_2abc", id.Claims["sub"])
	assert.False(t, id.Impersonated())
}

func TestVerifyOrgClaims(t *testing.T) {
	iss := shared(t)
	auth := iss.MustAuth(nil)
	ctx := context.Background()

	t.Run("v1", func(t *testing.T) {
		id, err := auth.VerifyToken(ctx, iss.MustSessionToken("user_1", clerktest.WithOrgV1("org_1", "acme", "org:member", "org:a:read")))
		require.NoError(t, err)
		assert.Equal(t, 1, id.Version)
		assert.Equal(t, "org:member", id.OrgRole)
		assert.Equal(t, []string{"org:a:read"}, id.OrgPermissions)
	})
	t.Run("v2 bitmap wider than 64 bits", func(t *testing.T) {
		perms := make([]string, 70)
		for i := range perms {
			perms[i] = "p" + strings.Repeat("x", i)
		}
		// Permissions 0, 64 and 69 on the first org feature; the
		// user-scoped feature does not count.
		bits := new(big.Int)
		for _, b := range []int{0, 64, 69} {
			bits.SetBit(bits, b, 1)
		}
		token := iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{
			"v":   2,
			"fea": "u:profile,o:billing, o:reports",
			"o":   map[string]any{"id": "org_1", "slg": "acme", "rol": "admin", "per": strings.Join(perms, ","), "fpm": bits.String() + ",2"},
		}))
		id, err := auth.VerifyToken(ctx, token)
		require.NoError(t, err)
		assert.Equal(t, []string{"org:billing:" + perms[0], "org:billing:" + perms[64], "org:billing:" + perms[69], "org:reports:" + perms[1]}, id.OrgPermissions)
	})
	t.Run("v2 without organization", func(t *testing.T) {
		id, err := auth.VerifyToken(ctx, iss.MustSessionToken("user_1"))
		require.NoError(t, err)
		assert.Empty(t, id.OrgID)
		assert.Empty(t, id.OrgRole)
		assert.Empty(t, id.OrgPermissions)
		assert.False(t, id.HasRole(""), "an empty role never matches")
	})
	t.Run("actor", func(t *testing.T) {
		id, err := auth.VerifyToken(ctx, iss.MustSessionToken("user_1", clerktest.WithActor("user_admin")))
		require.NoError(t, err)
		assert.True(t, id.Impersonated())
		assert.Equal(t, "user_admin", id.Actor["sub"])
	})
	t.Run("template token", func(t *testing.T) {
		a := iss.MustAuth(func(c *clerkauth.Config) { c.Audience = []string{"convex"} })
		id, err := a.VerifyToken(ctx, iss.MustTemplateToken("user_1", "convex", map[string]any{"email": "ada@example.com", "name": "Ada Lovelace", "plan": "pro"}))
		require.NoError(t, err)
		assert.Equal(t, "ada@example.com", id.Email)
		assert.Equal(t, "Ada Lovelace", id.Name)
		assert.Equal(t, []string{"convex"}, id.Audience)
		assert.Equal(t, "pro", id.Claims["plan"])
		assert.Empty(t, id.SessionID)
	})
}

// TestVerifyRejects: every row is a token that must be refused, and the
// reason it must be refused with.
func TestVerifyRejects(t *testing.T) {
	iss := shared(t)
	now := time.Now()
	good := iss.MustSessionToken("user_1")
	parts := strings.Split(good, ".")
	other := iss.MustSessionToken("user_2")
	otherParts := strings.Split(other, ".")
	header := func(h map[string]any) string { return b64JSON(t, h) }
	rsHeader := header(map[string]any{"alg": "RS256", "typ": "JWT", "kid": iss.KeyID()})
	hs256 := func() string {
		h := header(map[string]any{"alg": "HS256", "typ": "JWT", "kid": iss.KeyID()})
		mac := hmac.New(sha256.New, []byte(iss.MustPublicKeyPEM()))
		mac.Write([]byte(h + "." + parts[1]))
		return h + "." + parts[1] + "." + b64(mac.Sum(nil))
	}
	claims := func(edit map[string]any) string { return iss.MustSessionToken("user_1", clerktest.WithClaims(edit)) }

	tests := []struct {
		name   string
		token  string
		reason clerkauth.Reason
		edit   func(*clerkauth.Config)
	}{
		{"empty", "", clerkauth.ReasonSessionTokenMissing, nil},
		{"alg none", header(map[string]any{"alg": "none", "typ": "JWT"}) + "." + parts[1] + ".", clerkauth.ReasonTokenInvalidAlgorithm, nil},
		{"HS256 keyed with the public key", hs256(), clerkauth.ReasonTokenInvalidAlgorithm, nil},
		{"RS512", header(map[string]any{"alg": "RS512", "kid": iss.KeyID()}) + "." + parts[1] + "." + parts[2], clerkauth.ReasonTokenInvalidAlgorithm, nil},
		{"typ not JWT", header(map[string]any{"alg": "RS256", "typ": "JOSE", "kid": iss.KeyID()}) + "." + parts[1] + "." + parts[2], clerkauth.ReasonTokenInvalid, nil},
		{"unknown kid", iss.MustSessionToken("user_1", clerktest.WithKeyID("ins_unknown")), clerkauth.ReasonJWKKidMismatch, nil},
		{"empty kid", iss.MustSessionToken("user_1", clerktest.WithKeyID("")), clerkauth.ReasonJWKKidMismatch, nil},
		{"kid with path characters", iss.MustSessionToken("user_1", clerktest.WithKeyID("../../etc/passwd")), clerkauth.ReasonJWKKidMismatch, nil},
		{"signed by another key", iss.MustSessionToken("user_1", clerktest.WithSigningKey(otherKey)), clerkauth.ReasonTokenInvalidSignature, nil},
		{"payload swapped", parts[0] + "." + otherParts[1] + "." + parts[2], clerkauth.ReasonTokenInvalidSignature, nil},
		{"signature stripped", parts[0] + "." + parts[1] + ".", clerkauth.ReasonTokenInvalidSignature, nil},
		{"truncated", good[:len(good)-10], clerkauth.ReasonTokenInvalidSignature, nil},
		{"two segments", parts[0] + "." + parts[1], clerkauth.ReasonTokenInvalid, nil},
		{"four segments", good + "." + parts[2], clerkauth.ReasonTokenInvalid, nil},
		{"not base64url", parts[0] + ".!!!." + parts[2], clerkauth.ReasonTokenInvalid, nil},
		{"padding", parts[0] + "." + parts[1] + "==." + parts[2], clerkauth.ReasonTokenInvalid, nil},
		{"whitespace inside", parts[0] + ". " + parts[1] + "." + parts[2], clerkauth.ReasonTokenInvalid, nil},
		{"not JSON", rsHeader + "." + b64([]byte("hello")) + "." + parts[2], clerkauth.ReasonTokenInvalidSignature, nil},
		{"too large", strings.Repeat("a", 16<<10+1), clerkauth.ReasonTokenInvalid, nil},
		{"exp missing", claims(map[string]any{"exp": nil}), clerkauth.ReasonTokenInvalid, nil},
		{"exp in the past", claims(map[string]any{"exp": now.Add(-time.Minute).Unix()}), clerkauth.ReasonTokenExpired, nil},
		{"exp a string", claims(map[string]any{"exp": "1999999999"}), clerkauth.ReasonTokenInvalid, nil},
		{"exp huge", claims(map[string]any{"exp": 1e300}), clerkauth.ReasonTokenInvalid, nil},
		{"exp negative", claims(map[string]any{"exp": -1}), clerkauth.ReasonTokenInvalid, nil},
		{"nbf in the future", claims(map[string]any{"nbf": now.Add(time.Minute).Unix()}), clerkauth.ReasonTokenNotActiveYet, nil},
		{"iat in the future", claims(map[string]any{"iat": now.Add(time.Minute).Unix()}), clerkauth.ReasonTokenIatInTheFuture, nil},
		{"iss of another instance", claims(map[string]any{"iss": "https://clerk.other.example"}), clerkauth.ReasonTokenInvalidIssuer, nil},
		{"iss with a trailing slash", claims(map[string]any{"iss": iss.URL + "/"}), clerkauth.ReasonTokenInvalidIssuer, nil},
		{"iss in another case", claims(map[string]any{"iss": strings.ToUpper(iss.URL)}), clerkauth.ReasonTokenInvalidIssuer, nil},
		{"iss missing", claims(map[string]any{"iss": nil}), clerkauth.ReasonTokenInvalid, nil},
		{"sub missing", claims(map[string]any{"sub": nil}), clerkauth.ReasonTokenInvalid, nil},
		{"sub a number", claims(map[string]any{"sub": 42}), clerkauth.ReasonTokenInvalid, nil},
		{"sub empty", claims(map[string]any{"sub": ""}), clerkauth.ReasonTokenInvalid, nil},
		{"sid a number", claims(map[string]any{"sid": 1}), clerkauth.ReasonTokenInvalid, nil},
		{"org_permissions not strings", claims(map[string]any{"v": nil, "org_permissions": []int{1}}), clerkauth.ReasonTokenInvalid, nil},
		{"o not an object", claims(map[string]any{"o": "org_1"}), clerkauth.ReasonTokenInvalid, nil},
		{"fea item without a scope, with an organization", claims(map[string]any{"fea": "o:a,reports", "o": map[string]any{"id": "org_1", "per": "read", "fpm": "1"}}), clerkauth.ReasonTokenInvalid, nil},
		{"fpm not a string", claims(map[string]any{"fea": "o:a", "o": map[string]any{"id": "org_1", "per": "read", "fpm": []any{3}}}), clerkauth.ReasonTokenInvalid, nil},
		{"pending session", iss.MustSessionToken("user_1", clerktest.WithPending()), clerkauth.ReasonSessionPending, nil},
		{"azp missing", claims(map[string]any{"azp": nil}), clerkauth.ReasonTokenInvalidAuthorizedParties,
			func(c *clerkauth.Config) { c.AuthorizedParties = []string{"http://localhost:3000"} }},
		{"azp not listed", claims(map[string]any{"azp": "https://evil.example"}), clerkauth.ReasonTokenInvalidAuthorizedParties,
			func(c *clerkauth.Config) { c.AuthorizedParties = []string{"http://localhost:3000"} }},
		{"aud in another case", iss.MustTemplateToken("user_1", "Convex", nil), clerkauth.ReasonTokenInvalidAudience,
			func(c *clerkauth.Config) { c.Audience = []string{"convex"} }},
		{"aud not listed", iss.MustTemplateToken("user_1", "supabase", nil), clerkauth.ReasonTokenInvalidAudience,
			func(c *clerkauth.Config) { c.Audience = []string{"convex"} }},
		{"aud without Audience", iss.MustTemplateToken("user_1", "convex", nil), clerkauth.ReasonTokenInvalidAudience, nil},
		{"aud a number", claims(map[string]any{"aud": 7}), clerkauth.ReasonTokenInvalid, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auth := iss.MustAuth(tt.edit)
			id, err := auth.VerifyToken(context.Background(), tt.token)
			require.Error(t, err)
			assert.Nil(t, id)
			assert.Equal(t, tt.reason, reasonOf(t, err), err.Error())
			assert.True(t, errors.Is(err, &clerkauth.Error{Reason: tt.reason}))
			if len(tt.token) > 20 {
				assert.NotContains(t, err.Error(), tt.token[20:40], "errors never quote the token")
			}

			// ExplainToken (clerkauth doctor) reaches the same verdict.
			var first clerkauth.Reason
			for _, c := range iss.MustAuth(tt.edit).ExplainToken(context.Background(), tt.token) {
				if !c.OK && first == "" {
					first = c.Reason
				}
			}
			assert.Equal(t, tt.reason, first, "ExplainToken's first failure")
		})
	}
}

func TestVerifyDuplicateClaims(t *testing.T) {
	iss := shared(t)
	exp := time.Now().Add(time.Minute).Unix()
	payload := `{"iss":"` + iss.URL + `","sub":"user_1","sub":"user_admin","exp":` + jsonInt(exp) + `}`
	token := signRaw(t, iss, payload)
	_, err := iss.MustAuth(nil).VerifyToken(context.Background(), token)
	assert.Equal(t, clerkauth.ReasonTokenInvalid, reasonOf(t, err))

	trailing := `{"iss":"` + iss.URL + `","sub":"user_1","exp":` + jsonInt(exp) + `} {}`
	_, err = iss.MustAuth(nil).VerifyToken(context.Background(), signRaw(t, iss, trailing))
	assert.Equal(t, clerkauth.ReasonTokenInvalid, reasonOf(t, err))
}

func TestVerifyClockSkewAndFractionalDates(t *testing.T) {
	iss := shared(t)
	now := time.Now()
	auth := iss.MustAuth(nil)
	// Within the default 5s skew: accepted.
	_, err := auth.VerifyToken(context.Background(), iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{"exp": now.Add(-2 * time.Second).Unix()})))
	assert.NoError(t, err)
	_, err = auth.VerifyToken(context.Background(), iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{"iat": now.Add(2 * time.Second).Unix()})))
	assert.NoError(t, err)
	// A fractional NumericDate is valid JSON and valid RFC 7519.
	id, err := auth.VerifyToken(context.Background(), iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{"exp": float64(now.Unix()) + 30.5})))
	require.NoError(t, err)
	assert.Equal(t, 500*time.Millisecond, time.Duration(id.ExpiresAt.Nanosecond()))
	// Without skew, 2s late is late.
	strict := iss.MustAuth(func(c *clerkauth.Config) { c.ClockSkew = -1 })
	_, err = strict.VerifyToken(context.Background(), iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{"exp": now.Add(-2 * time.Second).Unix()})))
	assert.Equal(t, clerkauth.ReasonTokenExpired, reasonOf(t, err))
}

func TestVerifyTokenCache(t *testing.T) {
	iss := shared(t)
	clock := testutil.NewFakeClock(time.Now())
	auth := iss.MustAuth(func(c *clerkauth.Config) { c.Now = clock.Now })
	token := iss.MustSessionToken("user_1")

	first, err := auth.VerifyToken(context.Background(), token)
	require.NoError(t, err)
	second, err := auth.VerifyToken(context.Background(), token)
	require.NoError(t, err)
	assert.Same(t, first, second, "a token seen before is served from the cache")

	// exp is re-checked on every hit: the cache never extends a token's life.
	clock.Advance(2 * time.Minute)
	_, err = auth.VerifyToken(context.Background(), token)
	assert.Equal(t, clerkauth.ReasonTokenExpired, reasonOf(t, err))

	// A different token with the same payload but a forged signature is a
	// different cache key.
	clock.Set(time.Now())
	p := strings.Split(token, ".")
	forged := p[0] + "." + p[1] + "." + b64(make([]byte, 256))
	_, err = auth.VerifyToken(context.Background(), token)
	require.NoError(t, err)
	_, err = auth.VerifyToken(context.Background(), forged)
	assert.Equal(t, clerkauth.ReasonTokenInvalidSignature, reasonOf(t, err))

	noCache := iss.MustAuth(func(c *clerkauth.Config) { c.TokenCacheSize = -1 })
	a, err := noCache.VerifyToken(context.Background(), token)
	require.NoError(t, err)
	b, err := noCache.VerifyToken(context.Background(), token)
	require.NoError(t, err)
	assert.NotSame(t, a, b, "without the cache every call verifies")
	assert.Equal(t, a.UserID, b.UserID)
}

func TestVerifyTokenCacheIsBounded(t *testing.T) {
	iss := shared(t)
	auth := iss.MustAuth(func(c *clerkauth.Config) { c.TokenCacheSize = 4 })
	var tokens []string
	for i := 0; i < 20; i++ {
		tokens = append(tokens, iss.MustSessionToken("user_1"))
	}
	for _, tok := range tokens {
		_, err := auth.VerifyToken(context.Background(), tok)
		require.NoError(t, err)
	}
	// Every token still verifies, cached or not.
	for _, tok := range tokens {
		_, err := auth.VerifyToken(context.Background(), tok)
		require.NoError(t, err)
	}
}

func TestJWTKeyIsNetworkless(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	auth, err := clerkauth.New(clerkauth.Config{JWTKey: iss.MustPublicKeyPEM(), IssuerDomain: iss.URL})
	require.NoError(t, err)
	id, err := auth.VerifyToken(context.Background(), iss.MustSessionToken("user_1"))
	require.NoError(t, err)
	assert.Equal(t, "user_1", id.UserID)
	assert.Zero(t, iss.JWKSFetches(), "CLERK_JWT_KEY needs no key fetch")

	// Escaped newlines, as .env files hold them, are accepted.
	_, err = clerkauth.New(clerkauth.Config{JWTKey: strings.ReplaceAll(iss.MustPublicKeyPEM(), "\n", `\n`), IssuerDomain: iss.URL})
	require.NoError(t, err)

	// Without an issuer, only Clerk's issuer forms are accepted.
	anyIss, err := clerkauth.New(clerkauth.Config{JWTKey: iss.MustPublicKeyPEM()})
	require.NoError(t, err)
	_, err = anyIss.VerifyToken(context.Background(), iss.MustSessionToken("user_1"))
	assert.Equal(t, clerkauth.ReasonTokenInvalidIssuer, reasonOf(t, err), "a loopback issuer is not a Clerk issuer")
	for _, good := range []string{"https://clerk.example.com", "https://happy-otter-12.clerk.accounts.dev"} {
		_, err = anyIss.VerifyToken(context.Background(), iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{"iss": good})))
		assert.NoError(t, err, good)
	}
	for _, bad := range []string{"http://clerk.example.com", "https://evil.example.com", "https://clerk.example.com/", "https://clerk.example.com/x"} {
		_, err = anyIss.VerifyToken(context.Background(), iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{"iss": bad})))
		assert.Equal(t, clerkauth.ReasonTokenInvalidIssuer, reasonOf(t, err), bad)
	}
}

func TestSessionClaimsForClerkSDK(t *testing.T) {
	iss := shared(t)
	id, err := iss.MustAuth(nil).VerifyToken(context.Background(), iss.MustSessionToken("user_1", clerktest.WithOrg("org_1", "acme", "admin", "org:a:read")))
	require.NoError(t, err)
	ctx := clerkauth.ContextWithIdentity(context.Background(), id)
	sc, ok := clerk.SessionClaimsFromContext(ctx)
	require.True(t, ok)
	assert.Equal(t, "user_1", sc.Subject)
	assert.Equal(t, "sess_user_1", sc.SessionID)
	assert.Equal(t, "org:admin", sc.ActiveOrganizationRole)
	assert.True(t, sc.HasPermission("org:a:read"))
	require.NotNil(t, sc.Expiry)
	assert.Equal(t, id.ExpiresAt.Unix(), *sc.Expiry)

	got, ok := clerkauth.IdentityFromContext(ctx)
	require.True(t, ok)
	assert.Same(t, id, got)
	_, ok = clerkauth.IdentityFromContext(context.Background())
	assert.False(t, ok)
	_, ok = clerkauth.IdentityFromContext(clerkauth.ContextWithIdentity(context.Background(), nil))
	assert.False(t, ok, "a nil identity is not signed in")
}

func signRaw(t *testing.T, iss *clerktest.Issuer, payload string) string {
	t.Helper()
	return clerktest.SignRS256(t, iss.PrivateKey(), iss.KeyID(), []byte(payload))
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
