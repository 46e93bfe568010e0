package issuer

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The Frontend API's side of the cookie flows: the browser's client (who
// it is signed in as, in which organization), the handshake that mints an
// app's session cookies from it, a satellite's sync through the primary
// domain's Frontend API, organization activation, and a sign-in.
//
// The real Frontend API keeps each browser's client in a cookie on its own
// host (in development: under the dev browser token). So does the fake,
// once a browser has signed in through POST /v1/client/sign_ins or been
// linked to a satellite; a browser it does not know uses the default
// client that SetClient sets, so that tests which drive the handshake
// with a plain HTTP client keep working.

// Names and bounds of the fake's own state.
const (
	// clientCookie holds the browser's client id on the Frontend API's
	// host, as Clerk's __client does.
	clientCookie = "__client"
	// linkParam carries a satellite sync's one-time link from the
	// primary's Frontend API back to the satellite's handshake.
	linkParam = "__clerk_link"
	// maxClients bounds the clients (and dev browsers, and pending links)
	// the fake remembers; the oldest are forgotten first.
	maxClients = 1024
	// maxIdentifier bounds a sign-in's identifier and an organization_id.
	maxIdentifier = 256
)

// client is a browser's Clerk client: who it is signed in as ("" signed
// out), the shape of its sessions, and the organization a handshake
// activated (nil: as opts say).
type client struct {
	user   string
	opts   []Option
	active Option
}

// Membership is a user's membership of an organization, which a
// handshake's organization_id activates.
type Membership struct {
	OrgID, OrgSlug string
	Role           string
	Permissions    []string
}

// lru is a map that forgets its oldest keys beyond max entries.
type lru[V any] struct {
	m     map[string]V
	order []string
	max   int
}

func newLRU[V any](max int) *lru[V] { return &lru[V]{m: map[string]V{}, max: max} }

func (l *lru[V]) put(k string, v V) {
	if _, ok := l.m[k]; !ok {
		l.order = append(l.order, k)
		if len(l.order) > l.max {
			delete(l.m, l.order[0])
			l.order = l.order[1:]
		}
	}
	l.m[k] = v
}

// SetClient sets who the default client is signed in as on the next
// handshakes ("" signed out): the client of every browser the Frontend API
// does not know by a client cookie or dev browser. opts shape the session
// tokens they mint (Org, for an active organization); an organization a
// handshake activated is forgotten.
func (b *BackendAPI) SetClient(userID string, opts ...Option) {
	b.mu.Lock()
	b.defaultClient = client{user: userID, opts: opts}
	b.mu.Unlock()
}

// AddMembership makes userID a member of an organization, which a
// handshake's organization_id (the organization's id or slug) activates.
// Adding the same organization again replaces the membership.
func (b *BackendAPI) AddMembership(userID string, m Membership) {
	b.mu.Lock()
	defer b.mu.Unlock()
	list := b.memberships[userID]
	for i, old := range list {
		if old.OrgID == m.OrgID {
			list[i] = m
			return
		}
	}
	b.memberships[userID] = append(list, m)
}

// frontendAPIBase is the Frontend API's URL as the browser addressed it:
// behind a proxy the Clerk-Proxy-Url the proxy sends (as Clerk's Frontend
// API reads it), else the request's scheme and host.
func frontendAPIBase(r *http.Request) string {
	if p := r.Header.Get("Clerk-Proxy-Url"); p != "" {
		return strings.TrimRight(p, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// FrontendAPIHandler serves the Frontend API's browser endpoints
// (/v1/client/…) as if reached through a proxy at proxyURL, to mount at an
// app's ProxyURL path: the fake reads proxyURL as the URL the browser
// addressed (Clerk-Proxy-Url), whatever the request says.
func (b *BackendAPI) FrontendAPIHandler(proxyURL string) http.Handler {
	base := strings.TrimRight(proxyURL, "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/client/") {
			http.NotFound(w, r)
			return
		}
		r = r.Clone(r.Context())
		r.Header.Set("Clerk-Proxy-Url", base)
		b.handler.ServeHTTP(w, r)
	})
}

// satellite reports whether base is a satellite domain's Frontend API:
// any but PrimaryFrontendAPI, once that is set.
func (b *BackendAPI) satellite(base string) bool {
	primary := strings.TrimRight(b.PrimaryFrontendAPI, "/")
	return primary != "" && !strings.EqualFold(base, primary)
}

// clientFor finds the browser's client: by its dev browser on a
// development instance, else by its client cookie, else the default one.
// The caller holds b.mu.
func (b *BackendAPI) clientFor(r *http.Request, devBrowser string) *client {
	if devBrowser != "" {
		if c, ok := b.clients.m[b.devClients.m[devBrowser]]; ok {
			return c
		}
	}
	if ck, err := r.Cookie(clientCookie); err == nil {
		if c, ok := b.clients.m[ck.Value]; ok {
			return c
		}
	}
	return &b.defaultClient
}

// clientID is the id of the browser's known client, by its cookie, or "".
// The caller holds b.mu.
func (b *BackendAPI) clientID(r *http.Request) string {
	if ck, err := r.Cookie(clientCookie); err == nil {
		if _, ok := b.clients.m[ck.Value]; ok {
			return ck.Value
		}
	}
	return ""
}

func clientCookieFor(base, id string) *http.Cookie {
	return &http.Cookie{Name: clientCookie, Value: id, Path: "/", MaxAge: 31536000, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(base, "https:")}
}

// activate makes the organization named by org (its id or slug; "" the
// personal account) the client's active one, when its user is a member,
// as the Frontend API does for a handshake's organization_id; for anyone
// else the session keeps its organization. The caller holds b.mu.
func (b *BackendAPI) activate(c *client, org string) {
	switch {
	case c.user == "" || len(org) > maxIdentifier:
	case org == "":
		c.active = personalAccount
	default:
		for _, m := range b.memberships[c.user] {
			if m.OrgID == org || m.OrgSlug == org {
				c.active = Org(m.OrgID, m.OrgSlug, m.Role, m.Permissions...)
				return
			}
		}
	}
}

// personalAccount removes the active organization from a session token:
// its v2 o claim and organization features, its v1 org_ claims.
func personalAccount(s *Spec) {
	for _, k := range []string{"o", "org_id", "org_slug", "org_role", "org_permissions"} {
		delete(s.Claims, k)
	}
	if fea, ok := s.Claims["fea"].(string); ok {
		var kept []string
		for _, f := range strings.Split(fea, ",") {
			if !strings.HasPrefix(f, "o:") {
				kept = append(kept, f)
			}
		}
		if len(kept) == 0 {
			delete(s.Claims, "fea")
		} else {
			s.Claims["fea"] = strings.Join(kept, ",")
		}
	}
}

// sessionDirectives are the Set-Cookie directives that give an app the
// client's session: a fresh session token (azp: the app's origin, as
// Clerk sets it) and __client_uat, both the suffixed and the plain pair
// when the app uses suffixed cookies, or their removal when the client is
// signed out. On a development instance the dev browser comes too.
func (b *BackendAPI) sessionDirectives(c client, suffixed bool, devBrowser, azp string) ([]string, error) {
	suffix := CookieSuffix(b.PublishableKey)
	names := []string{""}
	if suffixed {
		names = append(names, "_"+suffix)
	}
	var out []string
	if devBrowser != "" {
		for _, n := range names {
			out = append(out, "__clerk_db_jwt"+n+"="+devBrowser+"; Path=/; Max-Age=31536000; SameSite=Lax")
		}
	}
	if c.user == "" {
		for _, n := range names {
			out = append(out, "__session"+n+"=; Path=/; Max-Age=0; SameSite=Lax", "__client_uat"+n+"=0; Path=/; Max-Age=31536000; SameSite=Lax")
		}
		return out, nil
	}
	opts := []Option{Issued(b.issuerURL()), func(s *Spec) { s.Claims["azp"] = azp }}
	opts = append(opts, c.opts...)
	if c.active != nil {
		opts = append(opts, c.active)
	}
	now := b.issuer.clock()
	token, err := b.issuer.SessionToken(c.user, opts...)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		out = append(out, "__session"+n+"="+token+"; Path=/; SameSite=Lax",
			fmt.Sprintf("__client_uat%s=%d; Path=/; Max-Age=31536000; SameSite=Lax", n, now.Unix()))
	}
	return out, nil
}

// absoluteHTTP parses an absolute http or https URL.
func absoluteHTTP(s string) (*url.URL, bool) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, false
	}
	return u, true
}

