// Command chi is a JSON API on the chi router, protected by clerkauth's
// net/http middleware as it is: chi middlewares are
// func(http.Handler) http.Handler, so no adapter is needed.
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
	"encoding/json"
	"log"
	"net/http"
	"os"

	"github.com/go-chi/chi/v5"

	"github.com/clerkauth/clerkauth"
)

func main() {
	h, err := newHandler(clerkauth.ConfigFromEnv())
	if err != nil {
		log.Fatal(err)
	}
	addr := ":" + cmp.Or(os.Getenv("PORT"), "8080")
	log.Printf("listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, h))
}

// newHandler is the whole app: clerkauth's route policy and middleware in
// front of chi's routes.
func newHandler(cfg clerkauth.Config) (http.Handler, error) {
	// The route policy is clerkauth's, not the router's: everything is
	// protected except what PublicRoutes names (Clerk's pattern syntax).
	cfg.PublicRoutes = []string{"/api/health"}
	auth, err := clerkauth.New(cfg)
	if err != nil {
		return nil, err
	}

	r := chi.NewRouter()
	r.Use(auth.Middleware)
	r.Get("/api/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]string{"status": "ok"})
	})
	r.Get("/api/me", func(w http.ResponseWriter, r *http.Request) {
		id, ok := clerkauth.IdentityFromContext(r.Context())
		if !ok { // only if the route becomes public
			http.Error(w, "not signed in", http.StatusUnauthorized)
			return
		}
		writeJSON(w, map[string]string{"user": id.UserID})
	})
	r.With(auth.Require(clerkauth.Role("org:admin"))).Get("/api/admin", func(w http.ResponseWriter, r *http.Request) {
		id, _ := clerkauth.IdentityFromContext(r.Context()) // Require let only signed-in requests through
		writeJSON(w, map[string]string{"user": id.UserID, "org": id.OrgSlug})
	})
	return r, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
