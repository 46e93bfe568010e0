// Command flood is a loopback load test of clerkauth under hostile
// traffic, for scripts/flood.sh and SECURITY.md's "Flood" figures.
//
// It starts, in this process, a fake Clerk instance (the issuer's JWKS and
// clerktest's fake Backend API, which counts the calls it receives) and a
// server on 127.0.0.1 with clerkauth's Middleware (publishable key, session
// tokens and API keys accepted, as the README configures it) and
// WebhookHandler. For a bounded time (-duration; -max-requests bounds the
// flood too) it floods that server with what an anonymous attacker can
// send: random Bearer JWTs, random ak_ API keys, huge junk Cookie headers,
// made-up __clerk_handshake_nonce values (query and cookie), an expired
// session token with junk __refresh cookies, and unsigned webhooks. Beside
// the flood a legitimate client keeps going at a fixed pace: a valid
// session token, a valid API key (created through the fake Backend API),
// and a signed-in page load by cookie.
//
// It prints, as Markdown: the flood's requests per second, the legitimate
// client's success rate and latency (p50, p99), the Backend API calls made
// while the flood ran (per endpoint), JWKS fetches, and the log records
// clerkauth wrote. Every connection is to 127.0.0.1; it stops by itself.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/internal/issuer"
)

func main() {
	duration := flag.Duration("duration", 10*time.Second, "how long the flood lasts")
	maxRequests := flag.Int64("max-requests", 500_000, "the most flood requests sent in all")
	workers := flag.Int("workers", 16, "concurrent flood connections")
	legitRate := flag.Int("legit-rate", 50, "legitimate requests per second, for each of the three kinds")
	cookieBytes := flag.Int("cookie-bytes", 64<<10, "size of the junk Cookie headers")
	seed := flag.Uint64("seed", 1, "seed of the flood's random content")
	kinds := flag.String("kinds", "bearer,apikey,cookie,nonce-query,nonce-cookie,refresh,webhook", "the flood's requests, sent in turn")
	flag.Parse()
	if err := run(*duration, *maxRequests, *workers, *legitRate, *cookieBytes, *seed, strings.Split(*kinds, ",")); err != nil {
		log.Fatalf("flood: %v", err)
	}
}

// target is the server under attack and the fake Clerk behind it.
type target struct {
	iss     *issuer.Issuer
	bapi    *issuer.BackendAPI
	base    string // http://127.0.0.1:port
	suffix  string // the instance's cookie suffix
	logs    *countingHandler
	cleanup []func()
}

func start() (*target, error) {
	iss, err := issuer.Start()
	if err != nil {
		return nil, err
	}
	t := &target{iss: iss, logs: &countingHandler{}}
	t.cleanup = append(t.cleanup, iss.Close)
	t.bapi = issuer.StartBackendAPI(iss)
	t.cleanup = append(t.cleanup, t.bapi.Close)

	cfg := iss.Config()
	// clerktest's own wiring of a Config to its fake Backend API
	// (NewBackendAPI itself wants a testing.TB, which a command has not).
	(&clerktest.BackendAPI{BackendAPI: t.bapi}).Configure(&cfg)
	cfg.PublicRoutes = []string{"/pub(.*)"}
	cfg.AcceptsToken = []clerkauth.TokenType{clerkauth.SessionToken, clerkauth.APIKey}
	cfg.Logger = slog.New(t.logs)
	auth, err := clerkauth.New(cfg)
	if err != nil {
		return nil, err
	}
	t.suffix = issuer.CookieSuffix(cfg.PublishableKey)
	wh, err := clerkauth.NewWebhookHandler(clerkauth.WebhookConfig{
		Secret: issuer.NewWebhookSecret(), Logger: slog.New(t.logs),
		Events: func(context.Context, *clerkauth.Event) error { return nil },
	})
	if err != nil {
		return nil, err
	}
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := clerkauth.IdentityFromContext(r.Context()); ok {
			io.WriteString(w, "user:"+id.UserID)
			return
		}
		io.WriteString(w, "anonymous")
	})
	mux := http.NewServeMux()
	mux.Handle("POST /api/webhooks/clerk", wh)
	mux.Handle("/", auth.Middleware(whoami))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.cleanup = append(t.cleanup, func() { srv.Close() })
	t.base = "http://" + ln.Addr().String()
	return t, nil
}

