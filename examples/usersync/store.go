package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/clerk/clerk-sdk-go/v2"
	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver, "pgx"
	_ "modernc.org/sqlite"             // pure-Go SQLite driver, "sqlite"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/sqldedup"
)

// Store keeps users, organizations and memberships in sync with Clerk,
// keyed by Clerk IDs, on SQLite or PostgreSQL. Its callbacks write in the
// delivery's transaction (sqldedup.Tx), which the webhook
// handler's sqldedup.Store opened with the delivery id recorded
// in it: each delivery takes effect exactly once, even when several
// replicas share the database.
//
// Deliveries arrive out of order and may be retried, so every write is an
// upsert that only moves a row forward in Clerk's updated_at, and a
// deletion leaves a tombstone (Clerk never reuses IDs) that a late update
// cannot bring back. Each applied delivery also appends a row to activity,
// the one effect that is not idempotent: it shows exactly-once at work.
type Store struct {
	db      *sql.DB
	dialect sqldedup.Dialect
	Dedup   *sqldedup.Store

	// held, when set, runs after a callback's writes and before the
	// commit; the crash test uses it to stop a replica there.
	held func(ctx context.Context, objectID string)
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
	// Organizations are the user's memberships in live organizations.
	Organizations []Membership `json:"organizations"`
}

// The schema, in the SQL that SQLite and PostgreSQL share. deleted is a
// tombstone flag (0 or 1).
var schema = []string{
	`CREATE TABLE IF NOT EXISTS users (
	clerk_id   TEXT PRIMARY KEY,
	email      TEXT NOT NULL DEFAULT '',
	first_name TEXT NOT NULL DEFAULT '',
	last_name  TEXT NOT NULL DEFAULT '',
	image_url  TEXT NOT NULL DEFAULT '',
	updated_at BIGINT NOT NULL DEFAULT 0,
	deleted    INTEGER NOT NULL DEFAULT 0)`,
	`CREATE TABLE IF NOT EXISTS user_emails (
	clerk_id TEXT NOT NULL REFERENCES users(clerk_id),
	email    TEXT NOT NULL,
	PRIMARY KEY (clerk_id, email))`,
	`CREATE TABLE IF NOT EXISTS organizations (
	clerk_id   TEXT PRIMARY KEY,
	name       TEXT NOT NULL DEFAULT '',
	slug       TEXT NOT NULL DEFAULT '',
	updated_at BIGINT NOT NULL DEFAULT 0,
	deleted    INTEGER NOT NULL DEFAULT 0)`,
	`CREATE TABLE IF NOT EXISTS memberships (
	clerk_id   TEXT PRIMARY KEY,
	org_id     TEXT NOT NULL DEFAULT '',
	user_id    TEXT NOT NULL DEFAULT '',
	role       TEXT NOT NULL DEFAULT '',
	updated_at BIGINT NOT NULL DEFAULT 0,
	deleted    INTEGER NOT NULL DEFAULT 0)`,
	`CREATE INDEX IF NOT EXISTS memberships_org ON memberships (org_id)`,
	`CREATE TABLE IF NOT EXISTS activity (
	svix_id   TEXT NOT NULL,
	type      TEXT NOT NULL,
	object_id TEXT NOT NULL)`,
}

