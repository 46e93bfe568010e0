// Package browser drives the quickstart in headless Chromium through the
// Chrome DevTools Protocol (github.com/chromedp/chromedp). It is a module
// of its own so that the library's go.mod stays lean.
package browser

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQuickstartInChromium runs the quickstart in local mode (its embedded
// issuer and its stand-in for Clerk's Frontend and Backend API) and, in
// Chromium: sees the signed-out state (links, the middleware's decision);
// signs in and sees the decision and the signed-in links; is refused
// /api/admin as a normal user; lets the session cookie go (as a tab
// reopened after a minute finds it: __client_uat still says signed in),
// reloads the protected page and lands back on it signed in, through the
// handshake (whose 307 says so in X-Clerk-Auth-Status), without seeing
// sign-in; opens the sign-out URL in another tab, which signs nothing out;
// signs out with the button (a POST); then signs in as the demo admin,
// who sees the admin link and gets /api/admin.
func TestQuickstartInChromium(t *testing.T) {
	chromium := findChromium(t)
	base := startQuickstart(t)

	ctx := newBrowser(t, chromium)
	decisions := watchDecisions(t, ctx)

	// Signed out, the dashboard sends the browser to sign in; the sign-in
	// page shows the signed-out links and decision.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS("#sign-in-demo")),
	))
	assert.Equal(t, "/sign-in", run(t, ctx, chromedp.Evaluate[string](`location.pathname`)))
	assert.Equal(t, state{Status: "signed-out", Reason: "session-token-missing", TokenType: "none", SignIn: true}, pageState(t, ctx))

	// The demo button signs in and returns to the dashboard.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#sign-in-demo")),
		chromedp.WaitVisible(chromedp.CSS("#user-id")),
	))
	assert.Equal(t, "user_demo", run(t, ctx, chromedp.Text(chromedp.CSS("#user-id"))))
	assert.Equal(t, state{Status: "signed-in", Reason: "none", TokenType: "session_token", User: "user_demo", SignOut: true}, pageState(t, ctx))
	assert.Equal(t, 403, fetchStatus(t, ctx, "/api/admin"), "a normal user is not an admin")
	assert.Equal(t, 200, fetchStatus(t, ctx, "/api/me"))

	// The session cookie is gone (it lives a minute); __client_uat remains.
	_, err := chromedp.Call(ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: "__session", URL: base})
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS("#user-id")),
	))
	assert.Equal(t, "user_demo", run(t, ctx, chromedp.Text(chromedp.CSS("#user-id"))), "signed in again, through the handshake")
	assert.Equal(t, "/dashboard", run(t, ctx, chromedp.Evaluate[string](`location.pathname + location.search`)), "back on the page, the handshake parameters gone")
	assert.Contains(t, decisions(), "handshake client-uat-but-no-session-token", "the handshake's 307 names its decision")
	screenshot(t, ctx, "after-handshake.png")

	// The sign-out URL, opened in another tab, only offers the button.
	other, cancelOther := chromedp.NewContext(ctx)
	require.NoError(t, chromedp.Do(other,
		chromedp.Navigate(base+"/sign-out"),
		chromedp.WaitVisible(chromedp.CSS("#sign-out-confirm")),
	))
	cancelOther()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#user-id")),
	))
	assert.Equal(t, "/dashboard", run(t, ctx, chromedp.Evaluate[string](`location.pathname`)), "GET /sign-out signed nothing out")

	// The button POSTs: signed out, back home, the links say so.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#sign-out")),
		chromedp.WaitVisible(chromedp.CSS("#nav-sign-in")),
	))
	assert.Equal(t, "/", run(t, ctx, chromedp.Evaluate[string](`location.pathname`)))
	assert.Equal(t, state{Status: "signed-out", Reason: "session-token-missing", TokenType: "none", SignIn: true}, pageState(t, ctx))
	assert.Equal(t, 401, fetchStatus(t, ctx, "/api/me"))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS("#sign-in-admin")),
	))
	assert.Equal(t, "/sign-in", run(t, ctx, chromedp.Evaluate[string](`location.pathname`)), "signed out, also for the handshake")

	// The demo admin sees the admin link, and /api/admin lets them in.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#sign-in-admin")),
		chromedp.WaitVisible(chromedp.CSS("#nav-admin")),
	))
	assert.Equal(t, state{Status: "signed-in", Reason: "none", TokenType: "session_token", User: "user_admin", SignOut: true, Admin: true}, pageState(t, ctx))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#nav-admin")),
		chromedp.WaitReady(chromedp.CSS("body")),
	))
	assert.Equal(t, "/api/admin", run(t, ctx, chromedp.Evaluate[string](`location.pathname`)))
	assert.Contains(t, run(t, ctx, chromedp.Evaluate[string](`document.body.innerText`)), `"admin":true`)
	assert.Equal(t, 200, fetchStatus(t, ctx, "/api/admin"))
}

