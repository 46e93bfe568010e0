package clerktest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/clerkauth/clerkauth/internal/issuer"
	svix "github.com/svix/svix-webhooks/go"
)

// NewWebhookSecret returns a fresh signing secret in Clerk's format,
// "whsec_" followed by base64 of 24 random bytes.
func NewWebhookSecret() string { return issuer.NewWebhookSecret() }

// Envelope builds the JSON body of a Clerk webhook: data under the
// envelope Clerk sends, with the timestamp in milliseconds.
func Envelope(tb testing.TB, eventType string, data any, at time.Time) []byte {
	tb.Helper()
	raw, ok := data.([]byte)
	if !ok {
		var err error
		if raw, err = json.Marshal(data); err != nil {
			tb.Fatalf("clerktest: encoding webhook data: %v", err)
		}
	}
	body, err := json.Marshal(map[string]any{
		"data":        json.RawMessage(raw),
		"object":      "event",
		"type":        eventType,
		"timestamp":   at.UnixMilli(),
		"instance_id": "ins_clerktest",
		"event_attributes": map[string]any{
			"http_request": map[string]any{"client_ip": "127.0.0.1", "user_agent": "clerktest"},
		},
	})
	if err != nil {
		tb.Fatalf("clerktest: encoding webhook: %v", err)
	}
	return body
}

// SignWebhook returns the svix-id, svix-timestamp and svix-signature
// headers for body, signed with secret by the svix library itself.
func SignWebhook(tb testing.TB, secret, msgID string, at time.Time, body []byte) http.Header {
	tb.Helper()
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		tb.Fatalf("clerktest: webhook secret: %v", err)
	}
	sig, err := wh.Sign(msgID, at, body)
	if err != nil {
		tb.Fatalf("clerktest: signing webhook: %v", err)
	}
	h := http.Header{}
	h.Set("svix-id", msgID)
	h.Set("svix-timestamp", strconv.FormatInt(at.Unix(), 10))
	h.Set("svix-signature", sig)
	return h
}

// NewWebhookRequest builds a POST to path (your webhook route, such as
// "/api/webhooks/clerk") carrying a
// correctly signed delivery of eventType with data (any value encoded to
// JSON, or raw []byte), as Clerk would send it at time at with id msgID.
func NewWebhookRequest(tb testing.TB, path, secret, msgID string, at time.Time, eventType string, data any) *http.Request {
	tb.Helper()
	body := Envelope(tb, eventType, data, at)
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	for k, v := range SignWebhook(tb, secret, msgID, at, body) {
		r.Header[k] = v
	}
	r.Header.Set("Content-Type", "application/json")
	return r
}
