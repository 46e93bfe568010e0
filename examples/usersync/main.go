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
	"cmp"
	"context"
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
	srv, err := setup(os.Getenv, slog.Default())
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("usersync on %s", srv.Addr)
	log.Fatal(srv.ListenAndServe())
}

// setup checks the whole configuration first, and only then opens (and
// so creates) the database: a typo in a key leaves no files behind.
func setup(getenv func(string) string, logger *slog.Logger) (*http.Server, error) {
	cfg := clerkauth.ConfigFromLookup(getenv)
	cfg.PublicRoutes = []string{"/api/webhooks(.*)"}
	auth, err := clerkauth.New(cfg)
	if err != nil {
		return nil, err
	}
	secret := clerkauth.WebhookSecretFromLookup(getenv)
	noop := clerkauth.EventHandlerFunc(func(context.Context, *clerkauth.Event) error { return nil })
	if _, err := clerkauth.NewWebhookHandler(clerkauth.WebhookConfig{Secret: secret, Events: noop}); err != nil {
		return nil, err
	}
	path := cmp.Or(getenv("DATABASE"), "usersync.db")
	store, err := OpenStore(path)
	if err != nil {
		return nil, err
	}
	handler, err := NewApp(auth, store, secret, logger)
	if err != nil {
		store.Close()
		return nil, err
	}
	logger.Info("usersync: database " + path)
	return &http.Server{Addr: ":" + cmp.Or(getenv("PORT"), "8080"), Handler: handler, ReadHeaderTimeout: 10 * time.Second}, nil
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
		id := clerkauth.IdentityOrEmpty(r.Context()) // never nil, even if the route becomes public
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
