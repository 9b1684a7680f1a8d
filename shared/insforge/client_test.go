package insforge_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
)

func newClient(t *testing.T, url, token string) *insforge.Client {
	t.Helper()
	c, err := insforge.New(insforge.Options{BaseURL: url, Token: token, MaxRetries: 2, Backoff: time.Millisecond,
		MaxBackoff: 5 * time.Millisecond, MaxResponseBytes: 1024, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  insforge.Config
		want string
	}{
		{"ok", insforge.Config{BaseURL: "https://x.insforge.app", ServiceKey: "ik_abc", Timeout: time.Second}, ""},
		{"loopback http", insforge.Config{BaseURL: "http://127.0.0.1:7130", ServiceKey: "ik_abc", Timeout: time.Second}, ""},
		{"plain http", insforge.Config{BaseURL: "http://x.insforge.app", ServiceKey: "ik_abc", Timeout: time.Second}, "INSFORGE_BASE_URL"},
		{"anon key", insforge.Config{BaseURL: "https://x.insforge.app", ServiceKey: "anon_abc", Timeout: time.Second}, "INSFORGE_SERVICE_KEY"},
		{"bare prefix", insforge.Config{BaseURL: "https://x.insforge.app", ServiceKey: "ik_", Timeout: time.Second}, "INSFORGE_SERVICE_KEY"},
		{"timeout", insforge.Config{BaseURL: "https://x.insforge.app", ServiceKey: "ik_abc"}, "INSFORGE_TIMEOUT"},
		{"timeout too long", insforge.Config{BaseURL: "https://x.insforge.app", ServiceKey: "ik_abc", Timeout: 3 * time.Minute}, "INSFORGE_TIMEOUT"},
		{"retries", insforge.Config{BaseURL: "https://x.insforge.app", ServiceKey: "ik_abc", Timeout: time.Second, MaxRetries: 11}, "INSFORGE_MAX_RETRIES"},
		{"base URL with a key", insforge.Config{BaseURL: "http://x.insforge.app/?key=ik_abc", ServiceKey: "ik_abc", Timeout: time.Second}, "INSFORGE_BASE_URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want mention of %s", err, tc.want)
			}
			if strings.Contains(err.Error(), tc.cfg.ServiceKey) && tc.cfg.ServiceKey != "ik_" {
				t.Fatalf("error leaks the key: %v", err)
			}
			for _, v := range []string{"x.insforge.app", tc.cfg.Timeout.String(), fmt.Sprintf("(got %d)", tc.cfg.MaxRetries)} {
				if strings.Contains(err.Error(), v) {
					t.Fatalf("the message repeats the value %q: %v", v, err)
				}
			}
		})
	}
}

// The environment default of INSFORGE_MAX_RETRIES is the documented
// DefaultMaxRetries (Options' zero value means no retries, so the default lives
// only in the tag).
func TestMaxRetriesDefaultIsDefaultMaxRetries(t *testing.T) {
	f, ok := reflect.TypeFor[insforge.Config]().FieldByName("MaxRetries")
	if !ok {
		t.Fatal("insforge.Config has no MaxRetries field")
	}
	if got, want := f.Tag.Get("default"), strconv.Itoa(insforge.DefaultMaxRetries); got != want {
		t.Fatalf("INSFORGE_MAX_RETRIES default = %q, want DefaultMaxRetries (%s)", got, want)
	}
}

// The request is exactly what InsForge's records API expects from a service-key
// insert: Bearer service key only, a JSON array body, Prefer: return=representation.
func TestInsertSendsBearerOnlyAndRepresentation(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.Method != "POST" || r.URL.Path != "/api/database/records/payments":
			t.Errorf("request line %s %s", r.Method, r.URL.Path)
		case r.Header.Get("Authorization") != "Bearer ik_secret" || r.Header.Get("X-Api-Key") != "" || r.Header.Get("Apikey") != "":
			t.Errorf("credential headers: %v", r.Header)
		case r.Header.Get("Prefer") != "return=representation,resolution=ignore-duplicates" || r.URL.Query().Get("on_conflict") != "tx_hash":
			t.Errorf("prefer %q query %q", r.Header.Get("Prefer"), r.URL.RawQuery)
		case r.Header.Get("Content-Type") != "application/json" || string(body) != `[{"tx_hash":"0x1"}]`:
			t.Errorf("body %q", body)
		}
		w.WriteHeader(201)
		_, _ = io.WriteString(w, `[{"id":"1","tx_hash":"0x1"}]`)
	}))
	defer srv.Close()
	var out []map[string]string
	err := newClient(t, srv.URL, "ik_secret").Insert(context.Background(), "payments", []map[string]string{{"tx_hash": "0x1"}},
		&out, insforge.OnConflict("tx_hash"), insforge.IgnoreDuplicates())
	if err != nil || len(out) != 1 || out[0]["id"] != "1" {
		t.Fatalf("out=%v err=%v", out, err)
	}
}

