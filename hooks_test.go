package clerkauth_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/internal/testutil"
)

// hookLog records every hook call.
type hookLog struct {
	mu         sync.Mutex
	decisions  []clerkauth.DecisionInfo
	fetches    []clerkauth.KeyFetchInfo
	calls      []clerkauth.BackendAPICallInfo
	deliveries []clerkauth.WebhookDeliveryInfo
	contexts   []context.Context
}

func (l *hookLog) hooks() clerkauth.Hooks {
	rec := func(ctx context.Context, add func()) {
		l.mu.Lock()
		defer l.mu.Unlock()
		add()
		l.contexts = append(l.contexts, ctx)
	}
	return clerkauth.Hooks{
		Decision: func(ctx context.Context, d clerkauth.DecisionInfo) {
			rec(ctx, func() { l.decisions = append(l.decisions, d) })
		},
		KeyFetch: func(ctx context.Context, f clerkauth.KeyFetchInfo) {
			rec(ctx, func() { l.fetches = append(l.fetches, f) })
		},
		BackendAPICall: func(ctx context.Context, c clerkauth.BackendAPICallInfo) {
			rec(ctx, func() { l.calls = append(l.calls, c) })
		},
		WebhookDelivery: func(ctx context.Context, d clerkauth.WebhookDeliveryInfo) {
			rec(ctx, func() { l.deliveries = append(l.deliveries, d) })
		},
	}
}

func (l *hookLog) lastDecision(t *testing.T) clerkauth.DecisionInfo {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	require.NotEmpty(t, l.decisions)
	return l.decisions[len(l.decisions)-1]
}

type traceKey struct{}

func TestHooksDecision(t *testing.T) {
	var log hookLog
	f := newMachineFixture(t, func(c *clerkauth.Config) { c.Hooks = log.hooks() })
	session := f.iss.MustSessionToken("user_1")
	key := f.bapi.CreateAPIKey("user_2", "k", nil, nil, 0).Secret
	for _, tt := range []struct {
		name  string
		token string
		want  clerkauth.DecisionInfo
	}{
		{"a new session token", session, clerkauth.DecisionInfo{Status: clerkauth.SignedIn, TokenType: clerkauth.SessionToken}},
		{"the same again, from the cache", session, clerkauth.DecisionInfo{Status: clerkauth.SignedIn, TokenType: clerkauth.SessionToken, Cached: true}},
		{"a new API key", key, clerkauth.DecisionInfo{Status: clerkauth.SignedIn, TokenType: clerkauth.APIKey}},
		{"the same again, from the cache", key, clerkauth.DecisionInfo{Status: clerkauth.SignedIn, TokenType: clerkauth.APIKey, Cached: true}},
		{"an expired token", f.iss.MustSessionToken("user_1", clerktest.WithExpiry(-time.Hour)), clerkauth.DecisionInfo{Status: clerkauth.SignedOut, Reason: string(clerkauth.ReasonTokenExpired)}},
		{"no token", "", clerkauth.DecisionInfo{Status: clerkauth.SignedOut, Reason: string(clerkauth.ReasonSessionTokenMissing)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/data", nil)
			r = r.WithContext(context.WithValue(r.Context(), traceKey{}, tt.name))
			if tt.token != "" {
				r.Header.Set("Authorization", "Bearer "+tt.token)
			}
			serve(f.h, r)
			got := log.lastDecision(t)
			got.Duration = 0
			assert.Equal(t, tt.want, got)
			log.mu.Lock()
			assert.Equal(t, tt.name, log.contexts[len(log.contexts)-1].Value(traceKey{}), "the hook gets the request's context")
			log.mu.Unlock()
		})
	}
	t.Run("VerifyCredential too", func(t *testing.T) {
		n := len(log.decisions)
		_, err := f.auth.VerifyCredential(context.Background(), "ak_unknown")
		require.Error(t, err)
		assert.Len(t, log.decisions, n+1)
		assert.Equal(t, string(clerkauth.ReasonTokenInvalid), log.lastDecision(t).Reason)
	})
	t.Run("one decision per request, Require included", func(t *testing.T) {
		n := len(log.decisions)
		h := f.auth.Middleware(f.auth.Require(clerkauth.Role("org:admin"))(http.NotFoundHandler()))
		serve(h, bearer(httptest.NewRequest("GET", "/api/data", nil), session))
		assert.Len(t, log.decisions, n+1)
	})
}

