package clerktest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

// TestConfigNamesTheInstanceType: NewIssuer's Config is a production
// configuration, NewDevelopmentIssuer's a development one, and a
// BackendAPI pairs the secret key with it (New refuses mixed keys).
func TestConfigNamesTheInstanceType(t *testing.T) {
	for _, tc := range []struct {
		name       string
		new        func(testing.TB) *clerktest.Issuer
		pk, sk     string
		production bool
	}{
		{"production", clerktest.NewIssuer, "pk_live_", "sk_live_", true},
		{"development", clerktest.NewDevelopmentIssuer, "pk_test_", "sk_test_", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iss := tc.new(t)
			assert.Equal(t, !tc.production, iss.Development())
			cfg := iss.Config()
			assert.Equal(t, clerktest.PublishableKey("clerk.clerktest.example", tc.production), cfg.PublishableKey)
			assert.True(t, strings.HasPrefix(cfg.PublishableKey, tc.pk), cfg.PublishableKey)

			bapi := clerktest.NewBackendAPI(t, iss)
			assert.True(t, strings.HasPrefix(bapi.SecretKey, tc.sk))
			auth, err := iss.Auth(bapi.Configure)
			require.NoError(t, err, "the secret key matches the publishable key's type")
			_, err = auth.VerifyToken(t.Context(), iss.MustSessionToken("user_1"))
			assert.NoError(t, err)

			// The other type's configuration gets the other type's secret key.
			other := cfg
			other.PublishableKey = clerktest.PublishableKey("clerk.clerktest.example", !tc.production)
			bapi.Configure(&other)
			assert.Equal(t, bapi.SecretKeyFor(other.PublishableKey), other.SecretKey)
			_, err = clerkauth.New(other)
			assert.NoError(t, err)
		})
	}
}

// devApp is an app behind the middleware of a development instance, with
// the fake Frontend and Backend API as that instance.
func devApp(t *testing.T, iss *clerktest.Issuer) (*httptest.Server, *clerktest.BackendAPI) {
	t.Helper()
	bapi := clerktest.NewBackendAPI(t, iss)
	auth := iss.MustAuth(func(c *clerkauth.Config) {
		bapi.Configure(c)
		c.PublicRoutes = []string{"/"}
	})
	srv := httptest.NewServer(auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := ""
		if id, ok := clerkauth.IdentityFromContext(r.Context()); ok {
			user = id.UserID
		}
		fmt.Fprint(w, "hello "+user)
	})))
	t.Cleanup(srv.Close)
	return srv, bapi
}

// TestDevelopmentInstanceAppliesDevBrowserRules: with a development
// configuration, a request with neither a token nor a dev browser (curl,
// a fetch from a page that never met Clerk) is refused with
// dev-browser-missing, where production says session-token-missing; a
// Bearer token needs no dev browser.
func TestDevelopmentInstanceAppliesDevBrowserRules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		new    func(testing.TB) *clerktest.Issuer
		reason clerkauth.Reason
	}{
		{"production", clerktest.NewIssuer, clerkauth.ReasonSessionTokenMissing},
		{"development", clerktest.NewDevelopmentIssuer, clerkauth.ReasonDevBrowserMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iss := tc.new(t)
			srv, _ := devApp(t, iss)
			h := srv.Config.Handler

			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/me", nil))
			assert.Equal(t, http.StatusUnauthorized, rec.Code)
			assert.Equal(t, string(tc.reason), rec.Header().Get("X-Clerk-Auth-Reason"))
			assert.JSONEq(t, `{"error":"unauthenticated","reason":"`+string(tc.reason)+`"}`, rec.Body.String())
			// RFC 6750 §3.1: no credential came, so no error code, whatever
			// the reason.
			assert.Equal(t, "Bearer", rec.Header().Get("WWW-Authenticate"))

			r := httptest.NewRequest("GET", "/api/me", nil)
			r.Header.Set("Authorization", "Bearer "+iss.MustSessionToken("user_1"))
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			assert.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, "hello user_1", rec.Body.String())
		})
	}
}

