package localinsforge_test

import (
	"context"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
)

// The service key is project_admin (BYPASSRLS) and has no sub, so
// requesting_user_id() — and column defaults built on it — are NULL.
func TestServiceKeyBypassesRLSAndHasNoUser(t *testing.T) {
	s := insforgetest.New(t)
	fixture(t, s, `CREATE TABLE public.notes (
		id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		owner text DEFAULT public.requesting_user_id(),
		uid uuid DEFAULT auth.uid(),
		body text NOT NULL);
		ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
		CREATE POLICY own ON public.notes TO authenticated USING (owner = public.requesting_user_id()) WITH CHECK (owner = public.requesting_user_id());`)

	r := call(t, s, "POST", "/api/database/records/notes", s.ServiceKey, `[{"body":"by service"}]`, pref, repr)
	if r.status != 201 {
		t.Fatalf("service insert: %d %s", r.status, r.body)
	}
	row := r.rows(t)[0]
	if row["owner"] != nil || row["uid"] != nil {
		t.Fatalf("service insert: owner=%v uid=%v, want both NULL", row["owner"], row["uid"])
	}
	// A service-key insert into todos without user_id therefore hits NOT NULL (23502 → 400).
	r = call(t, s, "POST", "/api/database/records/todos", s.ServiceKey, `{"title":"orphan"}`)
	if r.status != 400 || r.field(t, "code") != "23502" {
		t.Fatalf("todos without user_id: %d %s, want 400 23502", r.status, r.body)
	}
	// With an explicit owner it succeeds, bypassing RLS, and the owner sees it.
	r = call(t, s, "POST", "/api/database/records/todos", s.ServiceKey, `{"title":"for alice","user_id":"alice"}`, pref, repr)
	if r.status != 201 {
		t.Fatalf("service insert for alice: %d %s", r.status, r.body)
	}
	r = call(t, s, "GET", "/api/database/records/todos?select=title", userToken(t, s, "alice"), "")
	if rows := r.rows(t); len(rows) != 1 || rows[0]["title"] != "for alice" {
		t.Fatalf("alice sees %s", r.body)
	}
	// The service key reads everything in spite of RLS.
	r = call(t, s, "GET", "/api/database/records/notes", s.ServiceKey, "")
	if len(r.rows(t)) != 1 {
		t.Fatalf("service read: %s", r.body)
	}
	// An authenticated user does not see the ownerless note.
	r = call(t, s, "GET", "/api/database/records/notes", userToken(t, s, "alice"), "")
	if len(r.rows(t)) != 0 {
		t.Fatalf("alice read notes: %s", r.body)
	}
}

// Owner-only todos: user A can never read or write user B's rows, over HTTP.
func TestTodosAreOwnerOnly(t *testing.T) {
	s := insforgetest.New(t)
	alice, bob := userToken(t, s, "user_alice"), userToken(t, s, "user_bob")
	for _, tc := range []struct{ tok, title string }{{alice, "a1"}, {alice, "a2"}, {bob, "b1"}} {
		r := call(t, s, "POST", "/api/database/records/todos?columns=%22title%22&select=*", tc.tok,
			`[{"title":"`+tc.title+`"}]`, pref, repr)
		if r.status != 201 {
			t.Fatalf("insert %s: %d %s", tc.title, r.status, r.body)
		}
	}
	r := call(t, s, "GET", "/api/database/records/todos?select=*&order=title.asc", alice, "")
	rows := r.rows(t)
	if len(rows) != 2 || rows[0]["title"] != "a1" || rows[1]["user_id"] != "user_alice" {
		t.Fatalf("alice sees %s", r.body)
	}
	bobRow := call(t, s, "GET", "/api/database/records/todos", bob, "").rows(t)[0]
	bobID := bobRow["id"].(string)

	// Reading bob's row by id: empty, not an error.
	r = call(t, s, "GET", "/api/database/records/todos?id=eq."+bobID, alice, "")
	if r.status != 200 || len(r.rows(t)) != 0 {
		t.Fatalf("alice reads bob's row: %d %s", r.status, r.body)
	}
	// Inserting a row owned by bob: RLS WITH CHECK → 42501 → 403.
	r = call(t, s, "POST", "/api/database/records/todos", alice, `[{"title":"x","user_id":"user_bob"}]`)
	if r.status != 403 || r.field(t, "code") != "42501" {
		t.Fatalf("alice inserts for bob: %d %s", r.status, r.body)
	}
	// Updating or deleting bob's row touches nothing.
	r = call(t, s, "PATCH", "/api/database/records/todos?id=eq."+bobID, alice, `{"done":true}`, pref, repr)
	if r.status != 200 || len(r.rows(t)) != 0 {
		t.Fatalf("alice patches bob's row: %d %s", r.status, r.body)
	}
	if r = call(t, s, "DELETE", "/api/database/records/todos?id=eq."+bobID, alice, ""); r.status != 204 {
		t.Fatalf("alice deletes bob's row: %d %s", r.status, r.body)
	}
	// Handing her own row to bob is refused by the UPDATE policy's WITH CHECK.
	r = call(t, s, "PATCH", "/api/database/records/todos?title=eq.a1", alice, `{"user_id":"user_bob"}`)
	if r.status != 403 || r.field(t, "code") != "42501" {
		t.Fatalf("alice gives a row away: %d %s", r.status, r.body)
	}
	got := call(t, s, "GET", "/api/database/records/todos?id=eq."+bobID, bob, "").rows(t)
	if len(got) != 1 || got[0]["done"] != false {
		t.Fatalf("bob's row changed: %v", got)
	}
	// anon sees nothing at all: the migration revokes anon's grants.
	if r = call(t, s, "GET", "/api/database/records/todos", s.AnonKey, ""); r.status != 403 || r.field(t, "code") != "42501" {
		t.Fatalf("anon read: %d %s", r.status, r.body)
	}
}

