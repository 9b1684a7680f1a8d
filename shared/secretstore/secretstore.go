// Package secretstore reads secrets from AWS Secrets Manager with one signed
// GetSecretValue call: SigV4 from aws-sdk-go-v2's signer and net/http, nothing else.
// The full SDK client (service/secretsmanager + config) would add ~1.3 MB and a
// credential chain a Lambda function does not need (the runtime exports the role's
// credentials as environment variables); docs/benchmarks.md has the measurement.
package secretstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Reason classifies why a secret could not be read.
type Reason string

// Reasons a read fails. Each is reported with the secret's id, never its value.
const (
	NotFound     Reason = "not found"
	AccessDenied Reason = "access denied"
	Malformed    Reason = "malformed value"
	Unavailable  Reason = "unavailable"
)

// Error is a failed read of one secret.
type Error struct {
	SecretID string
	Reason   Reason
	Err      error // never carries the secret's value
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("secret %s: %s: %v", e.SecretID, e.Reason, e.Err)
	}
	return fmt.Sprintf("secret %s: %s", e.SecretID, e.Reason)
}

func (e *Error) Unwrap() error { return e.Err }

// MaxValueBytes caps a response: a Secrets Manager value is at most 64 KiB.
const MaxValueBytes = 128 << 10

// DefaultTimeout bounds one read (the Lambda init phase has 10 s in all).
const DefaultTimeout = 3 * time.Second

// Client calls Secrets Manager's GetSecretValue.
type Client struct {
	Endpoint    string // https://secretsmanager.<region>.amazonaws.com, or a loopback emulator
	Region      string
	Credentials aws.Credentials
	HTTP        *http.Client
	Now         func() time.Time
}

// FromEnv builds a Client from the variables Lambda sets for the execution role
// (AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN). The
// endpoint can be overridden with the SDKs' own AWS_ENDPOINT_URL_SECRETS_MANAGER or
// AWS_ENDPOINT_URL (https, or http to a loopback host such as a local moto_server).
func FromEnv() (*Client, error) {
	region := firstEnv("AWS_REGION", "AWS_DEFAULT_REGION")
	if region == "" {
		return nil, errors.New("AWS_REGION is not set")
	}
	key, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if key == "" || secret == "" {
		return nil, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets them from the function's role)")
	}
	endpoint := "https://secretsmanager." + region + ".amazonaws.com"
	if v := firstEnv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"); v != "" {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || !(u.Scheme == "https" || u.Scheme == "http" && isLoopback(u.Hostname())) {
			return nil, fmt.Errorf("AWS_ENDPOINT_URL_SECRETS_MANAGER/AWS_ENDPOINT_URL must be https, or http to a loopback host")
		}
		endpoint = strings.TrimRight(v, "/")
	}
	return &Client{
		Endpoint: endpoint,
		Region:   region,
		Credentials: aws.Credentials{
			AccessKeyID: key, SecretAccessKey: secret, SessionToken: os.Getenv("AWS_SESSION_TOKEN"),
		},
		HTTP: &http.Client{
			Timeout:       DefaultTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// Fields reads secret id and decodes its SecretString as a JSON object of strings
// ({"INSFORGE_JWT_SECRET":"…"}). Errors are *Error.
func (c *Client) Fields(ctx context.Context, id string) (map[string]string, error) {
	s, err := c.SecretString(ctx, id)
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil || raw == nil {
		return nil, &Error{SecretID: id, Reason: Malformed, Err: errors.New(`SecretString must be a JSON object {"VARIABLE":"value",...}`)}
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		var str string
		if err := json.Unmarshal(v, &str); err != nil {
			return nil, &Error{SecretID: id, Reason: Malformed, Err: fmt.Errorf("key %q must hold a string", k)}
		}
		out[k] = str
	}
	return out, nil
}

// SecretString returns the current SecretString of secret id (ARN or name).
func (c *Client) SecretString(ctx context.Context, id string) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	body, _ := json.Marshal(map[string]string{"SecretId": id})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return "", &Error{SecretID: id, Reason: Unavailable, Err: err}
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
	sum := sha256.Sum256(body)
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	if err := v4.NewSigner().SignHTTP(ctx, c.Credentials, req, hex.EncodeToString(sum[:]), "secretsmanager", c.Region, now()); err != nil {
		return "", &Error{SecretID: id, Reason: Unavailable, Err: err}
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	res, err := hc.Do(req)
	if err != nil {
		return "", &Error{SecretID: id, Reason: Unavailable, Err: err}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, MaxValueBytes+1))
	if err != nil {
		return "", &Error{SecretID: id, Reason: Unavailable, Err: err}
	}
	if len(raw) > MaxValueBytes {
		return "", &Error{SecretID: id, Reason: Malformed, Err: fmt.Errorf("response over %d bytes", MaxValueBytes)}
	}
	if res.StatusCode != http.StatusOK {
		return "", apiError(id, res, raw)
	}
	var out struct {
		SecretString *string `json:"SecretString"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return "", &Error{SecretID: id, Reason: Unavailable, Err: errors.New("unreadable GetSecretValue response")}
	}
	if out.SecretString == nil {
		return "", &Error{SecretID: id, Reason: Malformed, Err: errors.New("no SecretString (binary secrets are not supported)")}
	}
	return *out.SecretString, nil
}

// apiError maps an AWS JSON error ({"__type":"…#ResourceNotFoundException"}) to a
// Reason. The service's message is kept: it names the secret, not its value.
func apiError(id string, res *http.Response, raw []byte) error {
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
		Msg     string `json:"Message"`
	}
	_ = json.Unmarshal(raw, &e)
	typ := e.Type
	if typ == "" {
		typ = res.Header.Get("X-Amzn-Errortype")
	}
	if i := strings.LastIndexByte(typ, '#'); i >= 0 {
		typ = typ[i+1:]
	}
	typ, _, _ = strings.Cut(typ, ":")
	msg := e.Message
	if msg == "" {
		msg = e.Msg
	}
	err := fmt.Errorf("%s (HTTP %d): %.200s", typ, res.StatusCode, msg)
	switch {
	case typ == "ResourceNotFoundException":
		return &Error{SecretID: id, Reason: NotFound, Err: err}
	case typ == "AccessDeniedException" || typ == "AccessDenied" || typ == "UnrecognizedClientException" ||
		typ == "InvalidSignatureException" || typ == "DecryptionFailure" || res.StatusCode == http.StatusForbidden:
		return &Error{SecretID: id, Reason: AccessDenied, Err: err}
	default:
		return &Error{SecretID: id, Reason: Unavailable, Err: err}
	}
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
