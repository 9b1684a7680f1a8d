package ledger_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"

	"github.com/insforge/edge-functions-go/shared/ledger"
	"github.com/insforge/edge-functions-go/shared/ledger/ledgertest"
)

// repoFile is a file of this module by its path from the root.
func repoFile(t *testing.T, rel string) []byte {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openAPIPayment is docs/openapi.yaml's components.schemas.Payment: its
// properties and its status enum.
func openAPIPayment(t *testing.T) (props, statuses []string) {
	t.Helper()
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `yaml:"enum"`
				} `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(repoFile(t, "docs/openapi.yaml"), &doc); err != nil {
		t.Fatal(err)
	}
	p, ok := doc.Components.Schemas["Payment"]
	if !ok {
		t.Fatal("docs/openapi.yaml has no components.schemas.Payment")
	}
	for name := range p.Properties {
		props = append(props, name)
	}
	return props, p.Properties["status"].Enum
}

// dashboardPublic is the dashboard's list of the ledger's public columns
// (const PUBLIC in its app.mjs).
func dashboardPublic(t *testing.T) []string {
	t.Helper()
	src := string(repoFile(t, "shared/x402payments/dashboard/assets/app.mjs"))
	m := regexp.MustCompile(`(?m)^const PUBLIC = \[([^\]]*)\];`).FindStringSubmatch(src)
	if m == nil {
		t.Fatal("app.mjs: no `const PUBLIC = [...];`")
	}
	var out []string
	for _, q := range regexp.MustCompile(`'[^']*'`).FindAllString(m[1], -1) {
		out = append(out, strings.Trim(q, "'"))
	}
	return out
}

// latestGrant is the x402_payments columns anon and authenticated may both
// SELECT once every migration ran, as information_schema.column_privileges
// reports them.
func latestGrant(t *testing.T, q ledgertest.Querier) []string {
	t.Helper()
	rows, _ := q.Query(context.Background(), `SELECT column_name FROM information_schema.column_privileges
		WHERE table_schema = 'public' AND table_name = 'x402_payments' AND privilege_type = 'SELECT'
		  AND grantee IN ('anon', 'authenticated')
		GROUP BY column_name HAVING count(DISTINCT grantee) = 2`)
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return cols
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// differ names what a list lacks and adds compared with want.
func differ(want, got []string) string {
	var missing, extra []string
	for _, c := range want {
		if !slices.Contains(got, c) {
			missing = append(missing, c)
		}
	}
	for _, c := range got {
		if !slices.Contains(want, c) {
			extra = append(extra, c)
		}
	}
	if missing == nil && extra == nil && len(want) == len(got) {
		return ""
	}
	return fmt.Sprintf("lacks %v, has in excess %v", missing, extra)
}

// One list of public columns: Payment's tags (ledger.PublicColumns) are what
// the latest GRANT lets anon and authenticated read (and so what realtime
// publishes, migration 0010), what docs/openapi.yaml says GET /x402/payments
// returns, and what the dashboard keeps of a row.
func TestPublicColumnsAreOneListInGoSQLOpenAPIAndTheDashboard(t *testing.T) {
	public := strings.Split(ledger.PublicColumns, ",")
	props, statuses := openAPIPayment(t)
	for source, cols := range map[string][]string{
		"docs/openapi.yaml components.schemas.Payment.properties": props,
		"the dashboard's PUBLIC (app.mjs)":                        dashboardPublic(t),
	} {
		if d := differ(public, cols); d != "" {
			t.Errorf("%s %s compared with Payment's public columns %v", source, d, public)
		}
	}
	if !reflect.DeepEqual(sorted(statuses), sorted(ledger.Statuses)) {
		t.Errorf("docs/openapi.yaml Payment.status enum %v, ledger.Statuses %v", statuses, ledger.Statuses)
	}

	t.Run("the latest GRANT and the table", func(t *testing.T) {
		_, s := newLedger(t)
		if d := differ(public, latestGrant(t, s.Pool)); d != "" {
			t.Errorf("the GRANT to anon and authenticated %s compared with Payment's public columns %v", d, public)
		}
		var table []string
		if err := s.Pool.QueryRow(context.Background(), `SELECT array_agg(column_name::text) FROM information_schema.columns
			WHERE table_schema = 'public' AND table_name = 'x402_payments'`).Scan(&table); err != nil {
			t.Fatal(err)
		}
		if d := differ(ledger.Columns(), table); d != "" {
			t.Errorf("the table %s compared with Payment's columns %v", d, ledger.Columns())
		}
	})
}

// A row read by column name (every column, Payment.Fields) is the row the
// ledger reads through the API.
func TestPaymentsScanEveryColumnByName(t *testing.T) {
	ctx := context.Background()
	l, s := newLedger(t)
	c := claim("7", false)
	c.ResponseSummary = ""
	row, _, err := l.Claim(ctx, c)
	if err == nil {
		err = l.Fail(ctx, row.ID, "why")
	}
	if err != nil {
		t.Fatal(err)
	}
	want, err := l.Get(ctx, row.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ledgertest.Payments(ctx, s.Pool, nil, "WHERE id = $1", row.ID)
	if err != nil || len(got) != 1 {
		t.Fatalf("%+v, %v", got, err)
	}
	if !reflect.DeepEqual(norm(got[0]), norm(*want)) {
		t.Fatalf("scanned %+v\nGet     %+v", got[0], *want)
	}
}

// norm puts every time of p in UTC (the API and pgx pick different zones).
func norm(p ledger.Payment) ledger.Payment {
	v := reflect.ValueOf(&p).Elem()
	for i := range v.NumField() {
		switch t := v.Field(i).Interface().(type) {
		case time.Time:
			v.Field(i).Set(reflect.ValueOf(t.UTC()))
		case *time.Time:
			if t != nil {
				u := t.UTC()
				v.Field(i).Set(reflect.ValueOf(&u))
			}
		}
	}
	return p
}

func TestFieldsPointIntoThePaymentAndRefuseUnknownColumns(t *testing.T) {
	var p ledger.Payment
	f := p.Fields("status", "tx_hash", "valid_before")
	*f[0].(*string), *f[1].(**string), *f[2].(*int64) = "settled", new(string), 9
	if p.Status != "settled" || p.TxHash == nil || p.ValidBefore != 9 {
		t.Fatalf("%+v", p)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("an unknown column was accepted")
		}
	}()
	p.Fields("nope")
}

func TestPublicClearsExactlyThePrivateColumns(t *testing.T) {
	s, at := "x", time.Now()
	p := ledger.Payment{ID: "id", Status: "failed", Error: &s, LeaseBy: &s, LeaseUntil: &at, DeliveredBy: &s,
		TxHash: &s, DeliveredAt: &at, SettleSentAt: &at, Mock: true}
	want := p
	want.Error, want.LeaseBy, want.LeaseUntil, want.DeliveredBy = nil, nil, nil, nil
	ledger.Public(&p)
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("%+v\nwant %+v", p, want)
	}
}

