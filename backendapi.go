package clerkauth

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/clerkauth/clerkauth/internal/backendapi"
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

// This file is where requests reach Clerk's Backend API: every call goes
// through backendRequest (internal/backendapi makes it), which tells the
// hook; backendAPI is the secret-key caller of the cookie side.

// backendRequest makes one request to Clerk's Backend API and returns the
// status and the answer; it tells hooks.BackendAPICall, with the context
// of the request that caused it. The machine-token verifier and the cookie
// side (the handshake nonce, the session refresh) share it.
func backendRequest(ctx, reqCtx context.Context, hooks *Hooks, c backendCall) (status int, raw []byte, err error) {
	if hooks.BackendAPICall != nil {
		start := time.Now()
		defer func() { hooks.reportBackendCall(reqCtx, start, c.method, c.endpoint, status) }()
	}
	return backendapi.Do(ctx, backendapi.Call{Client: c.client, Method: c.method, URL: c.url, Key: c.key, Body: c.body, Max: c.max})
}

// backendAPI makes one Backend API request with the secret key and decodes
// a 2xx answer into out. endpoint is path's template, for the hook.
func (a *Auth) backendAPI(reqCtx context.Context, method, path, endpoint string, body, out any) error {
	ctx, cancel := context.WithTimeout(reqCtx, a.cfg.ClerkTimeout)
	defer cancel()
	status, raw, err := backendRequest(ctx, reqCtx, &a.cfg.Hooks, backendCall{client: a.cfg.HTTPClient, method: method,
		url: a.cfg.APIURL + path, endpoint: endpoint, key: a.cfg.SecretKey, body: body, max: maxHandshakeResponseBytes})
	return backendapi.Decode(status, raw, err, out)
}

// errorClass names an error's kind for a log line, never its text (which
// could carry a token).
func errorClass(err error) string {
	if e, ok := err.(*Error); ok {
		return string(e.Reason)
	}
	var be *backendapi.Error
	if errors.As(err, &be) {
		return "backend-api"
	}
	return "other"
}
