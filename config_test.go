package clerkauth_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

func TestNewRejectsMisconfiguration(t *testing.T) {
	iss := shared(t)
	pem := iss.MustPublicKeyPEM()
	pkTest := clerktest.PublishableKey("happy-otter-12.clerk.accounts.dev", false)
	pkLive := clerktest.PublishableKey("clerk.example.com", true)

	tests := []struct {
		name string
		cfg  clerkauth.Config
		want string // part of the message: the fix
	}{
		{"no key source", clerkauth.Config{}, "set CLERK_PUBLISHABLE_KEY"},
		{"only routes", clerkauth.Config{PublicRoutes: []string{"/"}}, "no way to verify tokens"},
		{"live secret, test publishable", clerkauth.Config{SecretKey: "sk_live_abc", PublishableKey: pkTest}, "mismatch causes silent failures"},
		{"test secret, live publishable", clerkauth.Config{SecretKey: "sk_test_abc", PublishableKey: pkLive}, "use keys from the same instance"},
		{"publishable key not base64", clerkauth.Config{PublishableKey: "pk_test_***"}, "Dashboard → API keys"},
		{"publishable key without $", clerkauth.Config{PublishableKey: "pk_test_" + "Y2xlcmsuZXhhbXBsZS5jb20="}, `does not end with "$"`},
		{"publishable key with a path", clerkauth.Config{PublishableKey: clerktest.PublishableKey("evil.example/x", false)}, "not a host name"},
		{"secret key as publishable key", clerkauth.Config{PublishableKey: "sk_test_abc"}, "never ship a secret key"},
		{"publishable key as secret key", clerkauth.Config{SecretKey: pkTest}, "holds a publishable key"},
		{"malformed secret key", clerkauth.Config{SecretKey: "abc"}, `must start with "sk_test_"`},
		{"JWT key not PEM", clerkauth.Config{JWTKey: "MIIBIjANBg"}, "not a PEM block"},
		{"JWT key is a private key", clerkauth.Config{JWTKey: privatePEM(t)}, "never a private key"},
		{"JWT key is not RSA", clerkauth.Config{JWTKey: ecPEM(t)}, "not an RSA key"},
		{"JWT key too small", clerkauth.Config{JWTKey: smallRSAPEM(t)}, "at least 2048 bits"},
		{"issuer over http", clerkauth.Config{IssuerDomain: "http://clerk.example.com"}, "must use https"},
		{"issuer with a path", clerkauth.Config{IssuerDomain: "https://clerk.example.com/x"}, "must be the Frontend API URL"},
		{"both route lists", clerkauth.Config{JWTKey: pem, PublicRoutes: []string{"/"}, ProtectedRoutes: []string{"/admin"}}, "not both"},
		{"invalid pattern", clerkauth.Config{JWTKey: pem, PublicRoutes: []string{"/sign-in(.*"}}, `"/sign-in(.*"`},
		{"sign-in page protected", clerkauth.Config{JWTKey: pem, SignInURL: "/sign-in"}, `add "/sign-in(.*)" to PublicRoutes`},
		{"sign-in page protected by ProtectedRoutes", clerkauth.Config{JWTKey: pem, SignInURL: "/sign-in", ProtectedRoutes: []string{"/(.*)"}}, "redirected in a loop"},
		{"sign-in URL relative", clerkauth.Config{JWTKey: pem, SignInURL: "sign-in"}, "must be an absolute URL or a path"},
		{"sign-in URL without a scheme", clerkauth.Config{JWTKey: pem, SignInURL: "//evil.example/sign-in"}, "must be an absolute URL or a path"},
		{"sign-in URL with a backslash", clerkauth.Config{JWTKey: pem, SignInURL: `https://app.example.com\@evil.example/`}, "must be an absolute URL or a path"},
		{"sign-up path with a backslash", clerkauth.Config{JWTKey: pem, SignUpURL: `/\evil.example`}, "must be an absolute URL or a path"},
		{"authorized party not an origin", clerkauth.Config{JWTKey: pem, AuthorizedParties: []string{"app.example.com"}}, "is not an origin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := clerkauth.New(tt.cfg)
			require.Error(t, err)
			assert.Nil(t, a)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "sk_live_abc", "errors never quote a secret")
		})
	}
	_, err := clerkauth.New(clerkauth.Config{})
	assert.True(t, errors.Is(err, clerkauth.ErrNoKeySource))
}

