// Package clerktest helps test code that uses clerkauth, without a Clerk
// account and without network access beyond loopback.
//
// An [Issuer] plays a Clerk instance: it holds an RSA key, serves its JWKS
// from an httptest server, hands out a clerkauth.Config wired to it, and
// mints session tokens and JWT-template tokens with whatever claims a test
// needs. [NewWebhookRequest] builds Svix-signed webhook deliveries.
//
//	iss := clerktest.NewIssuer(t)
//	auth, _ := clerkauth.New(iss.Config())
//	req := httptest.NewRequest("GET", "/api/me", nil)
//	req.Header.Set("Authorization", "Bearer "+iss.SessionToken("user_123"))
package clerktest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clerkauth/clerkauth"
)

// Issuer is a local stand-in for a Clerk instance's token issuer.
type Issuer struct {
	// URL is the issuer (the iss claim) and the base of the JWKS URL:
	// the httptest server's URL, e.g. "http://127.0.0.1:41234".
	URL string
	// Server serves GET /.well-known/jwks.json.
	Server *httptest.Server

	tb      testing.TB
	mu      sync.Mutex
	keys    []issuerKey // keys[len-1] signs; all are published
	fetches atomic.Int64
	now     func() time.Time
}

type issuerKey struct {
	kid  string
	priv *rsa.PrivateKey
}

var kidCounter atomic.Int64

// NewIssuer starts an issuer with a fresh RSA-2048 key. The server is
// closed when the test ends.
func NewIssuer(tb testing.TB) *Issuer {
	tb.Helper()
	iss := &Issuer{tb: tb, now: time.Now}
	iss.Rotate()
	iss.start()
	tb.Cleanup(iss.Server.Close)
	return iss
}

// StartLocalIssuer starts an issuer outside of tests, for a development
// server that must run without a Clerk account (the quickstart's local
// mode). Its JWKS server listens on loopback until Close. Never use it in
// production: anyone with this process's key can mint sessions.
func StartLocalIssuer() (*Issuer, error) {
	k, err := newKey()
	if err != nil {
		return nil, err
	}
	iss := &Issuer{now: time.Now, keys: []issuerKey{k}}
	iss.start()
	return iss, nil
}

// Close stops the issuer's JWKS server.
func (i *Issuer) Close() { i.Server.Close() }

func (i *Issuer) start() {
	i.Server = httptest.NewServer(http.HandlerFunc(i.serveJWKS))
	i.URL = i.Server.URL
}

// fatalf fails the test, or panics for a local issuer (whose operations
// fail only if the machine cannot generate randomness or encode JSON).
func (i *Issuer) fatalf(format string, args ...any) {
	if i.tb != nil {
		i.tb.Helper()
		i.tb.Fatalf(format, args...)
		return
	}
	panic(fmt.Sprintf(format, args...))
}

// SetNow sets the clock used for iat, nbf and exp of minted tokens
// (default time.Now).
func (i *Issuer) SetNow(now func() time.Time) {
	i.mu.Lock()
	i.now = now
	i.mu.Unlock()
}

func newKey() (issuerKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return issuerKey{}, fmt.Errorf("clerktest: generating an RSA key: %w", err)
	}
	return issuerKey{kid: fmt.Sprintf("ins_clerktest_%d", kidCounter.Add(1)), priv: priv}, nil
}

// Rotate adds a new signing key, as Clerk does when an instance's keys are
// rotated: the new key signs from now on, and the old keys stay published
// until RemoveOldKeys. It returns the new key's kid.
func (i *Issuer) Rotate() string {
	k, err := newKey()
	if err != nil {
		i.fatalf("%v", err)
	}
	i.mu.Lock()
	i.keys = append(i.keys, k)
	i.mu.Unlock()
	return k.kid
}

// RemoveOldKeys stops publishing every key but the current one.
func (i *Issuer) RemoveOldKeys() {
	i.mu.Lock()
	i.keys = i.keys[len(i.keys)-1:]
	i.mu.Unlock()
}

func (i *Issuer) current() issuerKey {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.keys[len(i.keys)-1]
}

// KeyID returns the kid of the current signing key.
func (i *Issuer) KeyID() string { return i.current().kid }

// PrivateKey returns the current signing key, for tests that sign tokens
// by hand.
func (i *Issuer) PrivateKey() *rsa.PrivateKey { return i.current().priv }

// PublicKeyPEM returns the current key as CLERK_JWT_KEY holds it.
func (i *Issuer) PublicKeyPEM() string {
	der, err := x509.MarshalPKIXPublicKey(&i.current().priv.PublicKey)
	if err != nil {
		i.fatalf("clerktest: %v", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// JWKSFetches counts the requests the JWKS endpoint has answered.
func (i *Issuer) JWKSFetches() int { return int(i.fetches.Load()) }

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/.well-known/jwks.json" {
		http.NotFound(w, r)
		return
	}
	i.fetches.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.Write(i.JWKS())
}

// JWKS returns the published key set as JSON.
func (i *Issuer) JWKS() []byte {
	i.mu.Lock()
	set := jose.JSONWebKeySet{}
	for _, k := range i.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: "RS256", Use: "sig"})
	}
	i.mu.Unlock()
	b, err := json.Marshal(set)
	if err != nil {
		i.fatalf("clerktest: %v", err)
	}
	return b
}

