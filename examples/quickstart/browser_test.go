package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBrowserFlow drives the local mode end to end in headless Chromium,
// through chromedriver's WebDriver API: open /dashboard signed out, land
// on /sign-in with redirect_url, press the button, land back on /dashboard
// showing the user, sign out, and see /api/me answer 401 to the page.
//
// It needs the Debian packages chromium and chromium-driver (.ci/run
// installs them); without them it is skipped, saying so.
func TestBrowserFlow(t *testing.T) {
	chromium, driver := findBrowser(t)
	_, srv := startLocal(t)
	wd := startWebDriver(t, driver, chromium)

	wd.navigate(srv.URL + "/dashboard")
	u := wd.currentURL()
	assert.Equal(t, "/sign-in", u.Path, "signed out, the dashboard sends the browser to sign in")
	assert.Equal(t, srv.URL+"/dashboard", u.Query().Get("redirect_url"))

	wd.click("#sign-in-demo")
	// The click submits a form; finding #user-id waits (implicit wait) for
	// the dashboard to load, then the URL can be read.
	assert.Equal(t, "user_demo", wd.text("#user-id"))
	u = wd.currentURL()
	assert.Equal(t, "/dashboard", u.Path)
	wd.screenshot(filepath.Join(t.TempDir(), "dashboard.png"))

	assert.Equal(t, float64(200), wd.script(`return fetch("/api/me").then(r => r.status)`))
	wd.navigate(srv.URL + "/sign-out")
	assert.Equal(t, "/", wd.currentURL().Path)
	assert.Equal(t, float64(401), wd.script(`return fetch("/api/me").then(r => r.status)`))
	assert.Equal(t, "session-token-missing", wd.script(`return fetch("/api/me").then(r => r.json()).then(b => b.reason)`))
}

func findBrowser(t *testing.T) (chromium, driver string) {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			chromium = p
			break
		}
	}
	driver, _ = exec.LookPath("chromedriver")
	if chromium == "" || driver == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("the browser test must run in CI: .ci/run installs chromium and chromium-driver")
		}
		t.Skip("browser test skipped: Chromium or chromedriver is not installed (apt-get install -y chromium chromium-driver)")
	}
	return chromium, driver
}

// webDriver is a minimal W3C WebDriver client: just what the flow needs.
type webDriver struct {
	t      *testing.T
	base   string // http://127.0.0.1:<port>/session/<id>
	client *http.Client
}

func startWebDriver(t *testing.T, driver, chromium string) *webDriver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, driver, fmt.Sprintf("--port=%d", port))
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("chromedriver stderr:\n%s", logs.String())
		}
	})
	// chromedriver says when it listens; wait for that line.
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "started successfully") {
				ready <- true
				io.Copy(io.Discard, stdout)
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		require.True(t, ok, "chromedriver exited before it was ready")
	case <-time.After(30 * time.Second):
		t.Fatal("chromedriver did not start within 30s")
	}

	wd := &webDriver{t: t, client: &http.Client{Timeout: 60 * time.Second}, base: fmt.Sprintf("http://127.0.0.1:%d", port)}

	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		"goog:chromeOptions": map[string]any{
			"binary": chromium,
			"args": []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
				"--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--disable-dev-shm-usage", "--disable-quic", "--window-size=1024,768",
				"--user-data-dir=" + t.TempDir()},
		},
	}}}
	var session struct {
		SessionID string `json:"sessionId"`
	}
	wd.call("POST", "/session", caps, &session)
	require.NotEmpty(t, session.SessionID)
	root := wd.base
	wd.base = root + "/session/" + session.SessionID
	t.Cleanup(func() {
		req, _ := http.NewRequest("DELETE", wd.base, nil)
		if res, err := wd.client.Do(req); err == nil {
			res.Body.Close()
		}
	})
	wd.call("POST", "/timeouts", map[string]any{"implicit": 20000, "pageLoad": 30000, "script": 10000}, nil)
	return wd
}

func (wd *webDriver) call(method, path string, body, out any) {
	wd.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(wd.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, wd.base+path, rd)
	require.NoError(wd.t, err)
	req.Header.Set("Content-Type", "application/json")
	res, err := wd.client.Do(req)
	require.NoError(wd.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(wd.t, err)
	require.Equal(wd.t, 200, res.StatusCode, "%s %s: %s", method, path, raw)
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	require.NoError(wd.t, json.Unmarshal(raw, &env))
	if out != nil {
		require.NoError(wd.t, json.Unmarshal(env.Value, out))
	}
}

func (wd *webDriver) navigate(u string) {
	wd.t.Helper()
	wd.call("POST", "/url", map[string]string{"url": u}, nil)
}

func (wd *webDriver) currentURL() *url.URL {
	wd.t.Helper()
	var s string
	wd.call("GET", "/url", nil, &s)
	u, err := url.Parse(s)
	require.NoError(wd.t, err)
	return u
}

func (wd *webDriver) element(css string) string {
	wd.t.Helper()
	var el map[string]string
	wd.call("POST", "/element", map[string]string{"using": "css selector", "value": css}, &el)
	for _, id := range el { // the key is the W3C element identifier
		return id
	}
	wd.t.Fatalf("no element %s", css)
	return ""
}

func (wd *webDriver) click(css string) {
	wd.t.Helper()
	wd.call("POST", "/element/"+wd.element(css)+"/click", map[string]any{}, nil)
}

func (wd *webDriver) text(css string) string {
	wd.t.Helper()
	var s string
	wd.call("GET", "/element/"+wd.element(css)+"/text", nil, &s)
	return s
}

func (wd *webDriver) script(js string) any {
	wd.t.Helper()
	var v any
	wd.call("POST", "/execute/sync", map[string]any{"script": js, "args": []any{}}, &v)
	return v
}

func (wd *webDriver) screenshot(path string) {
	wd.t.Helper()
	var b64 string
	wd.call("GET", "/screenshot", nil, &b64)
	png, err := base64.StdEncoding.DecodeString(b64)
	require.NoError(wd.t, err)
	require.NoError(wd.t, os.WriteFile(path, png, 0o644))
	wd.t.Logf("screenshot: %s (%d bytes)", path, len(png))
	if dir := os.Getenv("QUICKSTART_SCREENSHOT_DIR"); dir != "" {
		require.NoError(wd.t, os.WriteFile(filepath.Join(dir, filepath.Base(path)), png, 0o644))
	}
}
