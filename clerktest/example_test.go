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
	id, ok := clerkauth.IdentityFromContext(r.Context())
	if !ok { // only if the route becomes public
		http.Error(w, "not signed in", http.StatusUnauthorized)
		return
	}
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
		Users: clerkauth.UserEventFuncs{Deleted: func(ctx context.Context, e *clerkauth.DeletedEvent) error {
			fmt.Println("deleting", e.ID)
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

// A development instance applies the dev browser rules: a request with
// neither a token nor a dev browser (curl, say) is refused with
// dev-browser-missing; a Bearer token needs no dev browser.
func ExampleNewDevelopmentIssuer() {
	t := newExampleT()
	defer t.cleanup()

	iss := clerktest.NewDevelopmentIssuer(t) // Config has a pk_test_ key
	h := iss.MustAuth(nil).Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := clerkauth.IdentityFromContext(r.Context()) // the route is protected
		fmt.Fprintln(w, "hello", id.UserID)
	}))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/me", nil))
	fmt.Print(rec.Code, " ", rec.Header().Get("X-Clerk-Auth-Reason"), "\n")

	req := httptest.NewRequest("GET", "/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+iss.MustSessionToken("user_123"))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// 401 dev-browser-missing
	// 200 hello user_123
}

// A built user is the data of a user.created delivery, in Clerk's JSON.
func ExampleUser() {
	t := newExampleT()
	defer t.cleanup()

	secret := clerktest.NewWebhookSecret()
	wh, _ := clerkauth.NewWebhookHandler(clerkauth.WebhookConfig{
		Secret: secret,
		Users: clerkauth.UserEventFuncs{Created: func(ctx context.Context, e *clerkauth.UserEvent) error {
			fmt.Println("welcome", *e.User.FirstName, clerkauth.PrimaryEmail(e.User))
			return nil
		}},
	})
	u := clerktest.User{ID: "user_123", Email: "ada@example.com", FirstName: "Ada"}
	rec := httptest.NewRecorder()
	wh.ServeHTTP(rec, clerktest.NewWebhookRequest(t, "/api/webhooks/clerk", secret, "msg_1", time.Now(), "user.created", u))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// welcome Ada ada@example.com
	// 200 {"status":"ok"}
}

// Memberships carry the organization and the member; roles and
// permissions are sent with Clerk's org: prefix.
func ExampleMembership() {
	t := newExampleT()
	defer t.cleanup()

	secret := clerktest.NewWebhookSecret()
	wh, _ := clerkauth.NewWebhookHandler(clerkauth.WebhookConfig{
		Secret: secret,
		Memberships: clerkauth.MembershipEventFuncs{Created: func(ctx context.Context, e *clerkauth.MembershipEvent) error {
			m := e.Membership
			fmt.Println(m.PublicUserData.UserID, "joined", m.Organization.Slug, "as", m.Role)
			return nil
		}},
	})
	m := clerktest.Membership{
		Organization: clerktest.Organization{ID: "org_1", Name: "Acme", Slug: "acme"},
		User:         clerktest.User{ID: "user_123", Email: "ada@example.com"},
		Role:         "admin",
	}
	rec := httptest.NewRecorder()
	wh.ServeHTTP(rec, clerktest.NewWebhookRequest(t, "/api/webhooks/clerk", secret, "msg_1", time.Now(), "organizationMembership.created", m))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// user_123 joined acme as org:admin
	// 200 {"status":"ok"}
}

// The fake Backend API answers CurrentUser with the users set on it.
func ExampleBackendAPI_SetUser() {
	t := newExampleT()
	defer t.cleanup()

	iss := clerktest.NewIssuer(t)
	bapi := clerktest.NewBackendAPI(t, iss)
	auth := iss.MustAuth(bapi.Configure)
	bapi.SetUser(clerktest.User{ID: "user_123", Email: "ada@example.com", FirstName: "Ada"})

	h := auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := auth.CurrentUser(r.Context())
		if err != nil {
			http.Error(w, "no user", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, *u.FirstName, clerkauth.PrimaryEmail(u))
	}))
	req := httptest.NewRequest("GET", "/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+iss.MustSessionToken("user_123"))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// 200 Ada ada@example.com
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
