package clerkauth_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/internal/testutil"
)

type templateSetup struct {
	iss   *clerktest.Issuer
	bapi  *clerktest.BackendAPI
	clock *testutil.FakeClock
	auth  *clerkauth.Auth

	mu    sync.Mutex
	calls []clerkauth.BackendAPICallInfo
}

func newTemplateSetup(t *testing.T, edit func(*clerkauth.Config)) *templateSetup {
	t.Helper()
	s := &templateSetup{iss: clerktest.NewIssuer(t), clock: testutil.NewFakeClock(time.Now())}
	s.iss.SetNow(s.clock.Now)
	s.bapi = clerktest.NewBackendAPI(t, s.iss)
	s.auth = s.iss.MustAuth(func(c *clerkauth.Config) {
		s.bapi.Configure(c)
		c.Now = s.clock.Now
		c.Audience = []string{"convex", "hasura"}
		c.Hooks.BackendAPICall = func(_ context.Context, info clerkauth.BackendAPICallInfo) {
			s.mu.Lock()
			s.calls = append(s.calls, info)
			s.mu.Unlock()
		}
		if edit != nil {
			edit(c)
		}
	})
	return s
}

func (s *templateSetup) apiCalls(user, template string) int {
	return s.bapi.Calls("/v1/sessions/sess_" + user + "/tokens/" + template)
}

func TestTemplateToken(t *testing.T) {
	s := newTemplateSetup(t, nil)
	ctx := signedIn("user_1")

	jwt, err := s.auth.TemplateToken(ctx, "convex")
	require.NoError(t, err)
	id, err := s.auth.VerifyToken(context.Background(), jwt)
	require.NoError(t, err, "the template token verifies with the instance's keys")
	assert.Equal(t, "user_1", id.UserID)
	assert.Equal(t, []string{"convex"}, id.Audience)
	assert.Equal(t, "sess_user_1", id.SessionID)

	again, err := s.auth.TemplateToken(ctx, "convex")
	require.NoError(t, err)
	assert.Equal(t, jwt, again)
	assert.Equal(t, 1, s.apiCalls("user_1", "convex"), "the second call is a cache hit")

	_, err = s.auth.TemplateToken(ctx, "hasura")
	require.NoError(t, err)
	_, err = s.auth.TemplateToken(signedIn("user_2"), "convex")
	require.NoError(t, err)
	assert.Equal(t, 1, s.apiCalls("user_1", "hasura"), "cached per template")
	assert.Equal(t, 1, s.apiCalls("user_2", "convex"), "and per session")

	inOrg := func(org string) context.Context {
		id := clerktest.Identity("user_1")
		id.OrgID = org
		return clerkauth.ContextWithIdentity(context.Background(), id)
	}
	_, err = s.auth.TemplateToken(inOrg("org_1"), "convex")
	require.NoError(t, err)
	_, err = s.auth.TemplateToken(inOrg("org_1"), "convex")
	require.NoError(t, err)
	assert.Equal(t, 2, s.apiCalls("user_1", "convex"), "and per active organization: a switch fetches anew")

	s.mu.Lock()
	defer s.mu.Unlock()
	require.Len(t, s.calls, 4)
	for _, c := range s.calls {
		assert.Equal(t, "/v1/sessions/{sid}/tokens/{template}", c.Endpoint)
		assert.Equal(t, http.MethodPost, c.Method)
		assert.Equal(t, http.StatusOK, c.Status)
	}
}

func TestTemplateTokenRefreshesBeforeExpiry(t *testing.T) {
	s := newTemplateSetup(t, nil)
	ctx := signedIn("user_1")
	start := s.clock.Now()
	_, err := s.auth.TemplateToken(ctx, "convex") // exp: an hour from now
	require.NoError(t, err)

	s.clock.Set(start.Add(time.Hour - 16*time.Second))
	_, err = s.auth.TemplateToken(ctx, "convex")
	require.NoError(t, err)
	assert.Equal(t, 1, s.apiCalls("user_1", "convex"), "16s before exp: still cached")

	s.clock.Set(start.Add(time.Hour - 14*time.Second))
	jwt, err := s.auth.TemplateToken(ctx, "convex")
	require.NoError(t, err)
	assert.Equal(t, 2, s.apiCalls("user_1", "convex"), "14s before exp: fetched again")
	id, err := s.auth.VerifyToken(context.Background(), jwt)
	require.NoError(t, err)
	assert.Equal(t, s.clock.Now().Add(time.Hour).Unix(), id.ExpiresAt.Unix(), "the new token")
}

func TestTemplateTokenConcurrentCallersShareOneRequest(t *testing.T) {
	s := newTemplateSetup(t, nil)
	const n = 8
	joined := make(chan struct{}, n)
	clerkauth.OnTemplateTokenJoin(s.auth, func() { joined <- struct{}{} })
	release := s.bapi.HoldVerifications()
	defer release()

	ctx := signedIn("user_1")
	tokens := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { tokens[i], errs[i] = s.auth.TemplateToken(ctx, "convex") })
	}
	for range n - 1 {
		<-joined // every caller but the first waits on the first's call
	}
	release()
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, tokens[0], tokens[i])
	}
	assert.Equal(t, 1, s.apiCalls("user_1", "convex"))
}