func TestNewAccepts(t *testing.T) {
	iss := shared(t)
	pk := clerktest.PublishableKey("happy-otter-12.clerk.accounts.dev", false)
	for name, cfg := range map[string]clerkauth.Config{
		"publishable key":              {PublishableKey: pk},
		"publishable key with padding": {PublishableKey: pk + ""},
		"unpadded publishable key":     {PublishableKey: trimPadding(pk)},
		"matching keys":                {PublishableKey: pk, SecretKey: "sk_test_abc"},
		"secret key only":              {SecretKey: "sk_live_abc"},
		"issuer domain without scheme": {IssuerDomain: "clerk.example.com"},
		"loopback issuer over http":    {IssuerDomain: "http://127.0.0.1:1234"},
		"sign-in page public":          {JWTKey: iss.MustPublicKeyPEM(), SignInURL: "/sign-in", PublicRoutes: []string{"/sign-in(.*)"}},
		"sign-in page elsewhere":       {JWTKey: iss.MustPublicKeyPEM(), SignInURL: "https://accounts.example.com/sign-in"},
		"protected routes":             {JWTKey: iss.MustPublicKeyPEM(), SignInURL: "/sign-in", ProtectedRoutes: []string{"/dashboard(.*)"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := clerkauth.New(cfg)
			require.NoError(t, err)
		})
	}
}

func TestAccountPortalRedirect(t *testing.T) {
	iss := shared(t)
	for host, want := range map[string]string{
		"happy-otter-12.clerk.accounts.dev": "https://happy-otter-12.accounts.dev/sign-in",
		"clerk.example.com":                 "https://accounts.example.com/sign-in",
	} {
		auth, err := clerkauth.New(clerkauth.Config{PublishableKey: clerktest.PublishableKey(host, true), JWTKey: iss.MustPublicKeyPEM()})
		require.NoError(t, err)
		r := httptest.NewRequest("GET", "https://app.example.com/dashboard", nil)
		r.Header.Set("Sec-Fetch-Dest", "document")
		res := serve(auth.Middleware(whoami), r)
		require.Equal(t, 307, res.status)
		loc, err := url.Parse(res.header.Get("Location"))
		require.NoError(t, err)
		assert.Equal(t, want, loc.Scheme+"://"+loc.Host+loc.Path)
		assert.Equal(t, "https://app.example.com/dashboard", loc.Query().Get("redirect_url"))
	}
}

func TestParsePublishableKey(t *testing.T) {
	host, live, err := clerkauth.ParsePublishableKey(clerktest.PublishableKey("clerk.example.com", true))
	require.NoError(t, err)
	assert.Equal(t, "clerk.example.com", host)
	assert.True(t, live)
	host, live, err = clerkauth.ParsePublishableKey(clerktest.PublishableKey("happy-otter-12.clerk.accounts.dev", false))
	require.NoError(t, err)
	assert.Equal(t, "happy-otter-12.clerk.accounts.dev", host)
	assert.False(t, live)
}

func TestConfigFromEnv(t *testing.T) {
	iss := shared(t)
	pk := clerktest.PublishableKey("happy-otter-12.clerk.accounts.dev", false)
	t.Setenv("CLERK_SECRET_KEY", "sk_test_abc")
	t.Setenv("CLERK_PUBLISHABLE_KEY", "")
	t.Setenv("NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY", pk)
	t.Setenv("CLERK_JWT_KEY", iss.MustPublicKeyPEM())
	t.Setenv("CLERK_JWT_ISSUER_DOMAIN", "")
	t.Setenv("CLERK_SIGN_IN_URL", "")
	t.Setenv("NEXT_PUBLIC_CLERK_SIGN_IN_URL", "https://accounts.example.com/sign-in")
	t.Setenv("CLERK_AUTHORIZED_PARTIES", " https://app.example.com, http://localhost:3000 ,")
	cfg := clerkauth.ConfigFromEnv()
	assert.Equal(t, "sk_test_abc", cfg.SecretKey)
	assert.Equal(t, pk, cfg.PublishableKey)
	assert.Equal(t, "https://accounts.example.com/sign-in", cfg.SignInURL)
	assert.Equal(t, []string{"https://app.example.com", "http://localhost:3000"}, cfg.AuthorizedParties)
	_, err := clerkauth.NewFromEnv()
	require.NoError(t, err)

	t.Setenv("CLERK_SECRET_KEY", "sk_live_abc")
	_, err = clerkauth.NewFromEnv()
	assert.ErrorContains(t, err, "same instance")
}

