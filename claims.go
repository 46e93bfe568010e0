package clerkauth

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/clerkauth/clerkauth/internal/strictjson"
)

// This file reads a verified token's claims into an Identity: every claim
// parser of the package (sessions, machine JWTs, entitlements), strict
// about JSON types, so that a mistyped claim is a malformed token rather
// than a missing one.

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

// machineIdentityFromClaims builds the identity of a verified M2M or OAuth
// JWT, reading the claims as @clerk/backend's M2MToken.fromJwtPayload and
// IdPOAuthAccessToken.fromJwtPayload do.
func machineIdentityFromClaims(typ TokenType, claims map[string]any) (*Identity, error) {
	bad := func(detail string) (*Identity, error) { return nil, newError(ReasonTokenInvalid, detail) }
	id := &Identity{TokenType: typ, Claims: claims}
	var ok bool
	if id.Subject, ok = claims["sub"].(string); !ok || id.Subject == "" {
		return bad("sub is missing or not a string")
	}
	if err := timeClaims(id, claims); err != nil {
		return nil, err
	}
	if err := stringClaims(claims, []stringClaim{{"jti", &id.TokenID}, {"iss", &id.Issuer}, {"client_id", &id.ClientID}}); err != nil {
		return nil, err
	}
	aud, err := audienceClaim(claims)
	if err != nil {
		return nil, err
	}
	id.Audience = aud
	switch typ {
	case M2MToken:
		id.MachineID = id.Subject
		// scopes: a space-separated string; without it, Clerk takes aud.
		if s, present := claims["scopes"]; present && s != nil {
			str, ok := s.(string)
			if !ok {
				return bad("scopes is not a string")
			}
			id.Scopes = strings.Split(str, " ")
		} else {
			id.Scopes = aud
		}
	case OAuthToken:
		id.UserID = id.Subject
		// scp: an array of strings; without it, scope split at spaces.
		if s, present := claims["scp"]; present && s != nil {
			list, ok := s.([]any)
			if !ok {
				return bad("scp is not an array")
			}
			for _, v := range list {
				str, ok := v.(string)
				if !ok {
					return bad("scp holds a value that is not a string")
				}
				id.Scopes = append(id.Scopes, str)
			}
		} else if s, present := claims["scope"]; present && s != nil {
			str, ok := s.(string)
			if !ok {
				return bad("scope is not a string")
			}
			id.Scopes = strings.Split(str, " ")
		}
	}
	if id.Scopes == nil {
		id.Scopes = []string{}
	}
	return id, nil
}

// parseEntitlements reads a fea or pla claim as Clerk's splitByScope does:
// comma-separated "scope:value" items, trimmed, with scopes o, u and
// ou/uo (others are ignored). An item without a colon makes the whole
// claim unreadable to Clerk, so it gives no entitlements at all (ok is
// false).
func parseEntitlements(claim string) (list []Entitlement, ok bool) {
	if claim == "" {
		return nil, true
	}
	for _, part := range strings.Split(claim, ",") {
		scope, value, found := strings.Cut(strings.TrimSpace(part), ":")
		if !found {
			return nil, false
		}
		e := Entitlement{Name: value}
		switch scope {
		case "o":
			e.Org = true
		case "u":
			e.User = true
		case "ou", "uo":
			e.Org, e.User = true, true
		}
		list = append(list, e)
	}
	return list, true
}
