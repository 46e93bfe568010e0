package clerktest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/clerkauth/clerkauth/internal/issuer"
	"github.com/clerkauth/clerkauth/internal/webhookmsg"
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
	body, err := webhookmsg.Envelope(eventType, raw, at, "ins_clerktest", "clerktest")
	if err != nil {
		tb.Fatalf("clerktest: encoding webhook: %v", err)
	}
	return body
}

// SignWebhook returns the svix-id, svix-timestamp and svix-signature
// headers for body, signed with secret by the svix library itself.
func SignWebhook(tb testing.TB, secret, msgID string, at time.Time, body []byte) http.Header {
	tb.Helper()
	h, err := webhookmsg.Sign(secret, msgID, at, body)
	if err != nil {
		tb.Fatalf("clerktest: signing webhook: %v", err)
	}
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