// TestDevelopmentHandshakeGivesADevBrowser: a browser's first page load on
// a development instance has no dev browser; the middleware sends it
// through the Frontend API's handshake, which gives it one (and the
// session of its client), and the browser lands back on the clean URL,
// signed in. Its later requests, fetches included, carry the dev browser.
func TestDevelopmentHandshakeGivesADevBrowser(t *testing.T) {
	iss := clerktest.NewDevelopmentIssuer(t)
	srv, bapi := devApp(t, iss)
	bapi.SetClient("user_1")
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	var hops []string
	browser := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		hops = append(hops, req.URL.Path+"?"+req.URL.RawQuery)
		if len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	get := func(path string, page bool) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		require.NoError(t, err)
		if page {
			req.Header.Set("Sec-Fetch-Dest", "document")
			req.Header.Set("Accept", "text/html")
		}
		res, err := browser.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(body)
	}

	status, body := get("/dashboard?tab=1", true)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "hello user_1", body)
	require.Len(t, hops, 3, "the handshake, the return with the nonce, the clean URL: %q", hops)
	assert.Contains(t, hops[0], "/v1/client/handshake?")
	assert.Contains(t, hops[0], "__clerk_hs_reason=dev-browser-missing")
	assert.NotContains(t, hops[0], "__clerk_db_jwt", "the browser had no dev browser to send")
	assert.Contains(t, hops[1], "__clerk_handshake_nonce=", "development: the nonce comes back in the URL")
	assert.Equal(t, "/dashboard?tab=1", hops[2])

	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	var dvb string
	for _, c := range jar.Cookies(u) {
		if c.Name == "__clerk_db_jwt" {
			dvb = c.Value
		}
	}
	assert.True(t, strings.HasPrefix(dvb, "dvb_"), "the Frontend API gave the browser a dev browser: %q", dvb)

	hops = nil
	status, body = get("/api/me", false)
	assert.Equal(t, http.StatusOK, status, "a fetch with the browser's cookies")
	assert.Equal(t, "hello user_1", body)
	assert.Empty(t, hops)

	// Signed out elsewhere: the next page load's handshake (the session
	// is older than __client_uat) keeps the dev browser and signs out.
	bapi.SetClient("")
	jar.SetCookies(u, []*http.Cookie{{Name: "__client_uat", Value: fmt.Sprint(time.Now().Unix() + 5)}})
	status, body = get("/", true)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "hello ", body, "the public page, signed out")
	require.NotEmpty(t, hops)
	assert.Contains(t, hops[0], "__clerk_db_jwt="+dvb, "the handshake carries the dev browser")
}

// TestWithExpiryKeepsTheSign: WithExpiry(d) with d <= 0 yields a token the
// default configuration refuses as expired at once (not accepted within
// the clock skew); with d > 0 one it accepts until d from now, on whole
// and fractional seconds alike.
func TestWithExpiryKeepsTheSign(t *testing.T) {
	for _, minted := range []time.Time{time.Unix(1_800_000_000, 0), time.Unix(1_800_000_000, 999_999_999), time.Unix(1_800_000_000, 1)} {
		iss := clerktest.NewIssuer(t)
		iss.SetNow(func() time.Time { return minted })
		verify := func(token string, at time.Time) error {
			t.Helper()
			auth := iss.MustAuth(func(c *clerkauth.Config) { c.Now = func() time.Time { return at } })
			_, err := auth.VerifyToken(t.Context(), token)
			return err
		}
		for _, d := range []time.Duration{-time.Nanosecond, -time.Second, -clerkauth.DefaultClockSkew, -time.Minute, 0} {
			t.Run(fmt.Sprint(minted.Nanosecond(), d), func(t *testing.T) {
				token := iss.MustSessionToken("user_1", clerktest.WithExpiry(d))
				assert.ErrorIs(t, verify(token, minted), clerkauth.ReasonTokenExpired)
			})
		}
		for _, d := range []time.Duration{time.Nanosecond, time.Second, time.Minute} {
			t.Run(fmt.Sprint(minted.Nanosecond(), d), func(t *testing.T) {
				token := iss.MustSessionToken("user_1", clerktest.WithExpiry(d))
				assert.NoError(t, verify(token, minted))
				assert.NoError(t, verify(token, minted.Add(d)), "valid until d from now")
				assert.ErrorIs(t, verify(token, minted.Add(d+clerkauth.DefaultClockSkew+time.Second)), clerkauth.ReasonTokenExpired,
					"at most a second of rounding beyond the skew")
			})
		}
	}
}
