package clerkauth

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/clerkauth/clerkauth/internal/redact"
)

// TokenCheck is the outcome of one check ExplainToken ran.
type TokenCheck struct {
	Name   string // "structure", "algorithm", "key", "signature", "claims", "issuer", …
	OK     bool
	Reason Reason // the reason code the middleware would answer with, when !OK
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
	p, perr := splitToken(token)
	if !add("structure", perr, "three base64url segments") {
		return out
	}
	h := validateHeader(p.header)
	name := "header"
	if h.err != nil && h.err.Reason == ReasonTokenInvalidAlgorithm {
		name = "algorithm"
	}
	if !add(name, h.err, "RS256, validated by go-jose") {
		return out
	}
	if raw, err := b64.DecodeString(p.header); err == nil {
		var extra struct{ Jku, X5u, JWK json.RawMessage }
		if json.Unmarshal(raw, &extra) == nil && (extra.Jku != nil || extra.X5u != nil || extra.JWK != nil) {
			out = append(out, TokenCheck{Name: "key headers", OK: true, Detail: "jku/x5u/jwk headers are present and ignored: keys come only from the instance"})
		}
	}

	verified := false
	key, kerr := a.keys.key(ctx, h.kid)
	if add("key", asErrorOrNil(kerr), "kid "+quoteOrNone(h.kid)+" is one of the instance's keys") {
		verified = add("signature", verifySignature(key, p), "verified with the instance's key")
	}

	payload, derr := decodePayload(p)
	if !add("payload", derr, "base64url") {
		return out
	}
	id, ierr := a.identityFromPayload(payload)
	if !add("claims", asErrorOrNil(ierr), "sub, exp and the other claims have valid types") {
		return out
	}
	note := ""
	if !verified {
		note = " (unverified: the signature did not check out)"
	}
	now := a.now()
	for _, c := range claimChecks {
		err := c.run(&a.rules, id, now)
		if err != nil {
			err = &Error{Reason: err.Reason, Detail: err.Detail + note}
		}
		add(c.name, err, c.describe(id, now)+note)
	}
	st, _ := a.withStatus(id)
	add("session status", errIf(st == nil, ReasonSessionPending, "the session is pending (sts), which counts as signed out"), "sts "+quoteOrNone(id.SessionStatus)+note)
	return out
}

// InstanceCheck is what CheckInstance found.
type InstanceCheck struct {
	// Compared is false when there is nothing to compare: no secret key,
	// or the keys already come from the Backend API.
	Compared bool
	// Source is the environment variable the verifier's keys come from
	// (CLERK_JWT_KEY, CLERK_JWT_ISSUER_DOMAIN or CLERK_PUBLISHABLE_KEY):
	// the one to fix, besides CLERK_SECRET_KEY, on a mismatch.
	Source string
	// BackendKids and VerifierKids are the kids of the two key sets.
	BackendKids, VerifierKids []string
	// Same reports that a key (kid and key material) is in both sets.
	Same bool
	// BackendErr and VerifierErr say why a set could not be fetched, in
	// words that never include a key.
	BackendErr, VerifierErr error
}

// CheckInstance tells whether the secret key and the keys tokens are
// verified with (the publishable key's or issuer's JWKS, or CLERK_JWT_KEY)
// belong to the same Clerk instance: it fetches the Backend API's key set
// (GET <APIURL>/jwks with the secret key) and the verifier's, now, and
// compares them. A secret key of one instance beside a publishable key of
// another of the same type passes every other check, and shows up later as
// a handshake loop or a failing CurrentUser. For diagnostics (`clerkauth
// doctor`), not for requests: both fetches go through the configured
// client with the usual body cap; bound them with ctx.
func (a *Auth) CheckInstance(ctx context.Context) (m InstanceCheck) {
	switch {
	case a.cfg.SecretKey == "":
		return m
	case a.cfg.JWTKey != "":
		m.Source = EnvJWTKey
	case a.cfg.IssuerDomain != "":
		m.Source = EnvIssuerDomain
	case a.rules.issuer != "":
		m.Source = EnvPublishableKey
	default:
		return m // the keys come from the Backend API already
	}
	m.Compared = true
	verifier := map[string]*rsa.PublicKey{}
	if set := a.keys.current.Load(); set != nil && set.any != nil {
		verifier[""] = set.any // CLERK_JWT_KEY has no kid: compared by material
	} else if keys, _, err := a.keys.fetch(ctx); err != nil {
		m.VerifierErr = errors.New(describeFetchError(err))
	} else {
		verifier = keys
	}
	backend, _, err := backendAPIFetcher(a.cfg.HTTPClient, a.cfg.APIURL, a.cfg.SecretKey)(ctx)
	if err != nil {
		m.BackendErr = errors.New(describeFetchError(err))
	}
	m.BackendKids, m.VerifierKids = sortedKids(backend), sortedKids(verifier)
	for kid, k := range verifier {
		for bkid, bk := range backend {
			if (kid == "" || kid == bkid) && k.Equal(bk) {
				m.Same = true
			}
		}
	}
	return m
}

func sortedKids(keys map[string]*rsa.PublicKey) []string {
	kids := make([]string, 0, len(keys))
	for kid := range keys {
		if kid != "" {
			kids = append(kids, kid)
		}
	}
	slices.Sort(kids)
	return kids
}

// Issuer is the iss tokens must carry, or "" when any of Clerk's issuer
// forms is accepted (no publishable key, no IssuerDomain).
func (a *Auth) Issuer() string { return a.rules.issuer }

// KeySource says where the Auth gets its verification keys, in words (a
// URL's credentials hidden).
func (a *Auth) KeySource() string {
	switch {
	case a.cfg.JWTKey != "":
		return "CLERK_JWT_KEY (networkless)"
	case a.rules.issuer != "":
		return "JWKS " + a.rules.issuer + "/.well-known/jwks.json"
	default:
		return "Backend API " + redact.URL(a.cfg.APIURL) + "/jwks (with the secret key)"
	}
}

// FetchKeyIDs fetches the instance's key set now, bypassing the cache,
// and returns the kids of its usable RS256 keys and a description of each
// entry it skipped; for diagnostics (`clerkauth doctor`). With
// CLERK_JWT_KEY it fetches nothing and returns nil.
func (a *Auth) FetchKeyIDs(ctx context.Context) (kids, skipped []string, err error) {
	if a.keys.fetch == nil {
		return nil, nil, nil
	}
	keys, skipped, err := a.keys.fetch(ctx)
	if err != nil {
		return nil, nil, errors.New(describeFetchError(err))
	}
	return sortedKids(keys), skipped, nil
}

func timeOrNone(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func errIf(cond bool, reason Reason, detail string) *Error {
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
