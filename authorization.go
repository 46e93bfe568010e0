package clerkauth

import (
	"encoding/json"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// This file is Clerk's authorization model, as @clerk/shared's has()
// (createCheckAuthorization) and its JWT payload parser define it: roles
// and permissions in the active organization, billing features and plans,
// and step-up reverification. TestChecksAgreeWithClerk runs both on the
// same generated claims.

// Entitlement is one feature or plan of a session (the fea and pla
// claims, "o:reports,u:export,ou:sso") and whom it belongs to.
type Entitlement struct {
	Name string
	Org  bool // the active organization has it ("o:" or "ou:")
	User bool // the user has it ("u:" or "ou:")
}

// hasEntitlement is Clerk's checkForFeatureOrPlan: "x" matches an
// entitlement of the organization or the user; "org:x" (also "o:",
// "organization:") only the organization's, "user:x" (also "u:") only the
// user's. Like Clerk, only the part after the first colon names the item
// ("org:x:y" asks for x), and an unknown scope matches nothing.
func hasEntitlement(list []Entitlement, query string) bool {
	parts := strings.Split(query, ":")
	scope, name := parts[0], ""
	explicit := len(parts) > 1
	if explicit {
		name = parts[1]
	}
	if name == "" {
		name = scope
	}
	orgOnly := explicit && (scope == "o" || scope == "org" || scope == "organization")
	userOnly := explicit && (scope == "u" || scope == "user")
	if explicit && !orgOnly && !userOnly {
		return false
	}
	for _, e := range list {
		if e.Name == name && (e.Org && !userOnly || e.User && !orgOnly) {
			return true
		}
	}
	return false
}

// prefixWithOrg is Clerk's: any run of leading "org:" becomes one.
func prefixWithOrg(s string) string {
	for strings.HasPrefix(s, "org:") {
		s = s[len("org:"):]
	}
	return "org:" + s
}

// ReverificationLevel is a step-up requirement: the session's factor of
// Level must have been verified less than AfterMinutes ago. Level is
// "first_factor", "second_factor" or "multi_factor".
type ReverificationLevel struct {
	Level        string `json:"level"`
	AfterMinutes int    `json:"afterMinutes"`
}

// Clerk's presets for reverification (has({ reverification: "strict" })).
var (
	StrictMFA = ReverificationLevel{Level: "multi_factor", AfterMinutes: 10}
	Strict    = ReverificationLevel{Level: "second_factor", AfterMinutes: 10}
	Moderate  = ReverificationLevel{Level: "second_factor", AfterMinutes: 60}
	Lax       = ReverificationLevel{Level: "second_factor", AfterMinutes: 1440}
)

// neverVerified is a FactorAge entry for a factor the session has not
// verified (or an fva claim that Clerk would not read).
const neverVerified = -1

// parseFactorAge reads the fva claim, [firstFactorAgeMinutes,
// secondFactorAgeMinutes], as Clerk's isValidFactorAge judges it: each a
// finite number that is -1 or at least 0. Anything else (absent, another
// shape) reads as never verified, which fails every reverification check,
// as it does in Clerk. Fractions are floored: AfterMinutes is a whole
// number, so "AfterMinutes > age" is unchanged.
func parseFactorAge(v any) [2]int {
	never := [2]int{neverVerified, neverVerified}
	list, ok := v.([]any)
	if !ok || len(list) != 2 {
		return never
	}
	var out [2]int
	for i, e := range list {
		n, ok := e.(json.Number)
		if !ok {
			return never
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || (f != -1 && f < 0) {
			return never
		}
		if f >= math.MaxInt32 {
			out[i] = math.MaxInt32
		} else {
			out[i] = int(math.Floor(f))
		}
	}
	return out
}

// passes is Clerk's checkReverificationAuthorization for a valid level.
func (l ReverificationLevel) passes(age [2]int) bool {
	first, second := age[0], age[1]
	if first == neverVerified && second == neverVerified {
		return false
	}
	firstFresh := first != neverVerified && l.AfterMinutes > first
	secondFresh := second != neverVerified && l.AfterMinutes > second
	switch l.Level {
	case "first_factor":
		return firstFresh
	case "second_factor":
		if second == neverVerified {
			return firstFresh // no second factor set up: the first must do
		}
		return secondFresh
	case "multi_factor":
		switch {
		case second == neverVerified:
			return firstFresh
		case first == neverVerified:
			return false
		}
		return firstFresh && secondFresh
	}
	return false
}

func (l ReverificationLevel) valid() bool {
	switch l.Level {
	case "first_factor", "second_factor", "multi_factor":
		return l.AfterMinutes > 0
	}
	return false
}

// orgPermissionsV2 is Clerk's parser for the permissions of a v2 token:
// o.per lists permission names; o.fpm holds, for each organization feature
// of fea in order, a decimal whose bit j grants permission j. Entries that
// are not plain decimals grant nothing; decimals of any length are read.
func orgPermissionsV2(orgFeatures []string, per, fpm string) []string {
	if per == "" || fpm == "" {
		return nil
	}
	perms := strings.Split(per, ",")
	for i := range perms {
		perms[i] = strings.TrimSpace(perms[i])
	}
	masks := strings.Split(fpm, ",")
	var out []string
	for i, feature := range orgFeatures {
		if i >= len(masks) {
			break
		}
		bit, ok := decimalBits(strings.TrimSpace(masks[i]))
		if !ok {
			continue
		}
		for j, p := range perms {
			if bit(j) {
				out = append(out, "org:"+feature+":"+p)
			}
		}
	}
	return out
}

// decimalBits reads a string of ASCII digits (leading zeros allowed, no
// sign, any length) as a bit set.
func decimalBits(dec string) (func(j int) bool, bool) {
	if dec == "" || strings.TrimLeft(dec, "0123456789") != "" {
		return nil, false
	}
	if n, err := strconv.ParseUint(dec, 10, 64); err == nil {
		return func(j int) bool { return j < 64 && n&(1<<j) != 0 }, true
	}
	bits, _ := new(big.Int).SetString(dec, 10)
	return func(j int) bool { return bits.Bit(j) == 1 }, true
}

// Role requires the identity's active organization role to be role, as
// has({ role }) does: Role("admin") and Role("org:admin") are the same. It
// fails with 403 missing-role.
func Role(role string) Check {
	return Check{Reason: ReasonMissingRole, Allow: func(id *Identity) bool { return id.HasRole(role) }}
}

// Permission requires perm in the identity's active organization, for
// example Permission("org:invoices:create").
func Permission(perm string) Check {
	return Check{Reason: ReasonMissingPermission, Allow: func(id *Identity) bool { return id.HasPermission(perm) }}
}

// Feature requires a billing feature (the fea claim), as
// has({ feature: name }): "x" is the organization's or the user's,
// "org:x" (or "o:x", "organization:x") only the organization's, "user:x"
// (or "u:x") only the user's. It fails with 403 missing-feature.
func Feature(name string) Check {
	return Check{Reason: ReasonMissingFeature, Allow: func(id *Identity) bool { return id.HasFeature(name) }}
}

// Plan requires a billing plan (the pla claim), scoped like Feature. It
// fails with 403 missing-plan.
func Plan(name string) Check {
	return Check{Reason: ReasonMissingPlan, Allow: func(id *Identity) bool { return id.HasPlan(name) }}
}

// Reverification requires a recent verification, as has({ reverification })
// does: for Strict, the second factor (or the first, for users without
// one) verified less than 10 minutes ago. It fails with 403 and the body
// Clerk's front end expects ({"clerk_error":{"type":"forbidden","reason":
// "reverification-error",…}}), so that clerk-js's useReverification()
// prompts the user and retries. It panics on a level Clerk would not
// accept (an unknown Level, AfterMinutes not positive): a programming error
// best found at start-up.
func Reverification(level ReverificationLevel) Check {
	if !level.valid() {
		panic(`clerkauth: Reverification: Level must be "first_factor", "second_factor" or "multi_factor" and AfterMinutes positive`)
	}
	return Check{
		Reason:   ReasonReverificationError,
		Allow:    func(id *Identity) bool { return id.Reverified(level) },
		reverify: &level,
	}
}

// AnyOf passes when at least one of checks passes. When all fail, the
// answer is the first check's (its reason, and for a Reverification check
// its body). It panics when given no checks, a check without Allow, or
// one of Require's options (UnauthenticatedURL, UnauthorizedURL, NotFound).
func AnyOf(checks ...Check) Check {
	if len(checks) == 0 {
		panic("clerkauth: AnyOf needs at least one Check")
	}
	for _, c := range checks {
		if c.Allow == nil {
			panic("clerkauth: AnyOf: a Check has a nil Allow function")
		}
		if c.option != nil {
			// It always passes, so AnyOf would let everyone in.
			panic("clerkauth: AnyOf: " + c.option.name + " is an option of Require, not a condition; pass it to Require beside AnyOf")
		}
		if c.allowPending {
			// Likewise: AnyOf(AllowPending(), Role(…)) would admit anyone.
			panic("clerkauth: AnyOf: AllowPending is an option of Require, not a condition; pass it to Require beside AnyOf")
		}
	}
	first := checks[0]
	first.audiences = nil
	for _, c := range checks {
		first.audiences = append(first.audiences, c.audiences...)
	}
	first.Allow = func(id *Identity) bool {
		for _, c := range checks {
			if c.Allow(id) {
				return true
			}
		}
		return false
	}
	return first
}

// Scope requires a machine token (API key, M2M or OAuth token) that was
// granted scope. Session tokens have no scopes, so a session fails it:
// combine with AnyOf to let users in by another rule. It fails with 403
// missing-scope.
func Scope(scope string) Check {
	return Check{Reason: ReasonMissingScope, Allow: func(id *Identity) bool { return id.HasScope(scope) }}
}

// TokenTypes restricts a route to some token types, within
// Config.AcceptsToken: Require(TokenTypes(APIKey)) lets only API keys in.
// Another type is answered 401 token-type-mismatch, as the middleware
// answers a type it does not accept. An Identity built by hand without a
// TokenType counts as a session.
func TokenTypes(types ...TokenType) Check {
	allowed := slices.Clone(types)
	return Check{Reason: ReasonTokenTypeMismatch, Allow: func(id *Identity) bool {
		t := id.TokenType
		if t == "" {
			t = SessionToken
		}
		return slices.Contains(allowed, t)
	}}
}

// Audience requires a JWT-template token (getToken({ template }) in
// Clerk's front end) whose aud contains aud, exactly (template names are
// case-sensitive): Require(Audience("convex")) lets the convex template's
// tokens in and refuses plain session tokens, which have no aud, and
// machine tokens. It fails with 401 token-invalid-audience, as the
// verifier answers an aud it does not accept: signing in again would not
// help.
//
// The verifier accepts only the template audiences listed in
// Config.Audience, so aud must be listed there too: Require panics when it
// is not (the route could never be reached), and an empty aud panics here.
// Routes without this check take plain sessions and, as in Clerk, the
// listed templates' tokens too.
func Audience(aud string) Check {
	if aud == "" {
		panic("clerkauth: Audience needs a template name (the aud of its tokens)")
	}
	return Check{
		Reason:    ReasonTokenInvalidAudience,
		audiences: []string{aud},
		Allow: func(id *Identity) bool {
			return !isMachineType(id.TokenType) && slices.Contains(id.Audience, aud)
		},
	}
}

// unlistedAudience returns the first audience that checks require and
// Config.Audience does not list, for Require to refuse at start-up.
func (a *Auth) unlistedAudience(checks []Check) (string, bool) {
	for _, c := range checks {
		for _, aud := range c.audiences {
			if !slices.Contains(a.rules.audience, aud) {
				return aud, true
			}
		}
	}
	return "", false
}

// AllowPending is a Check for [Auth.Require] that lets a session with
// pending tasks (Identity.SessionStatus "pending") through on this route,
// as Clerk's treatPendingAsSignedOut: false does: the page where the user
// chooses an organization, or the API it calls. Every other check still
// applies. Without it, a pending session is signed out everywhere
// (session-pending), and a page load of a protected route is sent to
// <sign-in page>/tasks.
//
// Behind [Auth.Middleware], the route must be public to the middleware
// (in PublicRoutes): the middleware refuses a pending session on a route
// it protects before Require runs. A pending session signed in by the
// session cookie is still refused on an unsafe request from another
// origin (cross-origin-request), as an active one is.
func AllowPending() Check {
	return Check{Reason: ReasonSessionPending, Allow: func(*Identity) bool { return true }, allowPending: true}
}

// UnauthenticatedURL is a Check for [Auth.Require] that sends a request it
// refuses as not signed in to u, as auth.protect({ unauthenticatedUrl })
// does in Clerk's Next.js SDK: a 307 (Cache-Control: no-store) to
// u?redirect_url=<this request's URL>, page loads and API calls alike, in
// place of the redirect to the sign-in page or the 401. The redirect_url
// (the URL the browser addressed, as for the sign-in page; Clerk's
// redirect adds none) lets a sign-in page of your own send the user back.
// A 503 stays a 503 (the session may be fine), and a caller of the wrong
// kind (token-type-mismatch, token-invalid-audience) or one that presented
// a machine token keeps its 401, as Clerk answers machine tokens.
//
// u is a path on this server ("/sign-in") or an absolute http(s) URL
// without user information; Require panics on anything else, and on an
// option given twice. The check itself always passes.
//
// Behind [Auth.Middleware], the route must be public to the middleware
// (in PublicRoutes): the middleware refuses a signed-out request to a
// route it protects before Require runs. See docs/authorization.md.
func UnauthenticatedURL(u string) Check {
	return Check{Allow: func(*Identity) bool { return true }, option: &protectOption{name: optUnauthenticatedURL, url: u}}
}

// UnauthorizedURL is a Check for [Auth.Require] that sends a signed-in
// request failing one of the route's other checks (Role, Permission,
// Feature, Plan, TokenTypes, Audience, your own) to u, as
// auth.protect(params, { unauthorizedUrl }) does: a 307 (Cache-Control:
// no-store) to u as given, in place of the 403 (for a session failing
// TokenTypes or Audience, of the 401, as Clerk's handleUnauthorized
// answers a session of the wrong kind). Two refusals keep their
// 403: a failed Reverification check (clerk-js's useReverification reads
// its body to prompt the user) and a cross-site request riding the session
// cookie (cross-origin-request: a 307 would replay the forged request's
// method and body at u). A machine token keeps its answer (401 or 403).
//
// u is checked as for UnauthenticatedURL. The check itself always passes.
// Failed checks are Require's alone, so UnauthorizedURL works behind
// [Auth.Middleware] on any route.
func UnauthorizedURL(u string) Check {
	return Check{Allow: func(*Identity) bool { return true }, option: &protectOption{name: optUnauthorizedURL, url: u}}
}

// NotFound is a Check for [Auth.Require] that hides the route, as
// auth.protect() does in Clerk's Next.js SDK (Next's notFound()): a
// signed-out request that is not a page load, and a signed-in request that
// fails a check, are answered 404 exactly as http.NotFound answers ("404
// page not found", text/plain), with no reason code, WWW-Authenticate or
// JSON, so that the answer does not tell the route exists. One header
// differs: Cache-Control: no-store, lest a cache keep the 404 and serve it
// to a user the route would let in.
//
// A signed-out page load still goes to the sign-in page (as in Next.js;
// 404 without one), and UnauthenticatedURL and UnauthorizedURL, given too,
// take precedence. What stays as it is: a 503, and the refusals
// UnauthenticatedURL and UnauthorizedURL leave alone (a Reverification
// check, a cross-site request, a machine token, a caller of the wrong
// kind while signed out). Config.RefusalHandler is still offered each
// refusal first, as a Refusal with Status 404 and the real reason, which
// the debug log keeps too.
//
// Behind [Auth.Middleware], signed-out requests reach Require only on
// routes public to the middleware (in PublicRoutes); a failed check is
// hidden on any route.
func NotFound() Check {
	return Check{Allow: func(*Identity) bool { return true }, option: &protectOption{name: optNotFound}}
}
