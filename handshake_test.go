package clerkauth_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/internal/issuer"
	"github.com/clerkauth/clerkauth/internal/testutil"
)

// pageApp is a server-rendered app behind the middleware, with the fake
// Frontend and Backend API (clerktest.BackendAPI) as its Clerk instance.
type pageApp struct {
	iss  *clerktest.Issuer
	bapi *clerktest.BackendAPI
	srv  *httptest.Server
	logs *testutil.LockedBuffer
	sfx  string
}

func newPageApp(t *testing.T, live bool, edit func(*clerkauth.Config)) *pageApp {
	t.Helper()
	p := &pageApp{iss: clerktest.NewIssuer(t), logs: &testutil.LockedBuffer{}}
	p.bapi = clerktest.NewBackendAPI(t, p.iss)
	pk := clerktest.PublishableKey("clerk.clerktest.example", live)
	p.bapi.PublishableKey = pk
	p.sfx = issuer.CookieSuffix(pk)
	auth := p.iss.MustAuth(func(c *clerkauth.Config) {
		p.bapi.Configure(c)
		c.SecretKey = p.bapi.SecretKeyFor(pk)
		c.PublishableKey = pk
		c.PublicRoutes = []string{"/"}
		c.Logger = slog.New(slog.NewTextHandler(p.logs, nil))
		if edit != nil {
			edit(c)
		}
	})
	mux := http.NewServeMux()
	page := func(w http.ResponseWriter, r *http.Request) {
		if id, ok := clerkauth.IdentityFromContext(r.Context()); ok {
			fmt.Fprint(w, "hello "+id.UserID)
			return
		}
		fmt.Fprint(w, "hello stranger")
	}
	mux.HandleFunc("/", page)
	mux.HandleFunc("/dashboard", page)
	p.srv = httptest.NewServer(auth.Middleware(mux))
	t.Cleanup(p.srv.Close)
	return p
}

// browser is a cookie-keeping client that follows redirects (to the fake
// Frontend API and back), as a browser does, and reports the hops.
func (p *pageApp) browser(t *testing.T) (*http.Client, *[]string) {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	var hops []string
	return &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		hops = append(hops, req.URL.Host+req.URL.Path)
		if len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}, &hops
}

func (p *pageApp) load(t *testing.T, c *http.Client, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", p.srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Sec-Fetch-Dest", "document")
	req.Header.Set("Accept", "text/html")
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(body)
}

// setCookies plants cookies in the browser, as clerk-js would have.
func (p *pageApp) setCookies(t *testing.T, c *http.Client, cookies ...*http.Cookie) {
	u, err := url.Parse(p.srv.URL)
	require.NoError(t, err)
	c.Jar.SetCookies(u, cookies)
}

// TestHandshakeRefreshesAStaleSession: a tab reopened after the session
// cookie expired goes through the handshake and lands back on the page,
// signed in, without seeing sign-in; signed out elsewhere, it is signed out.
func TestHandshakeRefreshesAStaleSession(t *testing.T) {
	for _, live := range []bool{true, false} {
		t.Run(map[bool]string{true: "production", false: "development"}[live], func(t *testing.T) {
			p := newPageApp(t, live, nil)
			c, hops := p.browser(t)
			stale := p.iss.MustSessionToken("user_1", clerktest.WithExpiry(-time.Minute))
			p.setCookies(t, c, &http.Cookie{Name: "__session", Value: stale}, &http.Cookie{Name: "__client_uat", Value: "1"},
				&http.Cookie{Name: "__clerk_db_jwt", Value: "dvb_1"})
			p.bapi.SetClient("user_1")

			status, body := p.load(t, c, "/dashboard?tab=1")
			assert.Equal(t, 200, status)
			assert.Equal(t, "hello user_1", body, "back on the page, signed in")
			require.NotEmpty(t, *hops)
			assert.Contains(t, (*hops)[0], "/v1/client/handshake", "through the Frontend API's handshake")
			if !live {
				assert.Len(t, *hops, 3, "development: handshake, return with the nonce, then the clean URL")
			}
			assert.Equal(t, 1, p.bapi.Calls("/v1/clients/handshake_payload"), "the nonce was exchanged once")

			// The fresh cookies are now in the browser: the next load is
			// signed in without any hop.
			*hops = nil
			_, body = p.load(t, c, "/dashboard")
			assert.Equal(t, "hello user_1", body)
			assert.Empty(t, *hops)

			// Signed out in another tab: the Frontend API's client is signed
			// out, __client_uat moves on; the next load notices.
			p.bapi.SetClient("")
			p.setCookies(t, c, &http.Cookie{Name: "__client_uat", Value: fmt.Sprint(time.Now().Unix() + 5)})
			_, body = p.load(t, c, "/")
			assert.Equal(t, "hello stranger", body, "public page, signed out after the handshake")
		})
	}
}

