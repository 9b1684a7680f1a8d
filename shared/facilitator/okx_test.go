package facilitator_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/facilitator/okxtest"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
)

func TestSignOKXMatchesOpenSSLVectors(t *testing.T) {
	cases := []struct{ method, path, body, want string }{
		{"GET", "/api/v6/pay/x402/settle/status?txHash=0xabc", "", "rc4fXOE9T2m82XtjnHlt7jAAx4YnS3hzzTJYJ1YtwRM="},
		{"POST", "/api/v6/pay/x402/verify", `{"x402Version":2}`, "I6zA8SBKxXqUNzvURM0K3F/wFCe1BmediFJgIcuwN8M="},
	}
	for _, c := range cases {
		if got := facilitator.SignOKX("secret-key", "2020-12-08T09:08:57.715Z", c.method, c.path, []byte(c.body)); got != c.want {
			t.Errorf("%s %s: sign = %s, want %s", c.method, c.path, got, c.want)
		}
	}
}

func request(t testing.TB) facilitator.Request {
	o := x402test.Offer(t)
	p := x402test.NewPayer(t).Pay(t, o, x402.StyleV2, time.Now())
	return facilitator.Request{Payment: p.Payload.Payload, Requirements: o.Requirements(), Resource: o.Resource("http://localhost/x402/report")}
}

