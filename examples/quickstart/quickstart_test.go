package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth/internal/testutil"
)

func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// startLocal serves the quickstart in local mode on a test server.
func startLocal(t *testing.T) (*app, *httptest.Server) {
	t.Helper()
	var out bytes.Buffer
	a, h, err := newApp(env(nil), &out)
	require.NoError(t, err)
	t.Cleanup(a.local.Close)
	t.Cleanup(a.fake.Close)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	assert.Contains(t, out.String(), "Webhook signing secret for this run: whsec_")
	return a, srv
}

func noRedirectClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func do(t *testing.T, c *http.Client, method, u string, body io.Reader, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(b)
}

var pageLoad = map[string]string{"Accept": "text/html", "Sec-Fetch-Dest": "document"}

var form = map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"}

// shown reads what a page shows: the middleware's decision and the state
// links.
type shown struct {
	status, reason, tokenType string
	user                      string // the nav's user, "" when signed out
	signIn, signOut, admin    bool   // which state links are there
}

func pageShows(t *testing.T, body string) shown {
	t.Helper()
	code := func(id string) string {
		m := regexp.MustCompile(`<code id="` + id + `">([^<]*)</code>`).FindStringSubmatch(body)
		if m == nil {
			return ""
		}
		return m[1]
	}
	s := shown{status: code("auth-status"), reason: code("auth-reason"), tokenType: code("auth-token-type"), user: code("nav-user"),
		signIn: strings.Contains(body, `id="nav-sign-in"`), signOut: strings.Contains(body, `id="sign-out"`), admin: strings.Contains(body, `id="nav-admin"`)}
	require.NotEmpty(t, s.status, "the page shows no decision: %s", body)
	return s
}

func signIn(t *testing.T, c *http.Client, base, as string) {
	t.Helper()
	res, _ := do(t, c, "POST", base+"/sign-in", strings.NewReader("as="+as+"&redirect_url=%2Fdashboard"), form)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "/dashboard", res.Header.Get("Location"))
}

func TestLocalModeFlow(t *testing.T) {
	_, srv := startLocal(t)
	c := noRedirectClient()

	res, body := do(t, c, "GET", srv.URL+"/", nil, pageLoad)
	assert.Equal(t, 200, res.StatusCode)
	assert.Contains(t, body, "Hello, stranger")
	assert.Equal(t, shown{status: "signed-out", reason: "session-token-missing", tokenType: "none", signIn: true}, pageShows(t, body))

	// Signed out, the dashboard sends the browser to sign in.
	res, _ = do(t, c, "GET", srv.URL+"/dashboard", nil, pageLoad)
	require.Equal(t, http.StatusTemporaryRedirect, res.StatusCode)
	assert.Equal(t, "signed-out", res.Header.Get("X-Clerk-Auth-Status"))
	assert.Equal(t, "session-token-missing", res.Header.Get("X-Clerk-Auth-Reason"))
	loc, err := url.Parse(res.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "/sign-in", loc.Path)
	assert.Equal(t, srv.URL+"/dashboard", loc.Query().Get("redirect_url"))

	res, body = do(t, c, "GET", srv.URL+loc.RequestURI(), nil, pageLoad)
	require.Equal(t, 200, res.StatusCode)
	assert.Contains(t, body, "Sign in as demo user")
	assert.Contains(t, body, "Sign in as demo admin")
	assert.Contains(t, body, `value="/dashboard"`)

	// The button posts the form: cookie set, back to the dashboard.
	res, _ = do(t, c, "POST", srv.URL+"/sign-in", strings.NewReader("redirect_url="+url.QueryEscape(srv.URL+"/dashboard")), form)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, "/dashboard", res.Header.Get("Location"))
	res, body = do(t, c, "GET", srv.URL+"/dashboard", nil, pageLoad)
	require.Equal(t, 200, res.StatusCode)
	assert.Contains(t, body, `<code id="user-id">user_demo</code>`)
	assert.Equal(t, shown{status: "signed-in", reason: "none", tokenType: "session_token", user: "user_demo", signOut: true}, pageShows(t, body))

	res, body = do(t, c, "GET", srv.URL+"/api/me", nil, nil)
	require.Equal(t, 200, res.StatusCode)
	var me map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &me))
	assert.Equal(t, "user_demo", me["user_id"])
	assert.Equal(t, map[string]any{"status": "signed-in", "token_type": "session_token"}, me["auth"])

	res, body = do(t, c, "GET", srv.URL+"/api/admin", nil, nil)
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.JSONEq(t, `{"error":"forbidden","reason":"missing-role"}`, body)
	assert.Equal(t, "missing-role", res.Header.Get("X-Clerk-Auth-Reason"))

	// A GET of the sign-out URL (a link, an image on any site) changes
	// nothing: it offers the button.
	res, body = do(t, c, "GET", srv.URL+"/sign-out", nil, pageLoad)
	assert.Equal(t, 200, res.StatusCode)
	assert.Contains(t, body, `id="sign-out-confirm"`)
	assert.Empty(t, res.Header.Values("Set-Cookie"))
	res, _ = do(t, c, "GET", srv.URL+"/api/me", nil, nil)
	assert.Equal(t, 200, res.StatusCode, "still signed in after GET /sign-out")

	// A cross-site POST is refused, by the library's rule for cookie
	// sessions and by the app's own for any session.
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Origin": "https://evil.example"},
	} {
		res, body = do(t, c, "POST", srv.URL+"/sign-out", nil, h)
		assert.Equal(t, http.StatusForbidden, res.StatusCode, h)
		assert.Contains(t, body, `id="refused"`)
		assert.Empty(t, res.Header.Values("Set-Cookie"), h)
	}
	res, _ = do(t, c, "GET", srv.URL+"/api/me", nil, nil)
	assert.Equal(t, 200, res.StatusCode, "still signed in after cross-site POSTs")

	// Sign out by POST, same origin: the API answers 401 again.
	res, _ = do(t, c, "POST", srv.URL+"/sign-out", nil, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": srv.URL})
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
	res, body = do(t, c, "GET", srv.URL+"/api/me", nil, nil)
	assert.Equal(t, 401, res.StatusCode)
	assert.JSONEq(t, `{"error":"unauthenticated","reason":"session-token-missing"}`, body)
	_, body = do(t, c, "GET", srv.URL+"/sign-out", nil, pageLoad)
	assert.Contains(t, body, `id="signed-out"`)
}

