package clerkauth

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clerkauth/clerkauth/internal/budget"
)

// This file is the cookie side of @clerk/backend's authenticateRequest:
// which of the __session/__client_uat cookies count, when a stale cookie
// sends the browser through Clerk's handshake (a round trip to the
// Frontend API, which sets fresh cookies and sends it straight back), how
// the handshake's answer is read when the browser comes back, and the
// refresh of an expired session with the __refresh cookie. It applies to
// requests without a Bearer token, on instances whose publishable key is
// known.

// The cookies and query parameters of Clerk's handshake.
const (
	cookieClientUAT      = "__client_uat"
	cookieRefresh        = "__refresh"
	cookieDevBrowser     = "__clerk_db_jwt"
	cookieHandshake      = "__clerk_handshake"
	cookieHandshakeNonce = "__clerk_handshake_nonce"
	cookieRedirectCount  = "__clerk_redirect_count"
	// cookieHandshakeStarted is ours, not Clerk's: set with a handshake's
	// 307, it binds the handshake's return to this browser (see
	// resolveHandshake).
	cookieHandshakeStarted = "__clerkauth_handshake"
	queryHandshakeHelp     = "__clerk_help"
	queryLegacyDevBrowse   = "__dev_session"

	// clerkAPIVersion is what @clerk/backend 3.25.0 sends as
	// __clerk_api_version (SUPPORTED_BAPI_VERSION).
	clerkAPIVersion = "2026-05-12"
	// maxHandshakeRedirects: the third handshake in a row (counted by the
	// __clerk_redirect_count cookie, which lives 2 seconds) gives up.
	maxHandshakeRedirects = 3
	// handshakeLoopMessage is Clerk's log line for that case.
	handshakeLoopMessage = "Clerk: Refreshing the session token resulted in an infinite redirect loop. This usually means that your Clerk instance keys do not match - make sure to copy the correct publishable and secret keys from the Clerk dashboard."
)

// Clerk's reasons for a handshake (AuthErrorReason), sent to the Frontend
// API as __clerk_hs_reason and in X-Clerk-Auth-Reason.
const (
	hsDevBrowserMissing         = "dev-browser-missing"
	hsDevBrowserSync            = "dev-browser-sync"
	hsSessionTokenWithoutUAT    = "session-token-but-no-client-uat"
	hsUATWithoutSessionToken    = "client-uat-but-no-session-token"
	hsSessionTokenIATBeforeUAT  = "session-token-iat-before-client-uat"
	hsSessionTokenExpired       = "session-token-expired"
	hsSessionTokenNBF           = "session-token-nbf"
	hsSessionTokenIatInFuture   = "session-token-iat-in-the-future"
	hsPrimaryDomainCrossOrigin  = "primary-domain-cross-origin-sync"
	refreshNonEligibleNoCookie  = "non-eligible-no-refresh-cookie"
	refreshNonEligibleNonGet    = "non-eligible-non-get"
	refreshInvalidSessionToken  = "invalid-session-token"
	refreshMissingAPIClient     = "missing-api-client"
	refreshMissingSessionID     = "expired-session-token-missing-sid-claim"
	refreshDecodeFailed         = "expired-session-token-decode-failed"
	refreshFetchError           = "fetch-error"
	refreshUnexpectedBAPIError  = "unexpected-bapi-error"
	maxHandshakeResponseBytes   = 64 << 10
	maxHandshakeDirectiveLength = 8 << 10
)

// AuthStatus is the outcome of AuthenticateRequest, in Clerk's words.
type AuthStatus string

// The outcomes of AuthenticateRequest.
const (
	SignedIn  AuthStatus = "signed-in"
	SignedOut AuthStatus = "signed-out"
	// Handshake: the browser must go through Clerk's handshake; answer
	// with RequestState.Headers (a 307 to the Frontend API).
	Handshake AuthStatus = "handshake"
)

// RequestState is the decision AuthenticateRequest makes for a request, as
// @clerk/backend's authenticateRequest makes it: signed in (as Identity),
// signed out (with Err), or a handshake. Headers holds what the response
// must carry in every case: the cookies a handshake or a refresh sets, and
// for a handshake (or, on development instances, the return from one) the
// Location to redirect to with 307. Middleware does all of this.
type RequestState struct {
	Status   AuthStatus
	Identity *Identity // SignedIn
	Err      *Error    // SignedOut and Handshake: why
	// HandshakeReason is Clerk's reason for a handshake (also sent to the
	// Frontend API), e.g. "session-token-expired-refresh-non-eligible-no-refresh-cookie".
	HandshakeReason string
	Headers         http.Header
	// cookie: the identity came from the session cookie (for the
	// cross-site request check).
	cookie bool
	cached bool // the verdict came from a cache (Hooks.Decision)
}

