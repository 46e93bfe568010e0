package clerkauth_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

// proxySecret is the secret key of the proxy tests' instance: it must
// reach the fake Frontend API and nothing else.
const proxySecret = "sk_test_proxy_secret_0123456789"

// proxyPublishableKey is its publishable key.
var proxyPublishableKey = clerktest.PublishableKey("clerk.proxy.example", false)

// upstreamRequest is what the fake Frontend API received.
type upstreamRequest struct {
	Method string
	Host   string
	Path   string // escaped, as on the request line
	Query  string
	Header http.Header
	Body   string
}

// fakeFAPI is a fake Frontend API that records every request it gets and
// answers as its X-Case-Answer header asks (see answer).
type fakeFAPI struct {
	*httptest.Server
	mu   sync.Mutex
	seen []upstreamRequest
}

func newFakeFAPI(t *testing.T) *fakeFAPI {
	t.Helper()
	f := &fakeFAPI{}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// requests returns what was received so far, and forgets it.
func (f *fakeFAPI) requests() []upstreamRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := f.seen
	f.seen = nil
	return seen
}

func (f *fakeFAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h := r.Header.Clone()
	f.mu.Lock()
	f.seen = append(f.seen, upstreamRequest{r.Method, r.Host, r.URL.EscapedPath(), r.URL.RawQuery, h, string(body)})
	f.mu.Unlock()
	f.answer(w, r, body)
}

// answer plays the Frontend API's answers that matter to a proxy.
func (f *fakeFAPI) answer(w http.ResponseWriter, r *http.Request, body []byte) {
	h := w.Header()
	h.Set("Date", "Tue, 01 Dec 2026 08:00:00 GMT")
	redirect := func(status int, loc string) {
		h.Set("Location", loc)
		w.WriteHeader(status)
	}
	switch r.Header.Get("X-Case-Answer") {
	case "client":
		h.Set("Content-Type", "application/json")
		h.Add("Set-Cookie", "__client=abc; Path=/; HttpOnly; Secure; SameSite=Lax")
		h.Add("Set-Cookie", "__client_uat=1700000000; Path=/; Secure; SameSite=Lax")
		h.Set("X-Clerk-Trace", "t1")
		// A hop-by-hop header named in Connection, and a static one.
		h.Set("Connection", "X-Upstream-Hop")
		h.Set("X-Upstream-Hop", "1")
		h.Set("Keep-Alive", "timeout=5")
		h.Set("Proxy-Authenticate", "Basic")
		fmt.Fprint(w, `{"response":{"object":"client","id":"client_1"},"client":null}`)
	case "echo":
		h.Set("Content-Type", "application/octet-stream")
		w.Write(body)
	case "redirect-fapi-absolute":
		redirect(http.StatusTemporaryRedirect, f.URL+"/v1/oauth_callback?code=c1&state=s#frag")
	case "redirect-fapi-relative":
		redirect(http.StatusFound, "/v1/client/handshake?redirect_url=https%3A%2F%2Fapp.example.com%2F")
	case "redirect-fapi-no-slash":
		redirect(http.StatusSeeOther, "v1/verify?token=x")
	case "redirect-fapi-root":
		redirect(http.StatusFound, f.URL)
	case "redirect-other-host":
		redirect(http.StatusFound, "https://accounts.example.com/sign-in?redirect_url=x")
	case "client-error":
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprint(w, `{"errors":[{"code":"form_param_nil","message":"is missing"}]}`)
	case "server-error":
		h.Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, "unavailable")
	case "untyped":
		// A body without Content-Type: passed on without one, not sniffed.
		h["Content-Type"] = nil
		fmt.Fprint(w, "<html><script>alert(1)</script>")
	case "no-content":
		w.WriteHeader(http.StatusNoContent)
	case "hang-up":
		// No answer at all: both proxies answer 502.
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	case "huge":
		h.Set("Content-Length", fmt.Sprint(64<<20))
		w.WriteHeader(http.StatusOK)
	default:
		h.Set("Content-Type", "text/plain")
		fmt.Fprint(w, "ok")
	}
}

