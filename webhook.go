package clerkauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/clerkauth/clerkauth/internal/strictjson"
)

// WebhookConfig configures a WebhookHandler.
type WebhookConfig struct {
	// Secret is the endpoint's signing secret, "whsec_…", from Clerk
	// Dashboard → Webhooks → your endpoint → Signing Secret
	// (CLERK_WEBHOOK_SIGNING_SECRET).
	Secret string
	// Users, Organizations, Memberships and Invitations receive typed
	// user.*, organization.*, organizationMembership.* and
	// organizationInvitation.* events; set the callbacks you need.
	Users         UserEventFuncs
	Organizations OrganizationEventFuncs
	Memberships   MembershipEventFuncs
	Invitations   InvitationEventFuncs
	// Events receives every other event type, raw (and the typed ones too
	// when their callback is nil). Optional: without it, other events are
	// acknowledged and logged at debug level. Like the typed callbacks, a
	// nil error acknowledges the delivery; an error (or a panic) makes the
	// handler answer 500, so that Svix retries it later.
	Events func(ctx context.Context, e *Event) error
	// OnError, when set, is told about every delivery the handler does not
	// acknowledge (for metrics and alerting): a refused delivery (bad
	// signature, stale timestamp, …) or a callback that failed, with the
	// callback's error (a *PanicError for a panic). The handler also logs
	// each one. OnError runs before the answer is written; keep it quick.
	OnError func(ctx context.Context, f WebhookFailure)
	// Tolerance is how far the svix-timestamp may be from Now, in either
	// direction. Default 5 minutes, as in the Svix libraries.
	Tolerance time.Duration
	// MaxBodyBytes caps the request body. Default 1 MiB (Clerk's user
	// payloads are a few KiB).
	MaxBodyBytes int64
	// Dedup remembers processed deliveries. Default: an in-memory store
	// (NewMemoryDedupStore(0, 0), one process, on Now's clock). Behind
	// several replicas, use a sqldedup.Store on the application's database.
	Dedup DedupStore
	// Now returns the current time; for tests. Default time.Now.
	Now func() time.Time
	// Logger receives one line per refused or failed delivery (id, type,
	// reason), never the payload or the secret. Default slog.Default().
	Logger *slog.Logger
	// Hooks.WebhookDelivery is called once per answered request (the
	// other hooks are the middleware's); see Hooks.
	Hooks Hooks
}

// Environment variables for the webhook signing secret.
const (
	EnvWebhookSecret = "CLERK_WEBHOOK_SIGNING_SECRET"
	// envWebhookSecretLegacy is the name older Clerk guides used.
	envWebhookSecretLegacy = "CLERK_WEBHOOK_SECRET"
	// minWebhookKeyBytes: Svix signs with keys of 24 random bytes
	// (whsec_ and 32 base64 characters); anything shorter was truncated.
	minWebhookKeyBytes = 24
)

// WebhookSecretFromEnv returns CLERK_WEBHOOK_SIGNING_SECRET, or
// CLERK_WEBHOOK_SECRET when the first is unset.
func WebhookSecretFromEnv() string { return WebhookSecretFromLookup(os.Getenv) }

// WebhookSecretFromLookup is WebhookSecretFromEnv with another source of
// variables.
func WebhookSecretFromLookup(getenv func(string) string) string {
	for _, name := range []string{EnvWebhookSecret, envWebhookSecretLegacy} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
	}
	return ""
}

// UserEventFuncs receives user.created, .updated and .deleted, like
// OrganizationEventFuncs: a nil error acknowledges the delivery; an error
// (or a panic) makes the handler answer 500, so that Svix retries it
// later. A nil callback leaves its event type to WebhookConfig.Events
// (raw), or acknowledges it unhandled. Method values fit:
// UserEventFuncs{Created: store.AddUser}.
type UserEventFuncs struct {
	Created func(ctx context.Context, e *UserEvent) error
	Updated func(ctx context.Context, e *UserEvent) error
	Deleted func(ctx context.Context, e *DeletedEvent) error
}

