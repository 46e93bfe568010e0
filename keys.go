package clerkauth

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clerkauth/clerkauth/internal/backendapi"
	"github.com/clerkauth/clerkauth/internal/flight"
	"github.com/clerkauth/clerkauth/internal/redact"
)

// Key-cache limits (the defaults are in config.go).
const (
	// maxJWKSBytes caps a key-set response. A Clerk JWKS is well under
	// 4 KiB; the cap keeps a misbehaving or hostile server from making us
	// read (or buffer) an unbounded body.
	maxJWKSBytes = 256 << 10
	// minRSABits refuses toy keys a compromised or misconfigured key
	// server could hand out.
	minRSABits = 2048
)

// keySet is one immutable snapshot of an instance's verification keys.
type keySet struct {
	keys      map[string]*rsa.PublicKey // by kid
	any       *rsa.PublicKey            // CLERK_JWT_KEY: used whatever the token's kid
	fetchedAt time.Time
}

func (s *keySet) lookup(kid string) *rsa.PublicKey {
	if s.any != nil {
		return s.any
	}
	return s.keys[kid]
}

// keyFetcher fetches the current key set: the usable keys by kid, and a
// description of each entry it skipped. It must honour ctx.
type keyFetcher func(ctx context.Context) (keys map[string]*rsa.PublicKey, skipped []string, err error)

// keyCache holds the keys of one Clerk instance. It belongs to one Auth
// value: two instances in one process never share keys, and a kid is only
// ever looked up among the keys of the instance the Auth was built for.
//
// Reads are lock-free (an atomic pointer to an immutable keySet). At most
// one fetch runs at a time; every caller that needs it waits for that one.
// Its own policy: a cool-down between fetches, a refresh in the background
// once the keys are old, and the cached keys kept when a refresh fails.
type keyCache struct {
	fetch    keyFetcher
	host     string                              // the key server's, for the hook
	hook     func(context.Context, KeyFetchInfo) // Hooks.KeyFetch
	refresh  time.Duration                       // age after which a background refresh starts
	coolDown time.Duration                       // minimum time between fetches caused by unknown kids
	timeout  time.Duration
	now      func() time.Time
	log      *slog.Logger

	current atomic.Pointer[keySet]
	fetches flight.Group[struct{}, struct{}] // one key: one fetch at a time

	mu        sync.Mutex
	lastFetch time.Time // when the last fetch (success or failure) started
	failing   bool      // a refresh failed and we are serving cached keys

	warnedSkipped onceFlag // unusable keys in the set: said once
}

// staticKeyCache returns a cache that always holds key (CLERK_JWT_KEY) and
// never fetches: it has no fetcher, so FetchKeyIDs reports nothing.
func staticKeyCache(key *rsa.PublicKey) *keyCache {
	c := &keyCache{}
	c.current.Store(&keySet{any: key})
	return c
}

// key returns the verification key for kid. The error is an *Error with
// reason jwk-kid-mismatch (no such key, even after a refresh) or
// jwk-remote-failed-to-load (no keys could be had at all).
func (c *keyCache) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	set := c.current.Load()
	if set != nil {
		if set.any != nil {
			return set.any, nil
		}
		if k := set.keys[kid]; k != nil {
			if c.now().Sub(set.fetchedAt) >= c.refresh {
				c.startFetch(context.Background()) // refresh in the background; keep serving
			}
			return k, nil
		}
	}

	// A miss: either nothing is cached yet, or the kid is unknown (a new
	// key after a rotation, or a forged kid). Fetch, unless a fetch
	// started within the cool-down: a flood of random kids, or of requests
	// while the key server is down, must not become a flood of fetches.
	var fetchErr error
	if f := c.startFetch(ctx); f != nil {
		if _, fetchErr = f.Wait(ctx); errors.Is(fetchErr, flight.ErrGaveUp) {
			return nil, wrapError(ReasonJWKRemoteFailedToLoad, "gave up waiting for the key set", ctx.Err())
		}
	}
	// Look again whether or not we fetched: a fetch by another caller may
	// have completed since the first look.
	set = c.current.Load()
	if set == nil {
		return nil, wrapError(ReasonJWKRemoteFailedToLoad, "the key set could not be fetched (retrying after the cool-down)", fetchErr)
	}
	if k := set.lookup(kid); k != nil {
		return k, nil
	}
	return nil, newError(ReasonJWKKidMismatch, "no key with this kid in the instance's key set")
}

