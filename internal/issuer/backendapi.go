package issuer

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// BackendAPI plays the parts of Clerk's Backend API that machine
// authentication uses: creating, verifying and revoking API keys, M2M
// tokens and OAuth access tokens, and the instance's JWKS at /v1/jwks. It
// speaks the wire format @clerk/backend speaks (the verification paths have
// no /v1), so Clerk's own SDK can be pointed at it too.
type BackendAPI struct {
	// URL is the server's base URL. clerkauth's Config.APIURL is URL+"/v1";
	// @clerk/backend's apiUrl is URL.
	URL string
	// Server serves the endpoints until Close.
	Server *httptest.Server
	// SecretKey is the instance's secret key the server accepts, and
	// MachineSecretKey the secret key of machine MachineID, which may also
	// create and verify M2M tokens.
	SecretKey        string
	MachineSecretKey string
	MachineID        string

	issuer *Issuer

	mu       sync.Mutex
	arrived  *sync.Cond // signalled at each request
	bySecret map[string]*MachineToken
	byID     map[string]*MachineToken
	calls    map[string]int
	status   int // when non-zero, verification answers this status
	hold     chan struct{}
}

// MachineToken is a token the BackendAPI knows.
type MachineToken struct {
	Type       string // "api_key", "m2m_token" or "oauth_token"
	ID         string
	Secret     string // what the client sends
	Subject    string
	Name       string
	ClientID   string
	Scopes     []string
	Claims     map[string]any
	Expiration time.Time // zero: never
	Revoked    bool
}

// StartBackendAPI starts a Backend API on loopback for the instance of
// issuer (whose keys /v1/jwks serves).
func StartBackendAPI(issuer *Issuer) *BackendAPI {
	b := &BackendAPI{
		SecretKey:        "sk_test_" + randomID(24),
		MachineSecretKey: "ak_" + randomID(24),
		MachineID:        "mch_" + randomID(12),
		issuer:           issuer,
		bySecret:         map[string]*MachineToken{},
		byID:             map[string]*MachineToken{},
		calls:            map[string]int{},
	}
	b.arrived = sync.NewCond(&b.mu)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/jwks", b.serveJWKS)
	mux.HandleFunc("POST /api_keys/verify", b.verify("api_key", "secret"))
	mux.HandleFunc("POST /m2m_tokens/verify", b.verify("m2m_token", "token"))
	mux.HandleFunc("POST /oauth_applications/access_tokens/verify", b.verify("oauth_token", "access_token"))
	mux.HandleFunc("POST /api_keys", b.createAPIKey)
	mux.HandleFunc("POST /m2m_tokens", b.createM2MToken)
	mux.HandleFunc("POST /api_keys/{id}/revoke", b.revoke)
	mux.HandleFunc("POST /m2m_tokens/{id}/revoke", b.revoke)
	b.Server = httptest.NewServer(mux)
	b.URL = b.Server.URL
	return b
}

// Close stops the server.
func (b *BackendAPI) Close() { b.Server.Close() }

// Calls returns how many requests reached path ("/api_keys/verify", …).
func (b *BackendAPI) Calls(path string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[path]
}

// VerifyCalls returns how many verification requests arrived, all types.
func (b *BackendAPI) VerifyCalls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.verifyCalls()
}

// WaitVerifyCalls waits until n verification requests have arrived
// (held ones included).
func (b *BackendAPI) WaitVerifyCalls(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.verifyCalls() < n {
		b.arrived.Wait()
	}
}

func (b *BackendAPI) verifyCalls() int {
	n := 0
	for p, c := range b.calls {
		if strings.HasSuffix(p, "/verify") {
			n += c
		}
	}
	return n
}

// FailVerifications makes every verification answer status (500, 401,
// 429, …) until it is called with 0.
func (b *BackendAPI) FailVerifications(status int) {
	b.mu.Lock()
	b.status = status
	b.mu.Unlock()
}

// HoldVerifications makes verifications wait until the returned function
// is called (for tests of concurrent requests).
func (b *BackendAPI) HoldVerifications() (release func()) {
	ch := make(chan struct{})
	b.mu.Lock()
	b.hold = ch
	b.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.hold = nil
			b.mu.Unlock()
			close(ch)
		})
	}
}

func (b *BackendAPI) add(t *MachineToken) *MachineToken {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bySecret[t.Secret] = t
	b.byID[t.ID] = t
	return t
}