// proxyAuth builds an Auth for the proxy tests.
func proxyAuth(t *testing.T, edit func(*clerkauth.Config)) *clerkauth.Auth {
	t.Helper()
	iss := clerktest.NewIssuer(t)
	cfg := clerkauth.Config{
		PublishableKey: proxyPublishableKey,
		SecretKey:      proxySecret,
		JWTKey:         iss.MustPublicKeyPEM(),
		ProxyURL:       "/__clerk",
	}
	if edit != nil {
		edit(&cfg)
	}
	a, err := clerkauth.New(cfg)
	require.NoError(t, err)
	return a
}

// proxyServer serves the proxy to upstream on a loopback server.
func proxyServer(t *testing.T, a *clerkauth.Auth, upstream string) *httptest.Server {
	t.Helper()
	h, err := clerkauth.FrontendAPIProxyTo(a, upstream)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// rawExchange sends a request, as written, over TCP and returns the whole
// response.
func rawExchange(t *testing.T, addr, request string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(conn, request)
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body) // a cut answer is what some tests expect
	return res, body
}

// proxyErrorCode reads Clerk's {"errors":[{code,message}]} answer.
func proxyErrorCode(t *testing.T, body []byte) (code, message string) {
	t.Helper()
	var e struct {
		Errors []struct{ Code, Message string }
	}
	require.NoError(t, json.Unmarshal(body, &e), "%s", body)
	require.Len(t, e.Errors, 1)
	return e.Errors[0].Code, e.Errors[0].Message
}

func TestFrontendAPIProxyConfiguration(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	pk := clerktest.PublishableKey("clerk.proxy.example", false)
	for _, tt := range []struct {
		name string
		cfg  clerkauth.Config
		want string
	}{
		{"no publishable key", clerkauth.Config{JWTKey: iss.MustPublicKeyPEM(), SecretKey: proxySecret, ProxyURL: "/__clerk"}, "CLERK_PUBLISHABLE_KEY"},
		{"no secret key", clerkauth.Config{PublishableKey: pk, ProxyURL: "/__clerk"}, "CLERK_SECRET_KEY"},
		{"no proxy URL", clerkauth.Config{PublishableKey: pk, SecretKey: proxySecret}, "ProxyURL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := clerkauth.New(tt.cfg)
			require.NoError(t, err)
			_, err = a.FrontendAPIProxy()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), proxySecret)
		})
	}
	a, err := clerkauth.New(clerkauth.Config{PublishableKey: pk, SecretKey: proxySecret, ProxyURL: "https://app.example.com/__clerk"})
	require.NoError(t, err)
	h, err := a.FrontendAPIProxy()
	require.NoError(t, err)
	assert.NotNil(t, h)
}

// Clerk's fapiUrlFromPublishableKey: every instance but Clerk's own
// staging and local ones is served by frontend-api.clerk.dev.
func TestFrontendAPIUpstream(t *testing.T) {
	for host, want := range map[string]string{
		"clerk.example.com":                "https://frontend-api.clerk.dev",
		"happy-hippo-1.clerk.accounts.dev": "https://frontend-api.clerk.dev",
		"clerk.abc.lcl.dev":                "https://frontend-api.clerk.dev", // legacy development
		"foo.lcl.dev":                      "https://frontend-api.lclclerk.com",
		"foo.accounts.lclclerk.com":        "https://frontend-api.lclclerk.com",
		"foo.accountsstage.dev":            "https://frontend-api.clerkstage.dev",
	} {
		assert.Equal(t, want, clerkauth.FrontendAPIUpstream(host), host)
	}
}

