package devenv

import (
	"context"
	"fmt"

	"github.com/insforge/edge-functions-go/scripts/internal/devissuer"
	"github.com/insforge/edge-functions-go/scripts/internal/samtemplate"
)

// DevPaymentRecipient receives the (mock) x402 payments in development.
const DevPaymentRecipient = "0x00000000000000000000000000000000DeaDBeef"

// DevAllowedOrigins are the usual SPA dev-server origins.
const DevAllowedOrigins = "http://localhost:5173,http://127.0.0.1:5173,http://localhost:8080"

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

func (e *Env) startDev(ctx context.Context, o Options, fns []samtemplate.Function, file envVarsFile) (*devProfile, error) {
	addr := o.IssuerAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	is, err := devissuer.Start(addr)
	if err != nil {
		return nil, err
	}
	e.Issuer = is
	e.closers = append(e.closers, func() { _ = is.Close() })

	p := &devProfile{common: map[string]string{}, provider: map[string]map[string]string{},
		skip: map[string]map[string]bool{}, varOwner: map[string]string{}}
	for _, prov := range devissuer.Providers {
		p.provider[prov] = is.Env(prov)
		for k := range p.provider[prov] {
			p.varOwner[k] = prov
		}
	}
	for _, f := range fns {
		p.skip[f.LogicalID] = map[string]bool{}
		for _, prov := range devissuer.Providers {
			if userSet(file, f.LogicalID, devissuer.PrimaryVar(prov)) {
				p.skip[f.LogicalID][prov] = true
				e.Notes = append(e.Notes, fmt.Sprintf("%s: %s is configured, so it talks to the real %s (not the dev issuer)",
					f.LogicalID, devissuer.PrimaryVar(prov), prov))
			}
		}
	}

	// One generated secret for every bridge, unless the developer brought their own.
	if !anyUserSet(file, fns, "INSFORGE_JWT_SECRET") {
		e.JWTSecret = randomSecret()
		p.common["INSFORGE_JWT_SECRET"] = e.JWTSecret
	}
	p.common["ALLOWED_ORIGINS"] = DevAllowedOrigins
	p.common["LOG_LEVEL"] = "INFO"
	// x402 in development: the mock facilitator (functions refuse it in production)
	// with a placeholder recipient; local signature checks still run.
	p.common["ENVIRONMENT"] = "development"
	p.common["MOCK_OKX_FACILITATOR"] = "true"
	p.common["PAYMENT_RECIPIENT"] = DevPaymentRecipient

	if !anyUserSet(file, fns, "INSFORGE_BASE_URL") && needsInsforge(fns) {
		base, key, closeStack, err := startInsforge(ctx, o)
		if err != nil {
			e.Notes = append(e.Notes, "InsForge local stack not started ("+err.Error()+"): x402 functions have no ledger; set INSFORGE_BASE_URL and INSFORGE_SERVICE_KEY to use a real project")
		} else {
			e.closers = append(e.closers, closeStack)
			p.common["INSFORGE_BASE_URL"] = base
			p.common["INSFORGE_SERVICE_KEY"] = key
			e.Notes = append(e.Notes, "InsForge local stack (throwaway PostgreSQL) at "+base)
		}
	}
	return p, nil
}

func anyUserSet(file envVarsFile, fns []samtemplate.Function, name string) bool {
	for _, f := range fns {
		if userSet(file, f.LogicalID, name) {
			return true
		}
	}
	return false
}

func needsInsforge(fns []samtemplate.Function) bool {
	for _, f := range fns {
		if _, ok := f.Env["INSFORGE_BASE_URL"]; ok {
			return true
		}
	}
	return false
}