// Open opens the database and creates the schema: PostgreSQL when
// databaseURL is set (postgres://…, through pgx), else the SQLite file at
// sqlitePath. WAL mode and a busy timeout let several processes share a
// SQLite file: a writer waits for another's transaction instead of failing.
func Open(ctx context.Context, databaseURL, sqlitePath string) (*Store, error) {
	s := &Store{dialect: sqldedup.SQLite}
	var err error
	if databaseURL != "" {
		s.dialect = sqldedup.PostgreSQL
		s.db, err = sql.Open("pgx", databaseURL)
	} else {
		s.db, err = sql.Open("sqlite", "file:"+sqlitePath+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate")
	}
	if err != nil {
		return nil, err
	}
	// Each delivery holds a connection for its transaction. database/sql
	// keeps only 2 idle connections by default: under load, every other
	// delivery would pay for a new PostgreSQL connection.
	s.db.SetMaxOpenConns(16)
	s.db.SetMaxIdleConns(16)
	s.Dedup, err = sqldedup.New(sqldedup.Config{DB: s.db, Dialect: s.dialect})
	if err == nil {
		err = s.migrate(ctx)
	}
	if err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// migrate creates the tables. On PostgreSQL, replicas starting together
// take turns through an advisory lock: concurrent CREATE TABLE IF NOT
// EXISTS can otherwise fail on PostgreSQL's catalog.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("usersync: creating the schema: %w", err)
	}
	defer tx.Rollback()
	if s.dialect == sqldedup.PostgreSQL {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7243001)`); err != nil {
			return fmt.Errorf("usersync: creating the schema: %w", err)
		}
	}
	for _, stmt := range append(schema, s.Dedup.Schema()...) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("usersync: creating the schema: %w", err)
		}
	}
	return tx.Commit()
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// q rewrites a query's ? placeholders as $1, $2, … for PostgreSQL. The
// queries here have no ? in literals.
func (s *Store) q(query string) string {
	if s.dialect != sqldedup.PostgreSQL {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// exec runs a statement in the delivery's transaction.
func (s *Store) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tx, ok := sqldedup.Tx(ctx)
	if !ok {
		return 0, errors.New("usersync: no delivery transaction; the webhook handler's Dedup must be the store's sqldedup.Store")
	}
	res, err := tx.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// lock serialises the deliveries that touch the same Clerk objects. On
// PostgreSQL, under READ COMMITTED, an organization.deleted and a
// membership.created for that organization, running at the same moment,
// would each miss the other's uncommitted write (the membership would
// outlive its organization); a transaction-scoped advisory lock per object
// id, taken in sorted order (no deadlocks), makes the second wait and then
// see the first's commit. SQLite needs none: its write transactions
// (_txlock=immediate) already run one at a time.
func (s *Store) lock(ctx context.Context, ids ...string) error {
	if s.dialect != sqldedup.PostgreSQL {
		return nil
	}
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		if id == "" {
			continue
		}
		if _, err := s.exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(?, 0))`, id); err != nil {
			return err
		}
	}
	return nil
}

// applied records the delivery in activity and, in the crash test, stops
// there.
func (s *Store) applied(ctx context.Context, m clerkauth.EventMeta, objectID string) error {
	if _, err := s.exec(ctx, `INSERT INTO activity (svix_id, type, object_id) VALUES (?, ?, ?)`, m.ID, m.Type, objectID); err != nil {
		return err
	}
	if s.held != nil {
		s.held(ctx, objectID)
	}
	return nil
}

// Users returns the store's user callbacks. Created and updated are the
// same upsert: an update can arrive before its create.
func (s *Store) Users() clerkauth.UserEventFuncs {
	return clerkauth.UserEventFuncs{Created: s.upsertUser, Updated: s.upsertUser, Deleted: s.deleteUser}
}

