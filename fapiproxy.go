package clerkauth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// This file is the Frontend API proxy: an http.Handler, mounted at the
// ProxyURL path, that forwards the browser's Frontend API calls to Clerk
// as @clerk/backend/proxy's clerkFrontendApiProxy (3.25.0) does. The
// request flow: check the path → bound the body → rewrite the request
// (fixed upstream, Clerk's headers, forwarded headers by the
// TrustedProxies policy) → stream the answer back (hop-by-hop headers
// dropped, a Location into the Frontend API pointed at the proxy).
//
// The threat it is built against: the proxy attaches the instance's
// secret key (Clerk-Secret-Key) to every request it forwards. The
// upstream URL is therefore fixed when the handler is built, from the
// publishable key alone, and the request can only choose the path and
// query below it, never the scheme or host.

// The Frontend API hosts Clerk's proxy forwards to, chosen by the
// publishable key's Frontend API host (@clerk/shared's PROD_FAPI_URL,
// STAGING_FAPI_URL, LOCAL_FAPI_URL and the suffix lists beside them).
// Every production and development instance is served by the first; the
// Frontend API tells instances apart by the secret key.
const (
	prodFrontendAPIURL    = "https://frontend-api.clerk.dev"
	stagingFrontendAPIURL = "https://frontend-api.clerkstage.dev"
	localFrontendAPIURL   = "https://frontend-api.lclclerk.com"
)

// Bounds of one proxied exchange.
const (
	// maxProxyRequestBytes bounds a request body. The largest requests
	// the Frontend API takes are profile and organization images
	// (multipart, at most 10 MB); every other call is a small form.
	maxProxyRequestBytes = 12 << 20
	// maxProxyResponseBytes bounds a response body. The largest answers
	// are clerk-js bundles and their chunks (a few MB, uncompressed
	// since the proxy asks for identity encoding, as Clerk's does); the
	// Frontend API's JSON is tens of kilobytes.
	maxProxyResponseBytes = 32 << 20
	// proxyExchangeTimeout bounds a whole exchange, the upload and the
	// download included, for a client on a slow link. The wait for the
	// Frontend API's answer once the request is sent is
	// Config.ClerkTimeout.
	proxyExchangeTimeout = 2 * time.Minute
)

// The error codes of the proxy's own answers, Clerk's ProxyErrorCode.
// proxy_configuration_error is never answered: a misconfiguration is an
// error of FrontendAPIProxy instead.
const (
	proxyPathMismatch  = "proxy_path_mismatch"
	proxyRequestFailed = "proxy_request_failed"
)

// Causes of a failed exchange, for the answer and the log.
var (
	errProxyTimeout          = errors.New("clerkauth: the Frontend API did not answer in time (Config.ClerkTimeout)")
	errProxyExchangeTimeout  = errors.New("clerkauth: the proxied exchange took longer than its limit")
	errProxyResponseTooLarge = errors.New("clerkauth: the Frontend API's answer is larger than the proxy's limit")
)

// FrontendAPIProxy returns the handler to mount at the path of
// Config.ProxyURL (for ProxyURL "/__clerk": mux.Handle("/__clerk/", h)),
// which forwards the browser's Frontend API calls to Clerk, as
// @clerk/backend/proxy's clerkFrontendApiProxy does. It needs the
// instance's PublishableKey (which names the Frontend API), SecretKey
// (which the Frontend API requires of a proxy, in Clerk-Secret-Key) and
// ProxyURL; Config.HTTPClient's Transport makes the calls.
//
// It is a method of Auth so that the proxy and the rest of the library
// read one Config: the same keys, the same proxy URL that handshakes are
// sent to, and the same TrustedProxies policy for X-Forwarded-* headers.
// Mount it outside Middleware (or list its path in PublicRoutes): a
// signed-out browser must reach the Frontend API to sign in.
//
// Every request path below the proxy path is forwarded, with that prefix
// removed, to the Frontend API; the upstream host is fixed here, and no
// request can change it. Requests carry Clerk-Proxy-Url (ProxyURL, or
// for a path the origin the browser addressed followed by it),
// Clerk-Secret-Key, X-Forwarded-Host, X-Forwarded-Proto and
// X-Forwarded-For. Where this handler differs from Clerk's (bounded
// bodies, timeouts, forwarded headers believed only from TrustedProxies,
// no dot segments), docs/proxy.md lists it.
func (a *Auth) FrontendAPIProxy() (http.Handler, error) {
	if a.cfg.PublishableKey == "" {
		return nil, errors.New("clerkauth: FrontendAPIProxy needs the publishable key, which names the Frontend API to forward to; set CLERK_PUBLISHABLE_KEY (Dashboard → API keys)")
	}
	upstream, _ := url.Parse(frontendAPIUpstream(a.frontendAPI))
	return a.frontendAPIProxy(upstream)
}