func client(t testing.TB, s *okxtest.Server, mod ...func(*facilitator.OKXOptions)) *facilitator.OKX {
	cfg := facilitator.OKXOptions{
		BaseURL: s.URL, APIKey: okxtest.Key, SecretKey: okxtest.Secret, Passphrase: okxtest.Passphrase, API: s.API,
		VerifyTimeout: 2 * time.Second, SettleTimeout: 2 * time.Second, StatusTimeout: 2 * time.Second,
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := facilitator.NewOKX(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOKXVerifySettleStatusHappyPathBothFamilies(t *testing.T) {
	for _, api := range []string{facilitator.APIV2, facilitator.APIV1} {
		for _, numeric := range []bool{false, true} {
			name := api + map[bool]string{false: "/string-code", true: "/numeric-code"}[numeric]
			t.Run(name, func(t *testing.T) {
				s := okxtest.New(t, api)
				s.NumericCode = numeric
				c := client(t, s)
				req := request(t)
				ctx := context.Background()
				v, err := c.Verify(ctx, req)
				if err != nil || !v.Valid || !strings.EqualFold(v.Payer, req.Payment.Authorization.From) {
					t.Fatalf("Verify = %+v, %v", v, err)
				}
				r, err := c.Settle(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				want := okxtest.TxHash(req.Payment.Authorization.From, req.Payment.Authorization.Nonce)
				if !r.Settled() || r.Transaction != want {
					t.Fatalf("Settle = %+v, want tx %s", r, want)
				}
				st, err := c.Status(ctx, want)
				if api == facilitator.APIV1 {
					if !errors.Is(err, facilitator.ErrStatusUnsupported) {
						t.Fatalf("v1 Status err = %v", err)
					}
				} else if err != nil || !st.Settled() {
					t.Fatalf("Status = %+v, %v", st, err)
				}
				if s.Accepted("verify") != 1 || s.Accepted("settle") != 1 {
					t.Fatalf("calls: %+v", s.Calls(""))
				}
				body := s.Calls("settle")[0].Body
				if api == facilitator.APIV1 && body["chainIndex"] != "196" {
					t.Fatalf("v1 settle body lacks chainIndex: %v", body)
				}
				if body["syncSettle"] != true {
					t.Fatalf("settle body lacks syncSettle:true: %v", body)
				}
			})
		}
	}
}

func TestOKXStatusReportsUnknownHashAsNotFound(t *testing.T) {
	s := okxtest.New(t, facilitator.APIV2)
	r, err := client(t, s).Status(context.Background(), "0x"+strings.Repeat("00", 32))
	if err != nil || r.Status != facilitator.StatusNotFound {
		t.Fatalf("Status = %+v, %v", r, err)
	}
}

func TestOKXScriptedOutcomes(t *testing.T) {
	cases := []struct {
		name   string
		api    string
		script func(*okxtest.Server)
		check  func(t *testing.T, c *facilitator.OKX, req facilitator.Request)
	}{
		{"verify false", facilitator.APIV2, func(s *okxtest.Server) { s.VerifyInvalid("insufficient_funds") },
			func(t *testing.T, c *facilitator.OKX, req facilitator.Request) {
				v, err := c.Verify(context.Background(), req)
				if err != nil || v.Valid || v.Reason != "insufficient_funds" {
					t.Fatalf("Verify = %+v, %v", v, err)
				}
			}},
		{"settle false v2", facilitator.APIV2, func(s *okxtest.Server) { s.SettleFail("insufficient_funds") },
			func(t *testing.T, c *facilitator.OKX, req facilitator.Request) {
				r, err := c.Settle(context.Background(), req)
				if err != nil || r.Status != facilitator.StatusFailed || r.Reason != "insufficient_funds" {
					t.Fatalf("Settle = %+v, %v", r, err)
				}
			}},
		{"settle false v1 errorMsg", facilitator.APIV1, func(s *okxtest.Server) { s.SettleFail("nonce_used") },
			func(t *testing.T, c *facilitator.OKX, req facilitator.Request) {
				r, err := c.Settle(context.Background(), req)
				if err != nil || r.Status != facilitator.StatusFailed || r.Message != "nonce_used" {
					t.Fatalf("Settle = %+v, %v", r, err)
				}
			}},
		{"settle timeout keeps the hash", facilitator.APIV2, func(s *okxtest.Server) { s.SettleStatus("timeout") },
			func(t *testing.T, c *facilitator.OKX, req facilitator.Request) {
				r, err := c.Settle(context.Background(), req)
				if err != nil || r.Status != facilitator.StatusTimeout || r.Transaction == "" || r.Settled() {
					t.Fatalf("Settle = %+v, %v", r, err)
				}
			}},
		{"settle 5xx is not definitive", facilitator.APIV2, func(s *okxtest.Server) { s.HTTPError("settle", 502) },
			func(t *testing.T, c *facilitator.OKX, req facilitator.Request) {
				_, err := c.Settle(context.Background(), req)
				var fe *facilitator.Error
				if !errors.As(err, &fe) || fe.HTTPStatus != 502 || fe.Definitive {
					t.Fatalf("err = %#v", err)
				}
			}},
		{"slow verify hits the deadline", facilitator.APIV2, func(s *okxtest.Server) { s.Delay("verify", time.Second) },
			func(t *testing.T, c *facilitator.OKX, req facilitator.Request) {
				_, err := c.Verify(context.Background(), req)
				var fe *facilitator.Error
				if !errors.As(err, &fe) || !strings.Contains(fe.Message, "in time") || fe.Definitive {
					t.Fatalf("err = %v", err)
				}
			}},
		{"50114 names the exchange key mistake", facilitator.APIV2, func(s *okxtest.Server) { s.Code("verify", "50114") },
			func(t *testing.T, c *facilitator.OKX, req facilitator.Request) {
				_, err := c.Verify(context.Background(), req)
				var fe *facilitator.Error
				if !errors.As(err, &fe) || fe.Code != "50114" || !strings.Contains(fe.Message, "exchange API key") || !fe.Definitive {
					t.Fatalf("err = %v", err)
				}
			}},
		{"rate limit is reported, never retried", facilitator.APIV2, func(s *okxtest.Server) { s.Code("verify", "50011") },
			func(t *testing.T, c *facilitator.OKX, req facilitator.Request) {
				_, err := c.Verify(context.Background(), req)
				var fe *facilitator.Error
				if !errors.As(err, &fe) || fe.Code != "50011" {
					t.Fatalf("err = %v", err)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := okxtest.New(t, tc.api)
			tc.script(s)
			c := client(t, s, func(c *facilitator.OKXOptions) { c.VerifyTimeout = 200 * time.Millisecond })
			tc.check(t, c, request(t))
			if tc.name == "rate limit is reported, never retried" && len(s.Calls("verify")) != 1 {
				t.Fatalf("verify calls = %d, want 1 (no retry)", len(s.Calls("verify")))
			}
		})
	}
}

func TestOKXAuthFailuresAreReportedClearly(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*facilitator.OKXOptions)
		code string
	}{
		{"wrong secret", func(c *facilitator.OKXOptions) { c.SecretKey = "nope" }, "50113"},
		{"wrong key", func(c *facilitator.OKXOptions) { c.APIKey = "nope" }, "50111"},
		{"wrong passphrase", func(c *facilitator.OKXOptions) { c.Passphrase = "nope" }, "50105"},
		{"clock 5 minutes slow", func(c *facilitator.OKXOptions) {
			c.Now = func() time.Time { return time.Now().Add(-5 * time.Minute) }
		}, "50112"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := okxtest.New(t, facilitator.APIV2)
			s.AllowRejections()
			_, err := client(t, s, tc.mod).Verify(context.Background(), request(t))
			var fe *facilitator.Error
			if !errors.As(err, &fe) || fe.Code != tc.code || !fe.Definitive {
				t.Fatalf("err = %v, want code %s", err, tc.code)
			}
		})
	}
}

func TestNewOKXValidatesConfig(t *testing.T) {
	ok := facilitator.OKXOptions{APIKey: "k", SecretKey: "s", Passphrase: "p"}
	cases := map[string]func(*facilitator.OKXOptions){
		"missing secret": func(c *facilitator.OKXOptions) { c.SecretKey = "" },
		"plain http":     func(c *facilitator.OKXOptions) { c.BaseURL = "http://web3.okx.com" },
		"unknown api":    func(c *facilitator.OKXOptions) { c.API = "v3-k3y" },
		"not a url":      func(c *facilitator.OKXOptions) { c.BaseURL = "web3.okx.com" },
	}
	if _, err := facilitator.NewOKX(ok); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			c := ok
			mod(&c)
			_, err := facilitator.NewOKX(c)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, v := range []string{"v3-k3y", "web3.okx.com"} {
				if strings.Contains(err.Error(), v) {
					t.Fatalf("the message repeats the value %q: %v", v, err)
				}
			}
		})
	}
}

