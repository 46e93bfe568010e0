package clerkauth_test

import (
	"fmt"
	"log"
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

const (
	primaryHost   = "clerk.primary.example"
	satelliteSite = "https://satellite.example.net"
)

// satelliteConfig is a satellite of the instance whose Frontend API is
// clerk.primary.example, on satellite.example.net.
func satelliteConfig(t *testing.T, iss *clerktest.Issuer, live bool, edit func(*clerkauth.Config)) clerkauth.Config {
	t.Helper()
	pk := clerktest.PublishableKey(primaryHost, live)
	cfg := clerkauth.Config{PublishableKey: pk, JWTKey: iss.MustPublicKeyPEM(), IsSatellite: true, Domain: "satellite.example.net",
		SignInURL: "https://primary.example/sign-in", Logger: slog.New(slog.DiscardHandler)}
	if edit != nil {
		edit(&cfg)
	}
	return cfg
}

// TestSatelliteConfigIsChecked: New refuses what Clerk's
// assertSignInUrlExists, assertProxyUrlOrDomain and
// assertSignInUrlFormatAndOrigin refuse (on every request, in Clerk), and
// satellite settings on an app that is not a satellite.
func TestSatelliteConfigIsChecked(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	tests := []struct {
		name string
		live bool
		edit func(*clerkauth.Config)
		want string // "" accepted; else a part of the error
	}{
		{"production satellite", true, nil, ""},
		{"development satellite", false, nil, ""},
		{"domain as an https URL", true, func(c *clerkauth.Config) { c.Domain = "https://satellite.example.net/" }, ""},
		{"proxy instead of domain", true, func(c *clerkauth.Config) { c.Domain, c.ProxyURL = "", "https://satellite.example.net/__clerk" }, ""},
		{"production without a sign-in URL: the Account Portal", true, func(c *clerkauth.Config) { c.SignInURL = "" }, ""},
		{"neither domain nor proxy", true, func(c *clerkauth.Config) { c.Domain = "" }, "needs its Domain (CLERK_DOMAIN"},
		{"development without a sign-in URL", false, func(c *clerkauth.Config) { c.SignInURL = "" }, "needs SignInURL (CLERK_SIGN_IN_URL)"},
		{"relative sign-in URL", true, func(c *clerkauth.Config) { c.SignInURL = "/sign-in"; c.PublicRoutes = []string{"/sign-in"} }, "must be an absolute URL on the primary"},
		{"sign-in on the satellite", true, func(c *clerkauth.Config) { c.SignInURL = "https://Satellite.example.net:443/sign-in" }, "on the satellite's own domain"},
		{"sign-in on the proxy's host", true, func(c *clerkauth.Config) {
			c.Domain, c.ProxyURL, c.SignInURL = "", "https://satellite.example.net/__clerk", "https://satellite.example.net/sign-in"
		}, "on the satellite's own domain"},
		{"domain with a path", true, func(c *clerkauth.Config) { c.Domain = "https://satellite.example.net/app" }, "must be the satellite's host name"},
		{"domain with a space", true, func(c *clerkauth.Config) { c.Domain = "satellite example" }, "must be the satellite's host name"},
		{"no publishable key", true, func(c *clerkauth.Config) { c.PublishableKey = "" }, "a satellite needs CLERK_PUBLISHABLE_KEY"},
		{"domain without IsSatellite", true, func(c *clerkauth.Config) { c.IsSatellite = false }, "set IsSatellite (CLERK_IS_SATELLITE=true)"},
		{"auto sync without IsSatellite", true, func(c *clerkauth.Config) { c.IsSatellite, c.Domain, c.SatelliteAutoSync = false, "", true }, "set IsSatellite"},
		{"organization pattern", true, func(c *clerkauth.Config) {
			c.OrganizationSync.OrganizationPatterns = []string{"/orgs/:slug", "/orgs/:slug/(.*)"}
		}, ""},
		{"bad organization pattern", true, func(c *clerkauth.Config) { c.OrganizationSync.OrganizationPatterns = []string{"/orgs/:slug("} }, "invalid route pattern"},
		{"repeated slug", true, func(c *clerkauth.Config) { c.OrganizationSync.OrganizationPatterns = []string{"/orgs/:slug*"} }, ":slug cannot repeat"},
		{"bad personal pattern", true, func(c *clerkauth.Config) { c.OrganizationSync.PersonalAccountPatterns = []string{"/me/:a:b"} }, "invalid route pattern"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := clerkauth.New(satelliteConfig(t, iss, tc.live, tc.edit))
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestSatelliteFromEnv(t *testing.T) {
	for v, want := range map[string]bool{"true": true, "TRUE": true, "1": true, "2x": true, "false": false, "0": false, "yes": false, "": false} {
		cfg := clerkauth.ConfigFromLookup(func(k string) string {
			return map[string]string{"NEXT_PUBLIC_CLERK_IS_SATELLITE": v, "NEXT_PUBLIC_CLERK_DOMAIN": "sat.example"}[k]
		})
		assert.Equal(t, want, cfg.IsSatellite, "CLERK_IS_SATELLITE=%q, read as Clerk's isTruthy", v)
		assert.Equal(t, "sat.example", cfg.Domain)
	}
	cfg := clerkauth.ConfigFromLookup(func(k string) string {
		return map[string]string{clerkauth.EnvIsSatellite: "true", "NEXT_PUBLIC_CLERK_IS_SATELLITE": "false", clerkauth.EnvDomain: "a.example"}[k]
	})
	assert.True(t, cfg.IsSatellite, "CLERK_IS_SATELLITE wins over the NEXT_PUBLIC_ variant")
	assert.Equal(t, "a.example", cfg.Domain)
}

// page is a page load of url in a browser, with cookies.
func page(method, u string, cookies ...string) *http.Request {
	r := httptest.NewRequest(method, u, nil)
	r.Header.Set("Sec-Fetch-Dest", "document")
	if len(cookies) > 0 {
		r.Header.Set("Cookie", strings.Join(cookies, "; "))
	}
	return r
}

func TestSatelliteSync(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	prod := func(edit func(*clerkauth.Config)) *clerkauth.Auth {
		a, err := clerkauth.New(satelliteConfig(t, iss, true, edit))
		require.NoError(t, err)
		return a
	}
	token := iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{"iss": "https://clerk.satellite.example.net"}))

	t.Run("a first visit is signed out without a round trip", func(t *testing.T) {
		s := prod(nil).AuthenticateRequest(page("GET", satelliteSite+"/"))
		assert.Equal(t, clerkauth.SignedOut, s.Status)
		assert.Equal(t, clerkauth.ReasonSessionTokenMissing, s.Err.Reason)
		assert.Empty(t, s.Headers.Get("Location"))
	})
	t.Run("with SatelliteAutoSync it syncs through the satellite's Frontend API", func(t *testing.T) {
		s := prod(func(c *clerkauth.Config) { c.SatelliteAutoSync = true }).AuthenticateRequest(page("GET", satelliteSite+"/docs?x=1"))
		require.Equal(t, clerkauth.Handshake, s.Status)
		assert.Equal(t, "satellite-needs-syncing", s.HandshakeReason)
		loc, err := url.Parse(s.Headers.Get("Location"))
		require.NoError(t, err)
		assert.Equal(t, "https://clerk.satellite.example.net/v1/client/handshake", loc.Scheme+"://"+loc.Host+loc.Path)
		assert.Equal(t, satelliteSite+"/docs?x=1", loc.Query().Get("redirect_url"))
	})
	t.Run("back from sign-in on the primary it syncs", func(t *testing.T) {
		s := prod(nil).AuthenticateRequest(page("GET", satelliteSite+"/?__clerk_synced=false"))
		assert.Equal(t, clerkauth.Handshake, s.Status)
		assert.Equal(t, "satellite-needs-syncing", s.HandshakeReason)
	})
	t.Run("a finished sync is not repeated", func(t *testing.T) {
		s := prod(func(c *clerkauth.Config) { c.SatelliteAutoSync = true }).AuthenticateRequest(page("GET", satelliteSite+"/?__clerk_synced=true"))
		assert.Equal(t, clerkauth.SignedOut, s.Status)
		assert.Empty(t, s.HandshakeReason)
	})
	t.Run("a fetch never syncs", func(t *testing.T) {
		r := page("GET", satelliteSite+"/?__clerk_synced=false")
		r.Header.Set("Sec-Fetch-Dest", "empty")
		s := prod(nil).AuthenticateRequest(r)
		assert.Equal(t, clerkauth.SignedOut, s.Status)
		assert.Empty(t, s.HandshakeReason)
	})
	t.Run("its own Frontend API's tokens are signed in", func(t *testing.T) {
		s := prod(nil).AuthenticateRequest(page("GET", satelliteSite+"/", "__session="+token, "__client_uat=1"))
		require.Equal(t, clerkauth.SignedIn, s.Status, "%v", s.Err)
		assert.Equal(t, "user_1", s.Identity.UserID)
	})
	t.Run("a development satellite syncs through the primary's sign-in page", func(t *testing.T) {
		a, err := clerkauth.New(satelliteConfig(t, iss, false, func(c *clerkauth.Config) { c.SignInURL = "https://primary.example/sign-in?lang=en" }))
		require.NoError(t, err)
		s := a.AuthenticateRequest(page("GET", satelliteSite+"/docs?__clerk_synced=false", "__clerk_db_jwt=dvb_1"))
		require.Equal(t, clerkauth.Handshake, s.Status)
		assert.Equal(t, "https://primary.example/sign-in?lang=en&__clerk_redirect_url=https%3A%2F%2Fsatellite.example.net%2Fdocs%3F__clerk_synced%3Dfalse", s.Headers.Get("Location"))
		assert.NotContains(t, strings.Join(s.Headers.Values("Set-Cookie"), "\n"), "__clerkauth_handshake", "not a handshake: nothing comes back to bind")
	})
	t.Run("sign-in from a satellite asks for a sync on the way back", func(t *testing.T) {
		a := prod(nil)
		rec := httptest.NewRecorder()
		a.RedirectToSignIn(rec, page("GET", satelliteSite+"/docs"))
		loc, err := url.Parse(rec.Header().Get("Location"))
		require.NoError(t, err)
		assert.Equal(t, "https://primary.example/sign-in", loc.Scheme+"://"+loc.Host+loc.Path)
		assert.Equal(t, satelliteSite+"/docs?__clerk_synced=false", loc.Query().Get("redirect_url"))
	})
}

// TestPrimaryAnswersSatelliteSync: a development primary sends the browser
// back to a satellite that asked, with its dev browser token, only when
// the satellite's origin is an authorized party.
func TestPrimaryAnswersSatelliteSync(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	a, err := clerkauth.New(clerkauth.Config{PublishableKey: clerktest.PublishableKey(primaryHost, false), JWTKey: iss.MustPublicKeyPEM(),
		AuthorizedParties: []string{"https://primary.example", satelliteSite}, PublicRoutes: []string{"/sign-in"}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ask := func(back string) clerkauth.RequestState {
		return a.AuthenticateRequest(page("GET", "https://primary.example/sign-in?__clerk_redirect_url="+url.QueryEscape(back), "__clerk_db_jwt=dvb_primary"))
	}
	s := ask(satelliteSite + "/docs?tab=a+b")
	require.Equal(t, clerkauth.Handshake, s.Status)
	assert.Equal(t, "primary-responds-to-syncing", s.HandshakeReason)
	assert.Equal(t, satelliteSite+"/docs?tab=a+b&__clerk_db_jwt=dvb_primary&__clerk_synced=true", s.Headers.Get("Location"))

	for _, evil := range []string{"https://evil.example/steal", "https://satellite.example.net.evil.example/", "https://user@satellite.example.net/", "javascript:alert(1)", "//satellite.example.net/"} {
		s := ask(evil)
		assert.NotEqual(t, "primary-responds-to-syncing", s.HandshakeReason, "%s: an origin not in AuthorizedParties gets nothing", evil)
		assert.NotContains(t, s.Headers.Get("Location"), "dvb_primary", evil)
	}
}

func TestOrganizationSync(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	pk := clerktest.PublishableKey(primaryHost, true)
	a, err := clerkauth.New(clerkauth.Config{PublishableKey: pk, JWTKey: iss.MustPublicKeyPEM(), Logger: slog.New(slog.DiscardHandler),
		OrganizationSync: clerkauth.OrganizationSync{
			OrganizationPatterns:    []string{"/orgs/:slug", "/orgs/:slug/(.*)", "/id/:id/(.*)"},
			PersonalAccountPatterns: []string{"/me", "/me/(.*)"},
		}})
	require.NoError(t, err)
	inAcme := iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{"iss": "https://" + primaryHost}), clerktest.WithOrg("org_acme", "acme", "org:admin"))
	personal := iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{"iss": "https://" + primaryHost}))
	tests := []struct {
		name, path, token string
		fetch             bool
		redirects         string
		want              string // organization_id sent to the Frontend API; "-" signed in as is
	}{
		{"the active organization", "/orgs/acme/settings", inAcme, false, "", "-"},
		{"another organization by slug", "/orgs/globex/settings", inAcme, false, "", "globex"},
		{"slugs match in any case, and compare as written", "/ORGS/Acme", inAcme, false, "", "Acme"},
		{"another organization by id", "/id/org_globex/x", inAcme, false, "", "org_globex"},
		{"the personal account while an organization is active", "/me", inAcme, false, "", ""},
		{"the personal account, already", "/me/x", personal, false, "", "-"},
		{"an organization from the personal account", "/orgs/acme", personal, false, "", "acme"},
		{"a path that names nothing", "/dashboard", inAcme, false, "", "-"},
		{"a fetch stays as it is", "/orgs/globex", inAcme, true, "", "-"},
		{"the third try gives up", "/orgs/globex", inAcme, false, "3", "-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cookies := []string{"__session=" + tc.token, "__client_uat=1"}
			if tc.redirects != "" {
				cookies = append(cookies, "__clerk_redirect_count="+tc.redirects)
			}
			r := page("GET", "https://app.example"+tc.path, cookies...)
			if tc.fetch {
				r.Header.Set("Sec-Fetch-Dest", "empty")
			}
			s := a.AuthenticateRequest(r)
			if tc.want == "-" {
				require.Equal(t, clerkauth.SignedIn, s.Status, "%v", s.Err)
				return
			}
			require.Equal(t, clerkauth.Handshake, s.Status)
			assert.Equal(t, "active-organization-mismatch", s.HandshakeReason)
			loc, err := url.Parse(s.Headers.Get("Location"))
			require.NoError(t, err)
			assert.Equal(t, []string{tc.want}, loc.Query()["organization_id"])
		})
	}

	t.Run("every handshake on an organization's URL names it", func(t *testing.T) {
		r := page("GET", "https://app.example/orgs/acme", "__client_uat=1") // no session: a handshake for another reason
		s := a.AuthenticateRequest(r)
		require.Equal(t, clerkauth.Handshake, s.Status)
		assert.Equal(t, "client-uat-but-no-session-token", s.HandshakeReason)
		loc, err := url.Parse(s.Headers.Get("Location"))
		require.NoError(t, err)
		assert.Equal(t, "acme", loc.Query().Get("organization_id"))
	})
}

