package ledger_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/insforge/edge-functions-go/infra/migrations"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/ledger/ledgertest"
)

// plantHijack creates a role with CREATE on public and, as that role, a
// public.to_jsonb(public.x402_payments) that logs who ran it. Overload
// resolution prefers it to pg_catalog.to_jsonb(anyelement) wherever public is
// on the search_path. It returns a function counting the hijacked calls.
func plantHijack(t *testing.T, s *insforgetest.Stack) func() int {
	t.Helper()
	ctx := context.Background()
	role := fmt.Sprintf("hijacker_%d", time.Now().UnixNano())
	for _, q := range []string{
		`CREATE ROLE ` + role + ` NOLOGIN`,
		`GRANT USAGE, CREATE ON SCHEMA public TO ` + role,
		`CREATE TABLE public.hijack_log (who text, at timestamptz DEFAULT now())`,
		`GRANT INSERT, SELECT ON public.hijack_log TO PUBLIC`,
	} {
		if _, err := s.Pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_, _ = s.Pool.Exec(context.Background(), `DROP OWNED BY `+role)
		_, _ = s.Pool.Exec(context.Background(), `DROP ROLE `+role)
	})
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL ROLE `+role); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE FUNCTION public.to_jsonb(r public.x402_payments) RETURNS jsonb
			LANGUAGE plpgsql AS $$
			BEGIN
			  INSERT INTO public.hijack_log (who) VALUES (current_user);
			  RETURN '{}'::jsonb;
			END $$`)
		return err
	})
	if err != nil {
		t.Fatalf("planting as a role with CREATE on public: %v", err)
	}
	return func() int {
		var n int
		if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM public.hijack_log`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
}

func upTo(t *testing.T, name string) []migrations.Migration {
	ms, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if m.Name == name {
			return ms[:i+1]
		}
	}
	t.Fatalf("no migration %s", name)
	return nil
}

func TestAPlantedPublicFunctionHijackedTheOldTriggerButNeverTheHardenedOnes(t *testing.T) {
	ctx := context.Background()
	t.Run("before hardening (0003): the ledger write runs the planted function as project_admin", func(t *testing.T) {
		s := insforgetest.NewWith(t, insforgetest.Options{Migrations: upTo(t, "0003_x402_payments.sql")})
		hijacked := plantHijack(t, s)
		// The claim as the ledger wrote it then (no columns of later migrations).
		c := claim("1", false)
		row := map[string]any{"payer_address": c.PayerAddress, "endpoint": c.Endpoint, "amount": c.Amount,
			"status": ledger.StatusPending, "network": c.Network, "asset": c.Asset, "pay_to": c.PayTo, "nonce": c.Nonce,
			"valid_before": c.ValidBefore}
		if err := s.ServiceClient().Insert(ctx, ledger.Table, []map[string]any{row}, nil); err != nil {
			t.Fatal(err)
		}
		var who string
		_ = s.Pool.QueryRow(ctx, `SELECT who FROM public.hijack_log LIMIT 1`).Scan(&who)
		if hijacked() == 0 || who != "project_admin" {
			t.Fatalf("the attack this guards against did not reproduce (calls %d, as %q)", hijacked(), who)
		}
	})
	t.Run("hardened: no write, status change, delivery or stats read calls it", func(t *testing.T) {
		l, s := newLedger(t)
		hijacked := plantHijack(t, s)
		row, _, err := l.Claim(ctx, claim("5", false))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.SettleDelivered(ctx, row.ID, row.Holder(), hex32(), false, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := l.Demote(ctx, row.ID, ledger.StatusReverted, "test"); err != nil {
			t.Fatal(err)
		}
		other, _, _ := l.Claim(ctx, claim("6", false))
		if err := l.Release(ctx, other.ID, other.Holder(), "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Stats(ctx); err != nil {
			t.Fatal(err)
		}
		if n := hijacked(); n != 0 {
			t.Fatalf("the planted function ran %d times", n)
		}
		var msgs int
		if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM realtime.messages WHERE channel_name = 'x402_payments'`).Scan(&msgs); err != nil || msgs < 5 {
			t.Fatalf("realtime messages %d, %v", msgs, err)
		}
	})
	t.Run("every function of the ledger pins search_path to pg_catalog, pg_temp", func(t *testing.T) {
		_, s := newLedger(t)
		rows, err := s.Pool.Query(ctx, `SELECT p.proname, p.prosecdef, coalesce(array_to_string(p.proconfig, ','), '')
			FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			WHERE n.nspname = 'public' AND p.proname LIKE 'x402%'`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		seen := 0
		for rows.Next() {
			var name, cfg string
			var secdef bool
			if err := rows.Scan(&name, &secdef, &cfg); err != nil {
				t.Fatal(err)
			}
			seen++
			if cfg != "search_path=pg_catalog, pg_temp" {
				t.Errorf("%s (security definer %v): %q", name, secdef, cfg)
			}
		}
		if seen < 4 {
			t.Fatalf("only %d ledger functions found", seen)
		}
	})
}

