package clerkauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

// Every request to Clerk carries Clerk-API-Version (the version
// @clerk/backend 3.25.0 sends) and a User-Agent naming clerkauth: key
// fetches, machine-token verification, the handshake nonce, CurrentUser.
func TestRequestsToClerkNameTheAPIVersionAndClient(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	var mu sync.Mutex
	seen := map[string]http.Header{}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path] = r.Header.Clone()
		mu.Unlock()
		switch {
		case r.URL.Path == "/v1/jwks":
			w.Write(iss.MustJWKS())
		case strings.HasPrefix(r.URL.Path, "/v1/users/"):
			json.NewEncoder(w).Encode(map[string]any{"object": "user", "id": "user_1"})
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"errors":[{"code":"resource_not_found"}]}`))
		}
	}))
	t.Cleanup(api.Close)
	auth, err := clerkauth.New(clerkauth.Config{
		SecretKey: "sk_live_x", APIURL: api.URL + "/v1", PublishableKey: clerktest.PublishableKey("clerk.clerktest.example", true),
		JWTKey: "", IssuerDomain: "", AcceptsToken: []clerkauth.TokenType{clerkauth.SessionToken, clerkauth.APIKey},
	})
	require.NoError(t, err)
	_, err = auth.VerifyCredential(context.Background(), "ak_unknown")
	require.Error(t, err)
	_, err = auth.CurrentUser(signedIn("user_1"))
	require.NoError(t, err)
	r := httptest.NewRequest("GET", "/?__clerk_handshake_nonce=nonce_1", nil)
	r.Header.Set("Cookie", "__clerkauth_handshake=1")
	auth.AuthenticateRequest(r)

	mu.Lock()
	defer mu.Unlock()
	for _, path := range []string{"/api_keys/verify", "/v1/users/user_1", "/v1/clients/handshake_payload"} {
		h, ok := seen[path]
		require.True(t, ok, "%s was called", path)
		if path != "/v1/users/user_1" { // clerk-sdk-go names the version its types decode
			assert.Equal(t, "2026-05-12", h.Get("Clerk-API-Version"), path)
		}
		assert.NotEmpty(t, h.Get("Clerk-API-Version"), path)
		assert.True(t, strings.HasPrefix(h.Get("User-Agent"), "clerkauth/"), "%s: %s", path, h.Get("User-Agent"))
	}
}
