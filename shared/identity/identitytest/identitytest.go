// Package identitytest starts the identity emulator's pieces (shared/localidentity)
// on httptest servers for a test or benchmark: a JWKS/discovery issuer with RS256
// or EdDSA keys, and strict Stytch and Better Auth session APIs. Servers close when
// the test ends; a protocol violation seen by a session API fails the test.
package identitytest

import (
	"net/http/httptest"
	"testing"

	"github.com/insforge/edge-functions-go/shared/localidentity"
)

// Types, misbehaviour modes and signing helpers of the emulator, re-exported for tests.
type (
	User = localidentity.User
	Key  = localidentity.Key
	Mode = localidentity.Mode
)

const Up, Down, Slow, Garbage, Huge = localidentity.Up, localidentity.Down, localidentity.Slow, localidentity.Garbage, localidentity.Huge

var SignWith, Unsigned, JWK = localidentity.SignWith, localidentity.Unsigned, localidentity.JWK

// Issuer is a localidentity.Issuer served at the root of its own server.
type Issuer struct {
	*localidentity.Issuer
	Server *httptest.Server
}

// NewIssuer starts an issuer for alg (RS256 or EdDSA) with one key.
func NewIssuer(t testing.TB, alg string) *Issuer {
	t.Helper()
	li, err := localidentity.NewIssuer(alg)
	if err != nil {
		t.Fatalf("identitytest: %v", err)
	}
	i := &Issuer{Issuer: li, Server: httptest.NewServer(li)}
	t.Cleanup(i.Server.Close)
	return i
}

// URL is the issuer server's base URL (also the discovery document's issuer).
func (i *Issuer) URL() string { return i.Server.URL }

// JWKSURL is a URL of the key set.
func (i *Issuer) JWKSURL() string { return i.Server.URL + "/jwks" }

// StytchAPI is the strict Stytch emulation on its own server.
type StytchAPI struct {
	*localidentity.StytchAPI
	Server *httptest.Server
}

// NewStytchAPI starts the emulation; iss (optional) serves the JWKS at
// /v1/sessions/jwks/<projectID>.
func NewStytchAPI(t testing.TB, projectID, secret string, iss *Issuer) *StytchAPI {
	t.Helper()
	api := localidentity.NewStytchAPI(projectID, secret, unwrap(iss))
	s := &StytchAPI{StytchAPI: api, Server: httptest.NewServer(api)}
	t.Cleanup(s.Server.Close)
	failOnViolations(t, "stytch", api.Violations)
	return s
}

// BetterAuthAPI is the strict Better Auth emulation on its own server.
type BetterAuthAPI struct {
	*localidentity.BetterAuthAPI
	Server *httptest.Server
}

// NewBetterAuthAPI starts the emulation; iss (optional) serves the JWKS at
// <BasePath>/jwks.
func NewBetterAuthAPI(t testing.TB, iss *Issuer) *BetterAuthAPI {
	t.Helper()
	api := localidentity.NewBetterAuthAPI(unwrap(iss))
	b := &BetterAuthAPI{BetterAuthAPI: api, Server: httptest.NewServer(api)}
	t.Cleanup(b.Server.Close)
	failOnViolations(t, "better-auth", api.Violations)
	return b
}

func unwrap(iss *Issuer) *localidentity.Issuer {
	if iss == nil {
		return nil
	}
	return iss.Issuer
}

// failOnViolations fails the test at cleanup for every protocol violation seen.
func failOnViolations(t testing.TB, name string, violations func() []string) {
	t.Cleanup(func() {
		for _, v := range violations() {
			t.Errorf("%s fake: protocol violation: %s", name, v)
		}
	})
}
