// Package otelclerkauth records clerkauth's work as OpenTelemetry metrics
// and spans: [Hooks] returns a clerkauth.Hooks value to set in
// clerkauth.Config.Hooks (and clerkauth.WebhookConfig.Hooks).
//
//	cfg.Hooks = otelclerkauth.Hooks()
//
// Metrics (instrumentation scope [ScopeName]):
//
//	clerkauth.decisions            counter    status, reason, token_type, cached
//	clerkauth.verify.duration      histogram  (seconds)
//	clerkauth.key_fetches          counter    outcome
//	clerkauth.backend_api.calls    counter    endpoint, status
//	clerkauth.webhook.deliveries   counter    type, outcome
//
// Spans: one per key fetch ("clerkauth.key_fetch") and one per Backend API
// call ("POST /api_keys/verify", the method and the endpoint template), a
// child of the span in the context of the request that caused the work. The
// hooks are called when the work is done, so a span starts Duration before
// the hook's call and ends at it.
//
// No attribute holds a token, key, secret, user ID or full URL: hooks are
// given none. Every attribute value comes from a bounded set, so no client
// can grow a metric's cardinality: reasons are clerkauth.DecisionReasons,
// and any other value (a reason Clerk's Backend API chose, webhook event
// types past the first 128) is counted as "other".
//
// Attribute sets are built once, in Hooks. A decision, the hot path of
// every request, costs a lookup and an atomic add (clerkauth.decisions is
// an observable counter: the SDK reads the counts when it collects), and
// allocates nothing. clerkauth.verify.duration is the time spent verifying
// past the caches (a signature, a key fetch, a Backend API call, a
// handshake's return), measured for each decision that did such work; a
// verdict a cache gave costs no measurement and is counted with
// cached=true in clerkauth.decisions.
package otelclerkauth

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/clerkauth/clerkauth"
)

// ScopeName is the instrumentation scope of the meter and the tracer.
const ScopeName = "github.com/clerkauth/clerkauth/otelclerkauth"

// Other is the attribute value that stands for any value outside the
// bounded set an attribute takes.
const Other = "other"

// Option configures Hooks.
type Option func(*config)

type config struct {
	meters  metric.MeterProvider
	tracers trace.TracerProvider
}

// WithMeterProvider records metrics with mp instead of the global
// MeterProvider (otel.GetMeterProvider). A nil mp is ignored.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) {
		if mp != nil {
			c.meters = mp
		}
	}
}

// WithTracerProvider records spans with tp instead of the global
// TracerProvider (otel.GetTracerProvider). A nil tp is ignored.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) {
		if tp != nil {
			c.tracers = tp
		}
	}
}

// Hooks returns clerkauth hooks that record metrics and spans (see the
// package documentation), with the global providers unless
// WithMeterProvider or WithTracerProvider say otherwise. The global ones
// are read once, here; OpenTelemetry's globals forward to a provider set
// later. Each call builds its attribute sets anew (a few hundred), so
// share one value where you can (Config.Hooks and WebhookConfig.Hooks may
// hold the same); what several calls on one provider record adds up.
func Hooks(opts ...Option) clerkauth.Hooks {
	c := config{meters: otel.GetMeterProvider(), tracers: otel.GetTracerProvider()}
	for _, o := range opts {
		o(&c)
	}
	r := newRecorder(c)
	return clerkauth.Hooks{
		Decision:        r.decision,
		KeyFetch:        r.keyFetch,
		BackendAPICall:  r.backendAPICall,
		WebhookDelivery: r.webhookDelivery,
	}
}

// Attribute keys.
const (
	keyStatus    = attribute.Key("status")
	keyReason    = attribute.Key("reason")
	keyTokenType = attribute.Key("token_type")
	keyCached    = attribute.Key("cached")
	keyOutcome   = attribute.Key("outcome")
	keyEndpoint  = attribute.Key("endpoint")
	keyType      = attribute.Key("type")
)