// upsert returns the callback of a user.created or user.updated event
// (nil when it is unset, or for any other type).
func (f UserEventFuncs) upsert(typ string) func(context.Context, *UserEvent) error {
	switch typ {
	case "user.created":
		return f.Created
	case "user.updated":
		return f.Updated
	}
	return nil
}

// EventMeta is what every delivery carries besides its data.
type EventMeta struct {
	ID         string    // the svix-id: stable across retries of one delivery
	Type       string    // "user.created", "session.created", …
	InstanceID string    // the Clerk instance, "ins_…"
	Timestamp  time.Time // when Clerk emitted the event
	// ClientIP and UserAgent describe the request that caused the event,
	// when Clerk includes it (event_attributes.http_request); else "".
	ClientIP  string
	UserAgent string
}

// UserEvent is a user.created or user.updated delivery.
type UserEvent struct {
	EventMeta
	User *clerk.User
	// Data is the raw user object, for fields clerk.User does not have.
	Data json.RawMessage
}

// Event is any delivery, raw.
type Event struct {
	EventMeta
	Object string          // "event"
	Data   json.RawMessage // the event's data object
}

// Webhook reason codes, sent in {"error":…,"reason":…} bodies.
const (
	WebhookReasonMissingHeaders   = "missing-headers"
	WebhookReasonInvalidTimestamp = "invalid-timestamp"
	WebhookReasonTimestampTooOld  = "timestamp-too-old"
	WebhookReasonTimestampTooNew  = "timestamp-too-new"
	WebhookReasonInvalidSignature = "invalid-signature"
	WebhookReasonBodyTooLarge     = "body-too-large"
	WebhookReasonBodyUnreadable   = "body-unreadable"
	WebhookReasonInvalidPayload   = "invalid-payload"
	WebhookReasonInvalidData      = "invalid-data"
	WebhookReasonCallbackFailed   = "callback-failed"
	WebhookReasonDedupFailed      = "dedup-failed"
	WebhookReasonCanceled         = "canceled"
)

// WebhookHandler verifies Clerk (Svix) webhook deliveries and dispatches
// them. Mount it on a public route:
//
//	mux.Handle("POST /api/webhooks/clerk", wh)
//
// For each delivery it verifies the signature over the raw body, decodes
// the event, skips ids already processed, calls the callback, and answers
// 2xx only once the callback has returned nil. See docs/webhooks.md for the
// full table of answers.
type WebhookHandler struct {
	cfg       WebhookConfig
	wh        *svix.Webhook
	tolerance time.Duration
	maxBody   int64
	dedup     DedupStore
	now       func() time.Time
	log       *slog.Logger
	warnings  warnings // refusals, logged once a minute per reason
}