// The proxy's own rules, beyond Clerk's (each also in the README):
// forwarded headers by the TrustedProxies policy, an absolute ProxyURL
// used as it is, bounded bodies.
func TestFrontendAPIProxyForwardedHeaders(t *testing.T) {
	fapi := newFakeFAPI(t)
	untrusted := proxyServer(t, proxyAuth(t, nil), fapi.URL)
	trusted := proxyServer(t, proxyAuth(t, func(c *clerkauth.Config) { c.TrustedProxies = []string{"127.0.0.1", "::1"} }), fapi.URL)
	absolute := proxyServer(t, proxyAuth(t, func(c *clerkauth.Config) { c.ProxyURL = "https://app.example.com/__clerk" }), fapi.URL)
	spoof := "X-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\nX-Forwarded-For: 203.0.113.9\r\n" +
		"X-Real-Ip: 203.0.113.8\r\nCf-Connecting-Ip: 203.0.113.7\r\nForwarded: for=203.0.113.6\r\n"
	for _, tt := range []struct {
		name                            string
		srv                             *httptest.Server
		headers                         string
		proxyURL, fwdHost, proto, chain string
		keepsClientIPHeaders            bool
	}{
		{"an untrusted peer's forwarded headers are not believed", untrusted, spoof, "http://internal:8080/__clerk", "internal:8080", "http", "127.0.0.1", false},
		{"a trusted proxy's are", trusted, spoof, "https://evil.example/__clerk", "evil.example", "https", "203.0.113.9, 127.0.0.1", true},
		{"a trusted proxy's list is not believed for the host", trusted, "X-Forwarded-Host: a.example, b.example\r\nX-Forwarded-For: 198.51.100.1, 198.51.100.2\r\n", "http://internal:8080/__clerk", "internal:8080", "http", "198.51.100.1, 198.51.100.2, 127.0.0.1", false},
		{"an absolute ProxyURL is sent as it is", absolute, spoof, "https://app.example.com/__clerk", "internal:8080", "http", "127.0.0.1", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := rawExchange(t, tt.srv.Listener.Addr().String(), "GET /__clerk/v1/client HTTP/1.1\r\nHost: internal:8080\r\nConnection: close\r\n"+tt.headers+"\r\n")
			require.Equal(t, http.StatusOK, res.StatusCode)
			seen := fapi.requests()
			require.Len(t, seen, 1)
			h := seen[0].Header
			assert.Equal(t, tt.proxyURL, h.Get("Clerk-Proxy-Url"))
			assert.Equal(t, tt.fwdHost, h.Get("X-Forwarded-Host"))
			assert.Equal(t, tt.proto, h.Get("X-Forwarded-Proto"))
			assert.Equal(t, []string{tt.chain}, h["X-Forwarded-For"])
			assert.Empty(t, h["Forwarded"])
			if tt.keepsClientIPHeaders {
				assert.Equal(t, "203.0.113.8", h.Get("X-Real-Ip"))
				assert.Equal(t, "203.0.113.7", h.Get("Cf-Connecting-Ip"))
			} else {
				assert.Empty(t, h["X-Real-Ip"])
				assert.Empty(t, h["Cf-Connecting-Ip"])
			}
		})
	}
}

