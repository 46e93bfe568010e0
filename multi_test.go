package clerkauth_test

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

// anyHosts reads the chosen host: Hosts.Host reads only the context.
var anyHosts *clerkauth.Hosts

// whereami answers with the chosen host and the signed-in user.
var whereami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	fmt.Fprint(w, anyHosts.Host(r.Context())+" ")
	whoami(w, r)
})

// twoInstances starts two Clerk instances, A on a.example.com and B on
// b.example.com, each Config edited by edit (which may be nil).
func twoInstances(t *testing.T, edit func(*clerkauth.Config)) (hosts *clerkauth.Hosts, tokenA, tokenB string) {
	t.Helper()
	issA, issB := clerktest.NewIssuer(t), clerktest.NewIssuer(t)
	cfgA, cfgB := issA.Config(), issB.Config()
	for _, c := range []*clerkauth.Config{&cfgA, &cfgB} {
		c.PublicRoutes = []string{"/public"}
		if edit != nil {
			edit(c)
		}
	}
	hosts, err := clerkauth.NewHosts(map[string]clerkauth.Config{"a.example.com": cfgA, "B.Example.com": cfgB})
	require.NoError(t, err)
	return hosts, issA.MustSessionToken("user_a"), issB.MustSessionToken("user_b")
}

func TestNewHostsValidates(t *testing.T) {
	iss := shared(t)
	ok := iss.Config()
	proxied := iss.Config()
	proxied.TrustedProxies = []string{"10.0.0.0/8"}
	for name, tc := range map[string]struct {
		table map[string]clerkauth.Config
		want  string // in the error
	}{
		"no host":            {map[string]clerkauth.Config{}, "at least one host"},
		"empty host":         {map[string]clerkauth.Config{"": ok}, "empty host"},
		"wildcard":           {map[string]clerkauth.Config{"*.example.com": ok}, "wildcards are not supported"},
		"lone wildcard":      {map[string]clerkauth.Config{"*": ok}, "wildcards are not supported"},
		"scheme":             {map[string]clerkauth.Config{"https://a.example.com": ok}, "not a host[:port]"},
		"path":               {map[string]clerkauth.Config{"a.example.com/app": ok}, "not a host[:port]"},
		"user info":          {map[string]clerkauth.Config{"u@a.example.com": ok}, "not a host[:port]"},
		"space":              {map[string]clerkauth.Config{"a.example.com ": ok}, "not a host[:port]"},
		"trailing dot":       {map[string]clerkauth.Config{"a.example.com.": ok}, "trailing dot"},
		"trailing dot, port": {map[string]clerkauth.Config{"a.example.com.:8080": ok}, "trailing dot"},
		"same host twice":    {map[string]clerkauth.Config{"a.example.com": ok, "A.example.COM": ok}, "the same host"},
		"bad config":         {map[string]clerkauth.Config{"a.example.com": {}}, `host "a.example.com": clerkauth: `},
		"proxies differ":     {map[string]clerkauth.Config{"a.example.com": ok, "b.example.com": proxied}, "same TrustedProxies"},
	} {
		t.Run(name, func(t *testing.T) {
			h, err := clerkauth.NewHosts(tc.table)
			require.Error(t, err)
			assert.Nil(t, h)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("valid hosts", func(t *testing.T) {
		same := iss.Config()
		same.TrustedProxies = []string{"10.0.0.0/8", "10.1.2.3/8"} // the same prefix twice, masked
		_, err := clerkauth.NewHosts(map[string]clerkauth.Config{"localhost:3000": proxied, "[::1]:8080": same, "App.Example.com": proxied, "192.0.2.7": proxied})
		assert.NoError(t, err)
	})
}

// TestHostsChooseTheInstanceByHost: each host verifies with its own
// instance's keys only, and a host not in the table is refused whatever
// it carries, on public routes too.
func TestHostsChooseTheInstanceByHost(t *testing.T) {
	hosts, tokenA, tokenB := twoInstances(t, nil)
	mw := hosts.Middleware(whereami)
	req := hosts.Require()(whereami)
	for _, tc := range []struct {
		name, host, path, token string
		status                  int
		body                    string
	}{
		{"A's token on A", "a.example.com", "/me", tokenA, 200, "a.example.com user:user_a"},
		{"B's token on B", "b.example.com", "/me", tokenB, 200, "b.example.com user:user_b"},
		{"host is case-insensitive", "A.EXAMPLE.COM", "/me", tokenA, 200, "a.example.com user:user_a"},
		{"A's token on B", "b.example.com", "/me", tokenA, 401, ""},
		{"B's token on A", "a.example.com", "/me", tokenB, 401, ""},
		{"B's token on A's public route", "a.example.com", "/public", tokenB, 200, "a.example.com anonymous"},
		{"unknown host", "c.example.com", "/me", tokenA, 421, ""},
		{"unknown host, public route", "c.example.com", "/public", "", 421, ""},
		{"a port the table does not list", "a.example.com:8443", "/me", tokenA, 421, ""},
		{"trailing dot", "a.example.com.", "/me", tokenA, 421, ""},
		{"a suffix of a listed host", "x.a.example.com", "/me", tokenA, 421, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for guard, h := range map[string]http.Handler{"Middleware": mw, "Require": req, "Middleware+Require": hosts.Middleware(req)} {
				if guard != "Middleware" && tc.path == "/public" {
					continue // Require protects every route
				}
				r := httptest.NewRequest("GET", tc.path, nil)
				r.Host = tc.host
				if tc.token != "" {
					bearer(r, tc.token)
				}
				res := serve(h, r)
				assert.Equal(t, tc.status, res.status, guard)
				switch tc.status {
				case 200:
					assert.Equal(t, tc.body, res.body, guard)
				case 401:
					assert.Contains(t, res.body, `"error":"unauthenticated"`, guard)
				case 421:
					assertUnknownHost(t, res)
				}
			}
		})
	}
	t.Run("For", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = "b.example.com"
		b, ok := hosts.For(r)
		require.True(t, ok)
		_, err := b.VerifyToken(r.Context(), tokenB)
		assert.NoError(t, err)
		_, err = b.VerifyToken(r.Context(), tokenA)
		assert.Error(t, err)
		r.Host = "c.example.com"
		_, ok = hosts.For(r)
		assert.False(t, ok)
	})
}

// TestHostsRequireRefusesAnotherHostsRequest: a handler between
// Hosts.Middleware and Hosts.Require that rewrites the host cannot hand
// one instance's identity to another's checks.
func TestHostsRequireRefusesAnotherHostsRequest(t *testing.T) {
	hosts, tokenA, _ := twoInstances(t, nil)
	rewrite := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Host = "b.example.com"
			next.ServeHTTP(w, r)
		})
	}
	h := hosts.Middleware(rewrite(hosts.Require()(whereami)))
	r := bearer(httptest.NewRequest("GET", "/me", nil), tokenA)
	r.Host = "a.example.com"
	assertUnknownHost(t, serve(h, r))
	r.Host = "a.example.com"
	assert.Equal(t, "a.example.com user:user_a", serve(hosts.Middleware(hosts.Require()(whereami)), r).body, "without the rewrite")
}