func TestDuplicatesAre409WithPostgRESTBody(t *testing.T) {
	s := insforgetest.New(t)
	fixture(t, s, `CREATE TABLE public.payments (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tx_hash text UNIQUE NOT NULL, amount numeric NOT NULL)`)
	body := `[{"tx_hash":"0xabc","amount":"1.5"}]`
	if r := call(t, s, "POST", "/api/database/records/payments", s.ServiceKey, body); r.status != 201 || r.body != "[]" {
		t.Fatalf("first insert (minimal): %d %q, want 201 []", r.status, r.body)
	}
	r := call(t, s, "POST", "/api/database/records/payments", s.ServiceKey, body, pref, repr)
	if r.status != 409 || r.field(t, "code") != "23505" {
		t.Fatalf("duplicate: %d %s", r.status, r.body)
	}
	if r.field(t, "details") != "Key (tx_hash)=(0xabc) already exists." || r.field(t, "hint") != nil {
		t.Errorf("details/hint: %s", r.body)
	}
	// on_conflict + ignore-duplicates: 201, the duplicate is skipped.
	r = call(t, s, "POST", "/api/database/records/payments?on_conflict=tx_hash", s.ServiceKey,
		`[{"tx_hash":"0xabc","amount":"9"},{"tx_hash":"0xdef","amount":"2"}]`, pref, repr+",resolution=ignore-duplicates")
	if r.status != 201 || len(r.rows(t)) != 1 || r.rows(t)[0]["tx_hash"] != "0xdef" {
		t.Fatalf("ignore-duplicates: %d %s", r.status, r.body)
	}
	if r.header.Get("Preference-Applied") != "resolution=ignore-duplicates" {
		t.Errorf("Preference-Applied = %q", r.header.Get("Preference-Applied"))
	}
	// amounts keep their exact value (numeric through JSON).
	r = call(t, s, "GET", "/api/database/records/payments?tx_hash=eq.0xabc&select=amount", s.ServiceKey, "")
	if r.body != `[{"amount":1.5}]` {
		t.Errorf("amount row = %s", r.body)
	}
}

