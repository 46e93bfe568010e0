package clerkauth

import (
	"cmp"
	"context"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"

	"github.com/clerkauth/clerkauth/internal/budget"
	"github.com/clerkauth/clerkauth/internal/jsnum"
	"github.com/clerkauth/clerkauth/internal/redact"
)

// Config configures an Auth. Only a key source is required: a
// PublishableKey (the usual case), a JWTKey, an IssuerDomain or a
// SecretKey. The zero values of the other fields are safe defaults.
type Config struct {
	// SecretKey is the instance's secret key (CLERK_SECRET_KEY,
	// "sk_test_…" or "sk_live_…"). It is needed only when no other key
	// source is set (keys then come from the Backend API) and for
	// CurrentUser.
	SecretKey string
	// PublishableKey is the instance's publishable key
	// (CLERK_PUBLISHABLE_KEY, "pk_test_…" or "pk_live_…"). It encodes the
	// Frontend API host, which gives the token issuer, the JWKS URL, the
	// session-cookie suffix and the Account Portal's sign-in page.
	PublishableKey string
	// JWTKey is the instance's PEM public key (CLERK_JWT_KEY, Dashboard →
	// API keys → "Show JWT public key"). With it, tokens are verified
	// without any network request.
	JWTKey string
	// IssuerDomain is the expected iss claim (CLERK_JWT_ISSUER_DOMAIN),
	// e.g. "https://clerk.example.com". When set it overrides the issuer
	// derived from PublishableKey, and keys are fetched from
	// <IssuerDomain>/.well-known/jwks.json unless JWTKey is set.
	IssuerDomain string
	// Audience lists the aud values of the JWT-template tokens accepted
	// anywhere (e.g. "convex"); exact and case-sensitive, as template names
	// are. A token without aud (a plain session token) is accepted whatever
	// it lists, as Clerk does; a token with an aud is accepted only when
	// one of its values is listed, so when Audience is empty every
	// template token is refused (Clerk would take it for a session). Use
	// Require(Audience(…)) for routes that take a template's tokens only.
	// Machine JWTs (M2M, OAuth): aud is checked against Audience when set.
	Audience []string
	// AuthorizedParties lists the origins allowed in the azp claim, e.g.
	// "https://app.example.com". When set, azp must be present and listed.
	// Strongly recommended in production: it stops a token minted for
	// another of your sites from being replayed here.
	AuthorizedParties []string
	// PublicRoutes lists route patterns (createRouteMatcher syntax) that
	// need no session; every other route is protected. When neither
	// PublicRoutes nor ProtectedRoutes is set, every route is protected.
	PublicRoutes []string
	// ProtectedRoutes is the alternative: only these routes need a session.
	// Setting both lists is an error.
	ProtectedRoutes []string
	// SignInURL is where browser navigations to protected pages are sent,
	// with ?redirect_url=<the original URL> (CLERK_SIGN_IN_URL). A path
	// ("/sign-in") must be a public route. When empty, the Account
	// Portal's sign-in page derived from PublishableKey is used; without
	// either, browsers get 401 like API clients.
	SignInURL string
	// SignUpURL is where RedirectToSignUp sends browsers
	// (CLERK_SIGN_UP_URL). When empty, the Account Portal's sign-up page
	// derived from PublishableKey is used. A path must be a public route.
	SignUpURL string
	// ProxyURL is the URL of your proxy to Clerk's Frontend API
	// (CLERK_PROXY_URL), e.g. "https://app.example.com/__clerk" or the path
	// "/__clerk": handshakes are sent there instead of to the Frontend API
	// host, and tokens issued through it (iss = ProxyURL) are accepted.
	// FrontendAPIProxy serves it.
	ProxyURL string
	// IsSatellite makes this app a satellite domain of a multi-domain
	// instance (CLERK_IS_SATELLITE): users sign in on the primary domain,
	// and a page load here with no session of its own is sent to sync with
	// the primary (through the Frontend API in production, through the
	// primary's sign-in page on a development instance) before it is
	// decided. Needs Domain or ProxyURL, and on a development instance an
	// absolute SignInURL on the primary. See docs/multi-domain.md.
	IsSatellite bool
	// Domain is the satellite's domain (CLERK_DOMAIN), e.g.
	// "satellite.example.com": a production satellite's Frontend API is
	// clerk.<Domain>. Only with IsSatellite.
	Domain string
	// SatelliteAutoSync, on a satellite, syncs with the primary on the
	// first page load even when the browser has no Clerk cookie here
	// (Clerk's satelliteAutoSync). Off, the default, a browser that never
	// signed in here is signed out at once, without the round trip, until
	// sign-in sends it back with __clerk_synced.
	SatelliteAutoSync bool
	// OrganizationSync activates the organization a URL names (Clerk's
	// organizationSyncOptions): on a page load whose path names another
	// organization than the session's active one, the handshake asks the
	// Frontend API to activate it first. The zero value syncs nothing.
	OrganizationSync OrganizationSync
	// RefusalHandler, when set, is offered every refusal before clerkauth
	// answers it: 401 and 503 from the middleware, 403 from Require, and
	// the 307 that sends a browser to sign-in. Render your own page or JSON
	// and return true; return false to let clerkauth answer as usual (for
	// example for everything but 403). Cache-Control, X-Clerk-Auth-Reason
	// (and WWW-Authenticate or Retry-After where they apply) are already
	// set when it runs; for NotFound's 404, Cache-Control only.
	RefusalHandler func(w http.ResponseWriter, r *http.Request, refusal Refusal) bool
	// ClockSkew is the leeway for exp, nbf and iat. Default
	// DefaultClockSkew (5s, as in @clerk/backend); a negative value means
	// none.
	ClockSkew time.Duration
	// HTTPClient makes every request to Clerk: key fetches (JWKS or the
	// Backend API's /jwks) and CurrentUser's Backend API calls. Default: a
	// client whose timeout is ClerkTimeout.
	HTTPClient *http.Client
	// Logger receives operational messages (key fetch failures, hints about
	// likely misconfiguration). It never receives tokens, keys or secrets.
	// Default: slog.Default().
	Logger *slog.Logger

	// APIURL is the Backend API base URL. Default "https://api.clerk.com/v1".
	APIURL string
	// KeyRefreshInterval is how old the cached keys may get before a
	// background refresh. Default 1h.
	KeyRefreshInterval time.Duration
	// KeyFetchCoolDown is the minimum time between two key fetches caused
	// by unknown kids (or by a key server that is down). Default 10s.
	KeyFetchCoolDown time.Duration
	// ClerkTimeout bounds one request to Clerk (a key fetch, or a
	// CurrentUser call; for FrontendAPIProxy, the wait for the Frontend
	// API's answer once the request is sent); requests waiting for keys
	// wait no longer. Default 5s.
	ClerkTimeout time.Duration
	// TokenCacheSize caps the verified-token cache: a token seen before is
	// not verified again until it expires (docs/security.md has the
	// trade-off). Default 10,000; negative turns the cache off, as a
	// negative value turns off every feature of Config that can be.
	TokenCacheSize int
	// AcceptsToken lists the token types the middleware accepts in the
	// Authorization header: SessionToken (the default when empty), APIKey,
	// M2MToken, OAuthToken. A token of another type is refused with 401
	// token-type-mismatch; cookies only ever carry session tokens. Restrict
	// single routes further with Require(TokenTypes(…)).
	AcceptsToken []TokenType
	// MachineSecretKey is a machine's secret key
	// (CLERK_MACHINE_SECRET_KEY), used instead of SecretKey to verify
	// opaque M2M tokens when set. API keys and OAuth tokens are verified
	// with SecretKey.
	MachineSecretKey string
	// MachineTokenCacheTTL is how long a verdict of the Backend API on an
	// opaque machine token (valid, or unknown) is reused. Default 10s: a
	// revoked API key can keep working for up to that long on a server
	// that saw it just before. Negative turns the cache off (every request
	// with an opaque token is a Backend API call).
	MachineTokenCacheTTL time.Duration
	// BackendAPIRate caps the Backend API calls that requests can cause
	// (verifying an opaque machine token, exchanging a handshake nonce,
	// refreshing a session, CurrentUser), per second with as much burst,
	// and BackendAPIConcurrency caps those in flight. A quarter of each is
	// kept for work that earned it (renewing a machine token that
	// verified, a signed-in user's CurrentUser); beyond the rest, a request
	// that would call Clerk is answered at once (503
	// machine-verifier-busy for machine tokens; a nonce or refresh is
	// treated as failed) instead of queueing. Clerk limits the Backend API
	// per instance, and every server holding the secret key shares that
	// quota (100 calls a second in production, 10 on development
	// instances): set the rate to your share. Defaults 50 a second on a
	// production instance, 5 on a development one, and 16 at once.
	BackendAPIRate        int
	BackendAPIConcurrency int
	// Hooks are called as requests are decided, keys fetched and the
	// Backend API called, for metrics and traces; see Hooks. The zero
	// value calls nothing.
	Hooks Hooks
	// TrustedProxies lists the reverse proxies (IP addresses or CIDR
	// prefixes: "10.0.0.0/8", "127.0.0.1", "::1") whose X-Forwarded-Host
	// and X-Forwarded-Proto say which URL the browser addressed, for the
	// redirect_url of sign-in redirects and handshakes. A request from any
	// other peer, or with more than one value in either header, is read by
	// its Host header and connection alone. FrontendAPIProxy passes on
	// X-Forwarded-For, X-Real-IP and CF-Connecting-IP from these only.
	// Default none. See "Behind a proxy" in docs/routing.md.
	TrustedProxies []string
	// UserCacheTTL is how long CurrentUser reuses a fetched user. Default
	// 30s; negative disables the cache (concurrent calls still share one
	// request).
	UserCacheTTL time.Duration
	// Now returns the current time; for tests. Default time.Now.
	Now func() time.Time
}

