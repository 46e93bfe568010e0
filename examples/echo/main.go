// Command echo is a JSON API on echo v5, protected by clerkauth's net/http
// middleware through echo's own adapter, echo.WrapMiddleware: clerkauth
// decides and answers every refusal, echo routes the rest.
//
//	CLERK_PUBLISHABLE_KEY=pk_… go run .
//
// Routes:
//
//	GET /api/health   public (Config.PublicRoutes)
//	GET /api/me       signed in: the caller's user ID
//	GET /api/admin    signed in with the org:admin role (auth.Require)
//
// PORT sets the port (default 8080).
package main

import (
	"cmp"
	"log"
	"net/http"
	"os"

	"github.com/labstack/echo/v5"

	"github.com/clerkauth/clerkauth"
)

func main() {
	e, err := newServer(clerkauth.ConfigFromEnv())
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(e.Start(":" + cmp.Or(os.Getenv("PORT"), "8080")))
}

// newServer is the whole app: clerkauth's route policy and middleware in
// front of echo's routes.
func newServer(cfg clerkauth.Config) (*echo.Echo, error) {
	// The route policy is clerkauth's, not the router's: everything is
	// protected except what PublicRoutes names (Clerk's pattern syntax).
	cfg.PublicRoutes = []string{"/api/health"}
	auth, err := clerkauth.New(cfg)
	if err != nil {
		return nil, err
	}

	e := echo.New()
	e.Use(echo.WrapMiddleware(auth.Middleware))
	e.GET("/api/health", func(c *echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/api/me", func(c *echo.Context) error {
		id, ok := clerkauth.IdentityFromContext(c.Request().Context())
		if !ok { // only if the route becomes public
			return c.String(http.StatusUnauthorized, "not signed in")
		}
		return c.JSON(http.StatusOK, map[string]string{"user": id.UserID})
	})
	e.GET("/api/admin", func(c *echo.Context) error {
		id, _ := clerkauth.IdentityFromContext(c.Request().Context()) // Require let only signed-in requests through
		return c.JSON(http.StatusOK, map[string]string{"user": id.UserID, "org": id.OrgSlug})
	}, echo.WrapMiddleware(auth.Require(clerkauth.Role("org:admin"))))
	return e, nil
}
