package clerkauth

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"
)

// The fuzz targets run as ordinary tests on their seeds (here and in
// testdata/fuzz/<Target>) with `go test`, and explore with
// `go test -run '^$' -fuzz '^FuzzName$' -fuzztime 10s` (.ci/run does so).

// FuzzRouteMatcher: compiling any pattern never panics; a path matched in
// its own case is also matched in any case; a compiled pattern never
// matches a path that its leading literal rules out; and the fast paths
// (exact, prefix) and the folded trie agree with path-to-regexp's
// expression on the normalised path, the public reading with its strict
// form.
func FuzzRouteMatcher(f *testing.F) {
	for _, s := range [][2]string{
		{"/sign-in(.*)", "/sign-in/x"}, {"/users/:id", "/users/42"}, {"/files/:p*", "/files/a/b"},
		{`/org/:id(\d+)`, "/org/12"}, {"/photo{-:size}?.jpg", "/photo-l.jpg"}, {"/a\\(b\\)", "/a(b)"},
		{"(.*)", ""}, {"/api/(.*)", "/api/"}, {"/:a/:b?", "/x"}, {"{/x}+", "/x/x"},
		{"/t/:tenant/secrets", "/t/acme%3F/secrets"}, {"/file{.:ext}?", "/file.tar.gz"},
		{"/Settings(.*)", "/\u017fETTINGS/x"}, {"/caf\u00e9", "/CAF%C3%89"}, {"/a-:b", "//a-%62"},
		{"/admin(.*)", "/adm%C4%B0n/x"}, {"/users/:id/edit", "/users/1/ed\u0131t"}, {"/\u0130x/:id", "/ix/1"},
		{`/c/:id([a-z]+)`, "/c/\u0131"}, {"/pricing", "/pricing/"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		if len(pattern) > 256 || len(path) > 1024 {
			return
		}
		m, err := NewRouteMatcher(pattern)
		if err != nil {
			return
		}
		exact, anyCase := m.MatchPath(path), m.MatchPathAnyCase(path)
		if exact && !anyCase {
			t.Fatalf("pattern %q matched %q as written but not in any case", pattern, path)
		}
		norm, ok := normalizePath(path)
		if pattern == "" || !ok {
			if exact || anyCase {
				t.Fatalf("pattern %q matched %q (normalisable: %v)", pattern, path, ok)
			}
			return
		}
		r, _, err := compileRoute(pattern)
		if err != nil {
			t.Fatalf("NewRouteMatcher accepted %q but compileRoute fails: %v", pattern, err)
		}
		if exact && !strings.HasPrefix(norm, r.literal) {
			t.Fatalf("pattern %q matched %q, which lacks its literal prefix %q", pattern, norm, r.literal)
		}
		parts, err := parsePattern(pattern)
		if err != nil {
			t.Fatal(err)
		}
		strict, err := buildRegexp(pattern, parts, false)
		if err != nil {
			t.Fatalf("NewRouteMatcher accepted %q but its expression fails: %v", pattern, err)
		}
		if want := strict.MatchString(norm); want != exact {
			t.Fatalf("pattern %q, path %q: matcher says %v, path-to-regexp's expression %s says %v", pattern, norm, exact, strict, want)
		}
		// The policy's public reading is the same expression without the
		// optional trailing delimiter (path-to-regexp's strict option).
		strictEnd := regexp.MustCompile(strings.TrimSuffix(strict.String(), optionalTrailer+"$") + "$")
		if want, public := strictEnd.MatchString(norm), m.matchPublic(path); want != public {
			t.Fatalf("pattern %q, path %q: as public the matcher says %v, %s says %v", pattern, norm, public, strictEnd, want)
		}
		loose, err := buildRegexp(pattern, parts, true)
		if err != nil {
			t.Fatal(err)
		}
		folded := regexp.MustCompile("(?i)" + loose.String())
		if want := folded.MatchString(norm); want != anyCase && !(anyCase && withASCIILetters(pattern+norm) != pattern+norm) {
			t.Fatalf("pattern %q, path %q: matcher says %v in any case, the folded expression %s says %v", pattern, norm, anyCase, loose, want)
		}
		// İ and ı count as i in any case: what the folded expression
		// matches with them read as i, the matcher matches.
		if !anyCase && folded.MatchString(withASCIILetters(norm)) {
			t.Fatalf("pattern %q, path %q: matcher says false in any case, but %s matches %q", pattern, norm, loose, withASCIILetters(norm))
		}
	})
}

