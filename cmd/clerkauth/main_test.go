package main

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

func runDoctor(t *testing.T, vars map[string]string, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"doctor"}, args...), func(k string) string { return vars[k] }, &out, &errOut)
	return code, out.String() + errOut.String()
}

func TestDoctorEnvironment(t *testing.T) {
	code, out := runDoctor(t, nil)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "FAIL  clerkauth: no way to verify tokens")

	code, out = runDoctor(t, map[string]string{"CLERK_SECRET_KEY": "sk_live_supersecret", "CLERK_PUBLISHABLE_KEY": clerktest.PublishableKey("happy-otter-12.clerk.accounts.dev", false),
		"CLERK_MACHINE_SECRET_KEY": "ak_machinesupersecret", "CLERK_PROXY_URL": "https://app.example.com/__clerk"})
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "ok    CLERK_SECRET_KEY is set: sk_live_… (19 characters), a production instance")
	assert.Contains(t, out, "ok    CLERK_MACHINE_SECRET_KEY is set (21 characters): opaque M2M tokens are verified with it")
	assert.Contains(t, out, "CLERK_PROXY_URL is https://app.example.com/__clerk: handshakes go through this proxy")
	assert.Contains(t, out, "Frontend API happy-otter-12.clerk.accounts.dev (issuer https://happy-otter-12.clerk.accounts.dev)")
	assert.Contains(t, out, "mismatch causes silent failures")
	assert.NotContains(t, out, "supersecret", "secrets are never printed")

	code, out = runDoctor(t, map[string]string{"CLERK_PUBLISHABLE_KEY": "pk_test_garbage!"})
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "CLERK_PUBLISHABLE_KEY is malformed")

	code, out = runDoctor(t, map[string]string{"CLERK_JWT_KEY": "-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----", "CLERK_WEBHOOK_SIGNING_SECRET": "whsec_%%%"})
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "CLERK_JWT_KEY")
	assert.Contains(t, out, "webhook signing secret is malformed")

	code, out = runDoctor(t, nil, "--bogus")
	assert.Equal(t, 2, code)
	assert.Contains(t, out, "flag provided but not defined: -bogus")
	assert.Contains(t, out, "clerkauth doctor [flags]")
}

// TestDoctorAgreesWithNew: doctor judges keys and secrets with the
// library's own parsing, so it never calls "ok" what New refuses.
func TestDoctorAgreesWithNew(t *testing.T) {
	for _, tt := range []struct {
		name string
		vars map[string]string
		want string
	}{
		{"secret key with nothing after the prefix", map[string]string{"CLERK_SECRET_KEY": "sk_test_"}, "FAIL  clerkauth: CLERK_SECRET_KEY is malformed"},
		{"publishable key as secret key", map[string]string{"CLERK_SECRET_KEY": clerktest.PublishableKey("x.clerk.accounts.dev", false)}, "FAIL  clerkauth: CLERK_SECRET_KEY holds a publishable key"},
		{"webhook secret without whsec_", map[string]string{"CLERK_WEBHOOK_SIGNING_SECRET": strings.TrimPrefix(clerktest.NewWebhookSecret(), "whsec_")}, "does not start with whsec_"},
		{"a 1-byte webhook key", map[string]string{"CLERK_WEBHOOK_SIGNING_SECRET": "whsec_QQ=="}, "too short"},
		{"a satellite without its domain", map[string]string{"CLERK_PUBLISHABLE_KEY": clerktest.PublishableKey("clerk.primary.example", true), "CLERK_IS_SATELLITE": "true"},
			"FAIL  clerkauth: a satellite needs its Domain (CLERK_DOMAIN"},
		{"a domain without the satellite", map[string]string{"CLERK_PUBLISHABLE_KEY": clerktest.PublishableKey("clerk.primary.example", true), "CLERK_DOMAIN": "sat.example"},
			"warn  CLERK_DOMAIN is set without CLERK_IS_SATELLITE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out := runDoctor(t, tt.vars)
			assert.Equal(t, 1, code)
			assert.Contains(t, out, tt.want)
			assert.NotContains(t, out, "well-formed")
		})
	}
}

// TestUsage: every way of asking for help prints the commands and the
// flags; help asked for exits 0, a mistake exits 2.
func TestUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
	}{
		{nil, 2}, {[]string{"help"}, 0}, {[]string{"-h"}, 0}, {[]string{"--help"}, 0},
		{[]string{"doctor", "--help"}, 0}, {[]string{"doctor", "-h"}, 0}, {[]string{"frobnicate"}, 2},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), tt.args, func(string) string { return "" }, &out, &errOut)
		assert.Equal(t, tt.code, code, "%q", tt.args)
		text := out.String() + errOut.String()
		for _, want := range []string{"clerkauth doctor [flags]", "-token", "-audience", "CLERK_SECRET_KEY"} {
			assert.Contains(t, text, want, "%q", tt.args)
		}
		if tt.code == 0 {
			assert.Empty(t, errOut.String(), "help goes to standard output")
		}
	}
}