// TestHandshakeOnlyForPageLoads: a fetch or a form post with a stale
// session is never redirected to the Frontend API: protected routes answer
// 401, with the same reason a page load would have been sent away for.
func TestHandshakeOnlyForPageLoads(t *testing.T) {
	p := newPageApp(t, true, nil)
	stale := p.iss.MustSessionToken("user_1", clerktest.WithExpiry(-time.Minute))
	for _, tc := range []struct {
		method string
		header map[string]string
		want   int
	}{
		{"GET", map[string]string{"Sec-Fetch-Dest": "document"}, 307},
		{"GET", map[string]string{"Sec-Fetch-Dest": "iframe"}, 307},
		{"GET", map[string]string{"Accept": "text/html"}, 307},
		{"GET", map[string]string{"Sec-Fetch-Dest": "empty"}, 401},
		{"GET", map[string]string{"Accept": "application/json"}, 401},
		{"POST", map[string]string{"Sec-Fetch-Dest": "document"}, 401},
	} {
		t.Run(fmt.Sprint(tc.method, tc.header), func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/dashboard", nil)
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			r.Header.Set("Cookie", "__session="+stale+"; __client_uat=1")
			res := serve(p.srv.Config.Handler, r)
			assert.Equal(t, tc.want, res.status)
			if tc.want == 307 {
				loc := res.header.Get("Location")
				assert.True(t, strings.HasPrefix(loc, p.bapi.URL+"/v1/client/handshake?"), loc)
				assert.Equal(t, "handshake", res.header.Get("X-Clerk-Auth-Status"))
				assert.Equal(t, "session-token-expired-refresh-non-eligible-no-refresh-cookie", res.header.Get("X-Clerk-Auth-Reason"))
				assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
				assert.Contains(t, res.header.Values("Set-Cookie"), "__clerk_redirect_count=1; SameSite=Lax; HttpOnly; Max-Age=2")
				q := mustQuery(t, loc)
				assert.Equal(t, "http://example.com/dashboard", q.Get("redirect_url"))
				assert.Equal(t, stale, q.Get("__session"))
				assert.Equal(t, "nonce", q.Get("format"))
			} else {
				assert.Equal(t, clerkauth.ReasonTokenExpired, clerkauth.Reason(res.header.Get("X-Clerk-Auth-Reason")))
				assert.Empty(t, res.header.Get("Location"))
			}
		})
	}
}

func mustQuery(t *testing.T, raw string) url.Values {
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u.Query()
}

// A HEAD page load is not eligible for a handshake (Clerk's rule); as
// before, a browser navigation to a protected page goes to sign-in.
func TestHeadIsNotAHandshake(t *testing.T) {
	p := newPageApp(t, true, nil)
	r := httptest.NewRequest("HEAD", "/dashboard", nil)
	r.Header.Set("Sec-Fetch-Dest", "document")
	r.Header.Set("Cookie", "__session="+p.iss.MustSessionToken("user_1", clerktest.WithExpiry(-time.Minute))+"; __client_uat=1")
	res := serve(p.srv.Config.Handler, r)
	assert.Equal(t, 307, res.status)
	assert.Contains(t, res.header.Get("Location"), "accounts.clerktest.example/sign-in")
	assert.Equal(t, clerkauth.ReasonTokenExpired, clerkauth.Reason(res.header.Get("X-Clerk-Auth-Reason")))
}

