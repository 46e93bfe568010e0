package ginauth_test

// The adapter's cost, beside its baselines, in one run:
//
//	go test -run '^$' -bench . -benchmem .

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/ginauth"
)

// BenchmarkGinNoop is the baseline: gin with a middleware that does
// nothing but continue.
func BenchmarkGinNoop(b *testing.B) {
	_, token := benchAuth(b)
	benchServe(b, benchEngine(func(c *gin.Context) { c.Next() }), token)
}

// BenchmarkGinauthMiddleware: ginauth.Middleware on a session token seen
// before (the token cache's hot path), in the same engine.
func BenchmarkGinauthMiddleware(b *testing.B) {
	auth, token := benchAuth(b)
	benchServe(b, benchEngine(ginauth.Middleware(auth)), token)
}

// BenchmarkMiddleware: the library's own net/http middleware on the same
// request, to show what the adapter adds on top of it.
func BenchmarkMiddleware(b *testing.B) {
	auth, token := benchAuth(b)
	benchServe(b, auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := clerkauth.IdentityFromContext(r.Context()); ok {
			w.WriteHeader(http.StatusNoContent)
		}
	})), token)
}

func benchAuth(b *testing.B) (*clerkauth.Auth, string) {
	b.Helper()
	iss := clerktest.NewIssuer(b)
	auth := iss.MustAuth(func(c *clerkauth.Config) { c.Logger = slog.New(slog.DiscardHandler) })
	return auth, iss.MustSessionToken("user_1", clerktest.WithExpiry(time.Hour))
}

// benchEngine is gin with mw in front of GET /api/me, which answers 204
// when the request is signed in (and when mw does nothing).
func benchEngine(mw gin.HandlerFunc) *gin.Engine {
	r := gin.New()
	r.Use(mw)
	r.GET("/api/me", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	return r
}

func benchServe(b *testing.B, h http.Handler, token string) {
	b.Helper()
	req, _ := http.NewRequest("GET", "/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	w := &discard{h: http.Header{}}
	h.ServeHTTP(w, req) // fetches the keys and caches the token
	if w.status != http.StatusNoContent {
		b.Fatalf("status %d, want 204", w.status)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// discard is a ResponseWriter that keeps only the status, so that the
// benchmarks measure the middleware, not a recorder.
type discard struct {
	h      http.Header
	status int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(status int)      { d.status = status }