// Auth verifies Clerk session tokens and protects routes. Build it once
// with New or NewFromEnv; it is safe for concurrent use.
type Auth struct {
	cfg            Config
	rules          claimRules // what a token's claims must say
	frontendAPI    string     // host decoded from the publishable key
	cookieSuffixed string     // "__session_<suffix>" for this publishable key
	cookieSuffix   string     // "<suffix>"
	cookieNames    cookieNames
	development    bool // a development instance's publishable key (pk_test_): dev browser rules
	devInstance    bool // a development instance's key, secret or publishable
	// frontendAPIBase is where handshakes go: "https://<frontend-api>", or
	// ProxyURL (a path when it is relative to the request's origin).
	frontendAPIBase string
	proxyHost       string // its host name, a known Clerk referrer
	// cookieIssuer is the issuer a cookie's token must name to be this
	// instance's when the cookie side picks suffixed or plain cookies.
	cookieIssuer   string
	satellite      bool           // IsSatellite
	satelliteHost  string         // the satellite's host (Domain, or an absolute ProxyURL's)
	orgSync        orgMatcher     // OrganizationSync, compiled
	trustedProxies []netip.Prefix // TrustedProxies, parsed
	now            func() time.Time
	log            *slog.Logger

	keys    *keyCache
	headers headerCache // validated JWS headers, by encoded form
	tokens  *tokenCache // nil when disabled

	accepts                []TokenType                               // AcceptsToken, normalised
	machine                *machineVerifier                          // nil unless an opaque machine type is accepted
	backendBudget          *budget.Limiter                           // every Backend API call a request can cause
	refusedNonces          *budget.Recent[string, struct{}]          // handshake nonces the Backend API refused lately
	failedRefreshes        *budget.Recent[[sha256.Size]byte, string] // refreshes that failed lately, and why
	bearerChallenge        string                                    // WWW-Authenticate without a token
	bearerChallengeInvalid string                                    // WWW-Authenticate for a refused token

	csrf *http.CrossOriginProtection // for requests signed in by the cookie

	routes routePolicy
	signIn *url.URL // nil: no redirects
	signUp *url.URL // for RedirectToSignUp; nil: none
	// signInTasks and signUpTasks are where a pending session goes
	// instead (<page>/tasks); nil: the page itself.
	signInTasks, signUpTasks *url.URL

	warnedWebhook onceFlag
	warnings      warnings
	responses     responseSet
	users         *userCache      // nil without a secret key
	templates     *templateTokens // nil without a secret key
}

