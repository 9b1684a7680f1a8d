package runner

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
	"github.com/insforge/edge-functions-go/shared/localidentity/devserver"
	"github.com/insforge/edge-functions-go/shared/x402gateway"
)

// DevPaymentRecipient receives the (mock) x402 payments in development.
const DevPaymentRecipient = "0x00000000000000000000000000000000DeaDBeef"

// DevAllowedOrigins are the usual SPA dev-server origins.
const DevAllowedOrigins = "http://localhost:5173,http://127.0.0.1:5173,http://localhost:8080"

// DevPassProducts are the passes on sale in development: the deployed stack has
// none until the operator lists them (template parameter PassProducts). Every
// function declaring X402_PASS_PRODUCTS gets them: the pass function sells
// them, the report lists them in GET /.well-known/x402.
const DevPassProducts = `[{"id":"pro","price":"10000","duration":"720h","description":"Premium reports for 30 days"}]`

// devProfile holds the development values. They are applied only to variables the
// template declares, below the shell and the env-vars file, and a provider's whole
// group is skipped when the developer set that provider's primary variable (they
// are testing against the real provider then).
type devProfile struct {
	common   map[string]string
	provider map[string]map[string]string // provider → vars
	skip     map[string]map[string]bool   // function → provider → skipped
	varOwner map[string]string            // var → provider
}

func (p *devProfile) value(fn, name string) (string, bool) {
	if prov, ok := p.varOwner[name]; ok {
		if p.skip[fn][prov] {
			return "", false
		}
		v, ok := p.provider[prov][name]
		return v, ok
	}
	v, ok := p.common[name]
	return v, ok
}

func (e *Runner) startDev(ctx context.Context, o Options, fns []samtemplate.Function, file envVarsFile) (*devProfile, error) {
	addr := o.IssuerAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	is, err := devserver.Start(addr)
	if err != nil {
		return nil, err
	}
	e.Issuer = is
	e.closers = append(e.closers, func() { _ = is.Close() })

	p := &devProfile{common: map[string]string{}, provider: map[string]map[string]string{},
		skip: map[string]map[string]bool{}, varOwner: map[string]string{}}
	for _, prov := range devserver.Providers {
		p.provider[prov] = is.Env(prov)
		for k := range p.provider[prov] {
			p.varOwner[k] = prov
		}
	}
	for _, f := range fns {
		p.skip[f.LogicalID] = map[string]bool{}
		for _, prov := range devserver.Providers {
			if userSet(file, f.LogicalID, devserver.PrimaryVar(prov)) {
				p.skip[f.LogicalID][prov] = true
				e.Notes = append(e.Notes, fmt.Sprintf("%s: %s is configured, so it talks to the real %s (not the dev issuer)",
					f.LogicalID, devserver.PrimaryVar(prov), prov))
			}
		}
	}

	// One secret for every bridge and the local InsForge stack: the developer's, or
	// generated for this run.
	secret, ok := userValue(file, fns, "INSFORGE_JWT_SECRET")
	if !ok {
		secret = randomSecret()
		e.JWTSecret = secret
		p.common["INSFORGE_JWT_SECRET"] = secret
	}
	p.common["ALLOWED_ORIGINS"] = DevAllowedOrigins
	p.common["LOG_LEVEL"] = "INFO"
	// x402 in development: the mock facilitator (functions refuse it in production)
	// with a placeholder recipient; local signature checks still run.
	p.common["ENVIRONMENT"] = "development"
	p.common["MOCK_OKX_FACILITATOR"] = "true"
	p.common["PAYMENT_RECIPIENT"] = DevPaymentRecipient
	// Both X Layer stablecoins, as agents hold either (x402.KnownAssets).
	p.common["X402_EXTRA_ASSETS"] = "USDT0"
	p.common["X402_PASS_PRODUCTS"] = DevPassProducts

	// x402 on the local devnet when asked, unless the developer configured a facilitator or an RPC.
	if o.Devnet {
		_, mock := userValue(file, fns, "MOCK_OKX_FACILITATOR")
		_, okx := userValue(file, fns, "OKX_BASE_URL")
		_, rpc := userValue(file, fns, "XLAYER_RPC_URL")
		switch c, err := StartDevChain(ctx); {
		case mock || okx || rpc:
			if err == nil {
				_ = c.Close()
			}
			e.Notes = append(e.Notes, "devnet not used: MOCK_OKX_FACILITATOR, OKX_BASE_URL or XLAYER_RPC_URL is configured")
		case err != nil:
			e.Notes = append(e.Notes, "local devnet not started ("+err.Error()+"): x402 uses the mock facilitator")
		default:
			e.Chain = c
			e.closers = append(e.closers, func() { _ = c.Close() })
			for k, v := range c.Vars() {
				p.common[k] = v
			}
		}
	}

	// The x402 gateway sells a tiny local upstream unless the developer names one.
	if _, given := userValue(file, fns, x402gateway.VarUpstreamURL); !given && needsUpstream(fns) {
		up, err := StartUpstream()
		if err != nil {
			e.Notes = append(e.Notes, "local gateway upstream not started: "+err.Error())
		} else {
			e.Upstream = up
			e.closers = append(e.closers, func() { _ = up.Close() })
			for k, v := range up.Vars() {
				p.common[k] = v
			}
		}
	}
	if _, given := userValue(file, fns, "INSFORGE_BASE_URL"); !given && needsInsforge(fns) {
		st, err := startInsforge(ctx, o, secret)
		if err != nil {
			e.InsforgeErr = err
			e.Notes = append(e.Notes, "InsForge local stack not started ("+err.Error()+
				"): x402 functions have no ledger; set INSFORGE_BASE_URL and INSFORGE_SERVICE_KEY to use a real project")
		} else {
			e.Insforge = st
			e.closers = append(e.closers, func() { _ = st.Close() })
			p.common["INSFORGE_BASE_URL"] = st.URL
			p.common["INSFORGE_SERVICE_KEY"] = st.ServiceKey
			p.common["INSFORGE_ANON_KEY"] = st.AnonKey // public: the dashboard page uses it for realtime
		}
	}
	return p, nil
}

// userValue is the developer's value of name for any of fns (env-vars file first,
// then the shell).
func userValue(file envVarsFile, fns []samtemplate.Function, name string) (string, bool) {
	for _, f := range fns {
		if v, ok := file.lookup(f.LogicalID, name); ok {
			return v, true
		}
	}
	if v, ok := os.LookupEnv(name); ok {
		return v, true
	}
	return "", false
}

func needsInsforge(fns []samtemplate.Function) bool {
	return slices.ContainsFunc(fns, NeedsInsforge)
}

// NeedsInsforge reports whether f reads an InsForge project (the ledger, used
// nonces, passes): in the dev profile, the local stack.
func NeedsInsforge(f samtemplate.Function) bool {
	_, ok := f.Env["INSFORGE_BASE_URL"]
	return ok
}