func trimPadding(s string) string {
	for len(s) > 0 && s[len(s)-1] == '=' {
		s = s[:len(s)-1]
	}
	return s
}

func privatePEM(t *testing.T) string {
	der, err := x509.MarshalPKCS8PrivateKey(otherKey)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func ecPEM(t *testing.T) string {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func smallRSAPEM(t *testing.T) string {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// deadlineRecorder stands in for http.DefaultTransport: it answers every
// request to Clerk and records how long each one was allowed to take.
type deadlineRecorder struct {
	mu        sync.Mutex
	allowance map[string]time.Duration // by URL path
	jwks      []byte
}

func (d *deadlineRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	deadline, ok := r.Context().Deadline()
	d.mu.Lock()
	if ok {
		d.allowance[r.URL.Path] = time.Until(deadline)
	} else {
		d.allowance[r.URL.Path] = -1
	}
	d.mu.Unlock()
	body := []byte(`{"id":"user_1","object":"user"}`)
	if strings.HasSuffix(r.URL.Path, "jwks.json") {
		body = d.jwks
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
}

// TestClerkTimeoutAppliesEverywhere: a ClerkTimeout above the 5s
// default bounds key fetches and CurrentUser's Backend API calls made with
// the default HTTP client; it used to be cut to 5s by a client built with
// the constant.
func TestClerkTimeoutAppliesEverywhere(t *testing.T) {
	iss := shared(t)
	rec := &deadlineRecorder{allowance: map[string]time.Duration{}, jwks: iss.MustJWKS()}
	saved := http.DefaultTransport
	http.DefaultTransport = rec
	t.Cleanup(func() { http.DefaultTransport = saved })

	auth, err := clerkauth.New(clerkauth.Config{
		IssuerDomain: "https://clerk.example.test",
		SecretKey:    "sk_test_x",
		ClerkTimeout: 8 * time.Second,
	})
	require.NoError(t, err)
	token := iss.MustSign(map[string]any{"iss": "https://clerk.example.test", "sub": "user_1", "exp": time.Now().Add(time.Minute).Unix()})
	id, err := auth.VerifyToken(t.Context(), token)
	require.NoError(t, err)
	_, err = auth.CurrentUser(clerkauth.ContextWithIdentity(t.Context(), id))
	require.NoError(t, err)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.allowance, 2, "%v", rec.allowance)
	for path, d := range rec.allowance {
		assert.Greater(t, d, 7*time.Second, "%s was allowed %v, not the configured 8s", path, d)
		assert.LessOrEqual(t, d, 8*time.Second, path)
	}
}

// TestAuthorizedPartiesAreOrigins: an entry is compared as the origin a
// browser (and so Clerk's azp) spells: any case, a trailing slash or a
// default port written out make no difference.
func TestAuthorizedPartiesAreOrigins(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	token := iss.MustSessionToken("user_1", clerktest.WithAuthorizedParty("https://app.example.com"))
	for _, entry := range []string{"https://app.example.com", "HTTPS://App.Example.COM/", "https://app.example.com:443"} {
		a := iss.MustAuth(func(c *clerkauth.Config) { c.AuthorizedParties = []string{entry} })
		_, err := a.VerifyToken(context.Background(), token)
		assert.NoError(t, err, entry)
	}
	a := iss.MustAuth(func(c *clerkauth.Config) { c.AuthorizedParties = []string{"https://app.example.com:8443"} })
	_, err := a.VerifyToken(context.Background(), token)
	assert.Error(t, err, "another port is another origin")
	_, err = clerkauth.New(clerkauth.Config{JWTKey: iss.MustPublicKeyPEM(), AuthorizedParties: []string{"https://app.example.com/?x=1"}})
	assert.ErrorContains(t, err, "is not an origin")
}
