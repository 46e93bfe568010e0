package clerkauth_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/internal/clerkjs"
)

// seenRequest is what the Backend API got, less what differs by client
// (User-Agent, Content-Length, connection headers).
type seenRequest struct {
	Method, Path, Authorization, APIVersion, Body string
}

// TestTemplateTokenAgreesWithClerk asks for the same template tokens with
// @clerk/backend 3.25.0's sessions.getToken and with TemplateToken,
// through one recording proxy in front of the fake Backend API, and
// compares the requests sent and the answers. Difference, listed: a
// template name holding "/" is one path segment for clerkauth (escaped)
// and splits the path for Clerk, so it is not among the cases.
func TestTemplateTokenAgreesWithClerk(t *testing.T) {
	s := newTemplateSetup(t, nil)
	target, err := url.Parse(s.bapi.URL)
	require.NoError(t, err)
	var mu sync.Mutex
	var seen []seenRequest
	proxy := httputil.NewSingleHostReverseProxy(target)
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, seenRequest{r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"), r.Header.Get("Clerk-API-Version"), string(body)})
		mu.Unlock()
		r.Body = io.NopCloser(http.NoBody)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(rec.Close)
	auth := s.iss.MustAuth(func(c *clerkauth.Config) {
		s.bapi.Configure(c)
		c.APIURL = rec.URL + "/v1"
		c.Now = s.clock.Now
		c.Audience = []string{"convex"}
	})

	type tc struct {
		SID      string `json:"sid"`
		Template string `json:"template"`
	}
	cases := []tc{{"sess_user_1", "convex"}, {"sess_user_2", "supabase-prod"}, {"sess_user_3", "my template"}, {"sess_user_4", "ünïcode"}, {"nobody", "convex"}}
	var clerk []struct {
		JWT   string `json:"jwt"`
		Error any    `json:"error"`
	}
	clerkjs.Run(t, "templatetoken.mjs", map[string]any{"options": map[string]any{"secretKey": s.bapi.SecretKey, "apiUrl": rec.URL}, "cases": cases}, &clerk)
	require.Len(t, clerk, len(cases))
	mu.Lock()
	clerkSeen := seen
	seen = nil
	mu.Unlock()
	require.Len(t, clerkSeen, len(cases))

	for i, c := range cases {
		t.Run(c.Template+" for "+c.SID, func(t *testing.T) {
			id := &clerkauth.Identity{UserID: "user_x", SessionID: c.SID}
			jwt, err := auth.TemplateToken(clerkauth.ContextWithIdentity(context.Background(), id), c.Template)
			mu.Lock()
			require.Len(t, seen, i+1)
			ours := seen[i]
			mu.Unlock()
			assert.Equal(t, clerkSeen[i], ours, "the request")
			if clerk[i].Error != nil {
				assert.EqualValues(t, 404, clerk[i].Error)
				assert.ErrorContains(t, err, "answered 404")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, clerk[i].JWT, jwt, "the token (the fake's clock stands still: it mints the same one)")
		})
	}
}
