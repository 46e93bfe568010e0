// Package sqldedup is a clerkauth.DedupStore on database/sql, for
// webhook deliveries shared by several processes (replicas) through one
// PostgreSQL or SQLite database: each delivery's id commits in the same
// transaction as the callback's own writes, so every delivery is applied
// exactly once, and none is lost when a process dies. Bring the driver.
package sqldedup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/clerkauth/clerkauth"
)

// Dialect names the SQL a Store speaks.
type Dialect string

// The dialects Store speaks. Bring the driver: for example
// github.com/jackc/pgx/v5/stdlib ("pgx") for PostgreSQL, modernc.org/sqlite
// ("sqlite") or github.com/mattn/go-sqlite3 for SQLite.
const (
	PostgreSQL Dialect = "postgres"
	SQLite     Dialect = "sqlite"
)

// Defaults of Config.
const (
	DefaultTable         = "clerkauth_webhook_deliveries"
	DefaultPruneInterval = 10 * time.Minute
	// dedupPruneBatch bounds the rows one prune deletes, so that pruning a
	// backlog never holds up one delivery for long: a full batch leaves the
	// prune due, and the next delivery takes the next batch.
	dedupPruneBatch = 1000
)

// Config configures a Store.
type Config struct {
	// DB is the application's database, opened with the driver of its
	// choice. Required.
	DB *sql.DB
	// Dialect is PostgreSQL or SQLite. Required.
	Dialect Dialect
	// Table holds the delivery ids; "name" or "schema.name". Default
	// DefaultTable. Create it with CreateTable, or with your
	// migrations from Schema.
	Table string
	// TTL is how long a delivery id is remembered. Default clerkauth.DefaultDedupTTL
	// (48 hours; Svix retries a delivery for about 28 hours). An id pruned
	// while Svix still retries it would be applied again.
	TTL time.Duration
	// PruneInterval is how often, per process, a delivery also deletes
	// expired ids (through the index on processed_at, at most 1,000 at a
	// time). Default DefaultPruneInterval.
	PruneInterval time.Duration
	// TxOptions opens each delivery's transaction. Default: READ COMMITTED
	// on PostgreSQL (a concurrent duplicate then waits for the first
	// delivery and sees its commit), the driver's default on SQLite. A
	// stricter level makes such a duplicate fail with a serialization
	// error instead: it is answered 500 and Svix's retry finds it done.
	TxOptions *sql.TxOptions
	// Now returns the current time; for tests. Default time.Now.
	Now func() time.Time
}

// Store is a clerkauth.DedupStore on database/sql, for deliveries shared by
// several processes (replicas) through one database.
//
// Begin opens a transaction and inserts the delivery id in it; the
// callback finds the transaction with Tx and makes its own writes in
// it; Commit commits both together, and Abort (a failed callback) rolls
// both back. A process that dies before the commit leaves nothing behind:
// the database rolls its transaction back, and Svix's retry runs the
// delivery again.
//
// Two deliveries of one id at the same moment, on two connections or two
// replicas, are ordered by the table's primary key: the second insert
// waits for the first transaction (PostgreSQL's row lock, SQLite's write
// lock), then finds the id committed (done: the callback does not run) or
// rolled back (it proceeds). No timing is involved.
//
// On SQLite, open the database with a busy timeout (for modernc.org/sqlite,
// "_pragma=busy_timeout(10000)") so that a second writer waits instead of
// failing, and preferably with "_txlock=immediate".
type Store struct {
	db        *sql.DB
	txOptions *sql.TxOptions
	ttl       time.Duration
	interval  time.Duration
	now       func() time.Time
	schema    []string // CREATE statements
	insert    string
	prune     string

	mu        sync.Mutex
	pruneDue  time.Time // when the next prune is due; zero: at once
	pruneBusy bool
}

var sqlIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$`)

// New validates cfg and prepares the store's statements. It
// does not touch the database; see CreateTable.
func New(cfg Config) (*Store, error) {
	if cfg.DB == nil {
		return nil, errors.New("sqldedup: Config.DB is nil; pass the *sql.DB your application writes to, so that the delivery id commits with its writes")
	}
	table := cfg.Table
	if table == "" {
		table = DefaultTable
	}
	if !sqlIdentifier.MatchString(table) {
		return nil, fmt.Errorf("sqldedup: Config.Table %q is not a plain SQL name; use letters, digits and _, optionally schema.table", table)
	}
	s := &Store{db: cfg.DB, txOptions: cfg.TxOptions, ttl: cfg.TTL, interval: cfg.PruneInterval, now: cfg.Now}
	if s.ttl <= 0 {
		s.ttl = clerkauth.DefaultDedupTTL
	}
	if s.interval <= 0 {
		s.interval = DefaultPruneInterval
	}
	if s.now == nil {
		s.now = time.Now
	}
	// An index lives in its table's schema: PostgreSQL names the schema on
	// the table, SQLite on the index.
	schema, name, qualified := strings.Cut(table, ".")
	if !qualified {
		schema, name = "", table
	}
	createTable := `CREATE TABLE IF NOT EXISTS ` + table + ` (svix_id TEXT PRIMARY KEY, processed_at BIGINT NOT NULL)`
	switch cfg.Dialect {
	case PostgreSQL:
		s.schema = []string{createTable, `CREATE INDEX IF NOT EXISTS ` + name + `_processed_at ON ` + table + ` (processed_at)`}
		s.insert = `INSERT INTO ` + table + ` (svix_id, processed_at) VALUES ($1, $2) ON CONFLICT (svix_id) DO NOTHING`
		// SKIP LOCKED: replicas pruning at the same moment share the work
		// instead of waiting on each other's rows.
		s.prune = fmt.Sprintf(`DELETE FROM %[1]s WHERE svix_id IN (SELECT svix_id FROM %[1]s WHERE processed_at < $1 LIMIT %[2]d FOR UPDATE SKIP LOCKED)`, table, dedupPruneBatch)
		if s.txOptions == nil {
			s.txOptions = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
		}
	case SQLite:
		index := name + "_processed_at"
		if qualified {
			index = schema + "." + index
		}
		s.schema = []string{createTable, `CREATE INDEX IF NOT EXISTS ` + index + ` ON ` + name + ` (processed_at)`}
		s.insert = `INSERT INTO ` + table + ` (svix_id, processed_at) VALUES (?, ?) ON CONFLICT (svix_id) DO NOTHING`
		s.prune = fmt.Sprintf(`DELETE FROM %[1]s WHERE svix_id IN (SELECT svix_id FROM %[1]s WHERE processed_at < ? LIMIT %[2]d)`, table, dedupPruneBatch)
	case "":
		return nil, errors.New("sqldedup: Config.Dialect is empty; set sqldedup.PostgreSQL or sqldedup.SQLite")
	default:
		return nil, fmt.Errorf("sqldedup: Config.Dialect %q is not supported; set sqldedup.PostgreSQL or sqldedup.SQLite", cfg.Dialect)
	}
	return s, nil
}

// Schema returns the statements that create the store's table and its
// index, for migration tools. Both are idempotent (IF NOT EXISTS).
func (s *Store) Schema() []string { return append([]string(nil), s.schema...) }

// CreateTable creates the store's table and index if they do not exist.
func (s *Store) CreateTable(ctx context.Context) error {
	for _, stmt := range s.schema {
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("sqldedup: creating the webhook dedup table: %w", err)
		}
	}
	return nil
}

type txKey struct{}

// Tx returns the transaction of the delivery being processed, when
// the handler's DedupStore is a Store. Make the callback's writes
// in it, and neither commit nor roll it back: the handler commits it once
// the callback returns nil, and rolls it back otherwise.
func Tx(ctx context.Context) (*sql.Tx, bool) {
	tx, ok := ctx.Value(txKey{}).(*sql.Tx)
	return tx, ok
}

// Begin implements DedupStore: it opens the delivery's transaction and
// claims the id in it. done is true when the id was already committed.
func (s *Store) Begin(ctx context.Context, id string) (context.Context, bool, error) {
	tx, err := s.db.BeginTx(ctx, s.txOptions)
	if err != nil {
		return ctx, false, err
	}
	res, err := tx.ExecContext(ctx, s.insert, id, s.now().Unix())
	if err != nil {
		tx.Rollback()
		return ctx, false, err
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		tx.Rollback()
		return ctx, err == nil, err
	}
	return context.WithValue(ctx, txKey{}, tx), false, nil
}

// Commit implements DedupStore: the callback's writes and the id commit
// together. When a prune is due, it follows the commit.
func (s *Store) Commit(ctx context.Context, id string) error {
	tx, ok := Tx(ctx)
	if !ok {
		return errors.New("sqldedup: Store.Commit without the context Begin returned")
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.maybePrune(ctx)
	return nil
}

// Abort implements DedupStore: nothing of the delivery remains.
func (s *Store) Abort(ctx context.Context, id string) {
	if tx, ok := Tx(ctx); ok {
		tx.Rollback()
	}
}

// Prune deletes up to 1,000 ids older than the TTL, oldest first by the
// index, and returns how many it deleted. Deliveries call it every
// PruneInterval; call it yourself to prune on your own schedule.
func (s *Store) Prune(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.prune, s.now().Add(-s.ttl).Unix())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// maybePrune prunes once per interval in this process. A failed prune is
// retried at the next interval (the ids stay done meanwhile, which is
// safe); a full batch leaves the prune due for the next delivery.
func (s *Store) maybePrune(ctx context.Context) {
	now := s.now()
	s.mu.Lock()
	if s.pruneBusy || now.Before(s.pruneDue) {
		s.mu.Unlock()
		return
	}
	s.pruneBusy = true
	s.mu.Unlock()

	n, err := s.Prune(ctx)

	s.mu.Lock()
	s.pruneBusy = false
	if err != nil || n < dedupPruneBatch {
		s.pruneDue = now.Add(s.interval)
	}
	s.mu.Unlock()
}

var _ clerkauth.DedupStore = (*Store)(nil)
