// Command clerkauth diagnoses a Clerk setup from the environment a
// clerkauth server would run with, and sends signed test webhooks.
//
//	clerkauth doctor [--token JWT] [--audience a,b] [--authorized-parties https://app.example.com]
//	clerkauth webhook send [--data file.json] <event-type> <url>
//
// It reads the same variables as clerkauth.NewFromEnv (CLERK_SECRET_KEY,
// CLERK_PUBLISHABLE_KEY, CLERK_JWT_KEY, CLERK_JWT_ISSUER_DOMAIN,
// CLERK_AUTHORIZED_PARTIES, …) and CLERK_WEBHOOK_SIGNING_SECRET, and
// reports line by line, each with a verdict: which keys are set (never
// their values), whether they belong to the same instance (the Backend
// API's key set, fetched with the secret key, against the keys tokens are
// verified with), the Frontend API and issuer they imply, whether the key
// set answers and which kids it has, whether the webhook secret is
// well-formed, and, given --token,
// every check the middleware would run on that token with the reason it
// fails. It exits 1 when any check fails.
//
// webhook send builds Clerk's envelope around the event's data (a file,
// or sample data for the common event types), signs it with
// CLERK_WEBHOOK_SIGNING_SECRET as Svix does, POSTs it to the URL and
// prints the answer.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/internal/redact"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

const usage = `clerkauth diagnoses a Clerk setup from the environment a clerkauth
server would run with, and sends signed test webhooks to your endpoint.

Usage:

	clerkauth doctor [flags]                           check the configuration and, with --token, a token
	clerkauth webhook send [flags] <event-type> <url>  send a signed test webhook (see webhook send -h)
	clerkauth help                                     show this help

It reads ` + clerkauth.EnvSecretKey + `, ` + clerkauth.EnvPublishableKey + `, ` + clerkauth.EnvJWTKey + `,
` + clerkauth.EnvIssuerDomain + `, ` + clerkauth.EnvAuthorizedParties + `, ` + clerkauth.EnvMachineSecretKey + `,
` + clerkauth.EnvProxyURL + `, ` + clerkauth.EnvIsSatellite + `, ` + clerkauth.EnvDomain + ` and
` + clerkauth.EnvWebhookSecret + `, and prints one line per check
(ok, FAIL, warn, info), never a key's value. It exits 1 when a check fails.

Flags of doctor:
`

// doctorFlags declares doctor's flags on fs.
func doctorFlags(fs *flag.FlagSet) (token, audience, parties, hsReason *string, timeout *time.Duration) {
	token = fs.String("token", "", "a session or JWT-template token to check (or - to read it from standard input)")
	hsReason = fs.String("handshake-reason", "", "explain a handshake reason (X-Clerk-Auth-Reason or __clerk_hs_reason) and exit")
	audience = fs.String("audience", "", "accepted aud values, comma-separated (Config.Audience)")
	parties = fs.String("authorized-parties", "", "accepted azp origins, comma-separated (default: "+clerkauth.EnvAuthorizedParties+")")
	timeout = fs.Duration("timeout", 10*time.Second, "how long to wait for the key set")
	return
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	token, audience, parties, hsReason, timeout := doctorFlags(fs)
	printUsage := func(w io.Writer) {
		fmt.Fprint(w, usage)
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	switch {
	case len(args) == 0:
		printUsage(stderr)
		return 2
	case isHelp(args[0]):
		printUsage(stdout)
		return 0
	case args[0] == "webhook":
		return webhookCommand(ctx, args[1:], getenv, os.Stdin, stdout, stderr)
	case args[0] != "doctor":
		fmt.Fprintf(stderr, "clerkauth: unknown command %q\n\n", args[0])
		printUsage(stderr)
		return 2
	}
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "clerkauth doctor: %v\n\n", err)
		printUsage(stderr)
		return 2
	}
	if *hsReason != "" {
		if e, ok := clerkauth.ExplainHandshakeReason(*hsReason); ok {
			fmt.Fprintf(stdout, "%s: %s\n", *hsReason, e)
			return 0
		}
		fmt.Fprintf(stdout, "%s is not a handshake reason clerkauth knows; the reason codes are listed in the README\n", *hsReason)
		return 1
	}
	if *token == "-" {
		b, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
		if err != nil {
			fmt.Fprintln(stderr, "clerkauth: reading the token:", err)
			return 2
		}
		*token = strings.TrimSpace(string(b))
	}
	d := &doctor{out: stdout}
	d.check(ctx, getenv, *token, split(*audience), split(*parties), *timeout)
	if d.failed {
		fmt.Fprintln(stdout, "\nSome checks failed; each FAIL line says what to change.")
		return 1
	}
	fmt.Fprintln(stdout, "\nAll checks passed.")
	return 0
}

type doctor struct {
	out    io.Writer
	failed bool
}

