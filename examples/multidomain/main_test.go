package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/internal/issuer"
)

func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// startLocal serves both sites in local mode, on primary.localhost and
// satellite.localhost (two hosts, so that a cookie jar keeps their cookies
// apart as a browser does; the test's client dials both on loopback).
func startLocal(t *testing.T) (primary, satellite string) {
	t.Helper()
	p, s := httptest.NewUnstartedServer(nil), httptest.NewUnstartedServer(nil)
	primary = "http://primary.localhost:" + portOf(p)
	satellite = "http://satellite.localhost:" + portOf(s)
	d, err := newDemo(env(nil), io.Discard, primary, satellite)
	require.NoError(t, err)
	t.Cleanup(d.Close)
	p.Config.Handler, s.Config.Handler = d.handler(d.sites[0]), d.handler(d.sites[1])
	p.Start()
	s.Start()
	t.Cleanup(p.Close)
	t.Cleanup(s.Close)
	return primary, satellite
}

func portOf(s *httptest.Server) string {
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	return port
}

// browser keeps cookies per host and follows redirects as a page load
// does, with Sec-Fetch-Dest: document on every hop (Go's client copies a
// request's headers to its redirects). It records each hop and the
// handshake reasons the middleware answered with.
type browser struct {
	t             *testing.T
	client        *http.Client
	hops, reasons []string
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	b := &browser{t: t}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, _ := net.SplitHostPort(addr)
		return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+port)
	}
	b.client = &http.Client{Jar: jar, Transport: &http.Transport{DialContext: dial}, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		b.hops = append(b.hops, req.URL.Hostname()+req.URL.Path)
		if req.Response.Header.Get("X-Clerk-Auth-Status") == "handshake" {
			b.reasons = append(b.reasons, req.Response.Header.Get("X-Clerk-Auth-Reason"))
		}
		if len(via) > 15 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	t.Cleanup(b.client.CloseIdleConnections)
	return b
}

// shown is what a page shows, and where the browser landed.
type shown struct {
	URL                             string // scheme, host and path
	Site, Status, Reason, User, Org string
}