func (t *target) close() {
	for _, f := range slices.Backward(t.cleanup) {
		f()
	}
}

// countingHandler is a slog.Handler that counts records by level and
// writes none.
type countingHandler struct{ warn, errs atomic.Int64 }

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	switch {
	case r.Level >= slog.LevelError:
		h.errs.Add(1)
	case r.Level >= slog.LevelWarn:
		h.warn.Add(1)
	}
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

// request is one request to send: method, path, headers, body.
type request struct {
	method, path string
	header       http.Header
	body         []byte
}

func pageLoad(path string) request {
	return request{method: "GET", path: path, header: http.Header{
		"Sec-Fetch-Dest": {"document"}, "Accept": {"text/html,application/xhtml+xml"},
	}}
}

func apiCall(path, token string) request {
	return request{method: "GET", path: path, header: http.Header{"Authorization": {"Bearer " + token}}}
}

func (t *target) send(ctx context.Context, c *http.Client, q request) (int, string, error) {
	var body io.Reader
	if q.body != nil {
		body = bytes.NewReader(q.body)
	}
	r, err := http.NewRequestWithContext(ctx, q.method, t.base+q.path, body)
	if err != nil {
		return 0, "", err
	}
	for k, v := range q.header {
		r.Header[k] = v
	}
	res, err := c.Do(r)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	return res.StatusCode, string(b), err
}

