package insforgetest_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
)

func TestMain(m *testing.M) { insforgetest.Main(m) }

func do(t *testing.T, s *insforgetest.Stack, method, path, token, body string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, s.URL+path, rd)
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
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func TestSmoke(t *testing.T) {
	s := insforgetest.New(t)
	alice, _ := s.UserToken("user_alice", "a@example.com")
	st, body, _ := do(t, s, "POST", "/api/database/records/todos?columns=%22title%22&select=*", alice, `[{"title":"buy milk"}]`, "Prefer", "return=representation")
	t.Log(st, body)
	st, body, h := do(t, s, "GET", "/api/database/records/todos?select=*&order=created_at.desc", alice, "")
	t.Log(st, body, h)
}
