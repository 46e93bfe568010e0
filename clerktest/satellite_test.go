package clerktest_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/internal/testutil"
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
			b := testutil.NewHostBrowser()
			t.Cleanup(b.Close)
			get := func(u string) string { // a page load, Sec-Fetch-Dest: document on every hop
				t.Helper()
				_, body, err := b.Load("GET", u, nil)
				require.NoError(t, err)
				return string(body)
			}
			assert.Equal(t, "404 page not found\n", get(primary+"/__clerk/v1/jwks"), "only the browser's endpoints are mounted")

			// Sign in on the primary (on a development instance with the dev
			// browser its first page load got).
			get(primary + "/sign-in")
			q := url.Values{}
			if dvb := b.Cookie(primary, "__clerk_db_jwt"); dvb != "" {
				q.Set("__clerk_db_jwt", dvb) // in the URL, as clerk-js sends it
			}
			res, err := b.Client.PostForm(primary+"/__clerk/v1/client/sign_ins?"+q.Encode(),
				url.Values{"identifier": {"user_ada"}, "redirect_url": {"/sign-in"}})
			require.NoError(t, err)
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			require.Equal(t, "primary.test user_ada ", string(body))

			assert.Equal(t, "satellite.test user_ada ", get(satellite+"/dashboard"), "signed in on the satellite")
			assert.Equal(t, tc.reasons, b.Reasons())
			assert.Contains(t, b.Hops(), tc.via, "hops: %q", b.Hops())
			assert.NotEqual(t, b.Cookie(primary, "__session"), b.Cookie(satellite, "__session"), "the satellite has a session of its own")

			assert.Equal(t, "satellite.test user_ada acme", get(satellite+"/orgs/acme/invoices"))
			assert.Equal(t, []string{"active-organization-mismatch"}, b.Reasons())
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
