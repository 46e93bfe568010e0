package clerkauth_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

// A development instance's publishable key: it names the Frontend API host
// (happy-otter-12.clerk.accounts.dev), which gives the issuer, the JWKS URL
// and the Account Portal's sign-in page. New makes no network request.
const examplePublishableKey = "pk_test_aGFwcHktb3R0ZXItMTIuY2xlcmsuYWNjb3VudHMuZGV2JA=="

func ExampleNew() {
	auth, err := clerkauth.New(clerkauth.Config{
		PublishableKey:    examplePublishableKey,
		PublicRoutes:      []string{"/", "/sign-in(.*)", "/api/webhooks(.*)"},
		AuthorizedParties: []string{"https://app.example.com"},
	})
	if err != nil {
		log.Fatal(err) // every misconfiguration is reported here, with the fix
	}
	_ = auth

	// A mismatch between the keys is caught before the first request.
	_, err = clerkauth.New(clerkauth.Config{PublishableKey: examplePublishableKey, SecretKey: "sk_live_…"})
	fmt.Println(err)
	// Output:
	// clerkauth: CLERK_SECRET_KEY is a production (live) key but CLERK_PUBLISHABLE_KEY is a development (test) key; use keys from the same instance (a mismatch causes silent failures)
}

func ExampleAuth_Middleware() {
	auth, err := clerkauth.New(clerkauth.Config{
		// A production instance whose Frontend API is clerk.example.com.
		// (On a development instance, a browser is first sent through
		// Clerk's handshake to get its dev browser cookie.)
		PublishableKey: "pk_live_Y2xlcmsuZXhhbXBsZS5jb20k",
		PublicRoutes:   []string{"/", "/sign-in(.*)"},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "welcome") })
	mux.HandleFunc("/api/me", func(w http.ResponseWriter, r *http.Request) {
		if id, ok := clerkauth.IdentityFromContext(r.Context()); ok {
			fmt.Fprintln(w, id.UserID)
		}
	})
	handler := auth.Middleware(mux) // http.ListenAndServe(":8080", handler)

	for _, path := range []string{"/", "/api/me"} {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		fmt.Print(path, " ", rec.Code, " ", rec.Body.String())
	}

	// A browser navigation to a protected page goes to the sign-in page.
	req := httptest.NewRequest("GET", "https://app.example.com/dashboard", nil)
	req.Header.Set("Sec-Fetch-Dest", "document")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("Location"))
	// Output:
	// / 200 welcome
	// /api/me 401 {"error":"unauthenticated","reason":"session-token-missing"}
	// 307 https://accounts.example.com/sign-in?redirect_url=https%3A%2F%2Fapp.example.com%2Fdashboard
}

func ExampleAuth_Require() {
	auth, err := clerkauth.New(clerkauth.Config{PublishableKey: examplePublishableKey})
	if err != nil {
		log.Fatal(err)
	}
	invoices := auth.Require(clerkauth.Permission("org:invoices:create"))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "invoice created") }))

	// In production the middleware puts the identity into the context;
	// here a test does it by hand.
	for _, perms := range [][]string{{"org:invoices:read"}, {"org:invoices:read", "org:invoices:create"}} {
		id := &clerkauth.Identity{UserID: "user_123", OrgID: "org_1", OrgRole: "org:member", OrgPermissions: perms}
		req := httptest.NewRequest("POST", "/api/invoices", nil)
		req = req.WithContext(clerkauth.ContextWithIdentity(req.Context(), id))
		rec := httptest.NewRecorder()
		invoices.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 403 {"error":"forbidden","reason":"missing-permission"}
	// 200 invoice created
}

// serveAs runs h for a request whose identity is id, as the middleware
// would, and prints the answer.
func serveAs(h http.Handler, id *clerkauth.Identity) {
	req := httptest.NewRequest("POST", "/", nil)
	req = req.WithContext(clerkauth.ContextWithIdentity(req.Context(), id))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Body.String())
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })

// Feature gates a route on a billing feature: "reports" is the
// organization's or the user's, "org:reports" only the organization's.
func ExampleFeature() {
	auth, _ := clerkauth.New(clerkauth.Config{PublishableKey: examplePublishableKey})
	h := auth.Require(clerkauth.Feature("org:reports"))(ok)
	serveAs(h, &clerkauth.Identity{UserID: "user_1", Features: []clerkauth.Entitlement{{Name: "reports", User: true}}})
	serveAs(h, &clerkauth.Identity{UserID: "user_1", Features: []clerkauth.Entitlement{{Name: "reports", Org: true}}})
	// Output:
	// 403 {"error":"forbidden","reason":"missing-feature"}
	// 200 ok
}

