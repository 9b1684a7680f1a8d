package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/signer"
)

const (
	alice      = "0x00000000000000000000000000000000000a11ce"
	bob        = "0x0000000000000000000000000000000000000b0b"
	passURL    = "/x402/pass/pro"
	aliceSub   = "eip155:196:" + alice
	bobSub     = "eip155:196:" + bob
	hourSecond = 3600
	// holder is the presentation holding the lease of every pendingPayment row
	// (x402_payments.lease_by, migration 0006).
	holder = "presentation-1"
)

var paymentSeq int

// pendingPayment inserts a pending x402_payments row for payer on endpoint,
// claimed by holder, and returns its id.
func pendingPayment(t *testing.T, s *insforgetest.Stack, payer, endpoint string, mock bool) string {
	t.Helper()
	paymentSeq++
	var id string
	err := s.Pool.QueryRow(context.Background(), `INSERT INTO public.x402_payments
		(payer_address, endpoint, amount, network, asset, pay_to, nonce, valid_before, status, mock, lease_by, lease_until)
		VALUES ($1, $2, '1000', 'eip155:196', '0x4ae46a509f6b1d9056937ba4500cb143933d2dc8',
		        '0x00000000000000000000000000000000000000aa', $3, 4102444800, 'pending', $4, $5, now() + interval '1 minute')
		RETURNING id`,
		payer, endpoint, fmt.Sprintf("0x%064x", paymentSeq), mock, holder).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

type grant struct {
	Subject         string
	Starts, Ends    time.Time
	Mock            bool
	PaymentID       *string
	granted, isNull bool
}

// settleDeliver calls x402_pass_settle_deliver as the service role, for holder.
func settleDeliver(t *testing.T, s *insforgetest.Stack, id string, at time.Time, endpoint string, seconds int, mock bool) grant {
	t.Helper()
	return settleDeliverBy(t, s, id, holder, at, endpoint, seconds, mock)
}

func settleDeliverBy(t *testing.T, s *insforgetest.Stack, id, by string, at time.Time, endpoint string, seconds int, mock bool) grant {
	t.Helper()
	var g grant
	var sub *string
	var starts, ends *time.Time
	var mockp *bool
	tx := fmt.Sprintf("0x%064x", 1_000_000+paymentSeq+int(at.UnixNano()%1000))
	err := s.AsRole(context.Background(), "project_admin", insforgetest.AdminClaims, func(q pgx.Tx) error {
		return q.QueryRow(context.Background(), `SELECT e.subject, e.starts_at, e.ends_at, e.mock, e.payment_id::text
			FROM public.x402_pass_settle_deliver($1, $2, $3, $4, $5, $6, 'pro', $7) e`, id, by, tx, mock, at, endpoint, seconds).
			Scan(&sub, &starts, &ends, &mockp, &g.PaymentID)
	})
	if err != nil {
		t.Fatal(err)
	}
	g.isNull = g.PaymentID == nil
	if !g.isNull {
		g.Subject, g.Starts, g.Ends, g.Mock = *sub, *starts, *ends, *mockp
	}
	return g
}

func walletToken(t *testing.T, sg *signer.Signer, sub string) string {
	t.Helper()
	tok, err := sg.MintWallet(sub, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Value
}

// reports lists the premium_reports titles the holder of token reads.
func reports(t *testing.T, s *insforgetest.Stack, sg *signer.Signer, token string) []string {
	t.Helper()
	return titles(t, s, sg, token, "public.premium_reports")
}

func TestPremiumReportsAreReadableOnlyWithAnActivePass(t *testing.T) {
	s := insforgetest.New(t)
	sg, _ := signer.New(signer.Config{Secret: s.JWTSecret, TTL: time.Hour}, signer.Options{})
	ta, tb := walletToken(t, sg, aliceSub), walletToken(t, sg, bobSub)
	if got := reports(t, s, sg, ta); len(got) != 0 {
		t.Fatalf("without a pass alice reads %v", got)
	}
	now := time.Now()
	g := settleDeliver(t, s, pendingPayment(t, s, alice, passURL, false), now, passURL, hourSecond, false)
	if g.isNull || g.Subject != aliceSub || g.Mock || g.Ends.Sub(g.Starts) != time.Hour {
		t.Fatalf("grant %+v", g)
	}
	if got := reports(t, s, sg, ta); len(got) != 2 {
		t.Fatalf("with a pass alice reads %v", got)
	}
	if got := reports(t, s, sg, tb); len(got) != 0 {
		t.Fatalf("bob, without a pass, reads %v", got)
	}
	// A provider user whose id happens to be alice's address reads nothing.
	other, _ := sg.Mint(alice, "")
	if got := reports(t, s, sg, other.Value); len(got) != 0 {
		t.Fatalf("a non-wallet subject reads %v", got)
	}
	// An expired pass unlocks nothing.
	gb := settleDeliver(t, s, pendingPayment(t, s, bob, passURL, false), now.Add(-2*time.Hour), passURL, hourSecond, false)
	if gb.isNull || !gb.Ends.Before(now) {
		t.Fatalf("bob's old pass %+v", gb)
	}
	if got := reports(t, s, sg, tb); len(got) != 0 {
		t.Fatalf("bob, with an expired pass, reads %v", got)
	}
	// anon reads nothing at all.
	err := s.AsRole(context.Background(), "anon", insforgetest.AnonClaims, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), `SELECT 1 FROM public.premium_reports`)
		return err
	})
	if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "42501" {
		t.Fatalf("anon: %v", err)
	}
}

