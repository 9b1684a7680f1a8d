package ledger

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// The x402_payments columns are declared once, by Payment's struct tags: the
// json tag names the column and the ledger tag says who reads and who writes it.
//
//	ledger:"private"  anon and authenticated may not read it (the migrations'
//	                  column GRANT; the realtime trigger derives its payload
//	                  from that GRANT, migration 0010)
//	ledger:"auto"     written by the database only (defaults, the touch trigger)
//	ledger:"fixed"    written by a claim's insert, never by a later claim of the
//	                  same authorization (the authorization key and what it implies)
//
// Every other column is the claim's: a claim inserts its value (nothing when
// unset: the column's default) and Reclaim and TakeOver write it again (NULL
// when unset), so a renewed claim keeps nothing of the lifecycle before it.
// The columns test holds this to the latest GRANT, docs/openapi.yaml's Payment
// schema and the dashboard's list.

// writer is who writes a column.
type writer int

const (
	byClaim    writer = iota // every claim
	byInsert                 // a claim's insert only (ledger:"fixed")
	byDatabase               // the database (ledger:"auto")
)

// column is one x402_payments column: its name and Payment's field.
type column struct {
	name    string
	field   int
	private bool
	writer  writer
}

// columns are Payment's columns in field order, read once.
var columns = mustColumns(reflect.TypeFor[Payment]())

// byName finds a column's field.
var byName = func() map[string]int {
	m := make(map[string]int, len(columns))
	for _, c := range columns {
		m[c.name] = c.field
	}
	return m
}()

// PublicColumns are the columns anyone may read (Payment's fields not tagged
// private), comma-separated as a select list.
var PublicColumns = strings.Join(names(func(c column) bool { return !c.private }), ",")

// tagOptions are the ledger tag's options.
var tagOptions = map[string]func(*column){
	"":        func(*column) {},
	"private": func(c *column) { c.private = true },
	"fixed":   func(c *column) { c.writer = byInsert },
	"auto":    func(c *column) { c.writer = byDatabase },
}

func mustColumns(t reflect.Type) []column {
	var out []column
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			panic(fmt.Sprintf("ledger: %s.%s has no column name", t.Name(), f.Name))
		}
		c := column{name: name, field: i}
		for _, opt := range strings.Split(f.Tag.Get("ledger"), ",") {
			set, ok := tagOptions[opt]
			if !ok {
				panic(fmt.Sprintf("ledger: %s.%s: unknown ledger tag option %q", t.Name(), f.Name, opt))
			}
			set(&c)
		}
		out = append(out, c)
	}
	return out
}

func names(keep func(column) bool) []string {
	var out []string
	for _, c := range columns {
		if keep(c) {
			out = append(out, c.name)
		}
	}
	return out
}

// Columns returns every x402_payments column, in Payment's field order.
func Columns() []string { return names(func(column) bool { return true }) }

// Fields returns pointers to p's fields of the named columns, in order: the
// targets of a database scan of those columns. An unknown column panics.
func (p *Payment) Fields(cols ...string) []any {
	v := reflect.ValueOf(p).Elem()
	out := make([]any, len(cols))
	for i, name := range cols {
		f, ok := byName[name]
		if !ok {
			panic(fmt.Sprintf("ledger: no column %q in Payment", name))
		}
		out[i] = v.Field(f).Addr().Interface()
	}
	return out
}

// Public clears p's private columns: what anon and authenticated may read.
func Public(p *Payment) {
	v := reflect.ValueOf(p).Elem()
	for _, c := range columns {
		if c.private {
			f := v.Field(c.field)
			f.Set(reflect.Zero(f.Type()))
		}
	}
}

// Row is the row c claims: canonical (lower-case) hex, its chain, pending,
// held by c.Holder until c.LeaseUntil. Columns a claim does not set stay
// unset.
func (c Claim) Row() Payment {
	p := Payment{
		PayerAddress: strings.ToLower(c.PayerAddress), Endpoint: c.Endpoint, Amount: c.Amount,
		Chain: ptr(chainName(c.Network)), Status: StatusPending, Network: c.Network,
		Asset: strings.ToLower(c.Asset), PayTo: strings.ToLower(c.PayTo), Nonce: strings.ToLower(c.Nonce),
		ValidBefore: c.ValidBefore, Mock: c.Mock, LeaseBy: ptr(c.Holder), LeaseUntil: ptr(c.LeaseUntil),
	}
	if c.ResponseSummary != "" {
		p.ResponseSummary = ptr(c.ResponseSummary)
	}
	return p
}

// Renew makes p, a row of c's authorization, the pending claim c: every
// column a claim writes takes c's value, and what the row's lifecycle wrote
// (hash, error, delivery, settlement, confirmation) is cleared.
func (c Claim) Renew(p *Payment) {
	row := reflect.ValueOf(c.Row())
	v := reflect.ValueOf(p).Elem()
	for _, col := range columns {
		if col.writer == byClaim {
			v.Field(col.field).Set(row.Field(col.field))
		}
	}
}

// insertRow is the JSON object inserting c's row: every column the claim
// writes that it sets (the others get their default).
func insertRow(c Claim) map[string]any {
	return values(c.Row(), func(col column) bool { return col.writer != byDatabase }, true)
}

// renewPatch is the update making a row of c's authorization the pending
// claim c (Renew, as a patch).
func renewPatch(c Claim) map[string]any {
	return values(c.Row(), func(col column) bool { return col.writer == byClaim }, false)
}

// values maps the columns keep accepts to p's values as JSON: times as
// stamps, unset pointers as NULL, or left out with omitUnset (as are zero times).
func values(p Payment, keep func(column) bool, omitUnset bool) map[string]any {
	v := reflect.ValueOf(p)
	out := make(map[string]any, len(columns))
	for _, col := range columns {
		if !keep(col) {
			continue
		}
		f := v.Field(col.field)
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				if !omitUnset {
					out[col.name] = nil
				}
				continue
			}
			f = f.Elem()
		}
		val := f.Interface()
		if t, ok := val.(time.Time); ok {
			if t.IsZero() && omitUnset {
				continue
			}
			val = stamp(t)
		}
		out[col.name] = val
	}
	return out
}

func ptr[T any](v T) *T { return &v }