// TestHandshakeLoopLimit: the third handshake in a row (Clerk's counter
// cookie) gives up and signs out, with Clerk's log message.
func TestHandshakeLoopLimit(t *testing.T) {
	p := newPageApp(t, true, nil)
	r := httptest.NewRequest("GET", "/dashboard", nil)
	r.Header.Set("Sec-Fetch-Dest", "document")
	r.Header.Set("Cookie", "__client_uat=1; __clerk_redirect_count=3")
	res := serve(p.srv.Config.Handler, r)
	assert.Equal(t, 307, res.status, "signed out: sent to sign-in instead")
	assert.Contains(t, res.header.Get("Location"), "accounts.clerktest.example/sign-in")
	assert.Contains(t, p.logs.String(), "infinite redirect loop")
}

// TestRefreshWithoutRedirect: with a __refresh cookie, an expired session
// is refreshed through the Backend API in place; a refresh the Backend API
// refuses falls back to the handshake, with Clerk's reason.
func TestRefreshWithoutRedirect(t *testing.T) {
	p := newPageApp(t, true, nil)
	expired := p.iss.MustSessionToken("user_1", clerktest.WithExpiry(-time.Minute), clerktest.WithSessionID("sess_9"))
	p.bapi.SetRefreshToken("sess_9", "rt_ok")
	req := func(refresh string) response {
		r := httptest.NewRequest("GET", "/dashboard", nil)
		r.Header.Set("Sec-Fetch-Dest", "document")
		r.Header.Set("Cookie", "__session="+expired+"; __client_uat=1; __refresh_"+p.sfx+"="+refresh)
		return serve(p.srv.Config.Handler, r)
	}
	res := req("rt_ok")
	assert.Equal(t, 200, res.status)
	assert.Equal(t, "hello user_1", res.body)
	assert.NotEmpty(t, res.header.Values("Set-Cookie"), "the refreshed session is set")

	res = req("rt_wrong")
	assert.Equal(t, 307, res.status)
	assert.Equal(t, "session-token-expired-refresh-refresh_token_invalid", res.header.Get("X-Clerk-Auth-Reason"))
}

// TestBadHandshakeNeverSignsIn: a __clerk_handshake token not signed by the
// instance, or a nonce the Backend API does not know, signs nobody in.
func TestBadHandshakeNeverSignsIn(t *testing.T) {
	p := newPageApp(t, true, nil)
	other := clerktest.NewIssuer(t)
	evil := other.MustSign(map[string]any{"handshake": []string{"__session=" + p.iss.MustSessionToken("user_admin") + "; Path=/"}}, clerktest.WithKeyID(p.iss.KeyID()))
	for name, query := range map[string]string{
		"token signed by another key": "__clerk_handshake=" + evil,
		"unknown nonce":               "__clerk_handshake_nonce=nonce_forged",
	} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/?"+query, nil)
			r.Header.Set("Cookie", "__clerkauth_handshake=1") // as if this server had started it
			res := serve(p.srv.Config.Handler, r)
			assert.Equal(t, "hello stranger", res.body)
			assert.Empty(t, withoutHandshakeStarted(res.header.Values("Set-Cookie")), "no cookie from a bad handshake")
		})
	}
	// A handshake token with a header-splitting directive: the directive is
	// dropped.
	split := p.iss.MustSign(map[string]any{"handshake": []string{"__session=x\r\nX-Evil: 1"}})
	r := httptest.NewRequest("GET", "/?__clerk_handshake="+split, nil)
	r.Header.Set("Cookie", "__clerkauth_handshake=1")
	res := serve(p.srv.Config.Handler, r)
	assert.Empty(t, res.header.Get("X-Evil"))
}

