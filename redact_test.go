package clerkauth_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/internal/testutil"
)

// password is what every configured URL below carries; no error, log line
// or answer may show it.
const password = "pw-must-not-show"

// TestConfiguredURLsHideCredentials: a configured URL with user:password@
// is refused where it would be handed to browsers or cannot be right, and
// is never quoted with its password, in New's errors, in log lines, or in
// answers.
func TestConfiguredURLsHideCredentials(t *testing.T) {
	// A Backend API that refuses every key, so that key fetches fail and
	// log the URL they tried.
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"errors":[{"code":"authentication_invalid"}]}`, http.StatusUnauthorized)
	}))
	defer refusing.Close()
	withPassword := func(rawURL string) string {
		return strings.Replace(rawURL, "://", "://user:"+password+"@", 1)
	}
	token := shared(t).MustSessionToken("user_1")

	for _, tt := range []struct {
		field   string
		set     func(*clerkauth.Config)
		refused string // part of New's error; "" when New accepts it
	}{
		{"IssuerDomain", func(c *clerkauth.Config) { c.IssuerDomain = withPassword("https://clerk.example.com") }, clerkauth.EnvIssuerDomain},
		{"IssuerDomain without scheme", func(c *clerkauth.Config) { c.IssuerDomain = "user:" + password + "@clerk.example.com" }, clerkauth.EnvIssuerDomain},
		{"ProxyURL", func(c *clerkauth.Config) { c.ProxyURL = withPassword("https://app.example.com/__clerk") }, clerkauth.EnvProxyURL},
		{"ProxyURL that does not parse", func(c *clerkauth.Config) { c.ProxyURL = "https://user:" + password + "%zz@app.example.com" }, clerkauth.EnvProxyURL},
		{"SignInURL", func(c *clerkauth.Config) { c.SignInURL = withPassword("https://accounts.example.com/sign-in") }, "SignInURL"},
		{"SignUpURL", func(c *clerkauth.Config) { c.SignUpURL = withPassword("https://accounts.example.com/sign-up") }, "SignUpURL"},
		{"SignInURL that does not parse", func(c *clerkauth.Config) { c.SignInURL = "ftp://user:" + password + "@x/%zz" }, "SignInURL"},
		{"AuthorizedParties", func(c *clerkauth.Config) { c.AuthorizedParties = []string{withPassword("https://app.example.com")} }, "authorized party"},
		{"APIURL", func(c *clerkauth.Config) { c.APIURL = withPassword(refusing.URL) + "/v1" }, ""},
	} {
		t.Run(tt.field, func(t *testing.T) {
			var logs testutil.LockedBuffer
			cfg := clerkauth.Config{
				SecretKey: "sk_test_abc", APIURL: refusing.URL + "/v1", KeyFetchCoolDown: -1,
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			}
			tt.set(&cfg)
			auth, err := clerkauth.New(cfg)
			if tt.refused != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.refused, "the error names the setting")
				assert.NotContains(t, err.Error(), password)
				return
			}
			require.NoError(t, err)
			h := auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			for _, r := range []*http.Request{
				bearer(httptest.NewRequest(http.MethodGet, "/api/x", nil), token),
				httptest.NewRequest(http.MethodGet, "/page", nil),
			} {
				res := serve(h, r)
				assert.NotContains(t, res.body, password)
				for _, v := range res.header {
					assert.NotContains(t, strings.Join(v, " "), password)
				}
			}
			require.Contains(t, logs.String(), "cannot fetch the instance's keys", "the key fetch failed and was logged")
			assert.NotContains(t, logs.String(), password)
		})
	}

	// CurrentUser's network errors: net/http masks a password in the URL,
	// but not a user name alone, which is usually a token.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	auth, err := clerkauth.New(clerkauth.Config{SecretKey: "sk_test_abc", APIURL: strings.Replace(closed.URL, "://", "://"+password+"@", 1) + "/v1"})
	require.NoError(t, err)
	_, err = auth.CurrentUser(clerkauth.ContextWithIdentity(t.Context(), &clerkauth.Identity{UserID: "user_1"}))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), password)
}
