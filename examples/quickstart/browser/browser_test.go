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
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSessionSurvivesExpiry runs the quickstart in local mode (its embedded
// issuer and its stand-in for Clerk's Frontend and Backend API) and, in
// Chromium: signs in; lets the session cookie go (as a tab reopened after a
// minute finds it: __client_uat still says signed in); reloads the
// protected page and lands back on it signed in, through the handshake,
// without seeing sign-in; signs out in another tab; reloads and is signed
// out.
func TestSessionSurvivesExpiry(t *testing.T) {
	chromium := findChromium(t)
	base := startQuickstart(t)

	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true))
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	// Signed out, the dashboard sends the browser to sign in; the demo
	// button signs in and returns to the dashboard.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS("#sign-in-demo")),
	))
	assert.Equal(t, "/sign-in", run(t, ctx, chromedp.Evaluate[string](`location.pathname`)))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#sign-in-demo")),
		chromedp.WaitVisible(chromedp.CSS("#user-id")),
	))
	assert.Equal(t, "user_demo", run(t, ctx, chromedp.Text(chromedp.CSS("#user-id"))))

	// The session cookie is gone (it lives a minute); __client_uat remains.
	_, err := chromedp.Call(ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: "__session", URL: base})
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS("#user-id")),
	))
	assert.Equal(t, "user_demo", run(t, ctx, chromedp.Text(chromedp.CSS("#user-id"))), "signed in again, through the handshake")
	assert.Equal(t, "/dashboard", run(t, ctx, chromedp.Evaluate[string](`location.pathname + location.search`)), "back on the page, the handshake parameters gone")
	screenshot(t, ctx, "after-handshake.png")

	// Sign out in another tab, then reload this one.
	other, cancelOther := chromedp.NewContext(ctx)
	require.NoError(t, chromedp.Do(other, chromedp.Navigate(base+"/sign-out")))
	cancelOther()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#sign-in-demo")),
	))
	assert.Equal(t, "/sign-in", run(t, ctx, chromedp.Evaluate[string](`location.pathname`)), "signed out everywhere")
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
	bin := filepath.Join(t.TempDir(), "quickstart")
	build := exec.Command("go", "build", "-o", bin, "./examples/quickstart")
	build.Dir = filepath.Join("..", "..", "..") // the library's module
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT=0", "CLERK_PUBLISHABLE_KEY=", "CLERK_SECRET_KEY=", "NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY=")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	open := regexp.MustCompile(`Open (http://\S+)/dashboard`)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := open.FindStringSubmatch(sc.Text()); m != nil {
			go func() {
				for sc.Scan() { // keep draining the log
				}
			}()
			return strings.TrimSuffix(m[1], "/")
		}
	}
	t.Fatal("the quickstart did not print its address")
	return ""
}