func (d *doctor) line(verdict, format string, args ...any) {
	if verdict == "FAIL" {
		d.failed = true
	}
	fmt.Fprintf(d.out, "%-5s %s\n", verdict, fmt.Sprintf(format, args...))
}

func (d *doctor) check(ctx context.Context, getenv func(string) string, token string, audience, parties []string, timeout time.Duration) {
	cfg := clerkauth.ConfigFromLookup(getenv)
	fmt.Fprintln(d.out, "Environment")
	d.secretKey(cfg.SecretKey)
	d.machineSecretKey(cfg.MachineSecretKey)
	if cfg.ProxyURL != "" {
		d.line("info", "%s is %s: handshakes go through this proxy", clerkauth.EnvProxyURL, redact.URL(cfg.ProxyURL))
	}
	d.publishableKey(cfg.PublishableKey, getenv)
	if cfg.IsSatellite {
		d.line("info", "%s is set: a satellite of %s (users sign in on the primary; page loads sync with it)", clerkauth.EnvIsSatellite, cmp.Or(redact.URL(cfg.Domain), "the proxy's domain"))
	} else if cfg.Domain != "" {
		d.line("warn", "%s is set without %s: only a satellite uses it", clerkauth.EnvDomain, clerkauth.EnvIsSatellite)
	}
	if cfg.JWTKey != "" {
		if _, err := clerkauth.ParseJWTKey(cfg.JWTKey); err != nil {
			d.line("FAIL", "%s: %v", clerkauth.EnvJWTKey, err)
		} else {
			d.line("ok", "%s is a valid RSA public key (networkless verification)", clerkauth.EnvJWTKey)
		}
	} else {
		d.line("--", "%s is not set (keys are fetched over the network)", clerkauth.EnvJWTKey)
	}
	if cfg.IssuerDomain != "" {
		d.line("info", "%s is %s", clerkauth.EnvIssuerDomain, redact.URL(cfg.IssuerDomain))
	}
	if len(parties) > 0 {
		cfg.AuthorizedParties = parties
	}
	if len(cfg.AuthorizedParties) > 0 {
		shown := make([]string, len(cfg.AuthorizedParties))
		for i, p := range cfg.AuthorizedParties {
			shown[i] = redact.URL(p)
		}
		d.line("info", "authorized parties (azp must be one of): %s", strings.Join(shown, ", "))
	} else {
		d.line("warn", "%s is not set: any azp is accepted (set it to your front end's origins in production)", clerkauth.EnvAuthorizedParties)
	}
	cfg.Audience = audience
	d.webhookSecret(clerkauth.WebhookSecretFromLookup(getenv))

	fmt.Fprintln(d.out, "\nConfiguration")
	auth, err := clerkauth.New(cfg)
	if err != nil {
		d.line("FAIL", "%v", err)
		return
	}
	d.line("ok", "clerkauth.New accepts this configuration")
	if iss := auth.Issuer(); iss != "" {
		d.line("info", "tokens must have iss %s", iss)
	} else {
		d.line("warn", "no publishable key or issuer domain: any Clerk issuer is accepted; set %s or %s to pin your instance", clerkauth.EnvPublishableKey, clerkauth.EnvIssuerDomain)
	}
	d.line("info", "keys from %s", auth.KeySource())
	fctx, cancel := context.WithTimeout(ctx, timeout)
	kids, skipped, err := auth.FetchKeyIDs(fctx)
	cancel()
	switch {
	case err != nil:
		d.line("FAIL", "the key set does not answer: %v (protected routes would answer 503)", err)
	case kids == nil:
		d.line("ok", "no key fetch needed")
	case len(kids) == 0:
		d.line("FAIL", "the key set has no usable RS256 key (protected routes would answer 503)")
	default:
		d.line("ok", "the key set answers with %d key(s): %s", len(kids), strings.Join(kids, ", "))
	}
	for _, s := range skipped {
		d.line("warn", "the key set has an entry this verifier skips: %s", s)
	}
	fctx, cancel = context.WithTimeout(ctx, timeout)
	d.instance(auth.CheckInstance(fctx))
	cancel()

	if token == "" {
		d.line("--", "no --token given: pass one (from getToken() in the browser) to see every check the middleware runs on it")
		return
	}
	fmt.Fprintln(d.out, "\nToken")
	var refused clerkauth.Reason
	for _, c := range auth.ExplainToken(ctx, token) {
		if c.OK {
			d.line("ok", "%s: %s", c.Name, c.Detail)
			continue
		}
		d.line("FAIL", "%s: %s (%s)%s", c.Name, c.Detail, c.Reason, hint(c.Reason))
		if refused == "" {
			refused = c.Reason
		}
	}
	if refused != "" {
		d.line("FAIL", "the middleware would refuse this token with reason %s", refused)
	} else {
		d.line("ok", "the middleware would accept this token")
	}
}

