package clerkauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/clerkauth/clerkauth/internal/budget"
	"github.com/clerkauth/clerkauth/internal/flight"
)

// TokenType is the kind of a Clerk token, as @clerk/backend names it.
type TokenType string

// The token types Config.AcceptsToken can list.
const (
	// SessionToken: a user's session token (or JWT-template token), from
	// the Authorization header or the __session cookie.
	SessionToken TokenType = "session_token"
	// APIKey: an API key ("ak_…") that a user or an organization created,
	// verified through the Backend API.
	APIKey TokenType = "api_key"
	// M2MToken: a machine-to-machine token, opaque ("mt_…", verified
	// through the Backend API) or a JWT whose sub is a machine ("mch_…",
	// verified with the instance's keys).
	M2MToken TokenType = "m2m_token"
	// OAuthToken: an OAuth access token that Clerk issued to an OAuth
	// application, opaque ("oat_…") or a JWT with typ "at+jwt".
	OAuthToken TokenType = "oauth_token"
)

// The prefixes of opaque machine tokens and the subject prefix of M2M JWTs
// (@clerk/backend's tokens/machine.ts).
const (
	apiKeyPrefix     = "ak_"
	m2mTokenPrefix   = "mt_"
	oauthTokenPrefix = "oat_"
	machinePrefix    = "mch_"
)

// JWT header values that mark a token's kind: an OAuth access token's typ
// (RFC 9068), and Clerk's "cat" categories.
var oauthJWTTypes = []string{"at+jwt", "application/at+jwt"}

const (
	catSessionToken = "cl_B7d4PD111AAA"
	catM2MToken     = "cl_B7d4PD333AAA"
	catIgnore       = "cl_I7d4PD111III"
)

// isMachineType reports whether t is one of the machine token types.
func isMachineType(t TokenType) bool { return t == APIKey || t == M2MToken || t == OAuthToken }

// classifyToken tells which kind of token a Bearer token is, as
// @clerk/backend's getMachineTokenType does: an opaque prefix, or a JWT
// whose payload's sub is a machine (M2M) or whose header's typ is at+jwt
// (OAuth); anything else is a session token (to be verified as one). It
// only reads the token: the verifier checks everything again.
func classifyToken(token string) TokenType {
	switch {
	case strings.HasPrefix(token, m2mTokenPrefix):
		return M2MToken
	case strings.HasPrefix(token, oauthTokenPrefix):
		return OAuthToken
	case strings.HasPrefix(token, apiKeyPrefix):
		return APIKey
	}
	p, err := splitToken(token)
	if err != nil {
		return SessionToken
	}
	var claims struct {
		Sub any `json:"sub"`
	}
	if payload, err := b64.DecodeString(p.payload); err == nil && json.Unmarshal(payload, &claims) == nil {
		return jwtType(p, claims.Sub)
	}
	return jwtType(p, nil)
}

// jwtType tells a machine's JWT from a session by its (unverified) sub
// and header: a machine subject is an M2M token, typ at+jwt an OAuth one.
func jwtType(p jwsParts, sub any) TokenType {
	if s, ok := sub.(string); ok && strings.HasPrefix(s, machinePrefix) {
		return M2MToken
	}
	if header, err := b64.DecodeString(p.header); err == nil {
		var h struct {
			Typ any `json:"typ"`
		}
		if json.Unmarshal(header, &h) == nil {
			if typ, ok := h.Typ.(string); ok && slices.Contains(oauthJWTTypes, typ) {
				return OAuthToken
			}
		}
	}
	return SessionToken
}

// isOpaque reports whether token is an opaque machine token (verified
// through the Backend API) rather than a JWT.
func isOpaque(token string) bool {
	return strings.HasPrefix(token, apiKeyPrefix) || strings.HasPrefix(token, m2mTokenPrefix) || strings.HasPrefix(token, oauthTokenPrefix)
}

// HasScope reports whether a machine token (API key, M2M or OAuth token)
// was granted scope. Session tokens have no scopes.
func (id *Identity) HasScope(scope string) bool {
	return id != nil && scope != "" && slices.Contains(id.Scopes, scope)
}

