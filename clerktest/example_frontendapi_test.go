package clerktest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

// Organization sync against the fake Frontend API: a page load whose URL
// names an organization goes through the handshake, which activates it
// for a member, and the handler sees it active.
func ExampleBackendAPI_AddMembership() {
	t := newExampleT()
	defer t.cleanup()

	iss := clerktest.NewIssuer(t)
	bapi := clerktest.NewBackendAPI(t, iss)
	bapi.SetClient("user_ada")
	bapi.AddMembership(clerktest.Membership{User: clerktest.User{ID: "user_ada"},
		Organization: clerktest.Organization{ID: "org_acme", Slug: "acme"}, Role: "admin"})
	auth := iss.MustAuth(func(c *clerkauth.Config) {
		bapi.Configure(c) // handshakes go to the fake Frontend API
		c.OrganizationSync = clerkauth.OrganizationSync{OrganizationPatterns: []string{"/orgs/:slug/(.*)"}}
	})
	app := httptest.NewServer(auth.Middleware(http.HandlerFunc(meHandler)))
	defer app.Close()

	// A browser signed in with no active organization, which keeps
	// cookies and follows redirects.
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(app.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: "__session", Value: iss.MustSessionToken("user_ada")}, {Name: "__client_uat", Value: "1"}})
	browser := &http.Client{Jar: jar}
	req, _ := http.NewRequest("GET", app.URL+"/orgs/acme/invoices", nil)
	req.Header.Set("Sec-Fetch-Dest", "document") // a page load
	res, err := browser.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	fmt.Print(string(body))
	// Output:
	// user_ada is org:admin in acme
}
