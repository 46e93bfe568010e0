package clerkauth_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

// TestPrimarySyncRedirectOverTCP attacks the development primary's answer
// to a satellite (?__clerk_redirect_url) with the request line as a
// hostile client writes it: the primary follows only an origin listed in
// AuthorizedParties, whatever the spelling, and the Location it writes
// names that origin's host to a browser too (no CR/LF, no user info, no
// backslash in the authority).
func TestPrimarySyncRedirectOverTCP(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	a, err := clerkauth.New(clerkauth.Config{PublishableKey: clerktest.PublishableKey(primaryHost, false), JWTKey: iss.MustPublicKeyPEM(),
		AuthorizedParties: []string{"https://primary.example", satelliteSite, "http://[::1]:3000"},
		PublicRoutes:      []string{"/sign-in"}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	srv := httptest.NewServer(a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	send := func(t *testing.T, rawTarget, cookie string) *http.Response {
		t.Helper()
		req := "GET /sign-in?__clerk_redirect_url=" + rawTarget + " HTTP/1.1\r\nHost: primary.example\r\nSec-Fetch-Dest: document\r\n" +
			"Cookie: __clerk_db_jwt=dvb_primary" + cookie + "\r\nConnection: close\r\n\r\n"
		return rawRequest(t, addr, req)
	}
	followed := []struct{ name, raw, wantPrefix string }{
		{"listed origin", "https%3A%2F%2Fsatellite.example.net%2Fdocs", satelliteSite + "/docs?"},
		{"upper case and default port", "HTTPS%3A%2F%2FSATELLITE.EXAMPLE.NET%3A443%2Fdocs", satelliteSite + "/docs?"},
		{"IPv6 literal with its port", "http%3A%2F%2F%5B%3A%3A1%5D%3A3000%2Fx", "http://[::1]:3000/x?"},
		{"encoded CR LF in the path stay encoded", "https%3A%2F%2Fsatellite.example.net%2F%250d%250aSet-Cookie:x", satelliteSite + "/%0d%0aSet-Cookie:x?"},
		{"a path of //host stays a path", "https%3A%2F%2Fsatellite.example.net%2F%2Fevil.example%2F", satelliteSite + "//evil.example/?"},
		// A browser reads this \ as / (URL Standard, special URLs): a path of
		// //evil.example on the satellite, harmless. Clerk's new URL() would
		// write it so; this Location keeps the byte.
		{"a backslash in the path stays in the path", "https%3A%2F%2Fsatellite.example.net%2F%5Cevil.example", satelliteSite + "/\\evil.example?"},
	}
	for _, tc := range followed {
		t.Run("follows "+tc.name, func(t *testing.T) {
			res := send(t, tc.raw, "")
			require.Equal(t, http.StatusTemporaryRedirect, res.StatusCode)
			assert.Equal(t, "primary-responds-to-syncing", res.Header.Get("X-Clerk-Auth-Reason"))
			loc := res.Header.Get("Location")
			assert.True(t, strings.HasPrefix(loc, tc.wantPrefix), "Location %q", loc)
			authority, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(loc, "https://"), "http://"), "/")
			assert.NotContains(t, authority, "\\", "a backslash that a browser reads as '/' would end the authority")
			assert.NotContains(t, authority, "@")
			assert.NotContains(t, loc, "\r")
			assert.Empty(t, res.Header.Values("Set-Cookie-Injected"))
			u, err := url.Parse(loc)
			require.NoError(t, err)
			assert.Nil(t, u.User)
			assert.Contains(t, []string{"satellite.example.net", "[::1]:3000"}, u.Host)
			assert.Equal(t, "dvb_primary", u.Query().Get("__clerk_db_jwt"))
			assert.Equal(t, "true", u.Query().Get("__clerk_synced"))
			assert.Contains(t, strings.Join(res.Header.Values("Set-Cookie"), "\n"), "__clerk_redirect_count=1;", "the redirect is counted as a handshake is")
		})
	}
	refused := []struct{ name, raw string }{
		{"another host", "https%3A%2F%2Fevil.example%2F"},
		{"a listed host as a prefix", "https%3A%2F%2Fsatellite.example.net.evil.example%2F"},
		{"a trailing dot", "https%3A%2F%2Fsatellite.example.net.%2F"},
		{"user info", "https%3A%2F%2Fsatellite.example.net%40evil.example%2F"},
		{"user info with a port", "https%3A%2F%2Fsatellite.example.net%3A443%40evil.example%2F"},
		{"empty user info", "https%3A%2F%2F%40satellite.example.net%2F"},
		{"a backslash before @", "https%3A%2F%2Fsatellite.example.net%5C%40evil.example%2F"},
		{"a backslash as the authority's end", "https%3A%2F%2Fevil.example%5C.satellite.example.net%2F"},
		{"a fragment before @", "https%3A%2F%2Fevil.example%23%40satellite.example.net"},
		{"CR LF in the authority", "https%3A%2F%2Fsatellite.example.net%0D%0ASet-Cookie-Injected%3A%201"},
		{"a tab", "https%3A%2F%2Fsatellite.example.net%09%2F"},
		{"an escaped dot in the host", "https%3A%2F%2Fsatellite%252eexample.net%2F"},
		{"scheme-relative", "%2F%2Fsatellite.example.net%2F"},
		{"no slashes", "https%3Asatellite.example.net%2F"},
		{"a slash and a backslash", "https%3A%2F%5Cevil.example%2F"},
		{"another scheme", "http%3A%2F%2Fsatellite.example.net%2F"},
		{"another port", "https%3A%2F%2Fsatellite.example.net%3A8443%2F"},
		{"a non-ASCII host", "https%3A%2F%2Fs%C3%A4tellite.example.net%2F"},
		{"javascript", "javascript%3Aalert(1)%2F%2Fhttps%3A%2F%2Fsatellite.example.net"},
		{"the IPv6 literal on another port", "http%3A%2F%2F%5B%3A%3A1%5D%3A3001%2F"},
	}
	for _, tc := range refused {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			res := send(t, tc.raw, "")
			assert.NotEqual(t, "primary-responds-to-syncing", res.Header.Get("X-Clerk-Auth-Reason"))
			assert.NotContains(t, res.Header.Get("Location"), "dvb_primary", "the dev browser token stays here")
			assert.Empty(t, res.Header.Values("Set-Cookie-Injected"))
		})
	}
	t.Run("the third redirect in a row gives up", func(t *testing.T) {
		res := send(t, "https%3A%2F%2Fsatellite.example.net%2F", "; __clerk_redirect_count=3")
		assert.NotEqual(t, http.StatusTemporaryRedirect, res.StatusCode)
		assert.Empty(t, res.Header.Get("Location"))
	})
}

