// Package insforge is the one client for InsForge's records API
// (/api/database/records, /api/database/rpc, /api/health). It authenticates with
// the project's service key (ik_…, sent only as Authorization: Bearer, which maps
// to the BYPASSRLS role project_admin) or with a user JWT (role authenticated, RLS
// applies). Failures are *Error values matching the package sentinels.
//
// Retries: only idempotent requests (GET/HEAD, or writes the caller marks
// Idempotent()) are retried, with jittered exponential backoff, and only on
// network errors, 5xx and 429. A non-idempotent insert is never repeated by this
// package: a lost response could otherwise record a row twice.
package insforge

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/internal/positive"
)

// Defaults.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxRetries       = 2
	DefaultMaxResponseBytes = 4 << 20
	DefaultBackoff          = 100 * time.Millisecond
	DefaultMaxBackoff       = 2 * time.Second
)

// ServiceKeyPrefix starts every InsForge API (service) key.
const ServiceKeyPrefix = "ik_"

// Config is the environment a function that writes with the service key needs.
type Config struct {
	BaseURL    string        `envconfig:"INSFORGE_BASE_URL" required:"true"`
	ServiceKey string        `envconfig:"INSFORGE_SERVICE_KEY" required:"true" secret:"true"`
	Timeout    time.Duration `envconfig:"INSFORGE_TIMEOUT" default:"10s"`
	MaxRetries int           `envconfig:"INSFORGE_MAX_RETRIES" default:"2"`
}

// Validate checks the URL (https, or http to loopback) and the key's shape. The
// key itself never appears in a message.
func (c Config) Validate() error {
	if _, err := config.CheckURL("INSFORGE_BASE_URL", c.BaseURL); err != nil {
		return err
	}
	if !strings.HasPrefix(c.ServiceKey, ServiceKeyPrefix) || len(c.ServiceKey) <= len(ServiceKeyPrefix) {
		return config.Invalid("INSFORGE_SERVICE_KEY", "must be an InsForge API key starting with %q", ServiceKeyPrefix)
	}
	if c.Timeout <= 0 || c.Timeout > 2*time.Minute {
		return config.Invalid("INSFORGE_TIMEOUT", "must be between 0 and 2m")
	}
	if c.MaxRetries < 0 || c.MaxRetries > 10 {
		return config.Invalid("INSFORGE_MAX_RETRIES", "must be between 0 and 10")
	}
	return nil
}

// Options configure a Client. Zero fields take the defaults above, except
// MaxRetries: 0 means none (FromConfig passes INSFORGE_MAX_RETRIES, whose
// default is DefaultMaxRetries).
type Options struct {
	BaseURL string // e.g. https://abc123.us-east.insforge.app
	// Token is the bearer: the service key (ik_…) or a user JWT.
	Token            string
	HTTPClient       *http.Client  // default: a client with Timeout
	Timeout          time.Duration // per attempt; the caller's context bounds the whole call
	MaxRetries       int           // extra attempts for idempotent requests; 0 or negative = none
	MaxResponseBytes int64
	Backoff          time.Duration // first backoff; doubles, with full jitter
	MaxBackoff       time.Duration
	UserAgent        string
}

// Client talks to one InsForge project with one credential. It is safe for
// concurrent use.
type Client struct {
	base    *url.URL
	token   string
	hc      *http.Client
	retries int
	maxBody int64
	backoff time.Duration
	maxBack time.Duration
	ua      string
}

// New builds a client. The base URL must pass config.CheckURL.
func New(o Options) (*Client, error) {
	u, err := config.CheckURL("INSFORGE_BASE_URL", o.BaseURL)
	if err != nil {
		return nil, err
	}
	u.Path = strings.TrimRight(u.Path, "/")
	if strings.TrimSpace(o.Token) == "" {
		return nil, errors.New("insforge: a token (service key or user JWT) is required")
	}
	c := &Client{base: u, token: o.Token, hc: o.HTTPClient, retries: max(o.MaxRetries, 0),
		maxBody: positive.Or(o.MaxResponseBytes, DefaultMaxResponseBytes), backoff: positive.Or(o.Backoff, DefaultBackoff),
		maxBack: positive.Or(o.MaxBackoff, DefaultMaxBackoff), ua: cmp.Or(o.UserAgent, "edge-functions-go/insforge")}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: positive.Or(o.Timeout, DefaultTimeout)}
	}
	return c, nil
}