func client(conns int) *http.Client {
	return &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// legitKind is one request of the legitimate client and the answer that
// counts as success.
type legitKind struct {
	name string
	req  request
	want string // the body of a success (status 200)
}

func (t *target) legitimate() ([]legitKind, error) {
	const user = "user_legit"
	token, err := t.iss.SessionToken(user, issuer.Expiry(time.Hour))
	if err != nil {
		return nil, err
	}
	key, err := t.createAPIKey(user)
	if err != nil {
		return nil, err
	}
	cookie := pageLoad("/app/dashboard")
	cookie.header.Set("Cookie", "__session="+token+"; __client_uat="+strconv.FormatInt(time.Now().Unix()-60, 10))
	return []legitKind{
		{"session token (Bearer)", apiCall("/api/me", token), "user:" + user},
		{"API key (Bearer)", apiCall("/api/me", key), "user:" + user},
		{"signed-in page load (cookie)", cookie, "user:" + user},
	}, nil
}

// createAPIKey creates an API key through the fake Backend API, as an
// application would through Clerk's.
func (t *target) createAPIKey(subject string) (string, error) {
	body, _ := json.Marshal(map[string]any{"subject": subject, "name": "flood-legit", "scopes": []string{"read"}})
	r, err := http.NewRequest("POST", t.bapi.URL+"/api_keys", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	r.Header.Set("Authorization", "Bearer "+t.bapi.SecretKey)
	r.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var key struct{ Secret string }
	if err := json.NewDecoder(res.Body).Decode(&key); err != nil || key.Secret == "" {
		return "", fmt.Errorf("creating an API key: status %d, %v", res.StatusCode, err)
	}
	return key.Secret, nil
}

// floodKind makes one hostile request from a random source.
type floodKind struct {
	id, name string // id: what -kinds names
	make     func(rnd *mrand.Rand) request
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomString(rnd *mrand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[rnd.IntN(len(alnum))]
	}
	return string(b)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func (t *target) flood(cookieBytes int) ([]floodKind, error) {
	// The attacker's own session, expired: signed by the instance, so it
	// reaches the refresh.
	expired, err := t.iss.SessionToken("user_attacker", issuer.Expiry(-time.Minute), issuer.SessionID("sess_attacker"))
	if err != nil {
		return nil, err
	}
	refresh := "__refresh_" + t.suffix
	return []floodKind{
		{"bearer", "random Bearer JWT", func(rnd *mrand.Rand) request {
			header := b64(`{"alg":"RS256","kid":"ins_` + randomString(rnd, 20) + `","typ":"JWT"}`)
			payload := b64(`{"sub":"user_` + randomString(rnd, 20) + `","exp":4102444800}`)
			return apiCall("/api/me", header+"."+payload+"."+randomString(rnd, 342))
		}},
		{"apikey", "random ak_ API key", func(rnd *mrand.Rand) request {
			return apiCall("/api/me", "ak_"+randomString(rnd, 32))
		}},
		{"cookie", fmt.Sprintf("junk Cookie header (%d KiB)", cookieBytes>>10), func(rnd *mrand.Rand) request {
			q := pageLoad("/pub/")
			var b strings.Builder
			for i := 0; b.Len() < cookieBytes; i++ {
				fmt.Fprintf(&b, "c%d=%s; ", i, randomString(rnd, 4))
			}
			q.header.Set("Cookie", b.String())
			return q
		}},
		{"nonce-query", "made-up nonce (query)", func(rnd *mrand.Rand) request {
			return pageLoad("/pub/?__clerk_handshake_nonce=" + randomString(rnd, 30))
		}},
		{"nonce-cookie", "made-up nonce (cookie)", func(rnd *mrand.Rand) request {
			return request{method: "POST", path: "/app/x", header: http.Header{"Cookie": {"__clerk_handshake_nonce=" + randomString(rnd, 30)}}}
		}},
		{"refresh", "expired session + junk __refresh", func(rnd *mrand.Rand) request {
			q := pageLoad("/app/")
			q.header.Set("Cookie", "__session="+expired+"; __client_uat=1; "+refresh+"="+randomString(rnd, 40))
			return q
		}},
		{"webhook", "unsigned webhook", func(rnd *mrand.Rand) request {
			return request{method: "POST", path: "/api/webhooks/clerk", body: []byte(`{"type":"user.created","data":{"id":"user_` + randomString(rnd, 20) + `"}}`),
				header: http.Header{
					"Content-Type": {"application/json"}, "Svix-Id": {"msg_" + randomString(rnd, 20)},
					"Svix-Timestamp": {strconv.FormatInt(time.Now().Unix(), 10)}, "Svix-Signature": {"v1," + randomString(rnd, 43) + "="},
				}}
		}},
	}, nil
}

// latencies records the outcomes of one kind of request.
type latencies struct {
	mu       sync.Mutex
	sent, ok int
	took     []time.Duration
	statuses map[int]int
}

func (l *latencies) add(status int, success bool, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent++
	if success {
		l.ok++
	}
	l.took = append(l.took, d)
	if l.statuses == nil {
		l.statuses = map[int]int{}
	}
	l.statuses[status]++
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func run(duration time.Duration, maxRequests int64, workers, legitRate, cookieBytes int, seed uint64, kinds []string) error {
	t, err := start()
	if err != nil {
		return err
	}
	defer t.close()
	legit, err := t.legitimate()
	if err != nil {
		return err
	}
	all, err := t.flood(cookieBytes)
	if err != nil {
		return err
	}
	var hostile []floodKind
	for _, id := range kinds {
		i := slices.IndexFunc(all, func(k floodKind) bool { return k.id == id })
		if i < 0 {
			return fmt.Errorf("-kinds: no flood request %q", id)
		}
		hostile = append(hostile, all[i])
	}
	// Every legitimate kind must succeed before the flood, or the figures
	// would measure a broken setup.
	lc := client(len(legit))
	for _, k := range legit {
		status, body, err := t.send(context.Background(), lc, k.req)
		if err != nil || status != 200 || body != k.want {
			return fmt.Errorf("before the flood, %s answered %d %q (%v)", k.name, status, body, err)
		}
	}
	before := t.backendCalls()
	jwksBefore := t.iss.JWKSFetches()
	warnBefore, errBefore := t.logs.warn.Load(), t.logs.errs.Load()

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var wg sync.WaitGroup
	legitStats := make([]latencies, len(legit))
	for i, k := range legit {
		wg.Go(func() {
			tick := time.NewTicker(time.Second / time.Duration(legitRate))
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				began := time.Now()
				status, body, err := t.send(ctx, lc, k.req)
				if ctx.Err() != nil && err != nil {
					return // cut off by the end of the run, not an answer
				}
				legitStats[i].add(status, err == nil && status == 200 && body == k.want, time.Since(began))
			}
		})
	}
	floodStats := make([]latencies, len(hostile))
	fc := client(workers)
	var next atomic.Int64
	began := time.Now()
	for w := range workers {
		wg.Go(func() {
			rnd := mrand.New(mrand.NewPCG(seed, uint64(w)))
			for ctx.Err() == nil {
				n := next.Add(1)
				if n > maxRequests {
					return
				}
				i := int(n) % len(hostile)
				t0 := time.Now()
				status, _, err := t.send(ctx, fc, hostile[i].make(rnd))
				if err != nil && (ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded)) {
					return
				}
				floodStats[i].add(status, err == nil, time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	after := t.backendCalls()

	out := os.Stdout
	fmt.Fprintf(out, "Flood of %s (%d connections, every request random), beside a legitimate client sending %d requests/s of each kind; %s, Go %s.\n\n",
		elapsed.Round(100*time.Millisecond), workers, legitRate, time.Now().UTC().Format("2006-01-02"), strings.TrimPrefix(runtime.Version(), "go"))
	fmt.Fprintln(out, "| Flood request | Requests | Requests/s | Answers |")
	fmt.Fprintln(out, "|---|---:|---:|---|")
	var total int
	for i, k := range hostile {
		s := &floodStats[i]
		total += s.sent
		fmt.Fprintf(out, "| %s | %d | %.0f | %s |\n", k.name, s.sent, float64(s.sent)/elapsed.Seconds(), statusList(s.statuses))
	}
	fmt.Fprintf(out, "| **all** | %d | **%.0f** | |\n\n", total, float64(total)/elapsed.Seconds())

	fmt.Fprintln(out, "| Legitimate request | Sent | Succeeded | p50 | p99 | Answers |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|---|")
	for i, k := range legit {
		s := &legitStats[i]
		slices.Sort(s.took)
		rate := 0.0
		if s.sent > 0 {
			rate = 100 * float64(s.ok) / float64(s.sent)
		}
		fmt.Fprintf(out, "| %s | %d | %.1f%% | %s | %s | %s |\n", k.name, s.sent, rate,
			round(percentile(s.took, 0.50)), round(percentile(s.took, 0.99)), statusList(s.statuses))
	}
	fmt.Fprintln(out)

	fmt.Fprintln(out, "| Backend API endpoint (fake) | Calls during the flood | Calls/s |")
	fmt.Fprintln(out, "|---|---:|---:|")
	var calls int
	for _, ep := range endpoints {
		d := after[ep] - before[ep]
		calls += d
		if d > 0 {
			fmt.Fprintf(out, "| `%s` | %d | %.0f |\n", ep, d, float64(d)/elapsed.Seconds())
		}
	}
	fmt.Fprintf(out, "| **all** | **%d** | **%.0f** |\n\n", calls, float64(calls)/elapsed.Seconds())
	fmt.Fprintf(out, "JWKS fetches during the flood: %d. Log records clerkauth wrote: %d warnings, %d errors.\n",
		t.iss.JWKSFetches()-jwksBefore, t.logs.warn.Load()-warnBefore, t.logs.errs.Load()-errBefore)
	return nil
}

// endpoints are the fake Backend API's paths a request can make clerkauth
// call (the refresh is the attacker's session's).
var endpoints = []string{
	"/api_keys/verify", "/m2m_tokens/verify", "/oauth_applications/access_tokens/verify",
	"/v1/clients/handshake_payload", "/v1/sessions/sess_attacker/refresh", "/v1/jwks", "/v1/client/handshake",
}

func (t *target) backendCalls() map[string]int {
	m := map[string]int{}
	for _, ep := range endpoints {
		m[ep] = t.bapi.Calls(ep)
	}
	return m
}

func statusList(m map[int]int) string {
	var codes []int
	for c := range m {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		name := strconv.Itoa(c)
		if c == 0 {
			name = "error"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", name, m[c]))
	}
	return strings.Join(parts, " ")
}

func round(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}
