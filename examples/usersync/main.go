// Command usersync keeps users, organizations and memberships in a
// database in sync with Clerk, from Clerk's webhooks, and serves /api/me
// (the signed-in user and their organizations) from those tables.
//
//	CLERK_PUBLISHABLE_KEY=pk_… CLERK_WEBHOOK_SIGNING_SECRET=whsec_… go run .
//
// It uses SQLite by default (DATABASE sets the file, default usersync.db)
// and PostgreSQL when DATABASE_URL is set (postgres://user@host/db, through
// pgx). Several replicas can share one database: each delivery is applied
// once. PORT sets the port (default 8080). Point a Clerk webhook endpoint
// (Dashboard → Webhooks) at https://<your host>/api/webhooks/clerk with the
// user, organization and organizationMembership events.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/clerkauth/clerkauth"
)

func main() {
	srv, store, err := setup(context.Background(), os.Getenv, slog.Default())
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("usersync on %s", ln.Addr())
	log.Fatal(srv.Serve(ln))
}

// setup checks the whole configuration first, and only then opens (and
// so creates) the database: a typo in a key leaves no files behind.
func setup(ctx context.Context, getenv func(string) string, logger *slog.Logger) (*http.Server, *Store, error) {
	cfg := clerkauth.ConfigFromLookup(getenv)
	cfg.PublicRoutes = []string{"/api/webhooks(.*)"}
	auth, err := clerkauth.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	secret := clerkauth.WebhookSecretFromLookup(getenv)
	noop := func(context.Context, *clerkauth.Event) error { return nil }
	if _, err := clerkauth.NewWebhookHandler(clerkauth.WebhookConfig{Secret: secret, Events: noop}); err != nil {
		return nil, nil, err
	}
	url, path := getenv("DATABASE_URL"), cmp.Or(getenv("DATABASE"), "usersync.db")
	store, err := Open(ctx, url, path)
	if err != nil {
		return nil, nil, err
	}
	handler, err := NewApp(auth, store, secret, logger)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	if url != "" {
		logger.Info("usersync: database PostgreSQL (DATABASE_URL)")
	} else {
		logger.Info("usersync: database SQLite " + path)
	}
	return &http.Server{Addr: ":" + cmp.Or(getenv("PORT"), "8080"), Handler: handler, ReadHeaderTimeout: 10 * time.Second}, store, nil
}

// NewApp wires the webhook (public) and /api/me (protected) behind the
// middleware. The store's callbacks write in the transaction its dedup
// store opens for each delivery.
func NewApp(auth *clerkauth.Auth, store *Store, secret string, logger *slog.Logger) (http.Handler, error) {
	wh, err := clerkauth.NewWebhookHandler(clerkauth.WebhookConfig{
		Secret:        secret,
		Users:         store.Users(),
		Organizations: store.Organizations(),
		Memberships:   store.Memberships(),
		Dedup:         store.Dedup,
		Logger:        logger,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /api/webhooks/clerk", wh)
	mux.HandleFunc("GET /api/me", func(w http.ResponseWriter, r *http.Request) {
		id, ok := clerkauth.IdentityFromContext(r.Context())
		if !ok { // only if the route becomes public
			http.Error(w, "not signed in", http.StatusUnauthorized)
			return
		}
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