// PublishableKey builds a publishable key for the Frontend API host, as
// Clerk does: "pk_test_" (or "pk_live_" when live) followed by base64 of
// "<host>$".
func PublishableKey(host string, live bool) string {
	kind := "pk_test_"
	if live {
		kind = "pk_live_"
	}
	return kind + base64.StdEncoding.EncodeToString([]byte(host+"$"))
}

// Config returns a clerkauth.Config that trusts this issuer: IssuerDomain
// is the issuer's URL, and keys are fetched from its JWKS endpoint.
func (i *Issuer) Config() clerkauth.Config {
	return clerkauth.Config{
		IssuerDomain: i.URL,
		HTTPClient:   i.Server.Client(),
	}
}

// Auth builds a clerkauth.Auth from Config() with the changes edit makes
// (edit may be nil), failing the test on a configuration error.
func (i *Issuer) Auth(edit func(*clerkauth.Config)) *clerkauth.Auth {
	if i.tb != nil {
		i.tb.Helper()
	}
	cfg := i.Config()
	if edit != nil {
		edit(&cfg)
	}
	a, err := clerkauth.New(cfg)
	if err != nil {
		i.fatalf("clerktest: clerkauth.New: %v", err)
	}
	return a
}

// TokenOption changes the claims or header of a minted token.
type TokenOption func(*tokenSpec)

type tokenSpec struct {
	claims map[string]any
	kid    string
	key    *rsa.PrivateKey
}

// WithExpiry sets exp to now+d (negative for an expired token). Session
// tokens default to 60 seconds, as Clerk's do.
func WithExpiry(d time.Duration) TokenOption {
	return func(s *tokenSpec) { s.claims["exp"] = unixOf(s.claims["iat"]) + int64(d/time.Second) }
}

// WithAuthorizedParty sets azp, the origin the token was issued to.
func WithAuthorizedParty(origin string) TokenOption {
	return func(s *tokenSpec) { s.claims["azp"] = origin }
}

// WithSessionID sets sid.
func WithSessionID(sid string) TokenOption {
	return func(s *tokenSpec) { s.claims["sid"] = sid }
}

// WithOrg sets the active organization in session-token v2 form: role is
// given without the "org:" prefix Clerk adds ("admin" → "org:admin"), and
// each permission as "org:<feature>:<permission>", encoded into fea, o.per
// and o.fpm as Clerk encodes them.
func WithOrg(id, slug, role string, permissions ...string) TokenOption {
	return func(s *tokenSpec) {
		s.claims["v"] = 2
		o := map[string]any{"id": id, "slg": slug, "rol": role}
		var features, perms []string
		bits := map[string]uint64{}
		for _, p := range permissions {
			rest, ok := strings.CutPrefix(p, "org:")
			cut := strings.LastIndexByte(rest, ':')
			if !ok || cut <= 0 || cut == len(rest)-1 {
				panic("clerktest: WithOrg: permission " + p + ` is not of the form "org:<feature>:<permission>"`)
			}
			feature, perm := rest[:cut], rest[cut+1:]
			pi := index(&perms, perm)
			if _, ok := bits[feature]; !ok {
				features = append(features, feature)
			}
			bits[feature] |= 1 << pi
		}
		if len(features) > 0 {
			fea := make([]string, len(features))
			fpm := make([]string, len(features))
			for n, f := range features {
				fea[n], fpm[n] = "o:"+f, strconv.FormatUint(bits[f], 10)
			}
			s.claims["fea"] = strings.Join(fea, ",")
			o["per"], o["fpm"] = strings.Join(perms, ","), strings.Join(fpm, ",")
		}
		s.claims["o"] = o
	}
}

func index(list *[]string, v string) int {
	for i, e := range *list {
		if e == v {
			return i
		}
	}
	*list = append(*list, v)
	return len(*list) - 1
}

// WithOrgV1 sets the active organization in session-token v1 form
// (org_id, org_slug, org_role, org_permissions).
func WithOrgV1(id, slug, role string, permissions ...string) TokenOption {
	return func(s *tokenSpec) {
		delete(s.claims, "v")
		s.claims["org_id"], s.claims["org_slug"], s.claims["org_role"] = id, slug, role
		s.claims["org_permissions"] = permissions
	}
}

// WithActor marks the session as an impersonation by actorUserID (the act
// claim).
func WithActor(actorUserID string) TokenOption {
	return func(s *tokenSpec) { s.claims["act"] = map[string]any{"sub": actorUserID} }
}

// WithFeatures sets the billing features (the fea claim), as Clerk writes
// them: "o:reports,u:export" (o: the organization's, u: the user's, ou:
// both).
func WithFeatures(fea string) TokenOption {
	return func(s *tokenSpec) { s.claims["fea"] = fea }
}