// frontendAPIUpstream is @clerk/backend's fapiUrlFromPublishableKey, from
// the Frontend API host the publishable key decodes to.
func frontendAPIUpstream(frontendAPI string) string {
	hasSuffix := func(suffixes ...string) bool {
		for _, s := range suffixes {
			if strings.HasSuffix(frontendAPI, s) {
				return true
			}
		}
		return false
	}
	switch {
	case strings.HasPrefix(frontendAPI, "clerk.") && hasSuffix(".lcl.dev", ".lclstage.dev", ".lclclerk.com"):
		return prodFrontendAPIURL // legacy development instances
	case hasSuffix(".lcl.dev", "lclstage.dev", ".lclclerk.com", ".accounts.lclclerk.com"):
		return localFrontendAPIURL
	case hasSuffix(".accountsstage.dev"):
		return stagingFrontendAPIURL
	}
	return prodFrontendAPIURL
}

// frontendAPIProxy builds the proxy to upstream (a scheme and host, the
// Frontend API's; a loopback fake in tests).
func (a *Auth) frontendAPIProxy(upstream *url.URL) (http.Handler, error) {
	switch {
	case a.cfg.SecretKey == "":
		return nil, errors.New("clerkauth: FrontendAPIProxy needs the secret key: the Frontend API accepts proxied requests only with the instance's secret key; set CLERK_SECRET_KEY (Dashboard → API keys)")
	case a.cfg.ProxyURL == "":
		return nil, errors.New(`clerkauth: FrontendAPIProxy needs Config.ProxyURL (CLERK_PROXY_URL), the URL or path it is mounted at, e.g. "/__clerk", so that handshakes and Clerk's front end use the proxy too`)
	}
	p := &frontendAPIProxy{
		auth:          a,
		upstream:      upstream,
		upstreamHost:  canonicalHost(upstream.Scheme, upstream.Host),
		secretKey:     a.cfg.SecretKey,
		headerTimeout: a.cfg.ClerkTimeout,
	}
	// a.frontendAPIBase is ProxyURL as New normalised it: a path, or an
	// absolute URL without a trailing slash.
	if proxy := a.frontendAPIBase; strings.HasPrefix(proxy, "/") {
		p.path = proxy
	} else {
		u, _ := url.Parse(proxy)
		p.path, p.proxyURL = u.EscapedPath(), proxy
	}
	transport := a.cfg.HTTPClient.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.answerFailure,
		Transport:      transport,
		ErrorLog:       slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	return p, nil
}

type frontendAPIProxy struct {
	auth          *Auth
	upstream      *url.URL // fixed at construction: where every request goes
	upstreamHost  string   // its host, lower case, without a default port
	path          string   // the proxy path, escaped, no trailing slash; "" proxies every path
	proxyURL      string   // an absolute ProxyURL; "" derives it from the request
	secretKey     string
	headerTimeout time.Duration
	rp            *httputil.ReverseProxy
}

func (p *frontendAPIProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	escaped := r.URL.EscapedPath()
	// A raw backslash survives in RawPath only (EscapedPath re-escapes
	// it); Clerk's URL parser reads it as a slash.
	if _, ok := p.targetPath(escaped); !ok || strings.IndexByte(r.URL.RawPath, '\\') >= 0 {
		// Clerk's answer and message, the path reflected in JSON.
		writeProxyError(w, http.StatusBadRequest, proxyPathMismatch, `Request path "`+escaped+`" does not match proxy path "`+p.path+`"`)
		return
	}
	if r.ContentLength > maxProxyRequestBytes {
		writeProxyError(w, http.StatusRequestEntityTooLarge, proxyRequestFailed, "Request body too large")
		return
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	ctx, stop := context.WithTimeoutCause(ctx, proxyExchangeTimeout, errProxyExchangeTimeout)
	defer stop()
	x := &proxyExchange{parent: r.Context(), cancel: cancel, timeout: p.headerTimeout}
	r = r.WithContext(context.WithValue(ctx, proxyExchangeKey, x))
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		x.requestSent()
	} else {
		r.Body = &proxyRequestBody{ReadCloser: http.MaxBytesReader(w, r.Body, maxProxyRequestBytes), x: x}
	}
	// An answer without Content-Type goes on without one: no sniffing
	// (ReverseProxy adds the Frontend API's when there is one).
	w.Header()["Content-Type"] = nil
	p.rp.ServeHTTP(w, r)
	x.answered() // stop the timer if the exchange failed before an answer
}

