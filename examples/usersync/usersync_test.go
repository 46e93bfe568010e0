package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/sqldedup"
)

type fixture struct {
	t      *testing.T
	iss    *clerktest.Issuer
	secret string
	db     database
	store  *Store
	h      http.Handler
}

func newFixture(t *testing.T, db database) *fixture {
	t.Helper()
	f := &fixture{t: t, iss: clerktest.NewIssuer(t), secret: clerktest.NewWebhookSecret(), db: db}
	f.store, f.h = f.replica()
	return f
}

// replica opens another Store and app on the same database, as a second
// server behind a load balancer would.
func (f *fixture) replica() (*Store, http.Handler) {
	f.t.Helper()
	store := f.db.open(f.t)
	auth := f.iss.MustAuth(func(c *clerkauth.Config) { c.PublicRoutes = []string{"/api/webhooks(.*)"} })
	h, err := NewApp(auth, store, f.secret, slog.New(slog.DiscardHandler))
	require.NoError(f.t, err)
	return store, h
}

func userData(id, first, email string, updatedAt int64) map[string]any {
	return map[string]any{
		"object": "user", "id": id, "first_name": first, "last_name": "Lovelace",
		"primary_email_address_id": "idn_1",
		"email_addresses":          []any{map[string]any{"id": "idn_1", "object": "email_address", "email_address": email}},
		"created_at":               1700000000000, "updated_at": updatedAt,
	}
}

func orgData(id, name string, updatedAt int64) map[string]any {
	return map[string]any{"object": "organization", "id": id, "name": name, "slug": name, "created_at": 1700000000000, "updated_at": updatedAt}
}

func membershipData(id, orgID, userID, role string, updatedAt int64) map[string]any {
	return map[string]any{
		"object": "organization_membership", "id": id, "role": role,
		"organization":     orgData(orgID, "org", 1),
		"public_user_data": map[string]any{"user_id": userID, "identifier": userID + "@example.com"},
		"created_at":       1700000000000, "updated_at": updatedAt,
	}
}

func (f *fixture) deliver(h http.Handler, msgID, typ string, data any) int {
	f.t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, clerktest.NewWebhookRequest(f.t, "/api/webhooks/clerk", f.secret, msgID, time.Now(), typ, data))
	return rec.Code
}

func (f *fixture) user(id string) *User {
	f.t.Helper()
	u, err := f.store.User(context.Background(), id)
	if err == ErrNoUser {
		return nil
	}
	require.NoError(f.t, err)
	return u
}

func (f *fixture) count(query string, args ...any) int {
	f.t.Helper()
	var n int
	require.NoError(f.t, f.store.db.QueryRow(f.store.q(query), args...).Scan(&n))
	return n
}

// assertUser checks a user row: its first name and its only email.
func (f *fixture) assertUser(id, first, email string) {
	f.t.Helper()
	u := f.user(id)
	require.NotNil(f.t, u)
	assert.Equal(f.t, first, u.FirstName)
	assert.Equal(f.t, email, u.Email)
	assert.Equal(f.t, []string{email}, u.Emails)
}

func TestDeliveriesInOrder(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db database) {
		f := newFixture(t, db)
		require.Equal(t, 200, f.deliver(f.h, "msg_1", "user.created", userData("user_1", "Ada", "ada@example.com", 1)))
		require.Equal(t, 200, f.deliver(f.h, "msg_2", "user.updated", userData("user_1", "Augusta", "ada@example.org", 2)))
		f.assertUser("user_1", "Augusta", "ada@example.org")
		assert.Equal(t, 2, f.count(`SELECT count(*) FROM clerkauth_webhook_deliveries`))
		assert.Equal(t, 2, f.count(`SELECT count(*) FROM activity`))
	})
}

func TestDeliveriesOutOfOrder(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db database) {
		f := newFixture(t, db)
		// The update arrives first; the create (older) arrives after it.
		require.Equal(t, 200, f.deliver(f.h, "msg_2", "user.updated", userData("user_1", "Augusta", "new@example.com", 2)))
		require.Equal(t, 200, f.deliver(f.h, "msg_1", "user.created", userData("user_1", "Ada", "old@example.com", 1)))
		f.assertUser("user_1", "Augusta", "new@example.com") // an older version never overwrites a newer one
	})
}

