package onchain_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/insforge/edge-functions-go/shared/x402/onchain"
	"github.com/insforge/edge-functions-go/shared/x402/onchain/onchaintest"
	"github.com/insforge/edge-functions-go/shared/x402/onchain/rpctest"
)

var usdg = common.HexToAddress("0x4ae46a509f6b1d9056937ba4500cb143933d2dc8")

// The CheckDomain tests below need tokens the devnet's GlobalDollar is not — other
// domains, only one of DOMAIN_SEPARATOR()/eip712Domain(), neither, a separator
// computed by viem — so they run on rpctest's loopback node.
func dial(t *testing.T, n *rpctest.Node) *ethclient.Client {
	c, err := ethclient.DialContext(context.Background(), n.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestCheckDomainFindsTheOnChainPair(t *testing.T) {
	for _, pair := range onchain.KnownPairs {
		for _, mode := range []string{"both", "separator only", "eip712Domain only"} {
			t.Run(pair[0]+"/"+pair[1]+"/"+mode, func(t *testing.T) {
				n := rpctest.New(t, 196, usdg, pair[0], pair[1])
				n.NoEIP712Domain = mode == "separator only"
				n.NoSeparator = mode == "eip712Domain only"
				r, err := onchain.CheckDomain(context.Background(), dial(t, n), usdg)
				if err != nil {
					t.Fatal(err)
				}
				m, ok := r.Match()
				if !ok || m.Name != pair[0] || m.Version != pair[1] {
					t.Fatalf("match = %+v, %v", m, ok)
				}
				matches := 0
				for _, c := range r.Candidates {
					if c.Match {
						matches++
					}
				}
				if matches != 1 {
					t.Fatalf("%d candidates match", matches)
				}
			})
		}
	}
}

func TestCheckDomainReportsNoMatchForAnUnknownDomain(t *testing.T) {
	n := rpctest.New(t, 196, usdg, "Something Else", "9")
	r, err := onchain.CheckDomain(context.Background(), dial(t, n), usdg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Match(); ok || r.DomainName != "Something Else" {
		t.Fatalf("report = %+v", r)
	}
	// A configured pair is checked too.
	r, _ = onchain.CheckDomain(context.Background(), dial(t, n), usdg, [2]string{"Something Else", "9"})
	if m, ok := r.Match(); !ok || m.Version != "9" {
		t.Fatalf("configured pair not matched: %+v", r.Candidates)
	}
}

func TestCheckDomainFailsWhenTheTokenHasNoDomain(t *testing.T) {
	n := rpctest.New(t, 196, usdg, "x", "1")
	n.NoEIP712Domain, n.NoSeparator = true, true
	if _, err := onchain.CheckDomain(context.Background(), dial(t, n), usdg); err == nil {
		t.Fatal("no error")
	}
}

func TestAuthorizationState(t *testing.T) {
	ctx := context.Background()
	d := onchaintest.New(t)
	key, a := signed(t, d, d.USDG, common.HexToAddress("0x2222222222222222222222222222222222222222"), 1, 1)
	used, err := onchain.AuthorizationState(ctx, d.Client(), d.USDG, a.From, a.Nonce)
	if err != nil || used {
		t.Fatalf("before = %v, %v", used, err)
	}
	if _, err := d.CancelAuthorization(ctx, d.USDG, key, a.Nonce); err != nil {
		t.Fatal(err)
	}
	used, err = onchain.Reader{Caller: d.Client()}.AuthorizationState(ctx, d.USDG, a.From, a.Nonce)
	if err != nil || !used {
		t.Fatalf("after = %v, %v", used, err)
	}
}

// The devnet's tokens, real bytecode: both functions answer and the USDG pair matches.
func TestCheckDomainReadsTheDevnetToken(t *testing.T) {
	d := onchaintest.New(t)
	for _, token := range []common.Address{d.USDG, d.Strict} {
		r, err := onchain.CheckDomain(context.Background(), d.Client(), token)
		if err != nil {
			t.Fatal(err)
		}
		m, ok := r.Match()
		if !ok || m.Name != "Global Dollar" || m.Version != "1" || r.ChainID.Int64() != 196 ||
			!r.HasEIP712Domain || r.DomainName != "Global Dollar" || r.OnChainSeparator == nil || *r.OnChainSeparator != m.Separator {
			t.Fatalf("report %+v", r)
		}
	}
}

// The node answers with separators computed by viem (stored in
// ../testdata/viem_vectors.json), not by the code under test.
func TestCheckDomainMatchesSeparatorsComputedByViem(t *testing.T) {
	b, err := os.ReadFile("../testdata/viem_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Domains []struct {
			Name, Version, Separator string
		} `json:"domains"`
	}
	if err := json.Unmarshal(b, &f); err != nil || len(f.Domains) != len(onchain.KnownPairs) {
		t.Fatalf("domains %+v %v", f.Domains, err)
	}
	for _, d := range f.Domains {
		t.Run(d.Name+"/"+d.Version, func(t *testing.T) {
			n := rpctest.New(t, 196, usdg, "not used", "0")
			n.Separator, n.NoEIP712Domain = common.HexToHash(d.Separator), true
			r, err := onchain.CheckDomain(context.Background(), dial(t, n), usdg)
			if err != nil {
				t.Fatal(err)
			}
			if m, ok := r.Match(); !ok || m.Name != d.Name || m.Version != d.Version || m.Separator != n.Separator {
				t.Fatalf("match %+v %v", m, ok)
			}
		})
	}
}
