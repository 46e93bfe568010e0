package sqldedup

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The SQL store on real databases (SQLite and PostgreSQL, concurrent
// claims, pruning, replicas and crashes) is tested in examples/usersync,
// the module that has the drivers. Here: its configuration.

type noConnector struct{}

func (noConnector) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("no database")
}
func (noConnector) Driver() driver.Driver { return nil }

func TestNewSQLDedupStoreValidates(t *testing.T) {
	db := sql.OpenDB(noConnector{})
	defer db.Close()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no DB", Config{Dialect: PostgreSQL}, "Config.DB is nil"},
		{"no dialect", Config{DB: db}, "set sqldedup.PostgreSQL or sqldedup.SQLite"},
		{"unknown dialect", Config{DB: db, Dialect: "mysql"}, `Dialect "mysql" is not supported`},
		{"injection in the table name", Config{DB: db, Dialect: SQLite, Table: "t; DROP TABLE users"}, "is not a plain SQL name"},
		{"three-part name", Config{DB: db, Dialect: PostgreSQL, Table: "a.b.c"}, "is not a plain SQL name"},
		{"quoted name", Config{DB: db, Dialect: PostgreSQL, Table: `"deliveries"`}, "is not a plain SQL name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestSQLDedupStoreSchema(t *testing.T) {
	db := sql.OpenDB(noConnector{})
	defer db.Close()
	for _, tc := range []struct {
		dialect Dialect
		table   string
		want    []string
	}{
		{PostgreSQL, "", []string{
			"CREATE TABLE IF NOT EXISTS clerkauth_webhook_deliveries (svix_id TEXT PRIMARY KEY, processed_at BIGINT NOT NULL)",
			"CREATE INDEX IF NOT EXISTS clerkauth_webhook_deliveries_processed_at ON clerkauth_webhook_deliveries (processed_at)"}},
		{PostgreSQL, "hooks.deliveries", []string{
			"CREATE TABLE IF NOT EXISTS hooks.deliveries (svix_id TEXT PRIMARY KEY, processed_at BIGINT NOT NULL)",
			"CREATE INDEX IF NOT EXISTS deliveries_processed_at ON hooks.deliveries (processed_at)"}},
		{SQLite, "aux.deliveries", []string{
			"CREATE TABLE IF NOT EXISTS aux.deliveries (svix_id TEXT PRIMARY KEY, processed_at BIGINT NOT NULL)",
			"CREATE INDEX IF NOT EXISTS aux.deliveries_processed_at ON deliveries (processed_at)"}},
	} {
		s, err := New(Config{DB: db, Dialect: tc.dialect, Table: tc.table})
		require.NoError(t, err)
		assert.Equal(t, tc.want, s.Schema())
	}
}

// TestSQLDedupStoreBeginFailsClosed: a database that cannot be reached
// is an error (the handler answers 500 and Svix retries), never "done".
func TestSQLDedupStoreBeginFailsClosed(t *testing.T) {
	db := sql.OpenDB(noConnector{})
	defer db.Close()
	s, err := New(Config{DB: db, Dialect: PostgreSQL})
	require.NoError(t, err)
	_, done, err := s.Begin(context.Background(), "msg_1")
	assert.Error(t, err)
	assert.False(t, done)
}