// verifyMachineJWT verifies a JWT-format M2M or OAuth token with the
// instance's keys, as @clerk/backend's verifyM2MJwt and verifyOAuthJwt do:
// the same header rules, key lookup and signature check as session tokens,
// then exp, nbf and iat, and aud against Config.Audience when set. Clerk
// checks neither iss nor azp on machine tokens; the signature by the
// instance's key is what makes them Clerk's.
func (a *Auth) verifyMachineJWT(ctx context.Context, token string, typ TokenType, tr *verdictTrace) (*Identity, error) {
	now := a.now()
	if a.tokens != nil {
		if id := a.tokens.get(token); id != nil && id.TokenType == typ {
			tr.hit()
			if err := a.rules.checkTimes(id, now); err != nil {
				a.tokens.remove(token)
				return nil, err
			}
			return id, nil
		}
	}
	tr.work()
	payload, h, err := a.verifyJWS(ctx, token)
	if err != nil {
		return nil, err
	}
	switch {
	case typ == M2MToken && h.typ != "" && h.typ != "JWT":
		return nil, newError(ReasonTokenInvalid, `an M2M JWT's typ must be "JWT" or absent`)
	case typ == M2MToken && h.cat != "" && h.cat != catM2MToken:
		return nil, newError(ReasonTokenInvalid, "the M2M JWT's cat header is not Clerk's M2M category")
	case typ == OAuthToken && !slices.Contains(oauthJWTTypes, h.typ):
		return nil, newError(ReasonTokenInvalid, `an OAuth JWT's typ must be "at+jwt" or "application/at+jwt"`)
	}
	claims, err := decodeClaims(payload)
	if err != nil {
		return nil, err
	}
	id, err := machineIdentityFromClaims(typ, claims)
	if err != nil {
		return nil, err
	}
	for _, c := range claimChecks {
		if c.timed || c.name == "audience" {
			if err := c.run(&a.rules, id, now); err != nil {
				return nil, err
			}
		}
	}
	if a.tokens != nil {
		a.tokens.put(token, id, now)
	}
	return id, nil
}

// Opaque machine tokens are verified through the Backend API. A round trip
// per request would be slow and would let anyone with a list of random
// "ak_…" strings make this server call Clerk once per string, so:
//
//   - verdicts are cached for MachineTokenCacheTTL: valid tokens no longer
//     than they live, unknown ones too (a client retrying a bad key costs
//     one call), in two maps, so that a flood of unknown tokens can evict
//     only unknown tokens;
//   - concurrent requests with one token share one call (single flight);
//   - every call goes through the Auth's Backend API budget (BackendAPIRate,
//     BackendAPIConcurrency): tokens never seen are Unknown work and
//     cannot touch the reserve; beyond it they are answered 503
//     machine-verifier-busy at once, with Retry-After, instead of queueing;
//   - a token that verified is Known work: in the last quarter of its
//     verdict's life a request renews it in the background from the
//     reserve, so a key in steady use never leaves the cache and never
//     waits, whatever the flood. A revocation is seen at the latest
//     MachineTokenCacheTTL plus one Backend API call after it happened.
type machineVerifier struct {
	client        *http.Client
	baseURL       string // the Backend API without /v1: these endpoints have none
	secretKey     string
	machineSecret string // for M2M tokens; falls back to secretKey
	audience      []string
	ttl           time.Duration // <= 0: no cache
	timeout       time.Duration
	now           func() time.Time
	limit         *budget.Limiter // the Auth's Backend API budget
	hooks         *Hooks
	onBadKey      func(typ TokenType) // the Backend API refused our secret key
	onJoin        func()              // tests: a request joined a call in flight

	good  *flight.Cache[string, machineEntry] // tokens that verified (expired entries stay: they are Known)
	bad   *flight.Cache[string, machineEntry] // tokens the Backend API does not know
	calls flight.Group[string, *Identity]
}

// newVerdicts returns an empty verdict map (good or bad).
func newVerdicts() *flight.Cache[string, machineEntry] {
	return flight.NewCache[string, machineEntry](maxMachineCacheEntries)
}

type machineEntry struct {
	id    *Identity // nil: the token is invalid (err)
	err   *Error
	renew time.Time // good entries: renewed in the background from then on
}

func (e machineEntry) verdict() (*Identity, error) {
	if e.id != nil {
		return e.id, nil
	}
	return nil, e.err
}

// newMachineVerifier builds the opaque-token verifier of a, from its
// normalised Config, its claim rules and its Backend API budget.
func newMachineVerifier(a *Auth) *machineVerifier {
	cfg := &a.cfg
	return &machineVerifier{
		client:        limitedClient(cfg.HTTPClient, maxMachineResponseBytes),
		baseURL:       strings.TrimSuffix(cfg.APIURL, "/v1"),
		secretKey:     cfg.SecretKey,
		machineSecret: cfg.MachineSecretKey,
		audience:      a.rules.audience,
		ttl:           cfg.MachineTokenCacheTTL,
		timeout:       cfg.ClerkTimeout,
		now:           a.now,
		onBadKey:      a.warnBadMachineKey,
		limit:         a.backendBudget,
		hooks:         &cfg.Hooks,
		good:          newVerdicts(),
		bad:           newVerdicts(),
	}
}

