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

// realtimePublishState is RLS on realtime.messages and its policies, one line each.
func realtimePublishState(t *testing.T, s *insforgetest.Stack) string {
	t.Helper()
	var b strings.Builder
	var rls bool
	if err := s.Pool.QueryRow(context.Background(), `SELECT relrowsecurity FROM pg_class WHERE oid = 'realtime.messages'::regclass`).Scan(&rls); err != nil {
		t.Fatal(err)
	}
	b.WriteString("rls=" + map[bool]string{true: "on", false: "off"}[rls] + "\n")
	rows, err := s.Pool.Query(context.Background(), `SELECT policyname, permissive, roles::text, cmd, coalesce(with_check, '')
		FROM pg_policies WHERE schemaname = 'realtime' AND tablename = 'messages' ORDER BY policyname`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, permissive, roles, cmd, check string
		if err := rows.Scan(&name, &permissive, &roles, &cmd, &check); err != nil {
			t.Fatal(err)
		}
		b.WriteString(strings.Join([]string{name, permissive, roles, cmd, check}, " ") + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// insertAs inserts a client message on channel the way InsForge's publish does
// (as the caller's role, sender_type 'user'), reporting RLS's verdict.
func insertAs(t *testing.T, s *insforgetest.Stack, role, channel string) error {
	t.Helper()
	claims := `{"role":"anon"}`
	if role == "authenticated" {
		claims = `{"role":"authenticated","sub":"6f1c1a52-56a4-4c52-9f35-3c5e2f1d7a10"}`
	}
	ctx := context.Background()
	return s.AsRole(ctx, role, claims, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO realtime.messages (event_name, channel_name, payload, sender_type)
			VALUES ('INSERT_x402_payments', $1, '{}', 'user')`, channel)
		return err
	})
}

func isRLSRefusal(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42501"
}

// 0007 keeps clients off the ledger's realtime channel with a RESTRICTIVE policy,
// applied by the owner of realtime.messages; it leaves every other channel as
// open as it was, and, run as project_admin (InsForge CLI), changes nothing.
func TestClientsCannotPublishOnTheLedgerChannel(t *testing.T) {
	ctx := context.Background()
	m := migrationNamed(t, "0007_x402_realtime_publish.sql")
	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, mm := range all {
		if mm.AsOwner != (mm.Name == "0007_x402_realtime_publish.sql") {
			t.Fatalf("%s: AsOwner = %v", mm.Name, mm.AsOwner)
		}
	}

	t.Run("as the owner: refused on the ledger channel only, repeatable", func(t *testing.T) {
		s := insforgetest.New(t) // the stack applies every migration, 0007 as the owner
		if err := applyAll(ctx, t, s); err != nil {
			t.Fatal(err)
		}
		want := "rls=on\n" +
			"realtime_publish_open PERMISSIVE {anon,authenticated} INSERT true\n" +
			"x402_payments_no_client_publish RESTRICTIVE {anon,authenticated} INSERT (channel_name !~~ 'x402_payments'::text)\n"
		if got := realtimePublishState(t, s); got != want {
			t.Fatalf("policies:\n%s\nwant:\n%s", got, want)
		}
		for _, role := range []string{"anon", "authenticated"} {
			for _, ch := range []string{"x402_payments", "x402-payments", "x402Xpayments"} {
				if err := insertAs(t, s, role, ch); !isRLSRefusal(err) {
					t.Errorf("%s publishing on %s: err = %v, want an RLS refusal", role, ch, err)
				}
			}
			for _, ch := range []string{"lobby", "x402_payments:extra", "my_x402_payments"} {
				if err := insertAs(t, s, role, ch); err != nil {
					t.Errorf("%s publishing on %s: %v, want it allowed as before", role, ch, err)
				}
			}
		}
		// The ledger's own publish (SECURITY DEFINER) still goes through.
		if err := s.AdminExec(ctx, `SELECT realtime.publish('x402_payments', 'INSERT_x402_payments', '{}')`); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a project with its own publish policies: narrowed, never widened", func(t *testing.T) {
		s := insforgetest.NewWith(t, insforgetest.Options{Migrations: insforgetest.NoMigrations})
		if _, err := s.Pool.Exec(ctx, `ALTER TABLE realtime.messages ENABLE ROW LEVEL SECURITY;
			CREATE POLICY members_send ON realtime.messages FOR INSERT TO authenticated WITH CHECK (channel_name LIKE 'x402%' OR channel_name = 'chat');`); err != nil {
			t.Fatal(err)
		}
		if err := applyAll(ctx, t, s); err != nil {
			t.Fatal(err)
		}
		if got := realtimePublishState(t, s); strings.Contains(got, "realtime_publish_open") || !strings.Contains(got, "x402_payments_no_client_publish RESTRICTIVE") {
			t.Fatalf("policies:\n%s", got)
		}
		if err := insertAs(t, s, "authenticated", "x402_payments"); !isRLSRefusal(err) {
			t.Fatalf("allowed by the project's policy, refused by 0007: err = %v", err)
		}
		if err := insertAs(t, s, "authenticated", "chat"); err != nil {
			t.Fatalf("the project's own rule: %v", err)
		}
		if err := insertAs(t, s, "anon", "chat"); !isRLSRefusal(err) {
			t.Fatalf("anon was never allowed, and 0007 must not allow it: err = %v", err)
		}
	})

	t.Run("as project_admin (InsForge CLI): no change, no failure", func(t *testing.T) {
		s := insforgetest.NewWith(t, insforgetest.Options{Migrations: insforgetest.NoMigrations})
		before := realtimePublishState(t, s)
		cfg, err := pgx.ParseConfig(s.DatabaseURL)
		if err != nil {
			t.Fatal(err)
		}
		var warnings []string
		cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
			if n.Severity == "WARNING" {
				warnings = append(warnings, n.Message)
			}
		}
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL ROLE project_admin`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, m)
			return err
		})
		if err != nil {
			t.Fatalf("as project_admin: %v", err)
		}
		if len(warnings) != 1 || !strings.Contains(warnings[0], "0007_x402_realtime_publish.sql") || !strings.Contains(warnings[0], "database owner") {
			t.Fatalf("warnings = %q, want one naming the file and the owner", warnings)
		}
		if after := realtimePublishState(t, s); after != before {
			t.Fatalf("run as project_admin changed realtime.messages:\n%s\nwas:\n%s", after, before)
		}
		if err := insertAs(t, s, "anon", "x402_payments"); err != nil {
			t.Fatalf("unchanged means still open (the dashboard's own filter is what holds here): %v", err)
		}
	})
}