// TestUnauthenticatedURLKeepsTheDevBrowserToken: on a development
// instance, a cross-host UnauthenticatedURL (a marketing page, say) must
// not receive the browser's dev browser token, which is its development
// client's credential at the Frontend API. Clerk's protect() redirects to
// unauthenticatedUrl as given; only its sign-in redirect (createRedirect)
// hands the token to the sign-in page, which Clerk's front end reads.
func TestUnauthenticatedURLKeepsTheDevBrowserToken(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	a, err := clerkauth.New(clerkauth.Config{PublishableKey: clerktest.PublishableKey(primaryHost, false), JWTKey: iss.MustPublicKeyPEM(),
		SignInURL: "https://accounts.example.com/sign-in", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux := http.NewServeMux()
	mux.Handle("/welcome-away", a.Require(clerkauth.UnauthenticatedURL("https://www.example.org/welcome"))(ok))
	mux.Handle("/sign-in-away", a.Require()(ok))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path string) *url.URL {
		res := rawRequest(t, srv.Listener.Addr().String(), "GET "+path+" HTTP/1.1\r\nHost: app.example.com\r\nSec-Fetch-Dest: document\r\n"+
			"Cookie: __clerk_db_jwt=dvb_secret; __client_uat=0\r\nConnection: close\r\n\r\n")
		require.Equal(t, http.StatusTemporaryRedirect, res.StatusCode)
		u, err := url.Parse(res.Header.Get("Location"))
		require.NoError(t, err)
		return u
	}
	u := get("/welcome-away")
	assert.Equal(t, "www.example.org", u.Host)
	assert.Empty(t, u.Query().Get("__clerk_db_jwt"), "the dev browser token went to %s", u)

	u = get("/sign-in-away")
	assert.Equal(t, "accounts.example.com", u.Host)
	assert.Equal(t, "dvb_secret", u.Query().Get("__clerk_db_jwt"), "the sign-in page gets it, as from Clerk's createRedirect")
}

// TestSatelliteSignInKeepsTheQuery: a satellite's way to sign in adds
// __clerk_synced=false to the URL to come back to, as URLSearchParams.set
// does in Clerk's createRedirect: the other parameters keep their order,
// and none is lost (Go's url.Values drops a pair with ";" and sorts).
func TestSatelliteSignInKeepsTheQuery(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	a, err := clerkauth.New(satelliteConfig(t, iss, true, nil))
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(a.RedirectToSignIn))
	defer srv.Close()
	res := rawRequest(t, srv.Listener.Addr().String(), "GET /docs?b=1&a=2;x&__clerk_synced=true HTTP/1.1\r\nHost: satellite.example.net\r\nSec-Fetch-Dest: document\r\nConnection: close\r\n\r\n")
	require.Equal(t, http.StatusTemporaryRedirect, res.StatusCode)
	u, err := url.Parse(res.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "http://satellite.example.net/docs?b=1&a=2%3Bx&__clerk_synced=false", u.Query().Get("redirect_url"))
}

