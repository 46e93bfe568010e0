package clerktest_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth/clerktest"
)

// site is one browser's cookies for one Frontend API URL, as a browser
// keeps them per host: requests carry that URL in Clerk-Proxy-Url, as a
// Frontend API proxy at an app's ProxyURL path sends it, so that one fake
// plays the Frontend API of several sites.
type site struct {
	t       *testing.T
	bapi    *clerktest.BackendAPI
	base    string // e.g. "http://primary.test/__clerk"
	cookies map[string]string
}

func newSite(t *testing.T, bapi *clerktest.BackendAPI, base string) *site {
	return &site{t: t, bapi: bapi, base: base, cookies: map[string]string{}}
}

// do sends a request to the fake as this site's Frontend API, keeps the
// cookies it sets, and returns the response (redirects are not followed).
func (s *site) do(method, pathAndQuery string, form url.Values) *http.Response {
	s.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, s.bapi.URL+pathAndQuery, body)
	require.NoError(s.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Clerk-Proxy-Url", s.base)
	for k, v := range s.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	c := *s.bapi.Server.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Do(req)
	require.NoError(s.t, err)
	res.Body.Close()
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 {
			delete(s.cookies, ck.Name)
		} else {
			s.cookies[ck.Name] = ck.Value
		}
	}
	return res
}

// signIn signs the browser in through the fake's sign-in form.
func (s *site) signIn(user, redirect string) *http.Response {
	s.t.Helper()
	return s.do("POST", "/v1/client/sign_ins", url.Values{"identifier": {user}, "redirect_url": {redirect}})
}

// handshake starts a handshake as the middleware sends browsers to it.
func (s *site) handshake(redirect, reason string, extra url.Values) *http.Response {
	s.t.Helper()
	q := url.Values{"redirect_url": {redirect}, "suffixed_cookies": {"false"}, "__clerk_hs_reason": {reason}, "format": {"nonce"}}
	for k, v := range extra {
		q[k] = v
	}
	return s.do("GET", "/v1/client/handshake?"+q.Encode(), nil)
}

// session exchanges a production handshake's nonce (its cookie) as the
// middleware does and returns the claims of the session token it hands
// over (nil: signed out).
func (s *site) session() map[string]any {
	s.t.Helper()
	nonce := s.cookies["__clerk_handshake_nonce"]
	require.NotEmpty(s.t, nonce, "the handshake handed a nonce over in a cookie")
	return exchange(s.t, s.bapi, nonce)
}

func exchange(t *testing.T, bapi *clerktest.BackendAPI, nonce string) map[string]any {
	t.Helper()
	return sessionClaims(t, exchangeDirectives(t, bapi, nonce))
}

// exchangeDirectives exchanges a nonce for its Set-Cookie directives.
func exchangeDirectives(t *testing.T, bapi *clerktest.BackendAPI, nonce string) []string {
	t.Helper()
	req, err := http.NewRequest("GET", bapi.URL+"/v1/clients/handshake_payload?nonce="+url.QueryEscape(nonce), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+bapi.SecretKey)
	res, err := bapi.Server.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var payload struct{ Directives []string }
	require.NoError(t, json.NewDecoder(res.Body).Decode(&payload))
	return payload.Directives
}

// sessionClaims decodes the __session token the directives set (nil when
// they remove it).
func sessionClaims(t *testing.T, directives []string) map[string]any {
	t.Helper()
	for _, d := range directives {
		name, rest, _ := strings.Cut(d, "=")
		if name != "__session" {
			continue
		}
		token, _, _ := strings.Cut(rest, ";")
		if token == "" {
			return nil
		}
		parts := strings.Split(token, ".")
		require.Len(t, parts, 3)
		raw, err := base64.RawURLEncoding.DecodeString(parts[1])
		require.NoError(t, err)
		var claims map[string]any
		require.NoError(t, json.Unmarshal(raw, &claims))
		return claims
	}
	t.Fatalf("no __session directive in %q", directives)
	return nil
}

// activeOrg is the session's active organization slug ("" for none).
func activeOrg(claims map[string]any) string {
	o, _ := claims["o"].(map[string]any)
	slug, _ := o["slg"].(string)
	return slug
}

