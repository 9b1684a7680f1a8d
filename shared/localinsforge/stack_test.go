package localinsforge_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
)

func TestMain(m *testing.M) { insforgetest.Main(m) }

type resp struct {
	status int
	body   string
	header http.Header
}

// json decodes the body into a generic value.
func (r resp) json(t *testing.T) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("body is not JSON: %q", r.body)
	}
	return v
}

func (r resp) rows(t *testing.T) []map[string]any {
	t.Helper()
	var v []map[string]any
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("body is not a JSON array of objects: %d %q", r.status, r.body)
	}
	return v
}

func (r resp) field(t *testing.T, k string) any {
	t.Helper()
	m, ok := r.json(t).(map[string]any)
	if !ok {
		t.Fatalf("body is not an object: %q", r.body)
	}
	return m[k]
}

// call sends a request; hdr are header name/value pairs.
func call(t *testing.T, s *insforgetest.Stack, method, path, token, body string, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, string(b), res.Header}
}

func userToken(t *testing.T, s *insforgetest.Stack, sub string) string {
	t.Helper()
	tok, err := s.UserToken(sub, sub+"@example.com")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// sign signs arbitrary claims with the stack's secret (or another one).
func sign(t *testing.T, secret string, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func fixture(t *testing.T, s *insforgetest.Stack, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.AdminExec(ctx, sql); err != nil {
		t.Fatalf("fixture: %v", err)
	}
}

const pref = "Prefer"
const repr = "return=representation"