func origin(u *url.URL) string { return strings.ToLower(u.Scheme + "://" + u.Host) }

func (b *BackendAPI) development() bool { return strings.HasPrefix(b.PublishableKey, "pk_test_") }

// serveHandshake answers GET /v1/client/handshake: it mints the app's
// cookies from the browser's client and returns to redirect_url with them
// (a nonce, or a __clerk_handshake token). With organization_id it first
// activates that organization. A production satellite's Frontend API
// first syncs with the primary's (see serveSync), as Clerk's does: the
// browser's client is known there.
func (b *BackendAPI) serveHandshake(w http.ResponseWriter, r *http.Request) {
	b.count(r)
	q := r.URL.Query()
	back, ok := absoluteHTTP(q.Get("redirect_url"))
	if !ok {
		http.Error(w, "redirect_url", http.StatusBadRequest)
		return
	}
	base, development := frontendAPIBase(r), b.development()
	devBrowser := q.Get("__clerk_db_jwt")
	if development && devBrowser == "" {
		devBrowser = "dvb_" + randomID(24) // a new dev browser, as the Frontend API creates one
	}
	bq := back.Query()

	b.mu.Lock()
	var c *client
	if !development && b.satellite(base) {
		link, linked := q[linkParam]
		if !linked && (q.Get("__clerk_hs_reason") == "satellite-needs-syncing" || b.clientID(r) == "") {
			b.mu.Unlock()
			b.bounceToPrimary(w, r, base)
			return
		}
		if linked {
			id, ok := b.links.m[link[0]]
			delete(b.links.m, link[0]) // good once
			if !ok {
				b.mu.Unlock()
				http.Error(w, "link", http.StatusBadRequest)
				return
			}
			if id != "" {
				http.SetCookie(w, clientCookieFor(base, id)) // this satellite's Frontend API now knows the client too
			}
			c = b.clients.m[id]
			bq.Set("__clerk_synced", "true") // the sync is done: a reload does not sync again
		}
	}
	if c == nil {
		c = b.clientFor(r, devBrowser)
	}
	if q.Has("organization_id") {
		b.activate(c, q.Get("organization_id"))
	}
	snapshot := *c
	b.mu.Unlock()

	if !development {
		devBrowser = ""
	}
	directives, err := b.sessionDirectives(snapshot, q.Get("suffixed_cookies") == "true", devBrowser, origin(back))
	if err != nil {
		http.Error(w, "mint", http.StatusInternalServerError)
		return
	}
	if q.Get("format") == "nonce" {
		nonce := "nonce_" + randomID(24)
		if !development {
			// Production: the Frontend API shares the app's site, so it
			// hands the nonce over in a short cookie on that site (the
			// directives clear it). Development: in the URL.
			http.SetCookie(w, &http.Cookie{Name: "__clerk_handshake_nonce", Value: nonce, Path: "/", MaxAge: 10, HttpOnly: true, SameSite: http.SameSiteLaxMode})
			directives = append(directives, "__clerk_handshake_nonce=; Path=/; Max-Age=0")
		} else {
			bq.Set("__clerk_handshake_nonce", nonce)
		}
		b.mu.Lock()
		b.nonces[nonce] = directives
		b.singleUse[nonce] = true
		b.mu.Unlock()
	} else {
		token, err := b.issuer.Sign(map[string]any{"handshake": directives})
		if err != nil {
			http.Error(w, "sign", http.StatusInternalServerError)
			return
		}
		bq.Set("__clerk_handshake", token)
	}
	back.RawQuery = bq.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, back.String(), http.StatusTemporaryRedirect)
}