// Limits of the opaque-token verifier.
const (
	maxMachineCacheEntries   = 10_000
	maxMachineResponseBytes  = 64 << 10
	maxOpaqueTokenBytes      = 1 << 10
	machineBusyRetryAfterSec = "1"
)

// verifyOpaque verifies an opaque machine token of type typ.
func (v *machineVerifier) verifyOpaque(ctx context.Context, typ TokenType, token string, tr *verdictTrace) (*Identity, error) {
	if len(token) > maxOpaqueTokenBytes || !printableASCII(token) {
		// Clerk's tokens are short and plain; this cannot be one, and the
		// Backend API would only say so after a round trip.
		return nil, newError(ReasonTokenInvalid, "the token is not a Clerk machine token (length or characters)")
	}
	now := v.now()
	e, until, good := v.good.Get(token) // the common case: a token seen within the TTL
	if !good {
		e, until, _ = v.bad.Get(token)
	}
	if now.Before(until) {
		if good && !now.Before(e.renew) {
			v.renewAhead(ctx, typ, token, now)
		}
		tr.hit()
		return e.verdict()
	}
	tr.work()
	call, joined := v.calls.Start(ctx, token, func() flight.Func[*Identity] {
		class := budget.Unknown
		if _, _, known := v.good.Get(token); known {
			class = budget.Known // verified before: renewing it may use the reserve
		}
		if !v.limit.Acquire(class) {
			return nil
		}
		return v.fetcher(typ, token)
	})
	if call == nil {
		return nil, newError(ReasonMachineVerifierBusy, "the Backend API budget (BackendAPIRate, BackendAPIConcurrency) is spent; answering 503")
	}
	if joined && v.onJoin != nil {
		v.onJoin()
	}
	id, err := call.Wait(ctx)
	switch {
	case errors.Is(err, flight.ErrGaveUp):
		return nil, wrapError(ReasonUnexpectedError, "gave up waiting for the Backend API", ctx.Err())
	case err != nil:
		if _, ours := err.(*Error); !ours { // the call panicked
			return nil, wrapError(ReasonUnexpectedError, "the Backend API call failed", err)
		}
	}
	return id, err
}

