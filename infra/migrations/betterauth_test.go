package migrations_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/insforge/edge-functions-go/infra/migrations"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
)

// betterAuthTables is what Better Auth's migrate creates (trimmed), plus a
// sequence and a function, which a plugin or a hand-written helper may add.
const betterAuthTables = `
CREATE SCHEMA IF NOT EXISTS better_auth;
CREATE TABLE better_auth."user" (id text PRIMARY KEY, email text NOT NULL UNIQUE, "emailVerified" boolean NOT NULL);
CREATE TABLE better_auth.session (id text PRIMARY KEY, token text NOT NULL UNIQUE, "userId" text NOT NULL REFERENCES better_auth."user"(id),
  "expiresAt" timestamptz NOT NULL);
CREATE SEQUENCE better_auth.counter;
CREATE FUNCTION better_auth.session_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM better_auth.session';
INSERT INTO better_auth."user" VALUES ('u1', 'ada@example.com', true);
INSERT INTO better_auth.session VALUES ('s1', 'secret-session-token', 'u1', now() + interval '7 days');
`

// openItAllUp grants what a careless setup (or a platform's default privileges)
// could leave behind: every privilege to PUBLIC, anon and authenticated, now and
// for future tables.
const openItAllUp = `
GRANT USAGE, CREATE ON SCHEMA better_auth TO PUBLIC, anon, authenticated;
GRANT ALL ON ALL TABLES IN SCHEMA better_auth TO PUBLIC, anon, authenticated;
GRANT ALL ON ALL SEQUENCES IN SCHEMA better_auth TO PUBLIC, anon, authenticated;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA better_auth TO PUBLIC, anon, authenticated;
ALTER DEFAULT PRIVILEGES IN SCHEMA better_auth GRANT ALL ON TABLES TO PUBLIC, anon, authenticated;
ALTER DEFAULT PRIVILEGES IN SCHEMA better_auth GRANT ALL ON SEQUENCES TO PUBLIC, anon, authenticated;
`

var errReached = errors.New("reached")

// reach lists what anon and authenticated could still do in better_auth.
func reach(t *testing.T, s *insforgetest.Stack) []string {
	t.Helper()
	ctx := context.Background()
	probes := []string{
		`SELECT token FROM better_auth.session`,
		`SELECT email FROM better_auth."user"`,
		`INSERT INTO better_auth."user" VALUES ('evil', 'evil@example.com', true)`,
		`UPDATE better_auth."user" SET email = 'evil@example.com'`,
		`DELETE FROM better_auth.session`,
		`SELECT nextval('better_auth.counter')`,
		`SELECT better_auth.session_count()`,
		`CREATE TABLE better_auth.mine (x int)`,
		`SELECT 1 FROM better_auth.later`,
	}
	var open []string
	for _, role := range []string{"anon", "authenticated"} {
		claims := insforgetest.AnonClaims
		if role == "authenticated" {
			claims = `{"role":"authenticated","sub":"u1"}`
		}
		for _, q := range probes {
			// A probe that succeeds is rolled back, so probes cannot disturb each other.
			err := s.AsRole(ctx, role, claims, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, q); err != nil {
					return err
				}
				return errReached
			})
			var pe *pgconn.PgError
			switch {
			case errors.Is(err, errReached):
				open = append(open, role+": "+q)
			case errors.As(err, &pe) && (pe.Code == "42501" || pe.Code == "42P01"):
			default:
				t.Fatalf("%s %q: unexpected error %v", role, q, err)
			}
		}
	}
	return open
}

func applyAll(ctx context.Context, t *testing.T, s *insforgetest.Stack) error {
	t.Helper()
	ms, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, s.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	return migrations.Apply(ctx, conn, ms)
}

// TestBetterAuthSchemaIsSealedFromAnonAndAuthenticated proves the revoke on real
// PostgreSQL with the stack's roles: whatever was granted on better_auth (schema,
// tables, sequences, functions, default privileges for tables created later),
// after the migrations anon and authenticated reach nothing, project_admin still
// does, and re-running changes nothing.
func TestBetterAuthSchemaIsSealedFromAnonAndAuthenticated(t *testing.T) {
	ctx := context.Background()
	t.Run("schema absent: a no-op, repeatable", func(t *testing.T) {
		s := insforgetest.New(t)
		for i := 0; i < 2; i++ {
			if err := applyAll(ctx, t, s); err != nil {
				t.Fatalf("run %d: %v", i+1, err)
			}
		}
	})
	t.Run("owned by project_admin, everything granted", func(t *testing.T) {
		s := insforgetest.New(t)
		if err := s.AdminExec(ctx, betterAuthTables+openItAllUp); err != nil {
			t.Fatal(err)
		}
		if len(reach(t, s)) < 10 {
			t.Fatalf("the setup did not open the schema: %v", reach(t, s))
		}
		for i := 0; i < 2; i++ {
			if err := applyAll(ctx, t, s); err != nil {
				t.Fatalf("run %d: %v", i+1, err)
			}
		}
		// A table Better Auth's next migrate adds (as project_admin here) inherits nothing.
		if err := s.AdminExec(ctx, `CREATE TABLE better_auth.later (x int)`); err != nil {
			t.Fatal(err)
		}
		if open := reach(t, s); len(open) != 0 {
			t.Fatalf("still reachable:\n%s", strings.Join(open, "\n"))
		}
		var n int
		err := s.AsRole(ctx, "project_admin", insforgetest.AdminClaims, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FROM better_auth.session`).Scan(&n)
		})
		if err != nil || n != 1 {
			t.Fatalf("project_admin lost access: n=%d err=%v", n, err)
		}
	})
	t.Run("owned by Better Auth's own role, nothing granted: accepted as sealed", func(t *testing.T) {
		s := insforgetest.New(t)
		if _, err := s.Pool.Exec(ctx, betterAuthTables+`CREATE TABLE better_auth.later (x int);`); err != nil {
			t.Fatal(err)
		}
		if err := applyAll(ctx, t, s); err != nil {
			t.Fatal(err)
		}
		if open := reach(t, s); len(open) != 0 {
			t.Fatalf("still reachable:\n%s", strings.Join(open, "\n"))
		}
	})
	t.Run("a grant project_admin cannot revoke fails the migration, naming what is open", func(t *testing.T) {
		s := insforgetest.New(t)
		if _, err := s.Pool.Exec(ctx, betterAuthTables+`CREATE TABLE better_auth.later (x int);`+
			`GRANT USAGE ON SCHEMA better_auth TO anon; GRANT SELECT ON better_auth.session TO anon;`); err != nil {
			t.Fatal(err)
		}
		err := applyAll(ctx, t, s)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || !strings.Contains(pe.Message, "better_auth.session") || !strings.Contains(pe.Hint, "0004_better_auth_revoke.sql") {
			t.Fatalf("err = %v, want a failure naming better_auth.session with a hint", err)
		}
		// Run as the owner, as the hint says: sealed, and the migrations pass again.
		m := migrationNamed(t, "0004_better_auth_revoke.sql")
		if _, err := s.Pool.Exec(ctx, m); err != nil {
			t.Fatal(err)
		}
		if open := reach(t, s); len(open) != 0 {
			t.Fatalf("still reachable:\n%s", strings.Join(open, "\n"))
		}
		if err := applyAll(ctx, t, s); err != nil {
			t.Fatal(err)
		}
	})
}

func migrationNamed(t testing.TB, name string) string {
	t.Helper()
	ms, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Name == name {
			return m.SQL
		}
	}
	t.Fatalf("no migration %s", name)
	return ""
}
