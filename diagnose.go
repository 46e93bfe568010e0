package clerkauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// TokenCheck is the outcome of one check ExplainToken ran.
type TokenCheck struct {
	Name   string // "structure", "algorithm", "key", "signature", "claims", "issuer", …
	OK     bool
	Reason string // the reason code the middleware would answer with, when !OK
	Detail string // what was found, in words (never the token itself)
}

// ExplainToken runs every check VerifyToken runs, without stopping at the
// first failure, and says what each one found: the tool for "why is this
// token refused?" (see cmd/clerkauth doctor). It uses the Auth's keys and
// configuration, so its verdict is the middleware's. Checks that cannot run
// because an earlier one failed (claims of a token whose signature does not
// verify are still shown, marked as unverified in Detail) are reported as
// such. The token cache is neither read nor written.
func (a *Auth) ExplainToken(ctx context.Context, token string) []TokenCheck {
	var out []TokenCheck
	add := func(name string, err *Error, okDetail string) bool {
		c := TokenCheck{Name: name, OK: err == nil, Detail: okDetail}
		if err != nil {
			c.Reason, c.Detail = err.Reason, err.Detail
		}
		out = append(out, c)
		return err == nil
	}

	token = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(token), "Bearer "))
	switch {
	case token == "":
		add("structure", newError(ReasonSessionTokenMissing, "no token given"), "")
		return out
	case len(token) > MaxTokenBytes:
		add("structure", newError(ReasonTokenInvalid, "the token is larger than MaxTokenBytes (16 KiB)"), "")
		return out
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		add("structure", newError(ReasonTokenInvalid, "a JWT has three dot-separated segments; this has "+strconv.Itoa(len(parts))), "")
		return out
	}
	var header struct {
		Alg, Kid, Typ string
		Jku, X5u      string
		JWK, Crit     json.RawMessage
	}
	rawHeader, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(rawHeader, &header) != nil {
		add("structure", newError(ReasonTokenInvalid, "the header is not base64url-encoded JSON"), "")
		return out
	}
	add("structure", nil, "three base64url segments with a JSON header")

	if !add("algorithm", algError(header.Alg, header.Typ, len(header.Crit) > 0), "RS256") {
		return out
	}
	jws, err := jose.ParseSignedCompact(token, allowedAlgorithms)
	if err != nil {
		add("structure", newError(ReasonTokenInvalid, "not a valid compact JWS"), "")
		return out
	}
	if header.Jku != "" || header.X5u != "" || len(header.JWK) > 0 {
		out = append(out, TokenCheck{Name: "key headers", OK: true, Detail: "jku/x5u/jwk headers are present and ignored: keys come only from the instance"})
	}

	verified := false
	key, kerr := a.keys.key(ctx, header.Kid)
	if add("key", asErrorOrNil(kerr), "kid "+quoteOrNone(header.Kid)+" is one of the instance's keys") {
		_, serr := jws.Verify(key)
		verified = add("signature", errIf(serr != nil, ReasonTokenInvalidSignature, "the signature does not verify with the instance's key for this kid"), "verified with the instance's key")
	}

	id, perr := a.identityFromPayload(jws.UnsafePayloadWithoutVerification())
	if !add("claims", asErrorOrNil(perr), "sub, exp and the other claims have valid types") {
		return out
	}
	note := ""
	if !verified {
		note = " (unverified: the signature did not check out)"
	}
	now := a.now()
	for _, c := range claimChecks {
		err := c.run(a, id, now)
		if err != nil {
			err = &Error{Reason: err.Reason, Detail: err.Detail + note}
		}
		add(c.name, err, describeClaim(c.name, id, now)+note)
	}
	st, _ := a.withStatus(id)
	add("session status", errIf(st == nil, ReasonSessionPending, "the session is pending (sts), which counts as signed out"), "sts "+quoteOrNone(id.SessionStatus)+note)
	return out
}

// KeySource says where the Auth gets its verification keys, in words.
func (a *Auth) KeySource() string {
	switch {
	case strings.TrimSpace(a.cfg.JWTKey) != "":
		return "CLERK_JWT_KEY (networkless)"
	case a.issuer != "":
		return "JWKS " + a.issuer + "/.well-known/jwks.json"
	default:
		api := a.cfg.APIURL
		if api == "" {
			api = "https://api.clerk.com/v1"
		}
		return "Backend API " + strings.TrimRight(api, "/") + "/jwks (with the secret key)"
	}
}

// Issuer returns the issuer tokens must carry, or "" when any of Clerk's
// issuer forms is accepted (no publishable key or issuer domain set).
func (a *Auth) Issuer() string { return a.issuer }

// FetchKeyIDs fetches the instance's key set now, bypassing the cache,
// and returns the kids of its usable RS256 keys. With CLERK_JWT_KEY it
// fetches nothing and returns nil.
func (a *Auth) FetchKeyIDs(ctx context.Context) ([]string, error) {
	if a.keys.fetch == nil {
		return nil, nil
	}
	keys, err := a.keys.fetch(ctx)
	if err != nil {
		return nil, errors.New(describeFetchError(err))
	}
	kids := make([]string, 0, len(keys))
	for kid := range keys {
		kids = append(kids, kid)
	}
	slices.Sort(kids)
	return kids, nil
}

func algError(alg, typ string, crit bool) *Error {
	switch {
	case crit && alg == "RS256":
		return newError(ReasonTokenInvalid, "the crit header names extensions this verifier does not support")
	case alg != "RS256":
		return newError(ReasonTokenInvalidAlgorithm, "alg is "+quoteOrNone(alg)+"; only RS256 is accepted")
	case typ != "" && typ != "JWT":
		return newError(ReasonTokenInvalid, `typ is "`+typ+`"; it must be "JWT" or absent`)
	}
	return nil
}

func describeClaim(name string, id *Identity, now time.Time) string {
	switch name {
	case "issuer":
		return "iss " + quoteOrNone(id.Issuer)
	case "audience":
		return "aud " + quoteOrNone(strings.Join(id.Audience, ","))
	case "authorized party":
		return "azp " + quoteOrNone(id.AuthorizedParty)
	case "expiry":
		return "exp in " + strconv.Itoa(int(id.ExpiresAt.Unix()-now.Unix())) + "s"
	case "not before":
		return "nbf " + quoteOrNone(timeOrNone(id.NotBefore))
	case "issued at":
		return "iat " + quoteOrNone(timeOrNone(id.IssuedAt))
	}
	return ""
}

func timeOrNone(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func errIf(cond bool, reason, detail string) *Error {
	if cond {
		return newError(reason, detail)
	}
	return nil
}

func asErrorOrNil(err error) *Error {
	if err == nil {
		return nil
	}
	return asError(err)
}

func quoteOrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return `"` + s + `"`
}