func TestPublicReadersNeverSeeTheErrorColumn(t *testing.T) {
	l, s := newLedger(t)
	ctx := context.Background()
	row, _, _ := l.Claim(ctx, claim("3", false))
	if err := l.Fail(ctx, row.ID, "upstream said: secret-ish prose"); err != nil {
		t.Fatal(err)
	}
	for _, role := range []struct{ name, claims string }{
		{"anon", insforgetest.AnonClaims}, {"authenticated", insforgetest.UserClaims("u1")},
	} {
		for _, col := range []string{"error", "lease_by", "lease_until", "delivered_by"} {
			err := s.AsRole(ctx, role.name, role.claims, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `SELECT `+col+` FROM public.x402_payments`)
				return err
			})
			if err == nil || !strings.Contains(err.Error(), "permission denied") {
				t.Fatalf("%s read %s: %v", role.name, col, err)
			}
		}
		var read []ledger.Payment
		err := s.AsRole(ctx, role.name, role.claims, func(tx pgx.Tx) (err error) {
			read, err = ledgertest.Payments(ctx, tx, strings.Split(ledger.PublicColumns, ","), "")
			return err
		})
		if err != nil || len(read) != 1 || read[0].ID != row.ID || read[0].Status != ledger.StatusFailed {
			t.Fatalf("%s public columns: %+v, %v", role.name, read, err)
		}
	}
	rows, err := l.List(ctx, 10)
	if err != nil || len(rows) != 1 || rows[0].Error != nil {
		t.Fatalf("List = %+v, %v", rows, err)
	}
	b, _ := json.Marshal(rows[0])
	if strings.Contains(string(b), `"error"`) {
		t.Fatalf("List row JSON carries error: %s", b)
	}
	var leaked int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM realtime.messages WHERE channel_name = 'x402_payments'
		AND (payload->'new' ?| array['error', 'lease_by', 'lease_until', 'delivered_by'] OR NOT payload->'new' ? 'status'
		     OR NOT payload->'new' ? 'settle_sent_at')`).Scan(&leaked); err != nil || leaked != 0 {
		t.Fatalf("realtime payloads with error text (or without status): %d, %v", leaked, err)
	}
}

func TestStatsAreKeptPerEndpointByTriggerAndReadInO1(t *testing.T) {
	l, s := newLedger(t)
	ctx := context.Background()
	at := func(endpoint, amount string, mock bool) *ledger.Payment {
		c := claim(amount, mock)
		c.Endpoint = endpoint
		r, _, err := l.Claim(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.SettleDelivered(ctx, r.ID, r.Holder(), hex32(), mock, time.Now()); err != nil {
			t.Fatal(err)
		}
		return r
	}
	at("/x402/report", "10", false)
	at("/x402/report", "123456789012345678901234567890", false)
	at("/x402/gateway", "7", false)
	reverted := at("/x402/gateway", "5", false)
	at("/x402/gateway", "1000", true) // mock: a request, never revenue
	gone := at("/x402/other", "4", false)
	if err := l.Demote(ctx, reverted.ID, ledger.StatusReverted, "reverted"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool.Exec(ctx, `DELETE FROM public.x402_payments WHERE id = $1`, gone.ID); err != nil {
		t.Fatal(err)
	}
	pending, _, _ := l.Claim(ctx, claim("99", false))
	_ = l.Release(ctx, pending.ID, pending.Holder(), "x")

	st, err := l.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.TotalRequests != 4 || st.TotalRevenue != "123456789012345678901234567907" || st.LatestPayment == nil {
		t.Fatalf("totals %+v", st)
	}
	got := fmt.Sprint(func() (out []string) {
		for _, e := range st.Endpoints {
			out = append(out, fmt.Sprintf("%s:%d:%s", e.Endpoint, e.Requests, e.Revenue))
		}
		return
	}())
	if want := "[/x402/gateway:2:7 /x402/report:2:123456789012345678901234567900]"; got != want {
		t.Fatalf("endpoints %s, want %s", got, want)
	}
	// The aggregate agrees with a full recomputation.
	var diff int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM (
		SELECT endpoint, count(*) AS requests, coalesce(sum(amount::numeric) FILTER (WHERE NOT mock), 0) AS revenue, max(created_at) AS latest
		  FROM public.x402_payments WHERE status = 'settled' GROUP BY endpoint
		EXCEPT SELECT endpoint, requests, revenue, latest_payment FROM public.x402_payment_totals WHERE requests > 0) d`).Scan(&diff); err != nil || diff != 0 {
		t.Fatalf("totals differ from the rows: %d, %v", diff, err)
	}
	// Reading the stats touches no ledger row.
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT public.x402_payment_stats()`); err != nil {
			return err
		}
		var scans int64
		if err := tx.QueryRow(ctx, `SELECT pg_stat_get_xact_numscans('public.x402_payments'::regclass)`).Scan(&scans); err != nil {
			return err
		}
		if scans != 0 {
			return fmt.Errorf("stats scanned x402_payments %d times", scans)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMigration0005UpgradesALiveLedger(t *testing.T) {
	ctx := context.Background()
	s := insforgetest.NewWith(t, insforgetest.Options{Migrations: upTo(t, "0003_x402_payments.sql")})
	l := ledger.New(s.ServiceClient())
	// Rows written by the previous code: settled (served), pending, mock settled.
	for _, q := range []string{
		`INSERT INTO public.x402_payments (payer_address, endpoint, amount, tx_hash, status, network, asset, pay_to, nonce, valid_before)
		 VALUES ('0x01', '/x402/report', '10', '0xaa', 'settled', 'eip155:196', '0x02', '0x03', '0x04', 1),
		        ('0x01', '/x402/report', '20', NULL, 'pending', 'eip155:196', '0x02', '0x03', '0x05', 1)`,
		`INSERT INTO public.x402_payments (payer_address, endpoint, amount, tx_hash, status, network, asset, pay_to, nonce, valid_before, mock)
		 VALUES ('0x01', '/x402/report', '30', '0xbb', 'settled', 'eip155:196', '0x02', '0x03', '0x06', 1, true)`,
	} {
		if err := s.AdminExec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(ctx, s.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	all, _ := migrations.All()
	for range 2 { // idempotent
		if err := migrations.Apply(ctx, conn, all); err != nil {
			t.Fatal(err)
		}
	}
	st, err := l.Stats(ctx)
	if err != nil || st.TotalRequests != 2 || st.TotalRevenue != "10" || len(st.Endpoints) != 1 {
		t.Fatalf("stats after upgrade %+v, %v", st, err)
	}
	var undelivered int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM public.x402_payments WHERE status = 'settled' AND delivered_at IS NULL`).Scan(&undelivered); err != nil || undelivered != 0 {
		t.Fatalf("settled rows left undelivered: %d, %v", undelivered, err)
	}
	if err := s.AdminExec(ctx, `UPDATE public.x402_payments SET status = 'bogus'`); err == nil {
		t.Fatal("an unknown status was accepted")
	}
	for _, st := range ledger.Statuses {
		if st == ledger.StatusSettled {
			continue // needs a hash (canonical check)
		}
		if err := s.AdminExec(ctx, `UPDATE public.x402_payments SET status = '`+st+`' WHERE nonce = '0x05'`); err != nil {
			t.Fatalf("status %s refused: %v", st, err)
		}
	}
}