// targetPath maps an escaped request path to the Frontend API path: the
// proxy path prefix removed ("/" when nothing is left), as Clerk maps it.
// A path outside the proxy path is refused, and so is one with a dot
// segment ("..", ".", or their %2e spellings), or (ServeHTTP) a raw
// backslash: Clerk's URL parser resolves those before matching; browsers
// never send them, so refusing them leaves no second reading of the path.
func (p *frontendAPIProxy) targetPath(escaped string) (string, bool) {
	rest, ok := strings.CutPrefix(escaped, p.path)
	if !ok || rest != "" && rest[0] != '/' {
		return "", false
	}
	for seg := range strings.SplitSeq(rest, "/") {
		if len(seg) <= 6 && isDotSegment(seg) {
			return "", false
		}
	}
	if rest == "" {
		rest = "/"
	}
	return rest, true
}

// isDotSegment: ".", "..", and their percent-encoded spellings, which URL
// parsers (Clerk's among them) resolve as dot segments.
func isDotSegment(seg string) bool {
	switch strings.ToLower(seg) {
	case ".", "..", "%2e", "%2e%2e", ".%2e", "%2e.":
		return true
	}
	return false
}

// rewrite builds the upstream request. httputil.ReverseProxy has already
// dropped the hop-by-hop headers (those of RFC 9110 and those named in
// Connection) and every Forwarded and X-Forwarded-* header.
func (p *frontendAPIProxy) rewrite(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	target, _ := p.targetPath(in.URL.EscapedPath()) // checked in ServeHTTP
	escaped := strings.TrimSuffix(p.upstream.EscapedPath(), "/") + target
	decoded, err := url.PathUnescape(escaped)
	if err != nil {
		decoded = escaped // EscapedPath's output always unescapes
	}
	// Built from the fixed upstream, never from the request's URL: an
	// absolute-form request target or a Host header cannot move it.
	out.URL = &url.URL{Scheme: p.upstream.Scheme, Host: p.upstream.Host, Path: decoded, RawPath: escaped, RawQuery: in.URL.RawQuery}
	out.Host = p.upstream.Host

	h := out.Header
	// Clerk strips TE and Upgrade as hop-by-hop headers; ReverseProxy
	// would put back "TE: trailers" and a requested protocol upgrade.
	h.Del("Te")
	h.Del("Connection")
	h.Del("Upgrade")

	a := p.auth
	trusted := len(a.trustedProxies) > 0 && a.fromTrustedProxy(in)
	if !trusted {
		// Headers naming the client that only a proxy in front of us
		// may set (Clerk reads them for X-Forwarded-For).
		h.Del("Cf-Connecting-Ip")
		h.Del("X-Real-Ip")
		h.Del("True-Client-Ip")
	}
	addressed := a.addressedURL(in)
	proxyURL := p.proxyURL
	if proxyURL == "" {
		proxyURL = addressed.Scheme + "://" + addressed.Host + p.path
	}
	h.Set("Clerk-Proxy-Url", proxyURL)
	h.Set("Clerk-Secret-Key", p.secretKey)
	h.Set("Accept-Encoding", "identity")
	h.Set("X-Forwarded-Host", addressed.Host)
	h.Set("X-Forwarded-Proto", addressed.Scheme)
	// X-Forwarded-For as a proxy writes it: what a trusted proxy
	// forwarded, then our peer.
	var chain []string
	if trusted {
		chain = append(chain, in.Header["X-Forwarded-For"]...)
	}
	if ap, err := netip.ParseAddrPort(in.RemoteAddr); err == nil {
		chain = append(chain, ap.Addr().Unmap().String())
	}
	if len(chain) > 0 {
		h.Set("X-Forwarded-For", strings.Join(chain, ", "))
	}
}

