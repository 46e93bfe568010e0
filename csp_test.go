package clerkauth_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/internal/issuer"
)

func cspAuth(t *testing.T, host string, live bool) *clerkauth.Auth {
	t.Helper()
	a, err := clerkauth.New(clerkauth.Config{PublishableKey: issuer.PublishableKey(host, live)})
	require.NoError(t, err)
	return a
}

// TestCSPAgreesWithClerk compares the policy with what @clerk/nextjs
// 7.9.17's createContentSecurityPolicyHeaders built for the same options
// (testdata/csp, made by scripts/csp-golden.sh from Clerk's published
// code: a recorded comparison, as that function cannot be imported from
// the pinned oracle packages). NONCE stands for the per-request nonce.
func TestCSPAgreesWithClerk(t *testing.T) {
	raw, err := os.ReadFile("testdata/csp/clerk-nextjs-7.9.17.json")
	require.NoError(t, err)
	var cases []struct {
		Name    string `json:"name"`
		Host    string `json:"host"`
		Options struct {
			Strict     bool                `json:"strict"`
			Directives map[string][]string `json:"directives"`
			ReportOnly bool                `json:"reportOnly"`
			ReportTo   string              `json:"reportTo"`
		} `json:"options"`
		Headers map[string]string `json:"headers"`
	}
	require.NoError(t, json.Unmarshal(raw, &cases))
	require.NotEmpty(t, cases)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			for _, live := range []bool{true, false} { // the key's kind changes nothing but the host
				a := cspAuth(t, c.Host, live)
				csp, err := a.ContentSecurityPolicy(clerkauth.CSPOptions{Strict: c.Options.Strict, Directives: c.Options.Directives,
					ReportOnly: c.Options.ReportOnly, ReportTo: c.Options.ReportTo})
				require.NoError(t, err)
				got := map[string]string{strings.ToLower(csp.HeaderName()): csp.Policy("NONCE")}
				rec := httptest.NewRecorder()
				csp.Handler(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				if v := rec.Header().Get("Reporting-Endpoints"); v != "" {
					got["reporting-endpoints"] = v
				}
				assert.Equal(t, c.Headers, got)
			}
		})
	}
}

func TestCSPNonce(t *testing.T) {
	a := cspAuth(t, "clerk.example.com", true)
	strict, err := a.ContentSecurityPolicy(clerkauth.CSPOptions{Strict: true})
	require.NoError(t, err)
	plain, err := a.ContentSecurityPolicy(clerkauth.CSPOptions{})
	require.NoError(t, err)

	seen := map[string]bool{}
	for range 3 {
		var nonce string
		rec := httptest.NewRecorder()
		strict.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			nonce = strict.Nonce(r.Context())
		})).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		require.Len(t, nonce, 24, "16 bytes in base64")
		assert.False(t, seen[nonce], "a fresh nonce per request")
		seen[nonce] = true
		assert.Equal(t, strict.Policy(nonce), rec.Header().Get("Content-Security-Policy"))
		assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "'strict-dynamic' 'nonce-"+nonce+"';")
	}

	t.Run("a nonce that is not base64 is left out", func(t *testing.T) {
		for _, bad := range []string{"", "x'; script-src *", "a b", "abc;"} {
			got := strict.Policy(bad)
			assert.NotContains(t, got, "nonce", bad)
			assert.Contains(t, got, "'strict-dynamic'", bad)
		}
	})
	t.Run("without Strict, no nonce", func(t *testing.T) {
		var nonce string
		rec := httptest.NewRecorder()
		plain.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			nonce = plain.Nonce(r.Context())
		})).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		assert.Empty(t, nonce)
		assert.Equal(t, plain.Policy("abc"), rec.Header().Get("Content-Security-Policy"))
		assert.NotContains(t, plain.Policy("abc"), "nonce")
	})
}

// A directive without sources is written without Clerk's trailing space
// (the one difference the recorded comparison leaves out).
func TestCSPDirectiveWithoutSources(t *testing.T) {
	a := cspAuth(t, "clerk.example.com", true)
	csp, err := a.ContentSecurityPolicy(clerkauth.CSPOptions{Directives: map[string][]string{"upgrade-insecure-requests": nil, "worker-src": nil}})
	require.NoError(t, err)
	got := csp.Policy("")
	assert.Contains(t, got, "; upgrade-insecure-requests; worker-src 'self' blob:")
	assert.True(t, strings.HasSuffix(got, "worker-src 'self' blob:"), "Clerk's sources stay when none are added")
}