// Issue 18, finding 10: a link carrying an attacker's handshake return
// (their own valid handshake token or nonce, from their own sign-in) must
// not sign the victim into the attacker's session. The return counts only
// in the browser that the server sent through the handshake: the 307 sets
// __clerkauth_handshake, and the return clears it.
func TestHandshakeReturnIsBoundToTheBrowser(t *testing.T) {
	p := newPageApp(t, true, nil)
	attackers := p.iss.MustSign(map[string]any{"handshake": []string{
		"__session=" + p.iss.MustSessionToken("user_attacker") + "; Path=/", "__client_uat=1; Path=/"}})
	nonce := p.bapi.HandshakeNonce([]string{"__session=" + p.iss.MustSessionToken("user_attacker") + "; Path=/", "__client_uat=1; Path=/"})
	for name, link := range map[string]string{
		"handshake token in the link": "/?__clerk_handshake=" + attackers,
		"nonce in the link":           "/?__clerk_handshake_nonce=" + nonce,
	} {
		t.Run(name, func(t *testing.T) {
			victim, _ := p.browser(t)
			code, body := p.load(t, victim, link)
			assert.Equal(t, 200, code)
			assert.Equal(t, "hello stranger", body, "the victim is not signed in as the attacker")
			code, body = p.load(t, victim, "/")
			assert.Equal(t, "hello stranger", body, "nor on the next page")
			assert.Equal(t, 200, code)
		})
	}
	t.Run("the 307 that starts a handshake sets the binding, the return clears it", func(t *testing.T) {
		r := httptest.NewRequest("GET", "https://app.example.com/dashboard", nil)
		r.Header.Set("Sec-Fetch-Dest", "document")
		r.Header.Set("Cookie", "__client_uat=1")
		res := serve(p.srv.Config.Handler, r)
		require.Equal(t, 307, res.status)
		assert.Contains(t, res.header.Values("Set-Cookie"), "__clerkauth_handshake=1; Path=/; Max-Age=120; HttpOnly; SameSite=Lax; Secure")

		r = httptest.NewRequest("GET", "/?__clerk_handshake="+attackers, nil)
		r.Header.Set("Cookie", "__clerkauth_handshake=1")
		res = serve(p.srv.Config.Handler, r)
		assert.Equal(t, "hello user_attacker", res.body, "a return to the browser that started it is read")
		assert.Contains(t, res.header.Values("Set-Cookie"), "__clerkauth_handshake=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")
	})
}

// TestCrossSiteRequestForgery: a request signed in only by the session
// cookie, with an unsafe method, from another origin, is refused (403 on
// protected routes, signed out on public ones); same-origin requests,
// AuthorizedParties origins and Bearer tokens are not affected.
func TestCrossSiteRequestForgery(t *testing.T) {
	p := newPageApp(t, true, func(c *clerkauth.Config) { c.AuthorizedParties = []string{"https://app.partner.test"} })
	session := p.iss.MustSessionToken("user_1", clerktest.WithAuthorizedParty("https://app.partner.test"))
	for _, tc := range []struct {
		name, method, path string
		header             map[string]string
		bearer             bool
		status             int
		body               string
	}{
		{"cross-site POST to a protected route", "POST", "/dashboard", map[string]string{"Sec-Fetch-Site": "cross-site"}, false, 403, ""},
		{"cross-origin POST by Origin", "DELETE", "/dashboard", map[string]string{"Origin": "https://evil.example"}, false, 403, ""},
		{"cross-site POST to a public route: signed out", "POST", "/", map[string]string{"Sec-Fetch-Site": "cross-site"}, false, 200, "hello stranger"},
		{"same-origin POST", "POST", "/dashboard", map[string]string{"Sec-Fetch-Site": "same-origin"}, false, 200, "hello user_1"},
		{"cross-site GET", "GET", "/dashboard", map[string]string{"Sec-Fetch-Site": "cross-site"}, false, 200, "hello user_1"},
		{"a trusted party's origin", "POST", "/dashboard", map[string]string{"Origin": "https://app.partner.test"}, false, 200, "hello user_1"},
		{"Bearer token, cross-site", "POST", "/dashboard", map[string]string{"Sec-Fetch-Site": "cross-site"}, true, 200, "hello user_1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, nil)
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			if tc.bearer {
				r.Header.Set("Authorization", "Bearer "+session)
			} else {
				r.Header.Set("Cookie", "__session="+session+"; __client_uat=1")
			}
			res := serve(p.srv.Config.Handler, r)
			assert.Equal(t, tc.status, res.status, res.body)
			if tc.status == 403 {
				assert.JSONEq(t, `{"error":"forbidden","reason":"cross-origin-request"}`, res.body)
			} else {
				assert.Equal(t, tc.body, res.body)
			}
		})
	}
}

