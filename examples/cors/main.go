// Command cors is a JSON API that a browser app on another origin calls
// with Clerk session tokens: the CORS layer wraps clerkauth's middleware
// from the outside.
//
//	CLERK_PUBLISHABLE_KEY=pk_… ALLOWED_ORIGINS=https://app.example.com go run .
//
// Why the order matters: a CORS preflight (OPTIONS with
// Access-Control-Request-Method) carries no credentials, and clerkauth never
// lets a request without a session reach a protected handler, preflights
// included. Outside, the CORS middleware answers preflights itself before
// clerkauth sees them, and adds its headers to every real response, 401s
// included, so the browser app can read why a call was refused. Inside
// (clerkauth outermost), a preflight to a protected route gets 401 without
// CORS headers and the browser blocks the call.
//
// Routes:
//
//	GET    /api/health        public
//	GET    /api/me            protected: the caller's user ID
//	DELETE /api/admin/purge   protected
//
// PORT sets the port (default 8080).
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"strings"

	"github.com/rs/cors"

	"github.com/clerkauth/clerkauth"
)

func main() {
	cfg := clerkauth.ConfigFromEnv()
	cfg.ProtectedRoutes = []string{"/api/me", "/api/admin(.*)"}
	auth, err := clerkauth.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	origins := strings.Split(os.Getenv("ALLOWED_ORIGINS"), ",")
	addr := ":" + cmp(os.Getenv("PORT"), "8080")
	log.Printf("listening on %s, allowing origins %v", addr, origins)
	log.Fatal(http.ListenAndServe(addr, newHandler(auth, origins)))
}

// newHandler is the whole app: routes, then clerkauth, then CORS outside.
func newHandler(auth *clerkauth.Auth, origins []string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /api/me", func(w http.ResponseWriter, r *http.Request) {
		id, ok := clerkauth.IdentityFromContext(r.Context())
		if !ok { // only if the route becomes public
			http.Error(w, "not signed in", http.StatusUnauthorized)
			return
		}
		writeJSON(w, map[string]string{"user": id.UserID})
	})
	mux.HandleFunc("DELETE /api/admin/purge", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	return newCORS(origins).Handler(auth.Middleware(mux))
}

// newCORS is the CORS policy: the app's origins may call with a token
// (or, on a shared parent domain, the __session cookie) and read why a
// call was refused.
func newCORS(origins []string) *cors.Cors {
	return cors.New(cors.Options{
		AllowedOrigins:   origins,
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodDelete},
		AllowedHeaders:   []string{"Authorization", "Content-Type"},
		ExposedHeaders:   []string{"X-Clerk-Auth-Reason"},
		AllowCredentials: true,
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func cmp(v, fallback string) string {
	if v == "" {
		return fallback
	}
	return v
}
