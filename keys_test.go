package clerkauth_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/internal/testutil"
)

// keyServer is a JWKS endpoint that misbehaves on command, in front of a
// clerktest.Issuer's real key set.
type keyServer struct {
	iss     *clerktest.Issuer
	srv     *httptest.Server
	mode    atomic.Value // string
	fetches atomic.Int64
	release chan struct{} // "slow" mode blocks until closed or the client gives up
}

func newKeyServer(t *testing.T) *keyServer {
	ks := &keyServer{iss: clerktest.NewIssuer(t), release: make(chan struct{})}
	ks.mode.Store("ok")
	ks.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.fetches.Add(1)
		switch ks.mode.Load().(string) {
		case "ok":
			w.Write(ks.iss.MustJWKS())
		case "500":
			http.Error(w, "internal error", http.StatusInternalServerError)
		case "garbage":
			w.Write([]byte(`{"keys": [`))
		case "empty":
			w.Write([]byte(`{"keys": []}`))
		case "huge":
			w.Write([]byte(`{"keys":[`))
			chunk := bytes.Repeat([]byte(" "), 1<<20)
			for i := 0; i < 100; i++ { // 100 MB, if anyone read it all
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case "slow":
			select {
			case <-ks.release:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(func() {
		close(ks.release)
		ks.srv.Close()
	})
	return ks
}

func (ks *keyServer) auth(t *testing.T, clock *testutil.FakeClock, logs *testutil.LockedBuffer, edit func(*clerkauth.Config)) *clerkauth.Auth {
	t.Helper()
	cfg := clerkauth.Config{
		IssuerDomain:   ks.srv.URL,
		HTTPClient:     ks.srv.Client(),
		Now:            clock.Now,
		TokenCacheSize: -1,
		Logger:         slog.New(slog.DiscardHandler),
	}
	if logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	if edit != nil {
		edit(&cfg)
	}
	a, err := clerkauth.New(cfg)
	require.NoError(t, err)
	return a
}

// token mints a token whose issuer is the key server's URL.
func (ks *keyServer) token(t *testing.T, clock *testutil.FakeClock, opts ...clerktest.TokenOption) string {
	ks.iss.SetNow(clock.Now)
	return ks.iss.MustSessionToken("user_1", append([]clerktest.TokenOption{clerktest.WithClaims(map[string]any{"iss": ks.srv.URL})}, opts...)...)
}

func verifyReason(t *testing.T, a *clerkauth.Auth, token string) clerkauth.Reason {
	t.Helper()
	_, err := a.VerifyToken(context.Background(), token)
	if err == nil {
		return ""
	}
	return reasonOf(t, err)
}

func TestKeyCacheColdStartFetchesOnce(t *testing.T) {
	ks := newKeyServer(t)
	clock := testutil.NewFakeClock(time.Now())
	a := ks.auth(t, clock, nil, nil)
	token := ks.token(t, clock)
	var wg sync.WaitGroup
	var failures atomic.Int64
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.VerifyToken(context.Background(), token); err != nil {
				failures.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, failures.Load())
	assert.Equal(t, int64(1), ks.fetches.Load(), "1,000 concurrent requests on a cold cache cause one fetch")
}

func TestKeyCacheUnknownKidsAreRateLimited(t *testing.T) {
	ks := newKeyServer(t)
	clock := testutil.NewFakeClock(time.Now())
	a := ks.auth(t, clock, nil, nil)
	require.Empty(t, verifyReason(t, a, ks.token(t, clock)))
	require.Equal(t, int64(1), ks.fetches.Load())

	// Within the cool-down, a burst of random kids costs nothing.
	for i := 0; i < 200; i++ {
		assert.Equal(t, clerkauth.ReasonJWKKidMismatch, verifyReason(t, a, ks.token(t, clock, clerktest.WithKeyID("kid_"+strings.Repeat("x", i)))))
	}
	assert.Equal(t, int64(1), ks.fetches.Load())

	// After the cool-down, one refetch, then quiet again.
	clock.Advance(11 * time.Second)
	for i := 0; i < 200; i++ {
		verifyReason(t, a, ks.token(t, clock, clerktest.WithKeyID("other_"+strings.Repeat("y", i))))
	}
	assert.Equal(t, int64(2), ks.fetches.Load())
}

func TestKeyCacheRotation(t *testing.T) {
	ks := newKeyServer(t)
	clock := testutil.NewFakeClock(time.Now())
	a := ks.auth(t, clock, nil, nil)
	oldToken := ks.token(t, clock)
	require.Empty(t, verifyReason(t, a, oldToken))

	// A new key is published and starts signing: the first token with it
	// verifies, after exactly one fetch.
	clock.Advance(time.Minute)
	ks.iss.MustRotate()
	newToken := ks.token(t, clock)
	assert.Empty(t, verifyReason(t, a, newToken))
	assert.Equal(t, int64(2), ks.fetches.Load())
	assert.Empty(t, verifyReason(t, a, oldToken), "both keys are published: the old one still verifies")
	assert.Equal(t, int64(2), ks.fetches.Load())
}

func TestKeyCacheRemovedKey(t *testing.T) {
	ks := newKeyServer(t)
	clock := testutil.NewFakeClock(time.Now())
	a := ks.auth(t, clock, nil, func(c *clerkauth.Config) { c.KeyRefreshInterval = time.Minute })
	oldKid := ks.iss.KeyID()
	oldPriv := ks.iss.PrivateKey()
	require.Empty(t, verifyReason(t, a, ks.token(t, clock)))

	ks.iss.MustRotate()
	ks.iss.RemoveOldKeys()
	clock.Advance(2 * time.Minute) // the cached key set is now stale
	oldToken := ks.token(t, clock, clerktest.WithKeyID(oldKid), clerktest.WithSigningKey(oldPriv))
	// The stale set still holds the old key: verified, and a background
	// refresh starts. Once it is in, the removed key is refused.
	assert.Empty(t, verifyReason(t, a, oldToken))
	require.Eventually(t, func() bool { return verifyReason(t, a, oldToken) == clerkauth.ReasonJWKKidMismatch }, 10*time.Second, time.Millisecond)
	assert.Equal(t, int64(2), ks.fetches.Load(), "one background refresh")
}

func TestKeyCacheServesCachedKeysWhenTheServerFails(t *testing.T) {
	for _, mode := range []string{"500", "garbage", "empty", "huge"} {
		t.Run(mode, func(t *testing.T) {
			ks := newKeyServer(t)
			clock := testutil.NewFakeClock(time.Now())
			var logs testutil.LockedBuffer
			a := ks.auth(t, clock, &logs, func(c *clerkauth.Config) { c.KeyRefreshInterval = time.Minute })
			require.Empty(t, verifyReason(t, a, ks.token(t, clock)))

			// The server fails; every minute the stale keys trigger a
			// background refresh, which fails, while verification goes on
			// with the cached keys. (Polling: each round starts a refresh
			// once the previous one has finished.)
			ks.mode.Store(mode)
			start := ks.fetches.Load()
			require.Eventually(t, func() bool {
				clock.Advance(time.Minute)
				require.Empty(t, verifyReason(t, a, ks.token(t, clock)), "cached keys keep verifying")
				return ks.fetches.Load() >= start+3 && strings.Contains(logs.String(), "verifying with the cached keys")
			}, 10*time.Second, time.Millisecond)

			ks.mode.Store("ok")
			require.Eventually(t, func() bool {
				clock.Advance(time.Minute)
				require.Empty(t, verifyReason(t, a, ks.token(t, clock)))
				return strings.Contains(logs.String(), "fetched the instance's keys again")
			}, 10*time.Second, time.Millisecond)
			assert.Equal(t, 1, strings.Count(logs.String(), "verifying with the cached keys"), "said once per outage: %s", logs.String())
			assert.NotContains(t, logs.String(), "eyJ")
		})
	}
}

func TestKeyCacheDownAtStartup(t *testing.T) {
	for _, mode := range []string{"500", "garbage", "empty", "huge", "slow"} {
		t.Run(mode, func(t *testing.T) {
			ks := newKeyServer(t)
			ks.mode.Store(mode)
			clock := testutil.NewFakeClock(time.Now())
			a := ks.auth(t, clock, nil, func(c *clerkauth.Config) { c.ClerkTimeout = 200 * time.Millisecond })
			h := a.Middleware(whoami)
			token := ks.token(t, clock)
			res := serve(h, bearer(httptest.NewRequest("GET", "/x", nil), token))
			assert.Equal(t, http.StatusServiceUnavailable, res.status)
			assert.Equal(t, clerkauth.ReasonJWKRemoteFailedToLoad, clerkauth.Reason(res.header.Get("X-Clerk-Auth-Reason")))

			// Within the cool-down: 503 at once, no new fetch.
			before := ks.fetches.Load()
			assert.Equal(t, http.StatusServiceUnavailable, serve(h, bearer(httptest.NewRequest("GET", "/x", nil), token)).status)
			assert.Equal(t, before, ks.fetches.Load())

			// The server recovers; after the cool-down the next request fetches.
			ks.mode.Store("ok")
			clock.Advance(11 * time.Second)
			token = ks.token(t, clock)
			assert.Equal(t, "user:user_1", serve(h, bearer(httptest.NewRequest("GET", "/x", nil), token)).body)
		})
	}
}

func TestKeyCacheWaitHonoursRequestContext(t *testing.T) {
	ks := newKeyServer(t)
	ks.mode.Store("slow")
	clock := testutil.NewFakeClock(time.Now())
	a := ks.auth(t, clock, nil, func(c *clerkauth.Config) { c.ClerkTimeout = time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	token := ks.token(t, clock)
	done := make(chan error)
	go func() {
		_, err := a.VerifyToken(ctx, token)
		done <- err
	}()
	cancel()
	err := <-done
	assert.Equal(t, clerkauth.ReasonJWKRemoteFailedToLoad, reasonOf(t, err))
}

func TestKeyCacheClockJumps(t *testing.T) {
	ks := newKeyServer(t)
	clock := testutil.NewFakeClock(time.Now())
	a := ks.auth(t, clock, nil, nil)
	require.Empty(t, verifyReason(t, a, ks.token(t, clock)))

	// The clock jumps back an hour: the cool-down must not hold fetches off
	// for an hour, and tokens minted "now" still verify.
	clock.Advance(-time.Hour)
	assert.Equal(t, clerkauth.ReasonJWKKidMismatch, verifyReason(t, a, ks.token(t, clock, clerktest.WithKeyID("unknown"))))
	assert.Equal(t, int64(2), ks.fetches.Load())
	assert.Empty(t, verifyReason(t, a, ks.token(t, clock)))

	// The clock jumps forward a day: old tokens expire, new ones verify.
	old := ks.token(t, clock)
	clock.Advance(24 * time.Hour)
	assert.Equal(t, clerkauth.ReasonTokenExpired, verifyReason(t, a, old))
	assert.Empty(t, verifyReason(t, a, ks.token(t, clock)))
}

func TestBackendAPIKeySource(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	var auths atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/jwks" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer sk_test_secret" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"errors":[{"code":"authentication_invalid","message":"sk_test_secret is wrong"}]}`))
			return
		}
		auths.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(iss.MustJWKS())
	}))
	defer api.Close()
	token := iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{"iss": "https://clerk.example.com"}))

	a, err := clerkauth.New(clerkauth.Config{SecretKey: "sk_test_secret", APIURL: api.URL + "/v1", HTTPClient: api.Client()})
	require.NoError(t, err)
	id, err := a.VerifyToken(context.Background(), token)
	require.NoError(t, err)
	assert.Equal(t, "user_1", id.UserID)
	assert.Equal(t, int64(1), auths.Load())

	var logs testutil.LockedBuffer
	wrong, err := clerkauth.New(clerkauth.Config{SecretKey: "sk_test_wrong", APIURL: api.URL + "/v1", HTTPClient: api.Client(),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	_, err = wrong.VerifyToken(context.Background(), token)
	assert.Equal(t, clerkauth.ReasonJWKRemoteFailedToLoad, reasonOf(t, err))
	assert.Contains(t, logs.String(), "status 401")
	assert.NotContains(t, logs.String(), "sk_test_", "the secret key never reaches the logs")
}

// TestKeySetWithUnusableEntries: a key set holding a key of a type this
// verifier does not know (a future EC or OKP key), an encryption key or two
// keys under one kid still verifies tokens signed with its usable keys;
// the unusable entries are skipped and logged once. A kid that two keys
// share is used by neither (fail closed). Both key sources read sets alike.
func TestKeySetWithUnusableEntries(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	var real struct {
		Keys []json.RawMessage `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(iss.MustJWKS(), &real))
	require.Len(t, real.Keys, 1)
	var dup map[string]any
	require.NoError(t, json.Unmarshal(real.Keys[0], &dup))
	dup["kid"] = "ins_dup"
	dupKey, _ := json.Marshal(dup)
	set := fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"X448","x":"AAAA","kid":"ins_future"},%s,{"kty":"EC","crv":"P-999","kid":"ins_ec"},{"kty":"WAT"},%s,%s]}`,
		real.Keys[0], dupKey, dupKey)

	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, set) }))
	defer api.Close()
	for name, cfg := range map[string]clerkauth.Config{
		"JWKS":        {IssuerDomain: api.URL},
		"Backend API": {SecretKey: "sk_test_x", APIURL: api.URL + "/v1"},
	} {
		t.Run(name, func(t *testing.T) {
			var logs testutil.LockedBuffer
			cfg.HTTPClient = api.Client()
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			a, err := clerkauth.New(cfg)
			require.NoError(t, err)
			claims := map[string]any{"iss": cmp.Or(cfg.IssuerDomain, "https://clerk.example.com")}
			id, err := a.VerifyToken(context.Background(), iss.MustSessionToken("user_1", clerktest.WithClaims(claims)))
			require.NoError(t, err, "the usable key still verifies")
			assert.Equal(t, "user_1", id.UserID)

			_, err = a.VerifyToken(context.Background(), iss.MustSessionToken("user_1", clerktest.WithClaims(claims), clerktest.WithKeyID("ins_dup")))
			assert.Equal(t, clerkauth.ReasonJWKKidMismatch, reasonOf(t, err), "a shared kid is trusted for neither key")

			out := logs.String()
			assert.Equal(t, 1, strings.Count(out, "cannot use; they are skipped"), out)
			for _, want := range []string{`ins_future`, `ins_ec`, `WAT`, `more than one key has this kid`} {
				assert.Contains(t, out, want)
			}
		})
	}
}

// TestKeyFetchFailuresSayWhy: the log names the cause of a failed key
// fetch (refused, DNS, TLS, timeout), not just "network error".
func TestKeyFetchFailuresSayWhy(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	refused := closed.URL
	closed.Close()
	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()

	for _, tt := range []struct {
		name, issuer string
		client       *http.Client
		want         string
	}{
		{"refused", refused, nil, "connection refused"},
		{"DNS", "https://clerk.does-not-exist.invalid", &http.Client{Transport: &http.Transport{
			DialContext: func(context.Context, string, string) (net.Conn, error) {
				return nil, &net.DNSError{Err: "no such host", Name: "clerk.does-not-exist.invalid", IsNotFound: true}
			}}}, "DNS lookup of clerk.does-not-exist.invalid failed"},
		{"TLS", "https://" + strings.TrimPrefix(tlsSrv.URL, "https://"), &http.Client{}, "TLS certificate not trusted"},
		{"timeout", "https://clerk.example.test", &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done()
			return nil, r.Context().Err()
		})}, "timed out"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs testutil.LockedBuffer
			timeout := 10 * time.Second // never reached but by the blocking transport
			if tt.name == "timeout" {
				timeout = 50 * time.Millisecond
			}
			a, err := clerkauth.New(clerkauth.Config{IssuerDomain: tt.issuer, HTTPClient: tt.client, ClerkTimeout: timeout,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			require.NoError(t, err)
			iss := clerktest.NewIssuer(t)
			_, err = a.VerifyToken(context.Background(), iss.MustSessionToken("user_1", clerktest.WithClaims(map[string]any{"iss": tt.issuer})))
			assert.Equal(t, clerkauth.ReasonJWKRemoteFailedToLoad, reasonOf(t, err))
			assert.Contains(t, logs.String(), tt.want)
		})
	}
}
