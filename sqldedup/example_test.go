package sqldedup_test

import (
	"context"
	"database/sql"
	"log"
	"net/http"
	"os"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/sqldedup"
)

// Several replicas share one database: the delivery id and the callback's
// writes commit in one transaction, so each delivery applies once. (This
// example needs a database driver and is not run; examples/usersync runs
// the same on SQLite and PostgreSQL.)
func ExampleNew() {
	ctx := context.Background()
	db, err := sql.Open("pgx", os.Getenv("DATABASE_URL")) // import _ "github.com/jackc/pgx/v5/stdlib"
	if err != nil {
		log.Fatal(err)
	}
	dedup, err := sqldedup.New(sqldedup.Config{DB: db, Dialect: sqldedup.PostgreSQL})
	if err != nil {
		log.Fatal(err)
	}
	if err := dedup.CreateTable(ctx); err != nil { // or dedup.Schema() in your migrations
		log.Fatal(err)
	}
	wh, err := clerkauth.NewWebhookHandler(clerkauth.WebhookConfig{
		Secret: clerkauth.WebhookSecretFromEnv(),
		Dedup:  dedup,
		Organizations: clerkauth.OrganizationEventFuncs{
			Created: func(ctx context.Context, e *clerkauth.OrganizationEvent) error {
				tx, _ := sqldedup.Tx(ctx) // write in it; the handler commits it
				_, err := tx.ExecContext(ctx, `INSERT INTO orgs (clerk_id, name) VALUES ($1, $2)
					ON CONFLICT (clerk_id) DO NOTHING`, e.Organization.ID, e.Organization.Name)
				return err
			},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("POST /api/webhooks/clerk", wh)
}
