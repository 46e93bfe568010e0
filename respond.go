package clerkauth

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/clerkauth/clerkauth/internal/urlform"
)

// Refusal is what clerkauth is about to answer to a request it refuses,
// offered to Config.RefusalHandler first.
type Refusal struct {
	// Status is clerkauth's answer: 401, 403, 503, or 307 for a browser
	// sent to the sign-in page. On a route whose Require has
	// UnauthenticatedURL or UnauthorizedURL it may be their 307, and with
	// NotFound 404 (answered as http.NotFound does).
	Status int
	// Reason is the reason code (ReasonTokenExpired, ReasonMissingRole,
	// …), also sent in X-Clerk-Auth-Reason, except with a 404: NotFound
	// hides it from the client, not from you.
	Reason Reason
	// Location is where a 307 sends the browser: the sign-in URL or
	// UnauthenticatedURL's, with redirect_url, or UnauthorizedURL's as
	// given.
	Location string
	// Reverification is the level a failed Reverification check asked for.
	Reverification *ReverificationLevel
	// Err is the verification error of a 401 or 503, with its Detail for
	// your logs. Never send Detail to clients.
	Err *Error
}

// RedirectToSignIn sends the browser to the sign-in page with a
// redirect_url back to this request's URL, as Clerk's redirectToSignIn
// does, for a handler that decides by itself that the user must sign in.
// Without a sign-in page (no SignInURL, no publishable key) it answers 401.
//
// Behind Middleware, a pending session (session-pending) is sent to the
// page's /tasks instead, as Clerk's redirectToSignIn does.
func (a *Auth) RedirectToSignIn(w http.ResponseWriter, r *http.Request) {
	f, _ := failureFromContext(r.Context())
	a.redirectTo(w, r, pendingTarget(f, a.signIn, a.signInTasks))
}

// RedirectToSignUp is RedirectToSignIn for the sign-up page (SignUpURL, or
// the Account Portal's).
func (a *Auth) RedirectToSignUp(w http.ResponseWriter, r *http.Request) {
	f, _ := failureFromContext(r.Context())
	a.redirectTo(w, r, pendingTarget(f, a.signUp, a.signUpTasks))
}

func (a *Auth) redirectTo(w http.ResponseWriter, r *http.Request, target *url.URL) {
	if target == nil {
		a.reject(w, r, newError(ReasonSessionTokenMissing, "no sign-in or sign-up page is configured"))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, a.redirectLocation(target, r, true), http.StatusTemporaryRedirect)
}

// reject answers a request to a protected route that has no valid session.
func (a *Auth) reject(w http.ResponseWriter, r *http.Request, err error) {
	a.rejectAs(w, r, asError(err), nil)
}