func assertUnknownHost(t *testing.T, res response) {
	t.Helper()
	require.Equal(t, http.StatusMisdirectedRequest, res.status, res.body)
	assert.JSONEq(t, `{"error":"misdirected","reason":"unknown-host"}`, res.body)
	assert.Equal(t, "unknown-host", res.header.Get("X-Clerk-Auth-Reason"))
	assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
	assert.Equal(t, "application/json; charset=utf-8", res.header.Get("Content-Type"))
}

// TestHostsForwardedHost: X-Forwarded-Host chooses the instance only from
// a trusted proxy; from anyone else the Host header does.
func TestHostsForwardedHost(t *testing.T) {
	hosts, tokenA, tokenB := twoInstances(t, func(c *clerkauth.Config) { c.TrustedProxies = []string{"192.0.2.1"} })
	h := hosts.Middleware(whereami)
	for _, tc := range []struct {
		name, peer, host, forwarded, token string
		status                             int
		body                               string
	}{
		{"trusted proxy names B", "192.0.2.1:1234", "internal:8080", "b.example.com", tokenB, 200, "b.example.com user:user_b"},
		{"trusted proxy names B, A's token", "192.0.2.1:1234", "a.example.com", "b.example.com", tokenA, 401, ""},
		{"trusted proxy names an unknown host", "192.0.2.1:1234", "a.example.com", "c.example.com", tokenA, 421, ""},
		{"trusted proxy, forwarded list not believed", "192.0.2.1:1234", "a.example.com", "b.example.com, a.example.com", tokenA, 200, "a.example.com user:user_a"},
		{"untrusted peer names B", "203.0.113.9:1234", "a.example.com", "b.example.com", tokenB, 401, ""},
		{"untrusted peer names B, A's token", "203.0.113.9:1234", "a.example.com", "b.example.com", tokenA, 200, "a.example.com user:user_a"},
		{"untrusted peer, unknown Host", "203.0.113.9:1234", "internal:8080", "b.example.com", tokenB, 421, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := bearer(httptest.NewRequest("GET", "/me", nil), tc.token)
			r.RemoteAddr, r.Host = tc.peer, tc.host
			r.Header.Set("X-Forwarded-Host", tc.forwarded)
			res := serve(h, r)
			assert.Equal(t, tc.status, res.status, res.body)
			if tc.status == 200 {
				assert.Equal(t, tc.body, res.body)
			}
		})
	}
}

