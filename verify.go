package clerkauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clerkauth/clerkauth/internal/strictjson"
)

// maxTokenBytes is the largest token the middleware will parse. A Clerk
// session token is 1–2 KiB and a JWT-template token rarely more than 4 KiB;
// anything far larger is refused before any decoding, so that oversized
// input costs nothing.
const maxTokenBytes = 16 << 10

// VerifyToken verifies a Clerk session token (or JWT-template token) and
// returns the identity it carries. The error is an *Error whose Reason says
// what failed (see the Reason constants). It performs, in order: size and
// structure checks, the RS256 allow-list, the key lookup by kid among the
// instance's keys, the signature, and only then the claims: sub, exp
// (required), iss, aud, azp, nbf, iat and the session status.
//
// Tokens that verified are cached (unless Config.TokenCacheSize is negative) until
// they expire; exp and nbf are checked against the clock on every call.
func (a *Auth) VerifyToken(ctx context.Context, token string) (*Identity, error) {
	return a.verifySession(ctx, token, nil)
}

// verifySession is VerifyToken, and tells tr (when not nil) whether the
// cache answered, for Hooks.Decision.
func (a *Auth) verifySession(ctx context.Context, token string, tr *verdictTrace) (*Identity, error) {
	// Before the cache lookup, which would hash the whole string.
	if len(token) > maxTokenBytes {
		return nil, newError(ReasonTokenInvalid, "the token is larger than maxTokenBytes")
	}
	if a.tokens != nil {
		if id := a.tokens.get(token); id != nil && id.TokenType == SessionToken {
			tr.hit()
			return a.fromCache(token, id) // reads the clock once, there
		}
	}

	tr.work()
	now := a.now()
	id, err := a.sessionIdentity(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := a.rules.check(id, now); err != nil {
		return nil, err
	}
	if a.tokens != nil {
		a.tokens.put(token, id, now)
	}
	return a.withStatus(id)
}

// fromCache answers for a session token found in the cache: only the
// clock-dependent checks run again.
func (a *Auth) fromCache(token string, id *Identity) (*Identity, error) {
	if err := a.rules.checkTimes(id, a.now()); err != nil {
		a.tokens.remove(token)
		return nil, err
	}
	return a.withStatus(id)
}

// sessionIdentity verifies a session token's signature and reads its
// claims; the caller checks them.
func (a *Auth) sessionIdentity(ctx context.Context, token string) (*Identity, error) {
	payload, h, err := a.verifyJWS(ctx, token)
	if err != nil {
		return nil, err
	}
	// A machine's JWT is signed with the same keys: never take it for a
	// user's session. (Clerk's session-only verifier refuses the M2M
	// category and the at+jwt typ as token-invalid, but would take an M2M
	// JWT without a category as a session of "mch_…".)
	if h.typ != "" && h.typ != "JWT" || h.cat != "" && h.cat != catSessionToken && h.cat != catIgnore {
		return nil, newError(ReasonTokenTypeMismatch, "the token is a machine's JWT (its typ or cat header), not a session token")
	}
	id, err := a.identityFromPayload(payload)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(id.UserID, machinePrefix) {
		return nil, newError(ReasonTokenTypeMismatch, "sub is a machine (mch_…): an M2M token, not a session token")
	}
	return id, nil
}

// cachedIdentity returns the identity of a token verified before, if the
// cache still holds it.
func (a *Auth) cachedIdentity(token string) *Identity {
	if a.tokens == nil || len(token) > maxTokenBytes {
		return nil
	}
	return a.tokens.get(token)
}

// notInFuture checks an optional time claim that must not lie in the
// future beyond the clock skew (nbf, iat).
func notInFuture(name, claim string, reason Reason, get func(*Identity) time.Time) claimCheck {
	return claimCheck{
		name:     name,
		timed:    true,
		describe: func(id *Identity, _ time.Time) string { return claim + " " + quoteOrNone(timeOrNone(get(id))) },
		run: func(a *claimRules, id *Identity, now time.Time) *Error {
			if t := get(id); !t.IsZero() && now.Add(a.skew).Before(t) {
				return newError(reason, fmt.Sprintf("%s is %s in the future (is this clock right?)", claim, t.Sub(now).Round(time.Second)))
			}
			return nil
		},
	}
}

// claimCheck is one check of a verified token's claims. The middleware
// stops at the first failure; ExplainToken runs them all.
type claimCheck struct {
	name     string
	timed    bool // depends on the clock: re-run on every cache hit
	run      func(a *claimRules, id *Identity, now time.Time) *Error
	describe func(id *Identity, now time.Time) string // what was found, for ExplainToken
}

var claimChecks = []claimCheck{
	{
		name:     "issuer",
		describe: func(id *Identity, _ time.Time) string { return "iss " + quoteOrNone(id.Issuer) },
		run: func(a *claimRules, id *Identity, _ time.Time) *Error {
			switch {
			case a.issuer != "" && id.Issuer != a.issuer && (a.proxyIssuer == "" || id.Issuer != a.proxyIssuer):
				return newError(ReasonTokenInvalidIssuer, fmt.Sprintf("iss is %q, expected %q", id.Issuer, a.issuer))
			case a.issuer == "" && !isClerkIssuer(id.Issuer):
				return newError(ReasonTokenInvalidIssuer, fmt.Sprintf("iss %q is not a Clerk Frontend API URL", id.Issuer))
			}
			return nil
		},
	},
	{
		name:     "audience",
		describe: func(id *Identity, _ time.Time) string { return "aud " + quoteOrNone(strings.Join(id.Audience, ",")) },
		run: func(a *claimRules, id *Identity, _ time.Time) *Error {
			listed := slices.ContainsFunc(id.Audience, func(aud string) bool { return slices.Contains(a.audience, aud) })
			if isMachineType(id.TokenType) {
				// Machine JWTs: aud against Config.Audience when it is set.
				if len(a.audience) > 0 && !listed {
					return newError(ReasonTokenInvalidAudience, fmt.Sprintf("aud is %q, accepted %q", id.Audience, a.audience))
				}
				return nil
			}
			switch {
			case listed || !hasAudience(id.Audience):
				// A session token has no aud; Clerk checks aud only
				// when the token has one (its assertAudienceClaim).
				return nil
			case len(a.audience) == 0:
				// Clerk would take this template token for a session: it
				// was minted for another service (RFC 7519 §4.1.3: refuse
				// an aud that does not name us), so it must be listed.
				return newError(ReasonTokenInvalidAudience, fmt.Sprintf("aud is %q and Config.Audience is empty: list the JWT template's audience to accept its tokens", id.Audience))
			}
			return newError(ReasonTokenInvalidAudience, fmt.Sprintf("aud is %q, accepted %q (JWT template names are case-sensitive)", id.Audience, a.audience))
		},
	},
	{
		name:     "authorized party",
		describe: func(id *Identity, _ time.Time) string { return "azp " + quoteOrNone(id.AuthorizedParty) },
		run: func(a *claimRules, id *Identity, _ time.Time) *Error {
			switch {
			case len(a.parties) == 0 || slices.Contains(a.parties, id.AuthorizedParty):
				return nil
			case id.AuthorizedParty == "":
				return newError(ReasonTokenInvalidAuthorizedParties, "azp is missing and AuthorizedParties is set")
			}
			return newError(ReasonTokenInvalidAuthorizedParties, fmt.Sprintf("azp is %q, not one of %q", id.AuthorizedParty, a.parties))
		},
	},
	{
		name:  "expiry",
		timed: true,
		describe: func(id *Identity, now time.Time) string {
			return "exp in " + strconv.Itoa(int(id.ExpiresAt.Unix()-now.Unix())) + "s"
		},
		run: func(a *claimRules, id *Identity, now time.Time) *Error {
			if now.After(id.ExpiresAt.Add(a.skew)) {
				return newError(ReasonTokenExpired, fmt.Sprintf("exp passed %s ago", now.Sub(id.ExpiresAt).Round(time.Second)))
			}
			return nil
		},
	},
	notInFuture("not before", "nbf", ReasonTokenNotActiveYet, func(id *Identity) time.Time { return id.NotBefore }),
	notInFuture("issued at", "iat", ReasonTokenIatInTheFuture, func(id *Identity) time.Time { return id.IssuedAt }),
}

// claimRules are what a verified token's claims must say: one value,
// built by New, used by VerifyToken, the machine JWTs, the handshake's
// retry with a day of skew and ExplainToken alike (a copy with another
// skew is a whole set of rules, never a partial one).
type claimRules struct {
	issuer      string   // expected iss; empty: any Clerk issuer form
	proxyIssuer string   // ProxyURL, also accepted as iss
	audience    []string // accepted aud values
	parties     []string // accepted azp values
	skew        time.Duration
}

// check runs every claim check and returns the first failure.
func (a *claimRules) check(id *Identity, now time.Time) error {
	for _, c := range claimChecks {
		if err := c.run(a, id, now); err != nil {
			return err
		}
	}
	return nil
}

// checkTimes re-runs the clock-dependent checks, for cached tokens.
func (a *claimRules) checkTimes(id *Identity, now time.Time) error {
	for _, c := range claimChecks {
		if c.timed {
			if err := c.run(a, id, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// withStatus fails for a pending session: like Clerk's default
// (treatPendingAsSignedOut), it is not signed in for protection purposes.
func (a *Auth) withStatus(id *Identity) (*Identity, error) {
	if id.SessionStatus == "pending" {
		return nil, pendingError(id) // for AllowPending alone
	}
	return id, nil
}

// identityFromPayload decodes the claims and builds the Identity. Every
// claim the checks rely on must have the right JSON type: a sub that is a
// number or an exp that is a string is a malformed token, not a missing
// claim to be skipped.
func (a *Auth) identityFromPayload(payload []byte) (*Identity, error) {
	claims, err := decodeClaims(payload)
	if err != nil {
		return nil, err
	}
	bad := func(detail string) (*Identity, error) { return nil, newError(ReasonTokenInvalid, detail) }
	id := &Identity{TokenType: SessionToken, Claims: claims, Version: 1}

	var ok bool
	if id.UserID, ok = claims["sub"].(string); !ok || id.UserID == "" {
		return bad("sub is missing or not a string")
	}
	id.Subject = id.UserID
	if id.Issuer, ok = claims["iss"].(string); !ok {
		return bad("iss is missing or not a string")
	}
	id.TokenIdentifier = id.Issuer + "|" + id.UserID
	if err := timeClaims(id, claims); err != nil {
		return nil, err
	}
	if err := stringClaims(claims, []stringClaim{{"sid", &id.SessionID}, {"azp", &id.AuthorizedParty},
		{"sts", &id.SessionStatus}, {"email", &id.Email}, {"name", &id.Name}}); err != nil {
		return nil, err
	}
	var audErr *Error
	if id.Audience, audErr = audienceClaim(claims); audErr != nil {
		return nil, audErr
	}
	if v, present := claims["act"]; present && v != nil {
		if id.Actor, ok = v.(map[string]any); !ok {
			return bad("act is not an object")
		}
	}
	id.FactorAge = parseFactorAge(claims["fva"])
	if id.Features, err = entitlementsClaim(claims, "fea"); err != nil {
		return nil, err
	}
	if id.Plans, err = entitlementsClaim(claims, "pla"); err != nil {
		return nil, err
	}
	if v, present := claims["v"]; present {
		n, ok := v.(json.Number)
		ver, err := n.Int64()
		if !ok || err != nil {
			return bad("v is not an integer")
		}
		id.Version = int(ver)
	}

	if id.Version >= 2 {
		err = orgFromV2(id, claims)
	} else {
		err = orgFromV1(id, claims)
	}
	if err != nil {
		return nil, err
	}
	id.sessionClaims = id.buildSessionClaims()
	return id, nil
}

// timeClaims reads exp (required), nbf and iat as NumericDates.
func timeClaims(id *Identity, claims map[string]any) *Error {
	var ok bool
	if v, present := claims["exp"]; !present {
		return newError(ReasonTokenInvalid, "exp is missing")
	} else if id.ExpiresAt, ok = numericDate(v); !ok {
		return newError(ReasonTokenInvalid, "exp is not a valid NumericDate")
	}
	if id.NotBefore, ok = optionalDate(claims, "nbf"); !ok {
		return newError(ReasonTokenInvalid, "nbf is not a valid NumericDate")
	}
	if id.IssuedAt, ok = optionalDate(claims, "iat"); !ok {
		return newError(ReasonTokenInvalid, "iat is not a valid NumericDate")
	}
	return nil
}

// audienceClaim reads aud: absent, a string, or an array of strings.
func audienceClaim(claims map[string]any) ([]string, *Error) {
	switch aud := claims["aud"].(type) {
	case nil:
		return nil, nil
	case string:
		return []string{aud}, nil
	case []any:
		out := make([]string, 0, len(aud))
		for _, v := range aud {
			s, ok := v.(string)
			if !ok {
				return nil, newError(ReasonTokenInvalid, "aud is not a string or an array of strings")
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, newError(ReasonTokenInvalid, "aud is not a string or an array of strings")
}

// hasAudience reports whether aud names anyone: Clerk drops empty values
// (aud "" or [""] is no aud at all).
func hasAudience(aud []string) bool {
	return slices.ContainsFunc(aud, func(s string) bool { return s != "" })
}

// orgFromV1 reads the organization claims of session tokens v1:
// org_id, org_slug, org_role, org_permissions.
func orgFromV1(id *Identity, claims map[string]any) error {
	if err := stringClaims(claims, []stringClaim{{"org_id", &id.OrgID}, {"org_slug", &id.OrgSlug}, {"org_role", &id.OrgRole}}); err != nil {
		return err
	}
	if v, present := claims["org_permissions"]; present && v != nil {
		list, ok := v.([]any)
		if !ok {
			return newError(ReasonTokenInvalid, "org_permissions is not an array")
		}
		for _, p := range list {
			s, ok := p.(string)
			if !ok {
				return newError(ReasonTokenInvalid, "org_permissions holds a value that is not a string")
			}
			id.OrgPermissions = append(id.OrgPermissions, s)
		}
	}
	return nil
}

// orgFromV2 reads the compact organization claims of session tokens v2
// exactly as Clerk's JWT payload parser does: o.id, o.slg, o.rol ("org:"
// added), and the permissions that o.per and o.fpm grant to the
// organization features of fea (see orgPermissionsV2). Where Clerk's
// parser throws (an fea item without a scope, a per or fpm that is not a
// string), the token is refused: Clerk could not build a session from it.
func orgFromV2(id *Identity, claims map[string]any) error {
	raw, present := claims["o"]
	if !present || raw == nil {
		return nil
	}
	o, ok := raw.(map[string]any)
	if !ok {
		return newError(ReasonTokenInvalid, "o is not an object")
	}
	var role, per, fpm string
	if err := stringClaims(o, []stringClaim{{"id", &id.OrgID}, {"slg", &id.OrgSlug}, {"rol", &role}, {"per", &per}, {"fpm", &fpm}}); err != nil {
		return newError(ReasonTokenInvalid, "o."+err.Detail)
	}
	if role != "" {
		id.OrgRole = "org:" + role
	}
	if fea, _ := claims["fea"].(string); fea != "" && id.Features == nil {
		return newError(ReasonTokenInvalid, "fea has an item without a scope (o:, u:), which Clerk cannot read")
	}
	var orgFeatures []string
	for _, f := range id.Features {
		if f.Org {
			orgFeatures = append(orgFeatures, f.Name)
		}
	}
	id.OrgPermissions = orgPermissionsV2(orgFeatures, per, fpm)
	return nil
}

// entitlementsClaim reads fea or pla. A string Clerk cannot split gives no
// entitlements (Clerk's has() fails on it); a value of another type makes
// the token invalid, as everywhere else in the strict decoder.
func entitlementsClaim(claims map[string]any, name string) ([]Entitlement, error) {
	s, ok := optionalString(claims, name)
	if !ok {
		return nil, newError(ReasonTokenInvalid, name+" is not a string")
	}
	list, _ := parseEntitlements(s)
	return list, nil
}

// stringClaim names an optional string claim and where it goes.
type stringClaim struct {
	name string
	dst  *string
}

// stringClaims reads optional string claims. The list does not escape, so
// callers' literal tables stay on the stack.
func stringClaims(claims map[string]any, list []stringClaim) *Error {
	for _, c := range list {
		v, ok := optionalString(claims, c.name)
		if !ok {
			return newError(ReasonTokenInvalid, c.name+" is not a string")
		}
		*c.dst = v
	}
	return nil
}

// optionalString reads a claim that may be absent or null; ok is false
// when it is present with another type.
func optionalString(claims map[string]any, name string) (string, bool) {
	v, present := claims[name]
	if !present || v == nil {
		return "", true
	}
	s, ok := v.(string)
	return s, ok
}

// optionalDate reads a NumericDate claim that may be absent.
func optionalDate(claims map[string]any, name string) (time.Time, bool) {
	v, present := claims[name]
	if !present {
		return time.Time{}, true
	}
	return numericDate(v)
}

// maxNumericDate is the last second of year 9999: a later exp (or one that
// does not fit an int64) is not a date but an attack on the arithmetic.
const maxNumericDate = 253402300799

// numericDate parses a JWT NumericDate: seconds since the epoch, possibly
// with a fraction (RFC 7519 §2). Strings, negative values and absurdly
// large values are refused.
func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	if i, err := n.Int64(); err == nil {
		if i < 0 || i > maxNumericDate {
			return time.Time{}, false
		}
		return time.Unix(i, 0), true
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// decodeClaims decodes the payload into a map, refusing anything that is
// not a single JSON object and any object that names a claim twice.
// encoding/json would silently keep the last duplicate, while another
// parser (the issuer's, a proxy's) may keep the first: refusing duplicates
// removes that ambiguity.
// decodeClaims decodes a payload that nothing else holds (decodePayload
// made it), so the decoder may keep its memory.
func decodeClaims(payload []byte) (map[string]any, error) {
	claims, err := strictjson.DecodeOwned(payload)
	switch {
	case errors.Is(err, strictjson.ErrDuplicate):
		return nil, newError(ReasonTokenInvalid, "the payload names a claim twice")
	case err != nil:
		return nil, newError(ReasonTokenInvalid, "the payload is not a JSON object")
	}
	return claims, nil
}

// tokenCache remembers tokens that verified, keyed by the whole token
// string (never a part of it: two tokens that share a signature or a
// payload are different tokens). Entries never outlive the token's exp.
// Lookups are lock-free (sync.Map's read path), so the hot path scales
// across cores; only inserts and evictions take a lock.
type tokenCache struct {
	m   sync.Map // token → *Identity
	n   atomic.Int64
	max int64
	mu  sync.Mutex // serialises evictions
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: int64(max)}
}

func (c *tokenCache) get(token string) *Identity {
	if v, ok := c.m.Load(token); ok {
		return v.(*Identity)
	}
	return nil
}

func (c *tokenCache) remove(token string) {
	if _, loaded := c.m.LoadAndDelete(token); loaded {
		c.n.Add(-1)
	}
}

func (c *tokenCache) put(token string, id *Identity, now time.Time) {
	if c.n.Load() >= c.max {
		c.evict(now)
	}
	if _, loaded := c.m.LoadOrStore(token, id); !loaded {
		c.n.Add(1)
	}
}

// evict drops what has expired; if the cache is still full, it drops
// entries until a quarter of the room is free (sync.Map's order is not
// the client's to choose, so no client decides what stays).
func (c *tokenCache) evict(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n.Load() < c.max {
		return // another goroutine made room
	}
	c.m.Range(func(k, v any) bool {
		if now.After(v.(*Identity).ExpiresAt) {
			c.remove(k.(string))
		}
		return true
	})
	c.m.Range(func(k, _ any) bool {
		if c.n.Load() < c.max*3/4 {
			return false
		}
		c.remove(k.(string))
		return true
	})
}
