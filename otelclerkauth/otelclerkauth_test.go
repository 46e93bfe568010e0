package otelclerkauth_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/otelclerkauth"
)

// telemetry is an SDK meter provider read by hand and a tracer provider
// whose spans are recorded, with otelclerkauth hooks on both.
type telemetry struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	hooks  clerkauth.Hooks
}

func newTelemetry(t *testing.T) *telemetry {
	t.Helper()
	tel := &telemetry{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	t.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tel.tp.Shutdown(context.Background())
	})
	tel.hooks = otelclerkauth.Hooks(otelclerkauth.WithMeterProvider(mp), otelclerkauth.WithTracerProvider(tel.tp))
	return tel
}

// collect reads every metric, by name.
func (tel *telemetry) collect(t *testing.T) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, tel.reader.Collect(context.Background(), &rm))
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		require.Equal(t, otelclerkauth.ScopeName, sm.Scope.Name)
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

// counts is a counter's value per attribute set, each set written
// "k=v,k=v" (sorted by key).
func (tel *telemetry) counts(t *testing.T, name string) map[string]int64 {
	t.Helper()
	data, ok := tel.collect(t)[name]
	require.True(t, ok, "no metric %s", name)
	sum, ok := data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is a %T, not an int64 sum", name, data)
	assert.True(t, sum.IsMonotonic, "%s is a counter", name)
	out := map[string]int64{}
	for _, dp := range sum.DataPoints {
		out[dp.Attributes.Encoded(attribute.DefaultEncoder())] = dp.Value
	}
	return out
}

// request is a GET carrying a parent span, as an instrumented server's
// requests do.
func (tel *telemetry) request(t *testing.T, path string) (*http.Request, trace.Span) {
	t.Helper()
	ctx, span := tel.tp.Tracer("test").Start(context.Background(), "GET "+path)
	t.Cleanup(func() { span.End() })
	return httptest.NewRequest("GET", path, nil).WithContext(ctx), span
}

func serve(h http.Handler, r *http.Request) int {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// app is a clerkauth middleware on clerktest's issuer and Backend API,
// with session tokens and API keys accepted and a publishable key (so page
// loads go through the handshake).
type app struct {
	iss   *clerktest.Issuer
	bapi  *clerktest.BackendAPI
	auth  *clerkauth.Auth
	h     http.Handler
	calls chan struct{} // a value after each BackendAPICall hook returned
}

// waitCalls waits until n Backend API call hooks have returned: clerkauth
// verifies a machine token on a goroutine of its own, whose hook may run
// after the request's answer.
func (a *app) waitCalls(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-a.calls:
		case <-time.After(10 * time.Second):
			t.Fatal("a Backend API call hook never ran")
		}
	}
}

func newApp(t *testing.T, hooks clerkauth.Hooks) *app {
	t.Helper()
	a := &app{iss: clerktest.NewIssuer(t), calls: make(chan struct{}, 100)}
	call := hooks.BackendAPICall
	hooks.BackendAPICall = func(ctx context.Context, c clerkauth.BackendAPICallInfo) {
		call(ctx, c)
		a.calls <- struct{}{}
	}
	a.bapi = clerktest.NewBackendAPI(t, a.iss)
	pk := clerktest.PublishableKey("clerk.clerktest.example", true)
	a.bapi.PublishableKey = pk
	a.auth = a.iss.MustAuth(func(c *clerkauth.Config) {
		a.bapi.Configure(c)
		c.SecretKey, c.PublishableKey = a.bapi.SecretKeyFor(pk), pk
		c.AcceptsToken = []clerkauth.TokenType{clerkauth.SessionToken, clerkauth.APIKey}
		c.Logger = slog.New(slog.DiscardHandler)
		c.Hooks = hooks
	})
	a.h = a.auth.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	return a
}

