package browser

import (
	"context"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

// TestSatelliteInChromium signs in on a primary domain and lands signed in
// on a satellite domain, then switches the active organization through
// URLs, in Chromium, against clerktest's fake Frontend API.
//
// The two sites are two host names on loopback, primary.localhost and
// satellite.localhost: cookies are kept per host, not per port, so two
// ports of 127.0.0.1 would share every cookie and prove nothing. They are
// subdomains of localhost because Chromium sends Sec-Fetch-Dest, which
// Clerk's satellite sync requires of a page load, only to secure
// contexts: https, or http on localhost and its subdomains (a *.test host
// over http gets none, and its satellite never syncs).
//
// Each app mounts the Frontend API at its ProxyURL path, /__clerk, as a
// Frontend API proxy does: the one fake's FrontendAPIHandler, which tells
// the sites apart by the proxy URL each is mounted at, as Clerk's by the
// Clerk-Proxy-Url a proxy sends. What the Frontend API sets on one site
// (its client cookie, the handshake's nonce cookie) the other never sees,
// so the satellite is signed in only if the sync carried the session
// across, as Clerk's does.
//
// Production: the satellite (SatelliteAutoSync off; on, it syncs at
// once) sends a signed-out browser to the primary's sign-in with
// redirect_url carrying __clerk_synced=false; the primary's sign-in page, already signed in,
// sends it back; the satellite syncs through the handshake
// (satellite-needs-syncing), whose Frontend API detours through the
// primary's to learn the browser's client. Development: the satellite
// sends the browser to the primary's sign-in page with
// __clerk_redirect_url, the primary's middleware answers with its dev
// browser (primary-responds-to-syncing), and the satellite's handshake
// (dev-browser-sync) mints from it.
func TestSatelliteInChromium(t *testing.T) {
	chromium := findChromium(t)
	for _, tc := range []struct {
		name                  string
		development, autoSync bool
		syncs                 []string // the decisions that make the satellite's sync, in order
	}{
		{"production", false, false, []string{"signed-out session-token-missing", "handshake satellite-needs-syncing"}},
		// SatelliteAutoSync: the first page load syncs, without a detour
		// through the primary's sign-in page.
		{"production, SatelliteAutoSync", false, true, []string{"handshake satellite-needs-syncing"}},
		{"development", true, false, []string{"signed-out session-token-missing", "handshake satellite-needs-syncing", "handshake primary-responds-to-syncing", "handshake dev-browser-sync"}},
		{"development, SatelliteAutoSync", true, true, []string{"handshake satellite-needs-syncing", "handshake primary-responds-to-syncing", "handshake dev-browser-sync"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := startMultiDomain(t, tc.development, tc.autoSync)
			ctx := newBrowser(t, chromium)
			decisions := watchDecisions(t, ctx)

			// Signed out on the primary: its sign-in page; the button signs in
			// through the Frontend API and returns to the dashboard.
			require.NoError(t, chromedp.Do(ctx,
				chromedp.Navigate(md.primary+"/dashboard"),
				chromedp.WaitVisible(chromedp.CSS("#sign-in-ada")),
				chromedp.Click(chromedp.CSS("#sign-in-ada")),
				chromedp.WaitVisible(chromedp.CSS("#user")),
			))
			assert.Equal(t, view{Host: "primary.localhost", Path: "/dashboard", Status: "signed-in", User: "user_ada"}, pageView(t, ctx))

			// The satellite: signed in, by the sync alone.
			before := len(decisions())
			require.NoError(t, chromedp.Do(ctx,
				chromedp.Navigate(md.satellite+"/dashboard"),
				chromedp.WaitVisible(chromedp.CSS("#user")),
			))
			v := pageView(t, ctx)
			assert.Equal(t, view{Host: "satellite.localhost", Path: "/dashboard", Status: "signed-in", User: "user_ada"}, v)
			assert.Equal(t, tc.syncs, decisions()[before:], "the satellite's way to its session")
			assert.Positive(t, md.bapi.Calls("/v1/clients/handshake_payload"), "the satellite exchanged a handshake nonce")
			if !tc.development {
				assert.Equal(t, 1, md.bapi.Calls("/v1/client/sync"), "the satellite's Frontend API asked the primary's")
			}
			satelliteSession := cookie(t, ctx, md.satellite, "__session")
			require.NotNil(t, satelliteSession, "the satellite has a session cookie of its own")
			assert.Equal(t, "satellite.localhost", satelliteSession.Domain)
			primarySession := cookie(t, ctx, md.primary, "__session")
			require.NotNil(t, primarySession)
			assert.NotEqual(t, primarySession.Value, satelliteSession.Value, "minted for the satellite")

			// A reload on the satellite stays signed in without syncing again.
			before = len(decisions())
			require.NoError(t, chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#user"))))
			assert.Equal(t, "user_ada", pageView(t, ctx).User)
			assert.Empty(t, decisions()[before:])

			// Organization sync, on the primary: a URL naming an organization
			// activates it through the handshake; a personal-account URL
			// leaves it.
			for _, step := range []struct{ path, org string }{
				{"/orgs/acme/settings", "acme"},
				{"/orgs/globex/settings", "globex"},
				{"/dashboard", "globex"},
				{"/me", ""},
			} {
				before := len(decisions())
				require.NoError(t, chromedp.Do(ctx,
					chromedp.Navigate(md.primary+step.path),
					chromedp.WaitVisible(chromedp.CSS("#user")),
				))
				v := pageView(t, ctx)
				assert.Equal(t, view{Host: "primary.localhost", Path: step.path, Status: "signed-in", User: "user_ada", Org: step.org}, v, step.path)
				want := []string{"handshake active-organization-mismatch"}
				if step.path == "/dashboard" {
					want = []string{} // no organization named: the session's stays
				}
				assert.Equal(t, want, append([]string{}, decisions()[before:]...), step.path)
			}

			// And on the satellite, whose Frontend API shares the client.
			require.NoError(t, chromedp.Do(ctx,
				chromedp.Navigate(md.satellite+"/orgs/acme/settings"),
				chromedp.WaitVisible(chromedp.CSS("#user")),
			))
			assert.Equal(t, view{Host: "satellite.localhost", Path: "/orgs/acme/settings", Status: "signed-in", User: "user_ada", Org: "acme"}, pageView(t, ctx))
			screenshot(t, ctx, "satellite-"+tc.name+".png")
		})
	}
}

// multiDomain is a primary app and a satellite app of one instance, on
// two host names, with the fake Frontend and Backend API behind them.
type multiDomain struct {
	primary, satellite string // origins: http://primary.localhost:<port>, http://satellite.localhost:<port>
	bapi               *clerktest.BackendAPI
}

func startMultiDomain(t *testing.T, development, autoSync bool) *multiDomain {
	t.Helper()
	newIssuer := clerktest.NewIssuer
	if development {
		newIssuer = clerktest.NewDevelopmentIssuer
	}
	iss := newIssuer(t)
	bapi := clerktest.NewBackendAPI(t, iss)
	for _, m := range []struct{ id, slug, role string }{{"org_acme", "acme", "admin"}, {"org_globex", "globex", "member"}} {
		bapi.AddMembership(clerktest.Membership{User: clerktest.User{ID: "user_ada"},
			Organization: clerktest.Organization{ID: m.id, Slug: m.slug}, Role: m.role})
	}
	primaryLn, satelliteLn := listen(t), listen(t)
	md := &multiDomain{
		primary:   "http://primary.localhost:" + port(primaryLn),
		satellite: "http://satellite.localhost:" + port(satelliteLn),
		bapi:      bapi,
	}
	bapi.PrimaryFrontendAPI = md.primary + "/__clerk"
	orgs := clerkauth.OrganizationSync{
		OrganizationPatterns:    []string{"/orgs/:slug", "/orgs/:slug/(.*)"},
		PersonalAccountPatterns: []string{"/me", "/me/(.*)"},
	}
	primary := iss.MustAuth(func(c *clerkauth.Config) {
		bapi.Configure(c)
		c.ProxyURL = "/__clerk"
		c.PublicRoutes = []string{"/sign-in"}
		c.SignInURL = "/sign-in"
		// The satellite may ask the primary to sync (development), and its
		// tokens are the satellite's.
		c.AuthorizedParties = []string{md.primary, md.satellite}
		c.OrganizationSync = orgs
	})
	satellite := iss.MustAuth(func(c *clerkauth.Config) {
		bapi.Configure(c)
		c.ProxyURL = "/__clerk"
		c.IsSatellite = true
		c.SatelliteAutoSync = autoSync
		c.SignInURL = md.primary + "/sign-in"
		c.AuthorizedParties = []string{md.satellite}
		c.OrganizationSync = orgs
	})
	serve(t, primaryLn, md.app(primary, "primary.localhost", md.primary, true))
	serve(t, satelliteLn, md.app(satellite, "satellite.localhost", md.satellite, false))
	return md
}

// app is one site: the Frontend API at /__clerk, outside the middleware
// (a signed-out browser must reach it to sign in), and pages behind it
// that show what the middleware decided. The primary also serves the
// sign-in page.
func (md *multiDomain) app(auth *clerkauth.Auth, host, origin string, primary bool) http.Handler {
	pages := http.NewServeMux()
	pages.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		render(w, r, host)
	})
	if primary {
		pages.HandleFunc("GET /sign-in", md.signIn)
	}
	mux := http.NewServeMux()
	mux.Handle("/__clerk/", http.StripPrefix("/__clerk", md.bapi.FrontendAPIHandler(origin+"/__clerk")))
	mux.Handle("/", auth.Middleware(pages))
	return mux
}