// startFetch starts a fetch, or joins the one in progress. It returns nil
// when the last fetch started less than the cool-down ago. The fetch is
// detached from any request: one caller giving up must not fail it for
// the others waiting on it. ctx is the context of the request that waits
// for the fetch (context.Background for a background refresh): the hook
// is called with its values, so a trace shows the fetch under the request
// that started it.
func (c *keyCache) startFetch(ctx context.Context) *flight.Call[struct{}] {
	f, _ := c.fetches.Start(ctx, struct{}{}, c.admitFetch)
	return f
}

// admitFetch returns the fetch to start (no fetch is in flight), or nil
// when the last one started less than the cool-down ago. A clock that
// jumped backwards does not hold fetches off.
func (c *keyCache) admitFetch() flight.Func[struct{}] {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if !c.lastFetch.IsZero() && now.Sub(c.lastFetch) < c.coolDown && !now.Before(c.lastFetch) {
		return nil
	}
	c.lastFetch = now
	return c.run
}

func (c *keyCache) run(hookCtx context.Context) (struct{}, error) {
	var start time.Time
	if c.hook != nil {
		start = time.Now()
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	keys, skipped, err := c.fetch(ctx)
	cancel()
	if c.hook != nil {
		info := KeyFetchInfo{Host: c.host, Outcome: "ok", Keys: len(keys), Duration: time.Since(start)}
		if err != nil || len(keys) == 0 {
			info.Outcome = "error"
		}
		c.hook(hookCtx, info)
	}
	if len(skipped) > 0 && c.warnedSkipped.first() {
		c.log.WarnContext(ctx, "clerkauth: the instance's key set has entries this verifier cannot use; they are skipped", "skipped", strings.Join(skipped, "; "))
	}
	if err == nil && len(keys) == 0 {
		err = &fetchError{msg: "the key set has no usable RS256 keys"}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.current.Store(&keySet{keys: keys, fetchedAt: c.now()})
		if c.failing {
			c.log.InfoContext(ctx, "clerkauth: fetched the instance's keys again")
		}
		c.failing = false
		return struct{}{}, nil
	}
	// Logged once per outage, not once per request, and only in our own
	// words (see describeFetchError).
	if !c.failing {
		if c.current.Load() != nil {
			c.log.WarnContext(ctx, "clerkauth: cannot refresh the instance's keys; verifying with the cached keys", "error", describeFetchError(err))
		} else {
			c.log.ErrorContext(ctx, "clerkauth: cannot fetch the instance's keys; protected routes answer 503", "error", describeFetchError(err))
		}
	}
	c.failing = true
	return struct{}{}, err
}

// limitedClient wraps an *http.Client so that no response body can be read
// past max bytes (clerk-sdk-go reads bodies whole).
func limitedClient(hc *http.Client, max int64) *http.Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	cp := *hc
	base := cp.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cp.Transport = limitTransport{base, max}
	return &cp
}

type limitTransport struct {
	base http.RoundTripper
	max  int64
}

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(r.Header.Get("User-Agent"), "clerkauth/") {
		// A request built by clerk-sdk-go (CurrentUser): it names the API
		// version its types decode; the client is clerkauth. A
		// RoundTripper must not change the caller's request.
		version := r.Header.Get("Clerk-API-Version")
		r = r.Clone(r.Context())
		backendapi.SetHeaders(r.Header)
		if version != "" {
			r.Header.Set("Clerk-API-Version", version)
		}
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

var errBodyTooLarge = errors.New("response body too large")

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Probe for one more byte: a body of exactly the limit is fine.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, errBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// jwksURLFetcher fetches a JWKS document from a Frontend API or issuer URL
// (public, no credentials).
func jwksURLFetcher(hc *http.Client, url string) keyFetcher {
	return jwksFetcher(hc, url, "")
}

// backendAPIFetcher fetches the instance's keys from the Backend API
// (<APIURL>/jwks) with the secret key. It reads the set itself rather
// than through clerk-sdk-go, whose decoder refuses a whole set for one key
// of an unknown type.
func backendAPIFetcher(hc *http.Client, apiURL, secretKey string) keyFetcher {
	return jwksFetcher(hc, apiURL+"/jwks", secretKey)
}

func jwksFetcher(hc *http.Client, url, secretKey string) keyFetcher {
	hc = limitedClient(hc, maxJWKSBytes)
	shown := redact.URL(url) // for messages, which reach logs
	return func(ctx context.Context) (map[string]*rsa.PublicKey, []string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("Accept", "application/json")
		backendapi.SetHeaders(req.Header)
		if secretKey != "" {
			req.Header.Set("Authorization", "Bearer "+secretKey)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			msg := fmt.Sprintf("GET %s: status %d", shown, resp.StatusCode)
			if secretKey != "" && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
				msg += " (check CLERK_SECRET_KEY)"
			}
			return nil, nil, &fetchError{msg: msg}
		}
		body, err := io.ReadAll(resp.Body)
		if errors.Is(err, errBodyTooLarge) {
			return nil, nil, &fetchError{msg: fmt.Sprintf("GET %s: %v", shown, err), cause: err}
		} else if err != nil {
			return nil, nil, fmt.Errorf("GET %s: %w", shown, err)
		}
		keys, skipped, ok := parseJWKS(body)
		if !ok {
			return nil, nil, &fetchError{msg: fmt.Sprintf("GET %s: the response is not a JSON Web Key Set", shown)}
		}
		return keys, skipped, nil
	}
}

