package clerkauth

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/clerkauth/clerkauth/internal/redact"
	"github.com/clerkauth/clerkauth/internal/urlform"
)

// This file is the multi-domain and multi-tenant part of the cookie side:
// a satellite domain syncing its session with the primary domain (and
// the primary answering a development satellite's sync), and the
// organization a URL names (organization sync). Both are steps of the one
// decision in handshake.go.

// OrganizationSync is Clerk's organizationSyncOptions: patterns, in
// createRouteMatcher's syntax, of the paths that name an organization or
// the personal account. When a signed-in page load's path names another
// organization than the session's active one, the handshake asks the
// Frontend API to activate it (active-organization-mismatch); the
// Frontend API does so only for a member.
type OrganizationSync struct {
	// OrganizationPatterns name an organization by its id (":id", e.g.
	// "/orgs/:id/(.*)") or its slug (":slug", e.g. "/team/:slug",
	// "/team/:slug/(.*)"). The first pattern that matches decides; one
	// without an id or slug parameter names nothing.
	OrganizationPatterns []string
	// PersonalAccountPatterns name the personal account (no active
	// organization), e.g. "/me", "/me/(.*)". They are tried after
	// OrganizationPatterns.
	PersonalAccountPatterns []string
}

// Clerk's names for the multi-domain steps.
const (
	hsSatelliteNeedsSyncing    = "satellite-needs-syncing"
	hsPrimaryRespondsToSyncing = "primary-responds-to-syncing"
	hsActiveOrgMismatch        = "active-organization-mismatch"
	// querySynced is __clerk_synced: "false" asks a satellite to sync
	// (the way back from sign-in on the primary carries it), "true" says
	// the sync is done (it stops a loop).
	querySynced      = "__clerk_synced"
	syncedNeedsSync  = "false"
	syncedCompleted  = "true"
	queryRedirectURL = "__clerk_redirect_url"

	satelliteLoopMessage = "Clerk: Satellite-domain authentication resulted in an infinite redirect loop. Check that this request is using a configured primary or satellite domain for the production instance. For preview deployments, use a development/staging Clerk instance or a supported configured preview-domain setup."
	orgLoopMessage       = "Clerk: Organization activation handshake loop detected. This is likely due to an invalid organization ID or slug. Skipping organization activation."
)

// reasonActiveOrganizationMismatch is the handshake's reason when a URL
// names another organization. It is never a refusal's: a request that
// cannot go through the handshake stays signed in, as in Clerk.
const reasonActiveOrganizationMismatch Reason = hsActiveOrgMismatch

// setSatellite checks the satellite settings as Clerk's
// assertSignInUrlExists, assertProxyUrlOrDomain and
// assertSignInUrlFormatAndOrigin do (here once, in New, rather than on
// every request), and works out a production satellite's Frontend API:
// clerk.<Domain>, where its handshakes go and whose tokens it accepts.
func (a *Auth) setSatellite() error {
	cfg := &a.cfg
	a.cookieIssuer = a.rules.issuer
	if !cfg.IsSatellite {
		if cfg.Domain != "" || cfg.SatelliteAutoSync {
			return errors.New("clerkauth: Domain (CLERK_DOMAIN) and SatelliteAutoSync configure a satellite domain; set IsSatellite (CLERK_IS_SATELLITE=true) on the satellite, or remove them from the primary's configuration")
		}
		return nil
	}
	if cfg.PublishableKey == "" {
		return errors.New("clerkauth: a satellite needs CLERK_PUBLISHABLE_KEY: its session cookies and its sync with the primary are the publishable key's instance's")
	}
	if cfg.Domain == "" && cfg.ProxyURL == "" {
		return errors.New("clerkauth: a satellite needs its Domain (CLERK_DOMAIN, e.g. satellite.example.com) or a ProxyURL (CLERK_PROXY_URL): its Frontend API is reached through one of them")
	}
	if a.devInstance && cfg.SignInURL == "" {
		return errors.New("clerkauth: a satellite of a development instance needs SignInURL (CLERK_SIGN_IN_URL): the primary's sign-in page, e.g. https://primary.example.com/sign-in, where it sends browsers to sync")
	}
	a.satellite = true
	if cfg.Domain != "" {
		host, err := satelliteDomain(cfg.Domain)
		if err != nil {
			return err
		}
		a.satelliteHost = host
	} else if u, err := url.Parse(a.frontendAPIBase); err == nil && u.Host != "" {
		a.satelliteHost = strings.ToLower(u.Host) // an absolute ProxyURL is on the satellite's domain
	}
	if cfg.SignInURL != "" {
		if a.signIn == nil || a.signIn.Host == "" {
			return fmt.Errorf("clerkauth: a satellite's SignInURL %q must be an absolute URL on the primary domain, e.g. https://primary.example.com/sign-in", redact.URL(cfg.SignInURL))
		}
		if a.satelliteHost != "" && canonicalHost(a.signIn.Scheme, a.signIn.Host) == canonicalHost("https", a.satelliteHost) {
			return fmt.Errorf("clerkauth: a satellite's SignInURL %q is on the satellite's own domain; it must be the primary's sign-in page (users sign in on the primary)", redact.URL(cfg.SignInURL))
		}
	}
	if !a.development && cfg.Domain != "" {
		fapi := "https://clerk." + a.satelliteHost
		a.cookieIssuer = fapi
		a.rules.alsoIssuers = append(a.rules.alsoIssuers, fapi)
		if cfg.ProxyURL == "" {
			a.frontendAPIBase = fapi
		}
	}
	return nil
}