func TestProxyURL(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	pk := clerktest.PublishableKey("clerk.example.com", true)
	for _, tc := range []struct{ proxy, want string }{
		{"https://app.example.com/__clerk", "https://app.example.com/__clerk/v1/client/handshake?"},
		{"https://app.example.com/__clerk/", "https://app.example.com/__clerk/v1/client/handshake?"},
		{"/__clerk", "http://example.com/__clerk/v1/client/handshake?"},
	} {
		a, err := clerkauth.New(clerkauth.Config{PublishableKey: pk, JWTKey: iss.MustPublicKeyPEM(), ProxyURL: tc.proxy})
		require.NoError(t, err)
		r := httptest.NewRequest("GET", "/dashboard", nil)
		r.Header.Set("Sec-Fetch-Dest", "document")
		r.Header.Set("Cookie", "__client_uat=1")
		s := a.AuthenticateRequest(r)
		require.Equal(t, clerkauth.Handshake, s.Status)
		assert.True(t, strings.HasPrefix(s.Redirect(), tc.want), s.Redirect())
	}
	// Tokens issued through the proxy are accepted.
	a, err := clerkauth.New(clerkauth.Config{PublishableKey: pk, JWTKey: iss.MustPublicKeyPEM(), ProxyURL: "https://app.example.com/__clerk"})
	require.NoError(t, err)
	r := bearer(httptest.NewRequest("GET", "/", nil), iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{"iss": "https://app.example.com/__clerk"})))
	_, err = authenticate(a, r)
	assert.NoError(t, err)

	for _, bad := range []string{"ftp://x", "http://app.example.com/__clerk", "//evil.example", "https://app.example.com/x?y=1", "/a\\b"} {
		_, err := clerkauth.New(clerkauth.Config{PublishableKey: pk, JWTKey: iss.MustPublicKeyPEM(), ProxyURL: bad})
		assert.ErrorContains(t, err, "CLERK_PROXY_URL", bad)
	}
	cfg := clerkauth.ConfigFromLookup(func(k string) string { return map[string]string{"CLERK_PROXY_URL": "/__clerk"}[k] })
	assert.Equal(t, "/__clerk", cfg.ProxyURL)
}

// TestRequireDecidesLikeMiddleware: Require without Middleware in front
// sends a stale session through the handshake too, and refuses a
// cross-site request signed in by the cookie with 403.
func TestRequireDecidesLikeMiddleware(t *testing.T) {
	p := newPageApp(t, true, nil)
	auth := p.iss.MustAuth(func(c *clerkauth.Config) {
		p.bapi.Configure(c)
		c.SecretKey = p.bapi.SecretKeyFor(c.PublishableKey)
	})
	h := auth.Require()(whoami)
	r := httptest.NewRequest("GET", "/dashboard", nil)
	r.Header.Set("Sec-Fetch-Dest", "document")
	r.Header.Set("Cookie", "__client_uat=1")
	res := serve(h, r)
	assert.Equal(t, 307, res.status)
	assert.Contains(t, res.header.Get("Location"), "/v1/client/handshake?")

	r = httptest.NewRequest("POST", "/dashboard", nil)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.Header.Set("Cookie", "__session="+p.iss.MustSessionToken("user_1")+"; __client_uat=1")
	res = serve(h, r)
	assert.Equal(t, 403, res.status)

	// Behind Middleware on a public route, Require answers the same 403.
	mux := http.NewServeMux()
	mux.Handle("/", auth.Require()(whoami))
	withPublic := p.iss.MustAuth(func(c *clerkauth.Config) { p.bapi.Configure(c); c.PublicRoutes = []string{"/"} })
	res = serve(withPublic.Middleware(mux), r)
	assert.Equal(t, 403, res.status)
	assert.JSONEq(t, `{"error":"forbidden","reason":"cross-origin-request"}`, res.body)
}