func TestARenewalExtendsTheActivePass(t *testing.T) {
	s := insforgetest.New(t)
	now := time.Now().Truncate(time.Microsecond)
	g1 := settleDeliver(t, s, pendingPayment(t, s, alice, passURL, false), now, passURL, hourSecond, false)
	g2 := settleDeliver(t, s, pendingPayment(t, s, alice, passURL, false), now.Add(time.Minute), passURL, hourSecond, false)
	if !g2.Starts.Equal(g1.Ends) || !g2.Ends.Equal(g1.Ends.Add(time.Hour)) {
		t.Fatalf("renewal %+v after %+v", g2, g1)
	}
	// Concurrent renewals are serialised: the passes chain, none overlaps.
	var wg sync.WaitGroup
	ids := []string{pendingPayment(t, s, bob, passURL, false), pendingPayment(t, s, bob, passURL, false), pendingPayment(t, s, bob, passURL, false)}
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.AsRole(context.Background(), "project_admin", insforgetest.AdminClaims, func(q pgx.Tx) error {
				_, err := q.Exec(context.Background(), `SELECT public.x402_pass_settle_deliver($1, $2, $3, false, $4, $5, 'pro', 3600)`,
					id, holder, fmt.Sprintf("0x%064x", 9_000_000+i), now, passURL)
				return err
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var span time.Duration
	var n int
	if err := s.Pool.QueryRow(context.Background(), `SELECT count(*), extract(epoch FROM max(ends_at) - min(starts_at))::bigint
		FROM public.x402_entitlements WHERE subject = $1`, bobSub).Scan(&n, (*secondsDuration)(&span)); err != nil {
		t.Fatal(err)
	}
	if n != 3 || span != 3*time.Hour {
		t.Fatalf("bob: %d passes spanning %s, want 3 spanning 3h", n, span)
	}
}

type secondsDuration time.Duration

func (d *secondsDuration) Scan(v any) error {
	n, ok := v.(int64)
	if !ok {
		return fmt.Errorf("not int64: %T", v)
	}
	*d = secondsDuration(time.Duration(n) * time.Second)
	return nil
}

func TestAnEntitlementExistsOnlyForASettledDeliveredPayment(t *testing.T) {
	s := insforgetest.New(t)
	ctx := context.Background()
	count := func() (n int) {
		_ = s.Pool.QueryRow(ctx, `SELECT count(*) FROM public.x402_entitlements`).Scan(&n)
		return n
	}
	now := time.Now()
	id := pendingPayment(t, s, alice, passURL, false)
	if g := settleDeliver(t, s, id, now, "/x402/report", hourSecond, false); !g.isNull || count() != 0 {
		t.Fatalf("a payment for another endpoint granted %+v", g)
	}
	if g := settleDeliver(t, s, id, now, passURL, hourSecond, false); g.isNull {
		t.Fatal("no grant")
	}
	if g := settleDeliver(t, s, id, now, passURL, hourSecond, false); !g.isNull || count() != 1 {
		t.Fatalf("the same payment granted twice: %+v", g)
	}
	// Released and failed rows grant nothing.
	for _, status := range []string{"released", "failed", "needs_review"} {
		other := pendingPayment(t, s, bob, passURL, false)
		if _, err := s.Pool.Exec(ctx, `UPDATE public.x402_payments SET status = $2 WHERE id = $1`, other, status); err != nil {
			t.Fatal(err)
		}
		if g := settleDeliver(t, s, other, now, passURL, hourSecond, false); !g.isNull {
			t.Fatalf("%s row granted %+v", status, g)
		}
	}
	// A transaction hash another payment holds: nothing is written, the row stays pending.
	taken := pendingPayment(t, s, bob, passURL, false)
	err := s.AsRole(ctx, "project_admin", insforgetest.AdminClaims, func(q pgx.Tx) error {
		_, err := q.Exec(ctx, `SELECT public.x402_pass_settle_deliver($1, $4, (SELECT tx_hash FROM public.x402_payments WHERE id = $2), false, now(), $3, 'pro', 3600)`,
			taken, id, passURL, holder)
		return err
	})
	var pe *pgconn.PgError
	var status string
	_ = s.Pool.QueryRow(ctx, `SELECT status FROM public.x402_payments WHERE id = $1`, taken).Scan(&status)
	if !errors.As(err, &pe) || pe.Code != "23505" || status != "pending" || count() != 1 {
		t.Fatalf("tx hash conflict: %v, status %s, %d entitlements", err, status, count())
	}
	// The delivery of a payment settled earlier (202, then the reconciler): once.
	late := pendingPayment(t, s, bob, passURL, false)
	if _, err := s.Pool.Exec(ctx, `UPDATE public.x402_payments SET status = 'settled', tx_hash = $2 WHERE id = $1`, late, fmt.Sprintf("0x%064x", 77)); err != nil {
		t.Fatal(err)
	}
	deliver := func() (granted bool) {
		err := s.AsRole(ctx, "project_admin", insforgetest.AdminClaims, func(q pgx.Tx) error {
			return q.QueryRow(ctx, `SELECT (public.x402_pass_deliver($1, $3, now(), $2, 'pro', 3600)).payment_id IS NOT NULL`, late, passURL, holder).Scan(&granted)
		})
		if err != nil {
			t.Fatal(err)
		}
		return granted
	}
	if !deliver() || deliver() || count() != 2 {
		t.Fatalf("late delivery: %d entitlements", count())
	}
}

// The pass functions write under the leases of shared/ledger's SettleDelivered
// and Deliver: only the claim's holder records a pending payment, only the
// delivery lease's holder delivers a settled one, and delivered_by names it.
func TestPassFunctionsWriteOnlyForTheLeaseHolder(t *testing.T) {
	s := insforgetest.New(t)
	ctx := context.Background()
	now := time.Now()
	row := func(id string) (status string, deliveredBy *string) {
		if err := s.Pool.QueryRow(ctx, `SELECT status, delivered_by FROM public.x402_payments WHERE id = $1`, id).Scan(&status, &deliveredBy); err != nil {
			t.Fatal(err)
		}
		return status, deliveredBy
	}
	count := func() (n int) {
		_ = s.Pool.QueryRow(ctx, `SELECT count(*) FROM public.x402_entitlements`).Scan(&n)
		return n
	}
	id := pendingPayment(t, s, alice, passURL, false)
	if g := settleDeliverBy(t, s, id, "intruder", now, passURL, hourSecond, false); !g.isNull || count() != 0 {
		t.Fatalf("a presentation not holding the claim granted %+v", g)
	}
	if st, by := row(id); st != "pending" || by != nil {
		t.Fatalf("row %s delivered by %v", st, by)
	}
	if g := settleDeliverBy(t, s, id, holder, now, passURL, hourSecond, false); g.isNull || count() != 1 {
		t.Fatal("the holder's record granted nothing")
	}
	if st, by := row(id); st != "settled" || by == nil || *by != holder {
		t.Fatalf("row %s delivered by %v", st, by)
	}
	// Settled by the reconciler, then leased to the presentation re-delivering it.
	late := pendingPayment(t, s, bob, passURL, false)
	if _, err := s.Pool.Exec(ctx, `UPDATE public.x402_payments SET status = 'settled', tx_hash = $2, lease_by = 'lessee'
		WHERE id = $1`, late, fmt.Sprintf("0x%064x", 78)); err != nil {
		t.Fatal(err)
	}
	deliver := func(by string) (granted bool) {
		err := s.AsRole(ctx, "project_admin", insforgetest.AdminClaims, func(q pgx.Tx) error {
			return q.QueryRow(ctx, `SELECT (public.x402_pass_deliver($1, $2, now(), $3, 'pro', 3600)).payment_id IS NOT NULL`,
				late, by, passURL).Scan(&granted)
		})
		if err != nil {
			t.Fatal(err)
		}
		return granted
	}
	if deliver(holder) || count() != 1 {
		t.Fatalf("delivered by the former claim holder: %d entitlements", count())
	}
	if !deliver("lessee") || deliver("lessee") || count() != 2 {
		t.Fatalf("the lease holder's delivery: %d entitlements", count())
	}
	if st, by := row(late); st != "settled" || by == nil || *by != "lessee" {
		t.Fatalf("late row %s delivered by %v", st, by)
	}
}

func TestOnlyTheServiceRoleWritesEntitlementsAndWalletsReadTheirOwn(t *testing.T) {
	s := insforgetest.New(t)
	ctx := context.Background()
	sg, _ := signer.New(signer.Config{Secret: s.JWTSecret, TTL: time.Hour}, signer.Options{})
	settleDeliver(t, s, pendingPayment(t, s, alice, passURL, false), time.Now(), passURL, hourSecond, false)
	settleDeliver(t, s, pendingPayment(t, s, bob, passURL, false), time.Now(), passURL, hourSecond, false)
	id := pendingPayment(t, s, alice, passURL, false)
	var own []string
	if err := asUser(t, s, sg, walletToken(t, sg, aliceSub), func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT subject FROM public.x402_entitlements`)
		var err error
		own, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	}); err != nil || len(own) != 1 || own[0] != aliceSub {
		t.Fatalf("alice reads %v (%v)", own, err)
	}
	writes := []string{
		`INSERT INTO public.x402_entitlements (subject, product, starts_at, ends_at, payment_id, mock)
		 VALUES ('` + aliceSub + `', 'pro', now(), now() + interval '1 year', '` + id + `', false)`,
		`UPDATE public.x402_entitlements SET ends_at = now() + interval '1 year'`,
		`DELETE FROM public.x402_entitlements`,
		`SELECT public.x402_pass_settle_deliver('` + id + `', '` + holder + `', '0x` + strings.Repeat("ab", 32) + `', false, now(), '` + passURL + `', 'pro', 31536000)`,
		`SELECT public.x402_pass_deliver('` + id + `', '` + holder + `', now(), '` + passURL + `', 'pro', 31536000)`,
		`SELECT public.wallet_nonce_consume('abcdefgh12345678', now() + interval '1 minute')`,
		`UPDATE public.x402_entitlement_settings SET accept_mock = true`,
		`SELECT public.x402_grant_entitlement(p, 'pro', 31536000, now()) FROM public.x402_payments p`,
	}
	for _, role := range []string{"anon", "authenticated"} {
		claims := insforgetest.AnonClaims
		if role == "authenticated" {
			claims = insforgetest.UserClaims(aliceSub)
		}
		for _, sql := range writes {
			err := s.AsRole(ctx, role, claims, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, sql)
				return err
			})
			if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "42501" {
				t.Errorf("%s: %.60s…: %v, want permission denied", role, sql, err)
			}
		}
	}
	var n int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM public.x402_entitlements WHERE ends_at > now() + interval '2 hours'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("a write got through: %d %v", n, err)
	}
}

func TestMockPassesUnlockNothingUnlessTheDatabaseAcceptsThem(t *testing.T) {
	s := insforgetest.New(t)
	sg, _ := signer.New(signer.Config{Secret: s.JWTSecret, TTL: time.Hour}, signer.Options{})
	g := settleDeliver(t, s, pendingPayment(t, s, alice, passURL, true), time.Now(), passURL, hourSecond, true)
	if g.isNull || !g.Mock {
		t.Fatalf("mock grant %+v", g)
	}
	ta := walletToken(t, sg, aliceSub)
	if got := reports(t, s, sg, ta); len(got) != 0 {
		t.Fatalf("a mock pass unlocked %v", got)
	}
	if err := s.AdminExec(context.Background(), `UPDATE public.x402_entitlement_settings SET accept_mock = true`); err != nil {
		t.Fatal(err)
	}
	if got := reports(t, s, sg, ta); len(got) != 2 {
		t.Fatalf("a development database accepting mock passes: %v", got)
	}
	// A real renewal does not extend a mock pass (nor the other way round).
	g2 := settleDeliver(t, s, pendingPayment(t, s, alice, passURL, false), time.Now(), passURL, hourSecond, false)
	if g2.Mock || g2.Starts.Equal(g.Ends) {
		t.Fatalf("real pass chained onto a mock one: %+v", g2)
	}
}

func TestWalletNonceConsumeRecordsEachNonceOnce(t *testing.T) {
	s := insforgetest.New(t)
	ctx := context.Background()
	consume := func(nonce string, exp time.Time) (fresh bool) {
		if err := s.AsRole(ctx, "project_admin", insforgetest.AdminClaims, func(q pgx.Tx) error {
			return q.QueryRow(ctx, `SELECT public.wallet_nonce_consume($1, $2)`, nonce, exp).Scan(&fresh)
		}); err != nil {
			t.Fatal(err)
		}
		return fresh
	}
	exp := time.Now().Add(10 * time.Minute)
	if !consume("abcdefgh12345678", exp) || consume("abcdefgh12345678", exp) {
		t.Fatal("a nonce was consumed twice, or not at all")
	}
	// Expired records are pruned by later calls.
	if !consume("expired0000000001", time.Now().Add(-time.Minute)) || !consume("another000000001", exp) {
		t.Fatal("fresh nonces refused")
	}
	var n int
	_ = s.Pool.QueryRow(ctx, `SELECT count(*) FROM public.wallet_nonces WHERE nonce = 'expired0000000001'`).Scan(&n)
	if n != 0 {
		t.Fatal("expired nonce record not pruned")
	}
}

func TestPassStatsCountSoldAndActivePerProduct(t *testing.T) {
	s := insforgetest.New(t)
	now := time.Now()
	settleDeliver(t, s, pendingPayment(t, s, alice, passURL, false), now, passURL, hourSecond, false)
	settleDeliver(t, s, pendingPayment(t, s, alice, passURL, false), now, passURL, hourSecond, false)
	settleDeliver(t, s, pendingPayment(t, s, bob, passURL, false), now.Add(-3*time.Hour), passURL, hourSecond, false)
	settleDeliver(t, s, pendingPayment(t, s, bob, passURL, true), now, passURL, hourSecond, true)
	var out string
	err := s.AsRole(context.Background(), "anon", insforgetest.AnonClaims, func(q pgx.Tx) error {
		return q.QueryRow(context.Background(), `SELECT public.x402_pass_stats()::text`).Scan(&out)
	})
	want := `[{"sold": 3, "active": 2, "product": "pro", "sold_mock": 1}]`
	if err != nil || out != want {
		t.Fatalf("stats %s (%v), want %s", out, err, want)
	}
}

// The entitlement functions run with a pinned search_path, so nothing planted
// in public can run in their place (has_entitlement and the stats run as
// project_admin); the checks a policy relies on are SECURITY DEFINER.
func TestEntitlementFunctionsPinSearchPath(t *testing.T) {
	s := insforgetest.New(t)
	rows, err := s.Pool.Query(context.Background(), `SELECT p.proname, p.prosecdef, coalesce(array_to_string(p.proconfig, ','), '')
		FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
		AND p.proname IN ('has_entitlement', 'wallet_nonce_consume', 'x402_grant_entitlement', 'x402_pass_settle_deliver', 'x402_pass_deliver', 'x402_pass_stats')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	n := 0
	for rows.Next() {
		n++
		var name, cfg string
		var secdef bool
		if err := rows.Scan(&name, &secdef, &cfg); err != nil {
			t.Fatal(err)
		}
		seen[name] = secdef
		if cfg != "search_path=pg_catalog, pg_temp" {
			t.Errorf("%s: %q", name, cfg)
		}
	}
	// One function per name: no overload of an earlier signature is left behind.
	if n != 6 || len(seen) != 6 || !seen["has_entitlement"] || !seen["x402_pass_stats"] || seen["x402_pass_settle_deliver"] {
		t.Fatalf("functions and SECURITY DEFINER: %v", seen)
	}
}