// Configuration errors returned by New. Their text says how to fix them.
var (
	ErrNoKeySource    = errors.New("clerkauth: no way to verify tokens: set CLERK_PUBLISHABLE_KEY (Dashboard → API keys), CLERK_JWT_KEY (the PEM public key), CLERK_JWT_ISSUER_DOMAIN or CLERK_SECRET_KEY")
	ErrBothRouteLists = errors.New("clerkauth: set PublicRoutes or ProtectedRoutes, not both: with PublicRoutes everything else is protected, with ProtectedRoutes everything else is public")
)

// DefaultClockSkew is ClockSkew's default, @clerk/backend's
// clockSkewInMs: a token is accepted up to this long after its exp.
const DefaultClockSkew = 5 * time.Second

// Defaults, applied once by Config.normalized.
const (
	// Clerk rotates instance keys rarely and announces them in the JWKS
	// ahead of use, so an hour between background refreshes is plenty; an
	// unknown kid triggers an earlier fetch, limited by the cool-down.
	defaultKeyRefreshInterval = time.Hour
	defaultKeyFetchCoolDown   = 10 * time.Second
	defaultClerkTimeout       = 5 * time.Second
	// defaultTokenCacheSize bounds the verified-token cache: at ~2 KiB a
	// token, 10,000 entries are ~20 MiB at worst.
	defaultTokenCacheSize = 10_000
	// A user object changes rarely, and a page that calls CurrentUser
	// several times (or many pages at once) should cost one Backend API
	// request, not one each. Webhooks keep long-lived copies in sync; this
	// cache only absorbs bursts.
	defaultUserCacheTTL = 30 * time.Second
	// Machine tokens: a short cache keeps a revoked key's grace period
	// short; the budget keeps a flood of invented keys from becoming a
	// flood of Backend API calls, while a real client's first request with
	// a new key (one call, then cached) never notices it.
	defaultMachineTokenCacheTTL  = 10 * time.Second
	defaultBackendAPIRate        = 50
	defaultBackendAPIRateDev     = 5
	defaultBackendAPIConcurrency = 16
)