// TestFrontendAPIKeepsAClientPerBrowser: a browser that signs in through
// the fake's sign-in has a client of its own, in a cookie on the Frontend
// API's host; its handshakes mint its user whatever SetClient says, while
// a browser the fake does not know gets the default client.
func TestFrontendAPIKeepsAClientPerBrowser(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	bapi := clerktest.NewBackendAPI(t, iss)
	bapi.SetClient("user_default")
	ada := newSite(t, bapi, "http://app.test/__clerk")
	other := newSite(t, bapi, "http://app.test/__clerk")

	res := ada.signIn("user_ada", "/dashboard")
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, "http://app.test/dashboard", res.Header.Get("Location"), "a path returns to the Frontend API's origin")
	assert.True(t, strings.HasPrefix(ada.cookies["__client"], "client_"), "the client is kept in a cookie: %v", ada.cookies)
	var directives []string
	for _, c := range res.Cookies() {
		if c.Name != "__client" {
			directives = append(directives, c.Name+"="+c.Value)
		}
	}
	signedIn := sessionClaims(t, directives)
	assert.Equal(t, "user_ada", signedIn["sub"], "the sign-in sets the session cookie, as clerk-js does")
	assert.Equal(t, "http://app.test", signedIn["azp"])
	assert.NotEmpty(t, ada.cookies["__client_uat"])

	res = ada.handshake("http://app.test/dashboard", "session-token-expired", nil)
	require.Equal(t, http.StatusTemporaryRedirect, res.StatusCode)
	assert.Equal(t, "http://app.test/dashboard", res.Header.Get("Location"))
	assert.Equal(t, "user_ada", ada.session()["sub"])

	other.handshake("http://app.test/", "client-uat-but-no-session-token", nil)
	assert.Equal(t, "user_default", other.session()["sub"], "an unknown browser has the default client")

	bapi.SetClient("")
	ada.handshake("http://app.test/", "session-token-expired", nil)
	assert.Equal(t, "user_ada", ada.session()["sub"], "SetClient does not change a browser's own client")
	other.handshake("http://app.test/", "session-token-expired", nil)
	assert.Nil(t, other.session(), "the default client signed out")

	for _, tc := range []struct {
		name     string
		form     url.Values
		status   int
		location string
	}{
		{"no identifier", url.Values{"redirect_url": {"/"}}, http.StatusUnprocessableEntity, ""},
		{"an identifier beyond the bound", url.Values{"identifier": {strings.Repeat("u", 257)}, "redirect_url": {"/"}}, http.StatusUnprocessableEntity, ""},
		{"a scheme-relative redirect", url.Values{"identifier": {"user_1"}, "redirect_url": {"//evil.test/"}}, http.StatusBadRequest, ""},
		{"a javascript: redirect", url.Values{"identifier": {"user_1"}, "redirect_url": {"javascript:alert(1)"}}, http.StatusBadRequest, ""},
		{"an absolute redirect", url.Values{"identifier": {"user_1"}, "redirect_url": {"http://satellite.test/x?y=1"}}, http.StatusSeeOther, "http://satellite.test/x?y=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := newSite(t, bapi, "http://app.test/__clerk").do("POST", "/v1/client/sign_ins", tc.form)
			assert.Equal(t, tc.status, res.StatusCode)
			assert.Equal(t, tc.location, res.Header.Get("Location"))
		})
	}
}

