package onchain

import (
	"context"
	"net/http"
	"time"

	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
)

// Dial connects an ethclient to an HTTP(S) JSON-RPC endpoint whose HTTP client
// refuses redirects (a 3xx is an error, never followed) and bounds every
// request; each call also carries its caller's deadline.
func Dial(url string) (*ethclient.Client, error) {
	hc := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c, err := rpc.DialOptions(context.Background(), url, rpc.WithHTTPClient(hc))
	if err != nil {
		return nil, err
	}
	return ethclient.NewClient(c), nil
}
