// Package webhookmsg builds and signs Clerk webhook deliveries the way
// Clerk sends them through Svix: the event envelope, and the svix-id,
// svix-timestamp and svix-signature headers, signed by the svix library
// itself. clerktest's NewWebhookRequest and the clerkauth command's
// "webhook send" both use it, so that a test delivery and a manual one
// are the same bytes. It does not import testing: production code (the
// command) may use it.
package webhookmsg

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	svix "github.com/svix/svix-webhooks/go"
)

// Envelope returns the JSON body of a Clerk webhook: data under the
// envelope Clerk sends, with the timestamp in milliseconds, and
// event_attributes.http_request naming userAgent from loopback.
func Envelope(eventType string, data json.RawMessage, at time.Time, instanceID, userAgent string) ([]byte, error) {
	return json.Marshal(map[string]any{
		"data":        data,
		"object":      "event",
		"type":        eventType,
		"timestamp":   at.UnixMilli(),
		"instance_id": instanceID,
		"event_attributes": map[string]any{
			"http_request": map[string]any{"client_ip": "127.0.0.1", "user_agent": userAgent},
		},
	})
}

// Sign returns the svix-id, svix-timestamp and svix-signature headers of
// body sent at time at with id msgID, signed with secret ("whsec_…").
func Sign(secret, msgID string, at time.Time, body []byte) (http.Header, error) {
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		return nil, err
	}
	sig, err := wh.Sign(msgID, at, body)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("svix-id", msgID)
	h.Set("svix-timestamp", strconv.FormatInt(at.Unix(), 10))
	h.Set("svix-signature", sig)
	return h, nil
}

// NewMessageID returns a fresh svix-id in Svix's form, "msg_" and 27
// base62 characters.
func NewMessageID() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 27)
	rand.Read(b) // crypto/rand does not fail on supported platforms
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "msg_" + string(b)
}
