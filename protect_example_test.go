package clerkauth_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/clerkauth/clerkauth"
)

// A production instance's publishable key (Frontend API clerk.example.com,
// so the Account Portal's sign-in page is accounts.example.com/sign-in).
const exampleLiveKey = "pk_live_Y2xlcmsuZXhhbXBsZS5jb20k"

// try sends h a GET of path, signed in as id (nil: signed out), as a page
// load or an API call, and prints the answer.
func try(h http.Handler, path string, id *clerkauth.Identity, page bool) {
	req := httptest.NewRequest("GET", "https://app.example.com"+path, nil)
	if page {
		req.Header.Set("Sec-Fetch-Dest", "document")
	}
	if id != nil {
		// In production the middleware puts the identity into the context.
		req = req.WithContext(clerkauth.ContextWithIdentity(req.Context(), id))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if loc := rec.Header().Get("Location"); loc != "" {
		fmt.Println(rec.Code, loc)
		return
	}
	fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
}

// NotFound hides a route as auth.protect() does in Next.js: an API call
// that is not signed in, and a user without the role, get the router's
// own 404; a signed-out page load still goes to sign in.
func ExampleNotFound() {
	auth, err := clerkauth.New(clerkauth.Config{PublishableKey: exampleLiveKey})
	if err != nil {
		log.Fatal(err)
	}
	admin := auth.Require(clerkauth.NotFound(), clerkauth.Role("org:admin"))(ok)

	member := &clerkauth.Identity{UserID: "user_1", OrgID: "org_1", OrgRole: "org:member"}
	owner := &clerkauth.Identity{UserID: "user_2", OrgID: "org_1", OrgRole: "org:admin"}
	try(admin, "/admin/users", nil, false)
	try(admin, "/admin/users", member, false)
	try(admin, "/admin/users", owner, false)
	try(admin, "/admin", nil, true)
	// Output:
	// 404 404 page not found
	// 404 404 page not found
	// 200 ok
	// 307 https://accounts.example.com/sign-in?redirect_url=https%3A%2F%2Fapp.example.com%2Fadmin
}

// UnauthenticatedURL and UnauthorizedURL choose where a route sends the
// requests it refuses, as auth.protect()'s unauthenticatedUrl and
// unauthorizedUrl do: here a pricing page for users without the plan.
func ExampleUnauthenticatedURL() {
	auth, err := clerkauth.New(clerkauth.Config{PublishableKey: exampleLiveKey})
	if err != nil {
		log.Fatal(err)
	}
	reports := auth.Require(
		clerkauth.UnauthenticatedURL("/welcome"),
		clerkauth.UnauthorizedURL("/pricing"),
		clerkauth.Plan("pro"),
	)(ok)

	free := &clerkauth.Identity{UserID: "user_1"}
	try(reports, "/reports", nil, true)
	try(reports, "/reports", free, true)
	// Output:
	// 307 /welcome?redirect_url=https%3A%2F%2Fapp.example.com%2Freports
	// 307 /pricing
}