// TestFrontendAPIActivatesAMembersOrganization: a handshake's
// organization_id (an id or a slug, "" the personal account) activates
// the organization for a member, and later handshakes keep it; for a
// non-member the session keeps its organization, as Clerk's Frontend API
// does. The default client (SetClient) is activated alike, and SetClient
// starts over.
func TestFrontendAPIActivatesAMembersOrganization(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	bapi := clerktest.NewBackendAPI(t, iss)
	ada := clerktest.User{ID: "user_ada"}
	bapi.AddMembership(clerktest.Membership{Organization: clerktest.Organization{ID: "org_acme", Slug: "acme"}, User: ada, Role: "admin", Permissions: []string{"invoices:create"}})
	bapi.AddMembership(clerktest.Membership{Organization: clerktest.Organization{ID: "org_globex", Slug: "globex"}, User: ada, Role: "member"})
	bapi.AddMembership(clerktest.Membership{Organization: clerktest.Organization{ID: "org_initech", Slug: "initech"}, User: clerktest.User{ID: "user_bob"}, Role: "admin"})

	for _, who := range []struct {
		name  string
		setup func(s *site)
	}{
		{"a signed-in browser", func(s *site) { bapi.SetClient(""); s.signIn("user_ada", "/") }},
		{"the default client", func(*site) { bapi.SetClient("user_ada") }},
	} {
		t.Run(who.name, func(t *testing.T) {
			s := newSite(t, bapi, "http://app.test/__clerk")
			who.setup(s)
			steps := []struct {
				name string
				org  *string // organization_id; nil: none
				want string
			}{
				{"no organization_id", nil, ""},
				{"a slug", ptr("acme"), "acme"},
				{"no organization_id keeps it", nil, "acme"},
				{"an id", ptr("org_globex"), "globex"},
				{"another user's organization", ptr("initech"), "globex"},
				{"an unknown organization", ptr("org_nope"), "globex"},
				{"an organization_id beyond the bound", ptr(strings.Repeat("a", 257)), "globex"},
				{"the personal account", ptr(""), ""},
				{"the slug again", ptr("acme"), "acme"},
			}
			for _, step := range steps {
				extra := url.Values{}
				if step.org != nil {
					extra.Set("organization_id", *step.org)
				}
				res := s.handshake("http://app.test/orgs/x", "active-organization-mismatch", extra)
				require.Equal(t, http.StatusTemporaryRedirect, res.StatusCode, step.name)
				claims := s.session()
				assert.Equal(t, "user_ada", claims["sub"], step.name)
				assert.Equal(t, step.want, activeOrg(claims), step.name)
			}
			// The last step activated acme, with its role and permissions.
			s.handshake("http://app.test/", "session-token-expired", nil)
			o, _ := s.session()["o"].(map[string]any)
			assert.Equal(t, "org_acme", o["id"])
			assert.Equal(t, "admin", o["rol"])
			assert.Equal(t, "create", o["per"])
		})
	}

	t.Run("SetClient starts over", func(t *testing.T) {
		bapi.SetClient("user_ada")
		s := newSite(t, bapi, "http://app.test/__clerk")
		s.handshake("http://app.test/", "session-token-expired", url.Values{"organization_id": {"acme"}})
		require.Equal(t, "acme", activeOrg(s.session()))
		bapi.SetClient("user_ada", clerktest.WithOrg("org_globex", "globex", "member"))
		s.handshake("http://app.test/", "session-token-expired", nil)
		assert.Equal(t, "globex", activeOrg(s.session()))
	})

	t.Run("a signed-out client activates nothing", func(t *testing.T) {
		bapi.SetClient("")
		s := newSite(t, bapi, "http://app.test/__clerk")
		s.handshake("http://app.test/", "active-organization-mismatch", url.Values{"organization_id": {"acme"}})
		assert.Nil(t, s.session())
	})
}

func ptr[T any](v T) *T { return &v }

// TestFrontendAPISyncsASatellite: with PrimaryFrontendAPI set, a
// production handshake at another Frontend API URL is a satellite's: it
// goes to the primary's /v1/client/sync, which knows the browser's client
// by its cookie there, and comes back with a one-time link; the
// satellite's Frontend API then keeps the client in its own cookie, mints
// for it (the nonce cookie on the satellite's host, azp the satellite's
// origin) and marks the return __clerk_synced=true.
func TestFrontendAPISyncsASatellite(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	bapi := clerktest.NewBackendAPI(t, iss)
	bapi.PrimaryFrontendAPI = "http://primary.test/__clerk"
	bapi.SetClient("user_default")
	primary := newSite(t, bapi, "http://primary.test/__clerk")
	satellite := newSite(t, bapi, "http://satellite.test/__clerk")
	primary.signIn("user_ada", "/")

	res := satellite.handshake("http://satellite.test/dashboard?__clerk_synced=false", "satellite-needs-syncing", nil)
	require.Equal(t, http.StatusTemporaryRedirect, res.StatusCode)
	toPrimary, err := url.Parse(res.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "primary.test", toPrimary.Host)
	assert.Equal(t, "/__clerk/v1/client/sync", toPrimary.Path)
	assert.Empty(t, satellite.cookies["__clerk_handshake_nonce"], "nothing is minted before the sync")

	res = primary.do("GET", strings.TrimPrefix(toPrimary.RequestURI(), "/__clerk"), nil)
	require.Equal(t, http.StatusTemporaryRedirect, res.StatusCode)
	back, err := url.Parse(res.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "satellite.test", back.Host)
	assert.Equal(t, "/__clerk/v1/client/handshake", back.Path)
	link := back.Query().Get("__clerk_link")
	require.NotEmpty(t, link)

	res = satellite.do("GET", strings.TrimPrefix(back.RequestURI(), "/__clerk"), nil)
	require.Equal(t, http.StatusTemporaryRedirect, res.StatusCode)
	assert.Equal(t, "http://satellite.test/dashboard?__clerk_synced=true", res.Header.Get("Location"))
	assert.Equal(t, primary.cookies["__client"], satellite.cookies["__client"], "the satellite's Frontend API knows the client now")
	claims := satellite.session()
	assert.Equal(t, "user_ada", claims["sub"], "minted from the primary's client, not the default one")
	assert.Equal(t, "http://satellite.test", claims["azp"])
	assert.Equal(t, 1, bapi.Calls("/v1/client/sync"))

	res = satellite.do("GET", strings.TrimPrefix(back.RequestURI(), "/__clerk"), nil)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode, "a link is good once")

	// Synced, the satellite's own handshakes (an expired session) need
	// the primary no more; a new sync does.
	delete(satellite.cookies, "__clerk_handshake_nonce")
	res = satellite.handshake("http://satellite.test/", "session-token-expired", nil)
	require.Equal(t, http.StatusTemporaryRedirect, res.StatusCode)
	assert.Equal(t, "http://satellite.test/", res.Header.Get("Location"))
	assert.Equal(t, "user_ada", satellite.session()["sub"])
	res = satellite.handshake("http://satellite.test/", "satellite-needs-syncing", nil)
	assert.Contains(t, res.Header.Get("Location"), "http://primary.test/__clerk/v1/client/sync?")

	t.Run("a browser the primary does not know syncs the default client", func(t *testing.T) {
		stranger := newSite(t, bapi, "http://satellite.test/__clerk")
		res := stranger.handshake("http://satellite.test/", "satellite-needs-syncing", nil)
		toPrimary, err := url.Parse(res.Header.Get("Location"))
		require.NoError(t, err)
		res = newSite(t, bapi, "http://primary.test/__clerk").do("GET", strings.TrimPrefix(toPrimary.RequestURI(), "/__clerk"), nil)
		back, err := url.Parse(res.Header.Get("Location"))
		require.NoError(t, err)
		stranger.do("GET", strings.TrimPrefix(back.RequestURI(), "/__clerk"), nil)
		assert.Equal(t, "user_default", stranger.session()["sub"])
		assert.Empty(t, stranger.cookies["__client"], "no client of its own to remember")
	})

	for _, tc := range []struct {
		name, base, query string
		status            int
	}{
		{"sync at a satellite", "http://satellite.test/__clerk", "redirect_url=" + url.QueryEscape("http://satellite.test/__clerk/v1/client/handshake"), http.StatusNotFound},
		{"sync back to a page, not a handshake", "http://primary.test/__clerk", "redirect_url=" + url.QueryEscape("http://evil.test/"), http.StatusBadRequest},
		{"sync back to nowhere", "http://primary.test/__clerk", "", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := newSite(t, bapi, tc.base).do("GET", "/v1/client/sync?"+tc.query, nil)
			assert.Equal(t, tc.status, res.StatusCode)
			assert.Empty(t, res.Header.Get("Location"))
		})
	}
}

