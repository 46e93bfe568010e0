// Command multidomain is two sites of one Clerk instance in one process:
// a primary domain, where users sign in, and a satellite domain, which
// reads the primary's session (Clerk's multi-domain setup), both with
// organization sync (a URL such as /orgs/acme/ activates acme).
//
//	go run ./examples/multidomain
//
// With no Clerk keys set it runs in local mode on an embedded stand-in for
// Clerk: its token issuer, and its Frontend API mounted at /__clerk on each
// site, as a Frontend API proxy would be. The sites are
// http://primary.localhost:8080 and http://satellite.localhost:8081
// (browsers resolve *.localhost to loopback, and send the Sec-Fetch-Dest
// header that satellite sync needs to it over plain http). With
// CLERK_PUBLISHABLE_KEY and CLERK_SECRET_KEY set it uses your instance:
// add the satellite in the Dashboard (Domains → Satellites) and set
// CLERK_DOMAIN to it (default satellite.localhost). Routes:
//
//	/               public, on both sites; the primary's signs you in
//	/sign-in        primary, public: signs you in, and sends a signed-in browser back to a satellite
//	/docs           satellite, protected: signed in by the sync alone
//	/orgs/{slug}/   both, protected: activates organization slug (OrganizationSync)
//	/me             both, protected: the personal account (no active organization)
//
// PORT and SATELLITE_PORT set the ports (default 8080 and 8081).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/internal/issuer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// proxyPath is where each site mounts the stand-in Frontend API in local
// mode: its ProxyURL, relative to the site's origin.
const proxyPath = "/__clerk"

// The demo users of local mode: Ada is a member of two organizations, Bob
// of one (a URL naming the other leaves his session as it was).
var demoUsers = []struct {
	id, name    string
	memberships []issuer.Membership
}{
	{"user_ada", "Ada", []issuer.Membership{{OrgID: "org_acme", OrgSlug: "acme", Role: "admin"}, {OrgID: "org_globex", OrgSlug: "globex", Role: "member"}}},
	{"user_bob", "Bob", []issuer.Membership{{OrgID: "org_globex", OrgSlug: "globex", Role: "member"}}},
}

// site is one of the two apps.
type site struct {
	name               string // "primary" or "satellite"
	origin             string // e.g. http://primary.localhost:8080
	primary, satellite string // both origins, for links
	auth               *clerkauth.Auth
}

// demo holds both sites and, in local mode, the stand-in for Clerk.
type demo struct {
	sites    [2]*site // primary, satellite
	local    *issuer.Issuer
	fake     *issuer.BackendAPI // local mode: Clerk's Frontend and Backend API
	pk, fapi string             // Clerk mode: publishable key, Frontend API host
}

func run(ctx context.Context, getenv func(string) string, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lns []net.Listener
	for _, p := range []struct{ env, def string }{{"PORT", "8080"}, {"SATELLITE_PORT", "8081"}} {
		port := getenv(p.env)
		if port == "" {
			port = p.def
		}
		ln, err := net.Listen("tcp", "localhost:"+port)
		if err != nil {
			return fmt.Errorf("multidomain: %s: %w", p.env, err)
		}
		defer ln.Close()
		lns = append(lns, ln)
	}
	originOf := func(host string, ln net.Listener) string {
		return fmt.Sprintf("http://%s:%d", host, ln.Addr().(*net.TCPAddr).Port)
	}
	d, err := newDemo(getenv, out, originOf("primary.localhost", lns[0]), originOf("satellite.localhost", lns[1]))
	if err != nil {
		return err
	}
	defer d.Close()
	d.banner(out)

	errs := make(chan error, len(lns))
	for i, s := range d.sites {
		srv := &http.Server{Handler: d.handler(s), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			<-ctx.Done()
			shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
			defer done()
			srv.Shutdown(shutdown)
		}()
		go func() {
			err := srv.Serve(lns[i])
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			errs <- err
			cancel() // one site down stops the other
		}()
	}
	return errors.Join(<-errs, <-errs)
}

