package clerkauth

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
			case a.issuer != "" && id.Issuer != a.issuer && !slices.Contains(a.alsoIssuers, id.Issuer):
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
	alsoIssuers []string // also accepted as iss: ProxyURL, a production satellite's Frontend API
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
