// Command quickstart is a small app protected by clerkauth.
//
//	go run ./examples/quickstart
//
// With CLERK_PUBLISHABLE_KEY (and CLERK_SECRET_KEY) set, it talks to your
// Clerk instance: /sign-in mounts Clerk's sign-in component. With no keys
// set it runs in local mode on an embedded test issuer: /sign-in signs you
// in as a demo user or as a demo organization admin, and the startup
// banner prints curl commands with valid tokens. Every page shows what the
// middleware decided (status, reason code, token type). Routes:
//
//	/                     public; greets you if signed in
//	/sign-in              public
//	/sign-out             public; GET shows a button, POST (same origin only) signs out
//	/dashboard            protected page (signed-out browsers go to /sign-in)
//	/api/me               protected JSON: your identity
//	/api/admin            protected, requires the org:admin role
//	/api/webhooks/clerk   public; Svix-verified webhooks, logged
//
// PORT sets the port (default 8080).
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
	"strconv"
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

// app holds what the handlers need in either mode.
type app struct {
	auth   *clerkauth.Auth
	local  *issuer.Issuer     // nil in Clerk mode
	fake   *issuer.BackendAPI // local mode: plays Clerk's Frontend and Backend API (the handshake)
	pk     string             // publishable key, Clerk mode
	fapi   string             // Frontend API host, Clerk mode
	logger *slog.Logger
}

// The demo users of local mode: a user, and an admin of an organization
// (what /api/admin's Role("org:admin") asks for).
const (
	demoUser  = "user_demo"
	demoAdmin = "user_admin"
)

func demoAdminOrg() issuer.Option {
	return issuer.Org("org_demo", "demo", "admin", "sys_memberships:manage")
}

