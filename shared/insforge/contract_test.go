package insforge_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
)

func TestMain(m *testing.M) { insforgetest.Main(m) }

type payment struct {
	ID     string  `json:"id,omitempty"`
	TxHash string  `json:"tx_hash"`
	Amount string  `json:"amount"`
	Status string  `json:"status,omitempty"`
	Owner  *string `json:"owner,omitempty"`
}

type todo struct {
	ID     string `json:"id,omitempty"`
	UserID string `json:"user_id,omitempty"`
	Title  string `json:"title"`
	Done   bool   `json:"done"`
}

// The client against the stack: real SQL behind InsForge's HTTP contract.
func TestClientAgainstStack(t *testing.T) {
	s := insforgetest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.AdminExec(ctx, `CREATE TABLE public.payments (
		id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tx_hash text UNIQUE NOT NULL, amount text NOT NULL,
		status text NOT NULL DEFAULT 'pending', owner text DEFAULT public.requesting_user_id());
		ALTER TABLE public.payments ENABLE ROW LEVEL SECURITY;
		CREATE FUNCTION public.total(p_status text) RETURNS bigint LANGUAGE sql STABLE AS $$
			SELECT count(*) FROM public.payments WHERE status = p_status $$;`); err != nil {
		t.Fatal(err)
	}
	svc := s.ServiceClient()

	t.Run("health", func(t *testing.T) {
		h, err := svc.Health(ctx)
		if err != nil || h.Status != "ok" {
			t.Fatalf("health %+v %v", h, err)
		}
	})
	t.Run("insert single and bulk with representation", func(t *testing.T) {
		var one []payment
		if err := svc.Insert(ctx, "payments", payment{TxHash: "0x1", Amount: "10"}, &one); err != nil {
			t.Fatal(err)
		}
		if len(one) != 1 || one[0].ID == "" || one[0].Status != "pending" || one[0].Owner != nil {
			t.Fatalf("inserted %+v (service key must leave owner NULL)", one)
		}
		var many []payment
		if err := svc.Insert(ctx, "payments", []payment{{TxHash: "0x2", Amount: "20"}, {TxHash: "0x3", Amount: "30"}}, &many); err != nil || len(many) != 2 {
			t.Fatalf("bulk %+v %v", many, err)
		}
		if err := svc.Insert(ctx, "payments", payment{TxHash: "0x4", Amount: "40"}, nil); err != nil {
			t.Fatalf("minimal: %v", err)
		}
	})
	t.Run("duplicate is ErrUniqueViolation", func(t *testing.T) {
		err := svc.Insert(ctx, "payments", payment{TxHash: "0x1", Amount: "99"}, nil)
		var e *insforge.Error
		if !errors.Is(err, insforge.ErrUniqueViolation) || !errors.As(err, &e) || e.Status != 409 || e.Details == "" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ignore duplicates", func(t *testing.T) {
		var out []payment
		err := svc.Insert(ctx, "payments", []payment{{TxHash: "0x1", Amount: "1"}, {TxHash: "0x5", Amount: "50"}}, &out,
			insforge.OnConflict("tx_hash"), insforge.IgnoreDuplicates(), insforge.Idempotent())
		if err != nil || len(out) != 1 || out[0].TxHash != "0x5" {
			t.Fatalf("out %+v err %v", out, err)
		}
	})
	t.Run("select with filters order limit", func(t *testing.T) {
		var out []payment
		q := insforge.NewQuery().Select("tx_hash", "amount").In("tx_hash", "0x1", "0x2", "0x3").Order("tx_hash", insforge.Desc).Limit(2)
		if err := svc.Select(ctx, "payments", q, &out); err != nil {
			t.Fatal(err)
		}
		if len(out) != 2 || out[0].TxHash != "0x3" || out[1].TxHash != "0x2" || out[0].ID != "" {
			t.Fatalf("out %+v", out)
		}
		out = nil
		q = insforge.NewQuery().Gte("amount", "20").Lte("amount", "30").Order("amount", insforge.Asc)
		if err := svc.Select(ctx, "payments", q, &out); err != nil || len(out) != 2 || out[0].Amount != "20" {
			t.Fatalf("range: %+v %v", out, err)
		}
	})
	t.Run("update by filter", func(t *testing.T) {
		var out []payment
		err := svc.Update(ctx, "payments", insforge.NewQuery().Eq("tx_hash", "0x2").Eq("status", "pending"),
			map[string]string{"status": "settled"}, &out, insforge.Idempotent())
		if err != nil || len(out) != 1 || out[0].Status != "settled" {
			t.Fatalf("out %+v err %v", out, err)
		}
		// The conditional update does not match twice.
		out = nil
		err = svc.Update(ctx, "payments", insforge.NewQuery().Eq("tx_hash", "0x2").Eq("status", "pending"),
			map[string]string{"status": "settled"}, &out)
		if err != nil || len(out) != 0 {
			t.Fatalf("second update: %+v %v", out, err)
		}
	})
	t.Run("rpc", func(t *testing.T) {
		var n int
		if err := svc.RPC(ctx, "total", map[string]string{"p_status": "pending"}, &n); err != nil || n != 4 {
			t.Fatalf("total = %d, %v", n, err)
		}
		if err := svc.RPC(ctx, "nope", nil, nil); !errors.Is(err, insforge.ErrNotFound) {
			t.Fatalf("unknown rpc: %v", err)
		}
	})
	t.Run("unknown table is ErrNotFound", func(t *testing.T) {
		if err := svc.Select(ctx, "nope", nil, &[]any{}); !errors.Is(err, insforge.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad service key is ErrUnauthorized", func(t *testing.T) {
		bad := svc.WithToken("ik_wrong")
		var e *insforge.Error
		err := bad.Select(ctx, "payments", nil, &[]any{})
		if !errors.Is(err, insforge.ErrUnauthorized) || !errors.As(err, &e) || !e.Envelope || e.Code != "AUTH_INVALID_API_KEY" {
			t.Fatalf("err = %v", err)
		}
	})
}

// A user-JWT client is subject to RLS: own rows only, other users' writes refused.
func TestUserClientAgainstStackIsScopedByRLS(t *testing.T) {
	s := insforgetest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice, err := s.UserClient("user_alice")
	if err != nil {
		t.Fatal(err)
	}
	bob, _ := s.UserClient("user_bob")
	var created []todo
	if err := alice.Insert(ctx, "todos", []todo{{Title: "a1"}}, &created); err != nil || created[0].UserID != "user_alice" {
		t.Fatalf("alice insert: %+v %v", created, err)
	}
	if err := bob.Insert(ctx, "todos", []todo{{Title: "b1"}}, nil); err != nil {
		t.Fatal(err)
	}
	var seen []todo
	if err := alice.Select(ctx, "todos", insforge.NewQuery().Order("created_at", insforge.Asc), &seen); err != nil || len(seen) != 1 || seen[0].Title != "a1" {
		t.Fatalf("alice sees %+v %v", seen, err)
	}
	err = alice.Insert(ctx, "todos", todo{Title: "forged", UserID: "user_bob"}, nil)
	if !errors.Is(err, insforge.ErrRLS) || !errors.Is(err, insforge.ErrForbidden) {
		t.Fatalf("forged insert: %v", err)
	}
	var changed []todo
	if err := bob.Update(ctx, "todos", insforge.NewQuery().Eq("id", created[0].ID), map[string]bool{"done": true}, &changed); err != nil || len(changed) != 0 {
		t.Fatalf("bob updates alice's todo: %+v %v", changed, err)
	}
}