// newDemo chooses the mode from the environment and configures both sites.
func newDemo(getenv func(string) string, out io.Writer, primaryOrigin, satelliteOrigin string) (*demo, error) {
	logger := slog.New(slog.NewTextHandler(out, nil))
	d := &demo{}
	base := clerkauth.ConfigFromLookup(getenv)
	if base.PublishableKey != "" || base.SecretKey != "" {
		d.pk = base.PublishableKey
		if d.pk == "" {
			return nil, fmt.Errorf("multidomain: set %s too: the sign-in page needs it to load Clerk", clerkauth.EnvPublishableKey)
		}
		host, _, err := clerkauth.ParsePublishableKey(d.pk)
		if err != nil {
			return nil, err
		}
		d.fapi = host
	} else {
		iss, err := issuer.Start()
		if err != nil {
			return nil, err
		}
		d.local, d.fake = iss, issuer.StartBackendAPI(iss)
		// The stand-in tells the sites apart by the URL its Frontend API is
		// addressed at: the primary's knows the browser's client, a
		// satellite's learns it through the primary's.
		d.fake.PrimaryFrontendAPI = primaryOrigin + proxyPath
		for _, u := range demoUsers {
			for _, m := range u.memberships {
				d.fake.AddMembership(u.id, m)
			}
		}
		base = iss.Config()
		base.APIURL, base.SecretKey, base.ProxyURL = d.fake.URL+"/v1", d.fake.SecretKey, proxyPath
	}
	base.Logger = logger
	base.OrganizationSync = clerkauth.OrganizationSync{
		OrganizationPatterns:    []string{"/orgs/:slug", "/orgs/:slug/(.*)"},
		PersonalAccountPatterns: []string{"/me", "/me/(.*)"},
	}

	primary := base
	primary.IsSatellite, primary.Domain = false, ""
	primary.PublicRoutes = []string{"/", "/sign-in", "/favicon.ico"}
	primary.SignInURL = "/sign-in"
	// A development satellite asks the primary for its dev browser, which
	// the primary gives only to listed origins.
	primary.AuthorizedParties = []string{primaryOrigin, satelliteOrigin}

	satellite := base
	satellite.IsSatellite = true
	satellite.PublicRoutes = []string{"/", "/favicon.ico"}
	satellite.SignInURL = primaryOrigin + "/sign-in" // signing in happens on the primary
	satellite.AuthorizedParties = []string{satelliteOrigin}
	if d.local == nil && satellite.Domain == "" && satellite.ProxyURL == "" {
		u, _ := url.Parse(satelliteOrigin)
		satellite.Domain = u.Hostname()
	}

	for i, c := range []clerkauth.Config{primary, satellite} {
		s := &site{name: []string{"primary", "satellite"}[i], origin: []string{primaryOrigin, satelliteOrigin}[i], primary: primaryOrigin, satellite: satelliteOrigin}
		// Every decision goes to the log: the way a satellite gets its
		// session is a few redirects the browser does not show.
		c.Hooks.Decision = func(_ context.Context, di clerkauth.DecisionInfo) {
			logger.Info("decision", "site", s.name, "status", di.Status, "reason", di.Reason)
		}
		auth, err := clerkauth.New(c)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("multidomain: the %s: %w", s.name, err)
		}
		s.auth, d.sites[i] = auth, s
	}
	return d, nil
}

func (d *demo) Close() {
	if d.local != nil {
		d.fake.Close()
		d.local.Close()
	}
}

func (d *demo) banner(out io.Writer) {
	p, s := d.sites[0].origin, d.sites[1].origin
	as := ""
	if d.local != nil {
		as = " as Ada"
	}
	steps := fmt.Sprintf(`1. Open %s/ and sign in%s.
2. Open %s/docs: signed in there too, by the satellite's sync.
3. Open %s/orgs/globex/ (or acme): the URL activates the organization;
   %s/me goes back to the personal account.
The log shows each decision (handshake satellite-needs-syncing, active-organization-mismatch, ...).
`, p, as, s, s, s)
	if d.local == nil {
		fmt.Fprintf(out, "clerkauth multidomain, using your Clerk instance (%s): primary %s, satellite %s\n"+
			"Add the satellite in the Dashboard (Domains → Satellites) and set CLERK_DOMAIN to it.\n%s", d.fapi, p, s, steps)
		return
	}
	bar := strings.Repeat("=", 78)
	fmt.Fprintf(out, `%s
LOCAL MODE: no CLERK_PUBLISHABLE_KEY or CLERK_SECRET_KEY is set, so an embedded
stand-in plays Clerk: its token issuer (%s), and its Frontend API
at %s on each site. Nothing here talks to Clerk.
Never run local mode in production. Set your Clerk keys to use your instance.
%s
%s`, bar, d.local.URL, proxyPath, bar, steps)
}