// Issue 18, finding 2: the Cookie header is read in one pass that keeps
// only the cookies Clerk reads, so its cost is its length: thousands of
// other cookies (distinct or repeated) cost no memory, and the session
// after them is still found, within maxCookieBytes.
func TestCookieHeaderCostIsItsLength(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	auth := iss.MustAuth(nil) // production, with a publishable key: the cookie rules
	token := iss.MustSessionToken("user_cookie")
	junk := func(n int, repeated bool) string {
		var b strings.Builder
		for i := range n {
			if repeated {
				i = 0
			}
			fmt.Fprintf(&b, "c%d=v; ", i)
		}
		return b.String()
	}
	request := func(cookie string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", cookie+"__session="+token+"; __client_uat=1")
		return r
	}
	for _, repeated := range []bool{false, true} {
		t.Run(fmt.Sprintf("repeated names %v", repeated), func(t *testing.T) {
			small, large := request(junk(10, repeated)), request(junk(5000, repeated))
			s := auth.AuthenticateRequest(large)
			require.Equal(t, clerkauth.SignedIn, s.Status, "the session behind 5,000 other cookies")
			allocs := func(r *http.Request) float64 {
				return testing.AllocsPerRun(20, func() { auth.AuthenticateRequest(r) })
			}
			// The jar used to keep every cookie (growing a slice) and scan
			// them all for each new name: quadratic.
			assert.Equal(t, allocs(small), allocs(large))
		})
	}
	t.Run("first of repeated names wins", func(t *testing.T) {
		r := request("__session=" + iss.MustSessionToken("user_first") + "; ")
		s := auth.AuthenticateRequest(r)
		require.Equal(t, clerkauth.SignedIn, s.Status)
		assert.Equal(t, "user_first", s.Identity.UserID)
	})
	t.Run("beyond 64 KiB a cookie is absent", func(t *testing.T) {
		r := request("pad=" + strings.Repeat("x", 64<<10) + "; ")
		s := auth.AuthenticateRequest(r)
		assert.Equal(t, clerkauth.SignedOut, s.Status)
	})
}

// Issue 18, finding 3: the Backend API calls that anonymous requests can
// cause (a handshake nonce on any route, a refresh with a junk __refresh
// cookie) go through the one budget; a nonce must look like one; a refused
// nonce or refresh is not sent again; the warnings they cause are logged
// once a minute, not once a request.
func TestAnonymousBackendAPICallsAreBudgeted(t *testing.T) {
	clock := testutil.NewFakeClock(time.Now())
	p := newPageApp(t, true, func(c *clerkauth.Config) {
		c.BackendAPIRate = 100 // 75 for unknown work, 25 kept for known
		c.Now = clock.Now
	})
	p.iss.SetNow(clock.Now)
	// The attacker sends the cookie that binds a handshake's return to a
	// browser: it is their own browser.
	get := func(target, cookie string) response {
		r := httptest.NewRequest("POST", target, nil) // any method, any route
		r.Header.Set("Cookie", "__clerkauth_handshake=1")
		if cookie != "" {
			r.Method = "GET"
			r.Header.Set("Sec-Fetch-Dest", "document")
			r.Header.Set("Cookie", "__clerkauth_handshake=1; "+cookie)
		}
		return serve(p.srv.Config.Handler, r)
	}
	const payload = "/v1/clients/handshake_payload"

	t.Run("made-up nonces", func(t *testing.T) {
		for i := range 1000 {
			get(fmt.Sprintf("/api/x?__clerk_handshake_nonce=made_up_%04d", i), "")
		}
		assert.Equal(t, 75, p.bapi.Calls(payload), "the budget less its reserve")
		assert.Equal(t, 1, strings.Count(p.logs.String(), "handshake nonce could not be exchanged"), "one warning a minute")
	})
	t.Run("the same refused nonce again", func(t *testing.T) {
		clock.Advance(time.Second) // the budget refills
		before := p.bapi.Calls(payload)
		for range 100 {
			get("/?__clerk_handshake_nonce=made_up_0001", "")
		}
		assert.Equal(t, before, p.bapi.Calls(payload), "refused once, remembered")
	})
	t.Run("nonces that cannot be Clerk's", func(t *testing.T) {
		before := p.bapi.Calls(payload)
		for _, n := range []string{strings.Repeat("n", 300), "a%20b", "a%2Cb", "%00", "a%22b"} {
			get("/?__clerk_handshake_nonce="+n, "")
			get("/", "__clerk_handshake_nonce="+n)
		}
		assert.Equal(t, before, p.bapi.Calls(payload))
	})
	t.Run("junk refresh cookies", func(t *testing.T) {
		clock.Advance(time.Second)
		expired := p.iss.MustSessionToken("user_1", clerktest.WithExpiry(-time.Minute), clerktest.WithSessionID("sess_r"))
		p.bapi.SetRefreshToken("sess_r", "rt_ok")
		refresh := "/v1/sessions/sess_r/refresh"
		for i := range 1000 {
			res := get("/dashboard", fmt.Sprintf("__session=%s; __client_uat=1; __refresh_%s=junk%04d", expired, p.sfx, i))
			require.Equal(t, 307, res.status, "refused refreshes go through the handshake")
		}
		assert.Equal(t, 75, p.bapi.Calls(refresh))
		for range 100 {
			res := get("/dashboard", fmt.Sprintf("__session=%s; __client_uat=1; __refresh_%s=junk0001", expired, p.sfx))
			assert.Equal(t, "session-token-expired-refresh-refresh_token_invalid", res.header.Get("X-Clerk-Auth-Reason"), "the remembered answer is Clerk's")
		}
		assert.Equal(t, 75, p.bapi.Calls(refresh), "a refused pair is not sent again")
		clock.Advance(time.Second)
		res := get("/dashboard", fmt.Sprintf("__session=%s; __client_uat=1; __refresh_%s=rt_ok", expired, p.sfx))
		assert.Equal(t, 200, res.status, "the real refresh token, once the budget refilled")
	})
	t.Run("warnings come back after a minute, with the count left out", func(t *testing.T) {
		clock.Advance(time.Minute)
		get("/?__clerk_handshake_nonce=made_up_new", "")
		assert.Equal(t, 2, strings.Count(p.logs.String(), "handshake nonce could not be exchanged"))
		assert.Contains(t, p.logs.String(), "suppressed=")
	})
}