func (s *Store) upsertUser(ctx context.Context, e *clerkauth.UserEvent) error {
	u := e.User
	if err := s.lock(ctx, u.ID); err != nil {
		return err
	}
	n, err := s.exec(ctx, `
INSERT INTO users (clerk_id, email, first_name, last_name, image_url, updated_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (clerk_id) DO UPDATE SET
	email = excluded.email, first_name = excluded.first_name, last_name = excluded.last_name,
	image_url = excluded.image_url, updated_at = excluded.updated_at
WHERE users.deleted = 0 AND excluded.updated_at >= users.updated_at`,
		u.ID, clerkauth.PrimaryEmail(u), deref(u.FirstName), deref(u.LastName), deref(u.ImageURL), u.UpdatedAt)
	if err != nil {
		return err
	}
	if n > 0 { // else an older version, or a deleted user: nothing to change
		if _, err := s.exec(ctx, `DELETE FROM user_emails WHERE clerk_id = ?`, u.ID); err != nil {
			return err
		}
		for _, a := range u.EmailAddresses {
			if a == nil {
				continue
			}
			if _, err := s.exec(ctx, `INSERT INTO user_emails (clerk_id, email) VALUES (?, ?) ON CONFLICT DO NOTHING`, u.ID, a.EmailAddress); err != nil {
				return err
			}
		}
	}
	return s.applied(ctx, e.EventMeta, u.ID)
}

// deleteUser makes the row a tombstone (personal data cleared), and the
// user's memberships go too.
func (s *Store) deleteUser(ctx context.Context, e *clerkauth.DeletedEvent) error {
	if err := s.lock(ctx, e.ID); err != nil {
		return err
	}
	if _, err := s.exec(ctx, `
INSERT INTO users (clerk_id, deleted) VALUES (?, 1)
ON CONFLICT (clerk_id) DO UPDATE SET deleted = 1, email = '', first_name = '', last_name = '', image_url = ''`, e.ID); err != nil {
		return err
	}
	if _, err := s.exec(ctx, `DELETE FROM user_emails WHERE clerk_id = ?`, e.ID); err != nil {
		return err
	}
	if _, err := s.exec(ctx, `UPDATE memberships SET deleted = 1 WHERE user_id = ?`, e.ID); err != nil {
		return err
	}
	return s.applied(ctx, e.EventMeta, e.ID)
}

// Organizations returns the store's organization callbacks.
func (s *Store) Organizations() clerkauth.OrganizationEventFuncs {
	return clerkauth.OrganizationEventFuncs{Created: s.upsertOrg, Updated: s.upsertOrg, Deleted: s.deleteOrg}
}

// Memberships returns the store's membership callbacks.
func (s *Store) Memberships() clerkauth.MembershipEventFuncs {
	return clerkauth.MembershipEventFuncs{Created: s.upsertMembership, Updated: s.upsertMembership, Deleted: s.deleteMembership}
}

func (s *Store) upsertOrg(ctx context.Context, e *clerkauth.OrganizationEvent) error {
	o := e.Organization
	if err := s.lock(ctx, o.ID); err != nil {
		return err
	}
	if _, err := s.exec(ctx, `
INSERT INTO organizations (clerk_id, name, slug, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (clerk_id) DO UPDATE SET name = excluded.name, slug = excluded.slug, updated_at = excluded.updated_at
WHERE organizations.deleted = 0 AND excluded.updated_at >= organizations.updated_at`,
		o.ID, o.Name, o.Slug, o.UpdatedAt); err != nil {
		return err
	}
	return s.applied(ctx, e.EventMeta, o.ID)
}

// deleteOrg leaves a tombstone and ends the organization's memberships
// (Clerk sends no membership event for them).
func (s *Store) deleteOrg(ctx context.Context, e *clerkauth.DeletedEvent) error {
	if err := s.lock(ctx, e.ID); err != nil {
		return err
	}
	if _, err := s.exec(ctx, `
INSERT INTO organizations (clerk_id, deleted) VALUES (?, 1)
ON CONFLICT (clerk_id) DO UPDATE SET deleted = 1, name = '', slug = ''`, e.ID); err != nil {
		return err
	}
	if _, err := s.exec(ctx, `UPDATE memberships SET deleted = 1 WHERE org_id = ?`, e.ID); err != nil {
		return err
	}
	return s.applied(ctx, e.EventMeta, e.ID)
}