func TestTemplateTokenFailures(t *testing.T) {
	t.Run("not signed in", func(t *testing.T) {
		s := newTemplateSetup(t, nil)
		for name, ctx := range map[string]context.Context{
			"no identity":   context.Background(),
			"no session id": clerkauth.ContextWithIdentity(context.Background(), &clerkauth.Identity{UserID: "user_1"}),
			"a machine":     clerkauth.ContextWithIdentity(context.Background(), &clerkauth.Identity{TokenType: clerkauth.M2MToken, SessionID: "sess_x", Subject: "mch_1"}),
		} {
			_, err := s.auth.TemplateToken(ctx, "convex")
			assert.ErrorIs(t, err, clerkauth.ErrNotSignedIn, name)
			assert.ErrorContains(t, err, "TemplateToken", name)
		}
		assert.Empty(t, s.calls)
	})
	t.Run("no secret key", func(t *testing.T) {
		iss := clerktest.NewIssuer(t)
		auth := iss.MustAuth(nil)
		_, err := auth.TemplateToken(signedIn("user_1"), "convex")
		assert.ErrorIs(t, err, clerkauth.ErrNoSecretKey)
		assert.ErrorContains(t, err, "TemplateToken needs the secret key")
	})
	t.Run("bad template name", func(t *testing.T) {
		s := newTemplateSetup(t, nil)
		for _, name := range []string{"", string(make([]byte, 257))} {
			_, err := s.auth.TemplateToken(signedIn("user_1"), name)
			assert.ErrorContains(t, err, "template name")
		}
	})
	t.Run("budget spent", func(t *testing.T) {
		s := newTemplateSetup(t, func(c *clerkauth.Config) { c.BackendAPIRate = 1; c.BackendAPIConcurrency = 1 })
		_, err := s.auth.TemplateToken(signedIn("user_1"), "convex")
		require.NoError(t, err)
		_, err = s.auth.TemplateToken(signedIn("user_2"), "convex") // the clock stands still: no refill
		assert.ErrorContains(t, err, "budget")
		assert.Equal(t, 0, s.apiCalls("user_2", "convex"), "refused before the call")
		_, err = s.auth.TemplateToken(signedIn("user_1"), "convex")
		assert.NoError(t, err, "a cached token needs no budget")
		s.clock.Advance(time.Second)
		_, err = s.auth.TemplateToken(signedIn("user_2"), "convex")
		assert.NoError(t, err, "the budget refills")
	})
	t.Run("Backend API errors are not cached and name no token", func(t *testing.T) {
		s := newTemplateSetup(t, nil)
		ctx := signedIn("user_1")
		for status, want := range map[int]string{
			http.StatusNotFound:            `is there a JWT template named "convex"`,
			http.StatusUnauthorized:        "answered 401 (injected); check CLERK_SECRET_KEY",
			http.StatusInternalServerError: "answered 500",
		} {
			s.bapi.FailVerifications(status)
			_, err := s.auth.TemplateToken(ctx, "convex")
			assert.ErrorContains(t, err, want)
		}
		s.bapi.FailVerifications(0)
		jwt, err := s.auth.TemplateToken(ctx, "convex")
		require.NoError(t, err)
		assert.NotEmpty(t, jwt)
		assert.Equal(t, 4, s.apiCalls("user_1", "convex"))
	})
	t.Run("a caller that gives up does not fail the others", func(t *testing.T) {
		s := newTemplateSetup(t, nil)
		release := s.bapi.HoldVerifications()
		ctx, cancel := context.WithCancel(signedIn("user_1"))
		cancel()
		_, err := s.auth.TemplateToken(ctx, "convex")
		assert.True(t, errors.Is(err, context.Canceled))
		release()
		_, err = s.auth.TemplateToken(signedIn("user_1"), "convex")
		assert.NoError(t, err)
	})
}

// A handler that calls Convex (or Hasura, Supabase, …) on the user's
// behalf forwards the session's JWT-template token.
func ExampleAuth_TemplateToken() {
	auth, err := clerkauth.New(clerkauth.Config{}) // CLERK_SECRET_KEY, CLERK_PUBLISHABLE_KEY from the environment
	if err != nil {
		log.Fatal(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := auth.TemplateToken(r.Context(), "convex") // the template's name in Dashboard → JWT templates
		if err != nil {
			http.Error(w, "upstream unavailable", http.StatusBadGateway) // err never carries a token, but stays in your logs
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, "https://happy-otter-123.convex.cloud/api/query", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, "upstream unavailable", http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		fmt.Fprintln(w, "…")
	})
	http.Handle("/api/", auth.Middleware(api))
}