// FromConfig builds a service-key client from Config.
func FromConfig(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return New(Options{BaseURL: cfg.BaseURL, Token: cfg.ServiceKey, Timeout: cfg.Timeout, MaxRetries: cfg.MaxRetries})
}

// WithToken returns a copy of c that sends token (e.g. a user JWT) instead.
func (c *Client) WithToken(token string) *Client {
	cp := *c
	cp.token = token
	return &cp
}

// WriteOption tunes an insert, update, delete or RPC call.
type WriteOption func(*writeOpts)

type writeOpts struct {
	onConflict []string
	resolution string
	idempotent bool
}

// OnConflict names the unique columns used for conflict resolution (on_conflict=).
func OnConflict(cols ...string) WriteOption {
	return func(o *writeOpts) { o.onConflict = cols }
}

// IgnoreDuplicates makes an insert skip rows that hit a unique constraint
// (Prefer: resolution=ignore-duplicates); skipped rows are absent from the result.
func IgnoreDuplicates() WriteOption {
	return func(o *writeOpts) { o.resolution = "ignore-duplicates" }
}

// MergeDuplicates turns an insert into an upsert (Prefer: resolution=merge-duplicates).
func MergeDuplicates() WriteOption {
	return func(o *writeOpts) { o.resolution = "merge-duplicates" }
}

// Idempotent marks a write as safe to repeat (e.g. a PATCH by unique key setting
// fixed values, or an insert with IgnoreDuplicates), enabling retries for it.
// A conditional update (filtered on the state it changes) is not: when its
// answer is lost, a repeat matches nothing and reports "no row" for a write
// that committed. Resolve those by re-reading the row instead (shared/ledger).
func Idempotent() WriteOption {
	return func(o *writeOpts) { o.idempotent = true }
}

func collect(opts []WriteOption) writeOpts {
	var o writeOpts
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Insert inserts rows (a struct/map for one row, a slice for many) into table.
// When out is non-nil the inserted rows are returned (Prefer:
// return=representation) and decoded into it, which must then be a pointer to a
// slice. A duplicate surfaces as an *Error matching ErrUniqueViolation.
func (c *Client) Insert(ctx context.Context, table string, rows any, out any, opts ...WriteOption) error {
	o := collect(opts)
	q := url.Values{}
	if len(o.onConflict) > 0 {
		q.Set("on_conflict", strings.Join(o.onConflict, ","))
	}
	prefer := preferReturn(out)
	if o.resolution != "" {
		prefer += ",resolution=" + o.resolution
	}
	return c.do(ctx, http.MethodPost, recordsPath(table), q, rows, prefer, o.idempotent, out)
}

// Select reads rows matching q into out (a pointer to a slice).
func (c *Client) Select(ctx context.Context, table string, q *Query, out any) error {
	return c.do(ctx, http.MethodGet, recordsPath(table), q.Values(), nil, "", true, out)
}

// Update applies patch (a JSON object) to the rows matching q. With out non-nil the
// updated rows are decoded into it. An update without filters is refused here:
// PostgREST would update every row the caller can see.
func (c *Client) Update(ctx context.Context, table string, q *Query, patch any, out any, opts ...WriteOption) error {
	if q == nil || len(q.filters) == 0 {
		return errors.New("insforge: update without a filter is refused")
	}
	o := collect(opts)
	return c.do(ctx, http.MethodPatch, recordsPath(table), q.Values(), patch, preferReturn(out), o.idempotent, out)
}

// Delete removes the rows matching q (filters required). Deleting by filter is
// idempotent, so it is retried.
func (c *Client) Delete(ctx context.Context, table string, q *Query, out any) error {
	if q == nil || len(q.filters) == 0 {
		return errors.New("insforge: delete without a filter is refused")
	}
	return c.do(ctx, http.MethodDelete, recordsPath(table), q.Values(), nil, preferReturn(out), true, out)
}

// RPC calls public.fn with named arguments (a JSON object, or nil) and decodes the
// result into out (nil discards it). RPCs are POSTs and not retried unless marked
// Idempotent().
func (c *Client) RPC(ctx context.Context, fn string, args any, out any, opts ...WriteOption) error {
	o := collect(opts)
	if args == nil {
		args = struct{}{}
	}
	return c.do(ctx, http.MethodPost, "/api/database/rpc/"+url.PathEscape(fn), nil, args, "", o.idempotent, out)
}

// Health is the answer of GET /api/health.
type Health struct {
	Status    string `json:"status"`
	Version   string `json:"version"`
	Service   string `json:"service"`
	Timestamp string `json:"timestamp"`
}

// Health calls /api/health and fails unless the status is "ok".
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	if err := c.do(ctx, http.MethodGet, "/api/health", nil, nil, "", true, &h); err != nil {
		return h, err
	}
	if h.Status != "ok" {
		return h, fmt.Errorf("insforge: health status %q", h.Status)
	}
	return h, nil
}