// rejectAs is reject under a route's protect() options (p, from
// protection.forSignedOut; nil for none): UnauthenticatedURL's redirect
// first, then the sign-in page for a page load, then NotFound's 404.
func (a *Auth) rejectAs(w http.ResponseWriter, r *http.Request, e *Error, p *protection) {
	if r.Header.Get("Svix-Id") != "" || r.Header.Get("Webhook-Id") != "" {
		if a.warnedWebhook.first() {
			a.log.WarnContext(r.Context(), `clerkauth: a webhook delivery was refused by the middleware; webhooks carry no session, so add "/api/webhooks(.*)" to PublicRoutes`, "path", safeLogValue(r.URL.Path))
		}
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	ref := Refusal{Status: http.StatusUnauthorized, Reason: e.Reason, Err: e}
	switch {
	case e.Status() == http.StatusServiceUnavailable:
		ref.Status = http.StatusServiceUnavailable
		if e.Reason == ReasonMachineVerifierBusy {
			h.Set("Retry-After", machineBusyRetryAfterSec)
		} else {
			h.Set("Retry-After", a.retryAfter())
		}
	case p != nil && p.signedOut != nil:
		ref.Status = http.StatusTemporaryRedirect
		ref.Location = a.redirectLocation(p.signedOut, r, false) // not Clerk's page: no dev browser token
	case a.signIn != nil && isBrowserNavigation(r) && e.Reason != ReasonTokenTypeMismatch && e.Reason != ReasonTokenInvalidAudience:
		// Signing in again would not give another type or audience.
		ref.Status = http.StatusTemporaryRedirect
		ref.Location = a.redirectLocation(pendingTarget(e, a.signIn, a.signInTasks), r, true)
	case p != nil && p.notFound:
		ref.Status = http.StatusNotFound
	case !a.credentialPresented(r):
		// RFC 6750 §3.1: no error code when the request carried no
		// credential (whatever the reason: on a development instance a
		// request without a token is refused for its dev browser).
		h.Set("WWW-Authenticate", a.bearerChallenge)
	default:
		h.Set("WWW-Authenticate", a.bearerChallengeInvalid)
	}
	if ref.Status != http.StatusNotFound { // a hidden route's 404 tells nothing
		h.Set("X-Clerk-Auth-Status", "signed-out")
		h.Set("X-Clerk-Auth-Reason", string(e.Reason))
	}
	a.logRefusal(r, ref.Status, e.Reason)
	if a.cfg.RefusalHandler != nil && a.cfg.RefusalHandler(w, r, ref) {
		return
	}
	switch ref.Status {
	case http.StatusServiceUnavailable:
		a.writeJSON(w, ref.Status, "unavailable", e.Reason)
	case http.StatusTemporaryRedirect:
		http.Redirect(w, r, ref.Location, ref.Status)
	case http.StatusNotFound:
		http.NotFound(w, r) // the router's own answer, byte for byte
	default:
		a.writeJSON(w, ref.Status, "unauthenticated", e.Reason)
	}
}

// forbid answers a signed-in request that failed a check: 403 with the
// check's reason, or, for a reverification check, the body Clerk's front
// end reads (clerk-js's useReverification prompts the user and retries).
func (a *Auth) forbid(w http.ResponseWriter, r *http.Request, c Check) {
	a.forbidAs(w, r, c, nil)
}

// forbidAs is forbid under a route's protect() options (p, from
// protection.forFailedCheck; nil for none): UnauthorizedURL's redirect,
// else NotFound's 404.
func (a *Auth) forbidAs(w http.ResponseWriter, r *http.Request, c Check, p *protection) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	ref := Refusal{Status: http.StatusForbidden, Reason: c.Reason, Reverification: c.reverify}
	switch {
	case p != nil && p.unauthorized != "":
		ref.Status, ref.Location = http.StatusTemporaryRedirect, p.unauthorized
	case p != nil && p.notFound:
		ref.Status = http.StatusNotFound
	}
	if ref.Status != http.StatusNotFound {
		h.Set("X-Clerk-Auth-Reason", string(c.Reason))
	}
	a.logRefusal(r, ref.Status, c.Reason)
	if a.cfg.RefusalHandler != nil && a.cfg.RefusalHandler(w, r, ref) {
		return
	}
	switch {
	case ref.Status == http.StatusTemporaryRedirect:
		http.Redirect(w, r, ref.Location, ref.Status)
		return
	case ref.Status == http.StatusNotFound:
		http.NotFound(w, r)
		return
	case c.reverify == nil:
		a.writeJSON(w, http.StatusForbidden, "forbidden", c.Reason)
		return
	}
	// Field by field as @clerk/shared's reverificationError builds it.
	var body struct {
		ClerkError struct {
			Type     string `json:"type"`
			Reason   Reason `json:"reason"`
			Metadata struct {
				Reverification ReverificationLevel `json:"reverification"`
			} `json:"metadata"`
		} `json:"clerk_error"`
	}
	body.ClerkError.Type, body.ClerkError.Reason = "forbidden", ReasonReverificationError
	body.ClerkError.Metadata.Reverification = *c.reverify
	b, _ := json.Marshal(body)
	writeBody(w, http.StatusForbidden, append(b, '\n'))
}

