package clerkauth_test

// Cost that grows with the attacker's input (issue 18). Every input an
// anonymous client controls is grown by 10× and sent through the real
// handlers: Middleware on a clerktest issuer's configuration (publishable
// key included, as the README configures it), on a public and on a
// protected route, and the WebhookHandler.
//
//   - BenchmarkHostileInput/<input>/<size> reports the cost at N and 10N;
//     scripts/hostile.sh turns it into BENCHMARKS.md's "Hostile input"
//     table (time, bytes and allocations, or instructions with callgrind).
//   - TestHostileInputLinear makes "cost is linear in the input" a
//     property without timing: the bytes and allocations of one request at
//     10N must stay within hostileMaxRatio of those at N. A scan that
//     rescans without allocating (a name lookup inside a parse loop) is
//     invisible to it: the benchmark's time and instruction counts cover
//     those.

import (
	"bytes"
	"context"
	"crypto/rsa"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/internal/issuer"
)

const (
	// hostileSize is N for most inputs in the benchmark: 10 KiB and
	// 100 KiB, below net/http's 1 MiB header limit and the webhook's 1 MiB
	// body limit.
	hostileSize = 10 << 10
	// hostileTokenSize is N for the inputs inside a token: 1 KiB and
	// 10 KiB, below maxTokenBytes, so that the token is parsed at both.
	hostileTokenSize = 1 << 10
	// hostileTestSize is N in TestHostileInputLinear (10N = 10 KiB): large
	// enough that the input outweighs a request's fixed cost, small enough
	// that a quadratic case fails in a fraction of a second.
	hostileTestSize = 1 << 10
	// hostileHeaderTestSize is its N for the webhook's headers (10N =
	// 2.5 KiB): they are short (a signature is 50 bytes), and a handler may
	// refuse long ones unread; a scan must be linear within what it reads.
	hostileHeaderTestSize = 256
	// hostileMaxRatio: linear is 10× (less, with the fixed cost);
	// quadratic is 100×.
	hostileMaxRatio = 15
)

// hostileEnv is the server under attack: one Auth, one WebhookHandler.
type hostileEnv struct {
	iss      *clerktest.Issuer
	mw       http.Handler
	webhook  http.Handler
	secret   string
	attacker *rsa.PrivateKey // signs tokens the issuer's keys do not verify
}

func newHostileEnv(tb testing.TB) *hostileEnv {
	tb.Helper()
	e := &hostileEnv{iss: clerktest.NewIssuer(tb), secret: clerktest.NewWebhookSecret()}
	e.attacker = loadOrCreateKey(tb, "testdata/adversarial/attacker_key.pem")
	discard := slog.New(slog.DiscardHandler)
	e.mw = e.iss.MustAuth(func(c *clerkauth.Config) {
		c.PublicRoutes = []string{"/pub(.*)"}
		c.Logger = discard
	}).Middleware(whoami)
	wh, err := clerkauth.NewWebhookHandler(clerkauth.WebhookConfig{
		Secret: e.secret, Dedup: nopStore{}, Logger: discard,
		Users: clerkauth.UserEventFuncs{Created: func(context.Context, *clerkauth.UserEvent) error { return nil }},
	})
	require.NoError(tb, err)
	e.webhook = wh
	return e
}

// hostileRequest is one request, built once and served many times: the
// body (if any) is replayed on each serve.
type hostileRequest struct {
	h    http.Handler
	r    *http.Request
	body []byte
}

func (q hostileRequest) serve() int {
	if q.body != nil {
		q.r.Body = io.NopCloser(bytes.NewReader(q.body))
	}
	rec := httptest.NewRecorder()
	q.h.ServeHTTP(rec, q.r)
	return rec.Code
}

// hostileCase is one attacker-controlled input, grown to n bytes.
type hostileCase struct {
	name     string // <input>@<route>, or webhook-<input>
	size     int    // the benchmark's N
	testSize int    // TestHostileInputLinear's N
	build    func(e *hostileEnv, tb testing.TB, n int) hostileRequest
}

// pageLoad is a browser's page load of path: the request the cookie side
// does the most work for (handshakes and sign-in redirects).
func (e *hostileEnv) pageLoad(path, cookie string) hostileRequest {
	r := httptest.NewRequest("GET", "https://app.example.com"+path, nil)
	r.Header.Set("Sec-Fetch-Dest", "document")
	r.Header.Set("Accept", "text/html,application/xhtml+xml")
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	return hostileRequest{h: e.mw, r: r}
}

