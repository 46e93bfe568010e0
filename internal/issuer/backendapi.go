package issuer

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
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
	Server *Server
	// SecretKey is the instance's secret key the server accepts (sk_live_
	// for a production issuer, sk_test_ for a development one; see
	// SecretKeyFor), and MachineSecretKey the secret key of machine
	// MachineID, which may also create and verify M2M tokens.
	SecretKey        string
	MachineSecretKey string
	MachineID        string
	// PublishableKey is the instance's key, for the handshake's cookie
	// suffix and its development rules (pk_test_: the nonce in the URL, a
	// dev browser for a browser that has none). Default: the key
	// Issuer.Config uses.
	PublishableKey string
	// SessionIssuer is the iss of the sessions the handshake and the
	// refresh mint. Default: the issuer's URL, as Issuer.Config expects.
	SessionIssuer string

	issuer  *Issuer
	secret  string       // the secret key without its sk_live_/sk_test_ prefix
	handler http.Handler // every endpoint, as Server serves them

	mu       sync.Mutex
	arrived  *sync.Cond // signalled at each request
	bySecret map[string]*MachineToken
	byID     map[string]*MachineToken
	calls    map[string]int
	status   int // when non-zero, verification answers this status
	hold     chan struct{}

	// PrimaryFrontendAPI is the primary domain's Frontend API URL as
	// browsers address it (scheme, host, and the path behind a proxy, e.g.
	// "http://primary.test:8080/__clerk"). When set, a production handshake
	// addressed to any other Frontend API URL (by its Clerk-Proxy-Url, or
	// its host) is a satellite's, which syncs through the primary's
	// /v1/client/sync first. Default "": every handshake is the primary's.
	PrimaryFrontendAPI string

	defaultClient client                  // the client of browsers the Frontend API does not know (SetClient)
	clients       *lru[*client]           // client cookie → the browser's client
	devClients    *lru[string]            // dev browser → client id
	links         *lru[string]            // a satellite sync's one-time link → client id ("" the default)
	memberships   map[string][]Membership // user id → organizations a handshake may activate
	nonces        map[string][]string     // handshake nonce → directives
	singleUse     map[string]bool         // nonces of served handshakes
	refreshTokens map[string]string       // sid → refresh token
	refreshed     map[string][]string     // sid → the directives of its refresh
	users         map[string][]byte       // user id → its JSON, for GET /v1/users/{id}
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
		MachineSecretKey: "ak_" + randomID(24),
		MachineID:        "mch_" + randomID(12),
		issuer:           issuer,
		secret:           randomID(24),
		bySecret:         map[string]*MachineToken{},
		byID:             map[string]*MachineToken{},
		calls:            map[string]int{},
		PublishableKey:   issuer.publishableKey(),
		users:            map[string][]byte{},
		nonces:           map[string][]string{},
		clients:          newLRU[*client](maxClients),
		devClients:       newLRU[string](maxClients),
		links:            newLRU[string](maxClients),
		memberships:      map[string][]Membership{},
		singleUse:        map[string]bool{},
		refreshTokens:    map[string]string{},
		refreshed:        map[string][]string{},
	}
	b.SecretKey = b.SecretKeyFor(b.PublishableKey)
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
	mux.HandleFunc("GET /v1/client/handshake", b.serveHandshake)
	mux.HandleFunc("GET /v1/client/sync", b.serveSync)
	mux.HandleFunc("POST /v1/client/sign_ins", b.serveSignIn)
	mux.HandleFunc("GET /v1/clients/handshake_payload", b.serveHandshakePayload)
	mux.HandleFunc("POST /v1/sessions/{sid}/refresh", b.serveRefresh)
	mux.HandleFunc("GET /v1/users/{id}", b.serveUser)
	mux.HandleFunc("POST /v1/sessions/{sid}/tokens/{template}", b.serveTemplateToken)
	b.handler = mux
	b.Server = startServer(mux)
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
	return auth == "Bearer "+b.SecretKey || auth == "Bearer "+b.SecretKeyFor("pk_live_") || auth == "Bearer "+b.SecretKeyFor("pk_test_") || machineOK && auth == "Bearer "+b.MachineSecretKey
}

func (b *BackendAPI) count(r *http.Request) (status int, hold chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls[r.URL.Path]++
	b.arrived.Broadcast()
	return b.status, b.hold
}

