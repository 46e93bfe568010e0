package clerkauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// CSPOptions says how to build the Content-Security-Policy of pages that
// load Clerk's front end; the fields are those of @clerk/nextjs's
// contentSecurityPolicy option. The zero value is Clerk's default policy.
type CSPOptions struct {
	// Strict adds 'strict-dynamic' and a per-request nonce to script-src,
	// and drops its http: and https: (Clerk's strict: true). Pages must then
	// put the nonce (CSP.Nonce) on their <script> tags.
	Strict bool
	// Directives are merged into Clerk's: the sources of a directive Clerk
	// sets are added to Clerk's (once each); other directives are added as
	// given. A directive whose sources include 'none' is only 'none'.
	// Keywords (self, none, unsafe-inline, strict-dynamic, unsafe-eval,
	// unsafe-hashes) may be written with or without their quotes.
	Directives map[string][]string
	// ReportOnly sends Content-Security-Policy-Report-Only instead, to watch
	// violations without blocking anything.
	ReportOnly bool
	// ReportTo is an absolute URL that receives violation reports: the
	// policy gets "report-to csp-endpoint" and the response a
	// Reporting-Endpoints header naming it.
	ReportTo string
}

// CSP is a Content-Security-Policy for pages that load Clerk's front end
// (ClerkJS, its components, its workers and frames, and the Frontend API),
// built once by Auth.ContentSecurityPolicy. It is safe for concurrent use.
type CSP struct {
	name      string // the header it is sent as
	plain     string // the policy without a nonce
	prefix    string // with Strict: the policy up to the nonce
	suffix    string // and after it
	strict    bool
	reporting string // the Reporting-Endpoints value, or ""
}

// Clerk's default directives, as @clerk/nextjs 7.9.17 (the release that
// requires @clerk/backend ^3.25.0) writes them in
// src/server/content-security-policy.ts, keywords unquoted as there. One
// difference: Clerk adds 'unsafe-eval' to script-src when NODE_ENV is not
// "production", for the Next.js development server's bundles; a Go server
// has none, so it is left out (add it through Directives if you need it).
var clerkCSPDirectives = map[string][]string{
	"connect-src": {"self", "https://clerk-telemetry.com", "https://*.clerk-telemetry.com", "https://api.stripe.com",
		"https://maps.googleapis.com", "https://img.clerk.com", "https://*.protect.clerk.com:*"},
	"default-src": {"self"},
	"form-action": {"self"},
	"frame-src": {"self", "https://challenges.cloudflare.com", "https://*.js.stripe.com", "https://js.stripe.com",
		"https://hooks.stripe.com", "https://*.protect.clerk.com"},
	"img-src": {"self", "https://img.clerk.com"},
	"script-src": {"self", "unsafe-inline", "https:", "http:", "https://*.js.stripe.com", "https://js.stripe.com",
		"https://maps.googleapis.com", "https://*.protect.clerk.com"},
	"style-src":  {"self", "unsafe-inline"},
	"worker-src": {"self", "blob:"},
}

// cspKeywords are the sources CSP spells in single quotes.
var cspKeywords = []string{"none", "self", "strict-dynamic", "unsafe-eval", "unsafe-hashes", "unsafe-inline"}

var errCSPNoPublishableKey = errors.New("clerkauth: ContentSecurityPolicy needs the Frontend API host from the publishable key; set CLERK_PUBLISHABLE_KEY")