func TestFrontendAPIProxyBounds(t *testing.T) {
	fapi := newFakeFAPI(t)
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, nil))
	a := proxyAuth(t, func(c *clerkauth.Config) { c.Logger = logger })
	impatient := proxyAuth(t, func(c *clerkauth.Config) { c.Logger = logger; c.ClerkTimeout = 100 * time.Millisecond })
	srv := proxyServer(t, a, fapi.URL)
	addr := srv.Listener.Addr().String()
	post := func(answer, framing, body string) string {
		return "POST /__clerk/v1/me/profile_image HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\nX-Case-Answer: " + answer + "\r\n" + framing + "\r\n" + body
	}

	t.Run("a declared request body over the limit is refused before any upstream call", func(t *testing.T) {
		res, body := rawExchange(t, addr, post("echo", "Content-Length: 100000000\r\n", ""))
		assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
		code, _ := proxyErrorCode(t, body)
		assert.Equal(t, "proxy_request_failed", code)
		assert.Empty(t, fapi.requests())
	})
	t.Run("a chunked request body over the limit is cut off", func(t *testing.T) {
		chunk := strings.Repeat("a", 1<<20)
		var b strings.Builder
		for range 13 {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", len(chunk), chunk)
		}
		b.WriteString("0\r\n\r\n")
		res, body := rawExchange(t, addr, post("echo", "Transfer-Encoding: chunked\r\n", b.String()))
		assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode, "%.200s", body)
		for _, r := range fapi.requests() {
			assert.Less(t, len(r.Body), 13<<20, "the upstream never gets the whole body")
		}
	})
	t.Run("a body within the limit streams through", func(t *testing.T) {
		payload := strings.Repeat("x", 5<<20)
		res, body := rawExchange(t, addr, post("echo", fmt.Sprintf("Content-Length: %d\r\n", len(payload)), payload))
		assert.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, len(payload), len(body))
		fapi.requests()
	})
	t.Run("an answer declared over the limit is refused", func(t *testing.T) {
		res, body := rawExchange(t, addr, "GET /__clerk/x HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\nX-Case-Answer: huge\r\n\r\n")
		assert.Equal(t, http.StatusBadGateway, res.StatusCode)
		code, msg := proxyErrorCode(t, body)
		assert.Equal(t, "proxy_request_failed", code)
		assert.Equal(t, "Failed to proxy request to Clerk FAPI", msg, "no internal error text")
		fapi.requests()
	})
	t.Run("an upstream that does not answer in time", func(t *testing.T) {
		release := make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
		t.Cleanup(slow.Close)
		t.Cleanup(func() { close(release) })
		res, body := rawExchange(t, proxyServer(t, impatient, slow.URL).Listener.Addr().String(), "GET /__clerk/v1/client HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n")
		assert.Equal(t, http.StatusBadGateway, res.StatusCode)
		code, _ := proxyErrorCode(t, body)
		assert.Equal(t, "proxy_request_failed", code)
	})
	t.Run("an unreachable upstream", func(t *testing.T) {
		gone := httptest.NewServer(http.NotFoundHandler())
		gone.Close()
		res, body := rawExchange(t, proxyServer(t, a, gone.URL).Listener.Addr().String(), "GET /__clerk/v1/client?__clerk_db_jwt=dvb_secret HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n")
		assert.Equal(t, http.StatusBadGateway, res.StatusCode)
		assert.NotContains(t, string(body), "127.0.0.1", "no internal error text")
	})
	logMu.Lock()
	defer logMu.Unlock()
	assert.Contains(t, logs.String(), "Frontend API proxy could not reach Clerk")
	assert.NotContains(t, logs.String(), proxySecret)
	assert.NotContains(t, logs.String(), "dvb_secret", "no URL with its query in the log")
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Hostile request targets, sent over raw TCP as an attacker writes them:
// none may move the upstream call off the Frontend API, and the secret key
// goes nowhere else. "evil" is a second loopback server standing for the
// attacker's host; it must see no request at all.
func TestFrontendAPIProxyHostileTargets(t *testing.T) {
	fapi := newFakeFAPI(t)
	var evilHits sync.Map
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		evilHits.Store(r.URL.String(), r.Header.Get("Clerk-Secret-Key"))
	}))
	t.Cleanup(evil.Close)
	evilHost := evil.Listener.Addr().String()
	srv := proxyServer(t, proxyAuth(t, func(c *clerkauth.Config) { c.TrustedProxies = []string{"127.0.0.0/8"} }), fapi.URL)
	addr := srv.Listener.Addr().String()
	fapiHost := strings.TrimPrefix(fapi.URL, "http://")

	for _, tt := range []struct {
		name, target, headers string
		status                int    // 0: forwarded
		path                  string // the upstream path when forwarded
	}{
		{"a protocol-relative path", "//" + evilHost + "/x", "", 400, ""},
		{"a protocol-relative path below the proxy path", "/__clerk//" + evilHost + "/x", "", 0, "//" + evilHost + "/x"},
		{"encoded slashes", "/__clerk/%2F%2F" + evilHost + "/x", "", 0, "/%2F%2F" + evilHost + "/x"},
		{"dot segments out of the proxy path", "/__clerk/../x", "", 400, ""},
		{"dot segments inside it", "/__clerk/v1/../../x", "", 400, ""},
		{"encoded dot segments", "/__clerk/%2e%2e/x", "", 400, ""},
		{"mixed encoded dot segments", "/__clerk/.%2E/x", "", 400, ""},
		{"a single dot", "/__clerk/./v1/client", "", 400, ""},
		{"backslashes", "/__clerk/..\\..\\x", "", 400, ""},
		{"an encoded proxy path prefix", "/%5F%5Fclerk/v1/client", "", 400, ""},
		{"a longer first segment", "/__clerkx/v1/client", "", 400, ""},
		{"an absolute-form target naming the attacker's host", "http://" + evilHost + "/__clerk/v1/client", "", 0, "/v1/client"},
		{"an absolute-form target with user info", "http://user@" + evilHost + "/__clerk/v1/client", "", 0, "/v1/client"},
		{"a Host header naming the attacker's host", "/__clerk/v1/client", "Host: " + evilHost + "\r\n", 0, "/v1/client"},
		{"X-Forwarded-Host from a trusted proxy naming the attacker's host", "/__clerk/v1/client", "X-Forwarded-Host: " + evilHost + "\r\n", 0, "/v1/client"},
		{"an authority-form target", evilHost, "", 400, ""},
		{"the secret key sent by the client is replaced", "/__clerk/v1/client", "Clerk-Secret-Key: sk_test_attacker\r\nClerk-Proxy-Url: http://" + evilHost + "\r\n", 0, "/v1/client"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			headers := tt.headers
			if !strings.Contains(headers, "Host: ") || strings.Contains(headers, "X-Forwarded-Host") {
				headers = "Host: app.example.com\r\n" + headers
			}
			res, body := rawExchange(t, addr, "GET "+tt.target+" HTTP/1.1\r\n"+headers+"Connection: close\r\n\r\n")
			seen := fapi.requests()
			if tt.status != 0 {
				assert.Equal(t, tt.status, res.StatusCode, "%s", body)
				assert.Empty(t, seen)
				return
			}
			require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
			require.Len(t, seen, 1)
			assert.Equal(t, fapiHost, seen[0].Host)
			assert.Equal(t, tt.path, seen[0].Path)
			assert.Equal(t, []string{proxySecret}, seen[0].Header["Clerk-Secret-Key"])
		})
	}
	t.Run("a redirect to the attacker's host is answered, not followed", func(t *testing.T) {
		up := httptest.NewServer(http.RedirectHandler(evil.URL+"/x", http.StatusTemporaryRedirect))
		t.Cleanup(up.Close)
		res, _ := rawExchange(t, proxyServer(t, proxyAuth(t, nil), up.URL).Listener.Addr().String(), "POST /__clerk/v1/client HTTP/1.1\r\nHost: app.example.com\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		assert.Equal(t, http.StatusTemporaryRedirect, res.StatusCode)
		assert.Equal(t, evil.URL+"/x", res.Header.Get("Location"))
	})
	evilHits.Range(func(k, v any) bool {
		t.Errorf("the attacker's host got %v (Clerk-Secret-Key %q)", k, v)
		return true
	})
}

