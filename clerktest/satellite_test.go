package clerktest_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

// TestSatelliteSyncThroughTheFakeFrontendAPI: a primary and a satellite
// app on two host names (primary.test and satellite.test, dialed on
// loopback; a cookie jar keeps cookies per host, as a browser does), each
// with the fake Frontend API at its ProxyURL path. A browser signed in on
// the primary loads a satellite page and lands on it signed in, through
// the satellite's sync (SatelliteAutoSync), then activates an
// organization on the satellite through its URL. The browser test
// (examples/quickstart/browser) does the same in Chromium.
func TestSatelliteSyncThroughTheFakeFrontendAPI(t *testing.T) {
	for _, tc := range []struct {
		name    string
		new     func(testing.TB) *clerktest.Issuer
		reasons []string // the handshake reasons on the satellite's way in
		via     string   // a hop the sync takes
	}{
		{"production", clerktest.NewIssuer, []string{"satellite-needs-syncing"}, "primary.test/__clerk/v1/client/sync"},
		{"development", clerktest.NewDevelopmentIssuer, []string{"satellite-needs-syncing", "primary-responds-to-syncing", "dev-browser-sync"}, "primary.test/sign-in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iss := tc.new(t)
			bapi := clerktest.NewBackendAPI(t, iss)
			bapi.AddMembership(clerktest.Membership{User: clerktest.User{ID: "user_ada"},
				Organization: clerktest.Organization{ID: "org_acme", Slug: "acme"}, Role: "admin"})
			primarySrv, satelliteSrv := httptest.NewUnstartedServer(nil), httptest.NewUnstartedServer(nil)
			primary := "http://primary.test:" + portOf(primarySrv)
			satellite := "http://satellite.test:" + portOf(satelliteSrv)
			bapi.PrimaryFrontendAPI = primary + "/__clerk"
			orgs := clerkauth.OrganizationSync{OrganizationPatterns: []string{"/orgs/:slug/(.*)"}}
			primarySrv.Config.Handler = hostApp(bapi, primary, iss.MustAuth(func(c *clerkauth.Config) {
				bapi.Configure(c)
				c.ProxyURL, c.SignInURL, c.PublicRoutes = "/__clerk", "/sign-in", []string{"/sign-in"}
				c.AuthorizedParties = []string{primary, satellite}
			}))
			satelliteSrv.Config.Handler = hostApp(bapi, satellite, iss.MustAuth(func(c *clerkauth.Config) {
				bapi.Configure(c)
				c.ProxyURL, c.SignInURL = "/__clerk", primary+"/sign-in"
				c.IsSatellite, c.SatelliteAutoSync = true, true
				c.AuthorizedParties = []string{satellite}
				c.OrganizationSync = orgs
			}))
			primarySrv.Start()
			satelliteSrv.Start()
			t.Cleanup(primarySrv.Close)
			t.Cleanup(satelliteSrv.Close)
			b := newHostBrowser(t)
			assert.Equal(t, "404 page not found\n", b.get(primary+"/__clerk/v1/jwks"), "only the browser's endpoints are mounted")

			// Sign in on the primary (on a development instance with the dev
			// browser its first page load got).
			b.get(primary + "/sign-in")
			q := url.Values{}
			if dvb := b.cookie(primary, "__clerk_db_jwt"); dvb != "" {
				q.Set("__clerk_db_jwt", dvb) // in the URL, as clerk-js sends it
			}
			res, err := b.client.PostForm(primary+"/__clerk/v1/client/sign_ins?"+q.Encode(),
				url.Values{"identifier": {"user_ada"}, "redirect_url": {"/sign-in"}})
			require.NoError(t, err)
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			require.Equal(t, "primary.test user_ada ", string(body))

			b.hops, b.reasons = nil, nil
			assert.Equal(t, "satellite.test user_ada ", b.get(satellite+"/dashboard"), "signed in on the satellite")
			assert.Equal(t, tc.reasons, b.reasons)
			assert.Contains(t, b.hops, tc.via, "hops: %q", b.hops)
			assert.NotEqual(t, b.cookie(primary, "__session"), b.cookie(satellite, "__session"), "the satellite has a session of its own")

			b.reasons = nil
			assert.Equal(t, "satellite.test user_ada acme", b.get(satellite+"/orgs/acme/invoices"))
			assert.Equal(t, []string{"active-organization-mismatch"}, b.reasons)
		})
	}
}

// hostApp is an app that shows who is signed in, in which organization,
// with the fake Frontend API at /__clerk and, on the primary, a sign-in
// page that sends a signed-in browser back to a satellite as Clerk's
// sign-in component does.
func hostApp(bapi *clerktest.BackendAPI, origin string, auth *clerkauth.Auth) http.Handler {
	host := strings.Split(strings.TrimPrefix(origin, "http://"), ":")[0]
	show := func(w http.ResponseWriter, r *http.Request) {
		user, org := "", ""
		if id, ok := clerkauth.IdentityFromContext(r.Context()); ok {
			user, org = id.UserID, id.OrgSlug
		}
		fmt.Fprintf(w, "%s %s %s", host, user, org)
	}
	pages := http.NewServeMux()
	pages.HandleFunc("/", show)
	pages.HandleFunc("/sign-in", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := clerkauth.IdentityFromContext(r.Context()); ok && r.URL.Query().Has("redirect_url") {
			http.Redirect(w, r, r.URL.Query().Get("redirect_url"), http.StatusFound) // a test: any redirect_url
			return
		}
		show(w, r)
	})
	mux := http.NewServeMux()
	mux.Handle("/__clerk/", http.StripPrefix("/__clerk", bapi.FrontendAPIHandler(origin+"/__clerk")))
	mux.Handle("/", auth.Middleware(pages))
	return mux
}

func portOf(s *httptest.Server) string {
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	return port
}

// hostBrowser is a cookie-keeping client that dials every host on
// loopback and follows redirects as a browser's page loads do, recording
// the hops and the handshake reasons.
type hostBrowser struct {
	t             *testing.T
	client        *http.Client
	jar           http.CookieJar
	hops, reasons []string
}

func newHostBrowser(t *testing.T) *hostBrowser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	b := &hostBrowser{t: t, jar: jar}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, _ := net.SplitHostPort(addr)
		return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+port)
	}
	b.client = &http.Client{Jar: jar, Transport: &http.Transport{DialContext: dial}, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		b.hops = append(b.hops, req.URL.Host[:strings.IndexByte(req.URL.Host, ':')]+req.URL.Path)
		if reason := req.Response.Header.Get("X-Clerk-Auth-Reason"); req.Response.Header.Get("X-Clerk-Auth-Status") == "handshake" {
			b.reasons = append(b.reasons, reason)
		}
		if len(via) > 15 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	t.Cleanup(b.client.CloseIdleConnections)
	return b
}

// get loads a page (Sec-Fetch-Dest: document, on every hop) and returns
// its body.
func (b *hostBrowser) get(u string) string {
	b.t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	require.NoError(b.t, err)
	req.Header.Set("Sec-Fetch-Dest", "document")
	res, err := b.client.Do(req)
	require.NoError(b.t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(b.t, err)
	return string(body)
}

func (b *hostBrowser) cookie(origin, name string) string {
	u, err := url.Parse(origin)
	require.NoError(b.t, err)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
