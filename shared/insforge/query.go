package insforge

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Query is a small typed builder for PostgREST query strings: column list, filters,
// order, limit and offset. Values are formatted and URL-encoded here, so callers
// never concatenate query strings. The zero value (or nil) selects everything.
//
//	q := insforge.NewQuery().Eq("tx_hash", h).Order("created_at", insforge.Desc).Limit(1)
type Query struct {
	sel     []string
	filters []filter
	order   []string
	limit   int
	hasLim  bool
	offset  int
}

type filter struct{ col, expr string }

// Direction orders results.
type Direction bool

const (
	Asc  Direction = false
	Desc Direction = true
)

// NewQuery returns an empty query.
func NewQuery() *Query { return &Query{} }

func (q *Query) add(col, op string, v any) *Query {
	q.filters = append(q.filters, filter{col, op + "." + formatValue(v)})
	return q
}

// Select restricts the returned columns (PostgREST select=).
func (q *Query) Select(cols ...string) *Query { q.sel = append(q.sel, cols...); return q }

// Eq filters col = v.
func (q *Query) Eq(col string, v any) *Query { return q.add(col, "eq", v) }

// Neq filters col <> v.
func (q *Query) Neq(col string, v any) *Query { return q.add(col, "neq", v) }

// Lt filters col < v.
func (q *Query) Lt(col string, v any) *Query { return q.add(col, "lt", v) }

// Lte filters col <= v.
func (q *Query) Lte(col string, v any) *Query { return q.add(col, "lte", v) }

// Gt filters col > v.
func (q *Query) Gt(col string, v any) *Query { return q.add(col, "gt", v) }

// Gte filters col >= v.
func (q *Query) Gte(col string, v any) *Query { return q.add(col, "gte", v) }

// IsNull filters col IS NULL.
func (q *Query) IsNull(col string) *Query {
	q.filters = append(q.filters, filter{col, "is.null"})
	return q
}

// In filters col IN (vs...). Each value is double-quoted so commas and parentheses
// inside values cannot change the list.
func (q *Query) In(col string, vs ...any) *Query {
	parts := make([]string, len(vs))
	for i, v := range vs {
		s := formatValue(v)
		s = strings.ReplaceAll(s, `\`, `\\`)
		s = strings.ReplaceAll(s, `"`, `\"`)
		parts[i] = `"` + s + `"`
	}
	q.filters = append(q.filters, filter{col, "in.(" + strings.Join(parts, ",") + ")"})
	return q
}

// Order appends an ordering column.
func (q *Query) Order(col string, dir Direction) *Query {
	d := "asc"
	if dir == Desc {
		d = "desc"
	}
	q.order = append(q.order, col+"."+d)
	return q
}

// Limit caps the number of rows.
func (q *Query) Limit(n int) *Query { q.limit, q.hasLim = n, true; return q }

// Offset skips rows.
func (q *Query) Offset(n int) *Query { q.offset = n; return q }

// Values encodes the query as URL parameters. Two filters on the same column are
// folded into one and=(…) because InsForge's proxy mangles repeated keys.
func (q *Query) Values() url.Values {
	v := url.Values{}
	if q == nil {
		return v
	}
	if len(q.sel) > 0 {
		v.Set("select", strings.Join(q.sel, ","))
	}
	seen := map[string]int{}
	for _, f := range q.filters {
		seen[f.col]++
	}
	var and []string
	for _, f := range q.filters {
		if seen[f.col] > 1 {
			and = append(and, f.col+"."+f.expr)
			continue
		}
		v.Set(f.col, f.expr)
	}
	if len(and) > 0 {
		v.Set("and", "("+strings.Join(and, ",")+")")
	}
	if len(q.order) > 0 {
		v.Set("order", strings.Join(q.order, ","))
	}
	if q.hasLim {
		v.Set("limit", strconv.Itoa(q.limit))
	}
	if q.offset > 0 {
		v.Set("offset", strconv.Itoa(q.offset))
	}
	return v
}

func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case fmt.Stringer:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	default:
		return fmt.Sprint(x)
	}
}
