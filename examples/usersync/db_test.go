package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth/sqldedup"
)

// The PostgreSQL tests run against DATABASE_URL (a server where the user
// may create databases; .ci/postgres.sh starts one). Each test gets a new
// database of its own. Without DATABASE_URL they skip on a developer's
// machine, and fail in CI.
func postgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("DATABASE_URL")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("DATABASE_URL is not set: CI must run the PostgreSQL tests (.ci/postgres.sh starts a server)")
		}
		t.Skip("DATABASE_URL is not set: skipping the PostgreSQL tests (start a server with `sudo .ci/postgres.sh` and export the URL it prints)")
	}
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	name := fmt.Sprintf("usersync_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	_, err = admin.Exec(`CREATE DATABASE ` + name)
	require.NoError(t, err, "creating a test database on DATABASE_URL")
	t.Cleanup(func() { admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`) })
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
}

var dbSeq atomic.Int64

// database is where a test's store lives: SQLite (a file) or PostgreSQL
// (a URL).
type database struct {
	dialect sqldedup.Dialect
	url     string // PostgreSQL
	path    string // SQLite
}

// eachDatabase runs a test on a new SQLite file and on a new PostgreSQL
// database.
func eachDatabase(t *testing.T, test func(t *testing.T, db database)) {
	t.Run("sqlite", func(t *testing.T) {
		test(t, database{dialect: sqldedup.SQLite, path: filepath.Join(t.TempDir(), "users.db")})
	})
	t.Run("postgres", func(t *testing.T) {
		test(t, database{dialect: sqldedup.PostgreSQL, url: postgresURL(t)})
	})
}

func (db database) open(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), db.url, db.path)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// env is the environment of a replica process on this database.
func (db database) env() []string {
	if db.dialect == sqldedup.PostgreSQL {
		return []string{"DATABASE_URL=" + db.url}
	}
	return []string{"DATABASE_URL=", "DATABASE=" + db.path}
}
