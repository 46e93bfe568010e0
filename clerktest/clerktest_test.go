package clerktest_test

import (
	"context"
	"encoding/json"
	"net/http"
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
	auth := iss.Auth(func(c *clerkauth.Config) { c.AuthorizedParties = []string{"https://app.example.com"} })
	ctx := context.Background()

	token := iss.SessionToken("user_1",
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

	_, err = auth.VerifyToken(ctx, iss.SessionToken("user_1", clerktest.WithAuthorizedParty("https://app.example.com"), clerktest.WithExpiry(-time.Minute)))
	assert.ErrorIs(t, err, clerkauth.ErrTokenExpired)

	tmpl := iss.Auth(func(c *clerkauth.Config) { c.Audience = []string{"convex"} })
	id, err = tmpl.VerifyToken(ctx, iss.TemplateToken("user_1", "convex", map[string]any{"email": "a@example.com", "name": "A"}))
	require.NoError(t, err)
	assert.Equal(t, "a@example.com", id.Email)

	assert.Panics(t, func() { iss.SessionToken("user_1", clerktest.WithOrg("org_1", "acme", "admin", "invoices:create")) })
}

func TestIssuerKeys(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	first := iss.KeyID()
	_, err := clerkauth.ParseJWTKey(iss.PublicKeyPEM())
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

	second := iss.Rotate()
	assert.NotEqual(t, first, second)
	assert.Equal(t, second, iss.KeyID())
	assert.Contains(t, string(iss.JWKS()), first)
	iss.RemoveOldKeys()
	assert.NotContains(t, string(iss.JWKS()), first)
	assert.Contains(t, string(iss.JWKS()), second)

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

	req := clerktest.NewWebhookRequest(t, secret, "msg_2", now, "user.deleted", []byte(`{"id":"user_1","deleted":true}`))
	assert.Equal(t, "POST", req.Method)
	assert.Equal(t, "msg_2", req.Header.Get("svix-id"))
}