// upsertMembership writes a membership unless it, its organization or its
// user is deleted: a membership.created that arrives after the
// organization's deletion stays out.
func (s *Store) upsertMembership(ctx context.Context, e *clerkauth.MembershipEvent) error {
	m := e.Membership
	orgID, userID := membershipKeys(m)
	if err := s.lock(ctx, orgID, userID, m.ID); err != nil {
		return err
	}
	if _, err := s.exec(ctx, `
INSERT INTO memberships (clerk_id, org_id, user_id, role, updated_at)
SELECT ?, ?, ?, ?, CAST(? AS BIGINT)
WHERE NOT EXISTS (SELECT 1 FROM organizations WHERE clerk_id = ? AND deleted = 1)
  AND NOT EXISTS (SELECT 1 FROM users WHERE clerk_id = ? AND deleted = 1)
ON CONFLICT (clerk_id) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at
WHERE memberships.deleted = 0 AND excluded.updated_at >= memberships.updated_at`,
		m.ID, orgID, userID, m.Role, m.UpdatedAt, orgID, userID); err != nil {
		return err
	}
	return s.applied(ctx, e.EventMeta, m.ID)
}

func (s *Store) deleteMembership(ctx context.Context, e *clerkauth.MembershipEvent) error {
	m := e.Membership
	orgID, userID := membershipKeys(m)
	if err := s.lock(ctx, orgID, userID, m.ID); err != nil {
		return err
	}
	if _, err := s.exec(ctx, `
INSERT INTO memberships (clerk_id, org_id, user_id, deleted) VALUES (?, ?, ?, 1)
ON CONFLICT (clerk_id) DO UPDATE SET deleted = 1`, m.ID, orgID, userID); err != nil {
		return err
	}
	return s.applied(ctx, e.EventMeta, m.ID)
}

func membershipKeys(m *clerk.OrganizationMembership) (orgID, userID string) {
	if m.Organization != nil {
		orgID = m.Organization.ID
	}
	if m.PublicUserData != nil {
		userID = m.PublicUserData.UserID
	}
	return orgID, userID
}

// ErrNoUser: the user is not in the table (not synced yet, or deleted).
var ErrNoUser = errors.New("usersync: no such user")

// User reads a user by Clerk ID.
func (s *Store) User(ctx context.Context, clerkID string) (*User, error) {
	u := &User{ClerkID: clerkID}
	var deleted int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT email, first_name, last_name, image_url, updated_at, deleted FROM users WHERE clerk_id = ?`), clerkID).
		Scan(&u.Email, &u.FirstName, &u.LastName, &u.ImageURL, &u.UpdatedAt, &deleted)
	if errors.Is(err, sql.ErrNoRows) || deleted != 0 {
		return nil, ErrNoUser
	}
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT email FROM user_emails WHERE clerk_id = ? ORDER BY email`), clerkID)
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
	if err := rows.Err(); err != nil {
		return nil, err
	}
	u.Organizations, err = s.memberships(ctx, clerkID)
	return u, err
}

// Membership is a user's membership, for /api/me.
type Membership struct {
	OrgID   string `json:"org_id"`
	OrgName string `json:"org_name"`
	Role    string `json:"role"`
}

func (s *Store) memberships(ctx context.Context, userID string) ([]Membership, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`
SELECT m.org_id, COALESCE(o.name, ''), m.role FROM memberships m
LEFT JOIN organizations o ON o.clerk_id = m.org_id
WHERE m.user_id = ? AND m.deleted = 0 AND COALESCE(o.deleted, 0) = 0
ORDER BY m.org_id`), userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Membership{}
	for rows.Next() {
		var m Membership
		if err := rows.Scan(&m.OrgID, &m.OrgName, &m.Role); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// MarshalJSON keeps empty lists as [] rather than null.
func (u User) MarshalJSON() ([]byte, error) {
	type plain User
	if u.Emails == nil {
		u.Emails = []string{}
	}
	if u.Organizations == nil {
		u.Organizations = []Membership{}
	}
	return json.Marshal(plain(u))
}