// Redirect reports where the response must redirect (307), if anywhere.
func (s RequestState) Redirect() string { return s.Headers.Get("Location") }

// WriteHeaders copies Headers to w (Set-Cookie lines added, others set).
func (s RequestState) WriteHeaders(w http.ResponseWriter) {
	h := w.Header()
	for k, vs := range s.Headers {
		if k == "Set-Cookie" {
			h[k] = append(h[k], vs...)
		} else {
			h[k] = slices.Clone(vs)
		}
	}
}

func signedInState(id *Identity, headers http.Header, cookie bool) RequestState {
	return RequestState{Status: SignedIn, Identity: id, Headers: headers, cookie: cookie}
}

func signedOutState(err error, headers http.Header) RequestState {
	return RequestState{Status: SignedOut, Err: asError(err), Headers: headers}
}

// cookieRequest is what the cookie side reads from one request, once. It
// lives on the stack: the cookies are substrings of the header.
type cookieRequest struct {
	auth          *Auth
	r             *http.Request
	jar           cookieJar
	query         url.Values // Clerk's parameters, parsed only when the query names one
	plainToken    string     // the __session cookie, and what peek found in it
	plainFacts    tokenFacts
	u             *url.URL // see url()
	suffixed      bool
	session       string
	refresh       string
	clientUAT     int64
	devBrowser    string
	handshake     string
	nonce         string
	redirectCount float64
}

// url is the request's URL as the browser addressed it, built on first use
// (only handshakes and cross-site checks need it).
func (c *cookieRequest) url() *url.URL {
	if c.u == nil {
		c.u = c.auth.addressedURL(c.r)
	}
	return c.u
}

