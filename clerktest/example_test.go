package clerktest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

// meHandler is the application code under test.
func meHandler(w http.ResponseWriter, r *http.Request) {
	id := clerkauth.IdentityOrEmpty(r.Context()) // never nil, even if the route becomes public
	fmt.Fprintf(w, "%s is %s in %s\n", id.UserID, id.OrgRole, id.OrgSlug)
}

// In a test, pass t to NewIssuer; the issuer's JWKS server lives until the
// test ends.
func Example() {
	t := newExampleT()
	defer t.cleanup()

	iss := clerktest.NewIssuer(t)
	auth := iss.MustAuth(func(c *clerkauth.Config) { c.PublicRoutes = []string{"/"} })
	h := auth.Middleware(http.HandlerFunc(meHandler))

	req := httptest.NewRequest("GET", "/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+iss.MustSessionToken("user_123", clerktest.WithOrg("org_1", "acme", "admin")))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Body.String())

	req = httptest.NewRequest("GET", "/api/me", nil) // no token
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// 200 user_123 is org:admin in acme
	// 401 {"error":"unauthenticated","reason":"session-token-missing"}
}

// Handlers can also be tested without tokens at all.
func ExampleIdentity() {
	id := clerktest.Identity("user_123")
	id.OrgSlug, id.OrgRole = "acme", "org:member"
	req := httptest.NewRequest("GET", "/api/me", nil)
	req = req.WithContext(clerkauth.ContextWithIdentity(req.Context(), id))
	rec := httptest.NewRecorder()
	meHandler(rec, req)
	fmt.Print(rec.Body.String())
	// Output:
	// user_123 is org:member in acme
}

func ExampleNewWebhookRequest() {
	t := newExampleT()
	defer t.cleanup()

	secret := clerktest.NewWebhookSecret()
	wh, _ := clerkauth.NewWebhookHandler(clerkauth.WebhookConfig{
		Secret: secret,
		Users: clerkauth.UserEventFuncs{Deleted: func(ctx context.Context, e *clerkauth.UserDeletedEvent) error {
			fmt.Println("deleting", e.UserID)
			return nil
		}},
	})
	req := clerktest.NewWebhookRequest(t, "/api/webhooks/clerk", secret, "msg_1", time.Now(), "user.deleted",
		map[string]any{"id": "user_123", "object": "user", "deleted": true})
	rec := httptest.NewRecorder()
	wh.ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// deleting user_123
	// 200 {"status":"ok"}
}

// exampleT stands in for the *testing.T a real test passes.
type exampleT struct {
	testing.TB
	cleanups []func()
}

func newExampleT() *exampleT                          { return &exampleT{} }
func (t *exampleT) Helper()                           {}
func (t *exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (t *exampleT) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}