// durationBuckets are the verify.duration histogram's bounds, in seconds:
// from a cached verdict (microseconds) to a key fetch or a Backend API call
// near its timeout (seconds). OpenTelemetry's default bounds are made for
// milliseconds.
var durationBuckets = []float64{
	0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// tokenTypes are the values DecisionInfo.TokenType takes when signed in.
var tokenTypes = []clerkauth.TokenType{clerkauth.SessionToken, clerkauth.APIKey, clerkauth.M2MToken, clerkauth.OAuthToken}

// The outcomes KeyFetchInfo and WebhookDeliveryInfo report.
var (
	keyFetchOutcomes = []string{"ok", "error"}
	webhookOutcomes  = []string{"delivered", "duplicate", "refused", "failed"}
)

// maxEndpoints and maxWebhookTypes bound the attribute sets built on
// first sight, past which the value is counted as Other. clerkauth calls a
// dozen endpoints; Clerk sends about fifty event types.
const (
	maxEndpoints    = 64
	maxWebhookTypes = 128
)

type decisionKey struct {
	status    clerkauth.AuthStatus
	reason    string
	tokenType clerkauth.TokenType
	cached    bool
}

type callKey struct {
	method, endpoint string
	status           int
}

// call is what one (method, endpoint, status) is recorded with.
type call struct {
	metric   []metric.AddOption
	spanName string
	attrs    []attribute.KeyValue
}

type deliveryKey struct{ typ, outcome string }

// recorder holds the instruments and every attribute set built in advance.
// The maps are only read after newRecorder, except the bounded ones, which
// lock.
type recorder struct {
	tracer            trace.Tracer
	verifyDuration    metric.Float64Histogram
	keyFetches        metric.Int64Counter
	backendCalls      metric.Int64Counter
	webhookDeliveries metric.Int64Counter

	signedIn       [2][]*decisionCount // by cached, then tokenTypes' index: the hot path, found without hashing
	decisionSets   map[decisionKey]*decisionCount
	decisionList   []*decisionCount // decisionSets' values, in a fixed order for the callback
	otherDecision  *decisionCount
	reasons        map[string]bool
	tokenTypes     map[clerkauth.TokenType]bool
	keyFetchSets   map[string][]metric.AddOption
	calls          bounded[callKey, call]
	deliveries     bounded[deliveryKey, []metric.AddOption]
	deliveryStates map[string]bool
}

// decisionCount counts the decisions of one attribute set. Counting here
// and letting the SDK observe the totals costs an atomic add per decision,
// where a synchronous counter's Add resolves and hashes its attribute set
// every time: on the hot path that was most of the hooks' cost.
type decisionCount struct {
	n    atomic.Int64
	opts []metric.ObserveOption
}

func newRecorder(c config) *recorder {
	meter := c.meters.Meter(ScopeName)
	r := &recorder{
		tracer:         c.tracers.Tracer(ScopeName),
		decisionSets:   map[decisionKey]*decisionCount{},
		reasons:        map[string]bool{},
		tokenTypes:     map[clerkauth.TokenType]bool{},
		keyFetchSets:   map[string][]metric.AddOption{},
		deliveryStates: map[string]bool{},
	}
	// The callback is registered apart from the instrument: a second Hooks
	// on the same provider (a WebhookConfig's, another Auth's) gets the
	// same instrument back, and the SDK adds up what the callbacks observe.
	decisions, err := meter.Int64ObservableCounter("clerkauth.decisions", metric.WithUnit("{decision}"),
		metric.WithDescription("Authentication decisions, by status, reason and token type."))
	handle(err)
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		r.observeDecisions(decisions, o)
		return nil
	}, decisions)
	handle(err)
	r.verifyDuration, err = meter.Float64Histogram("clerkauth.verify.duration", metric.WithUnit("s"),
		metric.WithDescription("Time spent verifying a request's credential past the caches (signatures, key fetches, Backend API calls)."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	handle(err)
	r.keyFetches, err = meter.Int64Counter("clerkauth.key_fetches", metric.WithUnit("{fetch}"),
		metric.WithDescription("Fetches of the instance's keys, by outcome."))
	handle(err)
	r.backendCalls, err = meter.Int64Counter("clerkauth.backend_api.calls", metric.WithUnit("{call}"),
		metric.WithDescription("Calls to Clerk's Backend API that requests caused, by endpoint template and status (0: no answer)."))
	handle(err)
	r.webhookDeliveries, err = meter.Int64Counter("clerkauth.webhook.deliveries", metric.WithUnit("{delivery}"),
		metric.WithDescription("Webhook requests answered, by event type and outcome."))
	handle(err)

	// Decisions: signed in by token type (no reason), signed out and
	// handshakes by reason (no token type), each with an Other.
	newCount := func(k decisionKey) *decisionCount {
		set := attribute.NewSet(keyStatus.String(string(k.status)), keyReason.String(k.reason), keyTokenType.String(string(k.tokenType)), keyCached.Bool(k.cached))
		c := &decisionCount{opts: []metric.ObserveOption{metric.WithAttributeSet(set)}}
		r.decisionList = append(r.decisionList, c)
		return c
	}
	decision := func(k decisionKey) {
		for _, cached := range []bool{false, true} {
			k.cached = cached
			r.decisionSets[k] = newCount(k)
		}
	}
	for _, t := range append(tokenTypes, Other) {
		r.tokenTypes[t] = true
		decision(decisionKey{status: clerkauth.SignedIn, tokenType: t})
	}
	for i, cached := range []bool{false, true} {
		for _, t := range tokenTypes {
			r.signedIn[i] = append(r.signedIn[i], r.decisionSets[decisionKey{status: clerkauth.SignedIn, tokenType: t, cached: cached}])
		}
	}
	for _, reason := range append(clerkauth.DecisionReasons(), Other) {
		r.reasons[reason] = true
		decision(decisionKey{status: clerkauth.SignedOut, reason: reason})
		decision(decisionKey{status: clerkauth.Handshake, reason: reason})
	}
	r.otherDecision = newCount(decisionKey{status: Other, reason: Other, tokenType: Other})
	for _, o := range append(keyFetchOutcomes, Other) {
		r.keyFetchSets[o] = addOptions(keyOutcome.String(o))
	}

	r.calls = bounded[callKey, call]{max: maxEndpoints, build: buildCall, other: func(k callKey) callKey {
		return callKey{method: Other, endpoint: Other, status: k.status}
	}}
	for _, o := range append(webhookOutcomes, Other) {
		r.deliveryStates[o] = true
	}
	r.deliveries = bounded[deliveryKey, []metric.AddOption]{max: maxWebhookTypes, build: func(k deliveryKey) []metric.AddOption {
		return addOptions(keyType.String(k.typ), keyOutcome.String(k.outcome))
	}, other: func(k deliveryKey) deliveryKey { return deliveryKey{Other, k.outcome} }}
	return r
}

// handle passes an instrument's creation error to OpenTelemetry's error
// handler; the instrument returned beside it still works (the API's rule),
// so recording goes on.
func handle(err error) {
	if err != nil {
		otel.Handle(err)
	}
}

// addOptions is one prebuilt attribute set, as the variadic options of
// Add: passing a slice that exists already allocates nothing per call.
func addOptions(kv ...attribute.KeyValue) []metric.AddOption {
	return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
}

func (r *recorder) decision(ctx context.Context, d clerkauth.DecisionInfo) {
	r.decisionCount(d).n.Add(1)
	if d.Duration > 0 { // work past the caches
		r.verifyDuration.Record(ctx, d.Duration.Seconds())
	}
}

// observeDecisions reports the decision counts to the SDK, when it
// collects. A count never seen is left out, as a synchronous counter that
// was never added to is.
func (r *recorder) observeDecisions(decisions metric.Int64Observable, o metric.Observer) {
	for _, c := range r.decisionList {
		if n := c.n.Load(); n > 0 {
			o.ObserveInt64(decisions, n, c.opts...)
		}
	}
}

// decisionCount finds d's counter: a signed-in decision by comparing its
// token type with four, any other by a map lookup; a value outside the
// known sets is counted as Other.
func (r *recorder) decisionCount(d clerkauth.DecisionInfo) *decisionCount {
	cached := 0
	if d.Cached {
		cached = 1
	}
	if d.Status == clerkauth.SignedIn && d.Reason == "" {
		for i, t := range tokenTypes {
			if d.TokenType == t {
				return r.signedIn[cached][i]
			}
		}
	}
	k := decisionKey{d.Status, d.Reason, d.TokenType, d.Cached}
	if c, ok := r.decisionSets[k]; ok {
		return c
	}
	if !r.reasons[k.reason] && k.reason != "" {
		k.reason = Other
	}
	if !r.tokenTypes[k.tokenType] && k.tokenType != "" {
		k.tokenType = Other
	}
	if c, ok := r.decisionSets[k]; ok {
		return c
	}
	return r.otherDecision // a status clerkauth does not report, or a combination it never makes
}

func (r *recorder) keyFetch(ctx context.Context, f clerkauth.KeyFetchInfo) {
	o, ok := r.keyFetchSets[f.Outcome]
	if !ok {
		o = r.keyFetchSets[Other]
	}
	r.keyFetches.Add(ctx, 1, o...)
	end := time.Now()
	_, span := r.tracer.Start(ctx, "clerkauth.key_fetch", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(end.Add(-f.Duration)),
		trace.WithAttributes(
			attribute.String("server.address", f.Host),
			attribute.String("clerkauth.outcome", f.Outcome),
			attribute.Int("clerkauth.keys", f.Keys)))
	if f.Outcome != "ok" {
		span.SetStatus(codes.Error, "the keys could not be fetched")
	}
	span.End(trace.WithTimestamp(end))
}

func (r *recorder) backendAPICall(ctx context.Context, c clerkauth.BackendAPICallInfo) {
	k := callKey{method: c.Method, endpoint: c.Endpoint, status: c.Status}
	if k.status < 100 || k.status > 599 {
		k.status = 0 // no answer, or not an HTTP status
	}
	if !validName(k.method, 16) || !validName(k.endpoint, 128) {
		k = r.calls.other(k)
	}
	rec := r.calls.get(k)
	r.backendCalls.Add(ctx, 1, rec.metric...)
	end := time.Now()
	_, span := r.tracer.Start(ctx, rec.spanName, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(end.Add(-c.Duration)), trace.WithAttributes(rec.attrs...))
	// OpenTelemetry's HTTP conventions: a client span failed when no answer
	// came or the answer is 4xx or 5xx.
	if k.status == 0 || k.status >= 400 {
		span.SetStatus(codes.Error, "")
	}
	span.End(trace.WithTimestamp(end))
}

func buildCall(k callKey) call {
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", k.method),
		attribute.String("url.template", k.endpoint),
	}
	switch {
	case k.status != 0:
		attrs = append(attrs, attribute.Int("http.response.status_code", k.status))
		if k.status >= 400 {
			attrs = append(attrs, attribute.String("error.type", strconv.Itoa(k.status))) // the conventions' value for an HTTP error
		}
	default:
		attrs = append(attrs, attribute.String("error.type", "no answer"))
	}
	name := k.method + " " + k.endpoint // OpenTelemetry's HTTP client span name: method and template
	if k.endpoint == Other {
		name = "clerkauth.backend_api"
	}
	return call{
		metric:   addOptions(keyEndpoint.String(k.endpoint), attribute.Int(string(keyStatus), k.status)),
		spanName: name,
		attrs:    attrs,
	}
}