// repeatTo repeats unit (with %d replaced by the repetition's number)
// until the result is n bytes or more.
func repeatTo(n int, unit string) string {
	var b strings.Builder
	b.Grow(n + len(unit) + 8)
	for i := 0; b.Len() < n; i++ {
		if strings.Contains(unit, "%d") {
			fmt.Fprintf(&b, unit, i)
		} else {
			b.WriteString(unit)
		}
	}
	return b.String()
}

// junkToken is a token that looks valid (the issuer's kid, Clerk's
// claims, an RS256 signature of the right size) but is signed by another
// key, with n more bytes in its header or payload.
func (e *hostileEnv) junkToken(tb testing.TB, n int, inHeader bool) string {
	now := time.Now().Unix()
	claims := map[string]any{"iss": e.iss.URL, "sub": "user_hostile", "sid": "sess_hostile", "iat": now, "nbf": now - 10, "exp": now + 3600, "v": 2}
	var headers map[string]any
	if inHeader {
		headers = map[string]any{"x": strings.Repeat("a", n)}
	} else {
		claims["x"] = strings.Repeat("a", n)
	}
	token, err := issuer.SignJWTHeaders(e.attacker, e.iss.KeyID(), claims, headers)
	require.NoError(tb, err)
	return token
}

// middlewareInputs grow one input of a request to a route under prefix.
var middlewareInputs = []struct {
	name  string
	size  int
	build func(e *hostileEnv, tb testing.TB, prefix string, n int) hostileRequest
}{
	{"cookie-many", hostileSize, func(e *hostileEnv, _ testing.TB, p string, n int) hostileRequest {
		return e.pageLoad(p+"/page", repeatTo(n, "c%d=1; "))
	}},
	{"cookie-long", hostileSize, func(e *hostileEnv, _ testing.TB, p string, n int) hostileRequest {
		return e.pageLoad(p+"/page", "_ga="+strings.Repeat("a", n))
	}},
	{"cookie-repeated-names", hostileSize, func(e *hostileEnv, _ testing.TB, p string, n int) hostileRequest {
		return e.pageLoad(p+"/page", repeatTo(n, "__session=x; __client_uat=1; "))
	}},
	{"authorization-bearer-long", hostileSize, func(e *hostileEnv, _ testing.TB, p string, n int) hostileRequest {
		q := e.pageLoad(p+"/page", "")
		q.r.Header.Set("Authorization", "Bearer "+strings.Repeat("A", n))
		return q
	}},
	{"authorization-junk", hostileSize, func(e *hostileEnv, _ testing.TB, p string, n int) hostileRequest {
		q := e.pageLoad(p+"/page", "")
		q.r.Header.Set("Authorization", repeatTo(n, "Bearer, "))
		return q
	}},
	{"path-long", hostileSize, func(e *hostileEnv, _ testing.TB, p string, n int) hostileRequest {
		return e.pageLoad(p+"/"+strings.Repeat("a", n), "")
	}},
	{"path-segments", hostileSize, func(e *hostileEnv, _ testing.TB, p string, n int) hostileRequest {
		return e.pageLoad(p+repeatTo(n, "/a"), "")
	}},
	{"path-escapes", hostileSize, func(e *hostileEnv, _ testing.TB, p string, n int) hostileRequest {
		return e.pageLoad(p+"/"+repeatTo(n, "%61%7E"), "")
	}},
	// The query cases carry __client_uat without a session: a page load
	// that goes through the handshake, whose URL re-encodes the query.
	{"query-long", hostileSize, func(e *hostileEnv, _ testing.TB, p string, n int) hostileRequest {
		return e.pageLoad(p+"/page?q="+strings.Repeat("a", n), "__client_uat=1")
	}},
	{"query-clerk-params", hostileSize, func(e *hostileEnv, _ testing.TB, p string, n int) hostileRequest {
		return e.pageLoad(p+"/page?"+repeatTo(n, "__clerk_p%d=1&"), "__client_uat=1")
	}},
	{"jwt-header-bearer", hostileTokenSize, func(e *hostileEnv, tb testing.TB, p string, n int) hostileRequest {
		q := e.pageLoad(p+"/page", "")
		q.r.Header.Set("Authorization", "Bearer "+e.junkToken(tb, n, true))
		return q
	}},
	{"jwt-payload-bearer", hostileTokenSize, func(e *hostileEnv, tb testing.TB, p string, n int) hostileRequest {
		q := e.pageLoad(p+"/page", "")
		q.r.Header.Set("Authorization", "Bearer "+e.junkToken(tb, n, false))
		return q
	}},
	{"jwt-header-cookie", hostileTokenSize, func(e *hostileEnv, tb testing.TB, p string, n int) hostileRequest {
		return e.pageLoad(p+"/page", "__session="+e.junkToken(tb, n, true)+"; __client_uat=1")
	}},
	{"jwt-payload-cookie", hostileTokenSize, func(e *hostileEnv, tb testing.TB, p string, n int) hostileRequest {
		return e.pageLoad(p+"/page", "__session="+e.junkToken(tb, n, false)+"; __client_uat=1")
	}},
}