// TestHostsRawRequests sends raw HTTP/1.1 to a real server: whatever the
// spelling of the host, it chooses one instance or none, and the handler
// sees the host that chose it.
func TestHostsRawRequests(t *testing.T) {
	hosts, tokenA, tokenB := twoInstances(t, nil)
	srv := httptest.NewServer(hosts.Middleware(whereami))
	defer srv.Close()
	for _, tc := range []struct {
		name, target, headers string
		status                int
		body                  string
	}{
		{"plain", "/me", "Host: a.example.com\r\nAuthorization: Bearer " + tokenA, 200, "a.example.com user:user_a"},
		// RFC 9112 §3.2.2: the absolute-form target's authority wins over
		// Host, as Go's server reads it; the instance follows it.
		{"absolute form names B, A's token", "http://b.example.com/me", "Host: a.example.com\r\nAuthorization: Bearer " + tokenA, 401, ""},
		{"absolute form names B, B's token", "http://b.example.com/me", "Host: a.example.com\r\nAuthorization: Bearer " + tokenB, 200, "b.example.com user:user_b"},
		{"absolute form names an unknown host", "http://c.example.com/me", "Host: a.example.com\r\nAuthorization: Bearer " + tokenA, 421, ""},
		{"trailing dot", "/me", "Host: a.example.com.\r\nAuthorization: Bearer " + tokenA, 421, ""},
		{"upper case", "/me", "Host: A.Example.COM\r\nAuthorization: Bearer " + tokenA, 200, "a.example.com user:user_a"},
		{"port", "/me", "Host: a.example.com:80\r\nAuthorization: Bearer " + tokenA, 421, ""},
		{"user info (Go refuses it)", "/me", "Host: b.example.com@a.example.com\r\nAuthorization: Bearer " + tokenA, 400, ""},
		{"two Host headers", "/me", "Host: a.example.com\r\nHost: b.example.com\r\nAuthorization: Bearer " + tokenA, 400, ""},
		{"no Host", "/me", "Authorization: Bearer " + tokenA, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := rawRequest(t, srv.Listener.Addr().String(), "GET "+tc.target+" HTTP/1.1\r\n"+tc.headers+"\r\nConnection: close\r\n\r\n")
			b, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			status, body := res.StatusCode, strings.TrimSpace(string(b))
			assert.Equal(t, tc.status, status, body)
			if tc.status == 200 {
				assert.Equal(t, tc.body, body)
			}
			if tc.status == 421 {
				assert.JSONEq(t, `{"error":"misdirected","reason":"unknown-host"}`, body)
			}
		})
	}
}

func ExampleNewHosts() {
	// Each customer has its own Clerk instance on its own domain.
	hosts, err := clerkauth.NewHosts(map[string]clerkauth.Config{
		"app.acme.example":   {PublishableKey: "pk_live_Y2xlcmsuYWNtZS5leGFtcGxlJA==", PublicRoutes: []string{"/"}},
		"app.globex.example": {PublishableKey: "pk_live_Y2xlcmsuZ2xvYmV4LmV4YW1wbGUk", PublicRoutes: []string{"/"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// The tenant is the host that chose the instance, never r.Host.
		fmt.Fprintln(w, "tenant", hosts.Host(r.Context()))
	})
	handler := hosts.Middleware(mux) // http.ListenAndServe(":8080", handler)

	for _, host := range []string{"app.acme.example", "App.Globex.Example", "app.initech.example"} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 200 tenant app.acme.example
	// 200 tenant app.globex.example
	// 421 {"error":"misdirected","reason":"unknown-host"}
}

// BenchmarkHostsMiddlewareHot is BenchmarkMiddlewareHot (its baseline: run
// both, -bench 'MiddlewareHot$') behind a Hosts of 16 instances: what
// choosing the instance by host costs (a lower-case check, a map lookup,
// the host in the context).
func BenchmarkHostsMiddlewareHot(b *testing.B) {
	s := newBenchSetup(b)
	table := map[string]clerkauth.Config{}
	for i := range 16 {
		table[fmt.Sprintf("tenant%d.example.com", i)] = clerkauth.Config{IssuerDomain: benchIssuer, HTTPClient: s.client, Logger: slog.New(slog.DiscardHandler)}
	}
	hosts, err := clerkauth.NewHosts(table)
	require.NoError(b, err)
	r := s.request()
	r.Host = "tenant7.example.com"
	benchMiddleware(b, hosts.Middleware(mustIdentity(b)), r)
}