// ContentSecurityPolicy builds the policy @clerk/nextjs's
// contentSecurityPolicy option builds, for this instance: Clerk's
// directives, the Frontend API host of the publishable key in
// connect-src, and opts merged in. It returns an error, telling the fix,
// when there is no publishable key or a directive or source could break
// out of its place in the header.
//
// With a Frontend API proxy on another host than the pages (an absolute
// Config.ProxyURL), add its origin to connect-src and script-src, as
// Clerk's own policy does not.
func (a *Auth) ContentSecurityPolicy(opts CSPOptions) (*CSP, error) {
	if a.frontendAPI == "" {
		return nil, errCSPNoPublishableKey
	}
	dirs := make(map[string][]string, len(clerkCSPDirectives)+len(opts.Directives))
	for name, sources := range clerkCSPDirectives {
		dirs[name] = formatCSPSources(sources)
	}
	dirs["connect-src"] = append(dirs["connect-src"], a.frontendAPI)
	if opts.Strict {
		dirs["script-src"] = slices.DeleteFunc(dirs["script-src"], func(s string) bool { return s == "http:" || s == "https:" })
		dirs["script-src"] = append(dirs["script-src"], "'strict-dynamic'")
	}
	// The nonce comes after Clerk's script sources and before the
	// caller's, where Clerk's Set puts it.
	nonceAt := len(dirs["script-src"])
	for name, sources := range opts.Directives {
		if err := checkCSPDirective(name, sources); err != nil {
			return nil, err
		}
		sources = formatCSPSources(sources)
		if slices.Contains(sources, "'none'") { // formatCSPSources quoted it
			dirs[name] = []string{"'none'"}
			if name == "script-src" {
				nonceAt = -1 // 'none' means no script, nonce or not
			}
			continue
		}
		// Clerk's sources first, then the caller's, each once; a directive
		// without sources (upgrade-insecure-requests) is kept.
		dirs[name] = formatCSPSources(append(slices.Clip(dirs[name]), sources...))
	}

	c := &CSP{name: "Content-Security-Policy", strict: opts.Strict && nonceAt >= 0}
	if opts.ReportOnly {
		c.name = "Content-Security-Policy-Report-Only"
	}
	if opts.ReportTo != "" {
		u, err := url.Parse(opts.ReportTo)
		if err != nil || !u.IsAbs() || u.Host == "" || strings.ContainsAny(opts.ReportTo, "\";, \t\r\n") {
			return nil, fmt.Errorf("clerkauth: CSPOptions.ReportTo %q is not an absolute URL (write it as https://host/path)", opts.ReportTo)
		}
		c.reporting = `csp-endpoint="` + opts.ReportTo + `"`
	}
	policy := func(nonce string) string {
		var b strings.Builder
		for i, name := range slices.Sorted(maps.Keys(dirs)) {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(name)
			for j, s := range dirs[name] {
				if name == "script-src" && j == nonceAt && nonce != "" {
					b.WriteString(" " + nonce)
				}
				b.WriteString(" " + s)
			}
			if name == "script-src" && nonceAt == len(dirs[name]) && nonce != "" {
				b.WriteString(" " + nonce)
			}
		}
		if c.reporting != "" {
			b.WriteString("; report-to csp-endpoint")
		}
		return b.String()
	}
	c.plain = policy("")
	if c.strict {
		// The sources were checked for control characters: NUL marks
		// where each request's nonce goes.
		c.prefix, c.suffix, _ = strings.Cut(policy("'nonce-\x00'"), "\x00")
	}
	return c, nil
}

// formatCSPSources quotes the keywords among sources, as Clerk's
// formatValue does, and drops repeats (Clerk's Set), in one pass.
func formatCSPSources(sources []string) []string {
	out := make([]string, 0, len(sources))
	seen := make(map[string]bool, len(sources))
	for _, s := range sources {
		bare := strings.TrimSuffix(strings.TrimPrefix(s, "'"), "'")
		if slices.Contains(cspKeywords, bare) { // six keywords
			s = "'" + bare + "'"
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// checkCSPDirective refuses a name or source that would end its directive
// or the header early (";", ",", white space, control characters): the
// policy is only as strong as its text.
func checkCSPDirective(name string, sources []string) error {
	if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return fmt.Errorf("clerkauth: CSPOptions.Directives: %q is not a directive name (lower-case letters, digits and '-', as in script-src)", name)
	}
	for _, s := range sources {
		if s == "" || strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == ';' || r == ',' || r >= 0x7f }) >= 0 {
			return fmt.Errorf("clerkauth: CSPOptions.Directives[%q]: source %q is empty or holds a space, ';', ',' or a non-ASCII character; give one source per element", name, s)
		}
	}
	return nil
}

// HeaderName is the header the policy is sent as: Content-Security-Policy,
// or Content-Security-Policy-Report-Only with CSPOptions.ReportOnly.
func (c *CSP) HeaderName() string { return c.name }

// Policy returns the header's value for a response whose scripts carry
// nonce (from CSP.NewNonce). Without Strict the nonce is not used. A nonce
// that is not base64 is left out of the policy (so nonced scripts are
// blocked), rather than let it rewrite the policy.
func (c *CSP) Policy(nonce string) string {
	if !c.strict || nonce == "" || strings.Trim(nonce, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_") != "" {
		return c.plain
	}
	return c.prefix + nonce + c.suffix
}

// Handler sets the policy on every response of next (and, with Strict, a
// fresh nonce per request, which next reads with CSP.Nonce).
// Wrap the page routes that render Clerk's components; JSON APIs need no
// policy.
func (c *CSP) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if c.reporting != "" {
			h.Set("Reporting-Endpoints", c.reporting)
		}
		if !c.strict {
			h.Set(c.name, c.plain)
			next.ServeHTTP(w, r)
			return
		}
		nonce := c.NewNonce()
		h.Set(c.name, c.prefix+nonce+c.suffix)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), cspNonceKey{}, nonce)))
	})
}

type cspNonceKey struct{}

// Nonce returns the nonce CSP.Handler chose for this request
// (put it on every <script nonce="…">, ClerkJS's own tag included), or ""
// outside a Strict CSP.Handler. Clerk's Next.js middleware passes it
// in the x-nonce request header instead. It reads only ctx.
func (c *CSP) Nonce(ctx context.Context) string {
	n, _ := ctx.Value(cspNonceKey{}).(string)
	return n
}

// NewNonce returns a fresh nonce: 16 random bytes in base64, as Clerk's
// generateNonce makes them.
func (c *CSP) NewNonce() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24)
	return base64.StdEncoding.EncodeToString(b[:])
}