// TestDemoAdmin: the admin button signs in an org:admin, whom /api/admin
// lets in, also after the session went through the handshake; a cross-site
// POST cannot sign anyone in.
func TestDemoAdmin(t *testing.T) {
	_, srv := startLocal(t)
	c := noRedirectClient()
	signIn(t, c, srv.URL, "admin")

	res, body := do(t, c, "GET", srv.URL+"/dashboard", nil, pageLoad)
	require.Equal(t, 200, res.StatusCode)
	assert.Equal(t, shown{status: "signed-in", reason: "none", tokenType: "session_token", user: "user_admin", signOut: true, admin: true}, pageShows(t, body))
	assert.Contains(t, body, "(org:admin in demo)")
	res, body = do(t, c, "GET", srv.URL+"/api/admin", nil, nil)
	assert.Equal(t, 200, res.StatusCode, body)
	assert.JSONEq(t, `{"admin":true,"user_id":"user_admin","org_id":"org_demo","auth":{"status":"signed-in","token_type":"session_token"}}`, body)

	// The session cookie gone, __client_uat still there: the page load
	// goes through the handshake (its decision is in its headers), which
	// signs the admin in again, still an admin.
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	var uat *http.Cookie
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "__client_uat" {
			uat = ck
		}
	}
	require.NotNil(t, uat)
	fresh := noRedirectClient()
	fresh.Jar.SetCookies(u, []*http.Cookie{uat})
	res, _ = do(t, fresh, "GET", srv.URL+"/dashboard", nil, pageLoad)
	require.Equal(t, http.StatusTemporaryRedirect, res.StatusCode)
	assert.Equal(t, "handshake", res.Header.Get("X-Clerk-Auth-Status"))
	assert.Equal(t, "client-uat-but-no-session-token", res.Header.Get("X-Clerk-Auth-Reason"))
	for hops := 0; res.StatusCode == http.StatusTemporaryRedirect && hops < 5; hops++ {
		res, body = do(t, fresh, "GET", res.Header.Get("Location"), nil, pageLoad)
	}
	require.Equal(t, 200, res.StatusCode)
	assert.True(t, pageShows(t, body).admin, "an admin after the handshake: %s", body)
	res, _ = do(t, fresh, "GET", srv.URL+"/api/admin", nil, nil)
	assert.Equal(t, 200, res.StatusCode)

	// The demo user is not an admin.
	user := noRedirectClient()
	signIn(t, user, srv.URL, "")
	res, _ = do(t, user, "GET", srv.URL+"/api/admin", nil, nil)
	assert.Equal(t, http.StatusForbidden, res.StatusCode)

	// Login CSRF: a form on another site cannot sign a browser in.
	victim := noRedirectClient()
	res, _ = do(t, victim, "POST", srv.URL+"/sign-in", strings.NewReader("as=admin"),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "cross-site"})
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Empty(t, res.Header.Values("Set-Cookie"))
}

func TestSignInIsNotAnOpenRedirect(t *testing.T) {
	_, srv := startLocal(t)
	c := noRedirectClient()
	for _, target := range []string{"https://evil.example/x", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", ""} {
		res, _ := do(t, c, "POST", srv.URL+"/sign-in", strings.NewReader("redirect_url="+url.QueryEscape(target)), form)
		assert.Equal(t, "/dashboard", res.Header.Get("Location"), target)
	}
}