func TestHooksHandshakeDecision(t *testing.T) {
	var log hookLog
	p := newPageApp(t, true, func(c *clerkauth.Config) { c.Hooks = log.hooks() })
	r := httptest.NewRequest("GET", "/dashboard", nil)
	r.Header.Set("Sec-Fetch-Dest", "document")
	r.Header.Set("Cookie", "__client_uat=1")
	res := serve(p.srv.Config.Handler, r)
	require.Equal(t, 307, res.status)
	d := log.lastDecision(t)
	assert.Equal(t, clerkauth.Handshake, d.Status)
	assert.Equal(t, "client-uat-but-no-session-token", d.Reason)
	assert.Equal(t, res.header.Get("X-Clerk-Auth-Reason"), d.Reason)
	assert.Contains(t, clerkauth.DecisionReasons(), d.Reason)
}

// DecisionReasons lists refusal and handshake reasons once each, so a hook
// can prebuild an attribute set per value.
func TestDecisionReasons(t *testing.T) {
	list := clerkauth.DecisionReasons()
	for _, want := range []string{
		string(clerkauth.ReasonSessionTokenMissing), string(clerkauth.ReasonTokenExpired), string(clerkauth.ReasonJWKRemoteFailedToLoad),
		string(clerkauth.ReasonMachineVerifierBusy), string(clerkauth.ReasonCrossOriginRequest),
		"client-uat-but-no-session-token", "session-token-nbf",
		"session-token-expired-refresh-non-eligible-no-refresh-cookie",
	} {
		assert.Contains(t, list, want)
	}
	assert.NotContains(t, list, "")
	assert.True(t, slices.IsSorted(list))
	assert.Equal(t, len(list), len(slices.Compact(slices.Clone(list))), "each reason once")
}

func TestHooksKeyFetchAndBackendAPI(t *testing.T) {
	var log hookLog
	f := newMachineFixture(t, func(c *clerkauth.Config) { c.Hooks = log.hooks() })
	require.Equal(t, 200, f.get(f.iss.MustSessionToken("user_1")).status)
	require.Len(t, log.fetches, 1)
	assert.Equal(t, "ok", log.fetches[0].Outcome)
	assert.Equal(t, 1, log.fetches[0].Keys)
	assert.NotEmpty(t, log.fetches[0].Host)

	key := f.bapi.CreateAPIKey("user_2", "k", nil, nil, 0).Secret
	r := httptest.NewRequest("GET", "/api/data", nil).WithContext(context.WithValue(context.Background(), traceKey{}, "the API key"))
	require.Equal(t, 200, serve(f.h, bearer(r, key)).status)
	f.get("ak_unknown")
	clerkauth.WaitMachineIdle(f.auth)
	log.mu.Lock()
	defer log.mu.Unlock()
	require.Len(t, log.calls, 2)
	assert.Equal(t, clerkauth.BackendAPICallInfo{Method: "POST", Endpoint: "/api_keys/verify", Status: 200}, withoutDuration(log.calls[0]))
	assert.Equal(t, clerkauth.BackendAPICallInfo{Method: "POST", Endpoint: "/api_keys/verify", Status: 404}, withoutDuration(log.calls[1]))
	found := false
	for _, ctx := range log.contexts {
		found = found || ctx.Value(traceKey{}) == "the API key"
	}
	assert.True(t, found, "the call's hook gets the context of the request that caused it")
}

// The fetch a request waits for is reported with that request's context
// (its values: a span, a trace ID), though it runs detached from it.
func TestHooksKeyFetchContext(t *testing.T) {
	var fetchCtx context.Context
	iss := clerktest.NewIssuer(t)
	auth := iss.MustAuth(func(c *clerkauth.Config) {
		c.Hooks.KeyFetch = func(ctx context.Context, _ clerkauth.KeyFetchInfo) { fetchCtx = ctx }
	})
	r := httptest.NewRequest("GET", "/api/data", nil).WithContext(context.WithValue(context.Background(), traceKey{}, "the first request"))
	h := auth.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	require.Equal(t, 200, serve(h, bearer(r, iss.MustSessionToken("user_1"))).status)
	require.NotNil(t, fetchCtx, "the request waited for the fetch, so its hook has run")
	assert.Equal(t, "the first request", fetchCtx.Value(traceKey{}))
}

func withoutDuration(c clerkauth.BackendAPICallInfo) clerkauth.BackendAPICallInfo {
	c.Duration = 0
	return c
}