// normalized returns cfg with every default applied and every list and key
// trimmed. New stores only the result, so that each default is applied in
// exactly one place and everything after reads the effective values.
func (cfg Config) normalized() Config {
	cfg.SecretKey = strings.TrimSpace(cfg.SecretKey)
	cfg.PublishableKey = strings.TrimSpace(cfg.PublishableKey)
	cfg.JWTKey = strings.TrimSpace(cfg.JWTKey)
	cfg.IssuerDomain = strings.TrimSpace(cfg.IssuerDomain)
	cfg.SignInURL = strings.TrimSpace(cfg.SignInURL)
	cfg.SignUpURL = strings.TrimSpace(cfg.SignUpURL)
	cfg.ProxyURL = strings.TrimSpace(cfg.ProxyURL)
	cfg.Domain = strings.TrimSpace(cfg.Domain)
	cfg.Audience = nonEmpty(cfg.Audience)
	cfg.AuthorizedParties = nonEmpty(cfg.AuthorizedParties)
	cfg.PublicRoutes = nonEmpty(cfg.PublicRoutes)
	cfg.ProtectedRoutes = nonEmpty(cfg.ProtectedRoutes)
	switch {
	case cfg.ClockSkew == 0:
		cfg.ClockSkew = DefaultClockSkew
	case cfg.ClockSkew < 0:
		cfg.ClockSkew = 0
	}
	cfg.APIURL = strings.TrimRight(cmp.Or(strings.TrimSpace(cfg.APIURL), clerk.APIURL), "/")
	cfg.KeyRefreshInterval = positiveOr(cfg.KeyRefreshInterval, defaultKeyRefreshInterval)
	cfg.KeyFetchCoolDown = positiveOr(cfg.KeyFetchCoolDown, defaultKeyFetchCoolDown)
	cfg.ClerkTimeout = positiveOr(cfg.ClerkTimeout, defaultClerkTimeout)
	if cfg.TokenCacheSize == 0 {
		cfg.TokenCacheSize = defaultTokenCacheSize // negative: off
	}
	if cfg.UserCacheTTL == 0 {
		cfg.UserCacheTTL = defaultUserCacheTTL // negative: off
	}
	cfg.MachineSecretKey = strings.TrimSpace(cfg.MachineSecretKey)
	if len(cfg.AcceptsToken) == 0 {
		cfg.AcceptsToken = []TokenType{SessionToken}
	}
	if cfg.MachineTokenCacheTTL == 0 {
		cfg.MachineTokenCacheTTL = defaultMachineTokenCacheTTL // negative: off
	}
	cfg.BackendAPIConcurrency = positiveOr(cfg.BackendAPIConcurrency, defaultBackendAPIConcurrency)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: cfg.ClerkTimeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

func positiveOr[T time.Duration | int](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// New validates cfg and builds an Auth. Every misconfiguration is reported
// here, with the fix in the message, rather than as puzzling 401s later.
func New(cfg Config) (*Auth, error) {
	cfg = cfg.normalized()
	a := &Auth{cfg: cfg, now: cfg.Now, log: cfg.Logger, rules: claimRules{skew: cfg.ClockSkew}, responses: buildResponses()}
	for _, step := range []func(*Auth) error{
		(*Auth).setInstance,
		(*Auth).setBackendBudget,
		(*Auth).setKeySource,
		(*Auth).setClaimRules,
		(*Auth).setRoutes,
		(*Auth).setSignIn,
		(*Auth).setSatellite,
		(*Auth).setOrganizationSync,
		(*Auth).setMachineTokens,
	} {
		if err := step(a); err != nil {
			return nil, err
		}
	}
	if cfg.TokenCacheSize > 0 {
		a.tokens = newTokenCache(cfg.TokenCacheSize)
	}
	if cfg.SecretKey != "" {
		a.users = newUserCache(a)
		a.templates = newTemplateTokens(a)
	}
	return a, nil
}

// setInstance reads the keys: which instance, which issuer, which cookie.
func (a *Auth) setInstance() error {
	cfg := &a.cfg
	var pkLive, skLive bool
	if cfg.SecretKey != "" {
		live, err := ParseSecretKey(cfg.SecretKey)
		if err != nil {
			return err
		}
		skLive = live
		a.devInstance = !live
	}
	if cfg.PublishableKey != "" {
		host, live, err := ParsePublishableKey(cfg.PublishableKey)
		if err != nil {
			return err
		}
		pkLive = live
		a.frontendAPI = host
		a.rules.issuer = "https://" + host
		a.cookieSuffix = cookieSuffix(cfg.PublishableKey)
		a.cookieNames = newCookieNames(a.cookieSuffix)
		a.cookieSuffixed = "__session_" + a.cookieSuffix
		a.development = !live
		a.devInstance = a.devInstance || !live
		a.frontendAPIBase = "https://" + host
		if cfg.SecretKey != "" && pkLive != skLive {
			return fmt.Errorf("clerkauth: CLERK_SECRET_KEY is a %s key but CLERK_PUBLISHABLE_KEY is a %s key; use keys from the same instance (a mismatch causes silent failures)", instanceType(skLive), instanceType(pkLive))
		}
	}
	if cfg.ProxyURL != "" {
		proxy, err := normalizeProxyURL(cfg.ProxyURL)
		if err != nil {
			return err
		}
		a.frontendAPIBase = proxy
		if !strings.HasPrefix(proxy, "/") {
			a.rules.alsoIssuers = append(a.rules.alsoIssuers, proxy)
			if u, err := url.Parse(proxy); err == nil {
				a.proxyHost = u.Hostname()
			}
		}
	}
	trusted, err := parseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return err
	}
	a.trustedProxies = trusted
	if cfg.IssuerDomain != "" {
		iss, err := normalizeIssuer(cfg.IssuerDomain)
		if err != nil {
			return err
		}
		a.rules.issuer = iss
	}
	return nil
}

// setBackendBudget builds the one budget every Backend API call that a
// request can cause goes through. Its default rate is a share of the
// instance's limit, which is ten times lower on development instances.
func (a *Auth) setBackendBudget() error {
	cfg := &a.cfg
	if cfg.BackendAPIRate <= 0 {
		cfg.BackendAPIRate = defaultBackendAPIRate
		if a.devInstance {
			cfg.BackendAPIRate = defaultBackendAPIRateDev
		}
	}
	a.backendBudget = budget.New(cfg.BackendAPIRate, cfg.BackendAPIConcurrency, a.now)
	a.refusedNonces = budget.NewRecent[string, struct{}](maxRecentFailures, recentNonceTTL, a.now)
	a.failedRefreshes = budget.NewRecent[[sha256.Size]byte, string](maxRecentFailures, recentRefreshTTL, a.now)
	return nil
}

// setKeySource picks where verification keys come from: the PEM key, the
// issuer's JWKS, or the Backend API, in that order of preference.
func (a *Auth) setKeySource() error {
	cfg := &a.cfg
	switch {
	case cfg.JWTKey != "":
		key, err := ParseJWTKey(cfg.JWTKey)
		if err != nil {
			return err
		}
		a.keys = staticKeyCache(key)
	case a.rules.issuer != "":
		a.keys = a.newKeyCache(jwksURLFetcher(cfg.HTTPClient, a.rules.issuer+"/.well-known/jwks.json"), a.rules.issuer)
	case cfg.SecretKey != "":
		a.keys = a.newKeyCache(backendAPIFetcher(cfg.HTTPClient, cfg.APIURL, cfg.SecretKey), cfg.APIURL)
	default:
		return ErrNoKeySource
	}
	return nil
}

// setClaimRules prepares the aud and azp checks.
func (a *Auth) setClaimRules() error {
	a.rules.audience = a.cfg.Audience
	for _, p := range a.cfg.AuthorizedParties {
		u, err := url.Parse(p)
		if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("clerkauth: authorized party %q is not an origin; write it as scheme://host[:port], e.g. https://app.example.com", redact.URL(p))
		}
		// Clerk emits azp as an origin as browsers serialize it: lower
		// case, no trailing slash, no default port.
		a.rules.parties = append(a.rules.parties, canonicalOrigin(u))
	}
	csrf, err := newCrossOriginProtection(a.rules.parties)
	a.csrf = csrf
	return err
}