// delivery is a correctly signed user.created delivery whose headers
// edit then changes (nil: the body is signed as it is).
func (e *hostileEnv) delivery(tb testing.TB, body []byte, edit func(h http.Header)) hostileRequest {
	at := time.Now()
	if body == nil {
		body = clerktest.Envelope(tb, "user.created", map[string]any{"id": "user_hostile", "object": "user"}, at)
	}
	r := httptest.NewRequest("POST", "/api/webhooks/clerk", nil)
	r.Header = clerktest.SignWebhook(tb, e.secret, "msg_hostile", at, body)
	r.Header.Set("Content-Type", "application/json")
	r.ContentLength = int64(len(body))
	if edit != nil {
		edit(r.Header)
	}
	return hostileRequest{h: e.webhook, r: r, body: body}
}

// webhookInputs grow one header or the body of a delivery. The other
// headers stay valid, so that the grown one is read to its end.
var webhookInputs = []struct {
	name   string
	header bool // a header grows, not the body
	build  func(e *hostileEnv, tb testing.TB, n int) hostileRequest
}{
	{"svix-id-spaces", true, func(e *hostileEnv, tb testing.TB, n int) hostileRequest {
		return e.delivery(tb, nil, func(h http.Header) { h.Set("Svix-Id", strings.Repeat(" ", n)+h.Get("Svix-Id")) })
	}},
	{"svix-id-long", true, func(e *hostileEnv, tb testing.TB, n int) hostileRequest {
		return e.delivery(tb, nil, func(h http.Header) { h.Set("Svix-Id", "msg_"+strings.Repeat("a", n)) })
	}},
	{"svix-timestamp-spaces", true, func(e *hostileEnv, tb testing.TB, n int) hostileRequest {
		return e.delivery(tb, nil, func(h http.Header) { h.Set("Svix-Timestamp", strings.Repeat(" ", n)+h.Get("Svix-Timestamp")) })
	}},
	{"svix-timestamp-zeros", true, func(e *hostileEnv, tb testing.TB, n int) hostileRequest {
		return e.delivery(tb, nil, func(h http.Header) { h.Set("Svix-Timestamp", strings.Repeat("0", n)+h.Get("Svix-Timestamp")) })
	}},
	// The review's case: a comma, then a long run of spaces.
	{"svix-signature-comma-spaces", true, func(e *hostileEnv, tb testing.TB, n int) hostileRequest {
		return e.delivery(tb, nil, func(h http.Header) { h.Set("Svix-Signature", h.Get("Svix-Signature")+" ,"+strings.Repeat(" ", n)) })
	}},
	{"svix-signature-comma-space-runs", true, func(e *hostileEnv, tb testing.TB, n int) hostileRequest {
		return e.delivery(tb, nil, func(h http.Header) { h.Set("Svix-Signature", h.Get("Svix-Signature")+" "+repeatTo(n, ", ")) })
	}},
	{"svix-signature-many", true, func(e *hostileEnv, tb testing.TB, n int) hostileRequest {
		junk := "v1," + strings.Repeat("A", 43) + "= "
		return e.delivery(tb, nil, func(h http.Header) { h.Set("Svix-Signature", repeatTo(n, junk)+h.Get("Svix-Signature")) })
	}},
	{"svix-signature-split", true, func(e *hostileEnv, tb testing.TB, n int) hostileRequest {
		junk := "v1," + strings.Repeat("A", 43) + "="
		return e.delivery(tb, nil, func(h http.Header) {
			valid := h.Get("Svix-Signature")
			h.Del("Svix-Signature")
			for size := 0; size < n; size += len(junk) {
				h.Add("Svix-Signature", junk)
			}
			h.Add("Svix-Signature", valid)
		})
	}},
	{"body-signed", false, func(e *hostileEnv, tb testing.TB, n int) hostileRequest {
		meta := "{" + strings.TrimSuffix(repeatTo(n, `"k%d":"v",`), ",") + "}"
		data := []byte(`{"id":"user_hostile","object":"user","public_metadata":` + meta + `}`)
		return e.delivery(tb, clerktest.Envelope(tb, "user.created", data, time.Now()), nil)
	}},
	{"body-unsigned", false, func(e *hostileEnv, tb testing.TB, n int) hostileRequest {
		q := e.delivery(tb, nil, nil) // the headers of another body
		q.body = []byte(`{"type":"user.created","data":{"x":"` + strings.Repeat("a", n) + `"}}`)
		q.r.ContentLength = int64(len(q.body))
		return q
	}},
}