// Plan gates a route on a billing plan.
func ExamplePlan() {
	auth, _ := clerkauth.New(clerkauth.Config{PublishableKey: examplePublishableKey})
	h := auth.Require(clerkauth.Plan("pro"))(ok)
	serveAs(h, &clerkauth.Identity{UserID: "user_1", Plans: []clerkauth.Entitlement{{Name: "free", User: true}}})
	serveAs(h, &clerkauth.Identity{UserID: "user_1", Plans: []clerkauth.Entitlement{{Name: "pro", Org: true}}})
	// Output:
	// 403 {"error":"forbidden","reason":"missing-plan"}
	// 200 ok
}

// Reverification asks for a recent verification before a sensitive
// action; the 403 is the body clerk-js's useReverification() acts on.
func ExampleReverification() {
	auth, _ := clerkauth.New(clerkauth.Config{PublishableKey: examplePublishableKey})
	h := auth.Require(clerkauth.Reverification(clerkauth.Strict))(ok)
	serveAs(h, &clerkauth.Identity{UserID: "user_1", FactorAge: [2]int{45, 45}}) // verified 45 minutes ago
	serveAs(h, &clerkauth.Identity{UserID: "user_1", FactorAge: [2]int{45, 2}})  // second factor 2 minutes ago
	// Output:
	// 403 {"clerk_error":{"type":"forbidden","reason":"reverification-error","metadata":{"reverification":{"level":"second_factor","afterMinutes":10}}}}
	// 200 ok
}

// AnyOf lets either an admin or a paying organization in.
func ExampleAnyOf() {
	auth, _ := clerkauth.New(clerkauth.Config{PublishableKey: examplePublishableKey})
	h := auth.Require(clerkauth.AnyOf(clerkauth.Role("admin"), clerkauth.Plan("org:pro")))(ok)
	serveAs(h, &clerkauth.Identity{UserID: "user_1", OrgID: "org_1", OrgRole: "org:member"})
	serveAs(h, &clerkauth.Identity{UserID: "user_1", OrgID: "org_1", OrgRole: "org:admin"})
	// Output:
	// 403 {"error":"forbidden","reason":"missing-role"}
	// 200 ok
}

