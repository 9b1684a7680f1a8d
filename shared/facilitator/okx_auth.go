package facilitator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"time"
)

// OKX authentication headers.
const (
	HeaderAccessKey        = "OK-ACCESS-KEY"
	HeaderAccessSign       = "OK-ACCESS-SIGN"
	HeaderAccessTimestamp  = "OK-ACCESS-TIMESTAMP"
	HeaderAccessPassphrase = "OK-ACCESS-PASSPHRASE"
)

// TimestampLayout is OKX's UTC ISO-8601 with milliseconds.
const TimestampLayout = "2006-01-02T15:04:05.000Z"

// SignOKX returns base64(HMAC-SHA256(secret, timestamp+METHOD+requestPath+body)).
// requestPath is the path without host and, for GET, includes the query string;
// body is the exact bytes sent ("" for GET).
func SignOKX(secret, timestamp, method, requestPath string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte(method))
	mac.Write([]byte(requestPath))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func (c *OKX) authorize(req *http.Request, requestPath string, body []byte, now time.Time) {
	ts := now.UTC().Format(TimestampLayout)
	req.Header.Set(HeaderAccessKey, c.cfg.APIKey)
	req.Header.Set(HeaderAccessSign, SignOKX(c.cfg.SecretKey, ts, req.Method, requestPath, body))
	req.Header.Set(HeaderAccessTimestamp, ts)
	req.Header.Set(HeaderAccessPassphrase, c.cfg.Passphrase)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
}
