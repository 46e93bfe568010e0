package clerkauth_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
)

// TestPanickingHookFailsClosed: a hook that panics on the goroutine of a
// shared call (a key fetch, a Backend API call) would end the process,
// whatever the server's recovery. The call fails instead, every request
// that waited for it is answered 503, and nothing is remembered: the
// budget is given back (more requests than BackendAPIConcurrency never
// turn into machine-verifier-busy) and the next request tries again.
func TestPanickingHookFailsClosed(t *testing.T) {
	hooks := clerkauth.Hooks{
		KeyFetch:       func(context.Context, clerkauth.KeyFetchInfo) { panic("a bug in a KeyFetch hook") },
		BackendAPICall: func(context.Context, clerkauth.BackendAPICallInfo) { panic("a bug in a BackendAPICall hook") },
	}
	f := newMachineFixture(t, func(c *clerkauth.Config) { c.Hooks, c.BackendAPIConcurrency = hooks, 2 })

	t.Run("key fetch", func(t *testing.T) {
		res := f.get(f.iss.MustSessionToken("user_1"))
		assert.Equal(t, 503, res.status)
		assert.Equal(t, string(clerkauth.ReasonJWKRemoteFailedToLoad), res.header.Get("X-Clerk-Auth-Reason"))
	})
	t.Run("machine token", func(t *testing.T) {
		key := f.bapi.CreateAPIKey("user_1", "k", nil, nil, 0).Secret
		for range 5 {
			res := f.get(key)
			assert.Equal(t, 503, res.status)
			assert.Equal(t, string(clerkauth.ReasonUnexpectedError), res.header.Get("X-Clerk-Auth-Reason"))
		}
		assert.Equal(t, 5, f.bapi.VerifyCalls(), "no verdict remembered: each request asked again")
	})
	t.Run("CurrentUser", func(t *testing.T) {
		api := newFakeBackendAPI(t, "sk_live_secret", nil)
		auth := f.iss.MustAuth(func(c *clerkauth.Config) {
			c.SecretKey, c.APIURL, c.Hooks = "sk_live_secret", api.srv.URL+"/v1", hooks
		})
		u, err := auth.CurrentUser(signedIn("user_1"))
		require.Error(t, err)
		assert.Nil(t, u)
		assert.Contains(t, err.Error(), "clerkauth: CurrentUser")
	})
}
