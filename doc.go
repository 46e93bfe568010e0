// Package clerkauth protects net/http servers with Clerk sessions.
//
// It does for a Go back end what clerkMiddleware and createRouteMatcher do
// for a Next.js app: every request is authenticated from the Clerk session
// token (the "Authorization: Bearer" header, or the __session cookie that
// Clerk's front-end SDKs set), the verified [Identity] is put into the
// request context, and routes that need a session answer signed-out
// callers the way users expect: browser page loads are redirected to the
// sign-in page, API calls get 401 with a reason code.
//
//	auth, err := clerkauth.New(clerkauth.Config{
//		PublishableKey: os.Getenv("CLERK_PUBLISHABLE_KEY"),
//		PublicRoutes:   []string{"/", "/sign-in(.*)", "/api/webhooks(.*)"},
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	http.ListenAndServe(":8080", auth.Middleware(mux))
//
// Handlers read the user with [IdentityFromContext], and guard individual
// handlers with [Auth.Require] and checks that mean what Clerk's has()
// means: [Role], [Permission], [Feature], [Plan], [Reverification] and
// [AnyOf]. As with auth.protect()'s options, [UnauthenticatedURL],
// [UnauthorizedURL] and [NotFound] choose how a route refuses: a redirect,
// or a 404 that hides it.
//
// Server-rendered pages authenticate with Clerk's cookies; with a
// publishable key, the middleware reads them by Clerk's rules and sends a
// page load with a stale session through Clerk's handshake (a round trip
// to the Frontend API that refreshes the cookies), as Clerk's own server
// SDK does, refuses cross-site requests that carry only the cookie, and
// exposes the decision as [Auth.AuthenticateRequest].
//
// Programs call APIs too: with Config.AcceptsToken, the middleware also
// accepts Clerk's machine tokens in the Authorization header (API keys,
// M2M tokens and OAuth access tokens, opaque or JWT), verified through the
// Backend API (cached, shared between concurrent requests, bounded against
// floods) or with the instance's keys. [Scope] and [TokenTypes] guard
// routes by scope and by kind of caller; a session is never taken for a
// machine, nor the reverse.
//
// Code without an http.Request (gRPC, Connect, queues, websockets) verifies
// a credential with [Auth.VerifyCredential], by the code of the
// middleware's Bearer path, runs checks with [Identity.Authorize], and
// answers with the error's [Error.Status] and reason code. The grpcauth
// and connectauth modules do that for gRPC and Connect servers.
//
// # Threat model
//
// The middleware trusts only the keys of the configured Clerk instance:
// CLERK_JWT_KEY, or the instance's JWKS (from the Frontend API named by the
// publishable key, from CLERK_JWT_ISSUER_DOMAIN, or from the Backend API
// with the secret key). Tokens must be RS256-signed by one of those keys,
// carry sub and exp, and name the instance's issuer. It never accepts
// unsigned or HMAC tokens, never follows jku, x5u or jwk headers, and never
// writes a token, a key, a secret or an error text to a response or a log:
// clients get a status and a reason code (see the Reason constants).
// Paths that a router could resolve differently from the route matcher
// (encoded slashes or reserved characters, dot segments, other case) are
// treated as protected, and no request without a session reaches a
// protected handler, CORS preflights included.
//
// Clerk webhooks are handled by [WebhookHandler]: it verifies Svix
// signatures on the raw body, delivers typed user and organization events
// ([UserEventFuncs], [OrganizationEventFuncs], …), runs each delivery's
// callback once per svix-id ([DedupStore];
// [github.com/clerkauth/clerkauth/sqldedup.Store] for several replicas on
// one database, the callback writing in the delivery's transaction from
// [github.com/clerkauth/clerkauth/sqldedup.Tx]), and logs (and reports
// through OnError) why a delivery failed. Package clerktest helps test
// code that uses this package.
//
// # Where things are
//
// One request, in the order it is handled:
//
//   - middleware.go: Middleware and Require; decide, then write.
//   - request.go: one reading of the request: the URL the browser
//     addressed (TrustedProxies), "is this a page load", the cookies.
//   - routematch.go, routepattern.go, routepolicy.go: patterns compiled
//     (path-to-regexp) into the matcher, and the fail-closed policy.
//   - authenticate.go: the decision (AuthenticateRequest, RequestState),
//     and a Bearer credential verified by its type.
//   - verify.go, jws.go, claims.go, keys.go: session tokens: the JWS, the
//     claim rules, every claim parser, the
//     instance's keys and their cache (calls coalesced by internal/flight,
//     as are users' and machine tokens').
//   - handshake.go, handshakereasons.go, refresh.go: the cookie side:
//     Clerk's cookie rules, the handshake and its return, the refresh.
//   - satellite.go: its multi-domain steps (a satellite's sync with the
//     primary, the primary's answer and cross-origin sync) and the
//     organization a URL names (OrganizationSync).
//   - machine.go: machine tokens (API keys, M2M, OAuth), opaque and JWT.
//   - credential.go: the same verification without an http.Request.
//   - identity.go, authorization.go: the Identity, and every Check
//     constructor (pending.go: the pending sessions AllowPending admits;
//     protect.go: the refusals UnauthenticatedURL, UnauthorizedURL and
//     NotFound change).
//   - respond.go, errors.go: the answers, and the reason codes.
//   - backendapi.go: every Backend API call, under one budget
//     (internal/budget), made by the client in internal/backendapi.
//   - hooks.go, logging.go: observability hooks, rate-limited warnings.
//
// Around it: config.go (New, every default, once), fapiproxy.go (the
// Frontend API proxy), multi.go (several instances, by host), csp.go,
// currentuser.go and templatetoken.go (Backend API reads for a signed-in
// user), diagnose.go (ExplainToken and the doctor's checks), webhook.go,
// webhookevents.go and dedup.go (webhooks).
package clerkauth
