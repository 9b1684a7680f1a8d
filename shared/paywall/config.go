package paywall

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/facilitator"
	"github.com/insforge/edge-functions-go/shared/x402"
)

// Env is the x402 configuration (issue item 8), loaded with config.Load.
type Env struct {
	PaymentRecipient  string `envconfig:"PAYMENT_RECIPIENT" required:"true"`
	Price             string `envconfig:"X402_PRICE" default:"1"`
	Network           string `envconfig:"X402_NETWORK" default:"eip155:196"`
	Asset             string `envconfig:"X402_ASSET" default:"0x4ae46a509f6b1d9056937ba4500cb143933d2dc8"`
	AssetName         string `envconfig:"X402_ASSET_NAME" default:"Global Dollar"`
	AssetVersion      string `envconfig:"X402_ASSET_VERSION" default:"1"`
	MaxTimeoutSeconds int    `envconfig:"X402_MAX_TIMEOUT_SECONDS" default:"300"`
	OKXAPIKey         string `envconfig:"OKX_API_KEY"`
	OKXSecretKey      string `envconfig:"OKX_SECRET_KEY"`
	OKXPassphrase     string `envconfig:"OKX_PASSPHRASE"`
	OKXBaseURL        string `envconfig:"OKX_BASE_URL" default:"https://web3.okx.com"`
	OKXAPI            string `envconfig:"OKX_API" default:"v2"`
	MockFacilitator   bool   `envconfig:"MOCK_OKX_FACILITATOR" default:"false"`
	config.Environment
}

// Validate checks every variable, naming the one at fault.
func (e Env) Validate() error {
	if !strings.HasPrefix(e.PaymentRecipient, "0x") || !common.IsHexAddress(e.PaymentRecipient) ||
		common.HexToAddress(e.PaymentRecipient) == (common.Address{}) {
		return errors.New("PAYMENT_RECIPIENT must be a non-zero 0x-prefixed EVM address")
	}
	if _, err := x402.ChainID(e.Network); err != nil {
		return fmt.Errorf("X402_NETWORK: %w", err)
	}
	if !strings.HasPrefix(e.Asset, "0x") || !common.IsHexAddress(e.Asset) {
		return errors.New("X402_ASSET must be a 0x-prefixed token address")
	}
	if _, err := x402.NewOffer(e.Params("")); err != nil {
		switch {
		case strings.Contains(err.Error(), "price"):
			return fmt.Errorf("X402_PRICE: %w", err)
		case strings.Contains(err.Error(), "maxTimeoutSeconds"):
			return fmt.Errorf("X402_MAX_TIMEOUT_SECONDS: %w", err)
		case strings.Contains(err.Error(), "domain"):
			return fmt.Errorf("X402_ASSET_NAME / X402_ASSET_VERSION: %w", err)
		}
		return err
	}
	if e.OKXAPI != facilitator.APIV1 && e.OKXAPI != facilitator.APIV2 {
		return fmt.Errorf("OKX_API must be v2 or v1, got %q", e.OKXAPI)
	}
	if e.MockFacilitator {
		if e.IsProduction() {
			return facilitator.ErrMockInProduction
		}
		return nil
	}
	if _, err := config.CheckURL("OKX_BASE_URL", e.OKXBaseURL); err != nil {
		return err
	}
	for name, v := range map[string]string{"OKX_API_KEY": e.OKXAPIKey, "OKX_SECRET_KEY": e.OKXSecretKey, "OKX_PASSPHRASE": e.OKXPassphrase} {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("%s is required unless MOCK_OKX_FACILITATOR=true", name)
		}
	}
	return nil
}

// Params returns the offer parameters.
func (e Env) Params(description string) x402.Params {
	return x402.Params{
		Network: e.Network, Asset: e.Asset, AssetName: e.AssetName, AssetVersion: e.AssetVersion,
		PayTo: e.PaymentRecipient, Price: e.Price, MaxTimeoutSeconds: e.MaxTimeoutSeconds,
		Description: description, MimeType: "application/json",
	}
}

// Facilitator builds the OKX client, or the mock when MOCK_OKX_FACILITATOR=true
// (refused in production).
func (e Env) Facilitator() (facilitator.Facilitator, error) {
	if e.MockFacilitator {
		return facilitator.NewMock(e.Environment)
	}
	return facilitator.NewOKX(facilitator.OKXConfig{
		BaseURL: e.OKXBaseURL, APIKey: e.OKXAPIKey, SecretKey: e.OKXSecretKey, Passphrase: e.OKXPassphrase, API: e.OKXAPI,
	})
}
