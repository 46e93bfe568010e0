// Package issuer is a local stand-in for a Clerk instance's token issuer:
// an RSA key (or several, across rotations), a JWKS endpoint on loopback,
// and session tokens shaped like Clerk's. clerktest builds its test
// helpers on it; the quickstart's local mode uses it directly. It never
// imports testing, so binaries that use it do not link it.
//
// Never use it in production: anyone with the process's key can mint
// sessions.
package issuer

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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clerkauth/clerkauth"
)

// Issuer plays a Clerk instance.
type Issuer struct {
	// URL is the issuer (the iss claim) and the base of the JWKS URL:
	// the JWKS server's URL, e.g. "http://127.0.0.1:41234".
	URL string
	// Server serves GET /.well-known/jwks.json.
	Server *Server

	development bool // a development instance (pk_test_, sk_test_)

	mu      sync.Mutex
	keys    []key // keys[len-1] signs; all are published
	fetches atomic.Int64
	now     func() time.Time
}

type key struct {
	kid  string
	priv *rsa.PrivateKey
}

var counter atomic.Int64

// Start starts an issuer of a production instance with a fresh RSA-2048
// key; its JWKS server listens on loopback until Close.
func Start() (*Issuer, error) { return start(false) }

// StartDevelopment is Start for a development instance: its Config has a
// pk_test_ publishable key, so clerkauth applies the dev browser rules,
// and its BackendAPI a sk_test_ secret key.
func StartDevelopment() (*Issuer, error) { return start(true) }

func start(development bool) (*Issuer, error) {
	k, err := newKey()
	if err != nil {
		return nil, err
	}
	i := &Issuer{now: time.Now, keys: []key{k}, development: development}
	i.Server = startServer(http.HandlerFunc(i.serveJWKS))
	i.URL = i.Server.URL
	return i, nil
}

// Development reports whether the issuer plays a development instance.
func (i *Issuer) Development() bool { return i.development }

// Close stops the issuer's JWKS server.
func (i *Issuer) Close() { i.Server.Close() }

// SetNow sets the clock used for iat, nbf and exp of minted tokens
// (default time.Now).
func (i *Issuer) SetNow(now func() time.Time) {
	i.mu.Lock()
	i.now = now
	i.mu.Unlock()
}

func newKey() (key, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return key{}, fmt.Errorf("clerktest: generating an RSA key: %w", err)
	}
	return key{kid: fmt.Sprintf("ins_clerktest_%d", counter.Add(1)), priv: priv}, nil
}

// Rotate adds a new signing key, as Clerk does when an instance's keys are
// rotated: the new key signs from now on, and the old keys stay published
// until RemoveOldKeys. It returns the new key's kid.
func (i *Issuer) Rotate() (string, error) {
	k, err := newKey()
	if err != nil {
		return "", err
	}
	i.mu.Lock()
	i.keys = append(i.keys, k)
	i.mu.Unlock()
	return k.kid, nil
}

// RemoveOldKeys stops publishing every key but the current one.
func (i *Issuer) RemoveOldKeys() {
	i.mu.Lock()
	i.keys = i.keys[len(i.keys)-1:]
	i.mu.Unlock()
}

