// Package migrations holds the project's SQL migrations for InsForge, embedded so
// tests, the local stack and tools apply exactly the files that ship. Files are
// named NNNN_name.sql, applied in lexical order, each in its own transaction as
// project_admin (as InsForge runs them) unless it starts with OwnerMarker, and
// each idempotent: re-running is a no-op.
package migrations

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed *.sql
var files embed.FS

// FS is the embedded migration directory.
func FS() fs.FS { return files }

// OwnerMarker, as a file's first line, says the file changes objects that belong
// to the database owner rather than to project_admin (InsForge's realtime tables):
// it is applied as the connection's own role, as InsForge's unrestricted SQL and
// scripts/migrate --psql run it. Such a file must still be harmless when run as
// project_admin (InsForge CLI), since that runner ignores the marker.
const OwnerMarker = "-- run-as: owner"

// Migration is one SQL file.
type Migration struct {
	Name    string // file name, e.g. 0002_todos.sql
	SQL     string
	AsOwner bool // first line is OwnerMarker
}

var nameRE = regexp.MustCompile(`^[0-9]{4}_[a-z0-9_]+\.sql$`)

// All returns the migrations in the order they must be applied.
func All() ([]Migration, error) { return Load(files) }

// Load reads NNNN_name.sql files from fsys in order; any other .sql name is an
// error so a misnamed file cannot be silently skipped or misordered.
func Load(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]Migration, 0, len(names))
	seen := map[string]string{}
	for _, n := range names {
		if !nameRE.MatchString(n) {
			return nil, fmt.Errorf("migrations: %q is not named NNNN_lower_snake.sql", n)
		}
		if prev, dup := seen[n[:4]]; dup {
			return nil, fmt.Errorf("migrations: %q and %q share the number %s", prev, n, n[:4])
		}
		seen[n[:4]] = n
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		first, _, _ := strings.Cut(string(b), "\n")
		out = append(out, Migration{Name: n, SQL: string(b), AsOwner: strings.TrimSpace(first) == OwnerMarker})
	}
	return out, nil
}

// AdminClaims are the claims InsForge sets when it runs migrations.
const AdminClaims = `{"role":"project_admin"}`

// Apply runs each migration in its own transaction under SET LOCAL ROLE
// project_admin with project_admin claims, so object ownership and privileges match
// production; an AsOwner migration runs as conn's own role. conn must be allowed
// to SET ROLE project_admin (a superuser is).
func Apply(ctx context.Context, conn *pgx.Conn, ms []Migration) error {
	for _, m := range ms {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if !m.AsOwner {
				if _, err := tx.Exec(ctx, `SET LOCAL ROLE project_admin`); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `SELECT set_config('request.jwt.claims', $1, true)`, AdminClaims); err != nil {
				return err
			}
			// No arguments: pgx sends it with the simple protocol, so a file may hold
			// many statements.
			_, err := tx.Exec(ctx, m.SQL)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}
