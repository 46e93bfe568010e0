package clerkauth

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	jose "github.com/go-jose/go-jose/v4"
)

// The compact JWS, step by step: VerifyToken runs these in order and
// stops at the first failure; ExplainToken runs them all.
//
// go-jose parses and validates every protected header (alg allow-list,
// crit, embedded jwk). All tokens signed with one key of an instance carry
// the same header bytes, so the validated header is cached by its exact
// encoded form and go-jose runs once per key rather than once per token;
// the per-token work is a strict base64url decode and crypto/rsa's
// VerifyPKCS1v15 over SHA-256 of the signing input, which is RS256 as RFC
// 7518 §3.3 defines it (and exactly what go-jose would call).

// Clerk signs session and JWT-template tokens with RS256 only. Every other
// algorithm, "none" and HMAC above all, is refused before a key is chosen.
var allowedAlgorithms = []jose.SignatureAlgorithm{jose.RS256}

// jwsParts is a token split into its three segments.
type jwsParts struct {
	header       string // first segment, encoded
	signingInput string // header "." payload, encoded
	payload      string // second segment, encoded
	signature    string // third segment, encoded
}

// validHeader is what the verifier needs from a validated header.
type validHeader struct {
	kid string
	typ string // "JWT", an OAuth access token's "at+jwt", or ""
	cat string // Clerk's token category, when present
	err *Error // non-nil: this header is refused, with this reason
}

// splitToken checks the size and shape of a compact JWS: exactly three
// segments, each made only of base64url characters (no padding, no
// whitespace, nothing else), so that decoding is unambiguous.
// b64urlClass sorts bytes for splitToken in one load each: the base64url
// alphabet, the dot between segments, and everything else.
var b64urlClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			t[c] = b64urlChar
		case c == '.':
			t[c] = b64urlDot
		}
	}
	return t
}()

const (
	b64urlInvalid = iota
	b64urlChar
	b64urlDot
)

func splitToken(token string) (jwsParts, *Error) {
	switch {
	case token == "":
		return jwsParts{}, newError(ReasonSessionTokenMissing, "the token is empty")
	case len(token) > maxTokenBytes:
		return jwsParts{}, newError(ReasonTokenInvalid, "the token is larger than maxTokenBytes (16 KiB)")
	}
	dots := 0
	for i := 0; i < len(token); i++ {
		switch b64urlClass[token[i]] {
		case b64urlDot:
			dots++
		case b64urlInvalid:
			return jwsParts{}, newError(ReasonTokenInvalid, "the token has characters outside base64url (padding, whitespace, +, /)")
		}
	}
	if dots != 2 {
		return jwsParts{}, newError(ReasonTokenInvalid, "a JWT has three dot-separated segments; this has "+strconv.Itoa(dots+1))
	}
	first := strings.IndexByte(token, '.')
	second := first + 1 + strings.IndexByte(token[first+1:], '.')
	if first == 0 || second == first+1 {
		return jwsParts{}, newError(ReasonTokenInvalid, "the header or the payload segment is empty")
	}
	return jwsParts{header: token[:first], signingInput: token[:second], payload: token[first+1 : second], signature: token[second+1:]}, nil
}

// b64 decodes base64url strictly: unpadded, and with the unused bits of
// the last character zero, so that each byte string has one encoding.
var b64 = base64.RawURLEncoding.Strict()

// headerCache remembers validated headers by their encoded form, but only
// headers of tokens whose signature then verified with an instance key:
// an attacker can invent valid-looking headers at will, not signed tokens.
// In practice it holds one entry per instance key. The bound and the
// eviction are a second line of defence.
type headerCache struct {
	mu sync.RWMutex
	m  map[string]validHeader
}

const maxCachedHeaders = 64

// header validates the protected header of token (whose first segment is
// p.header) with go-jose, or returns the cached result. A fresh result is
// not cached: remember does that once the signature verified.
func (c *headerCache) header(p jwsParts) (h validHeader, cached bool) {
	c.mu.RLock()
	h, ok := c.m[p.header]
	c.mu.RUnlock()
	if ok {
		return h, true
	}
	return validateHeader(p.header), false
}

