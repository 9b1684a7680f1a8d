package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
)

// DiscoveryPath is appended to an issuer (without its trailing slash) to find its
// OpenID Provider metadata (OpenID Connect Discovery 1.0, section 4).
const DiscoveryPath = "/.well-known/openid-configuration"

// MaxDiscoveryBytes caps a discovery document; real ones are a few KiB.
const MaxDiscoveryBytes = 256 << 10

// Discovery bounds: how long cold start waits for the first discovery answer (a
// wrong issuer then fails init; a slow or unreachable provider does not), and
// how a failed discovery is retried in the background.
const (
	DiscoveryInitWait = 2 * time.Second
	discoveryRetryMin = time.Second
	discoveryRetryMax = time.Minute
)

// contradicted is a configuration value that the provider itself contradicts
// (the issuer its discovery document names, a jwks_uri that is not https, no
// usable algorithm): a *config.VarError naming the variable to change, with a
// reason that names no secret. It is permanent: retrying cannot fix it, the
// operator must.
func contradicted(variable, reason string) error {
	return &config.VarError{Var: variable, Err: errors.New(variable + ": " + reason)}
}

// discoveryDoc is the part of the provider metadata the bridge reads.
type discoveryDoc struct {
	Issuer  string   `json:"issuer"`
	JWKSURI string   `json:"jwks_uri"`
	IDAlgs  []string `json:"id_token_signing_alg_values_supported"`
}

// DiscoveryURL is where issuer publishes its metadata.
func DiscoveryURL(issuer string) string { return strings.TrimRight(issuer, "/") + DiscoveryPath }

// fetchDiscovery fetches and decodes the discovery document: no redirects, a
// deadline, a size cap. Every error it returns is transient (the provider may be
// down or mid-deploy); the caller checks the content.
func fetchDiscovery(ctx context.Context, api apiClient, url string) (discoveryDoc, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return discoveryDoc{}, err
	}
	req.Header.Set("Accept", "application/json")
	status, body, err := api.do(ctx, req)
	if err != nil {
		return discoveryDoc{}, fmt.Errorf("fetching %s: %w", url, err)
	}
	if status != http.StatusOK {
		return discoveryDoc{}, fmt.Errorf("fetching %s: status %d", url, status)
	}
	if len(body) > MaxDiscoveryBytes {
		return discoveryDoc{}, fmt.Errorf("fetching %s: document exceeds %d bytes", url, MaxDiscoveryBytes)
	}
	var d discoveryDoc
	if err := json.Unmarshal(body, &d); err != nil {
		return discoveryDoc{}, fmt.Errorf("decoding %s: %w", url, err)
	}
	return d, nil
}

// discovery resolves what the configuration leaves to the provider (JWKS URL,
// algorithms) and then builds the JWKS verifier. It runs in the background from
// cold start and retries transient failures with backoff until it succeeds or
// hits a *config.VarError.
type discovery struct {
	provider string
	url      string
	build    func(discoveryDoc) (*JWTVerifier, error) // *config.VarError for permanent problems
	api      apiClient
	log      *slog.Logger
	timeout  time.Duration
	cancel   context.CancelFunc
	first    chan struct{} // closed after the first attempt, whatever its outcome

	mu      sync.Mutex
	jwt     *JWTVerifier // set on success
	perm    error        // set on a *config.VarError
	lastErr error        // the last transient failure
}

func startDiscovery(provider, url string, o Options, build func(discoveryDoc) (*JWTVerifier, error)) *discovery {
	ctx, cancel := context.WithCancel(context.Background())
	d := &discovery{provider: provider, url: url, build: build, api: newAPIClient(o), log: o.Logger,
		timeout: o.Timeout, cancel: cancel, first: make(chan struct{}), lastErr: errors.New("discovery not fetched yet")}
	retry := min(discoveryRetryMin, o.UnknownKIDCooldown)
	go d.run(ctx, retry, max(retry, min(discoveryRetryMax, o.RefreshInterval)))
	return d
}

func (d *discovery) run(ctx context.Context, backoff, maxBackoff time.Duration) {
	for attempt := 0; ; attempt++ {
		err := d.attempt(ctx)
		var ce *config.VarError
		switch {
		case err == nil:
			if attempt > 0 {
				d.log.Info("oidc discovery recovered", slog.String("provider", d.provider), slog.String("url", d.url))
			}
		case errors.As(err, &ce):
			d.log.Error("oidc configuration does not match the provider", slog.String("provider", d.provider),
				slog.String("variable", ce.Var), slog.String("error", ce.Error()))
		case attempt == 0 || backoff == maxBackoff:
			// The first failure, then at most once per longest backoff: never once per retry.
			d.log.Error("oidc discovery failed", slog.String("provider", d.provider), slog.String("url", d.url),
				slog.String("error", err.Error()))
		}
		if attempt == 0 {
			close(d.first) // after logging, so what a request sees is already explained
		}
		if err == nil || ce != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// attempt fetches the document once and, when it is usable, builds the verifier.
func (d *discovery) attempt(ctx context.Context) error {
	actx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	doc, err := fetchDiscovery(actx, d.api, d.url)
	var jv *JWTVerifier
	if err == nil {
		jv, err = d.build(doc)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var ce *config.VarError
	switch {
	case err == nil:
		if ctx.Err() != nil { // closed meanwhile
			jv.Close()
			return ctx.Err()
		}
		d.jwt = jv
	case errors.As(err, &ce):
		d.perm = err
	default:
		d.lastErr = err
	}
	return err
}

// waitFirst waits for the first attempt, at most wait; it returns the permanent
// error when that attempt found one.
func (d *discovery) waitFirst(wait time.Duration) error {
	select {
	case <-d.first:
	case <-time.After(wait): // collected once it fires or is unreferenced (Go 1.23)
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.perm
}

// verifier returns the JWKS verifier once discovery succeeded. Before that a
// request gets KindUnavailable (try again) while the provider is unreachable, or
// KindMisconfigured when discovery showed the configuration to be wrong.
func (d *discovery) verifier(ctx context.Context) (*JWTVerifier, error) {
	select {
	case <-d.first:
	case <-ctx.Done():
		return nil, Unavailable(d.provider+" (discovery)", fmt.Errorf("waiting for %s: %w", d.url, ctx.Err()))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.jwt != nil:
		return d.jwt, nil
	case d.perm != nil:
		return nil, Misconfigured("the "+d.provider+" bridge is misconfigured: its settings contradict the provider's discovery document (the function's logs name the variable)", d.perm)
	}
	return nil, Unavailable(d.provider+" (discovery)", d.lastErr)
}

func (d *discovery) close() {
	d.cancel()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.jwt != nil {
		d.jwt.Close()
	}
}

// supportedAlgorithms keeps the asymmetric algorithms of a discovery document, in
// our order (HS* and none are never accepted from a JWKS).
func supportedAlgorithms(listed []string) []string {
	var out []string
	for _, a := range asymmetric {
		if slices.Contains(listed, a) {
			out = append(out, a)
		}
	}
	return out
}