// Renewing a row for a claim keeps the authorization (and its chain, id and
// times) and replaces the rest: the claim's values, or nothing.
func TestRenewKeepsTheAuthorizationAndClearsTheLifecycle(t *testing.T) {
	s, at := "x", time.Now()
	c := claim("5", true)
	c.Endpoint, c.Holder, c.LeaseUntil, c.ResponseSummary = "/x402/gateway", "h2", at.Add(time.Minute), ""
	old := c.Row()
	old.ID, old.CreatedAt, old.UpdatedAt, old.Endpoint, old.Amount, old.Mock = "id", at, &at, "/x402/report", "1", false
	old.Status, old.Error, old.TxHash, old.ResponseSummary = ledger.StatusReleased, &s, &s, &s
	old.DeliveredAt, old.DeliveredBy, old.ConfirmedAt, old.SettleSentAt, old.LeaseBy = &at, &s, &at, &at, &s
	p := old
	c.Renew(&p)
	want := ledger.Payment{ID: "id", PayerAddress: old.PayerAddress, Endpoint: "/x402/gateway", Amount: "5",
		Chain: old.Chain, Status: ledger.StatusPending, CreatedAt: at, Network: old.Network, Asset: old.Asset,
		PayTo: old.PayTo, Nonce: old.Nonce, ValidBefore: c.ValidBefore, Mock: true, UpdatedAt: &at,
		LeaseBy: &c.Holder, LeaseUntil: &c.LeaseUntil}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("renewed %+v\nwant    %+v", p, want)
	}
	c.PayerAddress, c.Asset, c.PayTo, c.Nonce = strings.ToUpper(c.PayerAddress), strings.ToUpper(c.Asset),
		strings.ToUpper(c.PayTo), strings.ToUpper(c.Nonce)
	if r := c.Row(); *r.Chain != "xlayer" || r.PayerAddress != old.PayerAddress || r.Asset != old.Asset ||
		r.PayTo != old.PayTo || r.Nonce != old.Nonce {
		t.Fatalf("claimed row not canonical: %+v", r)
	}
}

// BenchmarkRenew is the reflective copy of a claim's columns (Reclaim and
// TakeOver in memory; the PostgreSQL ledger builds its patch the same way).
func BenchmarkRenew(b *testing.B) {
	c := claim("5", false)
	var p ledger.Payment
	for b.Loop() {
		c.Renew(&p)
	}
}