func (i *Issuer) current() key {
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
func (i *Issuer) PublicKeyPEM() (string, error) {
	der, err := x509.MarshalPKIXPublicKey(&i.current().priv.PublicKey)
	if err != nil {
		return "", fmt.Errorf("clerktest: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// JWKSFetches counts the requests the JWKS endpoint has answered.
func (i *Issuer) JWKSFetches() int { return int(i.fetches.Load()) }

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/.well-known/jwks.json" {
		http.NotFound(w, r)
		return
	}
	i.fetches.Add(1)
	b, err := i.JWKS()
	if err != nil {
		http.Error(w, "cannot encode the key set", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// JWKS returns the published key set as JSON.
func (i *Issuer) JWKS() ([]byte, error) {
	i.mu.Lock()
	set := jose.JSONWebKeySet{}
	for _, k := range i.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: "RS256", Use: "sig"})
	}
	i.mu.Unlock()
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("clerktest: %w", err)
	}
	return b, nil
}

// FrontendAPI is the Frontend API host that Config's publishable key
// names. Nothing answers there: the key only gives clerkauth an instance
// to derive the Account Portal's pages and the cookie suffix from, as in
// production; tokens are verified against the issuer's own URL.
const FrontendAPI = "clerk.clerktest.example"

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

// Config returns a clerkauth.Config that trusts this issuer: the
// instance's publishable key for FrontendAPI (so a browser sent to a
// protected page is redirected to the Account Portal's sign-in page,
// https://accounts.clerktest.example/sign-in, and the cookie suffix is
// derived), with IssuerDomain pointing at this issuer, whose JWKS endpoint
// provides the keys. The key is a production one (pk_live_) for Start, a
// development one (pk_test_) for StartDevelopment.
func (i *Issuer) Config() clerkauth.Config {
	return clerkauth.Config{
		PublishableKey: i.publishableKey(),
		IssuerDomain:   i.URL,
		HTTPClient:     i.Server.Client(),
	}
}

// publishableKey is the instance's publishable key, for FrontendAPI.
func (i *Issuer) publishableKey() string { return PublishableKey(FrontendAPI, !i.development) }

// NewWebhookSecret returns a fresh signing secret in Clerk's format,
// "whsec_" followed by base64 of 24 random bytes.
func NewWebhookSecret() string {
	key := make([]byte, 24)
	if _, err := rand.Read(key); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// Spec is a token about to be signed: its claims, and the kid and key of
// its signature. Options change it.
type Spec struct {
	Claims  map[string]any
	Kid     string
	Key     *rsa.PrivateKey
	Headers map[string]any // extra protected-header fields (typ replaces "JWT")
	Now     time.Time      // the issuer's clock when the token is minted
}

// Option changes the claims or header of a minted token.
type Option func(*Spec)

// Header sets a protected-header field (typ, cat, …).
func Header(name string, value any) Option {
	return func(s *Spec) {
		if s.Headers == nil {
			s.Headers = map[string]any{}
		}
		s.Headers[name] = value
	}
}

// Issued sets the iss claim.
func Issued(iss string) Option { return func(s *Spec) { s.Claims["iss"] = iss } }

// SessionID sets the sid claim.
func SessionID(sid string) Option { return func(s *Spec) { s.Claims["sid"] = sid } }

// Expiry makes the token valid for d, or expired when d <= 0, exactly as
// clerkauth's verifier with the default clock skew sees it. exp is whole
// seconds, rounded away from the mint instant so that the sign is kept:
//   - d > 0: exp is the first whole second at or after now+d, so the token
//     is valid at least until now+d (a verifier accepts it for
//     ClockSkew longer);
//   - d <= 0: exp is the last whole second before now+d, minus
//     clerkauth.DefaultClockSkew, so a verifier with the default skew (or
//     less) refuses it as token-expired from the moment it is minted, and
//     would have since d ago.
//
// For an exp of your choosing, set the claim itself.
func Expiry(d time.Duration) Option {
	return func(s *Spec) {
		at := s.Now.Add(d).UnixNano()
		if d > 0 {
			s.Claims["exp"] = ceilDiv(at, int64(time.Second))
			return
		}
		s.Claims["exp"] = ceilDiv(at, int64(time.Second)) - 1 - int64(clerkauth.DefaultClockSkew/time.Second)
	}
}

// ceilDiv is ⌈a/b⌉ for b > 0, negative a included.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a > 0 {
		q++
	}
	return q
}

// Org sets the active organization in session-token v2 form, as Clerk
// encodes it; see OrgClaims.
func Org(id, slug, role string, permissions ...string) Option {
	return func(s *Spec) {
		org, fea, err := OrgClaims(id, slug, role, permissions...)
		if err != nil {
			panic(err) // a permission in the wrong form: a mistake in the test's source
		}
		s.Claims["v"], s.Claims["o"] = 2, org
		if fea != "" {
			s.Claims["fea"] = fea
		}
	}
}