// bounceToPrimary sends a satellite's handshake to the primary's Frontend
// API to learn the browser's client, and back to this handshake.
func (b *BackendAPI) bounceToPrimary(w http.ResponseWriter, r *http.Request, base string) {
	again := base + "/v1/client/handshake?" + r.URL.RawQuery
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, strings.TrimRight(b.PrimaryFrontendAPI, "/")+"/v1/client/sync?redirect_url="+url.QueryEscape(again), http.StatusTemporaryRedirect)
}

// serveSync answers GET /v1/client/sync on the primary's Frontend API: it
// links the browser's client (from its cookie here; the default client
// for a browser it does not know) to a one-time token and returns to the
// satellite's handshake (redirect_url) with it.
func (b *BackendAPI) serveSync(w http.ResponseWriter, r *http.Request) {
	b.count(r)
	if b.satellite(frontendAPIBase(r)) || b.PrimaryFrontendAPI == "" {
		http.Error(w, "not the primary domain's Frontend API", http.StatusNotFound)
		return
	}
	target, ok := absoluteHTTP(r.URL.Query().Get("redirect_url"))
	if !ok || !strings.HasSuffix(target.Path, "/v1/client/handshake") {
		http.Error(w, "redirect_url", http.StatusBadRequest)
		return
	}
	link := "link_" + randomID(24)
	b.mu.Lock()
	b.links.put(link, b.clientID(r))
	b.mu.Unlock()
	tq := target.Query()
	tq.Set(linkParam, link)
	target.RawQuery = tq.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target.String(), http.StatusTemporaryRedirect)
}