// The decision builds every header of its answer: what AuthenticateRequest
// returns is what Middleware sends, for every status (the refusal of a
// protected route adds its own, see TestMiddlewareResponses). Checked on a
// public route, where Middleware sends nothing else.
func TestAuthenticateRequestHeadersAreMiddlewares(t *testing.T) {
	for _, live := range []bool{true, false} {
		p := newPageApp(t, live, nil)
		valid := p.iss.MustSessionToken("user_1")
		expired := p.iss.MustSessionToken("user_1", clerktest.WithExpiry(-time.Minute), clerktest.WithSessionID("sess_e"))
		p.bapi.SetRefreshToken("sess_e", "rt_ok")
		nonce := p.bapi.HandshakeNonce([]string{"__session=" + valid + "; Path=/", "__client_uat=1; Path=/"})
		db := "__clerk_db_jwt=dvb_1; "
		for _, tt := range []struct {
			name, target, cookie, bearer string
			want                         clerkauth.AuthStatus
		}{
			{"bearer", "/", "", valid, clerkauth.SignedIn},
			{"cookie", "/", db + "__session=" + valid + "; __client_uat=1", "", clerkauth.SignedIn},
			{"refreshed", "/", db + "__session=" + expired + "; __client_uat=1; __refresh_" + p.sfx + "=rt_ok", "", clerkauth.SignedIn},
			{"signed out", "/", db, "", clerkauth.SignedOut},
			{"handshake", "/", db + "__client_uat=1", "", clerkauth.Handshake},
			{"handshake return", "/?__clerk_handshake_nonce=" + nonce, db + "__clerkauth_handshake=1", "", clerkauth.SignedIn},
		} {
			t.Run(fmt.Sprintf("live=%v/%s", live, tt.name), func(t *testing.T) {
				req := func() *http.Request {
					r := httptest.NewRequest("GET", tt.target, nil)
					r.Header.Set("Sec-Fetch-Dest", "document")
					if tt.cookie != "" {
						r.Header.Set("Cookie", tt.cookie)
					}
					if tt.bearer != "" {
						r.Header.Set("Authorization", "Bearer "+tt.bearer)
					}
					return r
				}
				auth := p.iss.MustAuth(func(c *clerkauth.Config) {
					p.bapi.Configure(c)
					c.SecretKey = p.bapi.SecretKeyFor(c.PublishableKey)
					if !live {
						c.PublishableKey = clerktest.PublishableKey("clerk.clerktest.example", false)
						c.SecretKey = p.bapi.SecretKeyFor(c.PublishableKey)
					}
					c.PublicRoutes = []string{"/"}
				})
				s := auth.AuthenticateRequest(req())
				require.Equal(t, tt.want, s.Status, "%v", s.Err)
				rec := httptest.NewRecorder()
				auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})).ServeHTTP(rec, req())
				got := rec.Header().Clone()
				got.Del("Content-Type") // the body's, not the decision's
				want := s.Headers
				if want == nil {
					want = http.Header{}
				}
				assert.Equal(t, want, got)
			})
		}
	}
}
