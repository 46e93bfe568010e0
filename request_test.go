package clerkauth_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

// rawRequest sends a request, as written, to addr over TCP and returns the
// response.
func rawRequest(t *testing.T, addr, request string) *http.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(conn, request)
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	res.Body = io.NopCloser(bytes.NewReader(body)) // readable after the connection closes
	return res
}

// Issue 18, finding 9: one reading of the URL the browser addressed. The
// sign-in redirect and the handshake name the same origin for the same
// request, and forwarded headers are believed only from a trusted proxy,
// only when they hold one value, and only when they name a host.
func TestForwardedHeadersOnePolicy(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	build := func(trusted ...string) string {
		auth := iss.MustAuth(func(c *clerkauth.Config) {
			c.TrustedProxies = trusted
			c.SignInURL = "https://accounts.example.com/sign-in"
		})
		mux := http.NewServeMux()
		// /sign-in-now: the sign-in redirect; /stale: a stale session
		// (client_uat set, no session cookie) goes through the handshake.
		mux.HandleFunc("/sign-in-now", auth.RedirectToSignIn)
		srv := httptest.NewServer(auth.Middleware(mux))
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	redirectURL := func(res *http.Response) string {
		loc, err := url.Parse(res.Header.Get("Location"))
		require.NoError(t, err)
		return loc.Query().Get("redirect_url")
	}
	// Both redirects of one request, over raw TCP as a proxy sends it.
	both := func(addr, extra string) (signIn, handshake string) {
		base := "Host: internal:8080\r\nAccept: text/html\r\nSec-Fetch-Dest: document\r\nConnection: close\r\n" + extra
		signIn = redirectURL(rawRequest(t, addr, "GET /sign-in-now?x=1 HTTP/1.1\r\n"+base+"\r\n"))
		hs := rawRequest(t, addr, "GET /sign-in-now?x=1 HTTP/1.1\r\n"+base+"Cookie: __client_uat=1\r\n\r\n")
		require.Equal(t, 307, hs.StatusCode)
		require.Contains(t, hs.Header.Get("Location"), "/v1/client/handshake")
		return signIn, redirectURL(hs)
	}
	untrusted, trusted := build(), build("127.0.0.0/8", "::1")
	for _, tt := range []struct {
		name    string
		addr    string
		headers string
		want    string
	}{
		{"no proxy named: forwarded headers are anyone's", untrusted, "X-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\n", "http://internal:8080/sign-in-now?x=1"},
		{"a trusted proxy", trusted, "X-Forwarded-Host: app.example.com\r\nX-Forwarded-Proto: https\r\n", "https://app.example.com/sign-in-now?x=1"},
		{"a trusted proxy, upper-case scheme", trusted, "X-Forwarded-Proto: HTTPS\r\n", "https://internal:8080/sign-in-now?x=1"},
		{"an appended list: the first value is the client's", trusted, "X-Forwarded-Host: evil.example, app.example.com\r\n", "http://internal:8080/sign-in-now?x=1"},
		{"two header lines", trusted, "X-Forwarded-Host: evil.example\r\nX-Forwarded-Host: app.example.com\r\n", "http://internal:8080/sign-in-now?x=1"},
		{"not a host", trusted, "X-Forwarded-Host: app.example.com/evil\r\n", "http://internal:8080/sign-in-now?x=1"},
		{"user info", trusted, "X-Forwarded-Host: user@evil.example\r\n", "http://internal:8080/sign-in-now?x=1"},
		{"not a scheme we serve", trusted, "X-Forwarded-Proto: javascript\r\n", "http://internal:8080/sign-in-now?x=1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			signIn, handshake := both(tt.addr, tt.headers)
			assert.Equal(t, tt.want, signIn)
			// The handshake's redirect_url is the same URL (the handshake
			// keeps Clerk's query parameters out of it).
			assert.Equal(t, tt.want, handshake)
		})
	}
}

func TestTrustedProxiesValidated(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	_, err := iss.Auth(func(c *clerkauth.Config) { c.TrustedProxies = []string{"10.0.0.0/8", "proxy.internal"} })
	require.Error(t, err)
	assert.Contains(t, err.Error(), `TrustedProxies lists "proxy.internal"`)
	assert.True(t, strings.Contains(err.Error(), "CIDR"))
	_, err = iss.Auth(func(c *clerkauth.Config) {
		c.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.1", "::ffff:192.0.2.2", "fd00::/8"}
	})
	assert.NoError(t, err)
}