func (r *recorder) webhookDelivery(ctx context.Context, d clerkauth.WebhookDeliveryInfo) {
	k := deliveryKey{typ: d.Type, outcome: d.Outcome}
	if !r.deliveryStates[k.outcome] {
		k.outcome = Other
	}
	if !validName(k.typ, 64) {
		k.typ = Other
	}
	r.webhookDeliveries.Add(ctx, 1, r.deliveries.get(k)...)
}

// validName reports whether s looks like a method, an endpoint template or
// an event type ("POST", "/v1/sessions/{sid}/refresh", "user.created"): at
// most max bytes of letters, digits and ./_-{}. "" is valid (a webhook
// refused before its type was read).
func validName(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '/', c == '_', c == '-', c == '{', c == '}':
		default:
			return false
		}
	}
	return true
}

// bounded remembers what was built for each key, for at most max keys;
// past that, a new key is recorded under other(key), whose values come from
// a bounded set. So values that clerkauth passes on from Clerk (event
// types, endpoints) cannot grow a metric's cardinality without end.
type bounded[K comparable, V any] struct {
	max   int
	build func(K) V
	other func(K) K

	mu sync.RWMutex
	m  map[K]V
	n  int // keys stored, other keys not counted
}

func (b *bounded[K, V]) get(k K) V {
	b.mu.RLock()
	v, ok := b.m[k]
	b.mu.RUnlock()
	if ok {
		return v
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if v, ok := b.m[k]; ok {
		return v
	}
	if b.m == nil {
		b.m = map[K]V{}
	}
	if b.n >= b.max {
		k = b.other(k)
		if v, ok := b.m[k]; ok {
			return v
		}
	} else {
		b.n++
	}
	v = b.build(k)
	b.m[k] = v
	return v
}