func TestDuplicateDeliveries(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db database) {
		f := newFixture(t, db)
		require.Equal(t, 200, f.deliver(f.h, "msg_1", "user.created", userData("user_1", "Ada", "ada@example.com", 1)))
		require.Equal(t, 200, f.deliver(f.h, "msg_2", "user.updated", userData("user_1", "Augusta", "ada@example.com", 2)))
		// A retry of the create (same svix-id) must not roll the row back.
		require.Equal(t, 200, f.deliver(f.h, "msg_1", "user.created", userData("user_1", "Ada", "ada@example.com", 1)))
		assert.Equal(t, "Augusta", f.user("user_1").FirstName)
		assert.Equal(t, 2, f.count(`SELECT count(*) FROM clerkauth_webhook_deliveries`))
		assert.Equal(t, 2, f.count(`SELECT count(*) FROM activity`))
	})
}

func TestConcurrentDuplicatesAcrossReplicas(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db database) {
		f := newFixture(t, db)
		_, other := f.replica()
		var wg sync.WaitGroup
		codes := make(chan int, 40)
		for i := range 40 {
			h := f.h
			if i%2 == 1 {
				h = other
			}
			wg.Go(func() {
				codes <- f.deliver(h, "msg_same", "user.created", userData("user_1", "Ada", "ada@example.com", 1))
			})
		}
		wg.Wait()
		close(codes)
		for c := range codes {
			assert.Equal(t, 200, c)
		}
		assert.Equal(t, 1, f.count(`SELECT count(*) FROM activity`), "the effect happened exactly once")
		assert.Equal(t, 1, f.count(`SELECT count(*) FROM clerkauth_webhook_deliveries`))
	})
}

func TestDeletion(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db database) {
		f := newFixture(t, db)
		require.Equal(t, 200, f.deliver(f.h, "msg_1", "user.created", userData("user_1", "Ada", "ada@example.com", 1)))
		require.Equal(t, 200, f.deliver(f.h, "msg_2", "user.deleted", map[string]any{"object": "user", "id": "user_1", "deleted": true}))
		assert.Nil(t, f.user("user_1"))
		assert.Zero(t, f.count(`SELECT count(*) FROM user_emails`), "personal data is removed")
		// A late update cannot resurrect the user.
		require.Equal(t, 200, f.deliver(f.h, "msg_3", "user.updated", userData("user_1", "Ada", "ada@example.com", 5)))
		assert.Nil(t, f.user("user_1"))
		// A delete that arrives before the create leaves a tombstone too.
		require.Equal(t, 200, f.deliver(f.h, "msg_4", "user.deleted", map[string]any{"object": "user", "id": "user_2", "deleted": true}))
		require.Equal(t, 200, f.deliver(f.h, "msg_5", "user.created", userData("user_2", "Bob", "bob@example.com", 1)))
		assert.Nil(t, f.user("user_2"))
	})
}

func TestOrganizationsAndMemberships(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db database) {
		f := newFixture(t, db)
		require.Equal(t, 200, f.deliver(f.h, "msg_1", "user.created", userData("user_1", "Ada", "ada@example.com", 1)))
		// The membership arrives before its organization.
		require.Equal(t, 200, f.deliver(f.h, "msg_2", "organizationMembership.created", membershipData("orgmem_1", "org_1", "user_1", "org:member", 1)))
		require.Equal(t, 200, f.deliver(f.h, "msg_3", "organization.created", orgData("org_1", "Analytical", 1)))
		require.Equal(t, 200, f.deliver(f.h, "msg_4", "organizationMembership.updated", membershipData("orgmem_1", "org_1", "user_1", "org:admin", 2)))
		require.Equal(t, 200, f.deliver(f.h, "msg_5", "organization.created", orgData("org_2", "Engines", 1)))
		require.Equal(t, 200, f.deliver(f.h, "msg_6", "organizationMembership.created", membershipData("orgmem_2", "org_2", "user_1", "org:member", 1)))
		assert.Equal(t, []Membership{{"org_1", "Analytical", "org:admin"}, {"org_2", "Engines", "org:member"}}, f.user("user_1").Organizations)

		// A membership removed, then its late update: it stays removed.
		require.Equal(t, 200, f.deliver(f.h, "msg_7", "organizationMembership.deleted", membershipData("orgmem_1", "org_1", "user_1", "org:admin", 3)))
		require.Equal(t, 200, f.deliver(f.h, "msg_8", "organizationMembership.updated", membershipData("orgmem_1", "org_1", "user_1", "org:member", 4)))
		assert.Equal(t, []Membership{{"org_2", "Engines", "org:member"}}, f.user("user_1").Organizations)

		// An organization deleted ends its memberships; a membership created
		// late for it stays out.
		require.Equal(t, 200, f.deliver(f.h, "msg_9", "organization.deleted", map[string]any{"object": "organization", "id": "org_2", "deleted": true}))
		require.Equal(t, 200, f.deliver(f.h, "msg_10", "organizationMembership.created", membershipData("orgmem_3", "org_2", "user_1", "org:member", 9)))
		assert.Equal(t, []Membership{}, f.user("user_1").Organizations)
		assert.Zero(t, f.count(`SELECT count(*) FROM memberships WHERE deleted = 0`))
	})
}

