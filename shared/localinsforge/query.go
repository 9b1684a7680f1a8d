package localinsforge

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// apiErr is a PostgREST-shaped error: {code,details,hint,message}.
type apiErr struct {
	Status  int
	Code    string
	Message string
	Details string
	Hint    string
}

func (e *apiErr) Error() string { return e.Code + ": " + e.Message }

func unsupported(format string, a ...any) *apiErr {
	return &apiErr{Status: 400, Code: "PGRST100", Message: fmt.Sprintf(format, a...),
		Hint: "the local InsForge supports a subset of PostgREST; see docs/insforge-stack.md"}
}

// table is a relation in the public schema and its columns (name → type as
// format_type prints it). Only catalog-derived names and types are ever spliced
// into SQL, and always quoted; every value is a bind parameter.
type table struct {
	name string
	cols map[string]string
	ord  []string
	pk   []string
}

func (t *table) ident() string { return pgx.Identifier{"public", t.name}.Sanitize() }

func (t *table) col(name string) (string, *apiErr) {
	if _, ok := t.cols[name]; !ok {
		return "", &apiErr{Status: 400, Code: "42703", Message: fmt.Sprintf("column %s.%s does not exist", t.name, name)}
	}
	return pgx.Identifier{name}.Sanitize(), nil
}

// builder collects bind arguments.
type builder struct{ args []any }

func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// request is the parsed query string of a records call.
type request struct {
	sel        []string // nil = *
	where      []string // SQL conditions, ANDed
	order      []string
	limit      string
	offset     string
	onConflict []string
	columns    []string
}

var reserved = map[string]bool{"select": true, "order": true, "limit": true, "offset": true,
	"on_conflict": true, "columns": true, "and": true, "or": true, "schema": true}

// parseQuery validates the query string against t and builds SQL fragments with
// columns qualified by the alias _t.
func parseQuery(raw string, t *table, b *builder) (*request, *apiErr) {
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return nil, unsupported("query string is malformed")
	}
	rq := &request{}
	for k, vs := range vals {
		if len(vs) != 1 {
			return nil, unsupported("parameter %q is repeated; combine conditions with and=(…)", k)
		}
		v := vs[0]
		switch k {
		case "schema":
			// handled by the caller
		case "select":
			cols, e := parseSelect(v, t)
			if e != nil {
				return nil, e
			}
			rq.sel = cols
		case "order":
			for _, item := range splitTop(v) {
				o, e := parseOrder(item, t)
				if e != nil {
					return nil, e
				}
				rq.order = append(rq.order, o)
			}
		case "limit", "offset":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, unsupported("%s must be a non-negative integer", k)
			}
			if k == "limit" {
				rq.limit = strconv.Itoa(n)
			} else {
				rq.offset = strconv.Itoa(n)
			}
		case "on_conflict", "columns":
			var cols []string
			for _, c := range splitTop(v) {
				c = unquote(strings.TrimSpace(c))
				if _, e := t.col(c); e != nil {
					return nil, e
				}
				cols = append(cols, c)
			}
			if k == "on_conflict" {
				rq.onConflict = cols
			} else {
				rq.columns = cols
			}
		case "and", "or":
			if !strings.HasPrefix(v, "(") || !strings.HasSuffix(v, ")") {
				return nil, unsupported("%s=… must be a parenthesised list", k)
			}
			var conds []string
			for _, item := range splitTop(v[1 : len(v)-1]) {
				col, expr, ok := strings.Cut(strings.TrimSpace(item), ".")
				if !ok || col == "and" || col == "or" || col == "not" {
					return nil, unsupported("%s=…: only flat col.op.value conditions are supported", k)
				}
				c, e := filterSQL(t, b, unquote(col), expr)
				if e != nil {
					return nil, e
				}
				conds = append(conds, c)
			}
			if len(conds) > 0 {
				rq.where = append(rq.where, "("+strings.Join(conds, " "+strings.ToUpper(k)+" ")+")")
			}
		default:
			c, e := filterSQL(t, b, k, v)
			if e != nil {
				return nil, e
			}
			rq.where = append(rq.where, c)
		}
	}
	return rq, nil
}