// hostileCases lists every input: each middleware input on a public and a
// protected route, then the webhook's.
func hostileCases() []hostileCase {
	var cases []hostileCase
	for _, in := range middlewareInputs {
		for _, route := range []struct{ name, prefix string }{{"public", "/pub"}, {"protected", "/app"}} {
			cases = append(cases, hostileCase{name: in.name + "@" + route.name, size: in.size, testSize: min(in.size, hostileTestSize), build: func(e *hostileEnv, tb testing.TB, n int) hostileRequest {
				return in.build(e, tb, route.prefix, n)
			}})
		}
	}
	for _, in := range webhookInputs {
		testSize := hostileTestSize
		if in.header {
			testSize = hostileHeaderTestSize
		}
		cases = append(cases, hostileCase{name: "webhook-" + in.name, size: hostileSize, testSize: testSize, build: func(e *hostileEnv, tb testing.TB, n int) hostileRequest {
			return in.build(e, tb, n)
		}})
	}
	return cases
}

func sizeName(n int) string { return strconv.Itoa(n>>10) + "KiB" }

// BenchmarkHostileInput runs every hostile input at N and 10N:
//
//	go test -run '^$' -bench BenchmarkHostileInput -benchtime 20x .
//	scripts/hostile.sh            # the same, as BENCHMARKS.md's table
func BenchmarkHostileInput(b *testing.B) {
	e := newHostileEnv(b)
	for _, c := range hostileCases() {
		for _, n := range []int{c.size, 10 * c.size} {
			b.Run(c.name+"/"+sizeName(n), func(b *testing.B) {
				q := c.build(e, b, n)
				q.serve() // the keys fetched, the caches warm
				b.ReportAllocs()
				b.ResetTimer()
				hostileMark()
				hostileLoop(b, q)
				hostileMark()
			})
		}
	}
}

// hostileMark brackets the measured loop for callgrind: scripts/hostile.sh
// dumps the counts at each call, so that one dump holds one case's loop. A
// leaf without a frame has no stack check and is entered exactly once per
// call; counting by the loop's own entry and exit (--toggle-collect) goes
// wrong when a goroutine's stack is copied to grow it.
//
//go:noinline
func hostileMark() {}

// hostileLoop serves q b.N times. With b.Loop a benchmark's function runs
// once, so the two marks around it bracket exactly the requests measured.
func hostileLoop(b *testing.B, q hostileRequest) {
	for b.Loop() {
		q.serve()
	}
}

// TestHostileInputLinear: at 10N, one request allocates at most
// hostileMaxRatio times the bytes and the allocations it does at N, for
// every hostile input (N: 1 KiB; 256 bytes for the webhook's headers).
func TestHostileInputLinear(t *testing.T) {
	e := newHostileEnv(t)
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			small, large := c.build(e, t, c.testSize), c.build(e, t, 10*c.testSize)
			bytesN, allocsN := allocsPerServe(small)
			bytes10N, allocs10N := allocsPerServe(large)
			t.Logf("N: %d, %.0f B, %.1f allocs; 10N: %d, %.0f B, %.1f allocs", small.serve(), bytesN, allocsN, large.serve(), bytes10N, allocs10N)
			assert.LessOrEqual(t, bytes10N, hostileMaxRatio*bytesN,
				"bytes allocated grow %.1f× for 10× the input (%.0f → %.0f): not linear", bytes10N/bytesN, bytesN, bytes10N)
			assert.LessOrEqual(t, allocs10N, hostileMaxRatio*allocsN,
				"allocations grow %.1f× for 10× the input (%.1f → %.1f): not linear", allocs10N/allocsN, allocsN, allocs10N)
		})
	}
}

// allocsPerServe is testing.AllocsPerRun for bytes too: the average bytes
// and allocations of one serve, after one to warm up, on one P so that
// nothing else allocates meanwhile.
func allocsPerServe(q hostileRequest) (bytes, allocs float64) {
	const runs = 3
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	q.serve()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		q.serve()
	}
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / runs, float64(after.Mallocs-before.Mallocs) / runs
}