// handler is one site: in local mode the stand-in Frontend API at
// /__clerk, outside the middleware (a signed-out browser signs in there),
// and the pages behind the middleware.
func (d *demo) handler(s *site) http.Handler {
	pages := http.NewServeMux()
	pages.HandleFunc("GET /{$}", d.home(s))
	pages.HandleFunc("GET /orgs/{slug}/", org(s))
	pages.HandleFunc("GET /me", personal(s))
	if s.name == "primary" {
		pages.HandleFunc("GET /sign-in", d.signIn(s))
	} else {
		pages.HandleFunc("GET /docs", docs(s))
	}
	mux := http.NewServeMux()
	if d.fake != nil {
		// Its sign-in form changes who the browser is: same-origin POSTs only.
		mux.Handle(proxyPath+"/", http.StripPrefix(proxyPath, http.NewCrossOriginProtection().Handler(d.fake.FrontendAPIHandler(s.origin+proxyPath))))
	}
	mux.Handle("/", s.auth.Middleware(pages))
	return mux
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} · clerkauth multidomain</title>
<style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;line-height:1.5}
button{font-size:1rem;padding:.4rem 1rem;margin:.2rem 0}code{background:#f3f3f3;padding:.1rem .3rem}
#decision{border:1px solid #ddd;padding:.5rem 1rem;margin-top:2rem}dt{float:left;clear:left;width:9rem;color:#555}dd{margin-left:9rem}</style></head>
<body><nav>Primary: <a href="{{.Site.Primary}}/">/</a> · <a href="{{.Site.Primary}}/orgs/acme/">/orgs/acme/</a> · <a href="{{.Site.Primary}}/orgs/globex/">/orgs/globex/</a> · <a href="{{.Site.Primary}}/me">/me</a><br>
Satellite: <a href="{{.Site.Satellite}}/">/</a> · <a href="{{.Site.Satellite}}/docs">/docs</a> · <a href="{{.Site.Satellite}}/orgs/acme/">/orgs/acme/</a> · <a href="{{.Site.Satellite}}/orgs/globex/">/orgs/globex/</a> · <a href="{{.Site.Satellite}}/me">/me</a></nav>
<h1>{{.Title}}</h1>
<p>This is the <strong id="site">{{.Site.Name}}</strong>, {{.Site.Origin}}.</p>
{{.Body}}
<section id="decision"><h2>What the middleware decided</h2><dl>
<dt>Status</dt><dd><code id="auth-status">{{.Status}}</code></dd>
<dt>Reason</dt><dd><code id="auth-reason">{{or .Reason "none"}}</code></dd>
<dt>User</dt><dd><code id="user">{{or .User "none"}}</code></dd>
<dt>Organization</dt><dd><code id="org">{{or .Org "none"}}</code>{{if .Role}} (<code id="role">{{.Role}}</code>){{end}}</dd>
</dl><p>Read with <code>clerkauth.IdentityFromContext</code> and <code>clerkauth.ErrorFromContext</code>.
The redirects of a sync or an organization switch are answered by the middleware itself; the log shows them.</p></section>
</body></html>`))

// view is what a page shows: the middleware's decision, as the library
// reports it to a handler. The handler never judges tokens itself.
type view struct {
	Site                            struct{ Name, Origin, Primary, Satellite string }
	Title                           string
	Body                            template.HTML
	Status, Reason, User, Org, Role string
}

func render(w http.ResponseWriter, r *http.Request, s *site, title string, body template.HTML) {
	v := view{Title: title, Body: body, Status: string(clerkauth.SignedOut)}
	v.Site.Name, v.Site.Origin, v.Site.Primary, v.Site.Satellite = s.name, s.origin, s.primary, s.satellite
	if id, ok := clerkauth.IdentityFromContext(r.Context()); ok {
		v.Status, v.User, v.Org, v.Role = string(clerkauth.SignedIn), id.UserID, id.OrgSlug, id.OrgRole
	} else if e, ok := clerkauth.ErrorFromContext(r.Context()); ok {
		v.Reason = string(e.Reason)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store") // the page shows who is signed in
	w.Header().Set("X-Content-Type-Options", "nosniff")
	page.Execute(w, v)
}

func (d *demo) home(s *site) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, signedIn := clerkauth.IdentityFromContext(r.Context())
		switch {
		case s.name == "satellite" && signedIn:
			render(w, r, s, "Satellite", `<p>Signed in here too, with session cookies of the satellite's own.</p>`)
		case s.name == "satellite":
			render(w, r, s, "Satellite", `<p>A public page: a first visit does not sync here (SatelliteAutoSync is off).
<a id="next" href="/docs">/docs</a> is protected: it syncs the session from the primary, or sends you there to sign in.</p>`)
		case signedIn:
			render(w, r, s, "Signed in", template.HTML(`<p>Now open the satellite's <a id="next" href="`+
				template.HTMLEscapeString(s.satellite)+`/docs">/docs</a>: you never signed in there.</p>`))
		default:
			render(w, r, s, "Primary", d.signInForm(s, s.primary+"/"))
		}
	}
}