func parseSelect(v string, t *table) ([]string, *apiErr) {
	var cols []string
	for _, item := range splitTop(v) {
		item = strings.TrimSpace(item)
		if item == "*" {
			return nil, nil // * wins, as in PostgREST
		}
		if strings.ContainsAny(item, ":()!") {
			return nil, unsupported("select: only * and plain column names are supported (got %q)", item)
		}
		c := unquote(item)
		if _, e := t.col(c); e != nil {
			return nil, e
		}
		cols = append(cols, c)
	}
	return cols, nil
}

func parseOrder(item string, t *table) (string, *apiErr) {
	parts := strings.Split(strings.TrimSpace(item), ".")
	col, e := t.col(unquote(parts[0]))
	if e != nil {
		return "", e
	}
	out := "_t." + col
	for i, p := range parts[1:] {
		switch {
		case i == 0 && (p == "asc" || p == "desc"):
			out += " " + strings.ToUpper(p)
		case p == "nullsfirst":
			out += " NULLS FIRST"
		case p == "nullslast":
			out += " NULLS LAST"
		default:
			return "", unsupported("order: %q is not asc, desc, nullsfirst or nullslast", p)
		}
	}
	return out, nil
}

var compare = map[string]string{"eq": "=", "neq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}

// filterSQL turns col + "op.value" into a condition on _t.col. The value is bound
// as text and cast to the column's catalog type, which is how PostgREST's untyped
// literals behave (a bad uuid gives 22P02 → 400).
func filterSQL(t *table, b *builder, colName, expr string) (string, *apiErr) {
	col, e := t.col(colName)
	if e != nil {
		return "", e
	}
	typ := t.cols[colName]
	ref := "_t." + col
	op, val, ok := strings.Cut(expr, ".")
	if !ok {
		return "", unsupported("filter %q: expected operator.value (e.g. eq.1)", colName)
	}
	neg := false
	if op == "not" {
		neg = true
		if op, val, ok = strings.Cut(val, "."); !ok {
			return "", unsupported("filter %q: expected not.operator.value", colName)
		}
	}
	var cond string
	switch op {
	case "eq", "neq", "lt", "lte", "gt", "gte":
		cond = fmt.Sprintf("%s %s CAST(%s::text AS %s)", ref, compare[op], b.arg(val), typ)
	case "like", "ilike":
		cond = fmt.Sprintf("%s::text %s %s::text", ref, strings.ToUpper(op), b.arg(strings.ReplaceAll(val, "*", "%")))
	case "in":
		items, e := parseList(val)
		if e != nil {
			return "", e
		}
		cond = fmt.Sprintf("%s = ANY(CAST(%s::text[] AS %s[]))", ref, b.arg(items), typ)
	case "is":
		switch strings.ToLower(val) {
		case "null":
			cond = ref + " IS NULL"
		case "not_null":
			cond = ref + " IS NOT NULL"
		case "true", "false", "unknown":
			cond = ref + " IS " + strings.ToUpper(val)
		default:
			return "", unsupported("filter %q: is. takes null, not_null, true, false or unknown", colName)
		}
	default:
		return "", unsupported("filter %q: operator %q is not supported (eq, neq, lt, lte, gt, gte, like, ilike, in, is, not.)", colName, op)
	}
	if neg {
		cond = "NOT (" + cond + ")"
	}
	return cond, nil
}

// parseList parses PostgREST's in.(a,b,"c,d") list.
func parseList(v string) ([]string, *apiErr) {
	if !strings.HasPrefix(v, "(") || !strings.HasSuffix(v, ")") {
		return nil, unsupported("in. takes a parenthesised list: in.(a,b)")
	}
	inner := v[1 : len(v)-1]
	if strings.TrimSpace(inner) == "" {
		return []string{}, nil
	}
	var out []string
	for _, item := range splitTop(inner) {
		out = append(out, unquote(strings.TrimSpace(item)))
	}
	return out, nil
}

// splitTop splits on commas outside double quotes and parentheses.
func splitTop(s string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == '(' && !quoted:
			depth++
		case c == ')' && !quoted:
			depth--
		case c == ',' && !quoted && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unquote strips PostgREST double quotes ("a,b" → a,b; \" and \\ escapes).
func unquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	s = s[1 : len(s)-1]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