func TestDatabaseErrorIsRetriedAndLeavesNoHalfRow(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db database) {
		f := newFixture(t, db)
		// The users row is written first, then the email rows: make the
		// second write fail, after the first succeeded.
		fail := map[sqldedup.Dialect][2]string{
			sqldedup.SQLite: {`CREATE TRIGGER fail_emails BEFORE INSERT ON user_emails WHEN NEW.email = 'boom@example.com'
BEGIN SELECT RAISE(ABORT, 'disk full'); END`, `DROP TRIGGER fail_emails`},
			sqldedup.PostgreSQL: {`ALTER TABLE user_emails ADD CONSTRAINT disk_full CHECK (email <> 'boom@example.com')`,
				`ALTER TABLE user_emails DROP CONSTRAINT disk_full`},
		}[db.dialect]
		_, err := f.store.db.Exec(fail[0])
		require.NoError(t, err)
		require.Equal(t, 500, f.deliver(f.h, "msg_1", "user.created", userData("user_1", "Ada", "boom@example.com", 1)), "a database error is a 5xx, so Svix retries")
		assert.Zero(t, f.count(`SELECT count(*) FROM users`), "no half-written row")
		assert.Zero(t, f.count(`SELECT count(*) FROM activity`))
		assert.Zero(t, f.count(`SELECT count(*) FROM clerkauth_webhook_deliveries`), "the delivery is not recorded as done")

		// The database recovers; Svix retries the same delivery.
		_, err = f.store.db.Exec(fail[1])
		require.NoError(t, err)
		require.Equal(t, 200, f.deliver(f.h, "msg_1", "user.created", userData("user_1", "Ada", "boom@example.com", 1)))
		assert.Equal(t, "Ada", f.user("user_1").FirstName)
	})
}

func TestMeFromTheTable(t *testing.T) {
	f := newFixture(t, database{dialect: sqldedup.SQLite, path: filepath.Join(t.TempDir(), "users.db")})
	get := func(token string) (int, map[string]any) {
		r := httptest.NewRequest("GET", "/api/me", nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, r)
		body, _ := io.ReadAll(rec.Body)
		var m map[string]any
		json.Unmarshal(body, &m)
		return rec.Code, m
	}
	code, _ := get("")
	assert.Equal(t, 401, code)
	code, body := get(f.iss.MustSessionToken("user_1"))
	assert.Equal(t, 404, code)
	assert.Equal(t, "user-not-synced", body["reason"])

	require.Equal(t, 200, f.deliver(f.h, "msg_1", "user.created", userData("user_1", "Ada", "ada@example.com", 1)))
	code, body = get(f.iss.MustSessionToken("user_1"))
	assert.Equal(t, 200, code)
	assert.Equal(t, "user_1", body["clerk_id"])
	assert.Equal(t, "ada@example.com", body["email"])
	assert.Equal(t, []any{"ada@example.com"}, body["emails"])
	assert.Equal(t, []any{}, body["organizations"])
}

func TestWebhookRouteIsPublicButSigned(t *testing.T) {
	f := newFixture(t, database{dialect: sqldedup.SQLite, path: filepath.Join(t.TempDir(), "users.db")})
	r := httptest.NewRequest("POST", "/api/webhooks/clerk", nil)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, r)
	assert.Equal(t, 400, rec.Code, "reaches the webhook handler (no session needed) and is refused for its missing signature")
}

// TestSetupChecksConfigurationBeforeCreatingFiles: a bad key or webhook
// secret is reported before the database file exists.
func TestSetupChecksConfigurationBeforeCreatingFiles(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "users.db")
	for name, env := range map[string]map[string]string{
		"bad secret key":     {"CLERK_SECRET_KEY": "sk_test_", "DATABASE": db},
		"bad webhook secret": {"CLERK_JWT_ISSUER_DOMAIN": "https://clerk.example.com", "CLERK_WEBHOOK_SIGNING_SECRET": "whsec_QQ==", "DATABASE": db},
		"no webhook secret":  {"CLERK_JWT_ISSUER_DOMAIN": "https://clerk.example.com", "DATABASE": db},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := setup(context.Background(), func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
			require.Error(t, err)
			entries, _ := os.ReadDir(dir)
			assert.Empty(t, entries, "files were created before the configuration was checked")
		})
	}
}