// A satellite domain of a production instance: the first page load of a
// browser that signed in on the primary syncs through the satellite's
// Frontend API (clerk.<Domain>) and comes back with the session.
func ExampleConfig_satellite() {
	auth, err := clerkauth.New(clerkauth.Config{
		PublishableKey: "pk_live_Y2xlcmsucHJpbWFyeS5leGFtcGxlJA==", // the primary's instance
		IsSatellite:    true,                                       // CLERK_IS_SATELLITE=true
		Domain:         "satellite.example.net",                    // CLERK_DOMAIN
		SignInURL:      "https://primary.example/sign-in",          // users sign in on the primary
		// Sync on a first visit too, not only when coming back from sign-in.
		SatelliteAutoSync: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	r := httptest.NewRequest("GET", "https://satellite.example.net/docs", nil)
	r.Header.Set("Sec-Fetch-Dest", "document")
	s := auth.AuthenticateRequest(r)
	loc, _ := url.Parse(s.Headers.Get("Location"))
	fmt.Println(s.Status, s.HandshakeReason)
	fmt.Println(loc.Host + loc.Path)
	// Output:
	// handshake satellite-needs-syncing
	// clerk.satellite.example.net/v1/client/handshake
}

// Organization sync: a page under /orgs/<slug>/ renders with that
// organization active. A session whose active organization is another goes
// through the handshake first, which asks the Frontend API to activate
// the one the URL names (for a member).
func ExampleOrganizationSync() {
	cfg := clerkauth.ConfigFromEnv()
	cfg.OrganizationSync = clerkauth.OrganizationSync{
		OrganizationPatterns:    []string{"/orgs/:slug", "/orgs/:slug/(.*)"},
		PersonalAccountPatterns: []string{"/me", "/me/(.*)"},
	}
	auth, err := clerkauth.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orgs/{slug}/", func(w http.ResponseWriter, r *http.Request) {
		id, _ := clerkauth.IdentityFromContext(r.Context())
		// Page loads arrive with the URL's organization active; a fetch
		// keeps the session's, so an API checks it against the URL.
		if id.OrgSlug != r.PathValue("slug") {
			http.Error(w, "switch organization first", http.StatusConflict)
			return
		}
		fmt.Fprintln(w, "organization", id.OrgSlug)
	})
	_ = auth.Middleware(mux) // http.ListenAndServe(":8080", auth.Middleware(mux))
}