// satelliteDomain reads Domain: a host name with an optional port, or an
// https URL naming one.
func satelliteDomain(d string) (string, error) {
	d = strings.TrimRight(d, "/")
	bad := fmt.Errorf("clerkauth: CLERK_DOMAIN %q must be the satellite's host name, e.g. satellite.example.com", redact.URL(d))
	if strings.Contains(d, "://") {
		u, err := url.Parse(d)
		if err != nil || u.Scheme != "https" && u.Scheme != "http" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
			return "", bad
		}
		d = u.Host
	}
	if d == "" || !validAuthority(d) {
		return "", bad
	}
	return strings.ToLower(d), nil
}

// syncDomains is Clerk's multi-domain step, taken before the cookies are
// read for a session: a satellite's page load syncs with the primary when
// it has no session here yet (or comes back from signing in there), and a
// development primary sends a satellite that asked back with its dev
// browser token. ok is false when the request goes on to the rest of the
// decision.
func (a *Auth) syncDomains(c *cookieRequest) (state RequestState, ok bool) {
	if a.satellite {
		return a.syncSatellite(c)
	}
	if a.development {
		return a.answerSatelliteSync(c)
	}
	return RequestState{}, false
}

func (a *Auth) syncSatellite(c *cookieRequest) (RequestState, bool) {
	if c.r.Method != http.MethodGet || headerValue(c.r.Header, "Sec-Fetch-Dest") != "document" {
		return RequestState{}, false
	}
	synced := c.query.Get(querySynced)
	if synced == syncedCompleted {
		return RequestState{}, false
	}
	needsSync := synced == syncedNeedsSync
	hasCookies := c.session != "" || c.clientUAT != 0
	switch {
	case !a.cfg.SatelliteAutoSync && !hasCookies && !needsSync:
		// A browser that never signed in here: no round trip to the
		// primary on every first visit (Clerk's satelliteAutoSync off).
		return signedOutState(newError(ReasonSessionTokenMissing, "a satellite's page load without Clerk cookies; not synced with the primary, as SatelliteAutoSync is off"), nil), true
	case hasCookies && !needsSync:
		return RequestState{}, false
	}
	why := newError(ReasonSatelliteNeedsSyncing, "a satellite's page load syncs with the primary first")
	if !a.development {
		return a.maybeRedirect(c, hsSatelliteNeedsSyncing, why, ""), true
	}
	// Development: through the primary's sign-in page, which sends the
	// browser back with its dev browser token (answerSatelliteSync).
	pairs := append(urlform.Parse(a.signIn.RawQuery), urlform.Pair{K: queryRedirectURL, V: href(c.url(), addressedQuery(c.url().RawQuery))})
	return a.maybeRedirect(c, hsSatelliteNeedsSyncing, why, hrefWithFragment(a.signIn, urlform.Serialize(pairs))), true
}