func TestDeliverIsOnceAndReclaimOnlyTakesReleasedRows(t *testing.T) {
	l, _ := newLedger(t)
	ctx := context.Background()
	c := claim("1", false)
	row, _, _ := l.Claim(ctx, c)
	if _, err := l.Reclaim(ctx, row.ID, c); !errors.Is(err, ledger.ErrNotPending) {
		t.Fatalf("reclaim of a pending row: %v", err)
	}
	if err := l.Release(ctx, row.ID, "someone else", "handler failed"); !errors.Is(err, ledger.ErrNotPending) {
		t.Fatalf("release by another holder: %v", err)
	}
	if err := l.Release(ctx, row.ID, row.Holder(), "handler failed"); err != nil {
		t.Fatal(err)
	}
	c.Endpoint = "/x402/gateway"
	c.Holder = "second"
	again, err := l.Reclaim(ctx, row.ID, c)
	if err != nil || again.Status != ledger.StatusPending || again.Endpoint != "/x402/gateway" || again.ErrorText() != "" {
		t.Fatalf("reclaim: %+v, %v", again, err)
	}
	if err := l.Settle(ctx, row.ID, hex32(), false); err != nil {
		t.Fatal(err)
	}
	if err := l.Deliver(ctx, row.ID, "first", time.Now()); !errors.Is(err, ledger.ErrNotPending) {
		t.Fatalf("delivery by a former holder: %v", err)
	}
	if err := l.Deliver(ctx, row.ID, "second", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := l.Deliver(ctx, row.ID, "second", time.Now()); !errors.Is(err, ledger.ErrNotPending) {
		t.Fatalf("second delivery: %v", err)
	}
	first, _, _ := l.Claim(ctx, claim("1", false))
	other, _, _ := l.Claim(ctx, claim("1", false))
	tx := hex32()
	if err := l.SettleDelivered(ctx, first.ID, first.Holder(), tx, false, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := l.SettleDelivered(ctx, other.ID, other.Holder(), tx, false, time.Now()); !errors.Is(err, ledger.ErrTxHashConflict) {
		t.Fatalf("duplicate hash: %v", err)
	}
}