// OrgClaims encodes an active organization as session tokens v2 carry it:
// the o claim ({id, slg, rol, per, fpm}) and the fea claim listing the
// organization's features. role and permissions may be written with or
// without Clerk's "org:" prefix ("admin", "org:admin"; "invoices:create",
// "org:invoices:create").
func OrgClaims(id, slug, role string, permissions ...string) (o map[string]any, fea string, err error) {
	o = map[string]any{"id": id, "slg": slug, "rol": strings.TrimPrefix(role, "org:")}
	var features, perms []string
	bits := map[string]uint64{}
	for _, p := range permissions {
		rest := strings.TrimPrefix(p, "org:")
		cut := strings.LastIndexByte(rest, ':')
		if cut <= 0 || cut == len(rest)-1 {
			return nil, "", fmt.Errorf(`clerktest: permission %q is not of the form "<feature>:<permission>" (or "org:<feature>:<permission>")`, p)
		}
		feature, perm := rest[:cut], rest[cut+1:]
		pi := indexOf(&perms, perm)
		if _, ok := bits[feature]; !ok {
			features = append(features, feature)
		}
		bits[feature] |= 1 << pi
	}
	if len(features) == 0 {
		return o, "", nil
	}
	feas := make([]string, len(features))
	fpm := make([]string, len(features))
	for n, f := range features {
		feas[n], fpm[n] = "o:"+f, strconv.FormatUint(bits[f], 10)
	}
	o["per"], o["fpm"] = strings.Join(perms, ","), strings.Join(fpm, ",")
	return o, strings.Join(feas, ","), nil
}

func indexOf(list *[]string, v string) int {
	for i, e := range *list {
		if e == v {
			return i
		}
	}
	*list = append(*list, v)
	return len(*list) - 1
}

// SessionToken mints a session token for userID, shaped like Clerk's
// session tokens v2: iss, sub, sid, iat, nbf, exp (60s), azp, v, sts.
func (i *Issuer) SessionToken(userID string, opts ...Option) (string, error) {
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
		"jti": fmt.Sprintf("jti_%d", counter.Add(1)),
	}
	return i.sign(now, claims, opts)
}

// TemplateToken mints a JWT-template token (as getToken({template})
// returns) for userID with audience aud and the template's extra claims,
// such as email and name.
func (i *Issuer) TemplateToken(userID, aud string, extra map[string]any, opts ...Option) (string, error) {
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
	return i.sign(now, claims, opts)
}

// Sign signs claims exactly as given (no defaults), with the current key.
func (i *Issuer) Sign(claims map[string]any, opts ...Option) (string, error) {
	return i.sign(i.clock(), maps.Clone(claims), opts)
}

func (i *Issuer) clock() time.Time {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.now()
}

func (i *Issuer) sign(now time.Time, claims map[string]any, opts []Option) (string, error) {
	k := i.current()
	spec := &Spec{Claims: claims, Kid: k.kid, Key: k.priv, Now: now}
	for _, o := range opts {
		o(spec)
	}
	return SignJWTHeaders(spec.Key, spec.Kid, spec.Claims, spec.Headers)
}

// SignJWT signs claims with key under the given kid, as a compact JWS
// with typ "JWT". Claims of type []byte are signed byte for byte;
// anything else is encoded with encoding/json.
func SignJWT(key *rsa.PrivateKey, kid string, claims any) (string, error) {
	return SignJWTHeaders(key, kid, claims, nil)
}

// SignJWTHeaders is SignJWT with extra protected-header fields.
func SignJWTHeaders(key *rsa.PrivateKey, kid string, claims any, headers map[string]any) (string, error) {
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
	for k, v := range headers {
		if v != nil { // nil: leave the field out
			opts = opts.WithHeader(jose.HeaderKey(k), v)
		}
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
