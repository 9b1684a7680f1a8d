package paywall

import (
	"errors"
	"time"

	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/metrics"
	"github.com/insforge/edge-functions-go/shared/x402"
)

// Options wire a paywall: its collaborators and tuning (zero fields take the defaults).
type Options struct {
	Offer       *x402.Offer
	Facilitator facilitator.Facilitator
	Ledger      Ledger
	// Endpoint and Summary are recorded in each row (endpoint, response_summary).
	Endpoint string
	Summary  string
	// Mock marks rows as mock (MOCK_OKX_FACILITATOR=true). A row proves payment
	// only to a paywall of the same mode.
	Mock bool
	// Now is the clock (nil = time.Now).
	Now func() time.Time
	// SettleRecordAttempts bounds the tries to record a settlement (default 3),
	// within the invocation's deadline. A failure leaves the pending row for the
	// reconciler and answers 202: the content is delivered once, later.
	SettleRecordAttempts int
	// SettleRecordBackoff is the first pause between those tries (default 100 ms).
	SettleRecordBackoff time.Duration
	// PendingRetryAfter is sent with 202 "settlement pending" answers (default 10 s).
	PendingRetryAfter time.Duration
	// Metrics receives the payment outcomes (CloudWatch EMF); nil records nothing.
	Metrics *metrics.Recorder

	// Abuse bounds, all before any upstream call. PayerPerMinute and
	// IPPerMinute are token-bucket rates for new authorizations per payer and per
	// source IP (0 = default, negative = off); bursts default to the rate.
	PayerPerMinute, PayerBurst int
	IPPerMinute, IPBurst       int
	// MaxConcurrentUpstream bounds facilitator calls in flight in this
	// instance (default 16): a verify past it is refused (503 + Retry-After),
	// a settle waits for a slot within its deadline.
	MaxConcurrentUpstream int
	// Balances, when set (XLAYER_RPC_URL), refuses payers whose token balance is
	// below the price before verify; answers are cached for BalanceCacheTTL (default 15 s).
	Balances        BalanceReader
	BalanceCacheTTL time.Duration

	// Deadlines. Every step runs under the invocation's deadline (the request
	// context's, i.e. the Lambda's remaining time); Budget is used when the
	// request has none (default 25 s). SettleTimeout and RecordTimeout are what
	// settle and its record may take (defaults 20 s and 3 s): when less is left,
	// the claim is released and the answer is 503 before settling.
	Budget        time.Duration
	SettleTimeout time.Duration
	RecordTimeout time.Duration
	// MaxResponseBytes bounds the buffered paid response (default 6 MiB).
	MaxResponseBytes int
}

// New validates cfg.
func New(cfg Options) (*Paywall, error) {
	if cfg.Offer == nil || cfg.Facilitator == nil || cfg.Ledger == nil {
		return nil, errors.New("paywall: Offer, Facilitator and Ledger are required")
	}
	if cfg.Endpoint == "" {
		return nil, errors.New("paywall: Endpoint is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt(&cfg.SettleRecordAttempts, 3)
	defDur(&cfg.SettleRecordBackoff, 100*time.Millisecond)
	defDur(&cfg.PendingRetryAfter, 10*time.Second)
	defInt(&cfg.PayerPerMinute, 20)
	defInt(&cfg.IPPerMinute, 60)
	defInt(&cfg.MaxConcurrentUpstream, 16)
	defDur(&cfg.BalanceCacheTTL, 15*time.Second)
	defDur(&cfg.Budget, 25*time.Second)
	defDur(&cfg.SettleTimeout, 20*time.Second)
	defDur(&cfg.RecordTimeout, 3*time.Second)
	defInt(&cfg.MaxResponseBytes, DefaultMaxResponseBytes)
	p := &Paywall{
		cfg: cfg, verifier: &x402.Verifier{Offer: cfg.Offer, Now: cfg.Now},
		payers:   newLimiter(cfg.PayerPerMinute, cfg.PayerBurst, 10000),
		ips:      newLimiter(cfg.IPPerMinute, cfg.IPBurst, 10000),
		upstream: make(chan struct{}, max(1, cfg.MaxConcurrentUpstream)),
	}
	if cfg.Balances != nil {
		p.balances = &balanceCache{r: cfg.Balances, ttl: cfg.BalanceCacheTTL, m: map[string]balanceEntry{}}
	}
	return p, nil
}
