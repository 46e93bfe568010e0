// Package backendapi is clerkauth's client of Clerk's Backend API: one
// request helper (the secret key, JSON bodies, the headers Clerk's SDKs
// send, a bounded answer), the error of a non-2xx answer with Clerk's
// error code, and which failures are worth remembering.
package backendapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"sync"
)

// APIVersion is the Backend API version clerkauth speaks: the one
// @clerk/backend 3.25.0 sends (SUPPORTED_BAPI_VERSION), in the
// Clerk-API-Version header and as the handshake's __clerk_api_version.
const APIVersion = "2026-05-12"

// Call is one request.
type Call struct {
	Client *http.Client
	Method string
	URL    string
	Key    string // the secret key it is authorised with
	Body   any    // sent as JSON when not nil
	Max    int64  // the longest answer read; a longer one is ErrAnswerTooLarge
}

// ErrAnswerTooLarge: the answer was longer than Call.Max.
var ErrAnswerTooLarge = errors.New("clerkauth: the Backend API's answer is too large")

// Do makes the request and returns the status (0 when no answer came) and
// at most Max bytes of the answer.
func Do(ctx context.Context, c Call) (status int, raw []byte, err error) {
	var rd io.Reader
	if c.Body != nil {
		b, err := json.Marshal(c.Body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, c.URL, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Key)
	SetHeaders(req.Header)
	if c.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err = io.ReadAll(io.LimitReader(resp.Body, c.Max+1))
	if err == nil && int64(len(raw)) > c.Max {
		err = ErrAnswerTooLarge
	}
	return resp.StatusCode, raw, err
}

// SetHeaders marks a request to Clerk as Clerk's own SDKs do: the API
// version and a User-Agent naming clerkauth and its version, so that
// Clerk's logs and support can tell this client apart.
func SetHeaders(h http.Header) {
	h.Set("Clerk-API-Version", APIVersion)
	h.Set("User-Agent", UserAgent())
}

// UserAgent is "clerkauth/<module version>", the version read once from
// the build's module information ("(devel)" in this repository itself).
var UserAgent = sync.OnceValue(func() string {
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

// Error is an answer other than 2xx, with the code of its first error
// when it has one.
type Error struct {
	Status int
	Code   string
}

func (e *Error) Error() string {
	return fmt.Sprintf("clerkauth: the Backend API answered %d (%s)", e.Status, e.Code)
}

// Decode reads an answer: a 2xx into out, anything else as an *Error
// (err, from Do, says the answer could not be read).
func Decode(status int, raw []byte, err error, out any) error {
	switch {
	case status == 0:
		return err
	case err != nil:
		return &Error{Status: status}
	case status/100 != 2:
		var e struct {
			Errors []struct {
				Code string `json:"code"`
			} `json:"errors"`
		}
		be := &Error{Status: status}
		if json.Unmarshal(raw, &e) == nil && len(e.Errors) > 0 {
			be.Code = e.Errors[0].Code
		}
		return be
	}
	return json.Unmarshal(raw, out)
}

// Definitive reports whether a call failed in a way that the same call
// would fail again: a 4xx answer, or an answer not of the expected form
// (never a timeout or a 5xx, which a retry could mend).
func Definitive(err error) bool {
	var be *Error
	if errors.As(err, &be) {
		return be.Status/100 == 4
	}
	var syntax *json.SyntaxError
	return errors.As(err, &syntax)
}