// signIn is the primary's sign-in page. A signed-in browser goes back to
// redirect_url at once, as Clerk's sign-in component sends it: that is how
// a satellite's visitor returns to be synced.
func (d *demo) signIn(s *site) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		back := s.primary + "/"
		// Only back to one of the two sites: the page must not be an open redirect.
		if u, err := url.Parse(r.URL.Query().Get("redirect_url")); err == nil && u.User == nil &&
			(u.Scheme+"://"+u.Host == s.primary || u.Scheme+"://"+u.Host == s.satellite) {
			back = u.String()
		}
		if _, ok := clerkauth.IdentityFromContext(r.Context()); ok {
			http.Redirect(w, r, back, http.StatusFound)
			return
		}
		render(w, r, s, "Sign in", d.signInForm(s, back))
	}
}

// signInForm signs in and returns to back: in local mode a button per demo
// user, posting to the stand-in Frontend API's sign-in (clerk-js would call
// it); in Clerk mode Clerk's sign-in component.
func (d *demo) signInForm(s *site, back string) template.HTML {
	if d.local == nil {
		cfg, _ := json.Marshal(map[string]string{"forceRedirectUrl": back, "signUpForceRedirectUrl": back})
		origins, _ := json.Marshal(map[string][]string{"allowedRedirectOrigins": {s.primary, s.satellite}})
		return template.HTML(`<div id="sign-in"></div>
<script async crossorigin="anonymous" data-clerk-publishable-key="` + template.HTMLEscapeString(d.pk) + `"
 src="https://` + template.HTMLEscapeString(d.fapi) + `/npm/@clerk/clerk-js@5/dist/clerk.browser.js"></script>
<script>window.addEventListener("load", async function () {
  await Clerk.load(` + string(origins) + `);
  Clerk.mountSignIn(document.getElementById("sign-in"), ` + string(cfg) + `);
});</script>`)
	}
	var b strings.Builder
	b.WriteString(`<p>Local mode: no Clerk account needed.</p>`)
	for _, u := range demoUsers {
		var orgs []string
		for _, m := range u.memberships {
			orgs = append(orgs, m.OrgSlug)
		}
		fmt.Fprintf(&b, `<form method="post" action="%s/v1/client/sign_ins"><input type="hidden" name="identifier" value="%s">
<input type="hidden" name="redirect_url" value="%s"><button id="sign-in-%s" type="submit">Sign in as %s</button> (member of %s)</form>`,
			proxyPath, u.id, template.HTMLEscapeString(back), u.id, u.name, strings.Join(orgs, " and "))
	}
	return template.HTML(b.String())
}

func docs(s *site) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		render(w, r, s, "Satellite docs", template.HTML(`<p id="docs">Only signed-in users see this page. You signed in on the
primary: the middleware synced its session here, and the satellite now has session cookies of its own.</p>`))
	}
}

// org shows the organization the URL names. On a page load the middleware
// has already asked the Frontend API to activate it; it does so for
// members only. A fetch or a POST is never sent through that handshake, so
// the handler compares the URL with the session, as docs/multi-domain.md
// says an API must, before trusting a role for that organization.
func org(s *site) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		slug := r.PathValue("slug")
		id, _ := clerkauth.IdentityFromContext(r.Context()) // a protected route: signed in
		if id.OrgSlug == slug {
			render(w, r, s, "Organization "+slug, template.HTML(`<p id="active">The URL activated <code>`+
				template.HTMLEscapeString(slug)+`</code>: the session's token says so.</p>`))
			return
		}
		render(w, r, s, "Organization "+slug, template.HTML(`<p id="not-active">The URL names <code>`+
			template.HTMLEscapeString(slug)+`</code>, but the session's active organization is not it: only a member can activate it.</p>`))
	}
}

func personal(s *site) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		render(w, r, s, "Personal account", `<p>A personal-account URL: the middleware deactivated the organization.</p>`)
	}
}