// setRoutes compiles the route policy.
func (a *Auth) setRoutes() error {
	cfg := &a.cfg
	if len(cfg.PublicRoutes) > 0 && len(cfg.ProtectedRoutes) > 0 {
		return ErrBothRouteLists
	}
	var err error
	if len(cfg.ProtectedRoutes) > 0 {
		a.routes.protected, err = NewRouteMatcher(cfg.ProtectedRoutes...)
	} else {
		a.routes.public, err = NewRouteMatcher(cfg.PublicRoutes...)
	}
	return err
}

// setSignIn resolves where signed-out browsers are sent (and where
// RedirectToSignUp sends them), and refuses a page that is itself
// protected (a redirect loop).
func (a *Auth) setSignIn() (err error) {
	if a.signIn, err = a.page("SignInURL", a.cfg.SignInURL, "sign-in"); err != nil {
		return err
	}
	if a.signUp, err = a.page("SignUpURL", a.cfg.SignUpURL, "sign-up"); err != nil {
		return err
	}
	a.signInTasks, a.signUpTasks = a.tasksPage(a.signIn), a.tasksPage(a.signUp)
	return nil
}

// setMachineTokens checks AcceptsToken and prepares what each accepted
// type needs: the Backend API verifier for opaque tokens, and the OAuth
// resource metadata that 401s point OAuth clients to.
func (a *Auth) setMachineTokens() error {
	cfg := &a.cfg
	for _, t := range cfg.AcceptsToken {
		switch {
		case t != SessionToken && !isMachineType(t):
			return fmt.Errorf("clerkauth: AcceptsToken lists %q; the token types are SessionToken, APIKey, M2MToken and OAuthToken", t)
		case (t == APIKey || t == OAuthToken) && cfg.SecretKey == "":
			return fmt.Errorf("clerkauth: AcceptsToken lists %s, which the Backend API verifies with the secret key; set CLERK_SECRET_KEY (Dashboard → API keys)", t)
		case t == M2MToken && cfg.SecretKey == "" && cfg.MachineSecretKey == "":
			return errors.New("clerkauth: AcceptsToken lists m2m_token, which the Backend API verifies with a secret key; set CLERK_MACHINE_SECRET_KEY (Dashboard → Machines) or CLERK_SECRET_KEY")
		}
		if !slices.Contains(a.accepts, t) {
			a.accepts = append(a.accepts, t)
		}
	}
	a.bearerChallenge, a.bearerChallengeInvalid = "Bearer", `Bearer error="invalid_token"`
	if slices.Contains(a.accepts, OAuthToken) && a.rules.issuer != "" {
		// RFC 9728: an OAuth client that gets a 401 finds the
		// authorization server through the resource metadata.
		meta := `Bearer resource_metadata="` + a.rules.issuer + `/.well-known/oauth-protected-resource"`
		a.bearerChallenge, a.bearerChallengeInvalid = meta, meta+`, error="invalid_token"`
	}
	if slices.ContainsFunc(a.accepts, isMachineType) {
		a.machine = newMachineVerifier(a)
	}
	return nil
}