// admit counts the request and answers 401, as Clerk does, unless it
// carries the instance's secret key (or, when machineOK, the machine's).
func (b *BackendAPI) admit(w http.ResponseWriter, r *http.Request, machineOK bool) bool {
	b.count(r)
	if !b.authorized(r, machineOK) {
		clerkError(w, http.StatusUnauthorized, "authentication_invalid", "Unauthorized request")
		return false
	}
	return true
}

// injected counts the request, holds it while HoldVerifications holds,
// and answers the status FailVerifications set, if any (then it reports
// true: the request is answered).
func (b *BackendAPI) injected(w http.ResponseWriter, r *http.Request) bool {
	status, hold := b.count(r)
	if hold != nil {
		<-hold
	}
	if status != 0 {
		clerkError(w, status, "injected", "injected failure")
		return true
	}
	return false
}

func clerkError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{"code": code, "message": message, "long_message": message}}})
}

func (b *BackendAPI) verify(typ, field string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if b.injected(w, r) {
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
	if !b.admit(w, r, false) {
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
	if !b.admit(w, r, strings.HasPrefix(r.URL.Path, "/m2m_tokens/")) {
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
	if !b.admit(w, r, false) {
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
// M2M category in the header. It expires after ttl as Expiry says (ttl <= 0:
// already expired, beyond the default clock skew).
func (i *Issuer) M2MJWT(machine string, scopes []string, ttl time.Duration, opts ...Option) (string, error) {
	now := i.clock()
	claims := map[string]any{
		"iss": i.URL, "sub": machine, "jti": "mt_" + randomID(24),
		"iat": now.Unix(), "nbf": now.Unix(),
		"scopes": strings.Join(scopes, " "),
	}
	return i.sign(now, claims, append([]Option{Expiry(ttl), Header("cat", "cl_B7d4PD333AAA")}, opts...))
}

// OAuthJWT mints a JWT OAuth access token (typ "at+jwt", RFC 9068) that
// OAuth application clientID holds for user. It expires after ttl as
// Expiry says.
func (i *Issuer) OAuthJWT(user, clientID string, scopes []string, ttl time.Duration, opts ...Option) (string, error) {
	now := i.clock()
	claims := map[string]any{
		"iss": i.URL, "sub": user, "client_id": clientID, "jti": "oat_" + randomID(24),
		"iat": now.Unix(), "nbf": now.Unix(),
		"scope": strings.Join(scopes, " "),
	}
	return i.sign(now, claims, append([]Option{Expiry(ttl), Header("typ", "at+jwt")}, opts...))
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

// The Backend API endpoints the cookie side uses (the nonce payload and
// the session refresh); the Frontend API's handshake is in frontendapi.go.

// issuerURL is the iss of the sessions the handshake and the refresh mint:
// the issuer's, as Issuer.Config expects (IssuerDomain).
func (b *BackendAPI) issuerURL() string {
	if b.SessionIssuer != "" {
		return b.SessionIssuer
	}
	return b.issuer.URL
}

// SecretKeyFor returns the secret key that goes with publishable key pk:
// the server accepts the same key as "sk_live_…" and "sk_test_…", so that
// production and development configurations can share it.
func (b *BackendAPI) SecretKeyFor(pk string) string {
	if strings.HasPrefix(pk, "pk_test_") {
		return "sk_test_" + b.secret
	}
	return "sk_live_" + b.secret
}

// HandshakeNonce stores directives under a new nonce, as a handshake
// does, and returns it (for tests that build the return by hand). Unlike a
// served handshake's nonce, it can be exchanged more than once.
func (b *BackendAPI) HandshakeNonce(directives []string) string {
	nonce := "nonce_" + randomID(24)
	b.mu.Lock()
	b.nonces[nonce] = directives
	b.mu.Unlock()
	return nonce
}

func (b *BackendAPI) serveHandshakePayload(w http.ResponseWriter, r *http.Request) {
	if !b.admit(w, r, false) {
		return
	}
	nonce := r.URL.Query().Get("nonce")
	b.mu.Lock()
	directives, ok := b.nonces[nonce]
	if b.singleUse[nonce] { // a handshake's nonce is good once
		delete(b.nonces, nonce)
	}
	b.mu.Unlock()
	if !ok {
		clerkError(w, http.StatusNotFound, "resource_not_found", "not found")
		return
	}
	if directives == nil {
		directives = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"directives": directives})
}

// SetRefreshToken makes refreshToken valid for refreshing session sid.
func (b *BackendAPI) SetRefreshToken(sid, refreshToken string) {
	b.mu.Lock()
	b.refreshTokens[sid] = refreshToken
	b.mu.Unlock()
}

// serveRefresh answers POST /v1/sessions/{sid}/refresh: a new session
// token for the expired one's user, when the refresh token is the one set
// for the session. The same session gets the same new token every time
// (so that two verifiers of one request see the same answer).
func (b *BackendAPI) serveRefresh(w http.ResponseWriter, r *http.Request) {
	if !b.admit(w, r, false) {
		return
	}
	sid := r.PathValue("sid")
	var body struct {
		ExpiredToken string `json:"expired_token"`
		RefreshToken string `json:"refresh_token"`
	}
	json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body)
	b.mu.Lock()
	want, ok := b.refreshTokens[sid]
	cached := b.refreshed[sid]
	b.mu.Unlock()
	if !ok || want != body.RefreshToken {
		clerkError(w, http.StatusUnauthorized, "refresh_token_invalid", "refresh token invalid")
		return
	}
	if cached == nil {
		claims := unverifiedPayload(body.ExpiredToken)
		user, _ := claims["sub"].(string)
		token, err := b.issuer.SessionToken(user, Issued(b.issuerURL()), SessionID(sid))
		if err != nil {
			http.Error(w, "mint", http.StatusInternalServerError)
			return
		}
		suffix := "_" + CookieSuffix(b.PublishableKey)
		cached = []string{"__session=" + token + "; Path=/; SameSite=Lax", "__session" + suffix + "=" + token + "; Path=/; SameSite=Lax"}
		b.mu.Lock()
		b.refreshed[sid] = cached
		b.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "cookies", "cookies": cached})
}

func unverifiedPayload(token string) map[string]any {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var m map[string]any
	json.Unmarshal(raw, &m)
	return m
}

// CookieSuffix is Clerk's cookie suffix for a publishable key: the first 8
// characters of base64url(SHA-1(key)).
func CookieSuffix(pk string) string {
	sum := sha1.Sum([]byte(pk))
	return base64.URLEncoding.EncodeToString(sum[:])[:8]
}

// SetUser makes GET /v1/users/{id} answer with user, the JSON of a Clerk
// user object (as clerk-sdk-go's user client and clerkauth's CurrentUser
// read it); nil removes the user, so that the endpoint answers 404 as
// Clerk does for a deleted user.
func (b *BackendAPI) SetUser(id string, user []byte) {
	b.mu.Lock()
	if user == nil {
		delete(b.users, id)
	} else {
		b.users[id] = user
	}
	b.mu.Unlock()
}

func (b *BackendAPI) serveUser(w http.ResponseWriter, r *http.Request) {
	if !b.admit(w, r, false) {
		return
	}
	b.mu.Lock()
	user, ok := b.users[r.PathValue("id")]
	b.mu.Unlock()
	if !ok {
		clerkError(w, http.StatusNotFound, "resource_not_found", "not found")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(user)
}

// serveTemplateToken answers POST /v1/sessions/{sid}/tokens/{template}
// as Clerk does, {"object":"token","jwt":…}: a JWT-template token minted
// by the issuer with aud = the template's name, for the user of session
// "sess_<user>" (the sid SessionToken gives by default); another sid is
// 404. FailVerifications and HoldVerifications apply to it too.
func (b *BackendAPI) serveTemplateToken(w http.ResponseWriter, r *http.Request) {
	if b.injected(w, r) {
		return
	}
	if !b.authorized(r, false) {
		clerkError(w, http.StatusUnauthorized, "authentication_invalid", "Unauthorized request")
		return
	}
	sid := r.PathValue("sid")
	user, ok := strings.CutPrefix(sid, "sess_")
	if !ok || user == "" {
		clerkError(w, http.StatusNotFound, "resource_not_found", "not found")
		return
	}
	jwt, err := b.issuer.TemplateToken(user, r.PathValue("template"), map[string]any{"sid": sid}, Issued(b.issuerURL()))
	if err != nil {
		http.Error(w, "mint", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "token", "jwt": jwt})
}