// remember caches a header that validated and whose token verified. When
// the cache is full, an arbitrary entry makes room (the map's own order):
// real headers are few and come back at once if evicted.
func (c *headerCache) remember(encoded string, h validHeader) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]validHeader{}
	}
	if len(c.m) >= maxCachedHeaders {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[encoded] = h
}

// validateHeader validates an encoded protected header on its own: the
// rest of the token is replaced by a fixed, well-formed payload and
// signature, so that the verdict (which is cached) depends on the header
// alone and a bad payload can never get a good header refused.
func validateHeader(header string) validHeader {
	jws, err := jose.ParseSignedCompact(header+".e30.AAAA", allowedAlgorithms)
	if err != nil {
		var algErr *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &algErr) {
			return validHeader{err: newError(ReasonTokenInvalidAlgorithm, "alg is "+quoteOrNone(string(algErr.Got))+"; only RS256 is accepted")}
		}
		return validHeader{err: newError(ReasonTokenInvalid, "the header is not a valid JWS header")}
	}
	h := jws.Signatures[0].Header
	v := validHeader{kid: h.KeyID}
	if raw, ok := h.ExtraHeaders[jose.HeaderType]; ok {
		// Clerk sends typ "JWT" (or none) on session and M2M tokens, and
		// "at+jwt" on OAuth access tokens; which one a token may carry is
		// checked by its verifier.
		typ, _ := raw.(string)
		if typ != "JWT" && !slices.Contains(oauthJWTTypes, typ) {
			return validHeader{err: newError(ReasonTokenInvalid, `typ must be "JWT", "at+jwt" or absent`)}
		}
		v.typ = typ
	}
	if raw, ok := h.ExtraHeaders["cat"]; ok {
		cat, isString := raw.(string)
		if !isString {
			return validHeader{err: newError(ReasonTokenInvalid, "the cat header is not a string")}
		}
		v.cat = cat
	}
	if _, ok := h.ExtraHeaders["crit"]; ok {
		// RFC 7515 §4.1.11: extensions we do not understand must be
		// refused; Clerk uses none.
		return validHeader{err: newError(ReasonTokenInvalid, "the crit header names extensions this verifier does not support")}
	}
	// jku, x5u and jwk are never consulted: keys come only from the
	// instance's configured source.
	return v
}

// verifySignature checks the RS256 signature of p with key.
func verifySignature(key *rsa.PublicKey, p jwsParts) *Error {
	// A 4096-bit signature is 512 bytes: decode into the stack.
	var buf [512]byte
	if b64.DecodedLen(len(p.signature)) > len(buf) {
		return newError(ReasonTokenInvalidSignature, "the signature is longer than a 4096-bit RSA signature")
	}
	n, err := b64.Decode(buf[:], unsafe.Slice(unsafe.StringData(p.signature), len(p.signature)))
	if err != nil {
		return newError(ReasonTokenInvalidSignature, "the signature is not base64url")
	}
	sig := buf[:n]
	// The signing input is hashed in place: a copy of up to 16 KiB per
	// token would buy nothing (sha256 only reads it).
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(p.signingInput), len(p.signingInput)))
	if rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig) != nil {
		return newError(ReasonTokenInvalidSignature, "the signature does not verify with the instance's key")
	}
	return nil
}

// decodePayload decodes the payload segment (after, or for ExplainToken
// instead of, the signature check).
func decodePayload(p jwsParts) ([]byte, *Error) {
	payload, err := b64.DecodeString(p.payload)
	if err != nil {
		return nil, newError(ReasonTokenInvalid, "the payload is not base64url")
	}
	return payload, nil
}

// verifyJWS runs the whole compact-JWS part of verification and returns
// the verified payload and the validated header.
func (a *Auth) verifyJWS(ctx context.Context, token string) ([]byte, validHeader, error) {
	p, perr := splitToken(token)
	if perr != nil {
		return nil, validHeader{}, perr
	}
	h, cached := a.headers.header(p)
	if h.err != nil {
		return nil, h, h.err
	}
	key, err := a.keys.key(ctx, h.kid)
	if err != nil {
		return nil, h, err
	}
	if err := verifySignature(key, p); err != nil {
		return nil, h, err
	}
	if !cached {
		a.headers.remember(p.header, h)
	}
	payload, derr := decodePayload(p)
	if derr != nil {
		return nil, h, derr
	}
	return payload, h, nil
}
