package migrations_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/insforge/edge-functions-go/infra/migrations"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/signer"
)

func TestMain(m *testing.M) { insforgetest.Main(m) }

func TestLoadOrdersAndRejectsBadNames(t *testing.T) {
	ms, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 2 || ms[0].Name != "0001_requesting_user_id.sql" || ms[1].Name != "0002_todos.sql" {
		t.Fatalf("order: %v", ms)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"bad name":   {"1_x.sql": {Data: []byte("")}},
		"duplicated": {"0001_a.sql": {Data: []byte("")}, "0001_b.sql": {Data: []byte("")}},
	} {
		if _, err := migrations.Load(fsys); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// asUser runs fn the way InsForge runs a request for the holder of token: the
// token is verified and its claims become request.jwt.claims under SET LOCAL ROLE
// authenticated.
func asUser(t *testing.T, s *insforgetest.Stack, sg *signer.Signer, token string, fn func(pgx.Tx) error) error {
	t.Helper()
	c, err := sg.Verify(token)
	if err != nil {
		t.Fatal(err)
	}
	claims, _ := json.Marshal(map[string]any{"sub": c.Subject, "role": c.Role, "email": c.Email, "iat": c.IssuedAt.Unix(), "exp": c.ExpiresAt.Unix()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.AsRole(ctx, "authenticated", string(claims), fn)
}

// titles lists, in order, the titles in table (public.todos, public.premium_reports) that
// the holder of token reads.
func titles(t *testing.T, s *insforgetest.Stack, sg *signer.Signer, token, table string) []string {
	t.Helper()
	var out []string
	err := asUser(t, s, sg, token, func(tx pgx.Tx) error {
		rows, _ := tx.Query(context.Background(), `SELECT title FROM `+table+` ORDER BY title`)
		var err error
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Row-level security holds for the bridges' tokens: a token minted by shared/signer
// sees only its own todos; user A can never read or write user B's rows.
func TestTodosRLSWithSignerTokens(t *testing.T) {
	s := insforgetest.New(t)
	sg, err := signer.New(signer.Config{Secret: s.JWTSecret, TTL: time.Hour}, signer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ta, _ := sg.Mint("kp_alice", "alice@example.com")
	tb, _ := sg.Mint("kp_bob", "")
	ctx := context.Background()
	insert := func(tok, title string) error {
		return asUser(t, s, sg, tok, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO public.todos (title) VALUES ($1)`, title)
			return err
		})
	}
	for _, c := range []struct{ tok, title string }{{ta.Value, "a1"}, {ta.Value, "a2"}, {tb.Value, "b1"}} {
		if err := insert(c.tok, c.title); err != nil {
			t.Fatalf("insert %s: %v", c.title, err)
		}
	}
	if got := titles(t, s, sg, ta.Value, "public.todos"); !reflect.DeepEqual(got, []string{"a1", "a2"}) {
		t.Errorf("alice sees %v", got)
	}
	if got := titles(t, s, sg, tb.Value, "public.todos"); !reflect.DeepEqual(got, []string{"b1"}) {
		t.Errorf("bob sees %v", got)
	}
	tests := []struct {
		name     string
		sql      string
		wantCode string // "" = succeeds but must touch 0 rows
	}{
		{"insert a row owned by bob", `INSERT INTO public.todos (title, user_id) VALUES ('x', 'kp_bob')`, "42501"},
		{"update bob's row", `UPDATE public.todos SET done = true WHERE user_id = 'kp_bob'`, ""},
		{"delete bob's row", `DELETE FROM public.todos WHERE user_id = 'kp_bob'`, ""},
		{"hand own row to bob", `UPDATE public.todos SET user_id = 'kp_bob' WHERE title = 'a1'`, "42501"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tag pgconn.CommandTag
			err := asUser(t, s, sg, ta.Value, func(tx pgx.Tx) error {
				var err error
				tag, err = tx.Exec(ctx, tc.sql)
				return err
			})
			var pe *pgconn.PgError
			switch {
			case tc.wantCode != "" && (!errors.As(err, &pe) || pe.Code != tc.wantCode):
				t.Fatalf("err = %v, want %s", err, tc.wantCode)
			case tc.wantCode == "" && (err != nil || tag.RowsAffected() != 0):
				t.Fatalf("err = %v, rows = %d, want 0 rows", err, tag.RowsAffected())
			}
		})
	}
	var done bool
	if err := s.Pool.QueryRow(ctx, `SELECT done FROM public.todos WHERE user_id = 'kp_bob'`).Scan(&done); err != nil || done {
		t.Fatalf("bob's row after alice's attempts: done=%v err=%v", done, err)
	}
	// anon has no access at all; the service role sees everything and has no user.
	err = s.AsRole(ctx, "anon", insforgetest.AnonClaims, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `SELECT 1 FROM public.todos`)
		return err
	})
	if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "42501" {
		t.Fatalf("anon select: %v", err)
	}
	var n int
	var who *string
	err = s.AsRole(ctx, "project_admin", insforgetest.AdminClaims, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*), public.requesting_user_id() FROM public.todos`).Scan(&n, &who)
	})
	if err != nil || n != 3 || who != nil {
		t.Fatalf("project_admin: n=%d who=%v err=%v", n, who, err)
	}
}

// snapshot captures what the migrations define, to prove a re-run changes nothing.
func snapshot(t *testing.T, s *insforgetest.Stack) string {
	t.Helper()
	var out string
	err := s.Pool.QueryRow(context.Background(), `SELECT concat_ws(E'\n',
		(SELECT string_agg(format('%s %s %s %s %s', tablename, policyname, cmd, qual, with_check), E'\n' ORDER BY tablename, policyname) FROM pg_policies WHERE schemaname = 'public'),
		(SELECT string_agg(format('%s.%s %s %s', table_name, column_name, data_type, column_default), E'\n' ORDER BY table_name, column_name) FROM information_schema.columns WHERE table_schema = 'public'),
		(SELECT string_agg(format('%s %s %s', table_name, grantee, privilege_type), E'\n' ORDER BY table_name, grantee, privilege_type) FROM information_schema.role_table_grants WHERE table_schema = 'public'),
		(SELECT string_agg(format('%s %s %s', p.proname, pg_get_userbyid(p.proowner), md5(p.prosrc)), E'\n' ORDER BY p.proname) FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace),
		(SELECT string_agg(format('%s %s %s', c.relname, pg_get_userbyid(c.relowner), c.relrowsecurity), E'\n' ORDER BY c.relname) FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace),
		(SELECT string_agg(indexdef, E'\n' ORDER BY indexdef) FROM pg_indexes WHERE schemaname = 'public'))`).Scan(&out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMigrationsAreIdempotentAndOwnedByProjectAdmin(t *testing.T) {
	s := insforgetest.New(t)
	ctx := context.Background()
	if err := s.AdminExec(ctx, `INSERT INTO public.todos (title, user_id) VALUES ('keep me', 'u1')`); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, s)
	if !strings.Contains(before, "todos project_admin t\n") || !strings.Contains(before, "requesting_user_id project_admin") {
		t.Fatalf("objects are not owned by project_admin / RLS off:\n%s", before)
	}
	ms, _ := migrations.All()
	conn, err := pgx.Connect(ctx, s.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for i := 0; i < 2; i++ {
		if err := migrations.Apply(ctx, conn, ms); err != nil {
			t.Fatalf("re-run %d: %v", i+1, err)
		}
	}
	if after := snapshot(t, s); after != before {
		t.Fatalf("re-running changed the schema:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	var n int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM public.todos`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows after re-run: %d %v", n, err)
	}
}

// scripts/migrate --psql applies the same files through psql, twice, as
// project_admin, and ends with NOTIFY pgrst.
func TestMigrateScriptWithPsql(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		if insforgetest.RequireCI() {
			t.Fatal("psql not found")
		}
		t.Skip("psql not found")
	}
	s := insforgetest.NewWith(t, insforgetest.Options{Migrations: insforgetest.NoMigrations})
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	for i := 0; i < 2; i++ {
		cmd := exec.Command(filepath.Join(root, "scripts", "migrate"), "--psql")
		cmd.Env = append(os.Environ(), "DATABASE_URL="+s.DatabaseURL)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, out)
		}
		if !strings.Contains(string(out), "NOTIFY") {
			t.Errorf("run %d did not notify pgrst:\n%s", i+1, out)
		}
	}
	var owner string
	if err := s.Pool.QueryRow(context.Background(), `SELECT tableowner FROM pg_tables WHERE tablename = 'todos'`).Scan(&owner); err != nil || owner != "project_admin" {
		t.Fatalf("todos owner %q %v", owner, err)
	}
	// A "-- run-as: owner" file ran as DATABASE_URL's role, not project_admin.
	var policies int
	if err := s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_policies
		WHERE schemaname = 'realtime' AND tablename = 'messages' AND policyname = 'x402_payments_no_client_publish'`).Scan(&policies); err != nil || policies != 1 {
		t.Fatalf("0007's policy after scripts/migrate --psql: %d %v", policies, err)
	}
}