// answerSatelliteSync is a development primary's answer to a satellite
// that sent the browser to sync (?__clerk_redirect_url=<satellite URL>):
// back there, with the dev browser token and __clerk_synced=true. Beyond
// Clerk, the satellite's origin must be in AuthorizedParties: any other
// would be an open redirect that hands the dev browser token (the
// browser's development session) to whichever site asked. Such a
// parameter is ignored.
func (a *Auth) answerSatelliteSync(c *cookieRequest) (RequestState, bool) {
	target := c.query.Get(queryRedirectURL)
	if target == "" {
		return RequestState{}, false
	}
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.User != nil ||
		!slices.Contains(a.rules.parties, canonicalOrigin(u)) {
		a.warn(c.r.Context(), slog.LevelWarn, "clerkauth: ignored a satellite's sync request (__clerk_redirect_url) to an origin that is not in AuthorizedParties; list your satellites' origins there")
		return RequestState{}, false
	}
	pairs := urlform.Parse(u.RawQuery)
	if c.devBrowser != "" {
		pairs = append(pairs, urlform.Pair{K: cookieDevBrowser, V: c.devBrowser})
	}
	pairs = urlform.Set(pairs, querySynced, syncedCompleted)
	loc := hrefWithFragment(u, urlform.Serialize(pairs))
	return a.maybeRedirect(c, hsPrimaryRespondsToSyncing, newError(ReasonPrimaryRespondsToSyncing, "a satellite asked to sync; the browser goes back to it"), loc), true
}

// hrefWithFragment is href with u's fragment, as URL.toString() keeps it.
func hrefWithFragment(u *url.URL, rawQuery string) string {
	h := href(u, rawQuery)
	if u.Fragment != "" {
		h += "#" + u.EscapedFragment()
	}
	return h
}

// orgMatcher is OrganizationSync, compiled: Clerk's OrganizationMatcher.
type orgMatcher struct {
	orgs, personal []orgPattern
}

// orgPattern is one compiled pattern and which of its capture groups hold
// the id and the slug (0: none).
type orgPattern struct {
	re       *regexp.Regexp
	id, slug int
	// lead is the pattern's leading text when it is ASCII: a path that
	// does not start with it in some case cannot match (JavaScript's
	// case-insensitive matching maps no other character onto ASCII), so
	// most page loads are decided without the regular expression.
	lead string
}

// mayMatch is lead's test.
func (p *orgPattern) mayMatch(path string) bool {
	return len(path) >= len(p.lead) && strings.EqualFold(path[:len(p.lead)], p.lead)
}

// orgTarget is what a URL names: the personal account, or an
// organization by id or by slug.
type orgTarget struct {
	personal bool
	id, slug string
}

// setOrganizationSync compiles OrganizationSync's patterns.
func (a *Auth) setOrganizationSync() error {
	var err error
	if a.orgSync.orgs, err = compileOrgPatterns(a.cfg.OrganizationSync.OrganizationPatterns); err != nil {
		return err
	}
	a.orgSync.personal, err = compileOrgPatterns(a.cfg.OrganizationSync.PersonalAccountPatterns)
	return err
}

// compileOrgPatterns compiles patterns as path-to-regexp's match does for
// Clerk (case-insensitive, an optional trailing delimiter), keeping the
// capture groups of the :id and :slug parameters.
func compileOrgPatterns(patterns []string) ([]orgPattern, error) {
	var out []orgPattern
	for _, src := range nonEmpty(patterns) {
		parts, err := parsePattern(src)
		if err != nil {
			return nil, err
		}
		var p orgPattern
		if len(parts) > 0 && !parts[0].param && isASCII(parts[0].literal) {
			p.lead = parts[0].literal
		}
		group := 0
		for _, part := range parts {
			if !part.param || !part.deflt && part.pattern == "" {
				continue // literal text, or a group without a parameter
			}
			group++
			if part.name != "id" && part.name != "slug" {
				continue
			}
			if part.modifier == "*" || part.modifier == "+" {
				// Clerk would compare a list of segments with the active
				// organization: never equal, a handshake on every load.
				return nil, &PatternError{Pattern: src, Pos: part.pos, Msg: "an organization's :" + part.name + " cannot repeat (" + part.modifier + ")"}
			}
			if part.name == "id" {
				p.id = group
			} else {
				p.slug = group
			}
		}
		strict, err := buildRegexp(src, parts, false)
		if err != nil {
			return nil, err
		}
		if p.re, err = compileAnyCase(strict); err != nil {
			return nil, &PatternError{Pattern: src, Msg: "cannot compile: " + err.Error()}
		}
		out = append(out, p)
	}
	return out, nil
}