// RefusalHandler renders an HTML page for 403s and leaves every other
// refusal to clerkauth.
func ExampleConfig_refusalHandler() {
	auth, _ := clerkauth.New(clerkauth.Config{
		PublishableKey: examplePublishableKey,
		RefusalHandler: func(w http.ResponseWriter, r *http.Request, ref clerkauth.Refusal) bool {
			if ref.Status != http.StatusForbidden {
				return false
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(ref.Status)
			fmt.Fprintf(w, "<p>You may not do that (%s).</p>\n", ref.Reason)
			return true
		},
	})
	serveAs(auth.Require(clerkauth.Role("admin"))(ok), &clerkauth.Identity{UserID: "user_1", OrgID: "org_1", OrgRole: "org:member"})
	// Output:
	// 403 <p>You may not do that (missing-role).</p>
}

func ExampleIdentityFromContext() {
	handler := func(w http.ResponseWriter, r *http.Request) {
		id, ok := clerkauth.IdentityFromContext(r.Context())
		if !ok {
			fmt.Fprintln(w, "hello, stranger") // a public route, signed out
			return
		}
		fmt.Fprintf(w, "hello, %s (org %s, role %s, admin: %v)\n", id.UserID, id.OrgSlug, id.OrgRole, id.HasRole("org:admin"))
	}

	ctx := clerkauth.ContextWithIdentity(context.Background(), &clerkauth.Identity{UserID: "user_123", OrgID: "org_1", OrgSlug: "acme", OrgRole: "org:admin"})
	for _, req := range []*http.Request{
		httptest.NewRequest("GET", "/", nil),
		httptest.NewRequest("GET", "/", nil).WithContext(ctx),
	} {
		rec := httptest.NewRecorder()
		handler(rec, req)
		fmt.Print(rec.Body.String())
	}
	// Output:
	// hello, stranger
	// hello, user_123 (org acme, role org:admin, admin: true)
}

func ExampleNewRouteMatcher() {
	public, err := clerkauth.NewRouteMatcher("/", "/sign-in(.*)", "/blog/:slug", "/api/webhooks(.*)")
	if err != nil {
		log.Fatal(err) // names the pattern and the position of the problem
	}
	for _, p := range []string{"/", "/sign-in/factor-one", "/blog/hello", "/blog/hello/edit", "/dashboard", "/Blog/hello"} {
		fmt.Println(p, public.MatchPath(p))
	}
	// Output:
	// / true
	// /sign-in/factor-one true
	// /blog/hello true
	// /blog/hello/edit false
	// /dashboard false
	// /Blog/hello false
}

// Decide what is protected in any case, and what is public only in the case
// as written: each decision fails closed.
func ExampleRouteMatcher_MatchPathAnyCase() {
	protected, err := clerkauth.NewRouteMatcher("/admin(.*)", "/t/:tenant/secrets")
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range []string{"/admin/users", "/ADMIN/users", "/t/acme%3F/secrets", "/%61dmin", "/blog"} {
		fmt.Println(p, protected.MatchPathAnyCase(p))
	}
	// Output:
	// /admin/users true
	// /ADMIN/users true
	// /t/acme%3F/secrets true
	// /%61dmin true
	// /blog false
}

// users is an app's user table, kept in sync from webhooks.
type users struct{}

// upsert is the user.created and user.updated callback: an update can
// arrive before its create.
func (users) upsert(ctx context.Context, e *clerkauth.UserEvent) error {
	fmt.Println("upsert", e.User.ID) // INSERT … ON CONFLICT (clerk_id) DO UPDATE
	return nil
}

func (users) remove(ctx context.Context, e *clerkauth.DeletedEvent) error {
	fmt.Println("delete", e.ID)
	return nil
}

func ExampleNewWebhookHandler() {
	wh, err := clerkauth.NewWebhookHandler(clerkauth.WebhookConfig{
		Secret: clerktest.NewWebhookSecret(), // clerkauth.WebhookSecretFromEnv() in production
		Users:  clerkauth.UserEventFuncs{Created: users{}.upsert, Updated: users{}.upsert, Deleted: users{}.remove},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /api/webhooks/clerk", wh) // and "/api/webhooks(.*)" in PublicRoutes

	// Without a valid Svix signature, nothing reaches the callbacks.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("POST", "/api/webhooks/clerk", strings.NewReader(`{"type":"user.deleted"}`)))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// 400 {"error":"bad_request","reason":"missing-headers"}
}

func ExampleUserEventFuncs() {
	secret := clerktest.NewWebhookSecret()
	wh, err := clerkauth.NewWebhookHandler(clerkauth.WebhookConfig{
		Secret: secret,
		Users: clerkauth.UserEventFuncs{
			Created: func(ctx context.Context, e *clerkauth.UserEvent) error {
				fmt.Println("welcome email for", e.User.ID)
				return nil
			},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	// clerktest signs deliveries the way Clerk (Svix) does.
	req := clerktest.NewWebhookRequest(exampleTB{}, "/api/webhooks/clerk", secret, "msg_1", time.Now(), "user.created", map[string]any{"id": "user_123", "object": "user"})
	rec := httptest.NewRecorder()
	wh.ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// welcome email for user_123
	// 200 {"status":"ok"}
}

// exampleTB lets runnable examples call clerktest helpers, which take a
// testing.TB; in a real test, pass t.
type exampleTB struct{ testing.TB }

func (exampleTB) Helper()                      {}
func (exampleTB) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }

// Audience gives one route to a JWT template's tokens (here Convex's),
// while the other routes take Clerk sessions: Config.Audience lists every
// template accepted anywhere, and the route requires its own.
func ExampleAudience() {
	auth, _ := clerkauth.New(clerkauth.Config{PublishableKey: examplePublishableKey, Audience: []string{"convex"}})
	h := auth.Require(clerkauth.Audience("convex"))(ok)
	serveAs(h, &clerkauth.Identity{UserID: "user_1"})                               // a session token: no aud
	serveAs(h, &clerkauth.Identity{UserID: "user_1", Audience: []string{"convex"}}) // getToken({ template: "convex" })
	// Output:
	// 401 {"error":"unauthenticated","reason":"token-invalid-audience"}
	// 200 ok
}
