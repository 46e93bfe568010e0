package clerkauth

import (
	"cmp"
	"context"
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

	"github.com/clerkauth/clerkauth/internal/backendapi"
	"github.com/clerkauth/clerkauth/internal/budget"
	"github.com/clerkauth/clerkauth/internal/jsnum"
	"github.com/clerkauth/clerkauth/internal/urlform"
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

	// maxHandshakeRedirects: the third handshake in a row (counted by the
	// __clerk_redirect_count cookie, which lives 2 seconds) gives up.
	maxHandshakeRedirects = 3
	// handshakeLoopMessage is Clerk's log line for that case.
	handshakeLoopMessage = "Clerk: Refreshing the session token resulted in an infinite redirect loop. This usually means that your Clerk instance keys do not match - make sure to copy the correct publishable and secret keys from the Clerk dashboard."
)

// Limits of what the Frontend API and the Backend API hand the cookie
// side.
const (
	maxHandshakeResponseBytes   = 64 << 10
	maxHandshakeDirectiveLength = 8 << 10
)

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
func (a *Auth) authenticateCookie(r *http.Request, tr *verdictTrace) RequestState {
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
		tr.work() // the handshake's return: a token to verify, or a nonce to exchange
		state, err := a.resolveHandshake(r.Context(), &c)
		if err == nil {
			return state
		}
		a.warn(r.Context(), slog.LevelWarn, "clerkauth: the handshake answer could not be used; deciding from the cookies", "error_class", errorClass(err))
	}
	if state, ok := a.syncDomains(&c); ok {
		return state
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
		return a.maybeHandshake(&c, hsSessionTokenWithoutUAT, newError(ReasonSessionTokenButNoClientUAT, "a __session cookie without __client_uat"))
	case c.session == "":
		return a.maybeHandshake(&c, hsUATWithoutSessionToken, newError(ReasonClientUATButNoSessionToken, "__client_uat says signed in, but there is no __session cookie"))
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
		tr.hit()
		id, err = a.fromCache(c.session, f.cached) // seen before: no second lookup
	} else {
		id, err = a.verifySession(r.Context(), c.session, tr)
	}
	if err != nil {
		return a.sessionCookieError(&c, err)
	}
	if !a.satellite && a.crossOriginNavigation(&c) {
		return a.maybeHandshake(&c, hsPrimaryDomainCrossOrigin, newError(ReasonPrimaryDomainCrossOriginSync, "a page load from another site: the cookies may belong to another domain's session"))
	}
	if state, ok := a.syncOrganization(&c, id); ok {
		return state
	}
	return signedInState(id, nil, true)
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
	return a.maybeRedirect(c, hsReason, why, "")
}