// withASCIILetters replaces the runes of caseToASCII with their letters.
func withASCIILetters(s string) string {
	return strings.Map(func(r rune) rune {
		for _, c := range caseToASCII {
			if c.r == r {
				return c.ascii
			}
		}
		return r
	}, s)
}

// FuzzRoutePolicy states the route policy as a property: handlers
// registered in a real ServeMux (wildcards, a root wildcard, a catch-all
// that routes without regard to case) mark the response when they run for
// a protected route without an identity; for any raw request target and
// method, in PublicRoutes and ProtectedRoutes mode, none ever does.
func FuzzRoutePolicy(f *testing.F) {
	for _, s := range []string{
		"/t/acme%3F/secrets", "/t/acme%23/secrets", "/t/acme#/secrets", "/en%3F/dashboard", "/admin/users/1%3F",
		"/pricing%3F", "/pricing%23", "/%23", "/%3F", "/Pricing", "/ADMIN/x", "/t/acme/SECRETS", "/v1/things%3Apurge",
		"/public/..%2Fadmin/x", "/public/%2e%2e/admin", "//admin", "/admin%2541", "/admin\\x", "/%61dmin",
		"/admin%E2%80%A8", "/admin/%0d", "/\u017fettings", "*", "/caf%C3", "http://app.test/admin",
	} {
		f.Add(s, uint8(0))
	}
	type mode struct {
		name string
		auth *Auth
		mux  *http.ServeMux
	}
	protected := func(w http.ResponseWriter, r *http.Request) {
		if _, ok := IdentityFromContext(r.Context()); !ok {
			w.Header().Set("X-Protected-Ran", "anonymous")
		}
	}
	public := func(w http.ResponseWriter, r *http.Request) {}
	caseless := func(prefixes ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			// A front end may lower- or upper-case the path: İ lower-cases
			// to i, ı upper-cases to I.
			lower, upper := strings.ToLower(r.URL.Path), strings.ToLower(strings.ToUpper(r.URL.Path))
			for _, p := range prefixes {
				if strings.HasPrefix(lower, p) || strings.HasPrefix(upper, p) {
					protected(w, r)
				}
			}
		}
	}
	newMux := func(protectedAt, publicAt []string) *http.ServeMux {
		mux := http.NewServeMux()
		for _, p := range protectedAt {
			mux.HandleFunc(p, protected)
		}
		for _, p := range publicAt {
			mux.HandleFunc(p, public)
		}
		return mux
	}
	pm := newMux([]string{"/t/{tenant}/secrets", "/{locale}/dashboard", "/admin/users/{id}", "/v1/things:purge", "/settings/{a}/{b}/{c...}"}, []string{"/{$}"})
	pm.HandleFunc("/", caseless("/admin", "/settings"))
	// The subtree handlers /{org}/ and /users/{id}/ catch what a public
	// pattern's optional trailing slash would add.
	um := newMux([]string{"/{org}", "/{org}/", "/users/{id}/", "/files/{a}/{b}/{path...}"},
		[]string{"/{$}", "/pricing", "/users/{id}", "/docs/{page}/{$}", "/sign-in", "/sign-in/", "/sign-in/{a}/{b}/{rest...}"})
	modes := []mode{
		{"ProtectedRoutes", fuzzAuthWith(f, func(c *Config) {
			c.ProtectedRoutes = []string{"/t/:tenant/secrets", "/:locale/dashboard", "/admin(.*)", `/v1/things\:purge`, "/settings(.*)"}
		}), pm},
		{"PublicRoutes", fuzzAuthWith(f, func(c *Config) {
			c.PublicRoutes = []string{"/", "/pricing", "/users/:id", "/docs/:page/", "/sign-in", "/sign-in/(.*)"}
		}), um},
	}
	methods := []string{"GET", "OPTIONS", "POST", "HEAD", "DELETE", "PUT"}
	f.Fuzz(func(t *testing.T, target string, method uint8) {
		raw := methods[int(method)%len(methods)] + " " + target + " HTTP/1.1\r\nHost: app.test\r\nOrigin: https://other.test\r\nAccess-Control-Request-Method: DELETE\r\n\r\n"
		for _, m := range modes {
			r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
			if err != nil {
				return // the server would answer 400 before any handler
			}
			rec := httptest.NewRecorder()
			m.auth.Middleware(m.mux).ServeHTTP(rec, r)
			if rec.Header().Get("X-Protected-Ran") != "" {
				t.Fatalf("%s: %q reached a protected handler without a session (answered %d)", m.name, raw, rec.Code)
			}
		}
	})
}