// load makes a page load (a GET, or a form's POST) and returns what the
// last page shows; hops and reasons start afresh.
func (b *browser) load(method, u string, form url.Values) shown {
	b.t.Helper()
	b.hops, b.reasons = nil, nil
	req, err := http.NewRequest(method, u, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Sec-Fetch-Dest", "document")
	res, err := b.client.Do(req)
	require.NoError(b.t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(b.t, err)
	require.Equal(b.t, http.StatusOK, res.StatusCode, "%s %s, hops %q: %s", method, u, b.hops, body)
	field := func(re string) string {
		m := regexp.MustCompile(re).FindSubmatch(body)
		require.NotNil(b.t, m, "%s in %s", re, body)
		return string(m[1])
	}
	none := func(s string) string { return strings.TrimPrefix(s, "none") }
	landed := *res.Request.URL
	landed.RawQuery = ""
	return shown{URL: landed.String(), Site: field(`<strong id="site">(\w+)</strong>`),
		Status: field(`id="auth-status">([^<]*)<`), Reason: none(field(`id="auth-reason">([^<]*)<`)),
		User: none(field(`id="user">([^<]*)<`)), Org: none(field(`id="org">([^<]*)<`))}
}

// TestSignInOnThePrimarySignedInOnTheSatellite walks the demo's steps: a
// signed-out visitor of the satellite's protected page is sent to the
// primary's sign-in, signs in there, and comes back signed in on the
// satellite, through its sync with the primary (the satellite never saw a
// sign-in); then URLs switch the active organization on both sites.
func TestSignInOnThePrimarySignedInOnTheSatellite(t *testing.T) {
	primary, satellite := startLocal(t)
	b := newBrowser(t)

	assert.Equal(t, shown{URL: primary + "/", Site: "primary", Status: "signed-out", Reason: "session-token-missing"},
		b.load("GET", primary+"/", nil))
	assert.Equal(t, shown{URL: satellite + "/", Site: "satellite", Status: "signed-out", Reason: "session-token-missing"},
		b.load("GET", satellite+"/", nil), "a public satellite page does not sync")

	// The satellite's protected page sends a signed-out browser to sign in
	// on the primary, with the way back.
	res, err := b.client.Do(pageLoad(t, satellite+"/docs"))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, primary+"/sign-in", res.Request.URL.Scheme+"://"+res.Request.URL.Host+res.Request.URL.Path)
	back := res.Request.URL.Query().Get("redirect_url")
	require.True(t, strings.HasPrefix(back, satellite+"/docs?"), back)

	// Ada's button on the sign-in page: the stand-in Frontend API signs the
	// browser in on the primary and returns it to the satellite, whose
	// middleware syncs with the primary.
	got := b.load("POST", primary+proxyPath+"/v1/client/sign_ins", url.Values{"identifier": {"user_ada"}, "redirect_url": {back}})
	assert.Equal(t, shown{URL: satellite + "/docs", Site: "satellite", Status: "signed-in", User: "user_ada"}, got)
	assert.Equal(t, []string{"satellite-needs-syncing"}, b.reasons)
	assert.Contains(t, b.hops, "primary.localhost"+proxyPath+"/v1/client/sync", "the satellite's Frontend API asked the primary's; hops %q", b.hops)

	// A reload: the satellite's own cookies, no sync.
	assert.Equal(t, "user_ada", b.load("GET", satellite+"/docs", nil).User)
	assert.Empty(t, b.reasons)

	// Organization sync, on both sites.
	for _, step := range []struct {
		site, path, org string
		reasons         []string
	}{
		{satellite, "/orgs/globex/", "globex", []string{"active-organization-mismatch"}},
		{satellite, "/orgs/globex/", "globex", nil},
		{satellite, "/orgs/acme/", "acme", []string{"active-organization-mismatch"}},
		{primary, "/orgs/globex/", "globex", []string{"active-organization-mismatch"}},
		{primary, "/", "globex", nil}, // no organization named: the session's stays
		{primary, "/me", "", []string{"active-organization-mismatch"}},
		{satellite, "/me", "", []string{"active-organization-mismatch"}},
	} {
		got := b.load("GET", step.site+step.path, nil)
		assert.Equal(t, step.site+step.path, got.URL)
		assert.Equal(t, []string{"signed-in", "user_ada", step.org}, []string{got.Status, got.User, got.Org}, step.site+step.path)
		assert.Equal(t, step.reasons, b.reasons, step.site+step.path)
	}
}

func pageLoad(t *testing.T, u string) *http.Request {
	req, err := http.NewRequest("GET", u, nil)
	require.NoError(t, err)
	req.Header.Set("Sec-Fetch-Dest", "document")
	return req
}

// TestANonMemberKeepsTheSession: a URL naming an organization the user is
// not a member of asks the Frontend API once, which leaves the session as
// it was.
func TestANonMemberKeepsTheSession(t *testing.T) {
	primary, _ := startLocal(t)
	b := newBrowser(t)
	b.load("POST", primary+proxyPath+"/v1/client/sign_ins", url.Values{"identifier": {"user_bob"}, "redirect_url": {"/"}})
	assert.Equal(t, "globex", b.load("GET", primary+"/orgs/globex/", nil).Org)
	got := b.load("GET", primary+"/orgs/acme/", nil)
	assert.Equal(t, []string{"signed-in", "user_bob", "globex"}, []string{got.Status, got.User, got.Org})
	assert.Equal(t, []string{"active-organization-mismatch"}, b.reasons)
}

// TestSignInPageIsNotAnOpenRedirect: a signed-in browser goes back only to
// one of the two sites.
func TestSignInPageIsNotAnOpenRedirect(t *testing.T) {
	primary, satellite := startLocal(t)
	b := newBrowser(t)
	b.load("POST", primary+proxyPath+"/v1/client/sign_ins", url.Values{"identifier": {"user_bob"}, "redirect_url": {"/"}})
	for target, want := range map[string]string{
		satellite + "/docs":     satellite + "/docs",
		"https://evil.example/": primary + "/",
		"http://user@" + strings.TrimPrefix(satellite, "http://") + "/": primary + "/",
		"//evil.example/": primary + "/",
	} {
		assert.Equal(t, want, b.load("GET", primary+"/sign-in?redirect_url="+url.QueryEscape(target), nil).URL, target)
	}
}

// TestCrossSiteSignInIsRefused: another site's form cannot sign a browser
// in through the stand-in Frontend API.
func TestCrossSiteSignInIsRefused(t *testing.T) {
	primary, _ := startLocal(t)
	req, err := http.NewRequest("POST", primary+proxyPath+"/v1/client/sign_ins", strings.NewReader("identifier=user_ada&redirect_url=%2F"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err := newBrowser(t).client.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
}

// TestClerkModeConfiguresASatellite: with keys set, both sites take them,
// and the satellite's Domain defaults to its host.
func TestClerkModeConfiguresASatellite(t *testing.T) {
	pk := issuer.PublishableKey("example.clerk.accounts.dev", false)
	for _, tc := range []struct {
		name string
		env  map[string]string
		err  string
	}{
		{"keys", map[string]string{clerkauth.EnvPublishableKey: pk, clerkauth.EnvSecretKey: "sk_test_x"}, ""},
		{"a domain", map[string]string{clerkauth.EnvPublishableKey: pk, clerkauth.EnvSecretKey: "sk_test_x", clerkauth.EnvDomain: "docs.example.com"}, ""},
		{"no publishable key", map[string]string{clerkauth.EnvSecretKey: "sk_test_x"}, "set CLERK_PUBLISHABLE_KEY too"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := newDemo(env(tc.env), io.Discard, "http://primary.localhost:8080", "http://satellite.localhost:8081")
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Nil(t, d.fake)
			assert.Equal(t, "example.clerk.accounts.dev", d.fapi)
		})
	}
}