// warnBadMachineKey tells the operator, loudly, that the Backend API
// refused our key: every machine token is answered 503 until it is fixed.
func (a *Auth) warnBadMachineKey(t TokenType) {
	env := EnvSecretKey
	if t == M2MToken && a.cfg.MachineSecretKey != "" {
		env = EnvMachineSecretKey
	}
	a.warn(context.Background(), slog.LevelError, "clerkauth: the Backend API refused our secret key while verifying a "+string(t)+"; every such token is answered 503 until "+env+" is fixed", "token_type", string(t))
}

// page parses a configured sign-in or sign-up page, or derives the Account
// Portal's from the publishable key; nil when there is neither.
func (a *Auth) page(field, configured, portalPath string) (*url.URL, error) {
	page := configured
	if page == "" {
		page = accountPortal(a.frontendAPI, portalPath)
	}
	if page == "" {
		return nil, nil
	}
	u, err := url.Parse(page)
	if err != nil || (u.Scheme != "" && u.Scheme != "https" && u.Scheme != "http") || (u.Host == "" && !strings.HasPrefix(u.Path, "/")) ||
		(u.Host != "" && u.Scheme == "") || strings.Contains(page, `\`) {
		// "//host/…" and backslashes: browsers read them as another host,
		// which a reader of the configuration would not expect.
		return nil, fmt.Errorf("clerkauth: %s %q must be an absolute URL or a path starting with /", field, redact.URL(configured))
	}
	if u.User != nil {
		// Every signed-out browser is redirected there: the credential
		// would be handed to all of them.
		return nil, fmt.Errorf("clerkauth: %s %q carries a user name or password, which every redirected browser would see; remove it", field, redact.URL(configured))
	}
	if u.Host == "" && a.routes.protectsPath(u.EscapedPath()) {
		return nil, fmt.Errorf("clerkauth: %s %s is a protected route, so signed-out browsers would be redirected in a loop; add %q to PublicRoutes", field, u.Path, strings.TrimSuffix(u.Path, "/")+"(.*)")
	}
	return u, nil
}

func (a *Auth) newKeyCache(fetch keyFetcher, server string) *keyCache {
	host := ""
	if u, err := url.Parse(server); err == nil {
		host = u.Host
	}
	return &keyCache{
		fetch:    fetch,
		host:     host,
		hook:     a.cfg.Hooks.KeyFetch,
		refresh:  a.cfg.KeyRefreshInterval,
		coolDown: a.cfg.KeyFetchCoolDown,
		timeout:  a.cfg.ClerkTimeout,
		now:      a.now,
		log:      a.log,
	}
}

// Environment variables read by ConfigFromEnv and NewFromEnv. The
// NEXT_PUBLIC_ variants let a Go service share a Next.js app's .env file.
const (
	EnvSecretKey         = "CLERK_SECRET_KEY"
	EnvPublishableKey    = "CLERK_PUBLISHABLE_KEY"
	EnvJWTKey            = "CLERK_JWT_KEY"
	EnvIssuerDomain      = "CLERK_JWT_ISSUER_DOMAIN"
	EnvSignInURL         = "CLERK_SIGN_IN_URL"
	EnvSignUpURL         = "CLERK_SIGN_UP_URL"
	EnvAuthorizedParties = "CLERK_AUTHORIZED_PARTIES"
	EnvAPIURL            = "CLERK_API_URL"
	EnvMachineSecretKey  = "CLERK_MACHINE_SECRET_KEY"
	EnvProxyURL          = "CLERK_PROXY_URL"
	EnvIsSatellite       = "CLERK_IS_SATELLITE"
	EnvDomain            = "CLERK_DOMAIN"
)

// ConfigFromEnv reads the Clerk environment variables into a Config, so
// that routes and other fields can be added before calling New.
func ConfigFromEnv() Config { return ConfigFromLookup(os.Getenv) }

// ConfigFromLookup is ConfigFromEnv with another source of variables (a
// map in tests, a secrets manager): getenv returns "" for unset names.
func ConfigFromLookup(getenv func(string) string) Config {
	get := func(names ...string) string {
		for _, n := range names {
			if v := strings.TrimSpace(getenv(n)); v != "" {
				return v
			}
		}
		return ""
	}
	cfg := Config{
		SecretKey:      get(EnvSecretKey),
		PublishableKey: get(EnvPublishableKey, "NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY"),
		JWTKey:         strings.ReplaceAll(get(EnvJWTKey), `\n`, "\n"), // .env files often hold the PEM on one line
		IssuerDomain:   get(EnvIssuerDomain),
		SignInURL:      get(EnvSignInURL, "NEXT_PUBLIC_CLERK_SIGN_IN_URL"),
		SignUpURL:      get(EnvSignUpURL, "NEXT_PUBLIC_CLERK_SIGN_UP_URL"),
		APIURL:         get(EnvAPIURL),

		MachineSecretKey: get(EnvMachineSecretKey),
		ProxyURL:         get(EnvProxyURL, "NEXT_PUBLIC_CLERK_PROXY_URL"),
		IsSatellite:      envTrue(get(EnvIsSatellite, "NEXT_PUBLIC_CLERK_IS_SATELLITE")),
		Domain:           get(EnvDomain, "NEXT_PUBLIC_CLERK_DOMAIN"),
	}
	for _, p := range strings.Split(get(EnvAuthorizedParties), ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.AuthorizedParties = append(cfg.AuthorizedParties, p)
		}
	}
	return cfg
}

// envTrue reads a boolean environment variable as Clerk's isTruthy does:
// "true" or "false" in any case, else an integer prefix above zero.
func envTrue(v string) bool {
	switch strings.ToLower(v) {
	case "true":
		return true
	case "false":
		return false
	}
	return jsnum.ParseInt(v) > 0
}

// NewFromEnv is New(ConfigFromEnv()): every route is protected. To declare
// public routes, use ConfigFromEnv, set PublicRoutes, and call New.
func NewFromEnv() (*Auth, error) { return New(ConfigFromEnv()) }

// ParsePublishableKey decodes a publishable key ("pk_test_…"/"pk_live_…"
// followed by base64 of "<frontend-api-host>$") and returns the Frontend
// API host and whether the key is a production (live) key.
func ParsePublishableKey(pk string) (host string, live bool, err error) {
	bad := func(why string) (string, bool, error) {
		return "", false, fmt.Errorf("clerkauth: CLERK_PUBLISHABLE_KEY is malformed (%s); copy it again from Dashboard → API keys", why)
	}
	var rest string
	switch {
	case strings.HasPrefix(pk, "pk_test_"):
		rest = pk[len("pk_test_"):]
	case strings.HasPrefix(pk, "pk_live_"):
		rest, live = pk[len("pk_live_"):], true
	case strings.HasPrefix(pk, "sk_"):
		return bad("it is a secret key; never ship a secret key as the publishable key")
	default:
		return bad(`it must start with "pk_test_" or "pk_live_"`)
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(rest, "="))
	}
	if err != nil {
		return bad("not base64")
	}
	s := string(raw)
	if !strings.HasSuffix(s, "$") {
		return bad(`the decoded value does not end with "$"`)
	}
	host = strings.TrimSuffix(s, "$")
	if !validHost(host) {
		return bad("the decoded Frontend API host is not a host name")
	}
	return host, live, nil
}

func validHost(h string) bool {
	if h == "" || len(h) > 253 || strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") || strings.Contains(h, "..") {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// ParseSecretKey checks a secret key as New does (CLERK_SECRET_KEY,
// "sk_test_…" or "sk_live_…") and reports whether it is a production
// (live) instance's. Its errors say what to fix and never quote the key.
func ParseSecretKey(sk string) (live bool, err error) {
	switch {
	case strings.HasPrefix(sk, "sk_test_") && len(sk) > len("sk_test_"):
		return false, nil
	case strings.HasPrefix(sk, "sk_live_") && len(sk) > len("sk_live_"):
		return true, nil
	case strings.HasPrefix(sk, "pk_"):
		return false, errors.New("clerkauth: CLERK_SECRET_KEY holds a publishable key; copy the secret key (sk_test_… or sk_live_…) from Dashboard → API keys")
	default:
		return false, errors.New(`clerkauth: CLERK_SECRET_KEY is malformed: it must start with "sk_test_" or "sk_live_" (Dashboard → API keys)`)
	}
}

func instanceType(live bool) string {
	if live {
		return "production (live)"
	}
	return "development (test)"
}

// ParseJWTKey parses the instance's PEM public key (CLERK_JWT_KEY). It
// accepts the PEM with real or escaped ("\n") line breaks.
func ParseJWTKey(p string) (*rsa.PublicKey, error) {
	p = strings.ReplaceAll(strings.TrimSpace(p), `\n`, "\n")
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return nil, errors.New("clerkauth: CLERK_JWT_KEY is not a PEM block; copy the whole key, with its -----BEGIN PUBLIC KEY----- and -----END PUBLIC KEY----- lines, from Dashboard → API keys")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("clerkauth: CLERK_JWT_KEY is a %q PEM block; it must be the instance's PUBLIC KEY (never a private key)", block.Type)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, errors.New("clerkauth: CLERK_JWT_KEY does not hold a valid public key; copy it again from Dashboard → API keys")
	}
	pub, ok := key.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("clerkauth: CLERK_JWT_KEY is not an RSA key; Clerk signs session tokens with RS256")
	}
	if pub.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("clerkauth: CLERK_JWT_KEY is a %d-bit RSA key; at least %d bits are required", pub.N.BitLen(), minRSABits)
	}
	return pub, nil
}

// normalizeIssuer turns "clerk.example.com" or "https://clerk.example.com/"
// into "https://clerk.example.com". Plain http is accepted only for
// loopback hosts, for local test issuers.
// normalizeProxyURL checks ProxyURL: an https URL (http only on
// loopback) without query or fragment, or a path; no trailing slash.
func normalizeProxyURL(p string) (string, error) {
	p = strings.TrimRight(p, "/")
	bad := fmt.Errorf("clerkauth: CLERK_PROXY_URL %q must be an https URL such as https://app.example.com/__clerk (without a user name or password), or a path such as /__clerk", redact.URL(p))
	if strings.HasPrefix(p, "/") {
		if strings.HasPrefix(p, "//") || strings.ContainsAny(p, "?#\\") {
			return "", bad
		}
		return p, nil
	}
	u, err := url.Parse(p)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil ||
		!(u.Scheme == "https" || u.Scheme == "http" && isLoopback(u.Hostname())) {
		return "", bad
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath(), nil
}

func normalizeIssuer(d string) (string, error) {
	d = strings.TrimRight(strings.TrimSpace(d), "/")
	if !strings.Contains(d, "://") {
		d = "https://" + d
	}
	u, err := url.Parse(d)
	if err != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("clerkauth: CLERK_JWT_ISSUER_DOMAIN %q must be the Frontend API URL, e.g. https://clerk.example.com or https://verb-noun-00.clerk.accounts.dev", redact.URL(d))
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return "", fmt.Errorf("clerkauth: CLERK_JWT_ISSUER_DOMAIN %q must use https (http only for localhost test issuers)", redact.URL(d))
	}
	return u.Scheme + "://" + u.Host, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// cookieSuffix is Clerk's per-instance session-cookie suffix: the first 8
// characters of the URL-safe base64 of SHA-1(publishable key). SHA-1 is
// Clerk's choice for naming a cookie, not used for any security decision.
func cookieSuffix(pk string) string {
	sum := sha1.Sum([]byte(pk))
	return base64.URLEncoding.EncodeToString(sum[:])[:8]
}

// accountPortal derives an Account Portal page ("sign-in", "sign-up") from
// the Frontend API host, as Clerk's SDKs do: clerk.example.com →
// accounts.example.com, x.clerk.accounts.dev → x.accounts.dev.
func accountPortal(frontendAPI, page string) string {
	host := frontendAPI
	switch {
	case strings.Contains(host, ".clerk.accounts"):
		host = strings.Replace(host, ".clerk.accounts", ".accounts", 1)
	case strings.HasPrefix(host, "clerk."):
		host = "accounts." + strings.TrimPrefix(host, "clerk.")
	default:
		return ""
	}
	return "https://" + host + "/" + page
}

// isClerkIssuer accepts the issuer forms of Clerk instances, for the case
// where no publishable key or issuer domain says which instance to expect
// (JWTKey or SecretKey only): https://clerk.<domain> for production and
// https://<slug>.clerk.accounts.dev (or Clerk's other development
// domains) for development.
func isClerkIssuer(iss string) bool {
	host, ok := strings.CutPrefix(iss, "https://")
	if !ok || !validHost(host) {
		return false
	}
	return strings.HasPrefix(host, "clerk.") || strings.Contains(host, ".clerk.accounts")
}

func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
