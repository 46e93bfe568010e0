package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/internal/issuer"
	"github.com/clerkauth/clerkauth/internal/testutil"
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

// shown is what a page shows, and where the browser landed.
type shown struct {
	URL                             string // scheme, host and path
	Site, Status, Reason, User, Org string
}

// load makes a page load (a GET, or a form's POST) and returns what the
// last page shows.
func load(t *testing.T, b *testutil.HostBrowser, method, u string, form url.Values) shown {
	t.Helper()
	res, body, err := b.Load(method, u, form)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, "%s %s, hops %q: %s", method, u, b.Hops(), body)
	field := func(re string) string {
		m := regexp.MustCompile(re).FindSubmatch(body)
		require.NotNil(t, m, "%s in %s", re, body)
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
	b := testutil.NewHostBrowser()
	t.Cleanup(b.Close)

	assert.Equal(t, shown{URL: primary + "/", Site: "primary", Status: "signed-out", Reason: "session-token-missing"},
		load(t, b, "GET", primary+"/", nil))
	assert.Equal(t, shown{URL: satellite + "/", Site: "satellite", Status: "signed-out", Reason: "session-token-missing"},
		load(t, b, "GET", satellite+"/", nil), "a public satellite page does not sync")

	// The satellite's protected page sends a signed-out browser to sign in
	// on the primary, with the way back.
	res, _, err := b.Load("GET", satellite+"/docs", nil)
	require.NoError(t, err)
	require.Equal(t, primary+"/sign-in", res.Request.URL.Scheme+"://"+res.Request.URL.Host+res.Request.URL.Path)
	back := res.Request.URL.Query().Get("redirect_url")
	require.True(t, strings.HasPrefix(back, satellite+"/docs?"), back)

	// Ada's button on the sign-in page: the stand-in Frontend API signs the
	// browser in on the primary and returns it to the satellite, whose
	// middleware syncs with the primary.
	got := load(t, b, "POST", primary+proxyPath+"/v1/client/sign_ins", url.Values{"identifier": {"user_ada"}, "redirect_url": {back}})
	assert.Equal(t, shown{URL: satellite + "/docs", Site: "satellite", Status: "signed-in", User: "user_ada"}, got)
	assert.Equal(t, []string{"satellite-needs-syncing"}, b.Reasons())
	assert.Contains(t, b.Hops(), "primary.localhost"+proxyPath+"/v1/client/sync", "the satellite's Frontend API asked the primary's; hops %q", b.Hops())

	// A reload: the satellite's own cookies, no sync.
	assert.Equal(t, "user_ada", load(t, b, "GET", satellite+"/docs", nil).User)
	assert.Empty(t, b.Reasons())

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
		got := load(t, b, "GET", step.site+step.path, nil)
		assert.Equal(t, step.site+step.path, got.URL)
		assert.Equal(t, []string{"signed-in", "user_ada", step.org}, []string{got.Status, got.User, got.Org}, step.site+step.path)
		assert.Equal(t, step.reasons, b.Reasons(), step.site+step.path)
	}
}

// TestANonMemberKeepsTheSession: a URL naming an organization the user is
// not a member of asks the Frontend API once, which leaves the session as
// it was.
func TestANonMemberKeepsTheSession(t *testing.T) {
	primary, _ := startLocal(t)
	b := testutil.NewHostBrowser()
	t.Cleanup(b.Close)
	load(t, b, "POST", primary+proxyPath+"/v1/client/sign_ins", url.Values{"identifier": {"user_bob"}, "redirect_url": {"/"}})
	assert.Equal(t, "globex", load(t, b, "GET", primary+"/orgs/globex/", nil).Org)
	got := load(t, b, "GET", primary+"/orgs/acme/", nil)
	assert.Equal(t, []string{"signed-in", "user_bob", "globex"}, []string{got.Status, got.User, got.Org})
	assert.Equal(t, []string{"active-organization-mismatch"}, b.Reasons())
}

// TestSignInPageIsNotAnOpenRedirect: a signed-in browser goes back only to
// one of the two sites.
func TestSignInPageIsNotAnOpenRedirect(t *testing.T) {
	primary, satellite := startLocal(t)
	b := testutil.NewHostBrowser()
	t.Cleanup(b.Close)
	load(t, b, "POST", primary+proxyPath+"/v1/client/sign_ins", url.Values{"identifier": {"user_bob"}, "redirect_url": {"/"}})
	for target, want := range map[string]string{
		satellite + "/docs":     satellite + "/docs",
		"https://evil.example/": primary + "/",
		"http://user@" + strings.TrimPrefix(satellite, "http://") + "/": primary + "/",
		"//evil.example/": primary + "/",
	} {
		assert.Equal(t, want, load(t, b, "GET", primary+"/sign-in?redirect_url="+url.QueryEscape(target), nil).URL, target)
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
	b := testutil.NewHostBrowser()
	t.Cleanup(b.Close)
	res, err := b.Client.Do(req)
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

// TestRunServesBothSites: run listens on both ports, prints where to go,
// serves both sites, and stops when its context ends.
func TestRunServesBothSites(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	out, banner := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, env(map[string]string{"PORT": "0", "SATELLITE_PORT": "0"}), banner)
		banner.Close()
	}()
	var origins []string
	sc := bufio.NewScanner(out)
	for want := regexp.MustCompile(`^\d\. Open (http://[^/]+)/`); len(origins) < 2 && sc.Scan(); {
		if m := want.FindStringSubmatch(sc.Text()); m != nil {
			origins = append(origins, m[1])
		}
	}
	require.Len(t, origins, 2, "the banner names both sites")
	go io.Copy(io.Discard, out) // the log
	b := testutil.NewHostBrowser()
	t.Cleanup(b.Close)
	assert.Equal(t, "primary", load(t, b, "GET", origins[0]+"/", nil).Site)
	assert.Equal(t, "satellite", load(t, b, "GET", origins[1]+"/", nil).Site)
	cancel()
	assert.NoError(t, <-done)
}
