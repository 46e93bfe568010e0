package otelclerkauth_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/otelclerkauth"
)

// hot is the middleware's hot path: a session token seen before, so the
// cache answers.
type hot struct {
	h http.Handler
	r *http.Request
	w *discard
}

func newHot(tb testing.TB, hooks clerkauth.Hooks) *hot {
	tb.Helper()
	iss := clerktest.NewIssuer(tb)
	auth := iss.MustAuth(func(c *clerkauth.Config) {
		c.Hooks = hooks
		c.Logger = slog.New(slog.DiscardHandler)
	})
	h := auth.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := bearer(httptest.NewRequest("GET", "/api/me", nil), iss.MustSessionToken("user_1"))
	p := &hot{h: h, r: r, w: &discard{h: http.Header{}}}
	p.serve() // fetch the keys, fill the cache
	p.serve()
	return p
}

func (p *hot) serve() { p.h.ServeHTTP(p.w, p.r) }

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// otelHooks are otelclerkauth hooks on real SDK providers: a meter
// provider with a manual reader (aggregating every measurement, as with
// any exporter) and a tracer provider recording spans.
func otelHooks(tb testing.TB) clerkauth.Hooks {
	tb.Helper()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
	tb.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	return otelclerkauth.Hooks(otelclerkauth.WithMeterProvider(mp), otelclerkauth.WithTracerProvider(tp))
}

func benchHot(b *testing.B, hooks clerkauth.Hooks) {
	p := newHot(b, hooks)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discard{h: http.Header{}}
		for pb.Next() {
			p.h.ServeHTTP(w, p.r)
		}
	})
}

// BenchmarkMiddlewareHot: clerkauth's Middleware on a cached session
// token, without hooks: the baseline.
func BenchmarkMiddlewareHot(b *testing.B) { benchHot(b, clerkauth.Hooks{}) }

// BenchmarkMiddlewareHotNoopHook: the same with a Decision hook that does
// nothing: what clerkauth itself spends on any hook (timing the decision).
func BenchmarkMiddlewareHotNoopHook(b *testing.B) {
	benchHot(b, clerkauth.Hooks{Decision: func(context.Context, clerkauth.DecisionInfo) {}})
}

// BenchmarkMiddlewareHotOTel: the same with otelclerkauth's hooks, so each
// request adds one to clerkauth.decisions and records its time in
// clerkauth.verify.duration (target: ≤ 1.5× the baseline, no extra
// allocation).
func BenchmarkMiddlewareHotOTel(b *testing.B) { benchHot(b, otelHooks(b)) }

// The hooks allocate nothing on the hot path: a cached signed-in decision
// costs as many allocations with them as without.
func TestHotPathAllocNothingExtra(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	without, with := newHot(t, clerkauth.Hooks{}), newHot(t, otelHooks(t))
	base := testing.AllocsPerRun(200, without.serve)
	require.NotZero(t, base, "the baseline allocates (the identity in the context): this test measures something")
	assert.Equal(t, base, testing.AllocsPerRun(200, with.serve))
}