func TestHooksCookieSideAndCurrentUser(t *testing.T) {
	var log hookLog
	p := newPageApp(t, true, func(c *clerkauth.Config) { c.Hooks = log.hooks() })
	r := httptest.NewRequest("GET", "/?__clerk_handshake_nonce=nonce_unknown", nil)
	r.Header.Set("Cookie", "__clerkauth_handshake=1")
	serve(p.srv.Config.Handler, r)
	expired := p.iss.MustSessionToken("user_1", clerktest.WithExpiry(-time.Minute), clerktest.WithSessionID("sess_h"))
	r = httptest.NewRequest("GET", "/dashboard", nil)
	r.Header.Set("Sec-Fetch-Dest", "document")
	r.Header.Set("Cookie", "__session="+expired+"; __client_uat=1; __refresh_"+p.sfx+"=rt_bad")
	serve(p.srv.Config.Handler, r)

	api := newFakeBackendAPI(t, "sk_live_secret", nil)
	auth := p.iss.MustAuth(func(c *clerkauth.Config) {
		c.SecretKey, c.APIURL, c.Hooks = "sk_live_secret", api.srv.URL+"/v1", log.hooks()
	})
	_, err := auth.CurrentUser(signedIn("user_1"))
	require.NoError(t, err)
	_, err = auth.CurrentUser(signedIn("user_gone"))
	require.Error(t, err)

	log.mu.Lock()
	defer log.mu.Unlock()
	var got []string
	for _, c := range log.calls {
		got = append(got, fmt.Sprintf("%s %s %d", c.Method, c.Endpoint, c.Status))
	}
	assert.Equal(t, []string{
		"GET /v1/clients/handshake_payload 404",
		"POST /v1/sessions/{sid}/refresh 401",
		"GET /v1/users/{id} 200",
		"GET /v1/users/{id} 404",
	}, got)
}

func TestHooksWebhookDelivery(t *testing.T) {
	var log hookLog
	f := newWebhookFixture(t, func(c *clerkauth.WebhookConfig) { c.Hooks = log.hooks() })
	body := readFixture(t, "user.created")
	f.serve(f.signed(t, "msg_1", webhookNow, body))
	f.serve(f.signed(t, "msg_1", webhookNow, body))
	bad := f.signed(t, "msg_2", webhookNow, body)
	bad.Header.Set("svix-signature", "v1,AAAA")
	f.serve(bad)
	f.rec.fail.Store(1)
	f.serve(f.signed(t, "msg_3", webhookNow, body))
	f.serve(httptest.NewRequest("GET", "/api/webhooks/clerk", nil))

	var got []string
	for _, d := range log.deliveries {
		got = append(got, fmt.Sprintf("%s %s %d %s %v", d.Type, d.Outcome, d.Status, d.Reason, d.Duplicate))
	}
	assert.Equal(t, []string{
		"user.created delivered 200  false",
		"user.created duplicate 200  true",
		" refused 400 invalid-signature false",
		"user.created failed 500 callback-failed false",
		" refused 405 method-not-allowed false",
	}, got)
}

// Every refusal is logged at debug level with its reason, through the
// request's context; nothing about the token.
func TestRefusalsLoggedAtDebug(t *testing.T) {
	logs := &testutil.LockedBuffer{}
	iss := clerktest.NewIssuer(t)
	auth := iss.MustAuth(func(c *clerkauth.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	h := auth.Middleware(auth.Require(clerkauth.Role("org:admin"))(http.NotFoundHandler()))
	expired := iss.MustSessionToken("user_1", clerktest.WithExpiry(-time.Hour))
	serve(h, bearer(httptest.NewRequest("GET", "/api/x?secret=1", nil), expired))
	serve(h, bearer(httptest.NewRequest("GET", "/api/x", nil), iss.MustSessionToken("user_1")))
	out := logs.String()
	assert.Contains(t, out, "reason=token-expired")
	assert.Contains(t, out, "status=401")
	assert.Contains(t, out, "reason=missing-role")
	assert.Contains(t, out, "status=403")
	assert.NotContains(t, out, expired[:20])
	assert.NotContains(t, out, "secret=1", "the query is not logged")
	assert.Equal(t, 2, strings.Count(out, "request refused"))
}

// Hooks cost no allocation on the hot path.
func TestHooksAllocNothing(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	token := iss.MustSessionToken("user_1")
	noop := clerkauth.Hooks{Decision: func(context.Context, clerkauth.DecisionInfo) {}}
	allocs := func(hooks clerkauth.Hooks) float64 {
		auth := iss.MustAuth(func(c *clerkauth.Config) { c.Hooks = hooks })
		h := auth.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		r := bearer(httptest.NewRequest("GET", "/api/x", nil), token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) })
	}
	assert.Equal(t, allocs(clerkauth.Hooks{}), allocs(noop))
}