func TestErrorsAreTyped(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		is      []error
		isNot   []error
		code    string
		details string
		next    string
	}{
		{"unique", 409, `{"code":"23505","details":"Key (tx_hash)=(0x1) already exists.","hint":null,"message":"duplicate key value violates unique constraint \"p_key\""}`,
			[]error{insforge.ErrUniqueViolation, insforge.ErrConflict}, []error{insforge.ErrRLS}, "23505", "Key (tx_hash)=(0x1) already exists.", ""},
		{"rls", 403, `{"code":"42501","details":null,"hint":null,"message":"new row violates row-level security policy for table \"todos\""}`,
			[]error{insforge.ErrRLS, insforge.ErrForbidden}, []error{insforge.ErrUniqueViolation}, "42501", "", ""},
		{"envelope 401", 401, `{"error":"AUTH_INVALID_CREDENTIALS","message":"No token provided","statusCode":401,"nextActions":"Check the token"}`,
			[]error{insforge.ErrUnauthorized}, []error{insforge.ErrForbidden}, "AUTH_INVALID_CREDENTIALS", "", "Check the token"},
		{"role claim", 403, `{"error":"AUTH_UNAUTHORIZED","message":"Invalid user role claim","statusCode":403}`,
			[]error{insforge.ErrForbidden}, []error{insforge.ErrRLS}, "AUTH_UNAUTHORIZED", "", ""},
		{"not found", 404, `{"code":"42P01","details":null,"hint":null,"message":"relation \"public.x\" does not exist"}`,
			[]error{insforge.ErrNotFound}, nil, "42P01", "", ""},
		{"bad request", 400, `{"code":"23502","details":"Failing row","hint":null,"message":"null value"}`,
			[]error{insforge.ErrBadRequest}, []error{insforge.ErrUnavailable}, "23502", "Failing row", ""},
		{"not json", 400, `oops`, []error{insforge.ErrBadRequest}, nil, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			err := newClient(t, srv.URL, "ik_secret").Insert(context.Background(), "t", map[string]int{"a": 1}, nil)
			var e *insforge.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *insforge.Error", err)
			}
			if e.Status != tc.status || e.Code != tc.code || e.Details != tc.details || e.NextActions != tc.next {
				t.Errorf("error = %+v", e)
			}
			for _, s := range tc.is {
				if !errors.Is(err, s) {
					t.Errorf("errors.Is(%v) = false", s)
				}
			}
			for _, s := range tc.isNot {
				if errors.Is(err, s) {
					t.Errorf("errors.Is(%v) = true", s)
				}
			}
			if strings.Contains(err.Error(), "ik_secret") {
				t.Errorf("error leaks the key")
			}
		})
	}
}