// target is Clerk's findTarget: the first organization pattern that
// matches the path and names an id (else a slug), else the personal
// account if a personal pattern matches.
func (m *orgMatcher) target(path string) (orgTarget, bool) {
	for _, p := range m.orgs {
		if !p.mayMatch(path) {
			continue
		}
		g := p.re.FindStringSubmatchIndex(path)
		if g == nil {
			continue
		}
		group := func(n int) string {
			if n == 0 || g[2*n] < 0 {
				return "" // no such parameter, or it did not take part
			}
			return path[g[2*n]:g[2*n+1]]
		}
		// Only the first matching pattern counts, as in Clerk's one
		// regular expression of alternatives.
		if id := group(p.id); id != "" {
			return orgTarget{id: id}, true
		}
		if slug := group(p.slug); slug != "" {
			return orgTarget{slug: slug}, true
		}
		break
	}
	for _, p := range m.personal {
		if p.mayMatch(path) && p.re.MatchString(path) {
			return orgTarget{personal: true}, true
		}
	}
	return orgTarget{}, false
}

// param is the handshake's organization_id for the target: its id or
// slug, or "" for the personal account.
func (t orgTarget) param() string { return cmp.Or(t.slug, t.id) }

// orgHandshakeParams appends organization_id to a handshake's
// parameters when the URL names an organization or the personal account,
// whatever the handshake's reason, as Clerk's buildRedirectToHandshake
// does.
func (a *Auth) orgHandshakeParams(params []urlform.Pair, u *url.URL) []urlform.Pair {
	if t, ok := a.orgSync.target(addressedPath(u)); ok {
		params = append(params, urlform.Pair{K: "organization_id", V: t.param()})
	}
	return params
}

// syncOrganization is Clerk's handleMaybeOrganizationSyncHandshake, for a
// page load signed in by its cookie: when the URL names another
// organization than the active one (or the personal account while one is
// active), the handshake asks the Frontend API to activate it. A request
// that cannot follow the handshake, or a third try in a row, stays signed
// in as it is.
func (a *Auth) syncOrganization(c *cookieRequest, id *Identity) (RequestState, bool) {
	if id.UserID == "" || len(a.orgSync.orgs)+len(a.orgSync.personal) == 0 || !handshakeEligible(c.r) {
		// A request that cannot follow the handshake stays as it is, so
		// its path is not even matched (an API's fetches, the most of them).
		return RequestState{}, false
	}
	t, ok := a.orgSync.target(addressedPath(c.r.URL)) // addressedURL's path is the request's
	if !ok {
		return RequestState{}, false
	}
	mismatch := t.personal && id.OrgID != "" ||
		t.slug != "" && t.slug != id.OrgSlug ||
		t.id != "" && t.id != id.OrgID
	if !mismatch {
		return RequestState{}, false
	}
	if c.redirectCount >= maxHandshakeRedirects {
		a.warn(c.r.Context(), slog.LevelWarn, orgLoopMessage)
		return RequestState{}, false
	}
	state := a.maybeRedirect(c, hsActiveOrgMismatch, newError(reasonActiveOrganizationMismatch, "the URL names another organization than the session's active one"), "")
	return state, state.Status == Handshake
}

// crossOriginNavigation is Clerk's shouldForceHandshakeForCrossDomain: a
// page load that came from another site, not from Clerk's own pages, on
// the first try.
func (a *Auth) crossOriginNavigation(c *cookieRequest) bool {
	if c.r.Method != http.MethodGet || headerValue(c.r.Header, "Sec-Fetch-Dest") != "document" || c.redirectCount != 0 {
		return false
	}
	ref := headerValue(c.r.Header, "Referer")
	if ref == "" {
		return false
	}
	ru, err := url.Parse(ref)
	if err != nil || ru.Scheme == "" || ru.Host == "" {
		return false
	}
	if u := c.url(); strings.EqualFold(ru.Scheme+"://"+ru.Host, u.Scheme+"://"+u.Host) {
		return false
	}
	host := ru.Hostname()
	if host == a.frontendAPI || host == a.proxyHost {
		return false
	}
	if a.development && (isDevAccountPortalHost(host)) {
		return false
	}
	if accounts := accountPortal(a.frontendAPI, ""); accounts != "" && strings.EqualFold(strings.TrimSuffix(accounts, "/"), ru.Scheme+"://"+ru.Host) {
		return false
	}
	return true
}

// isDevAccountPortalHost: Clerk's development Account Portal hosts.
func isDevAccountPortalHost(host string) bool {
	for _, s := range []string{".lcl.dev", ".lclstage.dev", ".lclclerk.com"} {
		if strings.HasPrefix(host, "accounts.") && strings.HasSuffix(host, s) {
			return true
		}
	}
	for _, s := range []string{".accounts.dev", ".accountsstage.dev", ".accounts.lclclerk.com"} {
		if strings.HasSuffix(host, s) && !strings.HasSuffix(host, ".clerk"+s) {
			return true
		}
	}
	return false
}