// instance reports whether the secret key and the verifier's keys belong
// to the same instance: a secret key of one development instance beside
// the publishable key of another passes every other check.
func (d *doctor) instance(m clerkauth.InstanceCheck) {
	sk := clerkauth.EnvSecretKey
	switch {
	case !m.Compared:
	case m.BackendErr != nil:
		d.line("FAIL", "the Backend API does not answer with %s: %v (CurrentUser, handshakes and machine tokens would fail)", sk, m.BackendErr)
	case m.VerifierErr != nil:
		d.line("warn", "cannot tell whether %s and %s belong to the same instance: their key set does not answer", sk, m.Source)
	case m.Same:
		d.line("ok", "%s and %s belong to the same instance (the Backend API serves the keys tokens are verified with)", sk, m.Source)
	default:
		d.line("FAIL", "%s and %s belong to different instances: the Backend API's keys (%s) are not the keys tokens are verified with (%s); "+
			"handshakes would loop and CurrentUser would fail. Fix %s or %s: copy both from the same instance (Dashboard → API keys)",
			sk, m.Source, kidList(m.BackendKids), kidList(m.VerifierKids), sk, m.Source)
	}
}

func kidList(kids []string) string {
	if len(kids) == 0 {
		return "no kid"
	}
	return "kid " + strings.Join(kids, ", ")
}

func (d *doctor) secretKey(sk string) {
	if sk == "" {
		d.line("--", "%s is not set (needed for CurrentUser, and for keys when nothing else is set)", clerkauth.EnvSecretKey)
		return
	}
	live, err := clerkauth.ParseSecretKey(sk)
	switch {
	case err != nil:
		d.line("FAIL", "%v", err)
	case live:
		d.line("ok", "%s is set: sk_live_… (%d characters), a production instance", clerkauth.EnvSecretKey, len(sk))
	default:
		d.line("ok", "%s is set: sk_test_… (%d characters), a development instance", clerkauth.EnvSecretKey, len(sk))
	}
}

func (d *doctor) machineSecretKey(key string) {
	if key == "" {
		d.line("--", "%s is not set (only for machine tokens: opaque M2M tokens are then verified with %s)", clerkauth.EnvMachineSecretKey, clerkauth.EnvSecretKey)
		return
	}
	d.line("ok", "%s is set (%d characters): opaque M2M tokens are verified with it", clerkauth.EnvMachineSecretKey, len(key))
}

func (d *doctor) publishableKey(pk string, getenv func(string) string) {
	if pk == "" {
		d.line("--", "%s (or NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY) is not set: the issuer and the JWKS URL are unknown", clerkauth.EnvPublishableKey)
		return
	}
	name := clerkauth.EnvPublishableKey
	if getenv(name) == "" {
		name = "NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY"
	}
	host, live, err := clerkauth.ParsePublishableKey(pk)
	if err != nil {
		d.line("FAIL", "%v", err)
		return
	}
	kind := "development"
	if live {
		kind = "production"
	}
	d.line("ok", "%s is set: a %s instance, Frontend API %s (issuer https://%s)", name, kind, host, host)
}

func (d *doctor) webhookSecret(secret string) {
	if secret == "" {
		d.line("--", "%s is not set: webhooks cannot be verified (Dashboard → Webhooks → your endpoint → Signing Secret)", clerkauth.EnvWebhookSecret)
		return
	}
	if err := checkWebhookSecret(secret); err != nil {
		d.line("FAIL", "%v", err)
		return
	}
	d.line("ok", "the webhook signing secret is well-formed (whsec_…); also make /api/webhooks(.*) a public route")
}

// hint adds the usual cause of a reason, from the questions users ask.
func hint(reason clerkauth.Reason) string {
	switch reason {
	case clerkauth.ReasonTokenExpired:
		return " — session tokens live 60s; send a fresh one from getToken() on every request"
	case clerkauth.ReasonTokenInvalidAudience:
		return " — is the JWT template name right? getToken({ template: \"…\" }) and Audience must match exactly"
	case clerkauth.ReasonTokenInvalidIssuer:
		return " — the token comes from another Clerk instance (test vs live keys?): check " + clerkauth.EnvPublishableKey + " and " + clerkauth.EnvIssuerDomain
	case clerkauth.ReasonTokenInvalidAuthorizedParties:
		return " — add the front end's origin (scheme://host[:port]) to " + clerkauth.EnvAuthorizedParties
	case clerkauth.ReasonJWKKidMismatch, clerkauth.ReasonTokenInvalidSignature:
		return " — the token was signed by another instance's key"
	case clerkauth.ReasonTokenNotActiveYet, clerkauth.ReasonTokenIatInTheFuture:
		return " — this machine's clock is behind; enable NTP"
	case clerkauth.ReasonJWKRemoteFailedToLoad:
		return " — the key set cannot be fetched from here"
	}
	return ""
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
