package clerkauth

import "strings"

// Clerk's reasons for a handshake (AuthErrorReason), sent to the Frontend
// API as __clerk_hs_reason and in X-Clerk-Auth-Reason.
const (
	hsDevBrowserMissing        = "dev-browser-missing"
	hsDevBrowserSync           = "dev-browser-sync"
	hsSessionTokenWithoutUAT   = "session-token-but-no-client-uat"
	hsUATWithoutSessionToken   = "client-uat-but-no-session-token"
	hsSessionTokenIATBeforeUAT = "session-token-iat-before-client-uat"
	hsSessionTokenExpired      = "session-token-expired"
	hsSessionTokenNBF          = "session-token-nbf"
	hsSessionTokenIatInFuture  = "session-token-iat-in-the-future"
	hsPrimaryDomainCrossOrigin = "primary-domain-cross-origin-sync"
	refreshNonEligibleNoCookie = "non-eligible-no-refresh-cookie"
	refreshNonEligibleNonGet   = "non-eligible-non-get"
	refreshInvalidSessionToken = "invalid-session-token"
	refreshMissingAPIClient    = "missing-api-client"
	refreshMissingSessionID    = "expired-session-token-missing-sid-claim"
	refreshDecodeFailed        = "expired-session-token-decode-failed"
	refreshFetchError          = "fetch-error"
	refreshUnexpectedBAPIError = "unexpected-bapi-error"
)

// handshakeReasons explains Clerk's handshake reasons (__clerk_hs_reason,
// X-Clerk-Auth-Reason on the 307) for people reading them in logs.
var handshakeReasons = map[string]string{
	hsDevBrowserMissing:        "development instance: the browser has no dev browser cookie (__clerk_db_jwt) yet; the Frontend API gives it one. Normal on a first visit, or after cookies were cleared.",
	hsDevBrowserSync:           "development instance: the dev browser token arrived in the URL (from Clerk's pages); the handshake stores it as a cookie.",
	hsSessionTokenWithoutUAT:   "a __session cookie without __client_uat: the session cookie cannot be trusted alone, so the Frontend API confirms the client's state.",
	hsUATWithoutSessionToken:   "__client_uat says signed in but there is no __session cookie (it expired in the browser, typically a tab reopened after a minute): the Frontend API sets a fresh one.",
	hsSessionTokenIATBeforeUAT: "the session cookie was issued before the browser last signed in or out (__client_uat): it is stale, so the Frontend API sets the current one.",
	hsSessionTokenNBF:          "the session token is not valid yet (nbf in the future): is this server's clock behind?",
	hsSessionTokenIatInFuture:  "the session token was issued in the future (iat): is this server's clock behind?",
	hsPrimaryDomainCrossOrigin: "a page load arriving from another site while signed in: the handshake confirms the cookies are this domain's session.",
	hsSatelliteNeedsSyncing:    "a satellite domain's page load without a session of its own (or back from signing in on the primary, __clerk_synced=false): it syncs with the primary first.",
	hsPrimaryRespondsToSyncing: "development instance, on the primary: a satellite asked to sync (__clerk_redirect_url); the browser goes back to it with the dev browser token.",
	hsActiveOrgMismatch:        "organization sync: the URL names another organization (or the personal account) than the session's active one; the Frontend API activates it for a member.",
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
