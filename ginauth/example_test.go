package ginauth_test

import (
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/gin-gonic/gin"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/ginauth"
)

func ExampleMiddleware() {
	auth, err := clerkauth.New(clerkauth.Config{
		// A production instance whose Frontend API is clerk.example.com;
		// in your app: clerkauth.NewFromEnv().
		PublishableKey: "pk_live_Y2xlcmsuZXhhbXBsZS5jb20k",
		PublicRoutes:   []string{"/"}, // the route policy is clerkauth's, not gin's
	})
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.Use(ginauth.Middleware(auth))
	r.GET("/", func(c *gin.Context) { c.String(200, "welcome\n") })
	r.GET("/api/me", func(c *gin.Context) {
		id, _ := ginauth.Identity(c) // always found here: the route is protected
		c.JSON(200, gin.H{"user": id.UserID})
	})
	r.DELETE("/api/admin/purge", ginauth.Require(auth, clerkauth.Role("org:admin")), func(c *gin.Context) {
		c.Status(204)
	})
	// r.Run(":8080")

	for _, path := range []string{"/", "/api/me"} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		fmt.Print(path, " ", rec.Code, " ", rec.Body.String())
	}

	// A browser navigation to a protected page goes to the sign-in page.
	req := httptest.NewRequest("GET", "https://app.example.com/api/me", nil)
	req.Header.Set("Sec-Fetch-Dest", "document")
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("Location"))
	// Output:
	// / 200 welcome
	// /api/me 401 {"error":"unauthenticated","reason":"session-token-missing"}
	// 307 https://accounts.example.com/sign-in?redirect_url=https%3A%2F%2Fapp.example.com%2Fapi%2Fme
}