func run(ctx context.Context, getenv func(string) string, out io.Writer) error {
	port := getenv("PORT")
	if port == "" {
		port = "8080"
	}
	ln, err := net.Listen("tcp", "localhost:"+port)
	if err != nil {
		return err
	}
	a, handler, err := newApp(getenv, out)
	if err != nil {
		ln.Close()
		return err
	}
	if a.local != nil {
		defer a.local.Close()
		defer a.fake.Close()
	}
	base := "http://" + ln.Addr().String()
	a.banner(out, base)

	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// newApp chooses the mode from the environment and builds the handler.
func newApp(getenv func(string) string, out io.Writer) (*app, http.Handler, error) {
	a := &app{logger: slog.New(slog.NewTextHandler(out, nil))}
	var cfg clerkauth.Config
	clerkMode := getenv("CLERK_PUBLISHABLE_KEY") != "" || getenv("NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY") != "" || getenv("CLERK_SECRET_KEY") != ""
	if clerkMode {
		cfg = clerkauth.ConfigFromLookup(getenv)
		a.pk = cfg.PublishableKey
		if a.pk == "" {
			return nil, nil, fmt.Errorf("quickstart: set CLERK_PUBLISHABLE_KEY too: the sign-in page needs it to load Clerk")
		}
		host, _, err := clerkauth.ParsePublishableKey(a.pk)
		if err != nil {
			return nil, nil, err
		}
		a.fapi = host
	} else {
		iss, err := issuer.Start()
		if err != nil {
			return nil, nil, err
		}
		a.local = iss
		cfg = iss.Config()
		// The stand-in for Clerk's servers: a stale session on a page load
		// goes through its handshake, as it would through Clerk's.
		a.fake = issuer.StartBackendAPI(iss)
		cfg.APIURL, cfg.SecretKey, cfg.ProxyURL = a.fake.URL+"/v1", a.fake.SecretKey, a.fake.URL
	}
	cfg.PublicRoutes = []string{"/", "/sign-in(.*)", "/sign-out", "/api/webhooks(.*)", "/favicon.ico"}
	cfg.SignInURL = "/sign-in"
	cfg.Logger = a.logger
	auth, err := clerkauth.New(cfg)
	if err != nil {
		if a.local != nil {
			a.local.Close()
			a.fake.Close()
		}
		return nil, nil, err
	}
	a.auth = auth

	// The middleware refuses a cross-site request only when the session
	// cookie signs it in, and on a public route it only records that
	// (ErrorFromContext: cross-origin-request). Signing in and out change
	// the session whatever state it is in, so they refuse every cross-site
	// POST, by the same rules (Sec-Fetch-Site, else Origin against Host).
	sameOrigin := http.NewCrossOriginProtection()
	sameOrigin.SetDenyHandler(http.HandlerFunc(a.crossSite))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /sign-in", a.signInPage)
	mux.Handle("POST /sign-in", sameOrigin.Handler(http.HandlerFunc(a.signInLocal)))
	mux.HandleFunc("GET /sign-out", a.signOutPage)
	mux.Handle("POST /sign-out", sameOrigin.Handler(http.HandlerFunc(a.signOut)))
	mux.HandleFunc("GET /dashboard", a.dashboard)
	mux.HandleFunc("GET /api/me", a.me)
	mux.Handle("GET /api/admin", auth.Require(clerkauth.Role("org:admin"))(http.HandlerFunc(a.admin)))

	secret := clerkauth.WebhookSecretFromLookup(getenv)
	if secret == "" && a.local != nil {
		secret = issuer.NewWebhookSecret()
		fmt.Fprintf(out, "Webhook signing secret for this run: %s\n", secret)
	}
	if secret != "" {
		wh, err := clerkauth.NewWebhookHandler(clerkauth.WebhookConfig{Secret: secret, Events: a.logEvents(), Logger: a.logger})
		if err != nil {
			return nil, nil, err
		}
		mux.Handle("POST /api/webhooks/clerk", wh)
	} else {
		fmt.Fprintln(out, "Webhooks are off: set CLERK_WEBHOOK_SIGNING_SECRET (Dashboard → Webhooks → Signing Secret) to receive them at /api/webhooks/clerk.")
	}
	return a, auth.Middleware(securityHeaders(mux)), nil
}

func (a *app) banner(out io.Writer, base string) {
	if a.local == nil {
		fmt.Fprintf(out, "clerkauth quickstart on %s, using your Clerk instance (%s)\n", base, a.fapi)
		return
	}
	bar := strings.Repeat("=", 78)
	member, err1 := a.local.SessionToken(demoUser, issuer.Expiry(time.Hour))
	admin, err2 := a.local.SessionToken(demoAdmin, issuer.Expiry(time.Hour), demoAdminOrg())
	if err := errors.Join(err1, err2); err != nil {
		fmt.Fprintln(out, "quickstart: minting the demo tokens:", err)
		return
	}
	fmt.Fprintf(out, `%s
LOCAL MODE: no CLERK_PUBLISHABLE_KEY or CLERK_SECRET_KEY is set, so tokens
are signed by an embedded test issuer (%s), and an embedded
stand-in plays Clerk's handshake. Nothing here talks to Clerk.
Never run local mode in production. Set your Clerk keys to use your instance.
%s
Open %s/dashboard in a browser and press "Sign in as demo user" (or
"Sign in as demo admin", for /api/admin), or:

  curl -H "Authorization: Bearer %s" %s/api/me

  curl -H "Authorization: Bearer %s" %s/api/admin

(tokens valid for one hour)
`, bar, a.local.URL, bar, base, member, base, admin, base)
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} · clerkauth quickstart</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}
button{font-size:1rem;padding:.5rem 1rem}nav form{display:inline}nav button{font-size:inherit;padding:0 .3rem}
code{background:#f3f3f3;padding:.1rem .3rem}#decision{border:1px solid #ddd;padding:.5rem 1rem;margin-top:2rem}
dt{float:left;clear:left;width:7rem;color:#555}dd{margin-left:7rem}</style></head>
<body><nav><a href="/">Home</a> · <a href="/dashboard">Dashboard</a> · <a href="/api/me">/api/me</a>
{{- if .UserID}} · <code id="nav-user">{{.UserID}}</code>
{{- if .Admin}} · <a id="nav-admin" href="/api/admin">/api/admin</a>{{end}}
 · <form method="post" action="/sign-out"><button id="sign-out" type="submit">Sign out</button></form>
{{- else}} · <a id="nav-sign-in" href="/sign-in">Sign in</a>{{end}}</nav>
<h1>{{.Title}}</h1>
{{if .UserID}}<p id="user">Signed in as <code id="user-id">{{.UserID}}</code>{{if .OrgRole}} ({{.OrgRole}} in {{.OrgSlug}}){{end}}.</p>{{end}}
{{.Body}}
<section id="decision"><h2>What the middleware decided</h2><dl>
<dt>Status</dt><dd><code id="auth-status">{{.Decision.Status}}</code></dd>
<dt>Reason</dt><dd><code id="auth-reason">{{or .Decision.Reason "none"}}</code></dd>
<dt>Token type</dt><dd><code id="auth-token-type">{{or .Decision.TokenType "none"}}</code></dd>
</dl><p>Read with <code>clerkauth.IdentityFromContext</code> and <code>clerkauth.ErrorFromContext</code>.
Refusals (401, 403, the redirect to sign in) and handshakes are answered by the middleware itself, with
<code>X-Clerk-Auth-Status</code> and <code>X-Clerk-Auth-Reason</code> headers.</p></section>
</body></html>`))

type pageData struct {
	Title, UserID, OrgRole, OrgSlug string
	Admin                           bool // the nav shows /api/admin
	Body                            template.HTML
	Decision                        decision
}

// decision is what the middleware decided for this request, as the
// library reports it to a handler: the identity it verified, or, on a
// public route, why there is none. The handler never judges tokens itself.
type decision struct {
	Status    string `json:"status"`               // clerkauth.SignedIn or clerkauth.SignedOut
	Reason    string `json:"reason,omitempty"`     // the reason code, when signed out
	TokenType string `json:"token_type,omitempty"` // when signed in
}

func decisionOf(r *http.Request) decision {
	if id, ok := clerkauth.IdentityFromContext(r.Context()); ok {
		return decision{Status: string(clerkauth.SignedIn), TokenType: string(id.TokenType)}
	}
	if e, ok := clerkauth.ErrorFromContext(r.Context()); ok {
		return decision{Status: string(clerkauth.SignedOut), Reason: string(e.Reason)}
	}
	return decision{Status: "unknown (the request did not pass through the middleware)"}
}

// pageFor fills what every page shows: the state links and the decision.
func pageFor(r *http.Request, title string, body template.HTML) pageData {
	d := pageData{Title: title, Body: body, Decision: decisionOf(r)}
	if id, ok := clerkauth.IdentityFromContext(r.Context()); ok {
		d.UserID, d.OrgRole, d.OrgSlug, d.Admin = id.UserID, id.OrgRole, id.OrgSlug, id.HasRole("org:admin")
	}
	return d
}

func render(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store") // the page shows who is signed in
	w.WriteHeader(status)
	page.Execute(w, d)
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	if id, ok := clerkauth.IdentityFromContext(r.Context()); ok {
		render(w, http.StatusOK, pageFor(r, "Hello, "+id.UserID, ""))
		return
	}
	render(w, http.StatusOK, pageFor(r, "Hello, stranger", `<p><a href="/sign-in">Sign in</a> to see your dashboard.</p>`))
}

func (a *app) dashboard(w http.ResponseWriter, r *http.Request) {
	render(w, http.StatusOK, pageFor(r, "Dashboard", `<p>Only signed-in users see this page.</p>`))
}

func (a *app) me(w http.ResponseWriter, r *http.Request) {
	id, ok := clerkauth.IdentityFromContext(r.Context())
	if !ok { // only if the route becomes public
		http.Error(w, "not signed in", http.StatusUnauthorized)
		return
	}
	writeJSON(w, map[string]any{
		"user_id": id.UserID, "session_id": id.SessionID, "issuer": id.Issuer,
		"org_id": id.OrgID, "org_slug": id.OrgSlug, "org_role": id.OrgRole, "org_permissions": id.OrgPermissions,
		"expires_at": id.ExpiresAt.UTC().Format(time.RFC3339), "impersonated": id.Impersonated(),
		"auth": decisionOf(r),
	})
}

func (a *app) admin(w http.ResponseWriter, r *http.Request) {
	id, _ := clerkauth.IdentityFromContext(r.Context()) // Require let only signed-in requests through
	writeJSON(w, map[string]any{"admin": true, "user_id": id.UserID, "org_id": id.OrgID, "auth": decisionOf(r)})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

// signInPage: in local mode buttons that sign in as the demo user or the
// demo admin; in Clerk mode Clerk's own sign-in component, loaded from the
// instance's Frontend API.
func (a *app) signInPage(w http.ResponseWriter, r *http.Request) {
	redirect := safeRedirect(r, r.URL.Query().Get("redirect_url"))
	if a.local != nil {
		hidden := `<input type="hidden" name="redirect_url" value="` + template.HTMLEscapeString(redirect) + `">`
		form := template.HTML(`<p>Local mode: no Clerk account needed.</p>
<form method="post" action="/sign-in">` + hidden + `
<button id="sign-in-demo" type="submit">Sign in as demo user</button></form>
<p>Or as an admin of the demo organization, whom <a href="/api/admin">/api/admin</a> lets in:</p>
<form method="post" action="/sign-in">` + hidden + `<input type="hidden" name="as" value="admin">
<button id="sign-in-admin" type="submit">Sign in as demo admin</button></form>`)
		render(w, http.StatusOK, pageFor(r, "Sign in", form))
		return
	}
	cfg, _ := json.Marshal(map[string]string{"forceRedirectUrl": redirect, "signUpForceRedirectUrl": redirect})
	body := template.HTML(`<div id="sign-in"></div>
<script async crossorigin="anonymous" data-clerk-publishable-key="` + template.HTMLEscapeString(a.pk) + `"
 src="https://` + template.HTMLEscapeString(a.fapi) + `/npm/@clerk/clerk-js@5/dist/clerk.browser.js"></script>
<script>window.addEventListener("load", async function () {
  await Clerk.load();
  Clerk.mountSignIn(document.getElementById("sign-in"), ` + string(cfg) + `);
});</script>`)
	render(w, http.StatusOK, pageFor(r, "Sign in", body))
}

// signInLocal sets the __session cookie, as Clerk's JS does after sign-in,
// and returns to where the user was going. The form's "as" chooses the
// demo user or the demo admin.
func (a *app) signInLocal(w http.ResponseWriter, r *http.Request) {
	if a.local == nil {
		http.NotFound(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	user, org := demoUser, []issuer.Option(nil)
	if r.PostFormValue("as") == "admin" {
		user, org = demoAdmin, []issuer.Option{demoAdminOrg()}
	}
	a.fake.SetClient(user, org...)  // the "Frontend API" now knows this browser as user, in org
	signedInAt := time.Now().Unix() // before the token, so that its iat is not earlier
	token, err := a.local.SessionToken(user, append(org, issuer.Expiry(time.Hour))...)
	if err != nil {
		a.logger.Error("quickstart: minting the demo session", "error", err)
		http.Error(w, "cannot sign in", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: clerkauth.SessionCookie, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: 3600, Secure: r.TLS != nil})
	// __client_uat (when the browser last signed in or out) comes with the
	// session: without it the middleware would send the browser through
	// Clerk's handshake, as it does for a session cookie nobody vouches for.
	http.SetCookie(w, &http.Cookie{Name: "__client_uat", Value: strconv.FormatInt(signedInAt, 10), Path: "/",
		SameSite: http.SameSiteLaxMode, MaxAge: 3600, Secure: r.TLS != nil})
	http.Redirect(w, r, safeRedirect(r, r.PostFormValue("redirect_url")), http.StatusSeeOther)
}

// signOutPage answers GET /sign-out, an old bookmark or a typed URL: a
// GET changes nothing (a link or an image on any site could make one),
// so it only offers the button, which POSTs.
func (a *app) signOutPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := clerkauth.IdentityFromContext(r.Context()); ok {
		render(w, http.StatusOK, pageFor(r, "Sign out", `<p>Signing out takes a press of the button:</p>
<form method="post" action="/sign-out"><button id="sign-out-confirm" type="submit">Sign out</button></form>`))
		return
	}
	render(w, http.StatusOK, pageFor(r, "Sign out", `<p id="signed-out">You are not signed in. <a href="/sign-in">Sign in</a>.</p>`))
}

// signOut answers POST /sign-out (same-origin only: see sameOrigin). In
// Clerk mode a page runs Clerk's signOut, which ends the session at the
// Frontend API; in local mode the cookies go and the stand-in forgets
// the browser, as Clerk records a sign-out (__client_uat=0).
func (a *app) signOut(w http.ResponseWriter, r *http.Request) {
	if a.local == nil {
		body := template.HTML(`<p id="status">Signing out…</p>
<script async crossorigin="anonymous" data-clerk-publishable-key="` + template.HTMLEscapeString(a.pk) + `"
 src="https://` + template.HTMLEscapeString(a.fapi) + `/npm/@clerk/clerk-js@5/dist/clerk.browser.js"></script>
<script>window.addEventListener("load", async function () { await Clerk.load(); await Clerk.signOut(); location.href = "/"; });</script>`)
		render(w, http.StatusOK, pageFor(r, "Sign out", body))
		return
	}
	a.fake.SetClient("")
	http.SetCookie(w, &http.Cookie{Name: clerkauth.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: "__client_uat", Value: "0", Path: "/", SameSite: http.SameSiteLaxMode}) // signed out, as Clerk records it
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// crossSite answers a cross-site POST to /sign-in or /sign-out: refused,
// nothing changed.
func (a *app) crossSite(w http.ResponseWriter, r *http.Request) {
	render(w, http.StatusForbidden, pageFor(r, "Refused", `<p id="refused">A request from another site cannot sign you in or out.</p>`))
}

// safeRedirect accepts only targets on this server (a path, or an
// absolute URL with this request's host): the sign-in page must not become
// an open redirect.
func safeRedirect(r *http.Request, target string) string {
	u, err := url.Parse(target)
	if err != nil || target == "" {
		return "/dashboard"
	}
	if u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(target, "//") && !strings.ContainsRune(target, '\\') {
		return u.RequestURI()
	}
	if (u.Scheme == "http" || u.Scheme == "https") && u.Host == r.Host {
		return u.RequestURI()
	}
	return "/dashboard"
}

func (a *app) logEvents() func(context.Context, *clerkauth.Event) error {
	return func(ctx context.Context, e *clerkauth.Event) error {
		a.logger.Info("webhook event", "type", e.Type, "svix_id", e.ID, "instance", e.InstanceID, "bytes", len(e.Data))
		return nil
	}
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}