// A Location pointing into the Frontend API is pointed at the proxy; a
// Location elsewhere is passed on; hostile spellings never become a
// Location on another host.
func TestFrontendAPIProxyLocation(t *testing.T) {
	var loc string
	var mu sync.Mutex
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		w.Header().Set("Location", loc)
		mu.Unlock()
		w.WriteHeader(http.StatusFound)
	}))
	t.Cleanup(up.Close)
	srv := proxyServer(t, proxyAuth(t, nil), up.URL)
	upHost := strings.TrimPrefix(up.URL, "http://")
	for _, tt := range []struct{ location, want string }{
		{up.URL + "/v1/x?a=1#f", "http://app.example.com/__clerk/v1/x?a=1#f"},
		{"http://" + strings.ToUpper(upHost) + "/v1/x", "http://app.example.com/__clerk/v1/x"},
		{"/v1/x", "http://app.example.com/__clerk/v1/x"},
		{"v1/x", "http://app.example.com/__clerk/v1/x"},
		{"//" + upHost + "/v1/x", "http://app.example.com/__clerk/v1/x"},
		{up.URL, "http://app.example.com/__clerk/"},
		{"https://accounts.example.com/sign-in", "https://accounts.example.com/sign-in"},
		{"//evil.example/x", "//evil.example/x"},
		{"/\\evil.example/x", "http://app.example.com/__clerk/%5Cevil.example/x"},
	} {
		t.Run(tt.location, func(t *testing.T) {
			mu.Lock()
			loc = tt.location
			mu.Unlock()
			res, _ := rawExchange(t, srv.Listener.Addr().String(), "GET /__clerk/v1/y HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n")
			assert.Equal(t, http.StatusFound, res.StatusCode)
			assert.Equal(t, tt.want, res.Header.Get("Location"))
		})
	}
}

