package clerkauth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"sync"
	"time"
)

// backendCall is one request to Clerk's Backend API.
type backendCall struct {
	client   *http.Client
	method   string
	url      string
	endpoint string // the path template, for Hooks.BackendAPICall
	key      string // the secret key it is authorised with
	body     any    // sent as JSON when not nil
	max      int64  // the longest answer read; a longer one is an error
}

// backendRequest makes one request to Clerk's Backend API and returns the
// status and the answer; it tells hooks.BackendAPICall, with the context
// of the request that caused it. The machine-token verifier and the cookie
// side (the handshake nonce, the session refresh) share it.
func backendRequest(ctx, reqCtx context.Context, hooks *Hooks, c backendCall) (status int, raw []byte, err error) {
	if hooks.BackendAPICall != nil {
		start := time.Now()
		defer func() { hooks.reportBackendCall(reqCtx, start, c.method, c.endpoint, status) }()
	}
	return backendDo(ctx, c.client, c.method, c.url, c.key, c.body, c.max)
}

func backendDo(ctx context.Context, client *http.Client, method, url, key string, body any, max int64) (status int, raw []byte, err error) {
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
	setClerkHeaders(req.Header)
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

// setClerkHeaders marks a request to Clerk as Clerk's own SDKs do: the
// Backend API version this library speaks (the one @clerk/backend 3.25.0
// sends, also the handshake's __clerk_api_version) and a User-Agent naming
// clerkauth and its version, so that Clerk's logs and support can tell
// this client apart.
func setClerkHeaders(h http.Header) {
	h.Set("Clerk-API-Version", clerkAPIVersion)
	h.Set("User-Agent", userAgent())
}

// userAgent is "clerkauth/<module version>", the version read once from
// the build's module information ("(devel)" in this repository itself).
var userAgent = sync.OnceValue(func() string {
	const module = "github.com/clerkauth/clerkauth"
	version := "(devel)"
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Path == module {
			version = info.Main.Version
		}
		for _, d := range info.Deps {
			if d.Path == module {
				version = d.Version
			}
		}
	}
	return "clerkauth/" + version
})

// backendAPIError is a Backend API answer other than 2xx, with the code of
// its first error when it has one.
type backendAPIError struct {
	status int
	code   string
}

func (e *backendAPIError) Error() string {
	return fmt.Sprintf("clerkauth: the Backend API answered %d (%s)", e.status, e.code)
}

// backendAPI makes one Backend API request with the secret key and decodes
// a 2xx answer into out. endpoint is path's template, for the hook.
func (a *Auth) backendAPI(reqCtx context.Context, method, path, endpoint string, body, out any) error {
	ctx, cancel := context.WithTimeout(reqCtx, a.cfg.ClerkTimeout)
	defer cancel()
	status, raw, err := backendRequest(ctx, reqCtx, &a.cfg.Hooks, backendCall{client: a.cfg.HTTPClient, method: method,
		url: a.cfg.APIURL + path, endpoint: endpoint, key: a.cfg.SecretKey, body: body, max: maxHandshakeResponseBytes})
	switch {
	case status == 0:
		return err
	case err != nil:
		return &backendAPIError{status: status}
	case status/100 != 2:
		var e struct {
			Errors []struct {
				Code string `json:"code"`
			} `json:"errors"`
		}
		be := &backendAPIError{status: status}
		if json.Unmarshal(raw, &e) == nil && len(e.Errors) > 0 {
			be.code = e.Errors[0].Code
		}
		return be
	}
	return json.Unmarshal(raw, out)
}

// errorClass names an error's kind for a log line, never its text (which
// could carry a token).
func errorClass(err error) string {
	if e, ok := err.(*Error); ok {
		return string(e.Reason)
	}
	if _, ok := err.(*backendAPIError); ok {
		return "backend-api"
	}
	return "other"
}

// definitive reports whether a Backend API call failed in a way that the
// same call would fail again: a 4xx answer, or an answer not of the
// expected form.
func definitive(err error) bool {
	if be, ok := err.(*backendAPIError); ok {
		return be.status/100 == 4
	}
	_, syntax := err.(*json.SyntaxError)
	return syntax
}