func expiration(ttl time.Duration, now time.Time) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return now.Add(ttl)
}

// CreateAPIKey creates an API key for subject (a user "user_…" or an
// organization "org_…"); ttl 0 never expires.
func (b *BackendAPI) CreateAPIKey(subject, name string, scopes []string, claims map[string]any, ttl time.Duration) *MachineToken {
	return b.add(&MachineToken{Type: "api_key", ID: "ak_" + randomID(12), Secret: "ak_" + randomID(32), Subject: subject, Name: name,
		Scopes: scopes, Claims: claims, Expiration: expiration(ttl, b.issuer.clock())})
}

// CreateM2MToken creates an opaque M2M token for machine.
func (b *BackendAPI) CreateM2MToken(machine string, scopes []string, claims map[string]any, ttl time.Duration) *MachineToken {
	id := "mt_" + randomID(24)
	return b.add(&MachineToken{Type: "m2m_token", ID: id, Secret: id, Subject: machine, Scopes: scopes, Claims: claims,
		Expiration: expiration(ttl, b.issuer.clock())})
}

// CreateOAuthToken creates an opaque OAuth access token that OAuth
// application clientID holds for user.
func (b *BackendAPI) CreateOAuthToken(user, clientID string, scopes []string, ttl time.Duration) *MachineToken {
	return b.add(&MachineToken{Type: "oauth_token", ID: "oat_id_" + randomID(12), Secret: "oat_" + randomID(32), Subject: user,
		ClientID: clientID, Scopes: scopes, Expiration: expiration(ttl, b.issuer.clock())})
}

// Expire makes a token expire now (a minute ago), by its id or secret.
func (b *BackendAPI) Expire(idOrSecret string) bool {
	return b.edit(idOrSecret, func(t *MachineToken) { t.Expiration = b.issuer.clock().Add(-time.Minute) })
}

// Revoke revokes a token by its id or its secret.
func (b *BackendAPI) Revoke(idOrSecret string) bool {
	return b.edit(idOrSecret, func(t *MachineToken) { t.Revoked = true })
}

func (b *BackendAPI) edit(idOrSecret string, change func(*MachineToken)) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.byID[idOrSecret]
	if !ok {
		t, ok = b.bySecret[idOrSecret]
	}
	if ok {
		change(t)
	}
	return ok
}

// authorized reports whether the request carries the instance's secret
// key (or, when machineOK, the machine's secret key).
func (b *BackendAPI) authorized(r *http.Request, machineOK bool) bool {
	auth := r.Header.Get("Authorization")
	return auth == "Bearer "+b.SecretKey || machineOK && auth == "Bearer "+b.MachineSecretKey
}

func (b *BackendAPI) count(r *http.Request) (status int, hold chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls[r.URL.Path]++
	b.arrived.Broadcast()
	return b.status, b.hold
}

func clerkError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{"code": code, "message": message, "long_message": message}}})
}

func (b *BackendAPI) verify(typ, field string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status, hold := b.count(r)
		if hold != nil {
			<-hold
		}
		if status != 0 {
			clerkError(w, status, "injected", "injected failure")
			return
		}
		if !b.authorized(r, typ == "m2m_token") {
			clerkError(w, http.StatusUnauthorized, "authentication_invalid", "Unauthorized request")
			return
		}
		var body map[string]any
		json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body)
		secret, _ := body[field].(string)
		b.mu.Lock()
		t, ok := b.bySecret[secret]
		var obj map[string]any
		now := b.issuer.clock()
		if ok && t.Type == typ && !t.Revoked && (t.Expiration.IsZero() || now.Before(t.Expiration)) {
			obj = t.object(now)
		}
		b.mu.Unlock()
		if obj == nil {
			clerkError(w, http.StatusNotFound, "resource_not_found", "not found")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(obj)
	}
}

// object is the token as the verification endpoints return it.
func (t *MachineToken) object(now time.Time) map[string]any {
	var exp any
	if !t.Expiration.IsZero() {
		exp = t.Expiration.UnixMilli()
	}
	scopes := t.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	o := map[string]any{
		"id": t.ID, "subject": t.Subject, "scopes": scopes, "revoked": t.Revoked, "revocation_reason": nil,
		"expired": false, "expiration": exp, "created_at": now.UnixMilli(), "updated_at": now.UnixMilli(),
	}
	switch t.Type {
	case "api_key":
		o["object"], o["type"], o["name"], o["claims"], o["description"], o["created_by"], o["last_used_at"] =
			"api_key", "api_key", t.Name, t.Claims, nil, nil, nil
	case "m2m_token":
		o["object"], o["claims"] = "machine_to_machine_token", t.Claims
	case "oauth_token":
		o["object"], o["type"], o["client_id"] = "clerk_idp_oauth_access_token", "oauth:access_token", t.ClientID
	}
	return o
}