// Retries: only idempotent requests, only on 5xx/429/network errors.
func TestRetryPolicy(t *testing.T) {
	tests := []struct {
		name      string
		statuses  []int
		run       func(*insforge.Client) error
		wantCalls int32
		wantErr   bool
	}{
		{"GET retried on 503 then succeeds", []int{503, 200}, func(c *insforge.Client) error {
			return c.Select(context.Background(), "t", nil, &[]map[string]any{})
		}, 2, false},
		{"GET retried on 429", []int{429, 429, 200}, func(c *insforge.Client) error {
			return c.Select(context.Background(), "t", nil, &[]map[string]any{})
		}, 3, false},
		{"GET gives up after MaxRetries", []int{500, 500, 500, 500}, func(c *insforge.Client) error {
			return c.Select(context.Background(), "t", nil, &[]map[string]any{})
		}, 3, true},
		{"GET not retried on 400", []int{400, 200}, func(c *insforge.Client) error {
			return c.Select(context.Background(), "t", nil, &[]map[string]any{})
		}, 1, true},
		{"POST insert never retried", []int{503, 201}, func(c *insforge.Client) error {
			return c.Insert(context.Background(), "t", map[string]int{"a": 1}, nil)
		}, 1, true},
		{"RPC not retried by default", []int{503, 200}, func(c *insforge.Client) error {
			return c.RPC(context.Background(), "f", nil, nil)
		}, 1, true},
		{"PATCH marked idempotent is retried", []int{502, 204}, func(c *insforge.Client) error {
			return c.Update(context.Background(), "t", insforge.NewQuery().Eq("id", 1), map[string]any{"s": "x"}, nil, insforge.Idempotent())
		}, 2, false},
		{"PATCH not marked is not retried", []int{502, 204}, func(c *insforge.Client) error {
			return c.Update(context.Background(), "t", insforge.NewQuery().Eq("id", 1), map[string]any{"s": "x"}, nil)
		}, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				w.WriteHeader(tc.statuses[n-1])
				if tc.statuses[n-1] == 200 {
					_, _ = io.WriteString(w, `[]`)
				}
			}))
			defer srv.Close()
			err := tc.run(newClient(t, srv.URL, "ik_k"))
			if (err != nil) != tc.wantErr || calls.Load() != tc.wantCalls {
				t.Fatalf("err=%v calls=%d, want err=%v calls=%d", err, calls.Load(), tc.wantErr, tc.wantCalls)
			}
		})
	}
}

func TestNetworkErrorRetriedForReadsOnly(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close() // connection dropped without a response
			return
		}
		_, _ = io.WriteString(w, `[]`)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, "ik_k")
	if err := c.Select(context.Background(), "t", nil, &[]any{}); err != nil || calls.Load() != 2 {
		t.Fatalf("select: err=%v calls=%d", err, calls.Load())
	}
	calls.Store(0)
	err := c.Insert(context.Background(), "t", map[string]int{"a": 1}, nil)
	if !errors.Is(err, insforge.ErrUnavailable) || calls.Load() != 1 {
		t.Fatalf("insert: err=%v calls=%d", err, calls.Load())
	}
}

func TestResponseBodyIsCapped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "["+strings.Repeat(`"x",`, 1000)+`"x"]`)
	}))
	defer srv.Close()
	err := newClient(t, srv.URL, "ik_k").Select(context.Background(), "t", nil, &[]string{})
	if !errors.Is(err, insforge.ErrResponseTooLarge) {
		t.Fatalf("err = %v", err)
	}
}

func TestContextBoundsTheCall(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := newClient(t, srv.URL, "ik_k").Select(ctx, "t", nil, &[]any{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestUpdateAndDeleteRequireAFilter(t *testing.T) {
	c := newClient(t, "http://127.0.0.1:1", "ik_k")
	if err := c.Update(context.Background(), "t", nil, map[string]int{"a": 1}, nil); err == nil {
		t.Error("update without filter accepted")
	}
	if err := c.Delete(context.Background(), "t", insforge.NewQuery().Limit(1), nil); err == nil {
		t.Error("delete without filter accepted")
	}
}

func TestQueryEncoding(t *testing.T) {
	q := insforge.NewQuery().Select("id", "amount").Eq("status", "pending").In("id", "a,b", `q"x`).
		Gte("amount", 1).Lte("amount", 9).IsNull("settled_at").Order("created_at", insforge.Desc).Limit(5).Offset(10)
	v := q.Values()
	want := map[string]string{
		"select": "id,amount", "status": "eq.pending", "id": `in.("a,b","q\"x")`,
		"and": "(amount.gte.1,amount.lte.9)", "settled_at": "is.null", "order": "created_at.desc", "limit": "5", "offset": "10",
	}
	for k, w := range want {
		if v.Get(k) != w {
			t.Errorf("%s = %q, want %q", k, v.Get(k), w)
		}
	}
	if len(v) != len(want) {
		t.Errorf("extra params: %v", v)
	}
	if got := (*insforge.Query)(nil).Values(); len(got) != 0 {
		t.Errorf("nil query = %v", got)
	}
}

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