// TestOrganizationIDCannotSmuggleParameters: the slug comes from the path
// as sent, and lands in the handshake URL's query encoded: a path cannot
// add a redirect_url, split the Location or reach another host.
func TestOrganizationIDCannotSmuggleParameters(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	a, err := clerkauth.New(clerkauth.Config{PublishableKey: clerktest.PublishableKey(primaryHost, true), JWTKey: iss.MustPublicKeyPEM(), Logger: slog.New(slog.DiscardHandler),
		OrganizationSync: clerkauth.OrganizationSync{OrganizationPatterns: []string{"/orgs/:slug", "/orgs/:slug/(.*)"}}})
	require.NoError(t, err)
	srv := httptest.NewServer(a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })))
	defer srv.Close()
	token := iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{"iss": "https://" + primaryHost}), clerktest.WithOrg("org_acme", "acme", "org:admin"))
	for _, tc := range []struct{ path, slug string }{
		{"/orgs/x&redirect_url=https:%2F%2Fevil.example", "x&redirect_url=https:%2F%2Fevil.example"},
		{"/orgs/%0d%0aLocation:%20https:%2F%2Fevil.example/a", "%0d%0aLocation:%20https:%2F%2Fevil.example"},
		{"/orgs/a%26organization_id%3Dorg_evil", "a%26organization_id%3Dorg_evil"},
		{"/orgs/\\evil.example", "\\evil.example"}, // a browser sends / for it; encoded in the query, harmless
	} {
		t.Run(tc.path, func(t *testing.T) {
			res := rawRequest(t, srv.Listener.Addr().String(), "GET "+tc.path+" HTTP/1.1\r\nHost: app.example\r\nSec-Fetch-Dest: document\r\n"+
				"Cookie: __session="+token+"; __client_uat=1\r\nConnection: close\r\n\r\n")
			require.Equal(t, http.StatusTemporaryRedirect, res.StatusCode)
			assert.Equal(t, "active-organization-mismatch", res.Header.Get("X-Clerk-Auth-Reason"))
			assert.Len(t, res.Header.Values("Location"), 1)
			loc, err := url.Parse(res.Header.Get("Location"))
			require.NoError(t, err)
			assert.Equal(t, primaryHost, loc.Host)
			q := loc.Query()
			assert.Equal(t, []string{tc.slug}, q["organization_id"])
			require.Len(t, q["redirect_url"], 1)
			back, err := url.Parse(q.Get("redirect_url"))
			require.NoError(t, err)
			assert.Equal(t, "app.example", back.Host)
		})
	}
}
