package tokenedge_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/metrics"
	"github.com/insforge/edge-functions-go/shared/signer"
	"github.com/insforge/edge-functions-go/shared/tokenedge"
)

const testSecret = "test-secret-0123456789abcdef0123456789"

func TestConfigValidateNamesTheVariableAtFault(t *testing.T) {
	good := signer.Config{Secret: testSecret, TTL: time.Hour}
	for _, c := range []struct {
		name string
		cfg  tokenedge.Config
		want string // "" = valid
	}{
		{"valid", tokenedge.Config{Config: good, AllowedOrigins: config.CSV{"https://app.example.com"}}, ""},
		{"any origin", tokenedge.Config{Config: good, AllowedOrigins: config.CSV{"*"}}, ""},
		{"short secret", tokenedge.Config{Config: signer.Config{Secret: "short", TTL: time.Hour}}, "INSFORGE_JWT_SECRET"},
		{"origin with a path", tokenedge.Config{Config: good, AllowedOrigins: config.CSV{"https://app.example.com/x"}}, "ALLOWED_ORIGINS"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			var ve *config.VarError
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case c.want != "" && (!errors.As(err, &ve) || ve.Var != c.want):
				t.Fatalf("Validate() = %v, want a VarError naming %s", err, c.want)
			}
		})
	}
}

// The 200 body and headers every bridge has always answered with.
func TestWriteTokenAnswersTheTokenNeverCached(t *testing.T) {
	exp := time.Unix(1_900_000_000, 0)
	w := httptest.NewRecorder()
	tokenedge.WriteToken(w, signer.Token{Value: "eyJ.x.y", TTL: 15 * time.Minute, ExpiresAt: exp})
	if w.Code != http.StatusOK || w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Pragma") != "no-cache" {
		t.Fatalf("status %d, headers %v", w.Code, w.Header())
	}
	want := `{"token":"eyJ.x.y","token_type":"Bearer","expires_in":900,"expires_at":1900000000}`
	if got := string(bytes.TrimSpace(w.Body.Bytes())); got != want {
		t.Fatalf("body %s, want %s", got, want)
	}
}

// One EMF line per mint carries the request id, the attributes and TokensMinted
// under the provider dimension; without a recorder the line is only logged.
func TestLogMintedEmitsOneLineWithTheMetricOrOnlyLogs(t *testing.T) {
	attrs := []slog.Attr{slog.String("subject", "user_1"), slog.Bool("email", true)}
	w := httptest.NewRecorder()
	w.Header().Set("X-Request-Id", "req-1")

	var emf bytes.Buffer
	tokenedge.LogMinted(w, httptest.NewRequest(http.MethodPost, "/", nil), metrics.New(&emf, "token-kinde"), "kinde", attrs...)
	var line map[string]any
	if err := json.Unmarshal(emf.Bytes(), &line); err != nil {
		t.Fatalf("metric line %q: %v", emf.String(), err)
	}
	for k, v := range map[string]any{"msg": "token minted", "function": "token-kinde", "provider": "kinde",
		"request_id": "req-1", "subject": "user_1", "email": true, tokenedge.MetricMinted: 1.0} {
		if line[k] != v {
			t.Errorf("%s = %v, want %v (line %s)", k, line[k], v, emf.String())
		}
	}
	if tokenedge.MetricMinted != "TokensMinted" || !bytes.Contains(emf.Bytes(), []byte(`"Metrics":[{"Name":"TokensMinted","Unit":"Count"}]`)) {
		t.Errorf("metric line %s does not declare TokensMinted", emf.String())
	}

	var logs bytes.Buffer
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r = r.WithContext(httpapi.WithLogger(r.Context(), slog.New(slog.NewJSONHandler(&logs, nil))))
	tokenedge.LogMinted(w, r, nil, "kinde", attrs...)
	if got := logs.Bytes(); !bytes.Contains(got, []byte(`"msg":"token minted","subject":"user_1","email":true`)) ||
		bytes.Contains(got, []byte("TokensMinted")) {
		t.Fatalf("log line %s", got)
	}
}

// A refusal counts once as TokensRefused with its code, internal_error when the
// error is not an *httpapi.Error; a nil recorder counts nothing and does not panic.
func TestCountRefusedCountsTheErrorCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		code string
	}{
		{fmt.Errorf("exchange: %w", httpapi.MissingCredential.New("send a credential")), "missing_credential"},
		{httpapi.ProviderUnavailable.Err(), "provider_unavailable"},
		{errors.New("boom"), "internal_error"},
	} {
		var buf bytes.Buffer
		tokenedge.CountRefused(metrics.New(&buf, "token-wallet"), "wallet", c.err)
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("metric line %q: %v", buf.String(), err)
		}
		if line["code"] != c.code || line["provider"] != "wallet" || line[tokenedge.MetricRefused] != 1.0 ||
			tokenedge.MetricRefused != "TokensRefused" {
			t.Errorf("%v counted as %s, want code %s", c.err, buf.String(), c.code)
		}
	}
	tokenedge.CountRefused(nil, "wallet", errors.New("boom"))
}