// NewWebhookHandler validates cfg and builds the handler.
func NewWebhookHandler(cfg WebhookConfig) (*WebhookHandler, error) {
	secret := strings.TrimSpace(cfg.Secret)
	where := "copy it from Clerk Dashboard → Webhooks → your endpoint → Signing Secret (it starts with whsec_) into CLERK_WEBHOOK_SIGNING_SECRET"
	if secret == "" {
		return nil, errors.New("clerkauth: the webhook signing secret is empty; " + where)
	}
	if strings.HasPrefix(secret, "sk_") || strings.HasPrefix(secret, "pk_") {
		return nil, errors.New("clerkauth: the webhook signing secret is an API key, not a signing secret; " + where)
	}
	raw, prefixed := strings.CutPrefix(secret, "whsec_")
	if !prefixed {
		return nil, errors.New("clerkauth: the webhook signing secret does not start with whsec_; " + where)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(key) == 0 {
		return nil, errors.New("clerkauth: the webhook signing secret is malformed (not base64 after whsec_); " + where)
	}
	if len(key) < minWebhookKeyBytes {
		return nil, fmt.Errorf("clerkauth: the webhook signing secret is too short (a %d-byte key; Clerk's are %d bytes or more): it was cut when copied; %s", len(key), minWebhookKeyBytes, where)
	}
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		return nil, errors.New("clerkauth: the webhook signing secret is malformed; " + where)
	}
	if !cfg.hasTypedCallbacks() && cfg.Events == nil {
		return nil, errors.New("clerkauth: WebhookConfig needs Users (typed user events), Organizations, Memberships, Invitations or Events (every event); set at least one")
	}
	h := &WebhookHandler{cfg: cfg, wh: wh, tolerance: cfg.Tolerance, maxBody: cfg.MaxBodyBytes, dedup: cfg.Dedup, now: cfg.Now, log: cfg.Logger}
	if h.tolerance <= 0 {
		h.tolerance = 5 * time.Minute
	}
	if h.maxBody <= 0 {
		h.maxBody = 1 << 20
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.dedup == nil {
		h.dedup = newMemoryDedupStore(0, 0, h.now)
	}
	return h, nil
}

// ServeHTTP implements http.Handler: verify → decode → dedupe → dispatch.
func (h *WebhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var start time.Time
	if h.cfg.Hooks.WebhookDelivery != nil {
		start = time.Now()
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeWebhook(w, http.StatusMethodNotAllowed, "method-not-allowed")
		if !start.IsZero() {
			h.cfg.Hooks.WebhookDelivery(r.Context(), deliveryInfo("", false, refused(http.StatusMethodNotAllowed, "method-not-allowed"), time.Since(start)))
		}
		return
	}
	duplicate := false
	d, err := h.verify(r)
	if err == nil {
		d.call, d.typ, err = h.decode(d.id, d.ts, d.body)
	}
	if err == nil {
		duplicate, err = h.deliver(r.Context(), d)
	}
	switch {
	case err != nil:
		h.fail(r.Context(), w, d, err)
	case duplicate:
		writeWebhook(w, http.StatusOK, "duplicate")
	default:
		writeWebhook(w, http.StatusOK, "")
	}
	if !start.IsZero() {
		h.cfg.Hooks.WebhookDelivery(r.Context(), deliveryInfo(d.typ, duplicate, err, time.Since(start)))
	}
}

// deliveryInfo describes an answered webhook request for
// Hooks.WebhookDelivery.
func deliveryInfo(typ string, duplicate bool, err *deliveryError, d time.Duration) WebhookDeliveryInfo {
	info := WebhookDeliveryInfo{Type: typ, Outcome: "delivered", Status: http.StatusOK, Duplicate: duplicate, Duration: d}
	switch {
	case err != nil && err.status >= 500:
		info.Outcome, info.Status, info.Reason = "failed", err.status, err.reason
	case err != nil:
		info.Outcome, info.Status, info.Reason = "refused", err.status, err.reason
	case duplicate:
		info.Outcome = "duplicate"
	}
	return info
}

// delivery is one webhook request on its way through the handler.
type delivery struct {
	id   string
	ts   time.Time
	body []byte
	typ  string                      // the event type, once decoded
	call func(context.Context) error // the callback bound to the event; nil: no handler
}

// deliveryError is why a delivery is not acknowledged: the answer's status
// and reason, and, for a callback that failed, its error.
type deliveryError struct {
	status int
	reason string
	err    error
}

func refused(status int, reason string) *deliveryError {
	return &deliveryError{status: status, reason: reason}
}

// verify checks the headers, the timestamp against our clock and
// Tolerance, the body's size, and the signature, on the raw bytes exactly
// as received.
func (h *WebhookHandler) verify(r *http.Request) (delivery, *deliveryError) {
	id, ts, sig, canonical, reason := webhookHeaders(r.Header)
	d := delivery{id: id, ts: ts}
	if reason != "" {
		return d, refused(http.StatusBadRequest, reason)
	}
	now := h.now()
	switch {
	case now.Sub(ts) > h.tolerance:
		return d, refused(http.StatusBadRequest, WebhookReasonTimestampTooOld)
	case ts.Sub(now) > h.tolerance:
		return d, refused(http.StatusBadRequest, WebhookReasonTimestampTooNew)
	}
	if d.body, reason = readBody(r, h.maxBody); reason == WebhookReasonBodyTooLarge {
		return d, refused(http.StatusRequestEntityTooLarge, reason)
	} else if reason != "" {
		return d, refused(http.StatusBadRequest, reason)
	}
	// The library checks the signature (constant-time) over id, timestamp
	// and body. When the headers needed normalising (webhook-* names, a
	// split signature), it gets the normalised copy.
	hdr := r.Header
	if !canonical {
		hdr = http.Header{}
		hdr.Set("svix-id", id)
		hdr.Set("svix-timestamp", strconv.FormatInt(ts.Unix(), 10))
		hdr.Set("svix-signature", sig)
	}
	if h.wh.VerifyIgnoringTimestamp(d.body, hdr) != nil {
		return d, refused(http.StatusBadRequest, WebhookReasonInvalidSignature)
	}
	return d, nil
}

// deliver deduplicates and dispatches a decoded delivery, and answers it
// when it is acknowledged.
func (h *WebhookHandler) deliver(reqCtx context.Context, d delivery) (duplicate bool, _ *deliveryError) {
	if d.call == nil {
		h.log.DebugContext(reqCtx, "clerkauth: webhook event acknowledged without a handler", "svix_id", safeLogValue(d.id), "type", safeLogValue(d.typ))
		return false, nil
	}
	ctx, done, err := h.dedup.Begin(reqCtx, d.id)
	switch {
	case err != nil && reqCtx.Err() != nil:
		return false, refused(http.StatusServiceUnavailable, WebhookReasonCanceled)
	case err != nil:
		return false, refused(http.StatusInternalServerError, WebhookReasonDedupFailed)
	case done:
		h.log.DebugContext(reqCtx, "clerkauth: webhook delivery already processed; acknowledged", "svix_id", safeLogValue(d.id), "type", safeLogValue(d.typ))
		return true, nil
	}
	// The claim on the id is released on every way out, including a
	// callback that aborts the handler (http.ErrAbortHandler is re-panicked
	// for net/http): otherwise Svix's retries of this id would wait on it.
	settled := false
	defer func() {
		if !settled {
			h.dedup.Abort(ctx, d.id)
		}
	}()
	if err := safeCall(ctx, d.call); err != nil {
		settled = true
		h.dedup.Abort(ctx, d.id)
		return false, &deliveryError{status: http.StatusInternalServerError, reason: WebhookReasonCallbackFailed, err: err}
	}
	settled = true
	if h.dedup.Commit(ctx, d.id) != nil {
		return false, refused(http.StatusInternalServerError, WebhookReasonDedupFailed)
	}
	return false, nil
}

// userEnvelope is the envelope of user.created and user.updated decoded
// in one pass with its data.
type userEnvelope struct {
	envelopeMeta
	Data clerk.User `json:"data"`
}

type envelopeMeta struct {
	Object          string      `json:"object"`
	Type            string      `json:"type"`
	Timestamp       json.Number `json:"timestamp"`
	InstanceID      string      `json:"instance_id"`
	EventAttributes struct {
		HTTPRequest struct {
			ClientIP  string `json:"client_ip"`
			UserAgent string `json:"user_agent"`
		} `json:"http_request"`
	} `json:"event_attributes"`
}

// envelope is any event, its data kept raw.
type envelope struct {
	envelopeMeta
	Data json.RawMessage `json:"data"`
}

func (h *WebhookHandler) meta(id string, ts time.Time, env envelopeMeta) EventMeta {
	req := env.EventAttributes.HTTPRequest
	return EventMeta{ID: id, Type: env.Type, InstanceID: env.InstanceID, Timestamp: eventTime(env.Timestamp, ts), ClientIP: req.ClientIP, UserAgent: req.UserAgent}
}

// decode turns a verified body into the call of its handler (nil when no
// handler takes the event), or a reason to refuse it.
//
// The common case, user.created and user.updated, is decoded in a single
// pass, envelope and user together, like the simplest handler would. A
// cheap scan that does not check syntax finds the top-level "type" (which
// picks that path) and "data" (kept raw for UserEvent.Data); both are
// trusted only once encoding/json has decoded the same body and read the
// same type. Everything else, and every body that fails there, takes the
// general path, which also classifies errors.
func (h *WebhookHandler) decode(id string, ts time.Time, body []byte) (func(context.Context) error, string, *deliveryError) {
	users := h.cfg.Users
	rawType, rawData := strictjson.Members(body, "type", "data")
	guess, _ := strictjson.PlainString(rawType)
	if fn := users.upsert(guess); fn != nil && rawData != nil {
		var env userEnvelope
		if json.Unmarshal(body, &env) == nil && env.Type == guess && env.Data.ID != "" {
			e := &UserEvent{EventMeta: h.meta(id, ts, env.envelopeMeta), User: &env.Data, Data: rawData}
			return func(ctx context.Context) error { return fn(ctx, e) }, guess, nil
		}
	}

	var env envelope
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil || env.Type == "" {
		return nil, env.Type, refused(http.StatusBadRequest, WebhookReasonInvalidPayload)
	}
	invalid := refused(http.StatusBadRequest, WebhookReasonInvalidData)
	meta := h.meta(id, ts, env.envelopeMeta)
	switch fn := users.upsert(env.Type); {
	case fn != nil:
		// The single-pass decoding above refused this body: decode the data
		// on its own, to tell bad data from a bad envelope.
		var u clerk.User
		if err := json.Unmarshal(env.Data, &u); err != nil || u.ID == "" {
			return nil, env.Type, invalid
		}
		e := &UserEvent{EventMeta: meta, User: &u, Data: env.Data}
		return func(ctx context.Context) error { return fn(ctx, e) }, env.Type, nil
	case env.Type == "user.deleted" && users.Deleted != nil:
		if call, reason, _ := typed(meta, env.Data, users.Deleted, deletedEvent); reason == "" {
			return call, env.Type, nil
		}
		return nil, env.Type, invalid
	}
	if call, reason, handled := h.orgDispatch(env.Type, meta, env.Data); handled {
		if reason != "" {
			return nil, env.Type, refused(http.StatusBadRequest, reason)
		}
		return call, env.Type, nil
	}
	if events := h.cfg.Events; events != nil {
		e := &Event{EventMeta: meta, Object: env.Object, Data: env.Data}
		return func(ctx context.Context) error { return events(ctx, e) }, env.Type, nil
	}
	return nil, env.Type, nil
}

// PanicError is the error of a webhook callback that panicked: its value
// and the goroutine's stack, as WebhookConfig.OnError and the log see it.
type PanicError struct {
	Value any
	Stack []byte
}

// Error implements error.
func (e *PanicError) Error() string {
	return fmt.Sprintf("clerkauth: webhook callback panicked: %v", e.Value)
}

// WebhookFailure is a delivery the handler did not acknowledge, for
// WebhookConfig.OnError.
type WebhookFailure struct {
	ID     string // the svix-id (may be empty for a delivery without headers)
	Type   string // the event type, when the body got that far
	Status int    // the answer: 400, 405, 413, 500, 503
	Reason string // WebhookReason…
	Err    error  // the callback's error (callback-failed only), else nil
}

// safeCall runs the callback, turning a panic into an error: a panicking
// callback must produce a 5xx (so Svix retries), not a dropped connection
// or a crashed process.
func safeCall(ctx context.Context, call func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err = &PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	return call(ctx)
}

// Caps on the webhook headers, checked before the body is read: Svix
// sends an id of a few dozen characters, a Unix time in seconds, and one
// "v1,<44 base64 characters>" signature per active secret (two while a
// secret rotates). The caps leave room for far more.
const (
	maxWebhookIDBytes        = 256
	maxWebhookTimestampBytes = 32
	maxWebhookSignatureBytes = 4 << 10
)

// webhookHeaders reads the svix-* headers, or the Standard Webhooks
// webhook-* set, and does the cheap checks (presence, sizes, the
// timestamp's syntax, the signature's shape) before anything reads the
// body. Several values of the signature header are joined: a proxy may
// have split "v1,sigA v1,sigB" at its commas, or joined them with ", ".
// canonical reports that the request's svix-* headers can be verified as
// they are. Every step is one pass over input whose size is capped first.
func webhookHeaders(h http.Header) (id string, ts time.Time, sig string, canonical bool, reason string) {
	prefix := "Svix-"
	if h.Get("Svix-Id") == "" && h.Get("Svix-Signature") == "" && h.Get("Svix-Timestamp") == "" {
		prefix = "Webhook-"
	}
	rawID, rawTS := h.Get(prefix+"Id"), h.Get(prefix+"Timestamp")
	sigs := h[prefix+"Signature"]
	if len(rawID) > maxWebhookIDBytes+64 || len(rawTS) > maxWebhookTimestampBytes {
		return "", ts, "", false, WebhookReasonMissingHeaders
	}
	id, tsText := strings.TrimSpace(rawID), strings.TrimSpace(rawTS)
	if id == "" || tsText == "" || len(sigs) == 0 {
		return id, ts, "", false, WebhookReasonMissingHeaders
	}
	if len(id) > maxWebhookIDBytes {
		return "", ts, "", false, WebhookReasonMissingHeaders
	}
	secs, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return id, ts, "", false, WebhookReasonInvalidTimestamp
	}
	size := len(sigs) - 1 // the commas that join them
	for _, s := range sigs {
		size += len(s)
	}
	if size > maxWebhookSignatureBytes {
		return id, ts, "", false, WebhookReasonInvalidSignature
	}
	sig = joinSignatures(sigs, size)
	if !signatureShape(sig) {
		return id, ts, "", false, WebhookReasonInvalidSignature
	}
	canonical = prefix == "Svix-" && len(sigs) == 1 && sig == sigs[0] && id == rawID && tsText == rawTS &&
		len(h["Svix-Id"]) == 1 && len(h["Svix-Timestamp"]) == 1
	return id, time.Unix(secs, 0), sig, canonical, ""
}

