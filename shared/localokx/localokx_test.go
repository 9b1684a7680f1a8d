package localokx_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/localchain"
	"github.com/insforge/edge-functions-go/shared/localokx"
	"github.com/insforge/edge-functions-go/shared/x402"
	"github.com/insforge/edge-functions-go/shared/x402/onchain"
	"github.com/insforge/edge-functions-go/shared/x402/onchain/onchaintest"
	"github.com/insforge/edge-functions-go/shared/x402/x402test"
)

func start(t *testing.T, api string) (*localokx.Server, *httptest.Server) {
	t.Helper()
	e := localokx.New(api)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return e, srv
}

// client is the production OKX client pointed at the emulator; mod changes its
// configuration (wrong secret, skewed clock).
func client(t *testing.T, api, url string, mod func(*facilitator.OKXOptions)) *facilitator.OKX {
	t.Helper()
	cfg := facilitator.OKXOptions{
		BaseURL: url, APIKey: localokx.Key, SecretKey: localokx.Secret, Passphrase: localokx.Passphrase, API: api,
		VerifyTimeout: 2 * time.Second, SettleTimeout: 2 * time.Second, StatusTimeout: 2 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := facilitator.NewOKX(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func request(t *testing.T) facilitator.Request {
	t.Helper()
	o := x402test.Offer(t)
	p := x402test.NewPayer(t).Pay(t, o, x402.StyleV2, time.Now())
	return facilitator.Request{Payment: p.Payload.Payload, Requirements: o.Requirements(), Resource: o.Resource("http://localhost/x402/report")}
}

// The real client's calls are accepted in both API families and nothing is
// recorded as refused.
func TestCorrectlySignedCallsAreAccepted(t *testing.T) {
	for _, api := range []string{facilitator.APIV2, facilitator.APIV1} {
		t.Run(api, func(t *testing.T) {
			e, srv := start(t, api)
			c := client(t, api, srv.URL, nil)
			req := request(t)
			if v, err := c.Verify(context.Background(), req); err != nil || !v.Valid {
				t.Fatalf("Verify = %+v, %v", v, err)
			}
			if r, err := c.Settle(context.Background(), req); err != nil || !r.Settled() {
				t.Fatalf("Settle = %+v, %v", r, err)
			}
			if e.Accepted("verify") != 1 || e.Accepted("settle") != 1 || len(e.Rejections()) != 0 {
				t.Fatalf("calls %+v", e.Calls(""))
			}
		})
	}
}

// A wrong secret (bad HMAC), a wrong passphrase and a stale timestamp are refused
// like OKX refuses them, and each refusal is recorded with its reason.
func TestBadCredentialsAreRefusedAndRecorded(t *testing.T) {
	cases := []struct {
		name, why string
		mod       func(*facilitator.OKXOptions)
	}{
		{"bad HMAC", "invalid signature", func(c *facilitator.OKXOptions) { c.SecretKey = "not-the-secret" }},
		{"wrong passphrase", "wrong passphrase", func(c *facilitator.OKXOptions) { c.Passphrase = "not-the-passphrase" }},
		{"stale timestamp", "timestamp off by", func(c *facilitator.OKXOptions) {
			c.Now = func() time.Time { return time.Now().Add(-2 * time.Minute) }
		}},
	}
	for _, api := range []string{facilitator.APIV2, facilitator.APIV1} {
		for _, tc := range cases {
			t.Run(api+"/"+tc.name, func(t *testing.T) {
				e, srv := start(t, api)
				v, err := client(t, api, srv.URL, tc.mod).Verify(context.Background(), request(t))
				if err == nil {
					t.Fatalf("Verify = %+v, want an error", v)
				}
				rej := e.Rejections()
				if len(rej) != 1 || rej[0].Op != "verify" || !strings.Contains(rej[0].Rejected, tc.why) {
					t.Fatalf("rejections %+v, want one verify refused for %q", rej, tc.why)
				}
				if e.Accepted("") != 0 {
					t.Fatalf("accepted %d calls", e.Accepted(""))
				}
			})
		}
	}
}

// A correctly signed body of the wrong shape for the family is refused: the
// emulator checks the request, not only the signature.
func TestWrongBodyShapeIsRefusedPerFamily(t *testing.T) {
	cases := []struct {
		api, why string
		mutate   func(body map[string]any)
	}{
		// The control: the body re-sent unchanged is accepted.
		{facilitator.APIV2, "", func(map[string]any) {}},
		{facilitator.APIV1, "", func(map[string]any) {}},
		{facilitator.APIV2, "accepted does not match paymentRequirements", func(b map[string]any) {
			b["paymentRequirements"].(map[string]any)["amount"] = "1"
		}},
		{facilitator.APIV2, "new API body", func(b map[string]any) { b["chainIndex"] = "196" }},
		{facilitator.APIV2, "syncSettle must be true on settle and absent on verify", func(b map[string]any) { b["syncSettle"] = true }},
		{facilitator.APIV1, `chainIndex must be "196"`, func(b map[string]any) { b["chainIndex"] = "1" }},
		{facilitator.APIV1, "old API needs x402Version 1", func(b map[string]any) { b["x402Version"] = 2 }},
		{facilitator.APIV1, "signature must be 65 bytes", func(b map[string]any) {
			p := b["paymentPayload"].(map[string]any)["payload"].(map[string]any)
			p["signature"] = strings.ToUpper(p["signature"].(string))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.api+"/"+cmp.Or(tc.why, "unchanged"), func(t *testing.T) {
			e, srv := start(t, tc.api)
			// The real client's body is the starting point; only the mutation differs.
			if _, err := client(t, tc.api, srv.URL, nil).Verify(context.Background(), request(t)); err != nil {
				t.Fatal(err)
			}
			body := e.Calls("verify")[0].Body
			tc.mutate(body)
			raw, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			path := map[string]string{facilitator.APIV2: "/api/v6/pay/x402/verify", facilitator.APIV1: "/api/v6/x402/verify"}[tc.api]
			ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
			r, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(raw))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("OK-ACCESS-KEY", localokx.Key)
			r.Header.Set("OK-ACCESS-PASSPHRASE", localokx.Passphrase)
			r.Header.Set("OK-ACCESS-TIMESTAMP", ts)
			r.Header.Set("OK-ACCESS-SIGN", facilitator.SignOKX(localokx.Secret, ts, http.MethodPost, path, raw))
			resp, err := srv.Client().Do(r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if tc.why == "" {
				if resp.StatusCode != http.StatusOK || len(e.Rejections()) != 0 || e.Accepted("verify") != 2 {
					t.Fatalf("unchanged body: status %d, calls %+v", resp.StatusCode, e.Calls(""))
				}
				return
			}
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
			rej := e.Rejections()
			if len(rej) != 1 || !strings.Contains(rej[0].Rejected, tc.why) {
				t.Fatalf("rejections %+v, want one containing %q", rej, tc.why)
			}
		})
	}
}

// /supported answers in each family's documented shape, signed like every call.
func TestSupportedAnswersTheDocumentedShapePerFamily(t *testing.T) {
	for _, api := range []string{facilitator.APIV2, facilitator.APIV1} {
		t.Run(api, func(t *testing.T) {
			e, srv := start(t, api)
			s, err := client(t, api, srv.URL, nil).Supported(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Kinds) == 0 || s.Kinds[0].Scheme != "exact" || s.Kinds[0].Network != "eip155:196" {
				t.Fatalf("kinds %+v", s.Kinds)
			}
			if api == facilitator.APIV2 && (s.Kinds[0].X402Version != 2 || len(s.Signers["eip155:*"]) != 1 || s.Extensions == nil) {
				t.Fatalf("v2 supported %+v", s)
			}
			if api == facilitator.APIV1 && s.Kinds[0].X402Version != 1 {
				t.Fatalf("v1 supported %+v", s)
			}
			if len(e.Rejections()) != 0 || e.Accepted("supported") != 1 {
				t.Fatalf("calls %+v", e.Calls(""))
			}
		})
	}
}

func TestSupportedRefusesAPostOrAQuery(t *testing.T) {
	e, srv := start(t, facilitator.APIV2)
	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodPost, srv.URL+"/api/v6/pay/x402/supported", strings.NewReader("{}")),
		httptest.NewRequest(http.MethodGet, srv.URL+"/api/v6/pay/x402/supported?x=1", nil),
	} {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			t.Fatalf("%s %s accepted", r.Method, r.URL)
		}
	}
}

// onChain is an emulator settling on its own devnet, and a payer funded there.
// x402test's offer is USDG on chain 196, which the devnet's USDG is.
type onChain struct {
	e     *localokx.Server
	c     *facilitator.OKX
	d     *localchain.Devnet
	payer *x402test.Payer
}

func startOnChain(t *testing.T, api string, funds int64) *onChain {
	t.Helper()
	e, srv := start(t, api)
	d := onchaintest.New(t)
	e.SettleOn(d)
	p := x402test.NewPayer(t)
	if funds > 0 {
		onchaintest.Mint(t, d, d.USDG, p.Address, funds)
	}
	return &onChain{e: e, c: client(t, api, srv.URL, nil), d: d, payer: p}
}

func (o *onChain) request(t *testing.T) facilitator.Request {
	t.Helper()
	off := x402test.Offer(t)
	p := o.payer.Pay(t, off, x402.StyleV2, time.Now())
	return facilitator.Request{Payment: p.Payload.Payload, Requirements: off.Requirements(), Resource: off.Resource("http://localhost/x402/report")}
}

func balance(t *testing.T, d *localchain.Devnet, a string) int64 {
	t.Helper()
	b, err := d.BalanceOf(context.Background(), d.USDG, common.HexToAddress(a))
	if err != nil {
		t.Fatal(err)
	}
	return b.Int64()
}

// Verify simulates, settle sends the transaction and answers its real hash;
// the tokens move, and the authorization cannot be settled twice.
func TestOnChainSettlementMovesTheTokens(t *testing.T) {
	ctx := context.Background()
	for _, api := range []string{facilitator.APIV2, facilitator.APIV1} {
		t.Run(api, func(t *testing.T) {
			o := startOnChain(t, api, 5000)
			req := o.request(t)
			if v, err := o.c.Verify(ctx, req); err != nil || !v.Valid {
				t.Fatalf("Verify = %+v, %v", v, err)
			}
			r, err := o.c.Settle(ctx, req)
			if err != nil || !r.Settled() {
				t.Fatalf("Settle = %+v, %v", r, err)
			}
			rc, err := o.d.Receipt(ctx, common.HexToHash(r.Transaction))
			if err != nil || rc.Status != types.ReceiptStatusSuccessful {
				t.Fatalf("receipt %+v %v", rc, err)
			}
			ev, err := onchain.Reader{Caller: o.d.Client()}.TxEvidence(ctx, rc.TxHash, onchain.Payment{Token: o.d.USDG,
				From: o.payer.Address, To: common.HexToAddress(x402test.PayTo), Value: big.NewInt(1000),
				Nonce: common.HexToHash(req.Payment.Authorization.Nonce)})
			if err != nil || ev != onchain.Transferred {
				t.Fatalf("evidence %q %v", ev, err)
			}
			if balance(t, o.d, x402test.PayTo) != 1000 || balance(t, o.d, o.payer.Address.Hex()) != 4000 {
				t.Fatal("tokens did not move")
			}
			if v, err := o.c.Verify(ctx, req); err != nil || v.Valid || v.Reason != localokx.ReasonNonceUsed {
				t.Fatalf("verify after settle = %+v, %v", v, err)
			}
			if r, err := o.c.Settle(ctx, req); err != nil || r.Settled() {
				t.Fatalf("second settle = %+v, %v", r, err)
			}
			if balance(t, o.d, x402test.PayTo) != 1000 {
				t.Fatal("paid twice")
			}
		})
	}
}

// What verify refuses on the chain, with the exact scheme's reasons.
func TestOnChainVerifyRefusals(t *testing.T) {
	ctx := context.Background()
	o := startOnChain(t, facilitator.APIV2, 5000)
	unfunded := startOnChain(t, facilitator.APIV2, 0)
	tampered := o.request(t)
	tampered.Payment.Signature = x402test.HighS(tampered.Payment.Signature) // same signer, malleable twin
	expired := o.request(t)
	expired.Payment.Authorization.ValidBefore = "1"
	for name, c := range map[string]struct {
		o    *onChain
		req  facilitator.Request
		want string
	}{
		"no balance":     {unfunded, unfunded.request(t), localokx.ReasonInsufficient},
		"high-s twin":    {o, tampered, localokx.ReasonSignature},
		"expired":        {o, expired, localokx.ReasonValidBefore},
		"funded, signed": {o, o.request(t), ""},
	} {
		v, err := c.o.c.Verify(ctx, c.req)
		if err != nil || v.Valid != (c.want == "") || v.Reason != c.want {
			t.Errorf("%s: %+v, %v; want %q", name, v, err, c.want)
		}
	}
}

// A balance spent between verify and settle: the transaction is sent (settle
// does not simulate again), reverts on-chain, and settle says so with its hash.
func TestOnChainSettleOfASpentBalanceReverts(t *testing.T) {
	ctx := context.Background()
	o := startOnChain(t, facilitator.APIV2, 1000)
	req := o.request(t)
	if v, err := o.c.Verify(ctx, req); err != nil || !v.Valid {
		t.Fatalf("Verify = %+v, %v", v, err)
	}
	if err := o.d.Fund(ctx, o.payer.Address); err != nil {
		t.Fatal(err)
	}
	if tx, err := o.d.Transact(ctx, o.payer.Key, o.d.USDG, "transfer", common.HexToAddress("0x01"), big.NewInt(1000)); err != nil {
		t.Fatal(err)
	} else if _, err := o.d.WaitMined(ctx, tx); err != nil {
		t.Fatal(err)
	}
	r, err := o.c.Settle(ctx, req)
	if err != nil || r.Status != facilitator.StatusFailed || r.Transaction == "" {
		t.Fatalf("Settle = %+v, %v", r, err)
	}
	if rc, err := o.d.Receipt(ctx, common.HexToHash(r.Transaction)); err != nil || rc.Status != types.ReceiptStatusFailed {
		t.Fatalf("receipt %+v %v", rc, err)
	}
}

// Scripted pending: settle answers at once with the hash of a transaction still
// in the pool; the status endpoint reads the chain until a block holds it. A
// synchronous settle that sees no block in time answers timeout with the hash.
func TestOnChainPendingSettlementResolvesThroughTheStatusEndpoint(t *testing.T) {
	ctx := context.Background()
	o := startOnChain(t, facilitator.APIV2, 5000)
	if err := o.d.SetAutomine(ctx, false); err != nil {
		t.Fatal(err)
	}
	o.e.SettleStatus("pending")
	r, err := o.c.Settle(ctx, o.request(t))
	if err != nil || r.Status != facilitator.StatusPending || r.Transaction == "" {
		t.Fatalf("Settle = %+v, %v", r, err)
	}
	if st, err := o.c.Status(ctx, r.Transaction); err != nil || st.Status != facilitator.StatusPending {
		t.Fatalf("status before the block = %+v, %v", st, err)
	}
	o.e.SettleStatus("")
	o.e.SyncWait = 200 * time.Millisecond
	sync, err := o.c.Settle(ctx, o.request(t))
	if err != nil || sync.Status != facilitator.StatusTimeout || sync.Transaction == "" {
		t.Fatalf("sync Settle without a block = %+v, %v", sync, err)
	}
	if err := o.d.Mine(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for _, tx := range []string{r.Transaction, sync.Transaction} {
		if st, err := o.c.Status(ctx, tx); err != nil || !st.Settled() || !strings.EqualFold(st.Transaction, tx) {
			t.Fatalf("status after the block = %+v, %v", st, err)
		}
	}
	if balance(t, o.d, x402test.PayTo) != 2000 {
		t.Fatal("the two settlements did not pay")
	}
}
