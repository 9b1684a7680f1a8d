package identity

import (
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/insforge/edge-functions-go/shared/config"
)

// Bridge declares one provider bridge as data: the identity emulator
// (shared/localidentity), the dev tokens, the test harnesses and the dev runner
// iterate Bridges instead of keeping their own lists. Each provider's file
// declares its Bridge next to its Config and constructor and registers it in an
// init (func init() { register(&KindeBridge) }), so no list names the providers.
//
// Registering makes every declaration reachable, so every binary that links
// this package (each provider bridge, and token-wallet through shared/bridge)
// links every provider's Config, validation and constructor, though it only
// runs its own: measured for linux/arm64 with make size-check's flags, token-kinde
// 6.82 → 7.08 MB and token-wallet 7.47 → 7.93 MB, under the 8 MB bridge budget
// that make size-check enforces.
type Bridge struct {
	// Slug names the route (/token/<slug>), the function (functions/token-<slug>)
	// and the dev token (dev-token <slug>).
	Slug string
	// Name is the provider as it spells itself (logs, docs, errors).
	Name string
	// Alg is the signature algorithm of the provider's JWTs.
	Alg string
	// IssuerVar, JWKSVar and AudienceVar are the variables that point the bridge at
	// an issuer, its key set and the expected audience ("" when it has none).
	IssuerVar, JWKSVar, AudienceVar string
	// Config returns a pointer to a zero configuration, the struct config.Load fills.
	Config func() any
	// Load builds the provider from the environment exactly as its function does
	// (config.Load, Validate, constructor).
	Load func(Options) (*Provider, error)
	// Deploy is how `make deploy` (scripts/internal/deployplan) picks this bridge.
	// A bridge that needs more than template parameters (a secret of its own) is
	// written out in the deploy plan instead and leaves Deploy empty.
	Deploy Deploy
}

// Deploy names the template Condition that deploys a bridge and the template
// parameters an operator is asked for when picking it, the first being the one
// the Condition tests.
type Deploy struct {
	Condition string
	Params    []DeployParam
}

// DeployParam is one template parameter: what to ask, where the operator finds
// the value, and a well-formed sample (tests and the deploy rehearsal; never a
// real credential).
type DeployParam struct {
	Name, Prompt, Where, Sample string
}

// Bridges lists every registered provider bridge, sorted by slug (the dev
// banner, the dev tokens and the test suites see one stable order).
var Bridges []*Bridge

// register adds b to Bridges, kept sorted by slug. Providers call it from their
// file's init; a second bridge with the same slug is a programming error.
func register(b *Bridge) {
	i, found := slices.BinarySearchFunc(Bridges, b.Slug, func(e *Bridge, slug string) int { return strings.Compare(e.Slug, slug) })
	if found {
		panic("identity: bridge " + b.Slug + " registered twice")
	}
	Bridges = slices.Insert(Bridges, i, b)
}

// BridgeNamed returns the bridge declared with slug, or nil.
func BridgeNamed(slug string) *Bridge {
	for _, b := range Bridges {
		if b.Slug == slug {
			return b
		}
	}
	return nil
}

// Slugs returns the slugs of Bridges in order.
func Slugs() []string {
	out := make([]string, len(Bridges))
	for i, b := range Bridges {
		out[i] = b.Slug
	}
	return out
}

// Primary is the first required variable: when it is set, the real provider is
// configured (the dev runner then leaves the provider's variables alone).
func (b *Bridge) Primary() string {
	t := reflect.TypeOf(b.Config()).Elem()
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.Tag.Get("required") == "true" {
			return f.Tag.Get("envconfig")
		}
	}
	return ""
}

// Vars returns the sorted names of every variable b's configuration reads.
func (b *Bridge) Vars() []string {
	var out []string
	collectVars(reflect.TypeOf(b.Config()).Elem(), &out)
	sort.Strings(out)
	return out
}

func collectVars(t reflect.Type, out *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			collectVars(f.Type, out)
			continue
		}
		if name := f.Tag.Get("envconfig"); name != "" {
			*out = append(*out, name)
		}
	}
}

// loadWith fills C from the environment (config.Load validates it) and builds
// the provider with newProvider.
func loadWith[C any](newProvider func(C, Options) (*Provider, error), o Options) (*Provider, error) {
	var c C
	if err := config.Load(&c); err != nil {
		return nil, err
	}
	return newProvider(c, o)
}
