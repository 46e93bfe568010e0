package clerkauth

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
)

// backendRequest makes one request to Clerk's Backend API, authorised
// with key, with body (when not nil) as JSON, and returns the status and
// at most max bytes of the answer (a longer answer is an error). The
// machine-token verifier and the cookie side (the handshake nonce, the
// session refresh) share it.
func backendRequest(ctx context.Context, client *http.Client, method, url, key string, body any, max int64) (status int, raw []byte, err error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err = io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err == nil && int64(len(raw)) > max {
		err = errAnswerTooLarge
	}
	return resp.StatusCode, raw, err
}

type answerTooLarge struct{}

func (answerTooLarge) Error() string { return "clerkauth: the Backend API's answer is too large" }

var errAnswerTooLarge error = answerTooLarge{}