// WithPlans sets the billing plans (the pla claim), scoped like
// WithFeatures: "o:pro,u:free".
func WithPlans(pla string) TokenOption {
	return func(s *tokenSpec) { s.claims["pla"] = pla }
}

// WithFactorAge sets how many minutes ago the session verified its first
// and second factor (the fva claim); -1 for never. clerkauth's
// Reverification checks read it.
func WithFactorAge(firstFactorMinutes, secondFactorMinutes int) TokenOption {
	return func(s *tokenSpec) { s.claims["fva"] = []int{firstFactorMinutes, secondFactorMinutes} }
}

// WithPending marks the session as pending (sts: "pending").
func WithPending() TokenOption {
	return func(s *tokenSpec) { s.claims["sts"] = "pending" }
}

// WithClaims sets arbitrary claims; a nil value deletes the claim.
func WithClaims(claims map[string]any) TokenOption {
	return func(s *tokenSpec) {
		for k, v := range claims {
			if v == nil {
				delete(s.claims, k)
			} else {
				s.claims[k] = v
			}
		}
	}
}

// WithKeyID sets the kid header (to test unknown or forged kids).
func WithKeyID(kid string) TokenOption {
	return func(s *tokenSpec) { s.kid = kid }
}

// WithSigningKey signs with key instead of the issuer's (to test tokens
// signed by another instance).
func WithSigningKey(key *rsa.PrivateKey) TokenOption {
	return func(s *tokenSpec) { s.key = key }
}

// SessionToken mints a session token for userID, shaped like Clerk's
// session tokens v2: iss, sub, sid, iat, nbf, exp (60s), azp, v, sts.
func (i *Issuer) SessionToken(userID string, opts ...TokenOption) string {
	now := i.clock()
	claims := map[string]any{
		"iss": i.URL,
		"sub": userID,
		"sid": "sess_" + userID,
		"iat": now.Unix(),
		"nbf": now.Unix() - 10,
		"exp": now.Unix() + 60,
		"azp": "http://localhost:3000",
		"v":   2,
		"sts": "active",
		"jti": fmt.Sprintf("jti_%d", kidCounter.Add(1)),
	}
	return i.sign(claims, opts)
}

// TemplateToken mints a JWT-template token (as getToken({template})
// returns) for userID with audience aud and the template's extra claims,
// such as email and name.
func (i *Issuer) TemplateToken(userID, aud string, extra map[string]any, opts ...TokenOption) string {
	now := i.clock()
	claims := map[string]any{
		"iss": i.URL,
		"sub": userID,
		"aud": aud,
		"iat": now.Unix(),
		"nbf": now.Unix() - 10,
		"exp": now.Unix() + 3600,
		"azp": "http://localhost:3000",
	}
	maps.Copy(claims, extra)
	return i.sign(claims, opts)
}

// Sign signs claims exactly as given (no defaults), with the current key.
func (i *Issuer) Sign(claims map[string]any, opts ...TokenOption) string {
	return i.sign(maps.Clone(claims), opts)
}

func (i *Issuer) clock() time.Time {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.now()
}

func (i *Issuer) sign(claims map[string]any, opts []TokenOption) string {
	k := i.current()
	spec := &tokenSpec{claims: claims, kid: k.kid, key: k.priv}
	for _, o := range opts {
		o(spec)
	}
	token, err := signJWT(spec.key, spec.kid, spec.claims)
	if err != nil {
		i.fatalf("%v", err)
	}
	return token
}

// SignRS256 signs claims with key under the given kid, as a compact JWS
// with typ "JWT". It is the building block for hand-made tokens. Claims of
// type []byte are signed byte for byte (to test malformed payloads);
// anything else is encoded with encoding/json.
func SignRS256(tb testing.TB, key *rsa.PrivateKey, kid string, claims any) string {
	tb.Helper()
	token, err := signJWT(key, kid, claims)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return token
}

func signJWT(key *rsa.PrivateKey, kid string, claims any) (string, error) {
	payload, ok := claims.([]byte)
	if !ok {
		var err error
		if payload, err = json.Marshal(claims); err != nil {
			return "", fmt.Errorf("clerktest: encoding claims: %w", err)
		}
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, opts)
	if err != nil {
		return "", fmt.Errorf("clerktest: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("clerktest: signing: %w", err)
	}
	return jws.CompactSerialize()
}

func unixOf(v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case int:
		return int64(v)
	}
	return time.Now().Unix()
}

// Identity returns a signed-in identity for userID, for handler tests that
// skip tokens altogether: put it into a request with
// clerkauth.ContextWithIdentity.
func Identity(userID string) *clerkauth.Identity {
	return &clerkauth.Identity{
		UserID:          userID,
		SessionID:       "sess_" + userID,
		Issuer:          "https://clerk.example.test",
		TokenIdentifier: "https://clerk.example.test|" + userID,
		ExpiresAt:       time.Now().Add(time.Minute),
		Claims:          map[string]any{"sub": userID},
	}
}
