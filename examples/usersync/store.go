package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	_ "modernc.org/sqlite" // pure-Go SQLite driver, "sqlite"

	"github.com/clerkauth/clerkauth"
)

// Store keeps a users table in sync with Clerk, keyed by the Clerk user
// ID. It is both the webhook's UserEventHandler and its DedupStore: the
// svix-id of a delivery is recorded in the same transaction as the row
// change, so each delivery takes effect exactly once, even when several
// replicas share the database.
type Store struct {
	db  *sql.DB
	now func() time.Time
}

// User is a row of the users table.
type User struct {
	ClerkID   string   `json:"clerk_id"`
	Email     string   `json:"email"`
	FirstName string   `json:"first_name"`
	LastName  string   `json:"last_name"`
	ImageURL  string   `json:"image_url"`
	Emails    []string `json:"emails"`
	UpdatedAt int64    `json:"updated_at"` // Clerk's updated_at, milliseconds
}

const schema = `
CREATE TABLE IF NOT EXISTS users (
	clerk_id   TEXT PRIMARY KEY,
	email      TEXT NOT NULL DEFAULT '',
	first_name TEXT NOT NULL DEFAULT '',
	last_name  TEXT NOT NULL DEFAULT '',
	image_url  TEXT NOT NULL DEFAULT '',
	updated_at INTEGER NOT NULL DEFAULT 0,
	deleted    INTEGER NOT NULL DEFAULT 0   -- a tombstone: Clerk never reuses user IDs
);
CREATE TABLE IF NOT EXISTS user_emails (
	clerk_id TEXT NOT NULL REFERENCES users(clerk_id),
	email    TEXT NOT NULL,
	PRIMARY KEY (clerk_id, email)
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
	svix_id      TEXT PRIMARY KEY,
	processed_at INTEGER NOT NULL
);`

// OpenStore opens (and creates) the SQLite database at path. WAL mode and a
// busy timeout let several processes (replicas) share the file: a writer
// waits for another's transaction instead of failing.
func OpenStore(path string) (*Store, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("usersync: creating the schema: %w", err)
	}
	return &Store{db: db, now: time.Now}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

type txKey struct{}

// Begin implements clerkauth.DedupStore: it opens a write transaction and
// records the delivery id in it. If the id is already there (committed by
// an earlier delivery, here or on another replica), the delivery is done.
// A concurrent delivery of the same id waits on SQLite's write lock until
// the first commits (then sees the id) or rolls back (then proceeds).
func (s *Store) Begin(ctx context.Context, id string) (context.Context, bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return ctx, false, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (svix_id, processed_at) VALUES (?, ?) ON CONFLICT (svix_id) DO NOTHING`, id, s.now().Unix())
	if err != nil {
		tx.Rollback()
		return ctx, false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		tx.Rollback()
		return ctx, err == nil, err
	}
	return context.WithValue(ctx, txKey{}, tx), false, nil
}

// Commit implements clerkauth.DedupStore: the row change and the delivery
// id become visible together.
func (s *Store) Commit(ctx context.Context, id string) error {
	tx, ok := ctx.Value(txKey{}).(*sql.Tx)
	if !ok {
		return errors.New("usersync: no transaction in the context")
	}
	return tx.Commit()
}

// Abort implements clerkauth.DedupStore: nothing of the delivery remains.
func (s *Store) Abort(ctx context.Context, id string) {
	if tx, ok := ctx.Value(txKey{}).(*sql.Tx); ok {
		tx.Rollback()
	}
}

func txFrom(ctx context.Context) (*sql.Tx, error) {
	tx, ok := ctx.Value(txKey{}).(*sql.Tx)
	if !ok {
		return nil, errors.New("usersync: the webhook handler must use Store as its DedupStore")
	}
	return tx, nil
}

// UserCreated implements clerkauth.UserEventHandler.
func (s *Store) UserCreated(ctx context.Context, e *clerkauth.UserEvent) error {
	return s.upsert(ctx, e.User)
}

// UserUpdated implements clerkauth.UserEventHandler. Created and updated
// are the same upsert: deliveries can arrive out of order (an update before
// the create), so each one writes the whole user, and a row only moves
// forward in Clerk's updated_at.
func (s *Store) UserUpdated(ctx context.Context, e *clerkauth.UserEvent) error {
	return s.upsert(ctx, e.User)
}

func (s *Store) upsert(ctx context.Context, u *clerk.User) error {
	tx, err := txFrom(ctx)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `
INSERT INTO users (clerk_id, email, first_name, last_name, image_url, updated_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (clerk_id) DO UPDATE SET
	email = excluded.email, first_name = excluded.first_name, last_name = excluded.last_name,
	image_url = excluded.image_url, updated_at = excluded.updated_at
WHERE users.deleted = 0 AND excluded.updated_at >= users.updated_at`,
		u.ID, primaryEmail(u), deref(u.FirstName), deref(u.LastName), deref(u.ImageURL), u.UpdatedAt)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err // an older version, or a deleted user: nothing to change
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM user_emails WHERE clerk_id = ?`, u.ID); err != nil {
		return err
	}
	for _, e := range u.EmailAddresses {
		if e == nil {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO user_emails (clerk_id, email) VALUES (?, ?)`, u.ID, e.EmailAddress); err != nil {
			return err
		}
	}
	return nil
}

// UserDeleted implements clerkauth.UserEventHandler. The row becomes a
// tombstone (personal data cleared), so that a late user.updated cannot
// bring the user back.
func (s *Store) UserDeleted(ctx context.Context, e *clerkauth.UserDeletedEvent) error {
	tx, err := txFrom(ctx)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM user_emails WHERE clerk_id = ?`, e.UserID); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `
INSERT INTO users (clerk_id, deleted) VALUES (?, 1)
ON CONFLICT (clerk_id) DO UPDATE SET deleted = 1, email = '', first_name = '', last_name = '', image_url = ''`, e.UserID)
	return err
}

// ErrNoUser: the user is not in the table (not synced yet, or deleted).
var ErrNoUser = errors.New("usersync: no such user")

// User reads a user by Clerk ID.
func (s *Store) User(ctx context.Context, clerkID string) (*User, error) {
	u := &User{ClerkID: clerkID}
	var deleted bool
	err := s.db.QueryRowContext(ctx, `SELECT email, first_name, last_name, image_url, updated_at, deleted FROM users WHERE clerk_id = ?`, clerkID).
		Scan(&u.Email, &u.FirstName, &u.LastName, &u.ImageURL, &u.UpdatedAt, &deleted)
	if errors.Is(err, sql.ErrNoRows) || deleted {
		return nil, ErrNoUser
	}
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT email FROM user_emails WHERE clerk_id = ? ORDER BY email`, clerkID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			return nil, err
		}
		u.Emails = append(u.Emails, e)
	}
	return u, rows.Err()
}

func primaryEmail(u *clerk.User) string {
	for _, e := range u.EmailAddresses {
		if e != nil && u.PrimaryEmailAddressID != nil && e.ID == *u.PrimaryEmailAddressID {
			return e.EmailAddress
		}
	}
	return ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// MarshalJSON keeps an empty email list as [] rather than null.
func (u User) MarshalJSON() ([]byte, error) {
	type plain User
	if u.Emails == nil {
		u.Emails = []string{}
	}
	return json.Marshal(plain(u))
}