// state is what a quickstart page shows: the middleware's decision and
// the state links.
type state struct {
	Status, Reason, TokenType, User string
	SignIn, SignOut, Admin          bool
}

func pageState(t *testing.T, ctx context.Context) state {
	t.Helper()
	return run(t, ctx, chromedp.Evaluate[state](`(() => {
  const text = (id) => { const e = document.getElementById(id); return e ? e.textContent : ""; };
  const has = (id) => document.getElementById(id) !== null;
  return {Status: text("auth-status"), Reason: text("auth-reason"), TokenType: text("auth-token-type"), User: text("nav-user"),
    SignIn: has("nav-sign-in"), SignOut: has("sign-out"), Admin: has("nav-admin")};
})()`))
}

// fetchStatus fetches path from the page, as its scripts would (with the
// cookies, not a page load), and returns the status.
func fetchStatus(t *testing.T, ctx context.Context, path string) int {
	t.Helper()
	return run(t, ctx, chromedp.Evaluate[int](`fetch(`+strconv.Quote(path)+`).then(r => r.status)`, chromedp.EvalAwaitPromise))
}

// watchDecisions records the X-Clerk-Auth-Status and -Reason of the
// redirects the browser follows ("handshake <reason>").
func watchDecisions(t *testing.T, ctx context.Context) func() []string {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		e, ok := ev.(*network.EventRequestWillBeSent)
		if !ok || e.RedirectResponse == nil {
			return
		}
		var status, reason string
		for k, v := range e.RedirectResponse.Headers {
			switch strings.ToLower(k) {
			case "x-clerk-auth-status":
				status, _ = v.(string)
			case "x-clerk-auth-reason":
				reason, _ = v.(string)
			}
		}
		if status != "" {
			mu.Lock()
			seen = append(seen, status+" "+reason)
			mu.Unlock()
		}
	}))
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	require.NoError(t, err)
	return v
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		os.WriteFile(filepath.Join(t.TempDir(), name), png, 0o644)
	}
}

// newBrowser starts a headless Chromium with a fresh profile, for one
// test (a minute at most). It resolves every *.localhost host to
// 127.0.0.1 (Chromium resolves them to loopback anyway; the rule keeps it
// off ::1, where nothing listens).
func newBrowser(t *testing.T, chromium string) context.Context {
	t.Helper()
	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("host-resolver-rules", "MAP *.localhost 127.0.0.1"))
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed, and CI must run the browser test (.ci/run installs Debian's chromium)")
	}
	t.Skip("chromium is not installed: this test drives the quickstart in headless Chromium (Debian package chromium)")
	return ""
}

// startQuickstart builds the quickstart and runs it in local mode on a
// free loopback port; it returns the base URL from its banner.
func startQuickstart(t *testing.T) string {
	t.Helper()
	return startExample(t, "./examples/quickstart", []string{"PORT=0"}, regexp.MustCompile(`Open (http://\S+)/dashboard`))[0]
}

// startExample builds the example program pkg (a path in the library's
// module) and runs it in local mode (no Clerk keys) with env added; it
// returns what each banner pattern's first group matched, in order.
func startExample(t *testing.T, pkg string, env []string, banner ...*regexp.Regexp) []string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	build := exec.Command("go", "build", "-o", bin, pkg)
	build.Dir = filepath.Join("..", "..", "..") // the library's module
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	cmd := exec.Command(bin)
	cmd.Env = append(append(os.Environ(), "CLERK_PUBLISHABLE_KEY=", "CLERK_SECRET_KEY=", "NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY="), env...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var found []string
	sc := bufio.NewScanner(stdout)
	for len(found) < len(banner) && sc.Scan() {
		if m := banner[len(found)].FindStringSubmatch(sc.Text()); m != nil {
			found = append(found, strings.TrimSuffix(m[1], "/"))
		}
	}
	require.Len(t, found, len(banner), "%s did not print its addresses", pkg)
	go func() {
		for sc.Scan() { // keep draining the log
		}
	}()
	return found
}