func TestDoctorKeySetAndToken(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	vars := map[string]string{
		"CLERK_JWT_ISSUER_DOMAIN":      iss.URL,
		"CLERK_AUTHORIZED_PARTIES":     "http://localhost:3000",
		"CLERK_WEBHOOK_SIGNING_SECRET": clerktest.NewWebhookSecret(),
	}
	code, out := runDoctor(t, vars)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "keys from JWKS "+iss.URL+"/.well-known/jwks.json")
	assert.Contains(t, out, "the key set answers with 1 key(s): "+iss.KeyID())
	assert.Contains(t, out, "the webhook signing secret is well-formed")
	assert.Contains(t, out, "All checks passed.")

	good := iss.MustSessionToken("user_1")
	code, out = runDoctor(t, vars, "--token", good)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "ok    signature: verified")
	assert.Contains(t, out, "the middleware would accept this token")
	assert.NotContains(t, out, good[40:80], "the token is never echoed")

	tests := []struct {
		name, token string
		args        []string
		want        []string
	}{
		{"expired", iss.MustSessionToken("user_1", clerktest.WithExpiry(-time.Hour)), nil,
			[]string{"FAIL  expiry: exp passed", "(token-expired)", "session tokens live 60s"}},
		{"wrong template name", iss.MustTemplateToken("user_1", "Convex", nil), []string{"--audience", "convex"},
			[]string{"FAIL  audience:", "(token-invalid-audience)", "template name"}},
		{"other instance", iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{"iss": "https://clerk.other.example"})), nil,
			[]string{"FAIL  issuer: iss is \"https://clerk.other.example\", expected \"" + iss.URL + "\"", "(token-invalid-issuer)", "check CLERK_PUBLISHABLE_KEY and CLERK_JWT_ISSUER_DOMAIN"}},
		{"azp not authorized", iss.MustSessionToken("user_1", clerktest.WithAuthorizedParty("https://evil.example")), nil,
			[]string{"FAIL  authorized party: azp is \"https://evil.example\"", "CLERK_AUTHORIZED_PARTIES"}},
		{"unknown kid", iss.MustSessionToken("user_1", clerktest.WithKeyID("ins_other")), nil,
			[]string{"FAIL  key:", "(jwk-kid-mismatch)", "unverified"}},
		{"alg none", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyXzEifQ.", nil,
			[]string{"FAIL  algorithm: alg is \"none\"", "(token-invalid-algorithm)"}},
		{"garbage", "not-a-token", nil,
			[]string{"FAIL  structure:", "(token-invalid)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := runDoctor(t, vars, append([]string{"--token", tt.token}, tt.args...)...)
			assert.Equal(t, 1, code)
			for _, w := range tt.want {
				assert.Contains(t, out, w)
			}
			assert.Contains(t, out, "the middleware would refuse this token")
		})
	}
}

func TestDoctorKeySetDown(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusBadGateway)
	}))
	defer down.Close()
	code, out := runDoctor(t, map[string]string{"CLERK_JWT_ISSUER_DOMAIN": down.URL})
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "FAIL  the key set does not answer")
	assert.Contains(t, out, "status 502")
	assert.True(t, strings.Contains(out, "503"), "says what users would see")
}

func TestDoctorHandshakeReason(t *testing.T) {
	code, out := runDoctor(t, nil, "--handshake-reason", "session-token-expired-refresh-non-eligible-no-refresh-cookie")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "the session cookie has expired")
	assert.Contains(t, out, "no __refresh cookie")
	code, out = runDoctor(t, nil, "--handshake-reason", "dev-browser-missing")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "dev browser cookie")
	code, _ = runDoctor(t, nil, "--handshake-reason", "made-up")
	assert.Equal(t, 1, code)
}

