package main

// Tests of sqldedup.Store on real databases (the library itself
// has no driver): SQLite through modernc.org/sqlite, PostgreSQL through pgx.

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth/internal/testutil"
	"github.com/clerkauth/clerkauth/sqldedup"
)

func (db database) sqlDB(t testing.TB) *sql.DB {
	t.Helper()
	var d *sql.DB
	var err error
	if db.dialect == sqldedup.PostgreSQL {
		d, err = sql.Open("pgx", db.url)
	} else {
		d, err = sql.Open("sqlite", "file:"+db.path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	}
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	return d
}

func newSQLStore(t *testing.T, db database, cfg sqldedup.Config) (*sqldedup.Store, *sql.DB) {
	t.Helper()
	cfg.DB, cfg.Dialect = db.sqlDB(t), db.dialect
	s, err := sqldedup.New(cfg)
	require.NoError(t, err)
	require.NoError(t, s.CreateTable(context.Background()))
	require.NoError(t, s.CreateTable(context.Background()), "CreateTable is idempotent")
	return s, cfg.DB
}

func TestSQLDedupStoreClaimCommitAbort(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db database) {
		s, _ := newSQLStore(t, db, sqldedup.Config{})
		bg := context.Background()

		ctx, done, err := s.Begin(bg, "msg_1")
		require.NoError(t, err)
		require.False(t, done)
		_, ok := sqldedup.Tx(ctx)
		require.True(t, ok, "the callback's context carries the delivery's transaction")
		s.Abort(ctx, "msg_1")

		ctx, done, err = s.Begin(bg, "msg_1")
		require.NoError(t, err)
		require.False(t, done, "an aborted delivery runs again")
		require.NoError(t, s.Commit(ctx, "msg_1"))

		_, done, err = s.Begin(bg, "msg_1")
		require.NoError(t, err)
		assert.True(t, done, "a committed delivery is done")
		_, done, err = s.Begin(bg, "msg_2")
		require.NoError(t, err)
		assert.False(t, done)

		assert.Error(t, s.Commit(bg, "msg_3"), "Commit needs the context Begin returned")
	})
}

// TestSQLDedupStoreConcurrentClaims: 24 deliveries of one id at once, on
// separate connections (each Begin holds one). The first few to proceed
// fail (Abort), as a callback error would; exactly one commits, and every
// Begin after that commit reports done. The order is the database's; the
// counts hold in every order.
func TestSQLDedupStoreConcurrentClaims(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db database) {
		s, _ := newSQLStore(t, db, sqldedup.Config{})
		const n, failures = 24, 3
		var mu sync.Mutex
		var proceeded, committed, dones int
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				ctx, done, err := s.Begin(context.Background(), "msg_same")
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				switch {
				case done:
					dones++
				case proceeded < failures:
					proceeded++
					s.Abort(ctx, "msg_same")
				default:
					proceeded++
					committed++
					assert.NoError(t, s.Commit(ctx, "msg_same"))
				}
			})
		}
		wg.Wait()
		assert.Equal(t, 1, committed, "exactly one delivery took effect")
		assert.Equal(t, failures+1, proceeded, "only the failed ones ran again")
		assert.Equal(t, n-failures-1, dones)
	})
}