// renewAhead starts a background renewal of a valid verdict near the end
// of its life, from the reserve, unless one is under way or the budget
// says no (the verdict is still good until it expires).
func (v *machineVerifier) renewAhead(ctx context.Context, typ TokenType, token string, now time.Time) {
	v.calls.Start(ctx, token, func() flight.Func[*Identity] {
		e, _, ok := v.good.Get(token) // again: a renewal may have ended since
		if !ok || now.Before(e.renew) || !v.limit.Acquire(budget.Known) {
			return nil
		}
		return v.fetcher(typ, token)
	})
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// fetcher returns the call for token, started once the budget is
// acquired: it calls the Backend API (bounded by ClerkTimeout), gives
// the budget back and records the verdict.
func (v *machineVerifier) fetcher(typ TokenType, token string) flight.Func[*Identity] {
	return func(reqCtx context.Context) (*Identity, error) {
		defer v.limit.Release()
		id, err := v.call(reqCtx, typ, token)
		now := v.now()
		switch {
		case v.ttl <= 0:
		case id != nil:
			until := now.Add(v.ttl)
			if !id.ExpiresAt.IsZero() && id.ExpiresAt.Before(until) {
				until = id.ExpiresAt
			}
			v.bad.Delete(token)
			v.good.Put(token, machineEntry{id: id, renew: until.Add(-v.ttl / 4)}, until, now)
		case err.Reason == ReasonTokenInvalid:
			v.good.Delete(token) // revoked: no longer Known
			v.bad.Put(token, machineEntry{err: err}, now.Add(v.ttl), now)
		}
		// Any other failure (the Backend API unreachable, our key refused)
		// leaves the verdicts as they were: a Known token stays Known.
		if err != nil {
			return nil, err // not a nil *Error in a non-nil error
		}
		return id, nil
	}
}

// The Backend API's verification endpoints (no /v1 in their paths) and the
// name of the token in the request body, per type.
var machineEndpoints = map[TokenType]struct{ path, field string }{
	APIKey:     {"/api_keys/verify", "secret"},
	M2MToken:   {"/m2m_tokens/verify", "token"},
	OAuthToken: {"/oauth_applications/access_tokens/verify", "access_token"},
}

// machineTokenJSON is what the verification endpoints answer (the union of
// the API key, M2M token and OAuth access token objects).
type machineTokenJSON struct {
	ID         string          `json:"id"`
	Subject    string          `json:"subject"`
	Name       string          `json:"name"`
	ClientID   string          `json:"client_id"`
	Scopes     []string        `json:"scopes"`
	Claims     json.RawMessage `json:"claims"`
	Revoked    bool            `json:"revoked"`
	Expired    bool            `json:"expired"`
	Expiration *int64          `json:"expiration"` // milliseconds
	Aud        json.RawMessage `json:"aud"`
}

// call makes one verification request and maps the answer as
// @clerk/backend's handleClerkAPIError does: 404 means the token is not
// valid (401 to the client); 401 means our secret key is wrong (503, and
// the operator is told); anything else is the Backend API's trouble (503).
func (v *machineVerifier) call(reqCtx context.Context, typ TokenType, token string) (*Identity, *Error) {
	ep := machineEndpoints[typ]
	key := v.secretKey
	if typ == M2MToken && v.machineSecret != "" {
		key = v.machineSecret
	}
	ctx, cancel := context.WithTimeout(context.Background(), v.timeout)
	defer cancel()
	status, raw, err := backendRequest(ctx, reqCtx, v.hooks, backendCall{client: v.client, method: http.MethodPost,
		url: v.baseURL + ep.path, endpoint: ep.path, key: key, body: map[string]string{ep.field: token}, max: maxMachineResponseBytes})
	switch {
	case status == 0:
		return nil, wrapError(ReasonUnexpectedError, "the Backend API could not be reached: "+describeFetchError(err), err)
	case status == http.StatusNotFound:
		return nil, newError(ReasonTokenInvalid, "the Backend API does not know this token (or it was revoked or has expired)")
	case status == http.StatusUnauthorized:
		v.onBadKey(typ)
		return nil, newError(ReasonSecretKeyInvalid, "the Backend API refused our secret key (401)")
	case status != http.StatusOK:
		return nil, newError(ReasonUnexpectedError, fmt.Sprintf("the Backend API answered %d", status))
	case err != nil:
		return nil, newError(ReasonUnexpectedError, "the Backend API's answer could not be read")
	}
	var t machineTokenJSON
	if err := json.Unmarshal(raw, &t); err != nil || t.Subject == "" {
		return nil, newError(ReasonUnexpectedError, "the Backend API's answer is not a token object")
	}
	// Beyond Clerk: the Backend API answers 404 for revoked and expired
	// tokens; should it ever describe one instead, it is still refused.
	if t.Revoked || t.Expired {
		return nil, newError(ReasonTokenInvalid, "the Backend API reports the token revoked or expired")
	}
	return v.identity(typ, &t)
}

// identity maps a verified token object onto an Identity, as
// @clerk/backend's authenticatedMachineObject does.
func (v *machineVerifier) identity(typ TokenType, t *machineTokenJSON) (*Identity, *Error) {
	id := &Identity{TokenType: typ, Subject: t.Subject, TokenID: t.ID, Scopes: t.Scopes}
	if id.Scopes == nil {
		id.Scopes = []string{}
	}
	if t.Expiration != nil {
		id.ExpiresAt = time.UnixMilli(*t.Expiration)
	}
	if len(t.Claims) > 0 && !bytes.Equal(t.Claims, []byte("null")) {
		claims, err := decodeClaims(append([]byte(nil), t.Claims...))
		if err != nil {
			return nil, newError(ReasonUnexpectedError, "the token's claims in the Backend API's answer are not an object")
		}
		id.Claims = claims
	}
	switch typ {
	case APIKey:
		id.KeyName = t.Name
		switch {
		case strings.HasPrefix(t.Subject, "user_"):
			id.UserID = t.Subject
		case strings.HasPrefix(t.Subject, "org_"):
			id.OrgID = t.Subject
		}
	case M2MToken:
		id.MachineID = t.Subject
	case OAuthToken:
		id.UserID, id.ClientID = t.Subject, t.ClientID
		if len(v.audience) > 0 {
			var aud []string
			var one string
			if json.Unmarshal(t.Aud, &aud) != nil && json.Unmarshal(t.Aud, &one) == nil && one != "" {
				aud = []string{one}
			}
			id.Audience = aud
			if !slices.ContainsFunc(aud, func(s string) bool { return slices.Contains(v.audience, s) }) {
				return nil, newError(ReasonTokenInvalidAudience, fmt.Sprintf("the OAuth token's aud is %q, accepted %q", aud, v.audience))
			}
		}
	}
	return id, nil
}

// tokenTypeMismatch is the error for a token whose type is not accepted.
func tokenTypeMismatch(got TokenType) *Error {
	return newError(ReasonTokenTypeMismatch, fmt.Sprintf("a %s is not accepted here (Config.AcceptsToken)", got))
}