// TestDoctorHidesCredentialsInURLs: whatever configured URL carries
// user:password@, doctor's output never shows the password.
func TestDoctorHidesCredentialsInURLs(t *testing.T) {
	const password = "pw-must-not-show"
	iss := clerktest.NewIssuer(t)
	withPassword := func(rawURL string) string {
		return strings.Replace(rawURL, "://", "://user:"+password+"@", 1)
	}
	base := map[string]string{clerkauth.EnvJWTKey: iss.MustPublicKeyPEM()}
	for _, tt := range []struct {
		name, env, value string
		args             []string
	}{
		{"issuer", clerkauth.EnvIssuerDomain, withPassword(iss.URL), nil},
		{"issuer without scheme", clerkauth.EnvIssuerDomain, "user:" + password + "@clerk.example.com", nil},
		{"proxy", clerkauth.EnvProxyURL, withPassword("https://app.example.com/__clerk"), nil},
		{"proxy that does not parse", clerkauth.EnvProxyURL, "https://user:" + password + "%zz@app.example.com", nil},
		{"sign-in page", clerkauth.EnvSignInURL, withPassword("https://accounts.example.com/sign-in"), nil},
		{"sign-up page", clerkauth.EnvSignUpURL, withPassword("https://accounts.example.com/sign-up"), nil},
		{"authorized party", clerkauth.EnvAuthorizedParties, withPassword("https://app.example.com"), nil},
		{"authorized party flag", clerkauth.EnvAuthorizedParties, "", []string{"--authorized-parties", withPassword("https://app.example.com")}},
		{"Backend API", clerkauth.EnvAPIURL, withPassword("https://api.example.com") + "/v1", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			vars := maps.Clone(base)
			vars[tt.env] = tt.value
			if tt.env == clerkauth.EnvAPIURL {
				// Keys from the Backend API: doctor names its URL.
				vars = map[string]string{clerkauth.EnvSecretKey: "sk_test_abc", tt.env: tt.value}
			}
			_, out := runDoctor(t, vars, append(tt.args, "--timeout", "1ms")...)
			assert.NotContains(t, out, password)
		})
	}
}

// TestDoctorSameInstance: doctor compares the Backend API's key set (of
// the secret key's instance) with the keys tokens are verified with, and
// names the variables to fix when they are two instances'.
func TestDoctorSameInstance(t *testing.T) {
	ours, theirs := clerktest.NewIssuer(t), clerktest.NewIssuer(t)
	bapi := clerktest.NewBackendAPI(t, ours)
	backend := func(vars map[string]string) map[string]string {
		vars[clerkauth.EnvSecretKey] = bapi.SecretKey
		vars[clerkauth.EnvAPIURL] = bapi.URL + "/v1"
		return vars
	}
	for _, tt := range []struct {
		name string
		vars map[string]string
		code int
		want []string
	}{
		{"issuer of the same instance", backend(map[string]string{clerkauth.EnvIssuerDomain: ours.URL}), 0,
			[]string{"ok    CLERK_SECRET_KEY and CLERK_JWT_ISSUER_DOMAIN belong to the same instance"}},
		{"issuer of another instance", backend(map[string]string{clerkauth.EnvIssuerDomain: theirs.URL}), 1,
			[]string{"FAIL  CLERK_SECRET_KEY and CLERK_JWT_ISSUER_DOMAIN belong to different instances",
				"kid " + ours.KeyID(), "kid " + theirs.KeyID(), "Fix CLERK_SECRET_KEY or CLERK_JWT_ISSUER_DOMAIN"}},
		{"PEM key of the same instance", backend(map[string]string{clerkauth.EnvJWTKey: ours.MustPublicKeyPEM()}), 0,
			[]string{"ok    CLERK_SECRET_KEY and CLERK_JWT_KEY belong to the same instance"}},
		{"PEM key of another instance", backend(map[string]string{clerkauth.EnvJWTKey: theirs.MustPublicKeyPEM()}), 1,
			[]string{"FAIL  CLERK_SECRET_KEY and CLERK_JWT_KEY belong to different instances", "Fix CLERK_SECRET_KEY or CLERK_JWT_KEY"}},
		{"secret key the Backend API refuses", map[string]string{clerkauth.EnvIssuerDomain: ours.URL,
			clerkauth.EnvSecretKey: "sk_live_refused", clerkauth.EnvAPIURL: bapi.URL + "/v1"}, 1,
			[]string{"FAIL  the Backend API does not answer with CLERK_SECRET_KEY: GET " + bapi.URL + "/v1/jwks: status 401 (check CLERK_SECRET_KEY)"}},
		{"keys from the Backend API: nothing to compare", backend(map[string]string{}), 0, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out := runDoctor(t, tt.vars)
			assert.Equal(t, tt.code, code, out)
			for _, w := range tt.want {
				assert.Contains(t, out, w)
			}
			if tt.want == nil {
				assert.NotContains(t, out, "same instance")
				assert.NotContains(t, out, "different instances")
			}
			assert.NotContains(t, out, strings.TrimPrefix(tt.vars[clerkauth.EnvSecretKey], "sk_live_"), "the secret key is never printed")
		})
	}
}

func TestDoctorSatellite(t *testing.T) {
	_, out := runDoctor(t, map[string]string{"CLERK_PUBLISHABLE_KEY": clerktest.PublishableKey("clerk.primary.example", true),
		"NEXT_PUBLIC_CLERK_IS_SATELLITE": "true", "NEXT_PUBLIC_CLERK_DOMAIN": "satellite.example.net"})
	assert.Contains(t, out, "info  CLERK_IS_SATELLITE is set: a satellite of satellite.example.net")
	assert.Contains(t, out, "ok    clerkauth.New accepts this configuration")
}