// Hop-by-hop headers are stripped both ways, those named in Connection
// included, and no protocol upgrade goes through.
func TestFrontendAPIProxyHopByHop(t *testing.T) {
	fapi := newFakeFAPI(t)
	req, err := http.NewRequest("GET", fapi.URL, nil)
	require.NoError(t, err)
	req.Header.Set("X-Case-Answer", "client")
	direct, err := fapi.Client().Do(req)
	require.NoError(t, err)
	direct.Body.Close()
	require.Equal(t, "1", direct.Header.Get("X-Upstream-Hop"), "the fake Frontend API sends the hop-by-hop headers")
	require.Contains(t, direct.Header.Get("Connection"), "X-Upstream-Hop")
	require.NotEmpty(t, direct.Header.Get("Keep-Alive"))
	fapi.requests()
	srv := proxyServer(t, proxyAuth(t, nil), fapi.URL)
	res, _ := rawExchange(t, srv.Listener.Addr().String(), "GET /__clerk/v1/client HTTP/1.1\r\nHost: app.example.com\r\n"+
		"Connection: close, X-Client-Hop, Upgrade\r\nX-Client-Hop: 1\r\nUpgrade: websocket\r\nTe: trailers\r\nKeep-Alive: timeout=5\r\n"+
		"Proxy-Authorization: Basic eDp5\r\nProxy-Connection: keep-alive\r\nTrailer: X-T\r\nX-Case-Answer: client\r\n\r\n")
	require.Equal(t, http.StatusOK, res.StatusCode)
	seen := fapi.requests()
	require.Len(t, seen, 1)
	for _, name := range []string{"Connection", "X-Client-Hop", "Upgrade", "Te", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "Trailer"} {
		assert.Empty(t, seen[0].Header[name], "upstream got %s", name)
	}
	for _, name := range []string{"X-Upstream-Hop", "Keep-Alive", "Proxy-Authenticate"} {
		assert.Empty(t, res.Header[name], "client got %s", name)
	}
	assert.Len(t, res.Header["Set-Cookie"], 2)
}

// The answer streams: the client gets the first bytes before the
// Frontend API has sent the last.
func TestFrontendAPIProxyStreams(t *testing.T) {
	next := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "first;")
		http.NewResponseController(w).Flush()
		<-next
		fmt.Fprint(w, "second")
	}))
	t.Cleanup(up.Close)
	srv := proxyServer(t, proxyAuth(t, nil), up.URL)
	// Flush the proxy's writes at once, so the test sees them as they go.
	res, err := http.Get(srv.URL + "/__clerk/npm/clerk.browser.js")
	require.NoError(t, err)
	defer res.Body.Close()
	buf := make([]byte, len("first;"))
	_, err = io.ReadFull(res.Body, buf)
	require.NoError(t, err, "the first part arrives while the upstream still holds the rest")
	assert.Equal(t, "first;", string(buf))
	close(next)
	rest, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	assert.Equal(t, "second", string(rest))
}