// logRefusal logs a refusal at debug level with its reason: routine
// refusals (an expired token, another instance's key) are the first thing
// to look at when users cannot sign in, and too common for a higher level.
// The path is cut short and made printable; the query, which may carry a
// token, is not logged.
func (a *Auth) logRefusal(r *http.Request, status int, reason Reason) {
	if a.log.Enabled(r.Context(), slog.LevelDebug) {
		a.log.DebugContext(r.Context(), "clerkauth: request refused", "status", status, "reason", string(reason), "method", r.Method, "path", safeLogValue(r.URL.Path))
	}
}

// retryAfter is the key-fetch cool-down in whole seconds, rounded up: no
// new fetch is tried before then.
func (a *Auth) retryAfter() string {
	return strconv.Itoa(int((a.cfg.KeyFetchCoolDown + time.Second - 1) / time.Second))
}

// redirectLocation builds <target>?redirect_url=<absolute original URL>,
// the URL the browser addressed (see addressedURL). The sign-in page
// (Clerk's Account Portal, or yours) must check redirect_url against the
// allowed origins, as Clerk's does.
//
// To a page on another host, as Clerk's createRedirect does: a satellite's
// way back carries __clerk_synced=false (coming back, it syncs with the
// primary where the user signed in), and on a development instance the
// page gets the dev browser token (__clerk_db_jwt), which the other host
// cannot read from this one's cookies. Only the sign-in and sign-up pages
// (clerkPage) get it: it is the browser's development credential at the
// Frontend API, and an UnauthenticatedURL on another host may be any site
// (Clerk's protect() redirects there without it).
func (a *Auth) redirectLocation(target *url.URL, r *http.Request, clerkPage bool) string {
	u := *target
	back := a.addressedURL(r)
	// As Clerk's buildUrl: URLSearchParams.set on the page's own query
	// (its order kept), the way back as URL.toString() writes it.
	backQuery := addressedQuery(back.RawQuery)
	var devBrowser string
	if u.Host != "" && canonicalHost(u.Scheme, u.Host) != canonicalHost(back.Scheme, back.Host) {
		if a.satellite {
			backQuery = urlform.Serialize(urlform.Set(urlform.Parse(back.RawQuery), querySynced, syncedNeedsSync))
		}
		if a.development && clerkPage {
			var c cookieRequest
			a.readCookieRequest(&c, r)
			devBrowser = c.devBrowser
		}
	}
	pairs := urlform.Set(urlform.Parse(u.RawQuery), "redirect_url", href(back, backQuery))
	if devBrowser != "" {
		pairs = urlform.Set(pairs, cookieDevBrowser, devBrowser)
	}
	u.RawQuery = urlform.Serialize(pairs)
	return u.String()
}

// writeJSON writes {"error":kind,"reason":reason}. The body names only the
// reason code: never the error text, the token or anything about keys.
func (a *Auth) writeJSON(w http.ResponseWriter, status int, kind string, reason Reason) {
	writeBody(w, status, a.responses.body(kind, reason))
}

// writeBody writes a JSON answer.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(body)
}

// responseSet holds the JSON bodies for every known reason, built once.
type responseSet map[responseKey][]byte

type responseKey struct {
	kind   string
	reason Reason
}

func buildResponses() responseSet {
	set := responseSet{}
	for _, kind := range []string{"unauthenticated", "unavailable", "forbidden"} {
		for _, r := range reasons {
			set[responseKey{kind, r.code}] = jsonBody(kind, string(r.code))
		}
	}
	return set
}

func (s responseSet) body(kind string, reason Reason) []byte {
	if b, ok := s[responseKey{kind, reason}]; ok {
		return b
	}
	return jsonBody(kind, string(reason)) // a custom Check's reason
}

func jsonBody(kind, reason string) []byte {
	b, _ := json.Marshal(struct {
		Error  string `json:"error"`
		Reason string `json:"reason"`
	}{kind, reason})
	return append(b, '\n')
}