// modifyResponse bounds the answer's body and points a Location into the
// Frontend API at the proxy. ReverseProxy has dropped the hop-by-hop
// headers.
func (p *frontendAPIProxy) modifyResponse(res *http.Response) error {
	if x, ok := res.Request.Context().Value(proxyExchangeKey).(*proxyExchange); ok {
		x.answered()
	}
	if res.ContentLength > maxProxyResponseBytes {
		return errProxyResponseTooLarge
	}
	res.Body = &cappedBody{ReadCloser: res.Body, left: maxProxyResponseBytes}
	p.rewriteLocation(res.Header, res.Request.Header.Get("Clerk-Proxy-Url"))
	return nil
}

// rewriteLocation is Clerk's: a Location that resolves (against the
// Frontend API's URL) to the Frontend API's host becomes the same path,
// query and fragment below the proxy URL; any other is passed on as it
// came.
func (p *frontendAPIProxy) rewriteLocation(h http.Header, proxyURL string) {
	loc := headerValue(h, "Location")
	if loc == "" {
		return
	}
	u, err := p.upstream.Parse(loc)
	if err != nil || canonicalHost(u.Scheme, u.Host) != p.upstreamHost {
		return
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	rewritten := proxyURL + path
	if u.RawQuery != "" {
		rewritten += "?" + u.RawQuery
	}
	if u.Fragment != "" {
		rewritten += "#" + u.EscapedFragment()
	}
	h.Set("Location", rewritten)
}

// answerFailure answers an exchange that got no usable answer: 413 for a
// request body over the limit, else 502 proxy_request_failed, as Clerk
// answers a failed fetch but without the internal error text, which goes
// to the log (rate-limited; never a URL, whose query may carry a token,
// nor a header).
func (p *frontendAPIProxy) answerFailure(w http.ResponseWriter, r *http.Request, err error) {
	x, _ := r.Context().Value(proxyExchangeKey).(*proxyExchange)
	if x != nil && x.bodyTooLarge() {
		writeProxyError(w, http.StatusRequestEntityTooLarge, proxyRequestFailed, "Request body too large")
		return
	}
	writeProxyError(w, http.StatusBadGateway, proxyRequestFailed, "Failed to proxy request to Clerk FAPI")
	if x != nil && x.parent.Err() != nil {
		return // the client went away: nothing to tell the operator
	}
	if cause := context.Cause(r.Context()); cause != nil {
		err = cause
	} else if ue, ok := err.(*url.Error); ok {
		err = ue.Err // without the URL
	}
	p.auth.warn(r.Context(), slog.LevelWarn, "clerkauth: the Frontend API proxy could not reach Clerk", "error", err.Error())
}

// writeProxyError writes Clerk's error answer: {"errors":[{code,message}]}.
func writeProxyError(w http.ResponseWriter, status int, code, message string) {
	body, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"code": code, "message": message}}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(body)
}

// proxyExchange is one request's timer: the Frontend API has
// headerTimeout to answer once the request, body included, is sent.
type proxyExchange struct {
	parent  context.Context // the client's request
	cancel  context.CancelCauseFunc
	timeout time.Duration

	mu       sync.Mutex
	timer    *time.Timer
	done     bool // an answer came, or the exchange ended
	tooLarge bool // the request body went over maxProxyRequestBytes
}

type proxyExchangeKeyType struct{}

var proxyExchangeKey = &proxyExchangeKeyType{}

// requestSent starts the wait for the answer.
func (x *proxyExchange) requestSent() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.done && x.timer == nil {
		x.timer = time.AfterFunc(x.timeout, func() { x.cancel(errProxyTimeout) })
	}
}

// answered ends the wait.
func (x *proxyExchange) answered() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.done = true
	if x.timer != nil {
		x.timer.Stop()
	}
}

func (x *proxyExchange) bodyTooLarge() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.tooLarge
}

// proxyRequestBody is the bounded request body, streamed upstream; its
// end starts the wait for the answer.
type proxyRequestBody struct {
	io.ReadCloser
	x *proxyExchange
}

func (b *proxyRequestBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooLarge *http.MaxBytesError
	switch {
	case err == io.EOF:
		b.x.requestSent()
	case errors.As(err, &tooLarge):
		b.x.mu.Lock()
		b.x.tooLarge = true
		b.x.mu.Unlock()
	}
	return n, err
}

// cappedBody fails a response body that goes over its limit; the client
// then sees the connection cut, never a truncated answer that looks whole.
type cappedBody struct {
	io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	if int64(n) > b.left {
		n = int(b.left)
		b.left = 0
		return n, errProxyResponseTooLarge
	}
	b.left -= int64(n)
	return n, err
}
