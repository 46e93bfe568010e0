package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/sqldedup"
)

// BenchmarkPostgresDeliveries measures whole deliveries (verify, decode,
// the store's transaction with the user's upsert, commit) on PostgreSQL,
// with one replica and with two (each its own connection pool, taking
// turns), against the baseline of the callback's own writes in a plain
// transaction: no HTTP handler, no signature, no delivery id. Run with a PostgreSQL that syncs to disk
// (PG_FSYNC=on .ci/postgres.sh) for numbers that mean something.
func BenchmarkPostgresDeliveries(b *testing.B) {
	for _, replicas := range []int{1, 2} {
		b.Run(fmt.Sprintf("replicas=%d", replicas), func(b *testing.B) {
			db := database{dialect: sqldedup.PostgreSQL, url: postgresURL(b)}
			iss := clerktest.NewIssuer(b)
			secret := clerktest.NewWebhookSecret()
			var handlers []http.Handler
			for range replicas {
				store := db.open(b)
				h, err := NewApp(iss.MustAuth(func(c *clerkauth.Config) { c.PublicRoutes = []string{"/api/webhooks(.*)"} }), store, secret, slog.New(slog.DiscardHandler))
				if err != nil {
					b.Fatal(err)
				}
				handlers = append(handlers, h)
			}
			var seq atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := seq.Add(1)
					id := fmt.Sprintf("user_%d", n)
					rec := httptest.NewRecorder()
					handlers[n%int64(replicas)].ServeHTTP(rec, clerktest.NewWebhookRequest(b, "/api/webhooks/clerk", secret, fmt.Sprintf("msg_%d", n), time.Now(), "user.created", userData(id, "Ada", id+"@example.com", 1)))
					if rec.Code != 200 {
						b.Fatalf("status %d", rec.Code)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
	b.Run("baseline=plain-tx", func(b *testing.B) {
		db := database{dialect: sqldedup.PostgreSQL, url: postgresURL(b)}
		store := db.open(b)
		var seq atomic.Int64
		ctx := context.Background()
		b.ReportAllocs()
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				n := seq.Add(1)
				id := fmt.Sprintf("user_%d", n)
				tx, err := store.db.BeginTx(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				for _, stmt := range []struct {
					sql  string
					args []any
				}{
					{`INSERT INTO users (clerk_id, email, first_name, last_name, image_url, updated_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (clerk_id) DO UPDATE SET email = excluded.email, first_name = excluded.first_name, last_name = excluded.last_name,
	image_url = excluded.image_url, updated_at = excluded.updated_at
WHERE users.deleted = 0 AND excluded.updated_at >= users.updated_at`, []any{id, id + "@example.com", "Ada", "Lovelace", "", 1}},
					{`DELETE FROM user_emails WHERE clerk_id = ?`, []any{id}},
					{`INSERT INTO user_emails (clerk_id, email) VALUES (?, ?) ON CONFLICT DO NOTHING`, []any{id, id + "@example.com"}},
					{`INSERT INTO activity (svix_id, type, object_id) VALUES (?, ?, ?)`, []any{fmt.Sprintf("msg_%d", n), "user.created", id}},
				} {
					if err == nil {
						_, err = tx.ExecContext(ctx, store.q(stmt.sql), stmt.args...)
					}
				}
				if err != nil {
					b.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	})
}
