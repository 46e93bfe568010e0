package clerkauth

import (
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/clerkauth/clerkauth/internal/backendapi"
	"github.com/clerkauth/clerkauth/internal/budget"
)

// This file is the refresh of an expired session with the __refresh
// cookie (@clerk/backend's attemptRefresh), under the Backend API budget.

// Negative caches of the cookie side: how many values, for how long. Only
// definitive refusals are remembered (the Backend API answered 4xx, or
// answered with nothing usable), never a failure that a retry could mend
// (a timeout, a 5xx): a nonce the Backend API does not know stays unknown,
// and a refresh that failed fails again for the same pair of cookies
// until the browser gets new ones.
const (
	maxRecentFailures = 10_000
	recentNonceTTL    = 10 * time.Minute
	recentRefreshTTL  = time.Minute
)

// refreshSession asks the Backend API for a new session token from the
// expired one and the __refresh cookie (POST /v1/sessions/{sid}/refresh),
// as Clerk's attemptRefresh does. It returns the signed-in state, or
// Clerk's reason why not.
func (a *Auth) refreshSession(c *cookieRequest) (RequestState, string) {
	var none RequestState
	if a.cfg.SecretKey == "" {
		return none, refreshMissingAPIClient
	}
	p, err := splitToken(c.session)
	if err != nil {
		return none, refreshDecodeFailed
	}
	raw, derr := decodePayload(p)
	var claims struct {
		Sid any `json:"sid"`
	}
	if derr != nil || json.Unmarshal(raw, &claims) != nil {
		return none, refreshDecodeFailed
	}
	sid, _ := claims.Sid.(string)
	if sid == "" {
		return none, refreshMissingSessionID
	}
	// The expired token is Clerk's (its signature verified), but the
	// refresh cookie is anyone's: the call is Unknown work, and a pair
	// that failed is not sent again for a while.
	pair := sha256.Sum256([]byte(c.session + "\x00" + c.refresh))
	if why, failed := a.failedRefreshes.Get(pair); failed {
		return none, why
	}
	if !a.backendBudget.Acquire(budget.Unknown) {
		return none, refreshFetchError
	}
	defer a.backendBudget.Release()
	headers := map[string][]string{}
	for k, vs := range c.r.Header {
		headers[strings.ToLower(k)] = []string{strings.Join(vs, ", ")}
	}
	body := map[string]any{
		"format": "cookie", "expired_token": c.session, "refresh_token": c.refresh,
		"request_origin": c.url().Scheme + "://" + c.url().Host, "request_headers": headers,
	}
	path := "/sessions/" + url.PathEscape(sid) + "/refresh?suffixed_cookies=" + strconv.FormatBool(c.suffixed)
	state, why := a.refreshCall(c, path, body)
	if why != "" && why != refreshFetchError && why != refreshUnexpectedBAPIError {
		a.failedRefreshes.Add(pair, why)
	}
	return state, why
}

// refreshCall makes the refresh request and reads its answer.
func (a *Auth) refreshCall(c *cookieRequest, path string, body any) (RequestState, string) {
	var none RequestState
	var out struct {
		Cookies []string `json:"cookies"`
	}
	if err := a.backendAPI(c.r.Context(), http.MethodPost, path, "/v1/sessions/{sid}/refresh", body, &out); err != nil {
		if be, ok := err.(*backendapi.Error); ok && be.Code != "" {
			if be.Code == "unexpected_error" {
				return none, refreshFetchError
			}
			return none, be.Code
		}
		return none, refreshUnexpectedBAPIError
	}
	if len(out.Cookies) == 0 {
		return none, "null"
	}
	h := http.Header{}
	session := ""
	for _, d := range out.Cookies {
		if len(d) > maxHandshakeDirectiveLength || !validDirective(d) {
			continue
		}
		h.Add("Set-Cookie", d)
		if name, value := cookieDirective(d); strings.HasPrefix(name, SessionCookie) {
			session = value
		}
	}
	id, verr := a.VerifyToken(c.r.Context(), session)
	if verr != nil {
		return none, refreshInvalidSessionToken
	}
	return signedInState(id, h, true), ""
}
