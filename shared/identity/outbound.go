package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// errTooLarge is returned when a provider response exceeds MaxResponseBytes.
var errTooLarge = fmt.Errorf("provider response exceeds %d bytes", MaxResponseBytes)

// capBody makes reads fail once more than max bytes have been read, so neither a
// JWKS nor an API response can exhaust memory.
func capBody(rc io.ReadCloser, max int64) io.ReadCloser {
	return &cappedBody{r: io.LimitReader(rc, max+1), c: rc, left: max}
}

type cappedBody struct {
	r    io.Reader
	c    io.Closer
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, errTooLarge
	}
	return n, err
}

func (b *cappedBody) Close() error { return b.c.Close() }

// noRedirects refuses redirects: credentials (Basic auth, session cookies) must
// never follow one to another host, and key material must come from the URL that
// was configured.
func noRedirects(req *http.Request, _ []*http.Request) error {
	return fmt.Errorf("refusing redirect to %s: configure the final URL", req.URL.Redacted())
}

// apiClient makes bounded calls to a provider API.
type apiClient struct{ http *http.Client }

func newAPIClient(o Options) apiClient {
	return apiClient{http: &http.Client{Timeout: o.Timeout, Transport: o.Transport, CheckRedirect: noRedirects}}
}

// do sends req and returns the status and the capped body. An error means the
// provider could not be reached or answered unreadably.
func (a apiClient) do(ctx context.Context, req *http.Request) (int, []byte, error) {
	res, err := a.http.Do(req.WithContext(ctx))
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(capBody(res.Body, MaxResponseBytes))
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return 0, nil, err
		}
		return 0, nil, fmt.Errorf("reading response: %w", err)
	}
	return res.StatusCode, body, nil
}