func (b *BackendAPI) createAPIKey(w http.ResponseWriter, r *http.Request) {
	b.count(r)
	if !b.authorized(r, false) {
		clerkError(w, http.StatusUnauthorized, "authentication_invalid", "Unauthorized request")
		return
	}
	var body struct {
		Subject string         `json:"subject"`
		Name    string         `json:"name"`
		Scopes  []string       `json:"scopes"`
		Claims  map[string]any `json:"claims"`
		Seconds int64          `json:"seconds_until_expiration"`
	}
	if json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body) != nil || body.Subject == "" {
		clerkError(w, http.StatusUnprocessableEntity, "form_param_missing", "subject is required")
		return
	}
	t := b.CreateAPIKey(body.Subject, body.Name, body.Scopes, body.Claims, time.Duration(body.Seconds)*time.Second)
	o := t.object(b.issuer.clock())
	o["secret"] = t.Secret
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(o)
}

func (b *BackendAPI) createM2MToken(w http.ResponseWriter, r *http.Request) {
	b.count(r)
	if r.Header.Get("Authorization") != "Bearer "+b.MachineSecretKey {
		clerkError(w, http.StatusUnauthorized, "authentication_invalid", "M2M tokens are created with a machine secret key")
		return
	}
	var body struct {
		Scopes  []string       `json:"scopes"`
		Claims  map[string]any `json:"claims"`
		Seconds int64          `json:"seconds_until_expiration"`
	}
	json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body)
	t := b.CreateM2MToken(b.MachineID, body.Scopes, body.Claims, time.Duration(body.Seconds)*time.Second)
	o := t.object(b.issuer.clock())
	o["token"] = t.Secret
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(o)
}

func (b *BackendAPI) revoke(w http.ResponseWriter, r *http.Request) {
	b.count(r)
	if !b.authorized(r, strings.HasPrefix(r.URL.Path, "/m2m_tokens/")) {
		clerkError(w, http.StatusUnauthorized, "authentication_invalid", "Unauthorized request")
		return
	}
	if !b.Revoke(r.PathValue("id")) {
		clerkError(w, http.StatusNotFound, "resource_not_found", "not found")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"revoked":true}`))
}

func (b *BackendAPI) serveJWKS(w http.ResponseWriter, r *http.Request) {
	b.count(r)
	if !b.authorized(r, false) {
		clerkError(w, http.StatusUnauthorized, "authentication_invalid", "Unauthorized request")
		return
	}
	jwks, err := b.issuer.JWKS()
	if err != nil {
		http.Error(w, "keys", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(jwks)
}

// M2MJWT mints a JWT-format M2M token for machine, as Clerk's
// tokenFormat "jwt" does: sub the machine, scopes space-separated, Clerk's
// M2M category in the header.
func (i *Issuer) M2MJWT(machine string, scopes []string, ttl time.Duration, opts ...Option) (string, error) {
	now := i.clock()
	claims := map[string]any{
		"iss": i.URL, "sub": machine, "jti": "mt_" + randomID(24),
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(ttl).Unix(),
		"scopes": strings.Join(scopes, " "),
	}
	return i.sign(claims, append([]Option{Header("cat", "cl_B7d4PD333AAA")}, opts...))
}

// OAuthJWT mints a JWT OAuth access token (typ "at+jwt", RFC 9068) that
// OAuth application clientID holds for user.
func (i *Issuer) OAuthJWT(user, clientID string, scopes []string, ttl time.Duration, opts ...Option) (string, error) {
	now := i.clock()
	claims := map[string]any{
		"iss": i.URL, "sub": user, "client_id": clientID, "jti": "oat_" + randomID(24),
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(ttl).Unix(),
		"scope": strings.Join(scopes, " "),
	}
	return i.sign(claims, append([]Option{Header("typ", "at+jwt")}, opts...))
}

func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("issuer: crypto/rand: %v", err))
	}
	s := base64.RawURLEncoding.EncodeToString(b)
	s = strings.NewReplacer("-", "", "_", "").Replace(s)
	return s[:min(len(s), n)]
}