// adversarialTokens returns the tokens of testdata/adversarial/cases.json,
// from its Authorization headers and __session cookies.
func adversarialTokens(t testing.TB) []string {
	raw, err := os.ReadFile("testdata/adversarial/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Authorization []string `json:"authorization"`
		Cookie        string   `json:"cookie"`
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	var tokens []string
	for _, c := range cases {
		for _, h := range c.Authorization {
			tokens = append(tokens, strings.TrimPrefix(h, "Bearer "))
		}
		for _, part := range strings.Split(c.Cookie, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "__session="); ok {
				tokens = append(tokens, v)
			}
		}
	}
	if len(tokens) < 50 {
		t.Fatalf("the adversarial corpus yielded only %d tokens", len(tokens))
	}
	return tokens
}

var fuzzKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func fuzzAuth(t testing.TB) *Auth { return fuzzAuthWith(t, func(*Config) {}) }

func fuzzAuthWith(t testing.TB, edit func(*Config)) *Auth {
	der, err := x509.MarshalPKIXPublicKey(&fuzzKey().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		JWTKey:       string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		IssuerDomain: "https://clerk.fuzz.test",
		Now:          func() time.Time { return time.Unix(1767225600, 0) },
		Logger:       slog.New(slog.DiscardHandler),
	}
	edit(&cfg)
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// FuzzVerifyToken: no input panics or verifies (nothing here holds the
// key), every refusal carries a known reason, and ExplainToken, which
// decodes the same input its own way, never panics and always finds a
// failing check.
func FuzzVerifyToken(f *testing.F) {
	for _, s := range []string{
		"", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
		"eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.eyJzdWIiOiJ4IiwiZXhwIjoxfQ.AAAA",
		"eyJhbGciOiJIUzI1NiJ9.e30.c2ln", "....", "Bearer x.y.z", strings.Repeat("A", 300),
	} {
		f.Add(s)
	}
	// Every token of the adversarial corpus is a seed, read from the
	// corpus itself so that the two never drift apart.
	for _, tok := range adversarialTokens(f) {
		f.Add(tok)
	}
	a := fuzzAuth(f)
	f.Fuzz(func(t *testing.T, token string) {
		id, err := a.VerifyToken(context.Background(), token)
		if err == nil {
			t.Fatalf("a token verified without the key: %q (%+v)", token, id)
		}
		if id != nil {
			t.Fatal("an identity came with an error")
		}
		if r := reasonOf(err); !isKnownReason(r) {
			t.Fatalf("unknown reason %q", r)
		}
		checks := a.ExplainToken(context.Background(), token)
		if !slices.ContainsFunc(checks, func(c TokenCheck) bool { return !c.OK }) {
			t.Fatalf("ExplainToken found nothing wrong with %q, VerifyToken said %v", token, err)
		}
	})
}

// FuzzParsePublishableKey: no input panics; whatever parses decodes to a
// valid host, and encoding that host again gives the same result.
func FuzzParsePublishableKey(f *testing.F) {
	for _, s := range []string{
		"pk_test_aGFwcHktb3R0ZXItMTIuY2xlcmsuYWNjb3VudHMuZGV2JA==", "pk_live_Y2xlcmsuZXhhbXBsZS5jb20k",
		"pk_test_", "pk_test_JA==", "sk_test_x", "pk_live_Y2xlcmsuZXhhbXBsZS5jb20vJA", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pk string) {
		host, live, err := ParsePublishableKey(pk)
		if err != nil {
			return
		}
		if !validHost(host) {
			t.Fatalf("%q decoded to the invalid host %q", pk, host)
		}
		kind := "pk_test_"
		if live {
			kind = "pk_live_"
		}
		again, live2, err := ParsePublishableKey(kind + base64.StdEncoding.EncodeToString([]byte(host+"$")))
		if err != nil || again != host || live2 != live {
			t.Fatalf("%q: round trip gave %q, %v, %v", pk, again, live2, err)
		}
	})
}