// serveSignIn answers POST /v1/client/sign_ins, the fake's sign-in (a form:
// identifier, the user id to sign in as, no password; redirect_url; on a
// development instance __clerk_db_jwt, the dev browser). It signs the
// browser's client in (a new client if the Frontend API does not know the
// browser), remembers it in the client cookie (and under the dev browser),
// sets the session cookies as clerk-js does after a sign-in, on the
// Frontend API's host, and returns to redirect_url.
func (b *BackendAPI) serveSignIn(w http.ResponseWriter, r *http.Request) {
	b.count(r)
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "form", http.StatusBadRequest)
		return
	}
	user := r.PostFormValue("identifier")
	if user == "" || len(user) > maxIdentifier {
		http.Error(w, "identifier", http.StatusUnprocessableEntity)
		return
	}
	base := frontendAPIBase(r)
	redirect := r.PostFormValue("redirect_url")
	if strings.HasPrefix(redirect, "/") && !strings.HasPrefix(redirect, "//") {
		if u, ok := absoluteHTTP(base); ok {
			redirect = origin(u) + redirect
		}
	}
	back, ok := absoluteHTTP(redirect)
	if !ok {
		http.Error(w, "redirect_url", http.StatusBadRequest)
		return
	}
	devBrowser := ""
	if b.development() {
		devBrowser = r.FormValue("__clerk_db_jwt")
	}
	b.mu.Lock()
	id := b.clientID(r)
	if id == "" {
		id = "client_" + randomID(24)
	}
	c := &client{user: user}
	b.clients.put(id, c)
	if devBrowser != "" {
		b.devClients.put(devBrowser, id)
	}
	snapshot := *c
	b.mu.Unlock()

	directives, err := b.sessionDirectives(snapshot, true, devBrowser, origin(back))
	if err != nil {
		http.Error(w, "mint", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, clientCookieFor(base, id))
	for _, d := range directives {
		w.Header().Add("Set-Cookie", d)
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, back.String(), http.StatusSeeOther)
}
