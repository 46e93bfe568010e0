package clerkauth_test

// Benchmarks, each beside its baseline, all in one run:
//
//	go test -run '^$' -bench . -benchmem -cpu 1,2 .
//
// BENCHMARKS.md records the numbers and their ratios.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	clerkhttp "github.com/clerk/clerk-sdk-go/v2/http"
	"github.com/clerk/clerk-sdk-go/v2/jwks"
	jose "github.com/go-jose/go-jose/v4"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/internal/issuer"
)

// benchSetup is one key, one token and the servers both middlewares fetch
// their keys from. The issuer has the https form clerk-sdk-go insists on.
type benchSetup struct {
	key    *rsa.PrivateKey
	kid    string
	token  string
	jwks   []byte
	api    *httptest.Server // a fake Backend API, for clerk-sdk-go
	client *http.Client     // serves the JWKS in-process, for clerkauth
}

const benchIssuer = "https://clerk.bench.test"

var benchKidSeq atomic.Int64

func newBenchSetup(b *testing.B) *benchSetup {
	b.Helper()
	// The adversarial corpus's fixed test key, rather than a fresh one: key
	// generation takes a random amount of work, and whole-program
	// instruction counts (BENCHMARKS.md) must not depend on it.
	key := loadOrCreateKey(b, "testdata/adversarial/issuer_key.pem")
	// A kid unique to this setup: clerk-sdk-go's key cache is global.
	s := &benchSetup{key: key, kid: fmt.Sprintf("ins_bench_%d_%d", time.Now().UnixNano(), benchKidSeq.Add(1))}
	s.jwks, _ = json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: s.kid, Algorithm: "RS256", Use: "sig"}}})
	s.token = realisticToken(b, key, s.kid, 0)
	s.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(s.jwks) }))
	b.Cleanup(s.api.Close)
	s.client = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: io.NopCloser(bytes.NewReader(s.jwks)), Header: http.Header{}, Request: r}, nil
	})}
	return s
}

