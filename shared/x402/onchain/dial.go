package onchain

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
)

// Dial connects an ethclient to an HTTP(S) JSON-RPC endpoint whose HTTP client
// refuses redirects (a 3xx is an error, never followed) and bounds every
// request; each call also carries its caller's deadline.
//
// No error it returns, now or on a later call, carries the URL's path, query or
// user info: RPC providers put their API key there (Infura /v3/<key>, Alchemy
// /v2/<key>), and net/http quotes the request URL in every transport error,
// which ends up in logs. So the RPC client and net/http only ever see
// scheme://host/, and the transport sends each request to the configured URL.
func Dial(endpoint string) (*ethclient.Client, error) {
	target, err := url.Parse(endpoint)
	if err != nil || target.Host == "" || (target.Scheme != "https" && target.Scheme != "http") {
		return nil, errors.New("onchain: the RPC URL must be an absolute http(s) URL")
	}
	shown := (&url.URL{Scheme: target.Scheme, Host: target.Host, Path: "/"}).String()
	hc := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     keyedTransport{base: http.DefaultTransport, target: target},
	}
	c, err := rpc.DialOptions(context.Background(), shown, rpc.WithHTTPClient(hc))
	if err != nil {
		return nil, fmt.Errorf("onchain: dial %s: %w", shown, err)
	}
	return ethclient.NewClient(c), nil
}

// keyedTransport sends every request to target (with its user info as basic
// auth), whatever URL the client built it for.
type keyedTransport struct {
	base   http.RoundTripper
	target *url.URL
}

func (t keyedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	u := *t.target
	u.User = nil
	out.URL = &u
	out.Host = ""
	if t.target.User != nil && out.Header.Get("Authorization") == "" {
		pass, _ := t.target.User.Password()
		out.SetBasicAuth(t.target.User.Username(), pass)
	}
	return t.base.RoundTrip(out)
}
