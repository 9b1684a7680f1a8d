package ledger_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/insforge/edge-functions-go/infra/migrations"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/ledger"
)

func TestMain(m *testing.M) { insforgetest.Main(m) }

func hex32() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "0x" + hex.EncodeToString(b)
}

func claim(amount string, mock bool) ledger.Claim {
	return ledger.Claim{
		PayerAddress: "0x1111111111111111111111111111111111111111", Endpoint: "/x402/report", Amount: amount,
		Network: "eip155:196", Asset: "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8",
		PayTo: "0x209693bc6afc0c5328ba36faf03c514ef312287c", Nonce: hex32(),
		ValidBefore: time.Now().Add(5 * time.Minute).Unix(), ResponseSummary: "report", Mock: mock,
	}
}

func newLedger(t *testing.T) (*ledger.Ledger, *insforgetest.Stack) {
	s := insforgetest.New(t)
	return ledger.New(s.ServiceClient()), s
}

func TestClaimInsertsPendingAndASecondClaimIsAReplay(t *testing.T) {
	l, _ := newLedger(t)
	ctx := context.Background()
	c := claim("1000", false)
	c.PayerAddress = "0xAbCd111111111111111111111111111111111111" // stored lowercase
	row, replay, err := l.Claim(ctx, c)
	if err != nil || replay || row.Status != ledger.StatusPending || row.ID == "" || row.Tx() != "" {
		t.Fatalf("Claim = %+v, %v, %v", row, replay, err)
	}
	if row.PayerAddress != "0xabcd111111111111111111111111111111111111" || row.Chain == nil || *row.Chain != "xlayer" {
		t.Fatalf("row = %+v", row)
	}
	again, replay, err := l.Claim(ctx, c)
	if err != nil || !replay || again.ID != row.ID {
		t.Fatalf("second Claim = %+v, %v, %v", again, replay, err)
	}
	other := c
	other.Nonce = hex32()
	if r3, replay, err := l.Claim(ctx, other); err != nil || replay || r3.ID == row.ID {
		t.Fatalf("other nonce = %+v, %v, %v", r3, replay, err)
	}
}