// realtime.publish is EXECUTE-only for project_admin; a trigger calling it
// must be SECURITY DEFINER to work for authenticated writers.
func TestPublishTriggerNeedsSecurityDefiner(t *testing.T) {
	s := insforgetest.New(t)
	fixture(t, s, `
		INSERT INTO realtime.channels (pattern) VALUES ('orders:%');
		CREATE TABLE public.orders_definer (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, owner text NOT NULL DEFAULT public.requesting_user_id());
		CREATE TABLE public.orders_invoker (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, owner text NOT NULL DEFAULT public.requesting_user_id());
		ALTER TABLE public.orders_definer ENABLE ROW LEVEL SECURITY;
		ALTER TABLE public.orders_invoker ENABLE ROW LEVEL SECURITY;
		CREATE POLICY own ON public.orders_definer TO authenticated USING (owner = public.requesting_user_id()) WITH CHECK (owner = public.requesting_user_id());
		CREATE POLICY own ON public.orders_invoker TO authenticated USING (owner = public.requesting_user_id()) WITH CHECK (owner = public.requesting_user_id());
		CREATE FUNCTION public.publish_definer() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
			SET search_path = pg_catalog, public, realtime AS $$
			BEGIN PERFORM realtime.publish('orders:' || NEW.owner, 'created', jsonb_build_object('id', NEW.id)); RETURN NEW; END $$;
		CREATE FUNCTION public.publish_invoker() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN PERFORM realtime.publish('orders:' || NEW.owner, 'created', jsonb_build_object('id', NEW.id)); RETURN NEW; END $$;
		CREATE TRIGGER t AFTER INSERT ON public.orders_definer FOR EACH ROW EXECUTE FUNCTION public.publish_definer();
		CREATE TRIGGER t AFTER INSERT ON public.orders_invoker FOR EACH ROW EXECUTE FUNCTION public.publish_invoker();`)
	alice := userToken(t, s, "alice")

	if r := call(t, s, "POST", "/api/database/records/orders_definer", alice, `{"owner":"alice"}`); r.status != 201 {
		t.Fatalf("definer trigger, authenticated: %d %s", r.status, r.body)
	}
	r := call(t, s, "POST", "/api/database/records/orders_invoker", alice, `{"owner":"alice"}`)
	if r.status != 403 || r.field(t, "code") != "42501" || r.field(t, "message") != "permission denied for function publish" {
		t.Fatalf("invoker trigger, authenticated: %d %s", r.status, r.body)
	}
	if r := call(t, s, "POST", "/api/database/records/orders_invoker", s.ServiceKey, `{"owner":"svc"}`); r.status != 201 {
		t.Fatalf("invoker trigger, service key: %d %s", r.status, r.body)
	}
	var n int
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM realtime.messages WHERE sender_type = 'system' AND channel_name IN ('orders:alice', 'orders:svc')`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("published messages = %d (%v), want 2", n, err)
	}
	// Calling publish directly over RPC is not even possible: it is not in public.
	if r := call(t, s, "POST", "/api/database/rpc/publish", alice, `{}`); r.status != 404 {
		t.Fatalf("rpc publish: %d %s", r.status, r.body)
	}
}

// Better Auth keeps its tables in a better_auth schema: the records API exposes
// only public, so they are invisible.
func TestBetterAuthSchemaIsInvisible(t *testing.T) {
	s := insforgetest.New(t)
	fixture(t, s, `CREATE SCHEMA better_auth; CREATE TABLE better_auth."user" (id text PRIMARY KEY, email text);
		CREATE TABLE better_auth.session (id text PRIMARY KEY, token text);
		INSERT INTO better_auth.session VALUES ('s1', 'secret');`)
	for _, path := range []string{"/api/database/records/session", "/api/database/records/user", "/api/database/records/better_auth.session"} {
		r := call(t, s, "GET", path, s.ServiceKey, "")
		if r.status != 404 || r.field(t, "code") != "42P01" {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}
	r := call(t, s, "GET", "/api/database/records/session?schema=better_auth", s.ServiceKey, "")
	if r.status != 406 || r.field(t, "code") != "PGRST106" {
		t.Errorf("schema=better_auth: %d %s", r.status, r.body)
	}
	r = call(t, s, "GET", "/api/database/records/session", s.ServiceKey, "", "Accept-Profile", "better_auth")
	if r.status != 406 {
		t.Errorf("Accept-Profile: better_auth: %d %s", r.status, r.body)
	}
}

// auth.uid() casts sub to uuid: a provider id like "user_123" raises 22P02 → 400.
func TestAuthUIDRejectsNonUUIDSubjects(t *testing.T) {
	s := insforgetest.New(t)
	fixture(t, s, `CREATE FUNCTION public.my_uid() RETURNS uuid LANGUAGE sql STABLE AS $$ SELECT auth.uid() $$;`)
	r := call(t, s, "POST", "/api/database/rpc/my_uid", userToken(t, s, "user_123"), `{}`)
	if r.status != 400 || r.field(t, "code") != "22P02" {
		t.Fatalf("non-uuid sub: %d %s", r.status, r.body)
	}
	id := "3f0f8f5e-4d7e-4a38-9a57-0d6c1a3f3b8e"
	if r = call(t, s, "POST", "/api/database/rpc/my_uid", userToken(t, s, id), `{}`); r.status != 200 || r.body != `"`+id+`"` {
		t.Fatalf("uuid sub: %d %s", r.status, r.body)
	}
}
