package clerkauth

import (
	"context"
	"slices"
	"time"
)

// Hooks are optional functions clerkauth calls as it works, for metrics,
// traces and logs, in the style of net/http/httptrace.ClientTrace: set the
// ones you need in Config.Hooks (and WebhookConfig.Hooks); a nil function
// costs nothing. Each is called with the context of the request that
// caused the work (context.Background for work no request waits on, such
// as a background key refresh), so a hook can find the request's span or
// trace ID there.
//
// Hooks receive no token, key, secret or user data: statuses, reason
// codes, token types, host names, endpoint templates and durations. They
// run on the goroutine doing the work, must be safe for concurrent use and
// must not block. The module github.com/clerkauth/clerkauth/otelclerkauth
// builds a Hooks value that records OpenTelemetry metrics and spans.
type Hooks struct {
	// Decision is called once per authentication decision: each
	// AuthenticateRequest (so each request through Middleware, or through
	// Require without Middleware in front), each VerifyCredential and
	// VerifyAuthorization.
	Decision func(ctx context.Context, d DecisionInfo)
	// KeyFetch is called after each fetch of the instance's keys, with the
	// context of the request that started it and waits for it (the fetch
	// itself runs detached: other requests may wait for it too), or
	// context.Background for a background refresh.
	KeyFetch func(ctx context.Context, f KeyFetchInfo)
	// BackendAPICall is called after each call to Clerk's Backend API that
	// a request caused (a machine token, a handshake nonce, a refresh,
	// CurrentUser).
	BackendAPICall func(ctx context.Context, c BackendAPICallInfo)
	// WebhookDelivery is called once per request a WebhookHandler
	// answered.
	WebhookDelivery func(ctx context.Context, d WebhookDeliveryInfo)
}

// DecisionInfo describes an authentication decision.
type DecisionInfo struct {
	Status AuthStatus // SignedIn, SignedOut or Handshake
	// Reason is why the request is not signed in (a Reason constant), or
	// the handshake's reason; "" when signed in.
	Reason string
	// TokenType is the signed-in credential's type; "" when signed out.
	TokenType TokenType
	// Cached reports that the verdict came from a cache: no signature was
	// checked and no Backend API call was made.
	Cached bool
	// Duration is the time spent verifying past the caches (signatures,
	// key fetches, Backend API calls, the handshake's return): 0 when a
	// cache answered or there was nothing to verify, so that timing costs
	// no clock read on the hot path.
	Duration time.Duration
}

// KeyFetchInfo describes a fetch of the instance's keys.
type KeyFetchInfo struct {
	Host string // the key server: the Frontend API (or issuer) host, or the Backend API's
	// Outcome is "ok" or "error"; the error itself is logged by clerkauth
	// in its own words.
	Outcome  string
	Keys     int // usable keys fetched
	Duration time.Duration
}

// BackendAPICallInfo describes a call to Clerk's Backend API.
type BackendAPICallInfo struct {
	Method string
	// Endpoint is the path template, without IDs: "/v1/sessions/{sid}/refresh",
	// "/api_keys/verify", "/v1/users/{id}", …
	Endpoint string
	Status   int // the answer's status; 0 when none came (a timeout, a network error)
	Duration time.Duration
}

// WebhookDeliveryInfo describes a webhook request and its answer.
type WebhookDeliveryInfo struct {
	Type string // the event type, once the body is verified and decoded; "" before
	// Outcome is "delivered", "duplicate" (acknowledged without running the
	// callback again), "refused" (4xx: headers, signature, payload) or
	// "failed" (5xx: a callback or the dedup store failed).
	Outcome   string
	Status    int
	Reason    string // the refusal's reason code; "" when acknowledged
	Duplicate bool
	Duration  time.Duration
}

// DecisionReasons returns the values DecisionInfo.Reason can take, sorted:
// the Reason constants a refusal carries and Clerk's handshake reasons,
// session-token-expired-refresh-<why> for each why clerkauth names (a why
// that Clerk's Backend API answered is passed on as it came, so it is not
// listed). A hook that turns reasons into metric attributes prebuilds them
// from this list and counts any other value under one name, which bounds
// its cardinality.
func DecisionReasons() []string {
	list := make([]string, 0, len(reasons)+len(handshakeReasons)+len(refreshReasons))
	for _, r := range reasons {
		list = append(list, string(r.code))
	}
	for code := range handshakeReasons {
		list = append(list, code)
	}
	for why := range refreshReasons {
		list = append(list, hsSessionTokenExpired+"-refresh-"+why)
	}
	slices.Sort(list)
	return slices.Compact(list)
}

// verdictTrace is what Hooks.Decision learns from a verification, with no
// clock read when a cache answers: whether a cache answered, and when the
// work past the caches (a signature, a key fetch, a Backend API call)
// began. A nil *verdictTrace records nothing.
type verdictTrace struct {
	cached bool
	start  time.Duration // since epoch; 0: no work past a cache
}

// hit records that a cache answered.
func (t *verdictTrace) hit() {
	if t != nil {
		t.cached = true
	}
}

// work records that verifying went past the caches, the first time.
func (t *verdictTrace) work() {
	if t != nil && t.start == 0 {
		t.start = sinceEpoch()
	}
}

// spent is the time since the work began (0 when there was none).
func (t *verdictTrace) spent() time.Duration {
	if t == nil || t.start == 0 {
		return 0
	}
	return sinceEpoch() - t.start
}

// epoch is a fixed instant for timing work on the hot path: sinceEpoch
// reads the monotonic clock alone, where time.Now reads the wall clock too
// (on a VM, each read is tens of nanoseconds).
var epoch = time.Now()

func sinceEpoch() time.Duration { return time.Since(epoch) }

// decisionInfo describes a decided request for Hooks.Decision.
func (s RequestState) decisionInfo(tr *verdictTrace) DecisionInfo {
	info := DecisionInfo{Status: s.Status, Cached: tr.cached, Duration: tr.spent()}
	switch {
	case s.Status == SignedIn:
		info.TokenType = s.Identity.TokenType
	case s.Status == Handshake:
		info.Reason = s.HandshakeReason
	case s.Err != nil:
		info.Reason = string(s.Err.Reason)
	}
	return info
}

// reportBackendCall tells Hooks.BackendAPICall about a call that started
// at start (a zero start: the hook is unset, nothing to do).
func (h *Hooks) reportBackendCall(ctx context.Context, start time.Time, method, endpoint string, status int) {
	if h.BackendAPICall != nil {
		h.BackendAPICall(ctx, BackendAPICallInfo{Method: method, Endpoint: endpoint, Status: status, Duration: time.Since(start)})
	}
}
