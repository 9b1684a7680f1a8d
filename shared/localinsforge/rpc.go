package localinsforge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

type function struct {
	inNames   []string
	inTypes   []string
	required  int
	retset    bool
	composite bool // rows are objects (composite or RETURNS TABLE)
	void      bool
}

// rpc calls public.fn with named arguments, as PostgREST does: arguments are
// unpacked with jsonb_to_record using the catalog types of the function's inputs.
func (s *server) rpc(w http.ResponseWriter, r *http.Request, fn string) {
	p, ok := s.admit(w, r, fn, "function")
	if !ok {
		return
	}
	args := map[string]any{}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		for k, vs := range r.URL.Query() {
			if k == "schema" {
				continue
			}
			if len(vs) != 1 {
				writeAPIErr(w, unsupported("argument %q is repeated", k))
				return
			}
			args[k] = vs[0]
		}
	case http.MethodPost:
		if r.URL.RawQuery != "" {
			writeAPIErr(w, unsupported("query parameters on POST /rpc (filters, select, order) are not supported by this stack"))
			return
		}
		body, ok := s.readJSON(w, r)
		if !ok {
			return
		}
		switch v := body.(type) {
		case nil:
		case map[string]any:
			args = v
		default:
			writeAPIErr(w, &apiErr{Status: 400, Code: "PGRST102", Message: "RPC arguments must be a JSON object"})
			return
		}
	default:
		writeAPIErr(w, unsupported("method %s is not supported on /rpc by this stack (GET, POST)", r.Method))
		return
	}
	var out []byte
	err := s.tx(r.Context(), p, func(tx pgx.Tx) error {
		f, err := lookupFunction(r.Context(), tx, fn, args)
		if err != nil {
			return err
		}
		sql, qargs := callSQL(fn, f, args)
		return tx.QueryRow(r.Context(), sql, qargs...).Scan(&out)
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if out == nil {
		out = []byte("null") // InsForge: empty RPC result → null
	}
	writeRaw(w, http.StatusOK, out)
}

func lookupFunction(ctx context.Context, tx pgx.Tx, name string, args map[string]any) (*function, error) {
	rows, err := tx.Query(ctx, `
		SELECT coalesce(p.proargnames, '{}'), coalesce(p.proargmodes::text[], '{}'),
		       ARRAY(SELECT format_type(t, NULL) FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS u(t, i) ORDER BY i),
		       p.pronargdefaults, p.proretset, p.prorettype = 'void'::regtype,
		       rt.typtype IN ('c', 'p') AND p.prorettype <> 'void'::regtype
		FROM pg_proc p JOIN pg_type rt ON rt.oid = p.prorettype
		WHERE p.pronamespace = 'public'::regnamespace AND p.proname = $1 AND p.prokind = 'f'`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for rows.Next() {
		var names, modes, types []string
		var ndef int
		f := &function{}
		if err := rows.Scan(&names, &modes, &types, &ndef, &f.retset, &f.void, &f.composite); err != nil {
			return nil, err
		}
		// Input argument names: modes i/b/v are inputs (no modes = all inputs).
		var in []string
		for i, n := range names {
			if len(modes) == 0 || modes[i] == "i" || modes[i] == "b" || modes[i] == "v" {
				in = append(in, n)
			}
		}
		if len(in) != len(types) || slices.Contains(in, "") {
			continue // unnamed inputs cannot be called with named arguments
		}
		f.inNames, f.inTypes, f.required = in, types, len(types)-ndef
		if matches(f, keys) {
			return f, rows.Err()
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return nil, &apiErr{Status: http.StatusNotFound, Code: "PGRST202",
		Message: fmt.Sprintf("Could not find the function public.%s(%s) in the schema cache", name, strings.Join(keys, ", "))}
}

func matches(f *function, keys []string) bool {
	for _, k := range keys {
		if !slices.Contains(f.inNames, k) {
			return false
		}
	}
	for _, n := range f.inNames[:f.required] {
		if !slices.Contains(keys, n) {
			return false
		}
	}
	return true
}

func callSQL(name string, f *function, args map[string]any) (string, []any) {
	var named, defs []string
	for i, n := range f.inNames {
		if _, ok := args[n]; !ok {
			continue
		}
		id := pgx.Identifier{n}.Sanitize()
		named = append(named, id+" => _a."+id)
		defs = append(defs, id+" "+f.inTypes[i])
	}
	call := pgx.Identifier{"public", name}.Sanitize() + "(" + strings.Join(named, ", ") + ")"
	from, qargs := "", []any(nil)
	if len(defs) > 0 {
		js, _ := json.Marshal(args)
		from = " FROM jsonb_to_record($1::jsonb) AS _a(" + strings.Join(defs, ", ") + ")"
		qargs = []any{string(js)}
	}
	switch {
	case f.void:
		return "SELECT NULL::text FROM (SELECT " + call + from + ") _x", qargs
	case f.retset && f.composite:
		return "SELECT coalesce(json_agg(_r), '[]')::text FROM (SELECT _f.* " + fromLateral(from, call) + " AS _f) _r", qargs
	case f.retset:
		return "SELECT coalesce(json_agg(_f.v), '[]')::text " + fromLateral(from, call) + " AS _f(v)", qargs
	default:
		return "SELECT to_json(" + call + ")::text" + from, qargs
	}
}

func fromLateral(from, call string) string {
	if from == "" {
		return "FROM " + call
	}
	return from + ", LATERAL " + call
}