// realisticToken mints a session token as Clerk issues it today: v2
// claims with an active organization, features, plans and factor
// verification age; about 600 bytes. n makes sid and jti distinct.
func realisticToken(b testing.TB, key *rsa.PrivateKey, kid string, n int) string {
	now := time.Now().Unix()
	return clerktest.SignRS256(b, key, kid, map[string]any{
		"iss": benchIssuer, "sub": "user_2NNEqL2nrIRdJ194ndJqAHwEfxC", "sid": fmt.Sprintf("sess_2NNEqQoUQwbOJ4nqZ4wND%07d", n),
		"azp": "https://app.example.com", "iat": now, "nbf": now - 10, "exp": now + 3600, "v": 2, "sts": "active",
		"jti": fmt.Sprintf("1a2b3c4d5e6f7a%06d", n), "fva": []int{0, -1}, "fea": "o:invoices,o:reports,u:export",
		"pla": "o:pro,u:free",
		"o":   map[string]any{"id": "org_2NNEqQoUQwbOJ4nqZ4wNDDJYjqp", "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "3,1"},
	})
}

func (s *benchSetup) auth(b *testing.B, cache bool) *clerkauth.Auth {
	b.Helper()
	a, err := clerkauth.New(clerkauth.Config{IssuerDomain: benchIssuer, HTTPClient: s.client, TokenCacheSize: cacheSize(cache), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// cacheSize is Config.TokenCacheSize for a cache on (the default) or off.
func cacheSize(on bool) int {
	if on {
		return 0
	}
	return -1
}

// discard is a ResponseWriter that allocates nothing.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func (s *benchSetup) request() *http.Request {
	r := httptest.NewRequest("GET", "/api/me", nil)
	r.Header.Set("Authorization", "Bearer "+s.token)
	return r
}

// BenchmarkFloorRSAVerify is the floor: one RS256 signature check of the
// token with the same key (SHA-256 of the signing input, then
// rsa.VerifyPKCS1v15). Nothing that verifies a token can be faster.
func BenchmarkFloorRSAVerify(b *testing.B) {
	s := newBenchSetup(b)
	i := strings.LastIndexByte(s.token, '.')
	sig, _ := base64.RawURLEncoding.DecodeString(s.token[i+1:])
	input := []byte(s.token[:i])
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			sum := sha256.Sum256(input)
			if err := rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVerifyTokenCold verifies a token not seen before: the cache is
// off, so every call does the full work.
func BenchmarkVerifyTokenCold(b *testing.B) { benchVerifyCold(b, nil) }

// BenchmarkVerifyTokenColdAfterJunkHeaders is VerifyTokenCold after 1,000
// tokens with distinct, valid-looking headers (random kids) that anyone
// can send: the header cache keeps only headers of tokens that verified,
// so the junk costs nothing afterwards.
func BenchmarkVerifyTokenColdAfterJunkHeaders(b *testing.B) {
	benchVerifyCold(b, func(a *clerkauth.Auth) {
		for i := range 1000 {
			header := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"alg":"RS256","kid":"junk_%d","typ":"JWT"}`, i))
			if _, err := a.VerifyToken(context.Background(), header+".e30.AAAA"); err == nil {
				b.Fatal("a junk token verified")
			}
		}
	})
}

// benchVerifyCold verifies the setup's token with the token cache off,
// after before (if any) has run on the warmed Auth.
func benchVerifyCold(b *testing.B, before func(*clerkauth.Auth)) {
	s := newBenchSetup(b)
	a := s.auth(b, false)
	if _, err := a.VerifyToken(context.Background(), s.token); err != nil {
		b.Fatal(err)
	}
	if before != nil {
		before(a)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.VerifyToken(context.Background(), s.token); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMiddlewareCold: the whole middleware, every request verified.
func BenchmarkMiddlewareCold(b *testing.B) {
	s := newBenchSetup(b)
	benchMiddleware(b, s.auth(b, false).Middleware(mustIdentity(b)), s.request())
}

// newTokens is a pool of distinct realistic tokens, signed once per
// process (signing is the slow part).
var newTokens struct {
	sync.Once
	setup  *benchSetup
	tokens []string
}

const newTokenPool = 2048

// BenchmarkMiddlewareNewTokens is the user's case: every request brings a
// token the server has not seen (a realistic v2 token, ~1 KB), through the
// whole middleware with the token cache on, at its default size. A fresh
// Auth every newTokenPool requests keeps each one a miss; the cost of that
// New is part of the figure (a few ns a request).
func BenchmarkMiddlewareNewTokens(b *testing.B) {
	newTokens.Do(func() {
		newTokens.setup = newBenchSetup(b)
		for i := range newTokenPool {
			newTokens.tokens = append(newTokens.tokens, realisticToken(b, newTokens.setup.key, newTokens.setup.kid, i))
		}
	})
	s := newTokens.setup
	requests := make([]*http.Request, newTokenPool)
	for i, tok := range newTokens.tokens {
		requests[i] = httptest.NewRequest("GET", "/api/me", nil)
		requests[i].Header.Set("Authorization", "Bearer "+tok)
	}
	var current atomic.Pointer[http.Handler]
	fresh := func() {
		h := s.auth(b, true).Middleware(mustIdentity(b))
		current.Store(&h)
	}
	fresh()
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discard{h: http.Header{}}
		for pb.Next() {
			n := next.Add(1)
			if n%newTokenPool == 0 {
				fresh()
			}
			(*current.Load()).ServeHTTP(w, requests[n%newTokenPool])
		}
	})
}

// BenchmarkMiddlewareHot: the whole middleware on a token seen before.
func BenchmarkMiddlewareHot(b *testing.B) {
	s := newBenchSetup(b)
	benchMiddleware(b, s.auth(b, true).Middleware(mustIdentity(b)), s.request())
}

// BenchmarkMiddlewareHotHooks: BenchmarkMiddlewareHot with every hook set
// (to functions that do nothing): what the calls cost on their own.
func BenchmarkMiddlewareHotHooks(b *testing.B) {
	s := newBenchSetup(b)
	a, err := clerkauth.New(clerkauth.Config{IssuerDomain: benchIssuer, HTTPClient: s.client, Logger: slog.New(slog.DiscardHandler),
		Hooks: clerkauth.Hooks{
			Decision:       func(context.Context, clerkauth.DecisionInfo) {},
			KeyFetch:       func(context.Context, clerkauth.KeyFetchInfo) {},
			BackendAPICall: func(context.Context, clerkauth.BackendAPICallInfo) {},
		}})
	if err != nil {
		b.Fatal(err)
	}
	benchMiddleware(b, a.Middleware(mustIdentity(b)), s.request())
}

// BenchmarkClerkSDKMiddleware: clerk-sdk-go v2's WithHeaderAuthorization on
// the same token and key (keys from a fake Backend API, cached after the
// first request).
func BenchmarkClerkSDKMiddleware(b *testing.B) {
	s := newBenchSetup(b)
	client := jwks.NewClient(&clerk.ClientConfig{BackendConfig: clerk.BackendConfig{
		HTTPClient: s.api.Client(), URL: clerk.String(s.api.URL + "/v1"), Key: clerk.String("sk_test_bench"),
	}})
	h := clerkhttp.WithHeaderAuthorization(clerkhttp.JWKSClient(client))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := clerk.SessionClaimsFromContext(r.Context()); !ok {
			panic("clerk-sdk-go did not authenticate the benchmark token")
		}
	}))
	benchMiddleware(b, h, s.request())
}

func mustIdentity(b *testing.B) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := clerkauth.IdentityFromContext(r.Context()); !ok {
			panic("clerkauth did not authenticate the benchmark token")
		}
	})
}

func benchMiddleware(b *testing.B, h http.Handler, r *http.Request) {
	b.Helper()
	h.ServeHTTP(&discard{h: http.Header{}}, r) // warm the key caches
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discard{h: http.Header{}}
		for pb.Next() {
			h.ServeHTTP(w, r)
		}
	})
}

// BenchmarkRouteMatch matches a path against 10 and 1,000 patterns of
// the usual shapes, in the case as written (Clerk's reading), in any case
// (what decides protected routes) and as the policy reads public patterns
// (as written, no optional trailing slash); the cost must not grow with
// the number of patterns.
func BenchmarkRouteMatch(b *testing.B) {
	for _, n := range []int{10, 1000} {
		var patterns []string
		for i := 0; i < n; i++ {
			switch i % 4 {
			case 0:
				patterns = append(patterns, fmt.Sprintf("/section-%d(.*)", i))
			case 1:
				patterns = append(patterns, fmt.Sprintf("/api/v%d/items/:id", i))
			case 2:
				patterns = append(patterns, fmt.Sprintf("/pages/page-%d", i))
			default:
				patterns = append(patterns, fmt.Sprintf("/docs/%d/:path*", i))
			}
		}
		m := mustRouteMatcher(b, patterns...)
		paths := []string{"/section-4/a/b", "/api/v5/items/42", "/pages/page-6", "/docs/7/a/b/c", "/dashboard/settings", "/api/v999999/items/1"}
		b.Run(fmt.Sprintf("patterns=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				for _, p := range paths {
					m.MatchPath(p)
				}
			}
		})
		b.Run(fmt.Sprintf("anycase/patterns=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				for _, p := range paths {
					m.MatchPathAnyCase(p)
				}
			}
		})
		// The policy's public reading (no optional trailing slash), beside
		// MatchPath above.
		b.Run(fmt.Sprintf("public/patterns=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				for _, p := range paths {
					clerkauth.MatchPublic(m, p)
				}
			}
		})
	}
}

// The webhook benchmarks compare the handler with the work it cannot
// avoid: svix's Verify and one json.Unmarshal of the same payload.
func webhookBenchInput(b *testing.B) (secret string, body []byte, hdr http.Header) {
	secret = clerktest.NewWebhookSecret()
	var err error
	body, err = os.ReadFile("testdata/webhooks/user.created.json")
	if err != nil {
		b.Fatal(err)
	}
	return secret, body, clerktest.SignWebhook(b, secret, "msg_bench", time.Now(), body)
}

func BenchmarkWebhookBaseline(b *testing.B) {
	secret, body, hdr := webhookBenchInput(b)
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := wh.Verify(body, hdr); err != nil {
			b.Fatal(err)
		}
		var env struct {
			Type string     `json:"type"`
			Data clerk.User `json:"data"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			b.Fatal(err)
		}
	}
}

// nopStore lets every delivery through, so that the benchmark can repeat
// one delivery id.
type nopStore struct{}

func (nopStore) Begin(ctx context.Context, id string) (context.Context, bool, error) {
	return ctx, false, nil
}
func (nopStore) Commit(context.Context, string) error { return nil }
func (nopStore) Abort(context.Context, string)        {}

func BenchmarkWebhookHandler(b *testing.B) {
	secret, body, hdr := webhookBenchInput(b)
	var got atomic.Int64
	h, err := clerkauth.NewWebhookHandler(clerkauth.WebhookConfig{
		Secret: secret, Dedup: nopStore{}, Logger: slog.New(slog.DiscardHandler),
		Users: clerkauth.UserEventFuncs{Created: func(ctx context.Context, e *clerkauth.UserEvent) error {
			got.Add(1)
			return nil
		}},
	})
	if err != nil {
		b.Fatal(err)
	}
	rd := bytes.NewReader(body)
	r := httptest.NewRequest("POST", "/api/webhooks/clerk", rd)
	r.Header = hdr
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rd.Reset(body)
		r.Body = io.NopCloser(rd)
		h.ServeHTTP(w, r)
	}
	b.StopTimer()
	if got.Load() != int64(b.N) {
		b.Fatalf("callback ran %d times for %d deliveries", got.Load(), b.N)
	}
}

type benchKeyA struct{}
type benchKeyB struct{}

// BenchmarkContextOnlyBaseline is the hot path's floor: a handler that
// only puts two values into the request's context (as the middleware puts
// the identity and clerk-sdk-go's claims), with no authentication at all.
func BenchmarkContextOnlyBaseline(b *testing.B) {
	r := httptest.NewRequest("GET", "/api/me", nil)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discard{h: http.Header{}}
		for pb.Next() {
			ctx := context.WithValue(context.WithValue(r.Context(), benchKeyA{}, r), benchKeyB{}, r)
			h.ServeHTTP(w, r.WithContext(ctx))
		}
	})
}

// Machine tokens. MiddlewareHotAPIKey is an API key the verifier has seen
// within MachineTokenCacheTTL (a cache hit, no Backend API call), through
// the whole middleware: it stands beside MiddlewareHot, a cached session
// token. MiddlewareHotAllTypes is that cached session token on a server
// that also accepts every machine type (the price of telling them apart).
// MiddlewareColdM2MJWT is a JWT-format M2M token with the token cache off,
// beside MiddlewareCold.
func BenchmarkMiddlewareHotAPIKey(b *testing.B) {
	iss := clerktest.NewIssuer(b)
	bapi := clerktest.NewBackendAPI(b, iss)
	a := iss.MustAuth(func(c *clerkauth.Config) {
		bapi.Configure(c)
		c.AcceptsToken = []clerkauth.TokenType{clerkauth.SessionToken, clerkauth.APIKey}
		c.MachineTokenCacheTTL = time.Hour // the benchmark must not outlive it
		c.Logger = slog.New(slog.DiscardHandler)
	})
	key := bapi.CreateAPIKey("user_2NNEqL2nrIRdJ194ndJqAHwEfxC", "ci", []string{"reports:read", "reports:write"}, nil, 0)
	r := httptest.NewRequest("GET", "/api/me", nil)
	r.Header.Set("Authorization", "Bearer "+key.Secret)
	benchMiddleware(b, a.Middleware(mustIdentity(b)), r)
	if bapi.VerifyCalls() != 1 {
		b.Fatalf("%d Backend API calls; the cache should have answered all but the first", bapi.VerifyCalls())
	}
}

func BenchmarkMiddlewareHotAllTypes(b *testing.B) {
	s := newBenchSetup(b)
	a, err := clerkauth.New(clerkauth.Config{IssuerDomain: benchIssuer, HTTPClient: s.client, Logger: slog.New(slog.DiscardHandler),
		SecretKey: "sk_test_bench", AcceptsToken: []clerkauth.TokenType{clerkauth.SessionToken, clerkauth.APIKey, clerkauth.M2MToken, clerkauth.OAuthToken}})
	if err != nil {
		b.Fatal(err)
	}
	benchMiddleware(b, a.Middleware(mustIdentity(b)), s.request())
}

func BenchmarkMiddlewareColdM2MJWT(b *testing.B) {
	s := newBenchSetup(b)
	a, err := clerkauth.New(clerkauth.Config{IssuerDomain: benchIssuer, HTTPClient: s.client, Logger: slog.New(slog.DiscardHandler),
		TokenCacheSize: -1, MachineSecretKey: "ak_bench", AcceptsToken: []clerkauth.TokenType{clerkauth.M2MToken}})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().Unix()
	token, err := issuer.SignJWTHeaders(s.key, s.kid, map[string]any{
		"iss": benchIssuer, "sub": "mch_2NNEqL2nrIRdJ194ndJqAHwEfxC", "jti": "mt_2NNEqQoUQwbOJ4nqZ4wNDDJYjqp",
		"iat": now, "nbf": now, "exp": now + 3600, "scopes": "mch_reports mch_billing",
	}, map[string]any{"cat": "cl_B7d4PD333AAA"})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/api/me", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	benchMiddleware(b, a.Middleware(mustIdentity(b)), r)
}

// MiddlewareHotCookie is a page load signed in by the session cookie
// (Clerk's cookie rules, production instance), token seen before: the
// server-rendered app's everyday request.
func BenchmarkMiddlewareHotCookie(b *testing.B) { benchHotCookie(b, "/dashboard", nil) }

// MiddlewareHotCookieOrgSync is MiddlewareHotCookie (its baseline: run
// both, -bench 'HotCookie') with OrganizationSync on a path its patterns
// match, naming the organization the session has active: what matching
// the path costs a page load.
func BenchmarkMiddlewareHotCookieOrgSync(b *testing.B) {
	benchHotCookie(b, "/orgs/acme/settings", func(c *clerkauth.Config) {
		c.OrganizationSync = clerkauth.OrganizationSync{
			OrganizationPatterns:    []string{"/orgs/:slug", "/orgs/:slug/(.*)"},
			PersonalAccountPatterns: []string{"/me", "/me/(.*)"},
		}
	})
}

// MiddlewareHotCookieOrgSyncElsewhere: the same on a path no pattern
// matches, a page load elsewhere in the app.
func BenchmarkMiddlewareHotCookieOrgSyncElsewhere(b *testing.B) {
	benchHotCookie(b, "/dashboard", func(c *clerkauth.Config) {
		c.OrganizationSync = clerkauth.OrganizationSync{
			OrganizationPatterns:    []string{"/orgs/:slug", "/orgs/:slug/(.*)"},
			PersonalAccountPatterns: []string{"/me", "/me/(.*)"},
		}
	})
}

func benchHotCookie(b *testing.B, path string, edit func(*clerkauth.Config)) {
	s := newBenchSetup(b)
	pk := clerktest.PublishableKey("clerk.bench.test", true)
	cfg := clerkauth.Config{PublishableKey: pk, IssuerDomain: benchIssuer, HTTPClient: s.client, Logger: slog.New(slog.DiscardHandler)}
	if edit != nil {
		edit(&cfg)
	}
	a, err := clerkauth.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	sfx := issuer.CookieSuffix(pk)
	r := httptest.NewRequest("GET", "https://app.example.com"+path, nil)
	r.Header.Set("Sec-Fetch-Dest", "document")
	r.Header.Set("Accept", "text/html,application/xhtml+xml")
	r.Header.Set("Cookie", "__session="+s.token+"; __client_uat=1700000000; __session_"+sfx+"="+s.token+"; __client_uat_"+sfx+"=1700000000; __clerk_db_jwt=dvb_x; _ga=GA1.1.123.456")
	benchMiddleware(b, a.Middleware(mustIdentity(b)), r)
}