func TestMockRefusesProductionAndIsDeterministic(t *testing.T) {
	if _, err := facilitator.NewMock(config.Environment{Name: "production"}); !errors.Is(err, facilitator.ErrMockInProduction) {
		t.Fatalf("production mock err = %v", err)
	}
	m, err := facilitator.NewMock(config.Environment{Name: "development"})
	if err != nil {
		t.Fatal(err)
	}
	req := request(t)
	a, _ := m.Settle(context.Background(), req)
	b, _ := m.Settle(context.Background(), req)
	if !a.Mock || !a.Settled() || a.Transaction != b.Transaction || len(a.Transaction) != 66 {
		t.Fatalf("mock settle = %+v / %+v", a, b)
	}
	other := request(t)
	if c, _ := m.Settle(context.Background(), other); c.Transaction == a.Transaction {
		t.Fatal("two payments got the same mock hash")
	}
}

func TestMockModeIsAnAllowList(t *testing.T) {
	for name, allowed := range map[string]bool{
		"development": true, "test": true, " Development ": true,
		"": false, "production": false, "prod": false, "staging": false, "dev": false, "develop": false, "testing": false,
	} {
		env := config.Environment{Name: name}
		if got := facilitator.MockAllowed(env); got != allowed {
			t.Errorf("ENVIRONMENT=%q: allowed %v", name, got)
		}
		_, err := facilitator.NewMock(env)
		verr := facilitator.Config{OKXAPI: facilitator.APIV2, MockFacilitator: true, Environment: env}.Validate()
		if (err == nil) != allowed || (verr == nil) != allowed {
			t.Errorf("ENVIRONMENT=%q: NewMock %v, Validate %v", name, err, verr)
		}
		if verr != nil && !strings.Contains(verr.Error(), "ENVIRONMENT") {
			t.Errorf("error does not name ENVIRONMENT: %v", verr)
		}
	}
}

func TestOKXClientRefusesRedirects(t *testing.T) {
	var leaked atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("OK-ACCESS-KEY") != "" || r.Header.Get("OK-ACCESS-PASSPHRASE") != "" {
			leaked.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer target.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	for _, hc := range []*http.Client{nil, {}, {CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}} {
		c, err := facilitator.NewOKX(facilitator.OKXOptions{BaseURL: redirector.URL, APIKey: okxtest.Key, SecretKey: okxtest.Secret,
			Passphrase: okxtest.Passphrase, HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		_, verr := c.Verify(context.Background(), request(t))
		_, serr := c.Settle(context.Background(), request(t))
		var fe *facilitator.Error
		if !errors.As(verr, &fe) || fe.HTTPStatus != http.StatusTemporaryRedirect || !facilitator.IsDefinitive(serr) {
			t.Fatalf("verify %v, settle %v", verr, serr)
		}
	}
	if leaked.Load() != 0 {
		t.Fatalf("%d requests followed the redirect with OKX credentials", leaked.Load())
	}
}