func TestAdminWithOrgToken(t *testing.T) {
	a, srv := startLocal(t)
	var out bytes.Buffer
	a.banner(&out, srv.URL)
	tokens := regexp.MustCompile(`Bearer (\S+)" `).FindAllStringSubmatch(out.String(), -1)
	require.Len(t, tokens, 2, out.String())
	res, body := do(t, http.DefaultClient, "GET", srv.URL+"/api/admin", nil, map[string]string{"Authorization": "Bearer " + tokens[1][1]})
	assert.Equal(t, 200, res.StatusCode, body)
	assert.Contains(t, out.String(), "LOCAL MODE")
}

func TestClerkModeSignInPage(t *testing.T) {
	pk := "pk_test_" + base64.StdEncoding.EncodeToString([]byte("happy-otter-12.clerk.accounts.dev$"))
	var out bytes.Buffer
	_, h, err := newApp(env(map[string]string{"CLERK_PUBLISHABLE_KEY": pk, "CLERK_SECRET_KEY": "sk_test_abc"}), &out)
	require.NoError(t, err)
	assert.Contains(t, out.String(), "Webhooks are off")
	srv := httptest.NewServer(h)
	defer srv.Close()

	// A development instance: a browser without Clerk's dev browser cookie
	// is first sent through the handshake (to the Frontend API, which sets
	// it); this one has been.
	res, _ := do(t, noRedirectClient(), "GET", srv.URL+"/sign-in", nil, pageLoad)
	assert.Equal(t, 307, res.StatusCode)
	assert.True(t, strings.HasPrefix(res.Header.Get("Location"), "https://happy-otter-12.clerk.accounts.dev/v1/client/handshake?"), res.Header.Get("Location"))
	withDevBrowser := map[string]string{"Cookie": "__clerk_db_jwt=dvb_test"}
	for k, v := range pageLoad {
		withDevBrowser[k] = v
	}
	_, body := do(t, noRedirectClient(), "GET", srv.URL+"/sign-in?redirect_url="+url.QueryEscape(srv.URL+"/dashboard"), nil, withDevBrowser)
	assert.Contains(t, body, `src="https://happy-otter-12.clerk.accounts.dev/npm/@clerk/clerk-js@5/dist/clerk.browser.js"`)
	assert.Contains(t, body, `data-clerk-publishable-key="`+pk+`"`)
	assert.Contains(t, body, `Clerk.mountSignIn`)
	assert.Contains(t, body, `"forceRedirectUrl":"/dashboard"`)

	res, _ = do(t, noRedirectClient(), "POST", srv.URL+"/sign-in", nil, nil)
	assert.Equal(t, 404, res.StatusCode, "no demo sign-in against a real instance")

	// Signing out is Clerk's signOut, on a POST from this origin only.
	_, body = do(t, noRedirectClient(), "GET", srv.URL+"/sign-out", nil, withDevBrowser)
	assert.NotContains(t, body, "Clerk.signOut", "a GET signs nothing out")
	res, body = do(t, noRedirectClient(), "POST", srv.URL+"/sign-out", nil, map[string]string{"Sec-Fetch-Site": "same-origin"})
	assert.Equal(t, 200, res.StatusCode)
	assert.Contains(t, body, "await Clerk.signOut()")
	res, body = do(t, noRedirectClient(), "POST", srv.URL+"/sign-out", nil, map[string]string{"Sec-Fetch-Site": "cross-site"})
	assert.Equal(t, 403, res.StatusCode)
	assert.NotContains(t, body, "Clerk.signOut")

	_, _, err = newApp(env(map[string]string{"CLERK_SECRET_KEY": "sk_test_abc"}), &out)
	assert.ErrorContains(t, err, "CLERK_PUBLISHABLE_KEY")
	_, _, err = newApp(env(map[string]string{"CLERK_PUBLISHABLE_KEY": pk, "CLERK_SECRET_KEY": "sk_live_abc"}), &out)
	assert.ErrorContains(t, err, "same instance")
}

// TestRunPrintsAWorkingCurl runs the real entry point, as
// `go run ./examples/quickstart` does, and pastes its curl command.
func TestRunPrintsAWorkingCurl(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &testutil.LockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, env(map[string]string{"PORT": "0"}), out) }()
	curl := regexp.MustCompile(`curl -H "Authorization: Bearer (\S+)" (http://\S+/api/me)`)
	var m []string
	require.Eventually(t, func() bool { m = curl.FindStringSubmatch(out.String()); return m != nil }, 30*time.Second, 5*time.Millisecond)
	res, body := do(t, http.DefaultClient, "GET", m[2], nil, map[string]string{"Authorization": "Bearer " + m[1]})
	assert.Equal(t, 200, res.StatusCode)
	assert.Contains(t, body, `"user_id":"user_demo"`)
	cancel()
	require.NoError(t, <-done)
}