// TestFrontendAPIDevelopmentClientByDevBrowser: on a development instance
// the dev browser names the client (the primary's middleware hands it to
// a satellite in the URL), and the handshake's directives set it as a
// cookie on the app's site.
func TestFrontendAPIDevelopmentClientByDevBrowser(t *testing.T) {
	iss := clerktest.NewDevelopmentIssuer(t)
	bapi := clerktest.NewBackendAPI(t, iss)
	bapi.PrimaryFrontendAPI = "http://primary.test/__clerk"
	primary := newSite(t, bapi, "http://primary.test/__clerk")
	primary.do("POST", "/v1/client/sign_ins", url.Values{"identifier": {"user_ada"}, "redirect_url": {"/"}, "__clerk_db_jwt": {"dvb_ada"}})

	satellite := newSite(t, bapi, "http://satellite.test/__clerk")
	res := satellite.handshake("http://satellite.test/dashboard", "dev-browser-sync", url.Values{"__clerk_db_jwt": {"dvb_ada"}})
	require.Equal(t, http.StatusTemporaryRedirect, res.StatusCode)
	back, err := url.Parse(res.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "satellite.test", back.Host, "development: no detour through the primary")
	nonce := back.Query().Get("__clerk_handshake_nonce")
	require.NotEmpty(t, nonce, "development: the nonce in the URL")
	directives := exchangeDirectives(t, bapi, nonce)
	assert.Equal(t, "user_ada", sessionClaims(t, directives)["sub"])
	assert.Contains(t, directives, "__clerk_db_jwt=dvb_ada; Path=/; Max-Age=31536000; SameSite=Lax", "the satellite keeps the dev browser")

	stranger := newSite(t, bapi, "http://satellite.test/__clerk")
	res = stranger.handshake("http://satellite.test/", "dev-browser-missing", nil)
	back, err = url.Parse(res.Header.Get("Location"))
	require.NoError(t, err)
	directives = exchangeDirectives(t, bapi, back.Query().Get("__clerk_handshake_nonce"))
	assert.Nil(t, sessionClaims(t, directives), "a new dev browser has the default client, signed out")
	assert.Regexp(t, `^__clerk_db_jwt=dvb_\w+; `, directives[0], "and is given to the browser")
}
