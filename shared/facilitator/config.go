package facilitator

import (
	"log/slog"
	"strings"

	"github.com/insforge/edge-functions-go/shared/config"
)

// Config is the facilitator configuration shared by the paid functions and the
// reconciler, loaded with config.Load.
type Config struct {
	OKXAPIKey       string `envconfig:"OKX_API_KEY" secret:"true"`
	OKXSecretKey    string `envconfig:"OKX_SECRET_KEY" secret:"true"`
	OKXPassphrase   string `envconfig:"OKX_PASSPHRASE" secret:"true"`
	OKXBaseURL      string `envconfig:"OKX_BASE_URL" default:"https://web3.okx.com"`
	OKXAPI          string `envconfig:"OKX_API" default:"v2"`
	MockFacilitator bool   `envconfig:"MOCK_OKX_FACILITATOR" default:"false"`
	config.Environment
}

// Validate names the variable at fault. Mock mode is allowed only where
// ENVIRONMENT is explicitly development or test.
func (c Config) Validate() error {
	if c.OKXAPI != APIV1 && c.OKXAPI != APIV2 {
		return config.Invalid("OKX_API", "must be v2 or v1")
	}
	if c.MockFacilitator {
		if !MockAllowed(c.Environment) {
			return &config.VarError{Var: "MOCK_OKX_FACILITATOR", Err: ErrMockInProduction}
		}
		return nil
	}
	if _, err := config.CheckURL("OKX_BASE_URL", c.OKXBaseURL); err != nil {
		return err
	}
	for _, v := range []struct{ name, val string }{
		{"OKX_API_KEY", c.OKXAPIKey}, {"OKX_SECRET_KEY", c.OKXSecretKey}, {"OKX_PASSPHRASE", c.OKXPassphrase},
	} {
		if strings.TrimSpace(v.val) == "" {
			return config.Invalid(v.name, "is required unless MOCK_OKX_FACILITATOR=true")
		}
	}
	return nil
}

// FromConfig returns the OKX client, or the mock when MOCK_OKX_FACILITATOR=true
// (only where ENVIRONMENT is development or test), warning on log (nil: no
// warning) that payments will not settle.
func FromConfig(c Config, log *slog.Logger) (Facilitator, error) {
	if c.MockFacilitator {
		m, err := NewMock(c.Environment)
		if err != nil {
			return nil, err
		}
		if log != nil {
			log.Warn("MOCK_OKX_FACILITATOR=true: payments are verified locally but never settled on-chain")
		}
		return m, nil
	}
	return NewOKX(OKXOptions{
		BaseURL: c.OKXBaseURL, APIKey: c.OKXAPIKey, SecretKey: c.OKXSecretKey, Passphrase: c.OKXPassphrase, API: c.OKXAPI,
	})
}