// authenticateCookie decides a request that carries no Bearer token, as
// Clerk's authenticateRequestWithTokenInCookie does.
func (a *Auth) authenticateCookie(r *http.Request) RequestState {
	var c cookieRequest
	a.readCookieRequest(&c, r)
	if (c.nonce != "" || c.handshake != "") && c.jar.get(cookieHandshakeStarted) == "" {
		// Beyond Clerk: a handshake's return that this server did not
		// start for this browser is a crafted link, which would sign the
		// victim into the attacker's session (login CSRF). It is read as
		// if it were not there.
		a.warn(r.Context(), slog.LevelWarn, "clerkauth: ignored a handshake return that this server did not start for this browser (a crafted link?)")
		c.nonce, c.handshake = "", ""
	}
	if c.nonce != "" || c.handshake != "" {
		state, err := a.resolveHandshake(r.Context(), &c)
		if err == nil {
			return state
		}
		a.warn(r.Context(), slog.LevelWarn, "clerkauth: the handshake answer could not be used; deciding from the cookies", "error_class", errorClass(err))
	}
	if a.development {
		if c.query.Has(cookieDevBrowser) {
			return a.maybeHandshake(&c, hsDevBrowserSync, newError(ReasonDevBrowserSync, "the dev browser token arrived in the URL"))
		}
		if c.devBrowser == "" {
			return a.maybeHandshake(&c, hsDevBrowserMissing, newError(ReasonDevBrowserMissing, "no dev browser token (__clerk_db_jwt) on a development instance"))
		}
	}
	switch {
	case c.clientUAT == 0 && c.session == "":
		return signedOutState(newError(ReasonSessionTokenMissing, "no Bearer token, no __session cookie, and __client_uat is 0 or absent (signed out)"), nil)
	case c.clientUAT == 0:
		return a.maybeHandshake(&c, hsSessionTokenWithoutUAT, newError(ReasonSessionTokenWithoutClientUAT, "a __session cookie without __client_uat"))
	case c.session == "":
		return a.maybeHandshake(&c, hsUATWithoutSessionToken, newError(ReasonClientUATWithoutSessionToken, "__client_uat says signed in, but there is no __session cookie"))
	}
	f := c.plainFacts
	if c.session != c.plainToken {
		f = a.peek(c.session)
	}
	switch {
	case !f.jwt:
		_, perr := splitToken(c.session)
		return signedOutState(perr, nil)
	case f.machine != SessionToken:
		return signedOutState(tokenTypeMismatch(f.machine), nil)
	case f.hasIat && f.iat < float64(c.clientUAT):
		return a.maybeHandshake(&c, hsSessionTokenIATBeforeUAT, newError(ReasonSessionTokenIATBeforeClientUAT, "the session token was issued before the last sign-in or sign-out (__client_uat)"))
	}
	var id *Identity
	var err error
	if f.cached != nil {
		id, err = a.fromCache(c.session, f.cached) // seen before: no second lookup
	} else {
		id, err = a.VerifyToken(r.Context(), c.session)
	}
	if err != nil {
		return a.sessionCookieError(&c, err)
	}
	if a.crossOriginNavigation(&c) {
		return a.maybeHandshake(&c, hsPrimaryDomainCrossOrigin, newError(ReasonPrimaryDomainCrossOriginSync, "a page load from another site: the cookies may belong to another domain's session"))
	}
	s := signedInState(id, nil, true)
	s.cached = f.cached != nil
	return s
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// tokenFacts are what the cookie rules read from a session token before it
// is verified: from the verified-token cache when the token was seen
// before (no decoding), else from its payload and header, unverified.
type tokenFacts struct {
	cached         *Identity // the token verified before (the cache's entry)
	jwt            bool      // three base64url segments
	decoded        bool      // the payload is a JSON object
	iss            any       // the iss claim as JSON decodes it
	iat, exp       float64   // 0 when absent or not numbers
	hasIat, hasExp bool      // present and numbers
	machine        TokenType // SessionToken, or the machine type its sub, typ or cat say
}

func (a *Auth) peek(token string) tokenFacts {
	if token == "" {
		return tokenFacts{}
	}
	if id := a.cachedIdentity(token); id != nil && id.TokenType == SessionToken {
		f := tokenFacts{cached: id, jwt: true, decoded: true, iss: id.Issuer, exp: unixSeconds(id.ExpiresAt), hasExp: true, machine: SessionToken}
		if !id.IssuedAt.IsZero() {
			f.iat, f.hasIat = unixSeconds(id.IssuedAt), true
		}
		return f
	}
	p, err := splitToken(token)
	if err != nil {
		return tokenFacts{}
	}
	f := tokenFacts{jwt: true}
	raw, derr := decodePayload(p)
	var claims map[string]any
	if derr != nil || json.Unmarshal(raw, &claims) != nil || claims == nil {
		f.machine = jwtType(p, nil)
		return f
	}
	f.machine = jwtType(p, claims["sub"]) // one decode for the type and the facts
	f.decoded, f.iss = true, claims["iss"]
	f.iat, f.hasIat = claims["iat"].(float64)
	f.exp, f.hasExp = claims["exp"].(float64)
	return f
}

// sessionCookieError handles a session cookie that failed verification, as
// Clerk's handleSessionTokenError does: a stale one (expired, not yet
// valid, issued in the future) is refreshed with the __refresh cookie when
// it can be, else sent through the handshake; anything else signs out.
func (a *Auth) sessionCookieError(c *cookieRequest, err error) RequestState {
	e := asError(err)
	var hsReason string
	switch e.Reason {
	case ReasonTokenExpired:
		var refreshErr string
		switch {
		case c.refresh != "" && c.r.Method == http.MethodGet:
			state, why := a.refreshSession(c)
			if why == "" {
				return state
			}
			refreshErr = why
		case c.r.Method != http.MethodGet:
			refreshErr = refreshNonEligibleNonGet
		case c.refresh == "":
			refreshErr = refreshNonEligibleNoCookie
		}
		hsReason = hsSessionTokenExpired + "-refresh-" + cmp.Or(refreshErr, "null")
	case ReasonTokenNotActiveYet:
		hsReason = hsSessionTokenNBF
	case ReasonTokenIatInTheFuture:
		hsReason = hsSessionTokenIatInFuture
	default:
		return signedOutState(e, nil)
	}
	return a.maybeHandshake(c, hsReason, e)
}

// maybeHandshake sends an eligible request (a page load) through the
// handshake, and signs out any other (a fetch, a form post: they cannot
// follow a redirect to the Frontend API usefully), as Clerk's
// handleMaybeHandshakeStatus does. At the loop limit it signs out too.
func (a *Auth) maybeHandshake(c *cookieRequest, hsReason string, why *Error) RequestState {
	state := signedOutState(why, nil)
	state.HandshakeReason = hsReason
	if !handshakeEligible(c.r) {
		return state
	}
	if c.redirectCount == maxHandshakeRedirects {
		a.warn(c.r.Context(), slog.LevelWarn, handshakeLoopMessage, "reason", hsReason)
		return state
	}
	h := http.Header{}
	h.Set("Location", a.handshakeURL(c, hsReason))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Clerk-Auth-Status", string(Handshake))
	h.Set("X-Clerk-Auth-Reason", hsReason)
	h.Add("Set-Cookie", fmt.Sprintf("%s=%s; SameSite=Lax; HttpOnly; Max-Age=2", cookieRedirectCount, formatJSNumber(c.redirectCount+1)))
	h.Add("Set-Cookie", a.handshakeStartedCookie(c, handshakeStartedMaxAge))
	state.Status, state.Headers = Handshake, h
	return state
}

// handshakeStartedMaxAge is how long a browser sent through the handshake
// may take to come back: the round trip to the Frontend API and back, with
// no user interaction, takes seconds.
const handshakeStartedMaxAge = 120

// handshakeStartedCookie is the Set-Cookie directive that binds a
// handshake's return to the browser it was started for (maxAge 0: the
// return arrived, forget it). Lax: the return is a top-level navigation
// from the Frontend API, which may be another site.
func (a *Auth) handshakeStartedCookie(c *cookieRequest, maxAge int) string {
	value := "1"
	if maxAge == 0 {
		value = ""
	}
	d := fmt.Sprintf("%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Lax", cookieHandshakeStarted, value, maxAge)
	if c.url().Scheme == "https" {
		d += "; Secure"
	}
	return d
}

// handshakeURL builds <frontend-api or proxy>/v1/client/handshake with
// Clerk's parameters, in Clerk's order, encoded as the URL Standard's
// URLSearchParams encodes them (so that the URL is byte for byte Clerk's).
func (a *Auth) handshakeURL(c *cookieRequest, reason string) string {
	params := []formPair{
		{"redirect_url", hrefWithout(c.url(), cookieDevBrowser, queryLegacyDevBrowse)},
		{"__clerk_api_version", clerkAPIVersion},
		{"suffixed_cookies", strconv.FormatBool(c.suffixed)},
		{"__clerk_hs_reason", reason},
		{"format", "nonce"},
	}
	if c.session != "" {
		params = append(params, formPair{SessionCookie, c.session})
	}
	if a.development && c.devBrowser != "" {
		params = append(params, formPair{cookieDevBrowser, c.devBrowser})
	}
	return a.frontendAPIBaseFor(c.url()) + "/v1/client/handshake?" + serializeForm(params)
}

// frontendAPIBaseFor is the Frontend API's origin (and path, behind a
// proxy) without a trailing slash; a relative ProxyURL is resolved against
// the request's origin, as Clerk does.
func (a *Auth) frontendAPIBaseFor(u *url.URL) string {
	if strings.HasPrefix(a.frontendAPIBase, "/") {
		return u.Scheme + "://" + u.Host + a.frontendAPIBase
	}
	return a.frontendAPIBase
}

// formPair is one name=value of a query, in order.
type formPair struct{ k, v string }

// parseForm parses a query as the URL Standard's
// application/x-www-form-urlencoded parser does (URLSearchParams).
func parseForm(q string) []formPair {
	var out []formPair
	for seq := range strings.SplitSeq(q, "&") {
		if seq == "" {
			continue
		}
		k, v, _ := strings.Cut(seq, "=")
		out = append(out, formPair{formDecode(k), formDecode(v)})
	}
	return out
}

func formDecode(s string) string {
	s = strings.ReplaceAll(s, "+", " ")
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c, ok := unhexByte(s, i); ok {
			out = append(out, c)
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// serializeForm is the URL Standard's application/x-www-form-urlencoded
// serializer: space as +, alphanumerics and *-._ as they are, every other
// byte percent-encoded.
func serializeForm(pairs []formPair) string {
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		formEncode(&b, p.k)
		b.WriteByte('=')
		formEncode(&b, p.v)
	}
	return b.String()
}

func formEncode(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ':
			b.WriteByte('+')
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '*' || c == '-' || c == '.' || c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
}

// hrefWithout is u's href after URLSearchParams.delete of names: the query
// is re-serialized (as the URL Standard does on any delete), and dropped
// when empty.
func hrefWithout(u *url.URL, names ...string) string {
	var kept []formPair
	for _, p := range parseForm(u.RawQuery) {
		if !slices.Contains(names, p.k) {
			kept = append(kept, p)
		}
	}
	host := strings.ToLower(u.Host)
	switch {
	case u.Scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	case u.Scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	href := u.Scheme + "://" + host + path
	if len(kept) > 0 {
		href += "?" + serializeForm(kept)
	}
	return href
}

// resolveHandshake reads the browser's return from the handshake: the
// cookie directives from the nonce (through the Backend API) or from the
// __clerk_handshake token (verified with the instance's keys). The new
// session token must verify; on development instances the response also
// redirects to the URL without the handshake parameters.
func (a *Auth) resolveHandshake(ctx context.Context, c *cookieRequest) (RequestState, error) {
	var directives []string
	var err error
	if c.nonce != "" {
		directives, err = a.handshakePayload(ctx, c.nonce)
		if err != nil {
			// Clerk logs this and goes on with no directives.
			a.warn(ctx, slog.LevelWarn, "clerkauth: the handshake nonce could not be exchanged", "error_class", errorClass(err))
			directives = nil
		}
	} else {
		directives, err = a.verifyHandshakeToken(ctx, c.handshake)
		if err != nil {
			return RequestState{}, err
		}
	}
	h := http.Header{}
	h.Add("Set-Cookie", a.handshakeStartedCookie(c, 0))
	session := ""
	for _, d := range directives {
		h.Add("Set-Cookie", d)
		name, value := cookieDirective(d)
		if strings.HasPrefix(name, SessionCookie) {
			session = value
		}
	}
	if a.development {
		h.Set("Location", hrefWithout(c.url(), cookieHandshake, queryHandshakeHelp, cookieDevBrowser, cookieHandshakeNonce))
		h.Set("Cache-Control", "no-store")
	}
	if session == "" {
		return signedOutState(newError(ReasonSessionTokenMissing, "the handshake set no session cookie (signed out)"), h), nil
	}
	id, verr := a.VerifyToken(ctx, session)
	if verr == nil {
		return signedInState(id, h, true), nil
	}
	if e := asError(verr); a.development && (e.Reason == ReasonTokenExpired || e.Reason == ReasonTokenNotActiveYet || e.Reason == ReasonTokenIatInTheFuture) {
		// Clerk retries with a day of clock skew in development: a
		// developer's clock is often wrong, and the token is fresh.
		a.warn(ctx, slog.LevelWarn, "clerkauth: clock skew detected while reading the handshake; is this machine's clock right?")
		if id, err := a.verifyWithSkew(ctx, session, 24*time.Hour); err == nil {
			return signedInState(id, h, true), nil
		}
	}
	return RequestState{}, verr
}

// verifyWithSkew verifies a session token with a larger clock skew, for
// the development handshake's retry. Nothing is cached.
func (a *Auth) verifyWithSkew(ctx context.Context, token string, skew time.Duration) (*Identity, error) {
	id, err := a.sessionIdentity(ctx, token)
	if err != nil {
		return nil, err
	}
	rules := &Auth{issuer: a.issuer, proxyIssuer: a.proxyIssuer, audience: a.audience, parties: a.parties, skew: skew}
	if err := rules.checkClaims(id, a.now()); err != nil {
		return nil, err
	}
	return a.withStatus(id)
}

// cookieDirective returns the name and value of a Set-Cookie directive,
// as Clerk's getCookieName and getCookieValue read them.
func cookieDirective(d string) (name, value string) {
	first, _, _ := strings.Cut(d, ";")
	parts := strings.Split(first, "=")
	name = parts[0]
	if len(parts) > 1 {
		value = parts[1]
	}
	return name, value
}

// verifyHandshakeToken verifies a __clerk_handshake token as Clerk's
// verifyHandshakeJwt does: the instance's key, RS256, typ JWT, no machine
// category; it carries Set-Cookie directives in its handshake claim.
func (a *Auth) verifyHandshakeToken(ctx context.Context, token string) ([]string, error) {
	if len(token) > MaxTokenBytes {
		return nil, newError(ReasonTokenInvalid, "the handshake token is too large")
	}
	payload, h, err := a.verifyJWS(ctx, token)
	if err != nil {
		return nil, err
	}
	if h.typ != "" && h.typ != "JWT" || h.cat != "" && h.cat != catSessionToken && h.cat != catIgnore {
		return nil, newError(ReasonTokenInvalid, "the handshake token's typ or cat is not a session's")
	}
	claims, err := decodeClaims(payload)
	if err != nil {
		return nil, err
	}
	list, _ := claims["handshake"].([]any)
	var out []string
	for _, v := range list {
		if s, ok := v.(string); ok && len(s) <= maxHandshakeDirectiveLength && validDirective(s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// validDirective refuses what could split a header: the directives come
// signed from Clerk, but a header is written from them.
func validDirective(s string) bool {
	return !strings.ContainsAny(s, "\r\n\x00")
}

// handshakePayload exchanges a handshake nonce for its cookie directives
// through the Backend API (GET /v1/clients/handshake_payload). Any request
// can carry a made-up nonce, so the exchange is Unknown work under the
// Backend API budget, a nonce must look like one, and a nonce that the
// Backend API refused is not sent again for a while.
func (a *Auth) handshakePayload(ctx context.Context, nonce string) ([]string, error) {
	if a.cfg.SecretKey == "" {
		return nil, fmt.Errorf("clerkauth: a handshake nonce arrived, and exchanging it needs CLERK_SECRET_KEY")
	}
	if !nonceShape(nonce) {
		return nil, newError(ReasonTokenInvalid, "the handshake nonce is not of the form Clerk sends")
	}
	if _, refused := a.refusedNonces.Get(nonce); refused {
		return nil, newError(ReasonTokenInvalid, "the Backend API refused this handshake nonce lately")
	}
	if !a.backendBudget.Acquire(budget.Unknown) {
		return nil, newError(ReasonMachineVerifierBusy, "the Backend API budget is spent; the nonce is not exchanged")
	}
	defer a.backendBudget.Release()
	var payload struct {
		Directives []string `json:"directives"`
	}
	if err := a.backendAPI(ctx, http.MethodGet, "/clients/handshake_payload?nonce="+url.QueryEscape(nonce), "/v1/clients/handshake_payload", nil, &payload); err != nil {
		if definitive(err) {
			a.refusedNonces.Add(nonce, struct{}{})
		}
		return nil, err
	}
	out := payload.Directives[:0:0]
	for _, d := range payload.Directives {
		if len(d) <= maxHandshakeDirectiveLength && validDirective(d) {
			out = append(out, d)
		}
	}
	return out, nil
}

// maxNonceBytes bounds a handshake nonce: Clerk's are a few dozen
// characters.
const maxNonceBytes = 256

// nonceShape: Clerk's nonces are short strings of URL-safe characters
// (RFC 3986's unreserved set); anything else is not sent to Clerk.
func nonceShape(s string) bool {
	if s == "" || len(s) > maxNonceBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			return false
		}
	}
	return true
}

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

// refreshCall makes the refresh request and reads its answer.
func (a *Auth) refreshCall(c *cookieRequest, path string, body any) (RequestState, string) {
	var none RequestState
	var out struct {
		Cookies []string `json:"cookies"`
	}
	if err := a.backendAPI(c.r.Context(), http.MethodPost, path, "/v1/sessions/{sid}/refresh", body, &out); err != nil {
		if be, ok := err.(*backendAPIError); ok && be.code != "" {
			if be.code == "unexpected_error" {
				return none, refreshFetchError
			}
			return none, be.code
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
	ctx, cancel := context.WithTimeout(reqCtx, a.cfg.KeyFetchTimeout)
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
		return e.Reason
	}
	if _, ok := err.(*backendAPIError); ok {
		return "backend-api"
	}
	return "other"
}

// readCookieRequest reads the cookies and parameters the cookie side
// needs, choosing suffixed or unsuffixed cookies by Clerk's rules.
func (a *Auth) readCookieRequest(c *cookieRequest, r *http.Request) {
	c.auth, c.r = a, r
	c.jar.parse(r.Header["Cookie"], &a.cookieNames.kept)
	if strings.Contains(r.URL.RawQuery, "__clerk_") {
		c.query = r.URL.Query()
	}
	c.suffixed = a.usesSuffixedCookies(c)
	c.session = c.pick(SessionCookie, a.cookieNames.sessionSuffixed)
	c.refresh = c.jar.get(a.cookieNames.refreshSuffixed)
	c.clientUAT = jsParseInt(c.pick(cookieClientUAT, a.cookieNames.clientUATSuffixed))
	c.devBrowser = cmp.Or(c.query.Get(cookieDevBrowser), c.pick(cookieDevBrowser, a.cookieNames.devBrowserSuffixed))
	c.handshake = cmp.Or(c.query.Get(cookieHandshake), c.jar.get(cookieHandshake))
	c.nonce = cmp.Or(c.query.Get(cookieHandshakeNonce), c.jar.get(cookieHandshakeNonce))
	c.redirectCount = jsNumber(c.jar.get(cookieRedirectCount))
}

// pick returns the suffixed or the unsuffixed cookie, as chosen.
func (c *cookieRequest) pick(name, suffixed string) string {
	if c.suffixed {
		return c.jar.get(suffixed)
	}
	return c.jar.get(name)
}

// cookieNames are the instance's suffixed cookie names and the list of
// every name the cookie side reads, built once.
type cookieNames struct {
	sessionSuffixed, clientUATSuffixed, devBrowserSuffixed, refreshSuffixed string
	kept                                                                    [jarSize]string
}

func newCookieNames(suffix string) cookieNames {
	n := cookieNames{
		sessionSuffixed:    SessionCookie + "_" + suffix,
		clientUATSuffixed:  cookieClientUAT + "_" + suffix,
		devBrowserSuffixed: cookieDevBrowser + "_" + suffix,
		refreshSuffixed:    cookieRefresh + "_" + suffix,
	}
	n.kept = [jarSize]string{
		SessionCookie, cookieClientUAT, cookieDevBrowser, cookieHandshake, cookieHandshakeNonce, cookieRedirectCount,
		n.sessionSuffixed, n.clientUATSuffixed, n.devBrowserSuffixed, n.refreshSuffixed, cookieHandshakeStarted,
	}
	return n
}

// usesSuffixedCookies is Clerk's choice between __session_<suffix> and
// __session (AuthenticateContext.usesSuffixedCookies), made from unverified
// claims: the choice only says which cookie to verify.
func (a *Auth) usesSuffixedCookies(c *cookieRequest) bool {
	// Clerk reads an empty cookie as an absent one.
	suffixedUAT, uat := c.jar.get(a.cookieNames.clientUATSuffixed), c.jar.get(cookieClientUAT)
	suffixedSession := c.jar.get(a.cookieNames.sessionSuffixed)
	session := c.jar.get(SessionCookie)
	plain := a.peek(session)
	c.plainToken, c.plainFacts = session, plain
	if session != "" {
		if !jsTruthy(plain.iss) {
			return false // no issuer (or not a token): an old unsuffixed cookie
		}
		// Clerk compares with the publishable key's Frontend API host; the
		// issuer is that host unless IssuerDomain says otherwise.
		if iss, ok := plain.iss.(string); !ok || !sameIssuerHost(iss, a.issuer) {
			return true // another instance's token: ours must be the suffixed one
		}
	}
	if suffixedUAT == "" && suffixedSession == "" {
		return false
	}
	suffixedFacts := plain
	if suffixedSession != session {
		suffixedFacts = a.peek(suffixedSession)
	}
	sessionIat, suffixedIat := plain.iat, suffixedFacts.iat
	if suffixedUAT != "0" && uat != "0" && sessionIat > suffixedIat {
		return false
	}
	if suffixedUAT == "0" && uat != "0" {
		return false
	}
	if a.development {
		expired := suffixedFacts.decoded && suffixedFacts.hasExp && suffixedFacts.exp <= math.Floor(float64(a.now().UnixMilli())/1000)
		if suffixedUAT != "0" && uat == "0" && expired {
			return false
		}
	}
	if suffixedUAT == "" && suffixedSession != "" {
		return false
	}
	return true
}

// schemeRE is Clerk's /https?:\/\//gi.
var schemeRE = regexp.MustCompile(`(?i)https?://`)

// jsTruthy is JavaScript's truthiness of a decoded JSON value.
func jsTruthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != ""
	case float64:
		return v != 0 && !math.IsNaN(v)
	}
	return true
}

// jsParseInt is Number.parseInt(s) || 0: leading whitespace, an optional
// sign, then decimal digits; anything else is 0.
func jsParseInt(s string) int64 {
	s = strings.TrimLeft(s, " \t\n\r\v\f")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var n int64
	digits := 0
	for _, ch := range s {
		if ch < '0' || ch > '9' {
			break
		}
		if n > (math.MaxInt64-9)/10 {
			break
		}
		n = n*10 + int64(ch-'0')
		digits++
	}
	if digits == 0 {
		return 0
	}
	if neg {
		return -n
	}
	return n
}

// jsNumber is Number(s) || 0 for the redirect counter.
func jsNumber(s string) float64 {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return 0
	}
	return f
}

// formatJSNumber writes a number as JavaScript's String(n) does for the
// small counts here.
func formatJSNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// cookieJar holds the few cookies Clerk reads (cookieNames.kept), found
// in one pass over the Cookie header: every other cookie is skipped as it
// is scanned, so a header of thousands of cookies costs its length and no
// memory. The first of repeated names wins, as in the cookie package Clerk
// uses; values are unquoted and percent-decoded as Clerk's are.
type cookieJar struct {
	names  *[jarSize]string
	values [jarSize]string
	seen   uint16
}

// jarSize is the number of cookie names the cookie side reads.
const jarSize = 11

func (j *cookieJar) parse(lines []string, names *[jarSize]string) {
	j.names = names
	scanCookies(lines, func(k, v string) bool {
		for i := range names {
			if names[i] == k {
				if j.seen&(1<<i) == 0 {
					j.values[i], j.seen = cookieValue(v), j.seen|1<<i
				}
				break
			}
		}
		return true
	})
}

// get returns a kept cookie's value ("" when absent). name must be one of
// the kept names.
func (j *cookieJar) get(name string) string {
	for i := range j.names {
		if j.names[i] == name {
			return j.values[i]
		}
	}
	return ""
}

// sameIssuerHost compares two issuers without their schemes, as Clerk's
// tokenBelongsToInstance does (it strips every http:// and https://, in
// any case).
func sameIssuerHost(iss, ours string) bool {
	if iss == ours {
		return true // the everyday case, without the regexp's allocations
	}
	return schemeRE.ReplaceAllString(iss, "") == schemeRE.ReplaceAllString(ours, "")
}

// crossOriginNavigation is Clerk's shouldForceHandshakeForCrossDomain: a
// page load that came from another site, not from Clerk's own pages, on
// the first try.
func (a *Auth) crossOriginNavigation(c *cookieRequest) bool {
	if c.r.Method != http.MethodGet || headerValue(c.r.Header, "Sec-Fetch-Dest") != "document" || c.redirectCount != 0 {
		return false
	}
	ref := headerValue(c.r.Header, "Referer")
	if ref == "" {
		return false
	}
	ru, err := url.Parse(ref)
	if err != nil || ru.Scheme == "" || ru.Host == "" {
		return false
	}
	if u := c.url(); strings.EqualFold(ru.Scheme+"://"+ru.Host, u.Scheme+"://"+u.Host) {
		return false
	}
	host := ru.Hostname()
	if host == a.frontendAPI || host == a.proxyHost {
		return false
	}
	if a.development && (isDevAccountPortalHost(host)) {
		return false
	}
	if accounts := accountPortal(a.frontendAPI, ""); accounts != "" && strings.EqualFold(strings.TrimSuffix(accounts, "/"), ru.Scheme+"://"+ru.Host) {
		return false
	}
	return true
}

// isDevAccountPortalHost: Clerk's development Account Portal hosts.
func isDevAccountPortalHost(host string) bool {
	for _, s := range []string{".lcl.dev", ".lclstage.dev", ".lclclerk.com"} {
		if strings.HasPrefix(host, "accounts.") && strings.HasSuffix(host, s) {
			return true
		}
	}
	for _, s := range []string{".accounts.dev", ".accountsstage.dev", ".accounts.lclclerk.com"} {
		if strings.HasSuffix(host, s) && !strings.HasSuffix(host, ".clerk"+s) {
			return true
		}
	}
	return false
}

// handshakeReasons explains Clerk's handshake reasons (__clerk_hs_reason,
// X-Clerk-Auth-Reason on the 307) for people reading them in logs.
var handshakeReasons = map[string]string{
	hsDevBrowserMissing:            "development instance: the browser has no dev browser cookie (__clerk_db_jwt) yet; the Frontend API gives it one. Normal on a first visit, or after cookies were cleared.",
	hsDevBrowserSync:               "development instance: the dev browser token arrived in the URL (from Clerk's pages); the handshake stores it as a cookie.",
	hsSessionTokenWithoutUAT:       "a __session cookie without __client_uat: the session cookie cannot be trusted alone, so the Frontend API confirms the client's state.",
	hsUATWithoutSessionToken:       "__client_uat says signed in but there is no __session cookie (it expired in the browser, typically a tab reopened after a minute): the Frontend API sets a fresh one.",
	hsSessionTokenIATBeforeUAT:     "the session cookie was issued before the browser last signed in or out (__client_uat): it is stale, so the Frontend API sets the current one.",
	hsSessionTokenNBF:              "the session token is not valid yet (nbf in the future): is this server's clock behind?",
	hsSessionTokenIatInFuture:      "the session token was issued in the future (iat): is this server's clock behind?",
	hsPrimaryDomainCrossOrigin:     "a page load arriving from another site while signed in: the handshake confirms the cookies are this domain's session.",
	"satellite-needs-syncing":      "a satellite domain syncing with its primary (not implemented by clerkauth).",
	"active-organization-mismatch": "organization sync: the URL names another organization than the active one (not implemented by clerkauth).",
}

// refreshReasons explains the "-refresh-<why>" part of
// session-token-expired-refresh-<why>.
var refreshReasons = map[string]string{
	refreshNonEligibleNoCookie: "there is no __refresh cookie, so the session could not be refreshed in place",
	refreshNonEligibleNonGet:   "the request was not a GET, so the session was not refreshed in place",
	refreshInvalidSessionToken: "the Backend API refreshed the session, but the new token did not verify (keys of another instance?)",
	refreshMissingAPIClient:    "refreshing needs the secret key (CLERK_SECRET_KEY)",
	refreshMissingSessionID:    "the expired token has no sid claim",
	refreshDecodeFailed:        "the expired token could not be decoded",
	refreshFetchError:          "the Backend API could not be reached",
	refreshUnexpectedBAPIError: "the Backend API answered something unexpected",
	"null":                     "the refresh was attempted but gave no cookies",
}

// ExplainHandshakeReason explains a handshake reason as Clerk spells it
// (from X-Clerk-Auth-Reason or __clerk_hs_reason), e.g.
// "session-token-expired-refresh-non-eligible-no-refresh-cookie". ok is
// false for a reason it does not know.
func ExplainHandshakeReason(reason string) (explanation string, ok bool) {
	if e, ok := handshakeReasons[reason]; ok {
		return e, true
	}
	if why, ok := strings.CutPrefix(reason, hsSessionTokenExpired+"-refresh-"); ok {
		e := "the session cookie has expired (normal: it lives about 60 seconds, and clerk-js refreshes it only while a tab is open); "
		if r, known := refreshReasons[why]; known {
			return e + r + "; the handshake sets a fresh one.", true
		}
		return e + "the Backend API refused to refresh it (" + why + "); the handshake sets a fresh one.", true
	}
	return "", false
}