// parseJWKS reads a JSON Web Key Set and keeps the RSA signing keys meant
// for RS256 (or with no alg stated). Every other entry (another key type,
// such as a future EC key, another algorithm, an encryption key, a small
// modulus, a malformed entry) is skipped, not fatal, and described in
// skipped. A kid that two usable keys share is dropped: either key could
// be the one a token names, so neither is trusted.
func parseJWKS(body []byte) (keys map[string]*rsa.PublicKey, skipped []string, ok bool) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil || set.Keys == nil {
		return nil, nil, false
	}
	keys = make(map[string]*rsa.PublicKey, len(set.Keys))
	shared := map[string]bool{}
	for i, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			var head struct {
				Kty string `json:"kty"`
				Kid string `json:"kid"`
			}
			json.Unmarshal(raw, &head)
			skipped = append(skipped, fmt.Sprintf("key %d (kid %q, kty %q): not a key this verifier can read", i, head.Kid, head.Kty))
			continue
		}
		pub, why := usableKey(k)
		switch {
		case why != "":
			skipped = append(skipped, fmt.Sprintf("kid %q: %s", k.KeyID, why))
		case shared[k.KeyID] || keys[k.KeyID] != nil:
			delete(keys, k.KeyID)
			if !shared[k.KeyID] {
				skipped = append(skipped, fmt.Sprintf("kid %q: more than one key has this kid, so none of them is used", k.KeyID))
			}
			shared[k.KeyID] = true
		default:
			keys[k.KeyID] = pub
		}
	}
	return keys, skipped, true
}

// usableKey returns k's RSA public key if it is an RS256 signing key, or
// why not.
func usableKey(k jose.JSONWebKey) (*rsa.PublicKey, string) {
	pub, isRSA := k.Key.(*rsa.PublicKey)
	switch {
	case !isRSA:
		return nil, fmt.Sprintf("a %T key; Clerk signs session tokens with RS256", k.Key)
	case k.KeyID == "":
		return nil, "no kid"
	case k.Algorithm != "" && k.Algorithm != "RS256":
		return nil, "alg " + k.Algorithm + ", not RS256"
	case k.Use != "" && k.Use != "sig":
		return nil, "use " + k.Use + ", not sig"
	case pub.N == nil || pub.N.BitLen() < minRSABits:
		return nil, fmt.Sprintf("an RSA key under %d bits", minRSABits)
	}
	return pub, ""
}

// fetchError is a key-fetch failure described in our own words, safe to
// log: a status code, a size, "not a JWKS". Anything else (network errors,
// whose text comes from other packages and may quote URLs with
// credentials or server output) is logged by class only.
type fetchError struct {
	msg   string
	cause error
}

func (e *fetchError) Error() string { return e.msg }
func (e *fetchError) Unwrap() error { return e.cause }

func describeFetchError(err error) string {
	var fe *fetchError
	if errors.As(err, &fe) {
		return fe.msg
	}
	var pe *flight.PanicError
	if errors.As(err, &pe) {
		return "the fetch panicked (in Hooks.KeyFetch, a logger or clerkauth)"
	}
	var (
		ne      net.Error
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		recErr  tls.RecordHeaderError
		hostErr x509.HostnameError
		authErr x509.UnknownAuthorityError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return "network error: timed out"
	case errors.As(err, &dnsErr):
		return "network error: DNS lookup of " + dnsErr.Name + " failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "network error: connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "network error: connection reset"
	case errors.As(err, &hostErr), errors.As(err, &authErr), errors.As(err, &certErr):
		return "network error: TLS certificate not trusted for this host"
	case errors.As(err, &recErr):
		return "network error: the server does not speak TLS"
	}
	return "network error"
}