func TestCSPRefusesWhatWouldBreakThePolicy(t *testing.T) {
	a := cspAuth(t, "clerk.example.com", true)
	for name, opts := range map[string]clerkauth.CSPOptions{
		"a source with a ';'":       {Directives: map[string][]string{"script-src": {"https://a.example; script-src *"}}},
		"two sources in one":        {Directives: map[string][]string{"img-src": {"data: blob:"}}},
		"a source with a comma":     {Directives: map[string][]string{"img-src": {"a,b"}}},
		"a source with a newline":   {Directives: map[string][]string{"img-src": {"a\r\nSet-Cookie: x"}}},
		"an empty source":           {Directives: map[string][]string{"img-src": {""}}},
		"an upper-case name":        {Directives: map[string][]string{"Script-Src": {"self"}}},
		"a name with a space":       {Directives: map[string][]string{"script-src x": {"self"}}},
		"a relative report URL":     {ReportTo: "/csp"},
		"a report URL with a quote": {ReportTo: `https://example.com/"x`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := a.ContentSecurityPolicy(opts)
			assert.ErrorContains(t, err, "clerkauth: CSPOptions")
		})
	}
	t.Run("no publishable key", func(t *testing.T) {
		a, err := clerkauth.New(clerkauth.Config{SecretKey: "sk_test_" + strings.Repeat("x", 40)})
		require.NoError(t, err)
		_, err = a.ContentSecurityPolicy(clerkauth.CSPOptions{})
		assert.ErrorContains(t, err, "CLERK_PUBLISHABLE_KEY")
	})
}

func BenchmarkCSPHandler(b *testing.B) {
	a, err := clerkauth.New(clerkauth.Config{PublishableKey: issuer.PublishableKey("clerk.example.com", true)})
	require.NoError(b, err)
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	req := httptest.NewRequest("GET", "/", nil)
	for _, strict := range []bool{false, true} {
		csp, err := a.ContentSecurityPolicy(clerkauth.CSPOptions{Strict: strict})
		require.NoError(b, err)
		h := csp.Handler(next)
		b.Run(map[bool]string{false: "default", true: "strict"}[strict], func(b *testing.B) {
			b.ReportAllocs()
			w := httptest.NewRecorder()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}

// A page that loads Clerk's components gets Clerk's policy, with a nonce
// per request for its own scripts.
func ExampleAuth_ContentSecurityPolicy() {
	auth, err := clerkauth.New(clerkauth.Config{PublishableKey: issuer.PublishableKey("clerk.example.com", true)}) // CLERK_PUBLISHABLE_KEY
	if err != nil {
		log.Fatal(err)
	}
	csp, err := auth.ContentSecurityPolicy(clerkauth.CSPOptions{
		Strict:     true,
		Directives: map[string][]string{"img-src": {"data:"}, "frame-ancestors": {"none"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nonce := csp.Nonce(r.Context())
		fmt.Fprintf(w, `<script nonce="%s" src="https://clerk.example.com/npm/@clerk/clerk-js@5/dist/clerk.browser.js" data-clerk-publishable-key="…"></script>`, nonce)
	})
	mux := http.NewServeMux()
	mux.Handle("/", auth.Middleware(csp.Handler(page)))

	for _, directive := range strings.Split(csp.Policy("bm9uY2U="), "; ") {
		fmt.Println(directive)
	}
	// Output:
	// connect-src 'self' https://clerk-telemetry.com https://*.clerk-telemetry.com https://api.stripe.com https://maps.googleapis.com https://img.clerk.com https://*.protect.clerk.com:* clerk.example.com
	// default-src 'self'
	// form-action 'self'
	// frame-ancestors 'none'
	// frame-src 'self' https://challenges.cloudflare.com https://*.js.stripe.com https://js.stripe.com https://hooks.stripe.com https://*.protect.clerk.com
	// img-src 'self' https://img.clerk.com data:
	// script-src 'self' 'unsafe-inline' https://*.js.stripe.com https://js.stripe.com https://maps.googleapis.com https://*.protect.clerk.com 'strict-dynamic' 'nonce-bm9uY2U='
	// style-src 'self' 'unsafe-inline'
	// worker-src 'self' blob:
}
