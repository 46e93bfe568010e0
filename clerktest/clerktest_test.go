package clerktest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

func TestIssuerMintsTokensTheMiddlewareAccepts(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	auth := iss.MustAuth(func(c *clerkauth.Config) { c.AuthorizedParties = []string{"https://app.example.com"} })
	ctx := context.Background()

	token := iss.MustSessionToken("user_1",
		clerktest.WithAuthorizedParty("https://app.example.com"),
		clerktest.WithOrg("org_1", "acme", "admin", "org:invoices:create", "org:invoices:read", "org:team:manage"),
		clerktest.WithActor("user_support"),
		clerktest.WithExpiry(10*time.Minute))
	id, err := auth.VerifyToken(ctx, token)
	require.NoError(t, err)
	assert.Equal(t, "org:admin", id.OrgRole)
	assert.ElementsMatch(t, []string{"org:invoices:create", "org:invoices:read", "org:team:manage"}, id.OrgPermissions)
	assert.Equal(t, "user_support", id.Actor["sub"])
	assert.WithinDuration(t, time.Now().Add(10*time.Minute), id.ExpiresAt, 5*time.Second)

	_, err = auth.VerifyToken(ctx, iss.MustSessionToken("user_1", clerktest.WithAuthorizedParty("https://app.example.com"), clerktest.WithExpiry(-time.Minute)))
	assert.ErrorIs(t, err, clerkauth.ErrTokenExpired)

	tmpl := iss.MustAuth(func(c *clerkauth.Config) { c.Audience = []string{"convex"} })
	id, err = tmpl.VerifyToken(ctx, iss.MustTemplateToken("user_1", "convex", map[string]any{"email": "a@example.com", "name": "A"}))
	require.NoError(t, err)
	assert.Equal(t, "a@example.com", id.Email)

	assert.Panics(t, func() { iss.MustSessionToken("user_1", clerktest.WithOrg("org_1", "acme", "admin", "invoices")) }, "a permission needs a feature")
}

func TestIssuerKeys(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	first := iss.KeyID()
	_, err := clerkauth.ParseJWTKey(iss.MustPublicKeyPEM())
	require.NoError(t, err)

	res, err := iss.Server.Client().Get(iss.URL + "/.well-known/jwks.json")
	require.NoError(t, err)
	defer res.Body.Close()
	var set struct {
		Keys []struct{ Kid, Alg, Use, Kty string }
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&set))
	require.Len(t, set.Keys, 1)
	assert.Equal(t, first, set.Keys[0].Kid)
	assert.Equal(t, "RS256", set.Keys[0].Alg)
	assert.Equal(t, "RSA", set.Keys[0].Kty)
	assert.Equal(t, 1, iss.JWKSFetches())

	second := iss.MustRotate()
	assert.NotEqual(t, first, second)
	assert.Equal(t, second, iss.KeyID())
	assert.Contains(t, string(iss.MustJWKS()), first)
	iss.RemoveOldKeys()
	assert.NotContains(t, string(iss.MustJWKS()), first)
	assert.Contains(t, string(iss.MustJWKS()), second)

	res, err = iss.Server.Client().Get(iss.URL + "/other")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
}

func TestSignWebhookIsSvixCompatible(t *testing.T) {
	secret := clerktest.NewWebhookSecret()
	now := time.Now()
	body := clerktest.Envelope(t, "user.created", map[string]any{"id": "user_1"}, now)
	wh, err := svix.NewWebhook(secret)
	require.NoError(t, err)
	assert.NoError(t, wh.Verify(body, clerktest.SignWebhook(t, secret, "msg_1", now, body)))

	var env map[string]any
	require.NoError(t, json.Unmarshal(body, &env))
	assert.Equal(t, "event", env["object"])
	assert.Equal(t, "user.created", env["type"])
	assert.Equal(t, float64(now.UnixMilli()), env["timestamp"])

	req := clerktest.NewWebhookRequest(t, "/api/webhooks/clerk", secret, "msg_2", now, "user.deleted", []byte(`{"id":"user_1","deleted":true}`))
	assert.Equal(t, "POST", req.Method)
	assert.Equal(t, "msg_2", req.Header.Get("svix-id"))
}

// TestProductionBinariesDoNotLinkTesting: the quickstart's local mode and
// the CLI use internal/issuer, not clerktest (nor net/http/httptest, which
// imports testing since Go 1.27), so their binaries do not contain the
// testing package. CI runs it on both Go versions.
func TestProductionBinariesDoNotLinkTesting(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../examples/quickstart", "../cmd/clerkauth", "..").CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "net/http", "go list answered")
	assert.NotContains(t, deps, "testing")
	assert.NotContains(t, deps, "github.com/clerkauth/clerkauth/clerktest")
}

// TestIssuerOutlivesItsTest: an issuer keeps no testing.TB, so a test that
// uses a shared issuer after the test that created it has ended gets an
// error back instead of crashing the binary ("Fail in goroutine after …
// has completed").
func TestIssuerOutlivesItsTest(t *testing.T) {
	var iss *clerktest.Issuer
	t.Run("creates", func(t *testing.T) { iss = clerktest.NewIssuer(t) })
	t.Run("uses after", func(t *testing.T) {
		_, err := iss.Auth(func(c *clerkauth.Config) { c.PublicRoutes = []string{"dashboard(.*)"} })
		assert.ErrorContains(t, err, "not regular expressions")
		assert.NotEmpty(t, iss.MustSessionToken("user_1"))
	})
}

// TestConfigBehavesLikeProduction: Config() has an instance, so a browser
// sent to a protected page is redirected to the Account Portal's sign-in
// page, as in production.
func TestConfigBehavesLikeProduction(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	h := iss.MustAuth(nil).Middleware(http.NotFoundHandler())
	r := httptest.NewRequest("GET", "https://app.example.com/dashboard", nil)
	r.Header.Set("Sec-Fetch-Dest", "document")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	assert.Equal(t, http.StatusTemporaryRedirect, rec.Code)
	assert.Equal(t, "https://accounts.clerktest.example/sign-in?redirect_url="+url.QueryEscape("https://app.example.com/dashboard"), rec.Header().Get("Location"))
}

// TestWithOrgTakesClerksForms: role and permissions are written with or
// without the org: prefix, as clerkauth's checks take them.
func TestWithOrgTakesClerksForms(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	auth := iss.MustAuth(nil)
	for _, opt := range []clerktest.TokenOption{
		clerktest.WithOrg("org_1", "acme", "admin", "invoices:create", "reports:read"),
		clerktest.WithOrg("org_1", "acme", "org:admin", "org:invoices:create", "org:reports:read"),
	} {
		id, err := auth.VerifyToken(t.Context(), iss.MustSessionToken("user_1", opt))
		require.NoError(t, err)
		assert.Equal(t, "org:admin", id.OrgRole)
		assert.True(t, id.HasPermission("invoices:create"))
		assert.ElementsMatch(t, []string{"org:invoices:create", "org:reports:read"}, id.OrgPermissions)
	}
}
