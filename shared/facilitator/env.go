package facilitator

import (
	"fmt"
	"strings"

	"github.com/insforge/edge-functions-go/shared/config"
)

// Env is the facilitator configuration shared by the paid functions and the
// reconciler, loaded with config.Load.
type Env struct {
	OKXAPIKey       string `envconfig:"OKX_API_KEY"`
	OKXSecretKey    string `envconfig:"OKX_SECRET_KEY"`
	OKXPassphrase   string `envconfig:"OKX_PASSPHRASE"`
	OKXBaseURL      string `envconfig:"OKX_BASE_URL" default:"https://web3.okx.com"`
	OKXAPI          string `envconfig:"OKX_API" default:"v2"`
	MockFacilitator bool   `envconfig:"MOCK_OKX_FACILITATOR" default:"false"`
	config.Environment
}

// Validate names the variable at fault. Mock mode is allowed only where
// ENVIRONMENT is explicitly development or test.
func (e Env) Validate() error {
	if e.OKXAPI != APIV1 && e.OKXAPI != APIV2 {
		return fmt.Errorf("OKX_API must be v2 or v1, got %q", e.OKXAPI)
	}
	if e.MockFacilitator {
		if !MockAllowed(e.Environment) {
			return ErrMockInProduction
		}
		return nil
	}
	if _, err := config.CheckURL("OKX_BASE_URL", e.OKXBaseURL); err != nil {
		return err
	}
	for _, v := range []struct{ name, val string }{
		{"OKX_API_KEY", e.OKXAPIKey}, {"OKX_SECRET_KEY", e.OKXSecretKey}, {"OKX_PASSPHRASE", e.OKXPassphrase},
	} {
		if strings.TrimSpace(v.val) == "" {
			return fmt.Errorf("%s is required unless MOCK_OKX_FACILITATOR=true", v.name)
		}
	}
	return nil
}

// Build returns the OKX client, or the mock when MOCK_OKX_FACILITATOR=true.
func (e Env) Build() (Facilitator, error) {
	if e.MockFacilitator {
		return NewMock(e.Environment)
	}
	return NewOKX(OKXConfig{
		BaseURL: e.OKXBaseURL, APIKey: e.OKXAPIKey, SecretKey: e.OKXSecretKey, Passphrase: e.OKXPassphrase, API: e.OKXAPI,
	})
}