// TestSQLDedupStorePrunes: ids older than the TTL go, once per interval
// (not at every delivery), a batch at a time, through the index.
func TestSQLDedupStorePrunes(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db database) {
		clock := testutil.NewFakeClock(time.Unix(1_800_000_000, 0))
		s, raw := newSQLStore(t, db, sqldedup.Config{TTL: time.Hour, PruneInterval: time.Minute, Now: clock.Now})
		q := func(query string) string {
			if db.dialect == sqldedup.PostgreSQL {
				return strings.ReplaceAll(query, "?", "$1")
			}
			return query
		}
		count := func() int {
			var n int
			require.NoError(t, raw.QueryRow(`SELECT count(*) FROM clerkauth_webhook_deliveries`).Scan(&n))
			return n
		}
		deliver := func(id string) {
			ctx, done, err := s.Begin(context.Background(), id)
			require.NoError(t, err)
			require.False(t, done)
			require.NoError(t, s.Commit(ctx, id))
		}
		// 2,500 ids from two hours ago: more than two batches.
		tx, err := raw.Begin()
		require.NoError(t, err)
		for i := range 2500 {
			_, err := tx.Exec(q(`INSERT INTO clerkauth_webhook_deliveries (svix_id, processed_at) VALUES (?, `)+itoa(clock.Now().Add(-2*time.Hour).Unix())+`)`, "old_"+itoa(int64(i)))
			require.NoError(t, err)
		}
		require.NoError(t, tx.Commit())

		deliver("new_1") // the first delivery prunes one batch,
		assert.Equal(t, 1501, count())
		deliver("new_2") // the batch was full, so the prune stays due,
		assert.Equal(t, 502, count())
		deliver("new_3") // until a batch comes back short.
		assert.Equal(t, 3, count())

		// More expired ids: not pruned until the interval has passed.
		_, err = raw.Exec(q(`INSERT INTO clerkauth_webhook_deliveries (svix_id, processed_at) VALUES (?, 0)`), "old_late")
		require.NoError(t, err)
		deliver("new_4")
		assert.Equal(t, 5, count(), "no prune within the interval")
		clock.Advance(time.Minute)
		deliver("new_5")
		assert.Equal(t, 5, count(), "old_late went; the new ids are within the TTL")
		clock.Advance(time.Hour + time.Second)
		n, err := s.Prune(context.Background())
		require.NoError(t, err)
		assert.EqualValues(t, 5, n)

		// The prune reads the index on processed_at, not the whole table.
		var plan []string
		if db.dialect == sqldedup.PostgreSQL {
			_, err = raw.Exec(`ANALYZE clerkauth_webhook_deliveries`)
			require.NoError(t, err)
			plan = explain(t, raw, `SET enable_seqscan = off`, `EXPLAIN DELETE FROM clerkauth_webhook_deliveries WHERE svix_id IN (SELECT svix_id FROM clerkauth_webhook_deliveries WHERE processed_at < 5 LIMIT 1000 FOR UPDATE SKIP LOCKED)`)
		} else {
			plan = explain(t, raw, ``, `EXPLAIN QUERY PLAN DELETE FROM clerkauth_webhook_deliveries WHERE svix_id IN (SELECT svix_id FROM clerkauth_webhook_deliveries WHERE processed_at < 5 LIMIT 1000)`)
		}
		assert.Contains(t, strings.Join(plan, "\n"), "clerkauth_webhook_deliveries_processed_at", "the prune uses the processed_at index")
	})
}

// explain returns a query plan's lines, on one connection (so that a
// session setting applies).
func explain(t *testing.T, db *sql.DB, setting, query string) []string {
	t.Helper()
	conn, err := db.Conn(context.Background())
	require.NoError(t, err)
	defer conn.Close()
	if setting != "" {
		_, err = conn.ExecContext(context.Background(), setting)
		require.NoError(t, err)
	}
	rows, err := conn.QueryContext(context.Background(), query)
	require.NoError(t, err)
	defer rows.Close()
	cols, _ := rows.Columns()
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		for _, v := range vals {
			switch v := v.(type) {
			case string:
				lines = append(lines, v)
			case []byte:
				lines = append(lines, string(v))
			}
		}
	}
	require.NoError(t, rows.Err())
	return lines
}

func TestSQLDedupStoreQualifiedTable(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db database) {
		raw := db.sqlDB(t)
		table := "main.deliveries"
		if db.dialect == sqldedup.PostgreSQL {
			_, err := raw.Exec(`CREATE SCHEMA hooks`)
			require.NoError(t, err)
			table = "hooks.deliveries"
		}
		s, err := sqldedup.New(sqldedup.Config{DB: raw, Dialect: db.dialect, Table: table})
		require.NoError(t, err)
		require.NoError(t, s.CreateTable(context.Background()))
		ctx, done, err := s.Begin(context.Background(), "msg_1")
		require.NoError(t, err)
		require.False(t, done)
		require.NoError(t, s.Commit(ctx, "msg_1"))
		var n int
		require.NoError(t, raw.QueryRow(`SELECT count(*) FROM `+table).Scan(&n))
		assert.Equal(t, 1, n)
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