// FuzzWebhook: random bodies and headers never get a 2xx unless the
// signature really verifies, and the handler never panics.
func FuzzWebhook(f *testing.F) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	now := time.Unix(1767225600, 0)
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		f.Fatal(err)
	}
	valid := []byte(`{"type":"user.deleted","object":"event","data":{"id":"user_1","deleted":true}}`)
	sig, _ := wh.Sign("msg_1", now, valid)
	f.Add(valid, "msg_1", "1767225600", sig)
	f.Add([]byte(`{}`), "msg_2", "1767225600", "v1,AAAA")
	f.Add([]byte(`not json`), "", "", "")
	f.Add(valid, "msg_1", "1767225600", "v1,"+strings.Repeat("A", 44)+" "+sig)
	f.Add(valid, "msg_1", "99999999999999999999", sig)
	// Issue 18: a comma and a run of spaces (once quadratic), a proxy's
	// ", " joins, many signatures, a non-Svix shape.
	f.Add(valid, "msg_1", "1767225600", ","+strings.Repeat(" ", 4096)+sig)
	f.Add(valid, "msg_1", "1767225600", strings.Replace(sig, ",", ",   ", 1))
	f.Add(valid, "msg_1", "1767225600", strings.Repeat(sig+" ", 100))
	f.Add(valid, "msg_1", "1767225600", "sha256="+strings.Repeat("ab", 32))

	// Every user event has a callback, so that every body reaches decoding.
	upsert := func(context.Context, *UserEvent) error { return nil }
	h, err := NewWebhookHandler(WebhookConfig{
		Secret: secret,
		Users:  UserEventFuncs{Created: upsert, Updated: upsert, Deleted: func(context.Context, *DeletedEvent) error { return nil }},
		Now:    func() time.Time { return now },
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, id, ts, sig string) {
		r := httptest.NewRequest(http.MethodPost, "/api/webhooks/clerk", bytes.NewReader(body))
		for k, v := range map[string]string{"svix-id": id, "svix-timestamp": ts, "svix-signature": sig} {
			if validHeaderValue(v) {
				r.Header.Set(k, v)
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code < 300 && wh.VerifyIgnoringTimestamp(body, webhookSignedHeaders(r.Header)) != nil {
			t.Fatalf("answered %d to a delivery whose signature does not verify", rec.Code)
		}
		if rec.Code >= 500 {
			t.Fatalf("answered %d: the callbacks never fail here", rec.Code)
		}
	})
}

// webhookSignedHeaders normalises the headers as the handler does, so the
// oracle checks the same signature.
func webhookSignedHeaders(h http.Header) http.Header {
	id, ts, sig, _, reason := webhookHeaders(h)
	out := http.Header{}
	if reason == "" {
		out.Set("svix-id", id)
		out.Set("svix-timestamp", strconv.FormatInt(ts.Unix(), 10))
		out.Set("svix-signature", sig)
	}
	return out
}

func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// fuzzSessionToken signs a session token for user_fuzz with the fuzz key,
// issued by the fuzz instance (clerk.fuzz.test) at iat.
func fuzzSessionToken(t testing.TB, iat int64, ttl int64) string {
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT","kid":"ins_fuzz"}`))
	claims, _ := json.Marshal(map[string]any{"iss": "https://clerk.fuzz.test", "sub": "user_fuzz", "sid": "sess_fuzz",
		"iat": iat, "nbf": iat - 10, "exp": iat + ttl, "azp": "https://app.fuzz.test", "v": 2, "sts": "active"})
	input := header + "." + base64.RawURLEncoding.EncodeToString(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, fuzzKey(), crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// FuzzCookieSide: the cookie side (Clerk's cookie rules, the handshake and
// its return, the refresh) on any Cookie header, query and request kind,
// on production and development instances: it never panics; it signs in
// only the one user whose token the seeds carry, and only when that token
// is in the request; a handshake goes only to the Frontend API; no header
// it writes can be split (no CR, LF or NUL); nothing reaches the network
// (no secret key: the nonce and the refresh give up at once).
func FuzzCookieSide(f *testing.F) {
	now := int64(1767225600)
	valid := fuzzSessionToken(f, now-10, 3600)
	expired := fuzzSessionToken(f, now-4000, 60)
	for _, seed := range []struct {
		cookie, query string
		kind          uint8
		dev           bool
	}{
		{"__session=" + valid + "; __client_uat=1", "", 0, false},
		{"__session=" + valid + "; __client_uat=1; __clerk_db_jwt=dvb_1", "tab=1", 0, true},
		{"__session=" + expired + "; __client_uat=1", "", 0, false},
		{"__client_uat=" + strconv.FormatInt(now, 10), "", 1, false},
		{"__session=" + valid, "__clerk_db_jwt=dvb_2", 0, true},
		{"", "__clerk_handshake=" + valid, 0, false},
		{"__clerk_handshake_nonce=n1; __clerk_redirect_count=3", "", 0, true},
		{"__session=%ZZ; __client_uat=-1; __session=" + valid, "__clerk_handshake=a.b.c&x=%", 2, false},
		{"__session_abcdefgh=" + valid + "; __client_uat_abcdefgh=0; __client_uat=1", "", 3, false},
		// Issue 18: many cookies (the jar once scanned them all per
		// cookie), many repeated names, a bound handshake return.
		{strings.Repeat("c=1; ", 2000) + "__session=" + valid + "; __client_uat=1", "", 0, false},
		{strings.Repeat("__session=x; ", 500) + "__client_uat=1", "", 0, true},
		{"__clerkauth_handshake=1", "__clerk_handshake=" + valid, 0, false},
		{"__clerkauth_handshake=1; __clerk_handshake_nonce=n%20x", "", 0, false},
	} {
		f.Add(seed.cookie, seed.query, seed.kind, seed.dev)
	}
	auths := map[bool]*Auth{}
	for _, dev := range []bool{false, true} {
		host := "clerk.fuzz.test"
		pk := "pk_live_" + base64.StdEncoding.EncodeToString([]byte(host+"$"))
		if dev {
			pk = "pk_test_" + base64.StdEncoding.EncodeToString([]byte(host+"$"))
		}
		auths[dev] = fuzzAuthWith(f, func(c *Config) { c.IssuerDomain, c.PublishableKey = "", pk })
	}
	f.Fuzz(func(t *testing.T, cookie, query string, kind uint8, dev bool) {
		method, dest := "GET", ""
		switch kind % 4 {
		case 0:
			dest = "document"
		case 2:
			method = "POST"
		case 3:
			dest = "empty"
		}
		r := httptest.NewRequest(method, "https://app.fuzz.test/page", nil)
		r.URL.RawQuery = query
		if dest != "" {
			r.Header.Set("Sec-Fetch-Dest", dest)
		}
		r.Header["Cookie"] = []string{cookie}
		s := auths[dev].AuthenticateRequest(r)
		for k, vs := range s.Headers {
			for _, v := range vs {
				if strings.ContainsAny(v, "\r\n\x00") {
					t.Fatalf("header %s can be split: %q", k, v)
				}
			}
		}
		switch s.Status {
		case SignedIn:
			if s.Identity.UserID != "user_fuzz" {
				t.Fatalf("signed in as %q", s.Identity.UserID)
			}
			if !strings.Contains(cookie, valid) && !strings.Contains(query, valid) {
				t.Fatalf("signed in without the valid token: cookie %q query %q", cookie, query)
			}
		case Handshake:
			if loc := s.Redirect(); !strings.HasPrefix(loc, "https://clerk.fuzz.test/v1/client/handshake?") {
				t.Fatalf("a handshake to %q", loc)
			}
			if !handshakeEligible(r) {
				t.Fatal("a handshake for a request that cannot follow one")
			}
		case SignedOut:
			if s.Err == nil || !isKnownReason(s.Err.Reason) {
				t.Fatalf("signed out without a known reason: %v", s.Err)
			}
		default:
			t.Fatalf("status %q", s.Status)
		}
	})
}
