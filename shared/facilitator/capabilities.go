package facilitator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
)

// Kind is one scheme/network a facilitator serves (x402 SupportedKind).
// Extra is scheme-specific; when it lists assets ("asset" or "assets"), only
// those are served on that kind.
type Kind struct {
	X402Version int             `json:"x402Version"`
	Scheme      string          `json:"scheme"`
	Network     string          `json:"network"`
	Extra       json.RawMessage `json:"extra,omitempty"`
}

// Supported is a facilitator's /supported answer: kinds, extensions and the
// signer addresses per CAIP-2 wildcard.
type Supported struct {
	Kinds      []Kind              `json:"kinds"`
	Extensions []string            `json:"extensions"`
	Signers    map[string][]string `json:"signers"`
}

// Lister is a facilitator that says what it serves (the OKX client; the mock
// serves anything and is not one).
type Lister interface {
	Supported(ctx context.Context) (*Supported, error)
}

// Need is one scheme/network/asset an offer needs from the facilitator, with
// the variables that configured its network and its asset.
type Need struct {
	Scheme, Network, Asset string
	NetworkVar, AssetVar   string
}

// Check returns a *config.VarError naming the variable of the first need s
// does not serve: the network's when no kind has the scheme on the network,
// the asset's when those kinds list assets and not this one.
func (s *Supported) Check(needs []Need) error {
	for _, n := range needs {
		found, assetListed := false, false
		for _, k := range s.Kinds {
			if k.Scheme != n.Scheme || k.Network != n.Network {
				continue
			}
			found = true
			assets, listed := kindAssets(k.Extra)
			if !listed {
				assetListed = true
				break
			}
			for _, a := range assets {
				if strings.EqualFold(a, n.Asset) {
					assetListed = true
				}
			}
		}
		switch {
		case !found:
			return config.Invalid(n.NetworkVar, "is %s, where the facilitator's /supported lists no %s payments", n.Network, n.Scheme)
		case !assetListed:
			return config.Invalid(n.AssetVar, "names %s, an asset the facilitator's /supported does not list on %s", n.Asset, n.Network)
		}
	}
	return nil
}

// kindAssets reads extra.asset / extra.assets (addresses, or objects with an
// "address" or "asset" field); listed is false when extra names no assets.
func kindAssets(extra json.RawMessage) (assets []string, listed bool) {
	var e struct {
		Asset  string            `json:"asset"`
		Assets []json.RawMessage `json:"assets"`
	}
	if len(extra) == 0 || json.Unmarshal(extra, &e) != nil {
		return nil, false
	}
	if e.Asset != "" {
		assets = append(assets, e.Asset)
	}
	for _, raw := range e.Assets {
		var s string
		var o struct{ Address, Asset string }
		switch {
		case json.Unmarshal(raw, &s) == nil:
			assets = append(assets, s)
		case json.Unmarshal(raw, &o) == nil:
			assets = append(assets, o.Address, o.Asset)
		}
	}
	return assets, e.Asset != "" || e.Assets != nil
}

// Capability bounds: how long cold start waits for the first /supported
// answer, the per-attempt timeout and the retry backoff.
const (
	CapabilitiesInitWait = 2 * time.Second
	capabilitiesTimeout  = 5 * time.Second
	capabilitiesRetryMin = time.Second
	capabilitiesRetryMax = time.Minute
)

// Checked is a facilitator whose /supported answer is checked against the
// offers' needs in the background, once per cold start (retried while the
// facilitator is unreachable). Once the answer shows a need it does not
// serve, Verify and Settle refuse without calling it.
type Checked struct {
	Facilitator
	first chan struct{}

	mu   sync.Mutex
	perm error // the mismatch, once known
}

// CheckCapabilities starts the check when f is a Lister (otherwise it returns
// f unchanged, wrapped) and returns at once.
func CheckCapabilities(f Facilitator, needs []Need, log *slog.Logger) *Checked {
	c := &Checked{Facilitator: f, first: make(chan struct{})}
	l, ok := f.(Lister)
	if !ok || len(needs) == 0 {
		close(c.first)
		return c
	}
	if log == nil {
		log = slog.Default()
	}
	go c.run(l, needs, log)
	return c
}

func (c *Checked) run(l Lister, needs []Need, log *slog.Logger) {
	backoff := capabilitiesRetryMin
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), capabilitiesTimeout)
		s, err := l.Supported(ctx)
		cancel()
		if err == nil {
			if perm := s.Check(needs); perm != nil {
				var ve *config.VarError
				errors.As(perm, &ve)
				log.Error("the facilitator does not serve the configured offer", slog.String("variable", ve.Var),
					slog.String("error", perm.Error()))
				c.mu.Lock()
				c.perm = perm
				c.mu.Unlock()
			} else if attempt > 0 {
				log.Info("facilitator capabilities checked")
			}
		} else if attempt == 0 || backoff == capabilitiesRetryMax {
			log.Warn("facilitator capabilities unavailable; retrying in the background", slog.String("error", err.Error()))
		}
		if attempt == 0 {
			close(c.first)
		}
		if err == nil {
			return
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, capabilitiesRetryMax)
	}
}

// WaitFirst waits for the first answer, at most wait, and returns the
// mismatch it showed (a *config.VarError), nil otherwise (including no answer).
func (c *Checked) WaitFirst(wait time.Duration) error {
	select {
	case <-c.first:
	case <-time.After(wait): // collected once it fires or is unreferenced (Go 1.23)
		return nil
	}
	return c.Mismatch()
}

// Mismatch is the variable error the check found, nil while none is known.
func (c *Checked) Mismatch() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.perm
}

func (c *Checked) refuse(op string) error {
	if err := c.Mismatch(); err != nil {
		return &Error{Op: op, Message: "the facilitator does not serve this offer (the function's logs name the variable)",
			Definitive: true, Err: err}
	}
	return nil
}

// Verify refuses once a mismatch is known, else delegates.
func (c *Checked) Verify(ctx context.Context, req Request) (*VerifyResult, error) {
	if err := c.refuse("verify"); err != nil {
		return nil, err
	}
	return c.Facilitator.Verify(ctx, req)
}

// Settle refuses once a mismatch is known, else delegates.
func (c *Checked) Settle(ctx context.Context, req Request) (*SettleResult, error) {
	if err := c.refuse("settle"); err != nil {
		return nil, err
	}
	return c.Facilitator.Settle(ctx, req)
}

// String names the wrapped facilitator (logs).
func (c *Checked) String() string { return fmt.Sprintf("%T", c.Facilitator) }
