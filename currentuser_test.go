package clerkauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/internal/testutil"
)

// fakeBackendAPI serves GET /v1/users/{id} for the users it knows, and
// counts requests. gate, when set, holds every answer until closed.
type fakeBackendAPI struct {
	srv      *httptest.Server
	requests atomic.Int64
	gate     chan struct{}
}

func newFakeBackendAPI(t *testing.T, secret string, gate chan struct{}) *fakeBackendAPI {
	f := &fakeBackendAPI{gate: gate}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		if f.gate != nil {
			<-f.gate
		}
		if r.Header.Get("Authorization") != "Bearer "+secret {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"errors":[{"code":"authentication_invalid","message":"invalid key"}]}`))
			return
		}
		id, ok := strings.CutPrefix(r.URL.Path, "/v1/users/")
		if !ok || !strings.HasPrefix(id, "user_") || id == "user_gone" {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"errors":[{"code":"resource_not_found","message":"not found"}]}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"object": "user", "id": id, "first_name": "Ada", "email_addresses": []any{}})
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func signedIn(userID string) context.Context {
	return clerkauth.ContextWithIdentity(context.Background(), clerktest.Identity(userID))
}

func TestCurrentUser(t *testing.T) {
	iss := shared(t)
	api := newFakeBackendAPI(t, "sk_live_secret", nil)
	clock := testutil.NewFakeClock(time.Now())
	auth := iss.MustAuth(func(c *clerkauth.Config) {
		c.SecretKey = "sk_live_secret"
		c.APIURL = api.srv.URL + "/v1"
		c.Now = clock.Now
	})

	u, err := auth.CurrentUser(signedIn("user_1"))
	require.NoError(t, err)
	assert.Equal(t, "user_1", u.ID)
	assert.Equal(t, "Ada", *u.FirstName)

	_, err = auth.CurrentUser(signedIn("user_1"))
	require.NoError(t, err)
	assert.Equal(t, int64(1), api.requests.Load(), "cached")

	clock.Advance(31 * time.Second)
	_, err = auth.CurrentUser(signedIn("user_1"))
	require.NoError(t, err)
	assert.Equal(t, int64(2), api.requests.Load(), "the cache is short")

	_, err = auth.CurrentUser(signedIn("user_gone"))
	assert.ErrorIs(t, err, clerkauth.ErrUserNotFound)

	_, err = auth.CurrentUser(context.Background())
	assert.ErrorIs(t, err, clerkauth.ErrNotSignedIn)

	noSecret := iss.MustAuth(nil)
	_, err = noSecret.CurrentUser(signedIn("user_1"))
	assert.ErrorIs(t, err, clerkauth.ErrNoSecretKey)
	assert.Contains(t, err.Error(), "CLERK_SECRET_KEY")

	wrongSecret := iss.MustAuth(func(c *clerkauth.Config) { c.SecretKey = "sk_live_wrong"; c.APIURL = api.srv.URL + "/v1" })
	_, err = wrongSecret.CurrentUser(signedIn("user_1"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "401")
	assert.NotContains(t, err.Error(), "sk_live_wrong")
}

func TestCurrentUserConcurrentCallersShareOneRequest(t *testing.T) {
	iss := shared(t)
	gate := make(chan struct{})
	api := newFakeBackendAPI(t, "sk_live_secret", gate)
	auth := iss.MustAuth(func(c *clerkauth.Config) { c.SecretKey = "sk_live_secret"; c.APIURL = api.srv.URL + "/v1" })

	var wg sync.WaitGroup
	var failures atomic.Int64
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if u, err := auth.CurrentUser(signedIn("user_1")); err != nil || u.ID != "user_1" {
				failures.Add(1)
			}
		}()
	}
	require.Eventually(t, func() bool { return api.requests.Load() == 1 }, 10*time.Second, time.Millisecond)
	close(gate)
	wg.Wait()
	assert.Zero(t, failures.Load())
	assert.Equal(t, int64(1), api.requests.Load())

	// A caller that gives up does not wait for the request.
	ctx, cancel := context.WithCancel(signedIn("user_2"))
	cancel()
	api.gate = make(chan struct{})
	defer close(api.gate)
	_, err := auth.CurrentUser(ctx)
	assert.True(t, errors.Is(err, context.Canceled))
}
