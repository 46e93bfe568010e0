package clerkauth_test

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
)

var update = flag.Bool("update", false, "regenerate testdata/adversarial/cases.json (and its keys, if missing)")

// The corpus is signed for a fictitious instance at a fixed time; the test
// runs the middleware with that clock and a JWKS served in-process.
const (
	advIssuer = "https://clerk.adversarial.test"
	advKid    = "ins_adversarial"
	advJWKS   = advIssuer + "/.well-known/jwks.json"
)

var advNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// advCase is one hostile (or, as a control, valid) request.
type advCase struct {
	Name              string   `json:"name"`
	Authorization     []string `json:"authorization,omitempty"` // Authorization header values
	Cookie            string   `json:"cookie,omitempty"`        // Cookie header
	Oversized         bool     `json:"oversized,omitempty"`     // send a 1 MiB token (not stored)
	Audience          []string `json:"audience,omitempty"`
	AuthorizedParties []string `json:"authorized_parties,omitempty"`
	Status            int      `json:"status"`
	Reason            string   `json:"reason,omitempty"`
}

func TestAdversarialCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "adversarial")
	key := loadOrCreateKey(t, filepath.Join(dir, "issuer_key.pem"))
	attacker := loadOrCreateKey(t, filepath.Join(dir, "attacker_key.pem"))
	if *update {
		writeCorpus(t, filepath.Join(dir, "cases.json"), key, attacker)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	require.NoError(t, err, "run go test -run TestAdversarialCorpus -update to create the corpus")
	var cases []advCase
	require.NoError(t, json.Unmarshal(raw, &cases))
	require.Greater(t, len(cases), 40)

	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: advKid, Algorithm: "RS256", Use: "sig"}}})
	require.NoError(t, err)
	var mu sync.Mutex
	var fetched []string
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		fetched = append(fetched, r.URL.String())
		mu.Unlock()
		if r.URL.String() != advJWKS {
			return &http.Response{StatusCode: 404, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}, Request: r}, nil
		}
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(string(jwks))), Header: http.Header{}, Request: r}, nil
	})}

	var handlerRuns int
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			auth, err := clerkauth.New(clerkauth.Config{
				IssuerDomain: advIssuer, HTTPClient: client, Now: func() time.Time { return advNow },
				Audience: c.Audience, AuthorizedParties: c.AuthorizedParties, Logger: slog.New(slog.DiscardHandler),
			})
			require.NoError(t, err)
			h := auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				handlerRuns++
				id, ok := clerkauth.IdentityFromContext(r.Context())
				require.True(t, ok, "a protected handler ran without an identity")
				w.Write([]byte(id.UserID))
			}))
			r := httptest.NewRequest("GET", "/protected", nil)
			for _, v := range c.Authorization {
				r.Header.Add("Authorization", v)
			}
			if c.Oversized {
				r.Header.Set("Authorization", "Bearer "+strings.Repeat("eyJh", 1<<18))
			}
			if c.Cookie != "" {
				r.Header.Set("Cookie", c.Cookie)
			}
			before := handlerRuns
			res := serve(h, r)
			assert.Equal(t, c.Status, res.status, res.body)
			if c.Status == 200 {
				assert.Equal(t, before+1, handlerRuns)
				assert.Equal(t, "user_adversary", res.body)
				return
			}
			assert.Equal(t, before, handlerRuns, "the handler must not run")
			assert.Equal(t, c.Reason, res.header.Get("X-Clerk-Auth-Reason"))
			assert.JSONEq(t, `{"error":"unauthenticated","reason":"`+c.Reason+`"}`, res.body)
		})
	}
	for _, u := range fetched {
		assert.Equal(t, advJWKS, u, "only the instance's JWKS is ever fetched (never jku, x5u or a kid)")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func loadOrCreateKey(t testing.TB, path string) *rsa.PrivateKey {
	t.Helper()
	if b, err := os.ReadFile(path); err == nil {
		block, _ := pem.Decode(b)
		require.NotNil(t, block, path)
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		require.NoError(t, err)
		return k
	}
	require.True(t, *update, "%s is missing; run with -update", path)
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	// A key made for this corpus only: it signs nothing but test tokens.
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o644))
	return k
}

// rs256 signs header and payload (raw JSON) as a compact JWS.
func rs256(t *testing.T, key *rsa.PrivateKey, header map[string]any, payload string) string {
	t.Helper()
	input := b64JSON(t, header) + "." + b64([]byte(payload))
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	require.NoError(t, err)
	return input + "." + b64(sig)
}