func TestConcurrentClaimsOfOneAuthorizationYieldOneRow(t *testing.T) {
	l, s := newLedger(t)
	c := claim("1", false)
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners, replays := 0, 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, replay, err := l.Claim(context.Background(), c)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
			case replay:
				replays++
			default:
				winners++
			}
		}()
	}
	wg.Wait()
	var n int
	if err := s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM x402_payments WHERE nonce = $1`, c.Nonce).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if winners != 1 || replays != 19 || n != 1 {
		t.Fatalf("winners %d replays %d rows %d", winners, replays, n)
	}
}

func TestSettleFailAndRecordTxOnlyTouchPendingRows(t *testing.T) {
	l, _ := newLedger(t)
	ctx := context.Background()
	row, _, _ := l.Claim(ctx, claim("5", false))
	tx := hex32()
	if err := l.RecordTx(ctx, row.ID, tx); err != nil {
		t.Fatal(err)
	}
	if err := l.Settle(ctx, row.ID, tx, false); err != nil {
		t.Fatal(err)
	}
	if err := l.Settle(ctx, row.ID, tx, false); !errors.Is(err, ledger.ErrNotPending) {
		t.Fatalf("second Settle = %v", err)
	}
	if err := l.Fail(ctx, row.ID, "late"); !errors.Is(err, ledger.ErrNotPending) {
		t.Fatalf("Fail after settle = %v", err)
	}
	rows, _ := l.List(ctx, 10)
	if len(rows) != 1 || rows[0].Status != ledger.StatusSettled || rows[0].Tx() != tx || rows[0].UpdatedAt == nil ||
		!rows[0].UpdatedAt.After(rows[0].CreatedAt) {
		t.Fatalf("rows = %+v", rows)
	}
	failed, _, _ := l.Claim(ctx, claim("5", false))
	if err := l.Fail(ctx, failed.ID, "insufficient_funds"); err != nil {
		t.Fatal(err)
	}
	// A second row cannot record the same transaction (UNIQUE tx_hash).
	third, _, _ := l.Claim(ctx, claim("5", false))
	if err := l.Settle(ctx, third.ID, tx, false); err == nil {
		t.Fatal("duplicate tx_hash accepted")
	}
}

func TestPendingListAndStats(t *testing.T) {
	l, s := newLedger(t)
	ctx := context.Background()
	big := "123456789012345678901234567890" // beyond int64: summed exactly
	settle := func(amount string, mock bool) {
		r, _, err := l.Claim(ctx, claim(amount, mock))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Settle(ctx, r.ID, hex32(), mock); err != nil {
			t.Fatal(err)
		}
	}
	empty, err := l.Stats(ctx)
	if err != nil || empty.TotalRequests != 0 || empty.TotalRevenue != "0" || empty.LatestPayment != nil {
		t.Fatalf("empty stats = %+v, %v", empty, err)
	}
	settle(big, false)
	settle("10", false)
	settle("999", true) // mock: a request, never revenue
	old, _, _ := l.Claim(ctx, claim("7", false))
	if _, err := s.Pool.Exec(ctx, `UPDATE x402_payments SET created_at = now() - interval '10 minutes' WHERE id = $1`, old.ID); err != nil {
		t.Fatal(err)
	}
	_, _, _ = l.Claim(ctx, claim("8", false)) // pending, recent

	st, err := l.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.TotalRequests != 3 || st.TotalRevenue != "123456789012345678901234567900" || st.LatestPayment == nil {
		t.Fatalf("stats = %+v", st)
	}
	pending, err := l.Pending(ctx, time.Now().Add(-time.Minute), 10)
	if err != nil || len(pending) != 1 || pending[0].ID != old.ID {
		t.Fatalf("pending = %+v, %v", pending, err)
	}
	rows, err := l.List(ctx, 2)
	if err != nil || len(rows) != 2 || rows[0].CreatedAt.Before(rows[1].CreatedAt) {
		t.Fatalf("list = %+v, %v", rows, err)
	}
}

func TestLedgerUnreachableIsErrUnavailable(t *testing.T) {
	c, err := insforge.New(insforge.Options{BaseURL: "http://127.0.0.1:1", Token: "ik_x", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	l := ledger.New(c)
	if _, _, err := l.Claim(context.Background(), claim("1", false)); !errors.Is(err, ledger.ErrUnavailable) {
		t.Fatalf("Claim err = %v", err)
	}
	if err := l.Settle(context.Background(), "00000000-0000-0000-0000-000000000000", hex32(), false); !errors.Is(err, ledger.ErrUnavailable) {
		t.Fatalf("Settle err = %v", err)
	}
}

// Migration 0003 on InsForge's SQL surface.
func TestMigrationRLSRealtimeAndIdempotence(t *testing.T) {
	l, s := newLedger(t)
	ctx := context.Background()
	row, _, err := l.Claim(ctx, claim("3", false))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Settle(ctx, row.ID, hex32(), false); err != nil {
		t.Fatal(err)
	}

	t.Run("public read", func(t *testing.T) {
		for _, role := range []struct{ name, claims string }{
			{"anon", insforgetest.AnonClaims}, {"authenticated", insforgetest.UserClaims("u1")},
		} {
			var n int
			err := s.AsRole(ctx, role.name, role.claims, func(tx pgx.Tx) error {
				return tx.QueryRow(ctx, `SELECT count(*) FROM public.x402_payments`).Scan(&n)
			})
			if err != nil || n != 1 {
				t.Fatalf("%s read: n=%d err=%v", role.name, n, err)
			}
		}
	})
	t.Run("no writes except the service key", func(t *testing.T) {
		for _, role := range []struct{ name, claims string }{
			{"anon", insforgetest.AnonClaims}, {"authenticated", insforgetest.UserClaims("u1")},
		} {
			for _, q := range []string{
				`INSERT INTO public.x402_payments (payer_address, endpoint, amount, network, asset, pay_to, nonce, valid_before) VALUES ('0x1','/x','1','eip155:196','0x2','0x3','0x4',1)`,
				`UPDATE public.x402_payments SET status = 'failed'`,
				`DELETE FROM public.x402_payments`,
			} {
				err := s.AsRole(ctx, role.name, role.claims, func(tx pgx.Tx) error { _, err := tx.Exec(ctx, q); return err })
				if err == nil {
					t.Fatalf("%s could run %q", role.name, q)
				}
			}
		}
		// Through the API too: a user token cannot insert.
		uc, err := s.UserClient("u1")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := ledger.New(uc).Claim(ctx, claim("1", false)); err == nil {
			t.Fatal("user token could claim a payment")
		}
	})
	t.Run("realtime publishes inserts and updates", func(t *testing.T) {
		var ins, upd int
		err := s.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE event_name = 'INSERT_x402_payments'),
			count(*) FILTER (WHERE event_name = 'UPDATE_x402_payments')
			FROM realtime.messages WHERE channel_name = 'x402_payments' AND payload->'new'->>'id' = $1`, row.ID).Scan(&ins, &upd)
		if err != nil || ins != 1 || upd != 1 {
			t.Fatalf("messages insert=%d update=%d err=%v", ins, upd, err)
		}
		var secdef bool
		var owner string
		var cfg []string
		err = s.Pool.QueryRow(ctx, `SELECT p.prosecdef, pg_get_userbyid(p.proowner), p.proconfig FROM pg_proc p
			WHERE p.proname = 'x402_payments_publish'`).Scan(&secdef, &owner, &cfg)
		if err != nil || !secdef || owner != "project_admin" || len(cfg) != 1 {
			t.Fatalf("publish function: secdef=%v owner=%s config=%v err=%v", secdef, owner, cfg, err)
		}
	})
	t.Run("rejects non-canonical rows", func(t *testing.T) {
		err := s.AdminExec(ctx, `INSERT INTO public.x402_payments (payer_address, endpoint, amount, network, asset, pay_to, nonce, valid_before)
			VALUES ('0xABC','/x','1','eip155:196','0x2','0x3','0x4',1)`)
		if err == nil {
			t.Fatal("mixed-case payer accepted: it would bypass the unique key")
		}
	})
	t.Run("idempotent", func(t *testing.T) {
		ms, err := migrations.All()
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			for _, m := range ms {
				if m.Name == "0003_x402_payments.sql" || m.Name == "0005_x402_ledger_hardening.sql" {
					if err := s.AdminExec(ctx, m.SQL); err != nil {
						t.Fatalf("re-apply %s: %v", m.Name, err)
					}
				}
			}
		}
		var channels int
		if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM realtime.channels WHERE pattern = 'x402_payments'`).Scan(&channels); err != nil || channels != 1 {
			t.Fatalf("channels = %d, %v", channels, err)
		}
	})
}
