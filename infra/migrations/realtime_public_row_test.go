package migrations_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
)

// publicColumns are the x402_payments columns both anon and authenticated may
// SELECT, sorted.
func publicColumns(t *testing.T, s *insforgetest.Stack) []string {
	t.Helper()
	rows, _ := s.Pool.Query(context.Background(), `SELECT a.attname::text FROM pg_attribute a
		WHERE a.attrelid = 'public.x402_payments'::regclass AND a.attnum > 0 AND NOT a.attisdropped
		  AND has_column_privilege('anon', a.attrelid, a.attnum, 'SELECT')
		  AND has_column_privilege('authenticated', a.attrelid, a.attnum, 'SELECT')
		ORDER BY a.attname`)
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return cols
}

// lastPublished is the row of the latest message on the ledger's channel, with
// its event name.
func lastPublished(t *testing.T, s *insforgetest.Stack) (string, map[string]any) {
	t.Helper()
	var event string
	var raw []byte
	if err := s.Pool.QueryRow(context.Background(), `SELECT event_name, payload->'new' FROM realtime.messages
		WHERE channel_name = 'x402_payments' ORDER BY created_at DESC, id DESC LIMIT 1`).Scan(&event, &raw); err != nil {
		t.Fatal(err)
	}
	var row map[string]any
	if err := json.Unmarshal(raw, &row); err != nil {
		t.Fatal(err)
	}
	return event, row
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// 0010: the realtime payload is the row as anon and authenticated may read it,
// derived from the column privileges when the row is written: granting or
// revoking a column changes the payload with no new trigger.
func TestRealtimePublishesTheColumnsThePublicMaySelect(t *testing.T) {
	ctx := context.Background()
	s := insforgetest.New(t)
	seq := 0
	insert := func() string {
		t.Helper()
		seq++
		var id string
		if err := s.Pool.QueryRow(ctx, `INSERT INTO public.x402_payments
			(payer_address, endpoint, amount, network, asset, pay_to, nonce, valid_before, error, lease_by, response_summary)
			VALUES ('0x01', '/x402/report', '10', 'eip155:196', '0x02', '0x03', $1, 1, 'upstream prose', 'holder', 'ok')
			RETURNING id`, fmt.Sprintf("0x%064x", seq)).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	exec := func(sql string) {
		t.Helper()
		if _, err := s.Pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}

	public := publicColumns(t, s)
	for _, private := range []string{"error", "lease_by", "lease_until", "delivered_by"} {
		if slices.Contains(public, private) {
			t.Fatalf("%s is readable by the public: %v", private, public)
		}
	}
	id := insert()
	event, row := lastPublished(t, s)
	if event != "INSERT_x402_payments" || row["id"] != id || !reflect.DeepEqual(keys(row), public) {
		t.Fatalf("%s %v, want INSERT_x402_payments of %s with exactly %v", event, keys(row), id, public)
	}
	// The values are the row's, as to_jsonb renders them.
	var full map[string]any
	var raw []byte
	if err := s.Pool.QueryRow(ctx, `SELECT to_jsonb(p) FROM public.x402_payments p WHERE id = $1`, id).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(raw, &full)
	for k, v := range row {
		if !reflect.DeepEqual(v, full[k]) {
			t.Errorf("%s = %v, the row has %v", k, v, full[k])
		}
	}
	exec(`UPDATE public.x402_payments SET status = 'failed', error = 'more prose' WHERE id = '` + id + `'`)
	if event, row := lastPublished(t, s); event != "UPDATE_x402_payments" || row["status"] != "failed" || !reflect.DeepEqual(keys(row), public) {
		t.Fatalf("update published %s %v", event, row)
	}

	tests := []struct {
		name, sql string
		want      func([]string) []string
	}{
		{"a new column is private until granted", `ALTER TABLE public.x402_payments ADD COLUMN extra text DEFAULT 'x'`,
			func(p []string) []string { return p }},
		{"granted to anon alone: still private", `GRANT SELECT (extra) ON public.x402_payments TO anon`,
			func(p []string) []string { return p }},
		{"granted to both: published", `GRANT SELECT (extra) ON public.x402_payments TO authenticated`,
			func(p []string) []string { return slices.Sorted(slices.Values(append(slices.Clone(p), "extra"))) }},
		{"revoked from one: no longer published", `REVOKE SELECT (response_summary) ON public.x402_payments FROM authenticated`,
			func(p []string) []string {
				return slices.DeleteFunc(slices.Sorted(slices.Values(append(slices.Clone(p), "extra"))),
					func(c string) bool { return c == "response_summary" })
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exec(tc.sql)
			insert()
			_, row := lastPublished(t, s)
			want := tc.want(public)
			if got := keys(row); !reflect.DeepEqual(got, want) {
				t.Fatalf("published %v\nwant      %v", got, want)
			}
			if got := publicColumns(t, s); !reflect.DeepEqual(got, want) {
				t.Fatalf("the public may read %v, the payload carries %v", got, want)
			}
		})
	}
}

// BenchmarkPublishTrigger is 100 ledger writes (UPDATEs of one row, each
// publishing it) in one statement, with the realtime trigger of 0006 (columns
// named) and of 0010 (columns from the privileges), each on its own database.
func BenchmarkPublishTrigger(b *testing.B) {
	named := migrationNamed(b, "0006_x402_ledger_leases.sql")
	named = named[strings.Index(named, "CREATE OR REPLACE FUNCTION public.x402_payments_publish()"):]
	for _, bc := range []struct{ name, sql string }{
		{"named columns (0006)", named},
		{"from the privileges (0010)", migrationNamed(b, "0010_x402_realtime_public_row.sql")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			s := insforgetest.New(b)
			if err := s.AdminExec(ctx, bc.sql); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := s.Pool.Exec(ctx, `DO $$
					DECLARE row_id uuid;
					BEGIN
					  INSERT INTO public.x402_payments (payer_address, endpoint, amount, network, asset, pay_to, nonce, valid_before)
					  VALUES ('0x01', '/x402/report', '10', 'eip155:196', '0x02', '0x03', gen_random_uuid()::text, 1) RETURNING x402_payments.id INTO row_id;
					  FOR i IN 1..100 LOOP
					    UPDATE public.x402_payments SET valid_before = valid_before + 1 WHERE x402_payments.id = row_id;
					  END LOOP;
					END $$`); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
