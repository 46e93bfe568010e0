// Command usersync keeps a users table in SQLite in sync with Clerk, from
// user.created, user.updated and user.deleted webhooks, and serves
// /api/me from that table for the signed-in user.
//
//	CLERK_PUBLISHABLE_KEY=pk_… CLERK_WEBHOOK_SIGNING_SECRET=whsec_… go run .
//
// DATABASE sets the SQLite file (default usersync.db), PORT the port
// (default 8080). Point a Clerk webhook endpoint (Dashboard → Webhooks)
// at https://<your host>/api/webhooks/clerk with the user events.
package main

import (
	"encoding/json"
	"errors"
	"log"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/clerkauth/clerkauth"
)

func main() {
	path := os.Getenv("DATABASE")
	if path == "" {
		path = "usersync.db"
	}
	store, err := OpenStore(path)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	cfg := clerkauth.ConfigFromEnv()
	cfg.PublicRoutes = []string{"/api/webhooks(.*)"}
	auth, err := clerkauth.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	handler, err := NewApp(auth, store, clerkauth.WebhookSecretFromEnv(), slog.Default())
	if err != nil {
		log.Fatal(err)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	srv := &http.Server{Addr: ":" + port, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("usersync on :%s, database %s", port, path)
	log.Fatal(srv.ListenAndServe())
}

// NewApp wires the webhook (public) and /api/me (protected) behind the
// middleware. The store is both the user handler and the dedup store.
func NewApp(auth *clerkauth.Auth, store *Store, secret string, logger *slog.Logger) (http.Handler, error) {
	wh, err := clerkauth.NewWebhookHandler(clerkauth.WebhookConfig{
		Secret: secret,
		Users:  store,
		Dedup:  store,
		Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /api/webhooks/clerk", wh)
	mux.HandleFunc("GET /api/me", func(w http.ResponseWriter, r *http.Request) {
		id, _ := clerkauth.IdentityFromContext(r.Context()) // protected route
		u, err := store.User(r.Context(), id.UserID)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		switch {
		case errors.Is(err, ErrNoUser):
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"not_found","reason":"user-not-synced"}` + "\n"))
		case err != nil:
			logger.Error("usersync: reading the user", "error_class", "database")
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"error":"internal_server_error"}` + "\n"))
		default:
			json.NewEncoder(w).Encode(u)
		}
	})
	return auth.Middleware(mux), nil
}