// joinSignatures joins the signature header's values with commas and, in
// the same pass, drops the spaces that follow a comma (base64 signatures
// never contain a space after a comma; ", " is how proxies join values),
// then trims the ends. The common case, one value needing nothing, is
// returned as it is.
func joinSignatures(sigs []string, size int) string {
	if len(sigs) == 1 && !strings.Contains(sigs[0], ", ") {
		return strings.TrimSpace(sigs[0])
	}
	b := make([]byte, 0, size)
	for i, s := range sigs {
		if i > 0 {
			b = append(b, ',')
		}
		for j := 0; j < len(s); j++ {
			if s[j] == ' ' && len(b) > 0 && b[len(b)-1] == ',' {
				continue
			}
			b = append(b, s[j])
		}
	}
	return strings.TrimSpace(string(b))
}

// signatureShape reports whether sig is a space-separated list of
// "v<version>,<base64>" entries with at least one "v1," among them: the
// only form Svix sends and the only one its Verify can accept, so
// anything else is refused before the body is read.
func signatureShape(sig string) bool {
	v1 := false
	for entry := range strings.SplitSeq(sig, " ") {
		if entry == "" {
			continue
		}
		version, value, ok := strings.Cut(entry, ",")
		if !ok || len(version) < 2 || version[0] != 'v' || value == "" {
			return false
		}
		for i := 1; i < len(version); i++ {
			if c := version[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
				return false
			}
		}
		for i := 0; i < len(value); i++ {
			if c := value[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=' || c == ',') {
				return false
			}
		}
		v1 = v1 || version == "v1"
	}
	return v1
}