// maybeRedirect is maybeHandshake with another destination than the
// Frontend API's handshake (location "": the handshake), for the
// multi-domain sync's redirects, which Clerk counts and limits alike.
func (a *Auth) maybeRedirect(c *cookieRequest, hsReason string, why *Error, location string) RequestState {
	state := signedOutState(why, nil)
	state.HandshakeReason = hsReason
	if !handshakeEligible(c.r) {
		return state
	}
	if c.redirectCount == maxHandshakeRedirects {
		msg := handshakeLoopMessage
		if hsReason == hsSatelliteNeedsSyncing {
			msg = satelliteLoopMessage
		}
		a.warn(c.r.Context(), slog.LevelWarn, msg, "reason", hsReason)
		return state
	}
	h := http.Header{}
	if location == "" {
		h.Set("Location", a.handshakeURL(c, hsReason))
	} else {
		h.Set("Location", location)
	}
	h.Set("Cache-Control", "no-store")
	h.Set("X-Clerk-Auth-Status", string(Handshake))
	h.Set("X-Clerk-Auth-Reason", hsReason)
	h.Add("Set-Cookie", fmt.Sprintf("%s=%s; SameSite=Lax; HttpOnly; Max-Age=2", cookieRedirectCount, jsnum.Format(c.redirectCount+1)))
	if location == "" {
		h.Add("Set-Cookie", a.handshakeStartedCookie(c, handshakeStartedMaxAge))
	}
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
	params := []urlform.Pair{
		{K: "redirect_url", V: hrefWithout(c.url(), cookieDevBrowser, queryLegacyDevBrowse)},
		{K: "__clerk_api_version", V: backendapi.APIVersion},
		{K: "suffixed_cookies", V: strconv.FormatBool(c.suffixed)},
		{K: "__clerk_hs_reason", V: reason},
		{K: "format", V: "nonce"},
	}
	if c.session != "" {
		params = append(params, urlform.Pair{K: SessionCookie, V: c.session})
	}
	if a.development && c.devBrowser != "" {
		params = append(params, urlform.Pair{K: cookieDevBrowser, V: c.devBrowser})
	}
	params = a.orgHandshakeParams(params, c.url())
	return a.frontendAPIBaseFor(c.url()) + "/v1/client/handshake?" + urlform.Serialize(params)
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

// hrefWithout is u's href after URLSearchParams.delete of names: the query
// is re-serialized (as the URL Standard does on any delete), and dropped
// when empty.
func hrefWithout(u *url.URL, names ...string) string {
	var kept []urlform.Pair
	for _, p := range urlform.Parse(u.RawQuery) {
		if !slices.Contains(names, p.K) {
			kept = append(kept, p)
		}
	}
	return href(u, urlform.Serialize(kept))
}

// href is u's href with the query rawQuery (none when empty), as the URL
// Standard serializes it: host in lower case, without the scheme's
// default port, path at least "/".
func href(u *url.URL, rawQuery string) string {
	path := addressedPath(u)
	if path == "" {
		path = "/"
	}
	h := u.Scheme + "://" + canonicalHost(u.Scheme, u.Host) + path
	if rawQuery != "" {
		h += "?" + rawQuery
	}
	return h
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
	rules := a.rules // the whole set, with a day of skew
	rules.skew = skew
	if err := rules.check(id, a.now()); err != nil {
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
	if len(token) > maxTokenBytes {
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
		if backendapi.Definitive(err) {
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

// readCookieRequest reads the cookies and parameters the cookie side
// needs, choosing suffixed or unsuffixed cookies by Clerk's rules.
func (a *Auth) readCookieRequest(c *cookieRequest, r *http.Request) {
	c.auth, c.r = a, r
	c.jar.parse(r.Header["Cookie"], &a.cookieNames.kept)
	if q := r.URL.RawQuery; strings.Contains(q, "__clerk_") || strings.IndexByte(q, '%') >= 0 {
		// A name may be percent-encoded (%5F%5Fclerk_db_jwt): Clerk decodes
		// names before it looks for its own.
		c.query = r.URL.Query()
	}
	c.suffixed = a.usesSuffixedCookies(c)
	c.session = c.pick(SessionCookie, a.cookieNames.sessionSuffixed)
	c.refresh = c.jar.get(a.cookieNames.refreshSuffixed)
	c.clientUAT = jsnum.ParseInt(c.pick(cookieClientUAT, a.cookieNames.clientUATSuffixed))
	c.devBrowser = cmp.Or(c.query.Get(cookieDevBrowser), c.pick(cookieDevBrowser, a.cookieNames.devBrowserSuffixed))
	c.handshake = cmp.Or(c.query.Get(cookieHandshake), c.jar.get(cookieHandshake))
	c.nonce = cmp.Or(c.query.Get(cookieHandshakeNonce), c.jar.get(cookieHandshakeNonce))
	c.redirectCount = jsnum.Number(c.jar.get(cookieRedirectCount))
}

// pick returns the suffixed or the unsuffixed cookie, as chosen.
func (c *cookieRequest) pick(name, suffixed string) string {
	if c.suffixed {
		return c.jar.get(suffixed)
	}
	return c.jar.get(name)
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
		if !jsnum.Truthy(plain.iss) {
			return false // no issuer (or not a token): an old unsuffixed cookie
		}
		// Clerk compares with the publishable key's Frontend API host; the
		// issuer is that host unless IssuerDomain says otherwise.
		if iss, ok := plain.iss.(string); !ok || !sameIssuerHost(iss, a.cookieIssuer) {
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

// sameIssuerHost compares two issuers without their schemes, as Clerk's
// tokenBelongsToInstance does (it strips every http:// and https://, in
// any case).
func sameIssuerHost(iss, ours string) bool {
	if iss == ours {
		return true // the everyday case, without the regexp's allocations
	}
	return schemeRE.ReplaceAllString(iss, "") == schemeRE.ReplaceAllString(ours, "")
}
