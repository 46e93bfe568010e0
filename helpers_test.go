package clerkauth_test

// Helpers shared by the package's external tests.

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
)

// whoami answers with the signed-in user, or "anonymous".
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if id, ok := clerkauth.IdentityFromContext(r.Context()); ok {
		fmt.Fprint(w, "user:"+id.UserID)
		return
	}
	fmt.Fprint(w, "anonymous")
})

type response struct {
	status int
	header http.Header
	body   string
}

func serve(h http.Handler, r *http.Request) response {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return response{rec.Code, rec.Header(), rec.Body.String()}
}

// authenticate is AuthenticateRequest's answer as an identity or an
// error.
func authenticate(a *clerkauth.Auth, r *http.Request) (*clerkauth.Identity, error) {
	s := a.AuthenticateRequest(r)
	if s.Status == clerkauth.SignedIn {
		return s.Identity, nil
	}
	return nil, s.Err
}

func bearer(r *http.Request, token string) *http.Request {
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// assertUnauthenticated checks the whole 401 contract: status, headers and
// a body that is exactly {"error":"unauthenticated","reason":…}.
func assertUnauthenticated(t *testing.T, res response, reason clerkauth.Reason, tokenPresented bool) {
	t.Helper()
	require.Equal(t, http.StatusUnauthorized, res.status, res.body)
	if tokenPresented {
		assert.Equal(t, `Bearer error="invalid_token"`, res.header.Get("WWW-Authenticate"))
	} else {
		assert.Equal(t, "Bearer", res.header.Get("WWW-Authenticate"))
	}
	assert.Equal(t, "signed-out", res.header.Get("X-Clerk-Auth-Status"))
	assert.Equal(t, string(reason), res.header.Get("X-Clerk-Auth-Reason"))
	assert.Equal(t, "application/json; charset=utf-8", res.header.Get("Content-Type"))
	assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
	assert.JSONEq(t, `{"error":"unauthenticated","reason":"`+string(reason)+`"}`, res.body)
}

func rawGet(t *testing.T, addr, path, token string) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	req := "GET " + path + " HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n"
	if token != "" {
		req += "Authorization: Bearer " + token + "\r\n"
	}
	_, err = io.WriteString(conn, req+"\r\n")
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, path)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(body)
}

// suffixFor is Clerk's cookie suffix: URL-safe base64 of SHA-1(pk), first
// 8 characters.
func suffixFor(pk string) string {
	sum := sha1.Sum([]byte(pk))
	return base64.URLEncoding.EncodeToString(sum[:])[:8]
}

// mustRouteMatcher compiles patterns that the test knows to be valid.
func mustRouteMatcher(t testing.TB, patterns ...string) *clerkauth.RouteMatcher {
	t.Helper()
	m, err := clerkauth.NewRouteMatcher(patterns...)
	require.NoError(t, err)
	return m
}

// requirePatternError requires NewRouteMatcher to refuse pattern (beside a
// valid one) with a *PatternError that names it.
func requirePatternError(t *testing.T, pattern string) *clerkauth.PatternError {
	t.Helper()
	_, err := clerkauth.NewRouteMatcher("/ok", pattern)
	require.Error(t, err, pattern)
	var perr *clerkauth.PatternError
	require.True(t, errors.As(err, &perr), "%T", err)
	assert.Equal(t, pattern, perr.Pattern)
	return perr
}
