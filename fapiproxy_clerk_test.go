package clerkauth_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/internal/clerkjs"
)

// proxyCase is one generated request, as proxy.mjs reads it.
type proxyCase struct {
	Method  string      `json:"method"`
	URL     string      `json:"url"`
	Headers [][2]string `json:"headers"`
	Body    *string     `json:"body"` // base64; null: no body
	target  string      // the request target (path and query)
	body    []byte
}

// proxyAnswer is a response, as proxy.mjs writes it.
type proxyAnswer struct {
	Status  int         `json:"status"`
	Headers [][2]string `json:"headers"`
	Body    string      `json:"body"` // base64
}

// TestFrontendAPIProxyAgreesWithClerk generates requests to a Frontend API
// proxy (methods GET, POST, PUT, PATCH, DELETE and OPTIONS; paths inside
// and outside the proxy path, with encoded slashes and double slashes;
// query strings; bodies form, JSON, binary and empty; cookies,
// Authorization, Origin; a client's own Clerk-Secret-Key and
// Clerk-Proxy-Url; hop-by-hop headers, static and named in Connection, an
// Upgrade; X-Forwarded-Host and -Proto from the proxy in front; and the
// Frontend API answering JSON with cookies, its body echoed, redirects
// into itself (absolute, relative, protocol-relative) and elsewhere,
// 4xx, 5xx, 204, or hanging up) and answers each with our
// FrontendAPIProxy and with @clerk/backend 3.25.0's clerkFrontendApiProxy
// (pinned in testdata/oracle, run with node), both forwarding to the same
// fake Frontend API. They must agree on what reaches the Frontend API
// (whether anything does; method, path, query, body and headers) and on
// the answer (status, headers, body).
//
// Differences on purpose, excluded from the comparison and listed in the
// README:
//   - X-Forwarded-For: Clerk sends the first address of the client's
//     X-Forwarded-For (or its X-Real-IP or CF-Connecting-IP) from any
//     client; we send, as a proxy does, what a trusted proxy forwarded
//     followed by our peer's address (checked here for that);
//   - a failed upstream call is 502 proxy_request_failed on both sides,
//     but our message leaves out the internal error text;
//   - our answers keep the Frontend API's Content-Length (Clerk's drop it
//     and are chunked), and our own error answers add
//     X-Content-Type-Options: nosniff;
//   - Proxy-Connection is dropped (Go's hop-by-hop list), not generated;
//   - the framing headers node's fetch adds upstream (Accept,
//     Accept-Language, Sec-Fetch-Mode, User-Agent: node, when the
//     request has none; Transfer-Encoding instead of Content-Length).
//
// Not generated here, covered by this file's siblings in
// fapiproxy_test.go: forwarded headers from a peer not in TrustedProxies
// (Clerk believes anyone's), lists in them, only one of X-Forwarded-Host
// and -Proto (Clerk then derives the proxy URL from the request); dot
// segments and backslashes (Clerk resolves them, we refuse the request);
// X-Real-IP, CF-Connecting-IP and Forwarded; an absolute ProxyURL (we send
// it as configured where Clerk derives it from the request); bodies over
// the limits; an upstream that does not answer in time.
func TestFrontendAPIProxyAgreesWithClerk(t *testing.T) {
	clerkjs.Require(t)
	fapi := newFakeFAPI(t)
	a := proxyAuth(t, func(c *clerkauth.Config) { c.TrustedProxies = []string{"127.0.0.1"} })
	ours := proxyServer(t, a, fapi.URL)
	origin := ours.URL // http://127.0.0.1:port, the origin both proxies are addressed at

	rng := rand.New(rand.NewPCG(21, 3))
	pick := func(list ...string) string { return list[rng.IntN(len(list))] }
	inside := []string{"/__clerk/v1/client", "/__clerk/v1/environment", "/__clerk", "/__clerk/", "/__clerk/v1/client/sign_ins",
		"/__clerk/v1/client/sessions/sess_1/tokens", "/__clerk/npm/@clerk/clerk-js@5/dist/clerk.browser.js", "/__clerk//v1/client",
		"/__clerk/%2F%2Fevil.example/x", "/__clerk/v1/me/profile_image", "/__clerk/v1/a%20b"}
	outside := []string{"/", "/api/data", "/__clerkx", "/__cler", "/x/__clerk/v1", "/%5F%5Fclerk/v1"}
	queries := []string{"", "?_clerk_js_version=5.88.0", "?__clerk_api_version=2025-11-10&_clerk_js_version=5", "?a=1&a=2&b=",
		"?redirect_url=https%3A%2F%2Fapp.example.com%2Fx", "?q=a+b"}
	answers := []string{"client", "echo", "redirect-fapi-absolute", "redirect-fapi-relative", "redirect-fapi-no-slash",
		"redirect-fapi-root", "redirect-other-host", "client-error", "server-error", "no-content", "hang-up", "untyped", "ok"}

	var cases []proxyCase
	for i := 0; len(cases) < 300; i++ {
		c := proxyCase{Method: pick("GET", "GET", "POST", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")}
		path := pick(inside...)
		if rng.IntN(5) == 0 {
			path = pick(outside...)
		}
		c.target = path + pick(queries...)
		c.URL = origin + c.target
		add := func(k, v string) { c.Headers = append(c.Headers, [2]string{k, v}) }
		add("X-Case-Id", fmt.Sprint(i))
		add("X-Case-Answer", pick(answers...))
		add("User-Agent", "Mozilla/5.0 (clerkauth test)")
		if rng.IntN(2) == 0 {
			add("Accept", pick("*/*", "application/json", "text/html"))
		}
		if rng.IntN(2) == 0 {
			add("Cookie", pick("__client=cl_1", "__client=cl_1; __client_uat=1700000000", "__session=eyJ.x.y; __client_uat=0"))
		}
		if rng.IntN(4) == 0 {
			add("Authorization", "Bearer tok_"+fmt.Sprint(i))
		}
		if rng.IntN(3) == 0 {
			add("Origin", pick(origin, "https://app.example.com"))
		}
		if rng.IntN(6) == 0 {
			add("Clerk-Secret-Key", "sk_test_attacker")
			add("Clerk-Proxy-Url", "https://evil.example/__clerk")
		}
		connection := "close"
		switch rng.IntN(6) {
		case 0:
			connection += ", X-Client-Hop"
			add("X-Client-Hop", "1")
		case 1:
			add("Te", "trailers")
			add("Keep-Alive", "timeout=5")
			add("Proxy-Authorization", "Basic eDp5")
		case 2:
			connection += ", Upgrade"
			add("Upgrade", "websocket")
		}
		add("Connection", connection)
		if rng.IntN(4) == 0 {
			add("X-Forwarded-Host", pick("app.example.com", "app.example.com:8443"))
			add("X-Forwarded-Proto", pick("https", "http"))
		}
		if rng.IntN(3) == 0 {
			add("X-Forwarded-For", pick("198.51.100.7", "198.51.100.7, 10.0.0.1"))
		}
		if c.Method != "GET" && c.Method != "OPTIONS" {
			switch rng.IntN(4) {
			case 0:
				c.body = []byte("strategy=password&password=p%40ss")
				add("Content-Type", "application/x-www-form-urlencoded")
			case 1:
				c.body = []byte(`{"name":"Acme","slug":"acme"}`)
				add("Content-Type", "application/json")
			case 2:
				c.body = make([]byte, 1+rng.IntN(3000))
				for j := range c.body {
					c.body[j] = byte(rng.IntN(256))
				}
				add("Content-Type", "application/octet-stream")
			default:
				c.body = []byte{}
			}
			b := base64.StdEncoding.EncodeToString(c.body)
			c.Body = &b
		}
		cases = append(cases, c)
	}

	var clerk []proxyAnswer
	clerkjs.Run(t, "proxy.mjs", map[string]any{"options": map[string]any{
		"proxyPath": "/__clerk", "publishableKey": proxyPublishableKey, "secretKey": proxySecret, "fapiUrl": fapi.URL,
	}, "cases": cases}, &clerk)
	require.Len(t, clerk, len(cases))
	clerkUpstream := byCase(fapi.requests())

	addr := ours.Listener.Addr().String()
	var mine []proxyAnswer
	for _, c := range cases {
		var req strings.Builder
		fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\n", c.Method, c.target, addr)
		for _, h := range c.Headers {
			fmt.Fprintf(&req, "%s: %s\r\n", h[0], h[1])
		}
		if c.Body != nil {
			fmt.Fprintf(&req, "Content-Length: %d\r\n", len(c.body))
		}
		req.WriteString("\r\n")
		req.Write(c.body)
		res, body := rawExchange(t, addr, req.String())
		ans := proxyAnswer{Status: res.StatusCode, Body: base64.StdEncoding.EncodeToString(body)}
		for k, vs := range res.Header {
			for _, v := range vs {
				ans.Headers = append(ans.Headers, [2]string{strings.ToLower(k), v})
			}
		}
		mine = append(mine, ans)
	}
	ourUpstream := byCase(fapi.requests())

	agreed := 0
	for i, c := range cases {
		id := fmt.Sprint(i)
		what := fmt.Sprintf("case %d: %s %s %v", i, c.Method, c.target, c.Headers)
		ok := assert.Equal(t, len(clerkUpstream[id]) > 0, len(ourUpstream[id]) > 0, "%s: reaches the Frontend API", what)
		if len(clerkUpstream[id]) > 0 && len(ourUpstream[id]) > 0 {
			ok = compareUpstream(t, what, c, clerkUpstream[id][0], ourUpstream[id][0]) && ok
		}
		ok = compareAnswers(t, what, clerk[i], mine[i]) && ok
		if ok {
			agreed++
		}
	}
	t.Logf("%d of %d cases agree with @clerk/backend's clerkFrontendApiProxy", agreed, len(cases))
}

func byCase(seen []upstreamRequest) map[string][]upstreamRequest {
	out := map[string][]upstreamRequest{}
	for _, r := range seen {
		id := r.Header.Get("X-Case-Id")
		out[id] = append(out[id], r)
	}
	return out
}

func compareUpstream(t *testing.T, what string, c proxyCase, clerk, ours upstreamRequest) bool {
	t.Helper()
	ok := assert.Equal(t, clerk.Method, ours.Method, what)
	ok = assert.Equal(t, clerk.Host, ours.Host, what) && ok
	ok = assert.Equal(t, clerk.Path, ours.Path, what) && ok
	ok = assert.Equal(t, clerk.Query, ours.Query, what) && ok
	ok = assert.Equal(t, clerk.Body, ours.Body, what) && ok

	// X-Forwarded-For, by design (see the test's comment).
	var incoming []string
	for _, h := range c.Headers {
		if h[0] == "X-Forwarded-For" {
			incoming = append(incoming, h[1])
		}
	}
	ok = assert.Equal(t, strings.Join(append(incoming, "127.0.0.1"), ", "), ours.Header.Get("X-Forwarded-For"), what) && ok
	if len(incoming) > 0 {
		first, _, _ := strings.Cut(incoming[0], ",")
		ok = assert.Equal(t, first, clerk.Header.Get("X-Forwarded-For"), what) && ok
	}

	has := func(name string) bool {
		return slices.ContainsFunc(c.Headers, func(h [2]string) bool { return strings.EqualFold(h[0], name) })
	}
	normalize := func(h http.Header, node bool) http.Header {
		h = h.Clone()
		for _, k := range []string{"Connection", "Content-Length", "Transfer-Encoding", "X-Forwarded-For"} {
			h.Del(k)
		}
		if node {
			for _, k := range []string{"Accept", "Accept-Language", "Sec-Fetch-Mode", "User-Agent"} {
				if !has(k) {
					h.Del(k)
				}
			}
		}
		return h
	}
	return assert.Equal(t, normalize(clerk.Header, true), normalize(ours.Header, false), what) && ok
}

func compareAnswers(t *testing.T, what string, clerk, ours proxyAnswer) bool {
	t.Helper()
	ok := assert.Equal(t, clerk.Status, ours.Status, what)
	normalize := func(hs [][2]string) map[string][]string {
		out := map[string][]string{}
		for _, h := range hs {
			switch h[0] {
			case "date", "content-length", "transfer-encoding", "connection", "x-content-type-options":
				continue
			}
			out[h[0]] = append(out[h[0]], h[1])
		}
		return out
	}
	ok = assert.Equal(t, normalize(clerk.Headers), normalize(ours.Headers), what) && ok
	clerkBody, _ := base64.StdEncoding.DecodeString(clerk.Body)
	ourBody, _ := base64.StdEncoding.DecodeString(ours.Body)
	type proxyErrors struct {
		Errors []struct{ Code, Message string }
	}
	var ce, oe proxyErrors
	if json.Unmarshal(clerkBody, &ce) == nil && len(ce.Errors) == 1 && strings.HasPrefix(ce.Errors[0].Code, "proxy_") {
		// Clerk's own error answers: the same code and message (ours
		// without the internal error text after the colon).
		require.NoError(t, json.Unmarshal(ourBody, &oe), "%s: %s", what, ourBody)
		require.Len(t, oe.Errors, 1, what)
		ok = assert.Equal(t, ce.Errors[0].Code, oe.Errors[0].Code, what) && ok
		want, _, _ := strings.Cut(ce.Errors[0].Message, ": ")
		return assert.Equal(t, want, oe.Errors[0].Message, what) && ok
	}
	return assert.Equal(t, string(clerkBody), string(ourBody), what) && ok
}