func recordsPath(table string) string { return "/api/database/records/" + url.PathEscape(table) }

func preferReturn(out any) string {
	if out != nil {
		return "return=representation"
	}
	return "return=minimal"
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, in any, prefer string, idempotent bool, out any) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("insforge: %s %s: encode body: %w", method, path, err)
		}
		body = b
	}
	u := *c.base
	u.Path += path
	u.RawPath = ""
	if esc := c.base.EscapedPath() + path; esc != u.EscapedPath() {
		u.RawPath = esc
	}
	u.RawQuery = q.Encode()

	attempts := 1
	if idempotent {
		attempts += c.retries
	}
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			if err := c.sleep(ctx, i); err != nil {
				return last
			}
		}
		status, data, err := c.once(ctx, method, u.String(), body, prefer)
		switch {
		case err != nil && ctx.Err() != nil:
			return fmt.Errorf("insforge: %s %s: %w", method, path, ctx.Err())
		case errors.Is(err, ErrResponseTooLarge):
			return fmt.Errorf("insforge: %s %s: %w", method, path, err)
		case err != nil:
			last = fmt.Errorf("insforge: %s %s: %w: %w", method, path, ErrUnavailable, err)
			continue
		case status >= 200 && status < 300:
			return decode(method, path, data, out)
		}
		e := parseError(method, path, status, data)
		if status >= 500 || status == http.StatusTooManyRequests {
			last = e
			continue
		}
		return e
	}
	return last
}

func (c *Client) sleep(ctx context.Context, attempt int) error {
	d := c.backoff << (attempt - 1)
	if d > c.maxBack || d <= 0 {
		d = c.maxBack
	}
	d = time.Duration(rand.Int64N(int64(d)) + 1) // full jitter
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *Client) once(ctx context.Context, method, u string, body []byte, prefer string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if prefer != "" {
		req.Header.Set("Prefer", prefer)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, scrub(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, c.maxBody+1))
	if err != nil {
		return 0, nil, err
	}
	if int64(len(data)) > c.maxBody {
		return 0, nil, fmt.Errorf("%w (cap %d bytes)", ErrResponseTooLarge, c.maxBody)
	}
	return res.StatusCode, data, nil
}

// scrub drops the URL from *url.Error: it never holds the token, but keeping
// errors free of query strings keeps user data out of logs.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

func decode(method, path string, data []byte, out any) error {
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("insforge: %s %s: decode response: %w", method, path, err)
	}
	return nil
}