// Body reading: a buffer sized for what has arrived, never for what the
// client announced. A Content-Length up to MaxBodyBytes is a promise, not
// a payment: a client that announces 1 MiB and stalls holds only what it
// sent (at most twice that, as the buffer doubles).
const initialWebhookBuffer = 16 << 10

// readBody reads at most max bytes of the body. Svix always sends
// Content-Length; a body announced small is read in one allocation, a
// larger one in a buffer that doubles as bytes arrive, up to the
// announced size.
func readBody(r *http.Request, max int64) ([]byte, string) {
	if r.ContentLength > max {
		return nil, WebhookReasonBodyTooLarge
	}
	size := int64(initialWebhookBuffer)
	if r.ContentLength >= 0 && r.ContentLength < size {
		size = r.ContentLength
	}
	buf := make([]byte, 0, size+1) // +1: room to see the end of the body
	for {
		if len(buf) == cap(buf) {
			next := 2 * int64(cap(buf))
			if r.ContentLength >= 0 && r.ContentLength+1 < next {
				next = r.ContentLength + 1 // the rest as announced; a longer body grows past it
			}
			if next <= int64(cap(buf)) {
				next = 2 * int64(cap(buf))
			}
			buf = append(make([]byte, 0, next), buf...)
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > max {
			return nil, WebhookReasonBodyTooLarge
		}
		switch {
		case err == io.EOF:
			return buf, ""
		case err != nil:
			return nil, WebhookReasonBodyUnreadable
		}
	}
}

// eventTime normalises the envelope's timestamp: Clerk sends milliseconds,
// some examples seconds. Values beyond 1e11 (year 5138 in seconds) are
// milliseconds. Without one, the svix-timestamp is used.
func eventTime(n json.Number, fallback time.Time) time.Time {
	v, err := n.Int64()
	if err != nil || v <= 0 {
		return fallback
	}
	if v > 1e11 {
		return time.UnixMilli(v)
	}
	return time.Unix(v, 0)
}

// fail answers a delivery that is not acknowledged: a log line (with the
// callback's error, which is the application's own, and a panic's stack;
// never the payload or the secret; refusals rate-limited), OnError, then
// the answer.
func (h *WebhookHandler) fail(ctx context.Context, w http.ResponseWriter, d delivery, e *deliveryError) {
	level := slog.LevelWarn
	if e.status >= 500 {
		level = slog.LevelError
	}
	attrs := []any{"status", e.status, "reason", e.reason, "svix_id", safeLogValue(d.id), "type", safeLogValue(d.typ)}
	if e.err != nil {
		attrs = append(attrs, "error", e.err.Error())
		var p *PanicError
		if errors.As(e.err, &p) {
			attrs = append(attrs, "stack", string(p.Stack))
		}
	}
	const msg = "clerkauth: webhook delivery not acknowledged"
	if e.status >= 500 {
		// The application's own failure on a verified delivery: each one
		// is worth a line.
		h.log.Log(ctx, level, msg, attrs...)
	} else {
		// A refusal anyone can cause (a bad signature, a stale
		// timestamp): once a minute per reason, with the count left out.
		h.warnings.log(ctx, h.log, h.now(), level, e.reason, msg, attrs...)
	}
	if h.cfg.OnError != nil {
		h.cfg.OnError(ctx, WebhookFailure{ID: d.id, Type: d.typ, Status: e.status, Reason: e.reason, Err: e.err})
	}
	writeWebhook(w, e.status, e.reason)
}

// safeLogValue keeps attacker-chosen header values short and printable in
// logs.
func safeLogValue(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// writeWebhook answers {"status":"ok"}, {"status":"duplicate"} or
// {"error":"…","reason":"…"}. Bodies name a reason, never an error text or
// anything about the secret.
func writeWebhook(w http.ResponseWriter, status int, reason string) {
	var body []byte
	switch {
	case status < 300 && reason == "":
		body = webhookOK
	case status < 300:
		body = webhookDuplicate
	default:
		// "Bad Request" → "bad_request", "Method Not Allowed" → "method_not_allowed"
		body = jsonBody(strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_"), reason)
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	w.Write(body)
}

// Built once: the success answer is on every delivery's path.
var (
	webhookOK        = []byte(`{"status":"ok"}` + "\n")
	webhookDuplicate = []byte(`{"status":"duplicate"}` + "\n")
	jsonContentType  = []string{"application/json; charset=utf-8"}
	noStore          = []string{"no-store"}
)