func writeCorpus(t *testing.T, path string, key, attacker *rsa.PrivateKey) {
	now := advNow.Unix()
	std := map[string]any{"alg": "RS256", "typ": "JWT", "kid": advKid}
	with := func(extra map[string]any) map[string]any {
		h := map[string]any{}
		for k, v := range std {
			h[k] = v
		}
		for k, v := range extra {
			if v == nil {
				delete(h, k)
			} else {
				h[k] = v
			}
		}
		return h
	}
	claims := func(edit map[string]any) string {
		c := map[string]any{"iss": advIssuer, "sub": "user_adversary", "sid": "sess_1", "azp": "https://app.adversarial.test",
			"iat": now - 10, "nbf": now - 20, "exp": now + 3600, "v": 2, "sts": "active"}
		for k, v := range edit {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		b, err := json.Marshal(c)
		require.NoError(t, err)
		return string(b)
	}
	good := rs256(t, key, std, claims(nil))
	gp := strings.Split(good, ".")
	other := rs256(t, key, std, claims(map[string]any{"sub": "user_admin"}))
	op := strings.Split(other, ".")
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hs := func(secret []byte) string {
		input := b64JSON(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": advKid}) + "." + gp[1]
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(input))
		return input + "." + b64(mac.Sum(nil))
	}
	attackerJWK, err := json.Marshal(jose.JSONWebKey{Key: &attacker.PublicKey, KeyID: advKid, Algorithm: "RS256", Use: "sig"})
	require.NoError(t, err)
	var jwk map[string]any
	require.NoError(t, json.Unmarshal(attackerJWK, &jwk))
	raw := func(payload string) string { return rs256(t, key, std, payload) }
	b := func(tok string) []string { return []string{"Bearer " + tok} }
	bad := func(name, tok string, reason clerkauth.Reason) advCase {
		return advCase{Name: name, Authorization: b(tok), Status: 401, Reason: string(reason)}
	}
	parties := []string{"https://app.adversarial.test"}

	cases := []advCase{
		{Name: "control: valid session token", Authorization: b(good), Status: 200},
		{Name: "control: valid token in the session cookie", Cookie: "__session=" + good, Status: 200},
		{Name: "control: surrounding whitespace is trimmed", Authorization: []string{"Bearer   " + good + "  "}, Status: 200},
		{Name: "jku header is ignored", Authorization: b(rs256(t, key, with(map[string]any{"jku": "https://evil.example/jwks.json"}), claims(nil))), Status: 200},
		{Name: "x5u header is ignored", Authorization: b(rs256(t, key, with(map[string]any{"x5u": "https://evil.example/cert.pem"}), claims(nil))), Status: 200},
		bad("alg none", b64JSON(t, map[string]any{"alg": "none", "typ": "JWT"})+"."+gp[1]+".", clerkauth.ReasonTokenInvalidAlgorithm),
		bad("alg none with a kid and a signature", b64JSON(t, map[string]any{"alg": "none", "kid": advKid})+"."+gp[1]+"."+gp[2], clerkauth.ReasonTokenInvalidAlgorithm),
		bad("alg None (case)", b64JSON(t, map[string]any{"alg": "None", "kid": advKid})+"."+gp[1]+".", clerkauth.ReasonTokenInvalidAlgorithm),
		bad("HS256 keyed with the public key PEM", hs(pubPEM), clerkauth.ReasonTokenInvalidAlgorithm),
		bad("HS256 keyed with the public key DER", hs(pubDER), clerkauth.ReasonTokenInvalidAlgorithm),
		bad("PS256", b64JSON(t, with(map[string]any{"alg": "PS256"}))+"."+gp[1]+"."+gp[2], clerkauth.ReasonTokenInvalidAlgorithm),
		bad("ES256", b64JSON(t, with(map[string]any{"alg": "ES256"}))+"."+gp[1]+"."+gp[2], clerkauth.ReasonTokenInvalidAlgorithm),
		bad("unknown kid", rs256(t, key, with(map[string]any{"kid": "ins_unknown"}), claims(nil)), clerkauth.ReasonJWKKidMismatch),
		bad("empty kid", rs256(t, key, with(map[string]any{"kid": ""}), claims(nil)), clerkauth.ReasonJWKKidMismatch),
		bad("no kid", rs256(t, key, with(map[string]any{"kid": nil}), claims(nil)), clerkauth.ReasonJWKKidMismatch),
		bad("kid with path characters", rs256(t, key, with(map[string]any{"kid": "../../../../etc/passwd"}), claims(nil)), clerkauth.ReasonJWKKidMismatch),
		bad("kid that is a URL", rs256(t, key, with(map[string]any{"kid": "https://evil.example/key"}), claims(nil)), clerkauth.ReasonJWKKidMismatch),
		bad("jku to the attacker's JWKS, signed by the attacker", rs256(t, attacker, with(map[string]any{"kid": "evil", "jku": "https://evil.example/jwks.json"}), claims(nil)), clerkauth.ReasonJWKKidMismatch),
		bad("x5u to the attacker's certificate, signed by the attacker", rs256(t, attacker, with(map[string]any{"x5u": "https://evil.example/cert.pem"}), claims(nil)), clerkauth.ReasonTokenInvalidSignature),
		bad("embedded jwk of the attacker, signed by the attacker", rs256(t, attacker, with(map[string]any{"jwk": jwk}), claims(nil)), clerkauth.ReasonTokenInvalidSignature),
		bad("signed by another key under the instance's kid", rs256(t, attacker, std, claims(nil)), clerkauth.ReasonTokenInvalidSignature),
		bad("payload swapped under a valid signature", gp[0]+"."+op[1]+"."+gp[2], clerkauth.ReasonTokenInvalidSignature),
		bad("signature truncated", gp[0]+"."+gp[1]+"."+gp[2][:len(gp[2])-2], clerkauth.ReasonTokenInvalidSignature),
		bad("signature empty", gp[0]+"."+gp[1]+".", clerkauth.ReasonTokenInvalidSignature),
		bad("token truncated to two segments", gp[0]+"."+gp[1], clerkauth.ReasonTokenInvalid),
		bad("extra segment", good+"."+gp[2], clerkauth.ReasonTokenInvalid),
		bad("non-base64url characters", gp[0]+"."+strings.Replace(gp[1], "e", "+", 1)+"."+gp[2], clerkauth.ReasonTokenInvalid),
		bad("base64 padding", gp[0]+"."+gp[1]+"=."+gp[2], clerkauth.ReasonTokenInvalid),
		bad("whitespace inside", gp[0]+".\t"+gp[1]+"."+gp[2], clerkauth.ReasonTokenInvalid),
		bad("crit header with an unknown extension", rs256(t, key, with(map[string]any{"crit": []string{"exp"}}), claims(nil)), clerkauth.ReasonTokenInvalid),
		bad("typ other than JWT", rs256(t, key, with(map[string]any{"typ": "JOSE"}), claims(nil)), clerkauth.ReasonTokenInvalid),
		bad("OAuth access token typ where a session is expected", rs256(t, key, with(map[string]any{"typ": "at+jwt"}), claims(nil)), clerkauth.ReasonTokenTypeMismatch),
		bad("M2M category where a session is expected", rs256(t, key, with(map[string]any{"cat": "cl_B7d4PD333AAA"}), claims(nil)), clerkauth.ReasonTokenTypeMismatch),
		bad("machine subject where a session is expected", rs256(t, key, std, claims(map[string]any{"sub": "mch_1"})), clerkauth.ReasonTokenTypeMismatch),
		bad("payload an array", raw(`["user_adversary"]`), clerkauth.ReasonTokenInvalid),
		bad("exp missing", raw(claims(map[string]any{"exp": nil})), clerkauth.ReasonTokenInvalid),
		bad("exp in the past", raw(claims(map[string]any{"exp": now - 60})), clerkauth.ReasonTokenExpired),
		bad("exp huge", raw(claims(map[string]any{"exp": 1e300})), clerkauth.ReasonTokenInvalid),
		bad("exp beyond int64", raw(strings.Replace(claims(nil), `"exp":`+jsonInt(now+3600), `"exp":99999999999999999999999`, 1)), clerkauth.ReasonTokenInvalid),
		bad("exp a string", raw(claims(map[string]any{"exp": jsonInt(now + 3600)})), clerkauth.ReasonTokenInvalid),
		bad("exp null", raw(strings.Replace(claims(nil), `"exp":`+jsonInt(now+3600), `"exp":null`, 1)), clerkauth.ReasonTokenInvalid),
		{Name: "exp a float in the future (RFC 7519 allows fractions)", Authorization: b(raw(claims(map[string]any{"exp": float64(now) + 60.5}))), Status: 200},
		bad("exp a float in the past", raw(claims(map[string]any{"exp": float64(now) - 60.5})), clerkauth.ReasonTokenExpired),
		bad("nbf in the future beyond the skew", raw(claims(map[string]any{"nbf": now + 60})), clerkauth.ReasonTokenNotActiveYet),
		bad("iat in the future beyond the skew", raw(claims(map[string]any{"iat": now + 60})), clerkauth.ReasonTokenIatInTheFuture),
		{Name: "nbf within the skew", Authorization: b(raw(claims(map[string]any{"nbf": now + 3}))), Status: 200},
		bad("iss of another Clerk instance", raw(claims(map[string]any{"iss": "https://clerk.other.test"})), clerkauth.ReasonTokenInvalidIssuer),
		bad("iss with a trailing slash", raw(claims(map[string]any{"iss": advIssuer + "/"})), clerkauth.ReasonTokenInvalidIssuer),
		bad("iss in another case", raw(claims(map[string]any{"iss": strings.ToUpper(advIssuer)})), clerkauth.ReasonTokenInvalidIssuer),
		bad("iss over http", raw(claims(map[string]any{"iss": strings.Replace(advIssuer, "https", "http", 1)})), clerkauth.ReasonTokenInvalidIssuer),
		{Name: "azp missing when parties are set", Authorization: b(raw(claims(map[string]any{"azp": nil}))), AuthorizedParties: parties, Status: 401, Reason: string(clerkauth.ReasonTokenInvalidAuthorizedParties)},
		{Name: "azp not listed", Authorization: b(raw(claims(map[string]any{"azp": "https://evil.example"}))), AuthorizedParties: parties, Status: 401, Reason: string(clerkauth.ReasonTokenInvalidAuthorizedParties)},
		{Name: "azp listed", Authorization: b(good), AuthorizedParties: parties, Status: 200},
		{Name: "aud in the wrong case (template names are case-sensitive)", Authorization: b(raw(claims(map[string]any{"aud": "Convex"}))), Audience: []string{"convex"}, Status: 401, Reason: string(clerkauth.ReasonTokenInvalidAudience)},
		{Name: "aud right", Authorization: b(raw(claims(map[string]any{"aud": []string{"other", "convex"}}))), Audience: []string{"convex"}, Status: 200},
		bad("sub missing", raw(claims(map[string]any{"sub": nil})), clerkauth.ReasonTokenInvalid),
		bad("sub a number", raw(claims(map[string]any{"sub": 42})), clerkauth.ReasonTokenInvalid),
		bad("sub an array", raw(claims(map[string]any{"sub": []string{"user_adversary"}})), clerkauth.ReasonTokenInvalid),
		bad("duplicate sub", raw(strings.Replace(claims(nil), `"sub":"user_adversary"`, `"sub":"user_adversary","sub":"user_admin"`, 1)), clerkauth.ReasonTokenInvalid),
		bad("duplicate exp", raw(strings.Replace(claims(nil), `"exp":`, `"exp":1,"exp":`, 1)), clerkauth.ReasonTokenInvalid),
		bad("pending session", raw(claims(map[string]any{"sts": "pending"})), clerkauth.ReasonSessionPending),
		{Name: "1 MiB token", Oversized: true, Status: 401, Reason: string(clerkauth.ReasonTokenInvalid)},
		{Name: "header and cookie disagree: the header wins", Authorization: b(raw(claims(map[string]any{"exp": now - 60}))), Cookie: "__session=" + good, Status: 401, Reason: string(clerkauth.ReasonTokenExpired)},
		{Name: "header valid, cookie garbage", Authorization: b(good), Cookie: "__session=garbage", Status: 200},
		{Name: "two Authorization headers", Authorization: []string{"Bearer " + good, "Bearer " + good}, Status: 401, Reason: string(clerkauth.ReasonTokenInvalid)},
		{Name: "Bearer without a token", Authorization: []string{"Bearer"}, Status: 401, Reason: string(clerkauth.ReasonTokenInvalid)},
		{Name: "no token at all", Status: 401, Reason: string(clerkauth.ReasonSessionTokenMissing)},
	}
	out, err := json.MarshalIndent(cases, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, append(out, '\n'), 0o644))
}
