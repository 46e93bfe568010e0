package clerkauth_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/clerkauth/clerkauth"
)

// The Frontend API proxy goes at ProxyURL's path, outside the middleware:
// a signed-out browser signs in through it.
func ExampleAuth_FrontendAPIProxy() {
	auth, err := clerkauth.New(clerkauth.Config{
		PublishableKey: examplePublishableKey,
		SecretKey:      "sk_test_…",                       // sent to the Frontend API, and nowhere else
		ProxyURL:       "https://app.example.com/__clerk", // also where handshakes go
		TrustedProxies: []string{"10.0.0.0/8"},            // the load balancers in front, if any
	})
	if err != nil {
		log.Fatal(err)
	}
	proxy, err := auth.FrontendAPIProxy()
	if err != nil {
		log.Fatal(err) // a missing key or ProxyURL, with the fix
	}
	app := http.NewServeMux()
	mux := http.NewServeMux()
	mux.Handle("/__clerk/", proxy)
	mux.Handle("/", auth.Middleware(app))

	// A path outside the proxy path is refused as Clerk's proxy refuses it.
	rec := httptest.NewRecorder()
	proxy.ServeHTTP(rec, httptest.NewRequest("GET", "/api/data", nil))
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 400 {"errors":[{"code":"proxy_path_mismatch","message":"Request path \"/api/data\" does not match proxy path \"/__clerk\""}]}
}