// TestEncodedParameterNames: Clerk decodes a query's names before looking
// for its own, so ?%5F%5Fclerk_db_jwt= is the dev browser token too.
func TestEncodedParameterNames(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	a, err := clerkauth.New(clerkauth.Config{PublishableKey: clerktest.PublishableKey(primaryHost, false), JWTKey: iss.MustPublicKeyPEM(), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	s := a.AuthenticateRequest(page("GET", "https://app.example/?__clerk%5Fdb_jwt=dvb_9&x=%41"))
	require.Equal(t, clerkauth.Handshake, s.Status)
	assert.Equal(t, "dev-browser-sync", s.HandshakeReason)
	// Clerk's own answer to the same request (@clerk/backend 3.25.0).
	assert.Equal(t, "https://clerk.primary.example/v1/client/handshake?redirect_url=https%3A%2F%2Fapp.example%2F%3Fx%3DA&__clerk_api_version=2026-05-12&suffixed_cookies=false&__clerk_hs_reason=dev-browser-sync&format=nonce&__clerk_db_jwt=dvb_9", s.Headers.Get("Location"))
}

// TestSignInRedirectAgreesWithClerk: RedirectToSignIn's Location is what
// Clerk's createRedirect (@clerk/backend 3.25.0's internal export, asked
// with these very inputs) builds: the page's own query first and in its
// order, redirect_url as URL.toString() writes the way back, then the dev
// browser token for a page on another host; a satellite's way back asks
// for a sync.
func TestSignInRedirectAgreesWithClerk(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	const back = "https://app.example/docs?b=1&a=2;x&t=~"
	for _, tc := range []struct {
		name string
		cfg  clerkauth.Config
		want string
	}{
		{"development, sign-in on another host", clerkauth.Config{PublishableKey: clerktest.PublishableKey(primaryHost, false)},
			"https://accounts.example/sign-in?lang=en&z=1&redirect_url=https%3A%2F%2Fapp.example%2Fdocs%3Fb%3D1%26a%3D2%3Bx%26t%3D%7E&__clerk_db_jwt=dvb_7"},
		{"production satellite", clerkauth.Config{PublishableKey: clerktest.PublishableKey(primaryHost, true), IsSatellite: true, Domain: "app.example"},
			"https://accounts.example/sign-in?lang=en&z=1&redirect_url=https%3A%2F%2Fapp.example%2Fdocs%3Fb%3D1%26a%3D2%253Bx%26t%3D%257E%26__clerk_synced%3Dfalse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.JWTKey, cfg.SignInURL, cfg.Logger = iss.MustPublicKeyPEM(), "https://accounts.example/sign-in?lang=en&z=1", slog.New(slog.DiscardHandler)
			a, err := clerkauth.New(cfg)
			require.NoError(t, err)
			rec := httptest.NewRecorder()
			a.RedirectToSignIn(rec, page("GET", back, "__clerk_db_jwt=dvb_7"))
			assert.Equal(t, tc.want, rec.Header().Get("Location"))
		})
	}
}
