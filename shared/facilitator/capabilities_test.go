package facilitator_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/facilitator/okxtest"
)

var needs = []facilitator.Need{
	{Scheme: "exact", Network: "eip155:196", Asset: "0x4ae46a509F6b1D9056937BA4500cb143933D2dc8", NetworkVar: "X402_NETWORK", AssetVar: "X402_ASSET"},
	{Scheme: "exact", Network: "eip155:196", Asset: "0x779Ded0c9e1022225f8E0630b35a9b54bE713736", NetworkVar: "X402_NETWORK", AssetVar: "X402_EXTRA_ASSETS"},
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func okxFor(t *testing.T, url, api string) *facilitator.OKX {
	c, err := facilitator.NewOKX(facilitator.OKXOptions{BaseURL: url, APIKey: okxtest.Key, SecretKey: okxtest.Secret,
		Passphrase: okxtest.Passphrase, API: api, StatusTimeout: time.Second, VerifyTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSupportedCheckNamesTheVariableOfTheFirstUnservedNeed(t *testing.T) {
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	cases := []struct {
		name  string
		kinds []facilitator.Kind
		want  string
	}{
		{"OKX's documented answer (no assets listed)", []facilitator.Kind{{X402Version: 2, Scheme: "exact", Network: "eip155:196", Extra: raw("null")}}, ""},
		{"another network only", []facilitator.Kind{{X402Version: 2, Scheme: "exact", Network: "eip155:1952"}}, "X402_NETWORK"},
		{"another scheme only", []facilitator.Kind{{X402Version: 2, Scheme: "aggr_deferred", Network: "eip155:196"}}, "X402_NETWORK"},
		{"assets listed, USD₮0 missing", []facilitator.Kind{{X402Version: 2, Scheme: "exact", Network: "eip155:196",
			Extra: raw(`{"assets":[{"address":"0x4ae46a509f6b1d9056937ba4500cb143933d2dc8"}]}`)}}, "X402_EXTRA_ASSETS"},
		{"assets listed as strings, both present", []facilitator.Kind{{X402Version: 2, Scheme: "exact", Network: "eip155:196",
			Extra: raw(`{"assets":["0x4ae46a509f6b1d9056937ba4500cb143933d2dc8","0x779ded0c9e1022225f8e0630b35a9b54be713736"]}`)}}, ""},
		{"one asset per kind", []facilitator.Kind{{X402Version: 2, Scheme: "exact", Network: "eip155:196",
			Extra: raw(`{"asset":"0x779ded0c9e1022225f8e0630b35a9b54be713736"}`)}}, "X402_ASSET"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := (&facilitator.Supported{Kinds: c.kinds}).Check(needs)
			var ve *config.VarError
			switch {
			case c.want == "" && err != nil:
				t.Fatal(err)
			case c.want != "" && (!errors.As(err, &ve) || ve.Var != c.want):
				t.Fatalf("err %v, want one naming %s", err, c.want)
			}
		})
	}
}

// The strict emulator's /supported answer, per family, serves the default offer.
func TestCheckedFacilitatorAcceptsTheEmulatorsAnswerAtColdStart(t *testing.T) {
	for _, api := range []string{facilitator.APIV2, facilitator.APIV1} {
		t.Run(api, func(t *testing.T) {
			okx := okxtest.New(t, api)
			c := facilitator.CheckCapabilities(okxFor(t, okx.URL, api), needs, quiet())
			if err := c.WaitFirst(2 * time.Second); err != nil {
				t.Fatal(err)
			}
			if okx.Accepted("supported") != 1 {
				t.Fatalf("calls %+v", okx.Calls(""))
			}
		})
	}
}

// A mismatch known at cold start is an init error naming the variable; once
// known, verify and settle refuse without calling the facilitator.
func TestCheckedFacilitatorRefusesAnOfferItDoesNotServe(t *testing.T) {
	okx := okxtest.New(t, facilitator.APIV2)
	okx.SetKinds([]map[string]any{{"x402Version": 2, "scheme": "exact", "network": "eip155:1952", "extra": nil}})
	c := facilitator.CheckCapabilities(okxFor(t, okx.URL, facilitator.APIV2), needs, quiet())
	var ve *config.VarError
	if err := c.WaitFirst(2 * time.Second); !errors.As(err, &ve) || ve.Var != "X402_NETWORK" {
		t.Fatalf("cold start: %v", err)
	}
	if _, err := c.Verify(context.Background(), facilitator.Request{}); !facilitator.IsDefinitive(err) {
		t.Fatalf("verify: %v", err)
	}
	if _, err := c.Settle(context.Background(), facilitator.Request{}); !facilitator.IsDefinitive(err) {
		t.Fatalf("settle: %v", err)
	}
	if n := len(okx.Calls("verify")) + len(okx.Calls("settle")); n != 0 {
		t.Fatalf("%d facilitator calls after the mismatch", n)
	}
}

// An unreachable or failing facilitator does not block cold start; the check
// is retried in the background and a mismatch found later refuses payments.
func TestCheckedFacilitatorOutageDoesNotBlockColdStart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*okxtest.Server)
	}{
		{"HTTP 503", func(o *okxtest.Server) { o.HTTPError("supported", http.StatusServiceUnavailable) }},
		{"hangs past the wait", func(o *okxtest.Server) { o.Delay("supported", 3*time.Second) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			okx := okxtest.New(t, facilitator.APIV2)
			tc.setup(okx)
			okx.SetKinds([]map[string]any{{"x402Version": 2, "scheme": "exact", "network": "eip155:1952", "extra": nil}})
			start := time.Now()
			c := facilitator.CheckCapabilities(okxFor(t, okx.URL, facilitator.APIV2), needs, quiet())
			if err := c.WaitFirst(500 * time.Millisecond); err != nil {
				t.Fatalf("cold start blocked: %v", err)
			}
			if time.Since(start) > 2*time.Second {
				t.Fatal("cold start waited for the facilitator")
			}
			okx.HTTPError("supported", 0)
			okx.Delay("supported", 0)
			deadline := time.Now().Add(8 * time.Second)
			for c.Mismatch() == nil && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if c.Mismatch() == nil {
				t.Fatal("the background retry never found the mismatch")
			}
		})
	}
}

func TestUncheckableFacilitatorIsPassedThrough(t *testing.T) {
	c := facilitator.CheckCapabilities(facilitator.Mock{}, needs, quiet())
	if err := c.WaitFirst(time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Verify(context.Background(), facilitator.Request{}); err != nil || !r.Valid {
		t.Fatalf("verify %v %v", r, err)
	}
}
