package localinsforge_test

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
)

func seedItems(t *testing.T, s *insforgetest.Stack) {
	fixture(t, s, `CREATE TABLE public.items (id int PRIMARY KEY, name text, qty int, tags text[], meta jsonb, flag boolean);
		INSERT INTO public.items VALUES
		 (1, 'apple', 5, '{a}', '{"k":1}', true), (2, 'banana', 0, '{}', NULL, false),
		 (3, 'cherry, red', 12, NULL, NULL, NULL), (4, 'date', NULL, NULL, NULL, true);`)
}

func ids(t *testing.T, r resp) string {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var out []string
	for _, row := range r.rows(t) {
		out = append(out, strconv.Itoa(int(row["id"].(float64))))
	}
	return strings.Join(out, ",")
}

// jsonEq compares JSON semantically (json_agg puts ", \n " between rows, as PostgREST's output does).
func jsonEq(t *testing.T, got, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		return false
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %q", want)
	}
	return reflect.DeepEqual(g, w)
}

func TestFiltersOrderLimit(t *testing.T) {
	s := insforgetest.New(t)
	seedItems(t, s)
	tests := []struct{ query, want string }{
		{"order=id.asc", "1,2,3,4"},
		{"order=id.desc&limit=2", "4,3"},
		{"order=id.asc&limit=2&offset=1", "2,3"},
		{"id=eq.2", "2"},
		{"id=neq.2&order=id", "1,3,4"},
		{"qty=gt.0&order=id", "1,3"},
		{"qty=lt.5", "2"},
		{"qty=lte.5&order=id", "1,2"},
		{"qty=is.null", "4"},
		{"flag=is.true&order=id", "1,4"},
		{"flag=is.null", "3"},
		{"name=in.(apple,%22cherry,%20red%22)&order=id", "1,3"},
		{"id=in.(2,4)&order=id.desc", "4,2"},
		{"id=not.in.(2,4)&order=id", "1,3"},
		{"name=like.*an*", "2"},
		{"name=ilike.APP*", "1"},
		{"and=(qty.gte.1,qty.lte.5)", "1"},
		{"or=(id.eq.1,id.eq.4)&order=id", "1,4"},
		{"order=qty.desc.nullslast,id", "3,1,2,4"},
		{"order=qty.asc.nullsfirst", "4,2,1,3"},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			if got := ids(t, call(t, s, "GET", "/api/database/records/items?"+tc.query, s.ServiceKey, "")); got != tc.want {
				t.Errorf("ids = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSelectAndShapes(t *testing.T) {
	s := insforgetest.New(t)
	seedItems(t, s)
	r := call(t, s, "GET", "/api/database/records/items?select=name,id&id=eq.1", s.ServiceKey, "")
	if r.body != `[{"name":"apple","id":1}]` {
		t.Errorf("select list: %s", r.body)
	}
	if cr := r.header.Get("Content-Range"); cr != "0-0/*" {
		t.Errorf("Content-Range = %q", cr)
	}
	r = call(t, s, "GET", "/api/database/records/items?select=*&id=eq.1", s.ServiceKey, "")
	if !jsonEq(t, r.body, `[{"id":1,"name":"apple","qty":5,"tags":["a"],"meta":{"k":1},"flag":true}]`) {
		t.Errorf("select *: %s", r.body)
	}
	// .single(): object Accept type.
	r = call(t, s, "GET", "/api/database/records/items?id=eq.2&select=id", s.ServiceKey, "", "Accept", "application/vnd.pgrst.object+json")
	if r.status != 200 || r.body != `{"id":2}` {
		t.Errorf("single: %d %s", r.status, r.body)
	}
	r = call(t, s, "GET", "/api/database/records/items", s.ServiceKey, "", "Accept", "application/vnd.pgrst.object+json")
	if r.status != 406 || r.field(t, "code") != "PGRST116" {
		t.Errorf("single with 4 rows: %d %s", r.status, r.body)
	}
	// HEAD: status and headers only.
	if r = call(t, s, "HEAD", "/api/database/records/items", s.ServiceKey, ""); r.status != 200 || r.body != "" {
		t.Errorf("HEAD: %d %q", r.status, r.body)
	}
}

func TestWrites(t *testing.T) {
	s := insforgetest.New(t)
	seedItems(t, s)
	// Typed values go through the row type: arrays, jsonb, booleans.
	r := call(t, s, "POST", "/api/database/records/items", s.ServiceKey,
		`{"id":10,"name":"fig","tags":["x","y"],"meta":{"a":[1,2]},"flag":false}`, pref, repr)
	if r.status != 201 || !jsonEq(t, r.body, `[{"id":10,"name":"fig","qty":null,"tags":["x","y"],"meta":{"a":[1,2]},"flag":false}]`) {
		t.Fatalf("insert: %d %s", r.status, r.body)
	}
	// columns= (postgrest-js): listed keys only, missing ones NULL.
	r = call(t, s, "POST", "/api/database/records/items?columns=%22id%22,%22name%22&select=id,name,qty", s.ServiceKey,
		`[{"id":11,"name":"grape","qty":3},{"id":12}]`, pref, repr)
	if r.status != 201 || !jsonEq(t, r.body, `[{"id":11,"name":"grape","qty":null},{"id":12,"name":null,"qty":null}]`) {
		t.Fatalf("insert with columns: %d %s", r.status, r.body)
	}
	// merge-duplicates upserts.
	r = call(t, s, "POST", "/api/database/records/items?on_conflict=id&select=id,name", s.ServiceKey,
		`[{"id":1,"name":"apricot"}]`, pref, repr+",resolution=merge-duplicates")
	if r.status != 201 || r.body != `[{"id":1,"name":"apricot"}]` {
		t.Fatalf("upsert: %d %s", r.status, r.body)
	}
	// PATCH by filter, with and without representation.
	r = call(t, s, "PATCH", "/api/database/records/items?id=eq.2&select=id,qty", s.ServiceKey, `{"qty":7}`, pref, repr)
	if r.status != 200 || r.body != `[{"id":2,"qty":7}]` {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	if r = call(t, s, "PATCH", "/api/database/records/items?id=eq.2", s.ServiceKey, `{"qty":8}`); r.status != 204 || r.body != "" {
		t.Fatalf("patch minimal: %d %s", r.status, r.body)
	}
	r = call(t, s, "DELETE", "/api/database/records/items?id=in.(11,12)&select=id", s.ServiceKey, "", pref, repr)
	if r.status != 200 || len(r.rows(t)) != 2 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
}

func TestErrorsAreClear(t *testing.T) {
	s := insforgetest.New(t)
	seedItems(t, s)
	k := s.ServiceKey
	tests := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		code                     string
	}{
		{"unknown table", "GET", "/api/database/records/nope", "", nil, 404, "42P01"},
		{"unknown column filter", "GET", "/api/database/records/items?nope=eq.1", "", nil, 400, "42703"},
		{"unknown select column", "GET", "/api/database/records/items?select=nope", "", nil, 400, "42703"},
		{"embedding", "GET", "/api/database/records/items?select=id,other(*)", "", nil, 400, "PGRST100"},
		{"alias", "GET", "/api/database/records/items?select=n:name", "", nil, 400, "PGRST100"},
		{"unknown operator", "GET", "/api/database/records/items?id=cs.{1}", "", nil, 400, "PGRST100"},
		{"no operator", "GET", "/api/database/records/items?id=1", "", nil, 400, "PGRST100"},
		{"repeated key", "GET", "/api/database/records/items?id=gt.1&id=lt.3", "", nil, 400, "PGRST100"},
		{"bad limit", "GET", "/api/database/records/items?limit=-1", "", nil, 400, "PGRST100"},
		{"bad order", "GET", "/api/database/records/items?order=id.sideways", "", nil, 400, "PGRST100"},
		{"bad integer value", "GET", "/api/database/records/items?id=eq.abc", "", nil, 400, "22P02"},
		{"PUT", "PUT", "/api/database/records/items?id=eq.1", `{"id":1}`, nil, 400, "PGRST100"},
		{"count", "GET", "/api/database/records/items", "", []string{"Prefer", "count=exact"}, 400, "PGRST100"},
		{"missing=default", "POST", "/api/database/records/items", `{"id":20}`, []string{"Prefer", "missing=default"}, 400, "PGRST100"},
		{"unknown body column", "POST", "/api/database/records/items", `{"id":20,"nope":1}`, nil, 400, "PGRST204"},
		{"mismatched keys", "POST", "/api/database/records/items", `[{"id":20},{"name":"x"}]`, nil, 400, "PGRST102"},
		{"not null", "POST", "/api/database/records/items", `{"name":"no id"}`, nil, 400, "23502"},
		{"malformed json", "POST", "/api/database/records/items", `{"id":`, nil, 400, "INVALID_INPUT"},
		{"invalid table name", "GET", "/api/database/records/a%22b", "", nil, 400, "DATABASE_VALIDATION_ERROR"},
		{"csv", "GET", "/api/database/records/items", "", []string{"Accept", "text/csv"}, 406, "PGRST107"},
		{"unknown route", "GET", "/api/nope", "", nil, 404, "NOT_FOUND"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, s, tc.method, tc.path, k, tc.body, tc.hdr...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			code := r.field(t, "code")
			if code == nil {
				code = r.field(t, "error")
			}
			if code != tc.code {
				t.Errorf("code %v, want %s: %s", code, tc.code, r.body)
			}
		})
	}
	// The table was not touched by any of the rejected writes.
	if got := ids(t, call(t, s, "GET", "/api/database/records/items?order=id", k, "")); got != "1,2,3,4" {
		t.Errorf("rows after rejected writes: %s", got)
	}
}

func TestRPC(t *testing.T) {
	s := insforgetest.New(t)
	fixture(t, s, `
		CREATE FUNCTION public.add(a int, b int DEFAULT 10) RETURNS int LANGUAGE sql AS $$ SELECT a + b $$;
		CREATE FUNCTION public.series(n int) RETURNS SETOF int LANGUAGE sql AS $$ SELECT generate_series(1, n) $$;
		CREATE FUNCTION public.pairs(n int) RETURNS TABLE (i int, sq int) LANGUAGE sql AS $$ SELECT g, g*g FROM generate_series(1, n) g $$;
		CREATE FUNCTION public.noop() RETURNS void LANGUAGE sql AS $$ SELECT $$;
		CREATE FUNCTION public.echo(j jsonb, tags text[]) RETURNS jsonb LANGUAGE sql AS $$ SELECT jsonb_build_object('j', j, 'n', cardinality(tags)) $$;
		CREATE FUNCTION public.admin_only() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
		REVOKE ALL ON FUNCTION public.admin_only() FROM PUBLIC;`)
	user := userToken(t, s, "u1")
	tests := []struct {
		name, method, path, token, body string
		status                          int
		want                            string
	}{
		{"scalar", "POST", "/api/database/rpc/add", user, `{"a":1,"b":2}`, 200, `3`},
		{"default argument", "POST", "/api/database/rpc/add", user, `{"a":1}`, 200, `11`},
		{"GET arguments", "GET", "/api/database/rpc/add?a=4&b=5", user, "", 200, `9`},
		{"setof scalar", "POST", "/api/database/rpc/series", user, `{"n":3}`, 200, `[1, 2, 3]`},
		{"returns table", "POST", "/api/database/rpc/pairs", user, `{"n":2}`, 200, `[{"i":1,"sq":1}, {"i":2,"sq":4}]`},
		{"void", "POST", "/api/database/rpc/noop", user, ``, 200, `null`},
		{"json and array args", "POST", "/api/database/rpc/echo", user, `{"j":{"x":[1]},"tags":["a","b"]}`, 200, `{"j": {"x": [1]}, "n": 2}`},
		{"unknown argument", "POST", "/api/database/rpc/add", user, `{"z":1}`, 404, `PGRST202`},
		{"missing required", "POST", "/api/database/rpc/add", user, `{"b":1}`, 404, `PGRST202`},
		{"unknown function", "POST", "/api/database/rpc/nope", user, `{}`, 404, `PGRST202`},
		{"no EXECUTE", "POST", "/api/database/rpc/admin_only", user, `{}`, 403, `42501`},
		{"EXECUTE as project_admin", "POST", "/api/database/rpc/admin_only", s.ServiceKey, `{}`, 200, `1`},
		{"non-object body", "POST", "/api/database/rpc/add", user, `[1]`, 400, `PGRST102`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, s, tc.method, tc.path, tc.token, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status == 200 {
				if !jsonEq(t, r.body, tc.want) {
					t.Errorf("body %s, want %s", r.body, tc.want)
				}
			} else if r.field(t, "code") != tc.want {
				t.Errorf("code %v, want %s", r.field(t, "code"), tc.want)
			}
		})
	}
}

func TestCORSLikeInsForge(t *testing.T) {
	s := insforgetest.New(t)
	r := call(t, s, "OPTIONS", "/api/database/records/todos", "", "", "Origin", "http://localhost:5173",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type,prefer")
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "http://localhost:5173" ||
		r.header.Get("Access-Control-Allow-Credentials") != "true" ||
		r.header.Get("Access-Control-Allow-Headers") != "authorization,content-type,prefer" ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "PATCH") {
		t.Fatalf("preflight: %d %v", r.status, r.header)
	}
	r = call(t, s, "GET", "/api/database/records/todos", userToken(t, s, "u"), "", "Origin", "https://app.example")
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "Content-Range") {
		t.Fatalf("simple request: %d %v", r.status, r.header)
	}
	if r = call(t, s, "GET", "/api/health", "", ""); r.status != 200 || r.field(t, "status") != "ok" {
		t.Fatalf("health: %d %s", r.status, r.body)
	}
}