// signIn is the primary's sign-in page. Signed out, a button signs in as
// user_ada through the Frontend API (clerk-js would call it, with the dev
// browser in the URL); signed in, it returns the browser to redirect_url,
// as Clerk's sign-in component does, when that is one of the two sites.
func (md *multiDomain) signIn(w http.ResponseWriter, r *http.Request) {
	back := r.URL.Query().Get("redirect_url")
	if u, err := url.Parse(back); err != nil || back == "" || !slices.Contains([]string{md.primary, md.satellite}, u.Scheme+"://"+u.Host) {
		back = md.primary + "/dashboard"
	}
	if _, ok := clerkauth.IdentityFromContext(r.Context()); ok {
		http.Redirect(w, r, back, http.StatusFound)
		return
	}
	action := "/__clerk/v1/client/sign_ins"
	if c, err := r.Cookie("__clerk_db_jwt"); err == nil {
		action += "?__clerk_db_jwt=" + url.QueryEscape(c.Value)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	signInPage.Execute(w, map[string]string{"Action": action, "Back": back})
}

var signInPage = template.Must(template.New("sign-in").Parse(`<!doctype html><title>Sign in</title>
<form method="post" action="{{.Action}}"><input type="hidden" name="identifier" value="user_ada">
<input type="hidden" name="redirect_url" value="{{.Back}}"><button id="sign-in-ada" type="submit">Sign in as Ada</button></form>`))

var viewPage = template.Must(template.New("view").Parse(`<!doctype html><title>{{.Host}}</title>
<dl><dt>Host</dt><dd id="host">{{.Host}}</dd><dt>Path</dt><dd id="path">{{.Path}}</dd>
<dt>Status</dt><dd id="status">{{.Status}}</dd><dt>Reason</dt><dd id="reason">{{.Reason}}</dd>
{{if .User}}<dt>User</dt><dd id="user">{{.User}}</dd><dt>Organization</dt><dd id="org">{{.Org}}</dd>{{end}}</dl>`))

// view is what a page shows: the middleware's decision for it.
type view struct {
	Host, Path, Status, Reason, User, Org string
}

func render(w http.ResponseWriter, r *http.Request, host string) {
	v := view{Host: host, Path: r.URL.Path, Status: "signed-out"}
	if id, ok := clerkauth.IdentityFromContext(r.Context()); ok {
		v.Status, v.User, v.Org = "signed-in", id.UserID, id.OrgSlug
	} else if e, ok := clerkauth.ErrorFromContext(r.Context()); ok {
		v.Reason = string(e.Reason)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	viewPage.Execute(w, v)
}

func pageView(t *testing.T, ctx context.Context) view {
	t.Helper()
	return run(t, ctx, chromedp.Evaluate[view](`(() => {
  const text = (id) => { const e = document.getElementById(id); return e ? e.textContent : ""; };
  return {Host: text("host"), Path: location.pathname, Status: text("status"), Reason: text("reason"), User: text("user"), Org: text("org")};
})()`))
}

// cookie returns the browser's cookie name for origin, or nil.
func cookie(t *testing.T, ctx context.Context, origin, name string) *network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{origin + "/"}})
	require.NoError(t, err)
	for _, c := range res.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}

func port(ln net.Listener) string { return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port) }

func serve(t *testing.T, ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}