func bearer(r *http.Request, token string) *http.Request {
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

func TestDecisionsAndVerifyDuration(t *testing.T) {
	tel := newTelemetry(t)
	a := newApp(t, tel.hooks)
	session := a.iss.MustSessionToken("user_1")
	expired := a.iss.MustSessionToken("user_1", clerktest.WithExpiry(-time.Hour))
	key := a.bapi.CreateAPIKey("user_2", "ci", []string{"read"}, nil, 0)

	r, _ := tel.request(t, "/api/me")
	require.Equal(t, 200, serve(a.h, bearer(r, session)))
	r, _ = tel.request(t, "/api/me")
	require.Equal(t, 200, serve(a.h, bearer(r, session)), "the same token again: a cached verdict")
	r, _ = tel.request(t, "/api/me")
	require.Equal(t, 401, serve(a.h, r))
	r, _ = tel.request(t, "/api/me")
	require.Equal(t, 401, serve(a.h, bearer(r, expired)))
	r, _ = tel.request(t, "/api/me")
	require.Equal(t, 200, serve(a.h, bearer(r, key.Secret)))
	r, _ = tel.request(t, "/dashboard")
	r.Header.Set("Sec-Fetch-Dest", "document")
	r.Header.Set("Cookie", "__client_uat=1")
	require.Equal(t, 307, serve(a.h, r), "a page load with a stale session: a handshake")

	assert.Equal(t, map[string]int64{
		"cached=false,reason=,status=signed-in,token_type=session_token":                   1,
		"cached=true,reason=,status=signed-in,token_type=session_token":                    1,
		"cached=false,reason=,status=signed-in,token_type=api_key":                         1,
		"cached=false,reason=session-token-missing,status=signed-out,token_type=":          1,
		"cached=false,reason=token-expired,status=signed-out,token_type=":                  1,
		"cached=false,reason=client-uat-but-no-session-token,status=handshake,token_type=": 1,
	}, tel.counts(t, "clerkauth.decisions"))

	// Only the decisions that verified past the caches are timed: the new
	// session token, the expired one (its signature was checked) and the
	// API key (a Backend API call); the cached verdict, the missing token
	// and the handshake verified nothing.
	hist, ok := tel.collect(t)["clerkauth.verify.duration"].(metricdata.Histogram[float64])
	require.True(t, ok, "verify.duration is a float64 histogram")
	require.Len(t, hist.DataPoints, 1)
	dp := hist.DataPoints[0]
	assert.Equal(t, uint64(3), dp.Count)
	assert.Equal(t, 0, dp.Attributes.Len())
	maxValue, _ := dp.Max.Value()
	assert.Less(t, maxValue, 10.0, "in seconds")
	assert.Contains(t, dp.Bounds, 0.001, "bounds made for seconds")
}

func TestKeyFetchesAndBackendAPICalls(t *testing.T) {
	tel := newTelemetry(t)
	a := newApp(t, tel.hooks)

	r, request := tel.request(t, "/api/me")
	require.Equal(t, 200, serve(a.h, bearer(r, a.iss.MustSessionToken("user_1"))))
	key := a.bapi.CreateAPIKey("user_2", "ci", nil, nil, 0)
	r, keyRequest := tel.request(t, "/api/me")
	require.Equal(t, 200, serve(a.h, bearer(r, key.Secret)))
	r, _ = tel.request(t, "/api/me")
	require.Equal(t, 401, serve(a.h, bearer(r, "ak_unknown")))
	a.waitCalls(t, 2)

	assert.Equal(t, map[string]int64{"outcome=ok": 1}, tel.counts(t, "clerkauth.key_fetches"))
	assert.Equal(t, map[string]int64{
		"endpoint=/api_keys/verify,status=200": 1,
		"endpoint=/api_keys/verify,status=404": 1,
	}, tel.counts(t, "clerkauth.backend_api.calls"))

	spans := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range tel.spans.Ended() {
		spans[s.Name()] = append(spans[s.Name()], s)
	}
	require.Len(t, spans["clerkauth.key_fetch"], 1)
	fetch := spans["clerkauth.key_fetch"][0]
	assert.Equal(t, request.SpanContext().SpanID(), fetch.Parent().SpanID(), "the key fetch is a child of the request that caused it")
	assert.Equal(t, request.SpanContext().TraceID(), fetch.SpanContext().TraceID())
	assert.Equal(t, trace.SpanKindClient, fetch.SpanKind())
	assert.Equal(t, codes.Unset, fetch.Status().Code)
	assert.Contains(t, fetch.Attributes(), attribute.Int("clerkauth.keys", 1))
	assert.False(t, fetch.EndTime().Before(fetch.StartTime()))

	calls := spans["POST /api_keys/verify"]
	require.Len(t, calls, 2)
	var statuses []int64
	for _, s := range calls {
		assert.Equal(t, trace.SpanKindClient, s.SpanKind())
		assert.True(t, s.Parent().IsValid(), "a Backend API call has the request's span as parent")
		assert.Contains(t, s.Attributes(), attribute.String("url.template", "/api_keys/verify"))
		for _, kv := range s.Attributes() {
			if kv.Key == "http.response.status_code" {
				statuses = append(statuses, kv.Value.AsInt64())
			}
		}
	}
	assert.ElementsMatch(t, []int64{200, 404}, statuses)
	ok, refused := calls[0], calls[1]
	if statuses[0] != 200 {
		ok, refused = calls[1], calls[0]
	}
	assert.Equal(t, keyRequest.SpanContext().SpanID(), ok.Parent().SpanID())
	assert.Equal(t, codes.Unset, ok.Status().Code)
	assert.Equal(t, codes.Error, refused.Status().Code, "a 4xx answer fails a client span (OpenTelemetry's HTTP conventions)")
	assert.True(t, ok.EndTime().After(ok.StartTime()), "the span covers the call's duration")
}

func acknowledge(context.Context, *clerkauth.Event) error { return nil }

func TestWebhookDeliveries(t *testing.T) {
	tel := newTelemetry(t)
	secret := clerktest.NewWebhookSecret()
	h, err := clerkauth.NewWebhookHandler(clerkauth.WebhookConfig{Secret: secret, Events: acknowledge, Hooks: tel.hooks, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	now := time.Now()
	data := map[string]any{"id": "user_1", "object": "user"}

	require.Equal(t, 200, serve(h, clerktest.NewWebhookRequest(t, "/webhooks", secret, "msg_1", now, "user.created", data)))
	require.Equal(t, 200, serve(h, clerktest.NewWebhookRequest(t, "/webhooks", secret, "msg_1", now, "user.created", data)), "the same message again")
	require.Equal(t, 200, serve(h, clerktest.NewWebhookRequest(t, "/webhooks", secret, "msg_2", now, "session.created", map[string]any{"id": "sess_1"})))
	forged := clerktest.NewWebhookRequest(t, "/webhooks", clerktest.NewWebhookSecret(), "msg_3", now, "user.deleted", data)
	require.Equal(t, 400, serve(h, forged))

	assert.Equal(t, map[string]int64{
		"outcome=delivered,type=user.created":    1,
		"outcome=duplicate,type=user.created":    1,
		"outcome=delivered,type=session.created": 1,
		"outcome=refused,type=":                  1,
	}, tel.counts(t, "clerkauth.webhook.deliveries"))
}

// Values from outside the bounded sets are counted as "other": the hooks
// get them from clerkauth, which passes some on from Clerk.
func TestUnknownValuesAreOther(t *testing.T) {
	tel := newTelemetry(t)
	ctx := context.Background()
	tel.hooks.Decision(ctx, clerkauth.DecisionInfo{Status: clerkauth.Handshake, Reason: "session-token-expired-refresh-some-backend-code"})
	tel.hooks.Decision(ctx, clerkauth.DecisionInfo{Status: clerkauth.SignedIn, TokenType: "new_token"})
	tel.hooks.Decision(ctx, clerkauth.DecisionInfo{Status: "new-status", Reason: "x"})
	tel.hooks.KeyFetch(ctx, clerkauth.KeyFetchInfo{Outcome: "maybe"})
	tel.hooks.BackendAPICall(ctx, clerkauth.BackendAPICallInfo{Method: "GET", Endpoint: "/v1/users/user_1?x=<script>", Status: 999})
	tel.hooks.WebhookDelivery(ctx, clerkauth.WebhookDeliveryInfo{Type: "user.created", Outcome: "lost"})
	for i := range 200 {
		typ := "custom.event" + strconv.Itoa(i)
		tel.hooks.WebhookDelivery(ctx, clerkauth.WebhookDeliveryInfo{Type: typ, Outcome: "delivered"})
	}

	assert.Equal(t, map[string]int64{
		"cached=false,reason=other,status=handshake,token_type=":  1,
		"cached=false,reason=,status=signed-in,token_type=other":  1,
		"cached=false,reason=other,status=other,token_type=other": 1,
	}, tel.counts(t, "clerkauth.decisions"))
	assert.Equal(t, map[string]int64{"outcome=other": 1}, tel.counts(t, "clerkauth.key_fetches"))
	assert.Equal(t, map[string]int64{"endpoint=other,status=0": 1}, tel.counts(t, "clerkauth.backend_api.calls"))
	deliveries := tel.counts(t, "clerkauth.webhook.deliveries")
	assert.Len(t, deliveries, 128+1, "128 (type, outcome) pairs, then type other")
	assert.Equal(t, int64(200-127), deliveries["outcome=delivered,type=other"])
	assert.Equal(t, int64(1), deliveries["outcome=other,type=user.created"])
}

// No attribute of any metric or span carries a token, a secret, a key or a
// user ID.
func TestNoSecretInAttributes(t *testing.T) {
	tel := newTelemetry(t)
	a := newApp(t, tel.hooks)
	session := a.iss.MustSessionToken("user_secretive")
	key := a.bapi.CreateAPIKey("user_secretive", "ci", nil, nil, 0)
	for _, token := range []string{session, key.Secret, "ak_unknown", session + "x"} {
		r, _ := tel.request(t, "/api/me")
		serve(a.h, bearer(r, token))
	}
	a.waitCalls(t, 2)
	whsec := clerktest.NewWebhookSecret()
	wh, err := clerkauth.NewWebhookHandler(clerkauth.WebhookConfig{Secret: whsec, Events: acknowledge, Hooks: tel.hooks, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	serve(wh, clerktest.NewWebhookRequest(t, "/webhooks", whsec, "msg_1", time.Now(), "user.created", map[string]any{"id": "user_secretive"}))

	var values []string
	add := func(set attribute.Set) {
		for _, kv := range set.ToSlice() {
			values = append(values, kv.Value.String())
		}
	}
	for _, data := range tel.collect(t) {
		switch d := data.(type) {
		case metricdata.Sum[int64]:
			for _, dp := range d.DataPoints {
				add(dp.Attributes)
			}
		case metricdata.Histogram[float64]:
			for _, dp := range d.DataPoints {
				add(dp.Attributes)
			}
		default:
			t.Fatalf("unexpected metric type %T", d)
		}
	}
	for _, s := range tel.spans.Ended() {
		add(attribute.NewSet(s.Attributes()...))
		values = append(values, s.Name(), s.Status().Description)
	}
	require.NotEmpty(t, values)
	all := strings.Join(values, "\n")
	for _, secret := range []string{session, key.Secret, a.bapi.SecretKey, whsec, "user_secretive", "ak_unknown"} {
		assert.NotContains(t, all, secret)
	}
}

// The global providers are the default (a nil option changes nothing), and
// hooks made before the application installs its provider record to it:
// OpenTelemetry's globals forward. The only test that sets them.
func TestGlobalProvidersSetLater(t *testing.T) {
	if !setGlobals.CompareAndSwap(false, true) {
		t.Skip("OpenTelemetry's globals forward to the first provider set only: once per process (-count > 1)")
	}
	hooks := otelclerkauth.Hooks(otelclerkauth.WithMeterProvider(nil), otelclerkauth.WithTracerProvider(nil))
	signedIn := clerkauth.DecisionInfo{Status: clerkauth.SignedIn, TokenType: clerkauth.SessionToken}
	hooks.Decision(context.Background(), signedIn)

	tel := &telemetry{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	t.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	otel.SetMeterProvider(mp)
	otel.SetTracerProvider(tp)
	hooks.Decision(context.Background(), signedIn)
	hooks.BackendAPICall(context.Background(), clerkauth.BackendAPICallInfo{Method: "GET", Endpoint: "/v1/users/{id}", Status: 200})

	assert.Equal(t, map[string]int64{"cached=false,reason=,status=signed-in,token_type=session_token": 2}, tel.counts(t, "clerkauth.decisions"),
		"the hook counts; the provider reads the total")
	assert.Equal(t, map[string]int64{"endpoint=/v1/users/{id},status=200": 1}, tel.counts(t, "clerkauth.backend_api.calls"))
	require.Len(t, tel.spans.Ended(), 1)
	assert.Equal(t, "GET /v1/users/{id}", tel.spans.Ended()[0].Name())
}

var setGlobals atomic.Bool

// Two Hooks values on one provider (two Auths, say) add up, as two users
// of one synchronous counter would.
func TestTwoHooksOnOneProvider(t *testing.T) {
	tel := &telemetry{reader: sdkmetric.NewManualReader()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	first := otelclerkauth.Hooks(otelclerkauth.WithMeterProvider(mp))
	second := otelclerkauth.Hooks(otelclerkauth.WithMeterProvider(mp))
	signedIn := clerkauth.DecisionInfo{Status: clerkauth.SignedIn, TokenType: clerkauth.SessionToken}
	first.Decision(context.Background(), signedIn)
	second.Decision(context.Background(), signedIn)
	second.Decision(context.Background(), signedIn)
	assert.Equal(t, map[string]int64{"cached=false,reason=,status=signed-in,token_type=session_token": 3}, tel.counts(t, "clerkauth.decisions"))
}
