package parity

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

// LambdaView is a function's Lambda response reduced to what two runs must share:
// the X-Request-Id header must be the run's own Lambda request id and is then set
// aside, and the body goes through BodyView.
func LambdaView(payload []byte, requestID string) (any, error) {
	var v any
	if err := json.Unmarshal(payload, &v); err != nil {
		return nil, fmt.Errorf("response %q is not JSON: %w", payload, err)
	}
	m, ok := v.(map[string]any)
	if !ok || m["statusCode"] == nil {
		return v, nil
	}
	if h, ok := m["headers"].(map[string]any); ok {
		if id, ok := h["X-Request-Id"]; ok && id != requestID {
			return nil, fmt.Errorf("X-Request-Id %v, want the Lambda request id %s", id, requestID)
		}
		delete(h, "X-Request-Id")
	}
	if b, ok := m["body"].(string); ok && m["isBase64Encoded"] != true {
		m["body"] = BodyView(b)
	}
	return m, nil
}

// HTTPView is an HTTP response without what an HTTP server adds by itself (Date,
// Content-Length) and without the request id, which must be one Lambda request id.
func HTTPView(status int, h http.Header, body []byte) (any, error) {
	hv := map[string]string{}
	for k, vs := range h {
		switch k {
		case "Date", "Content-Length":
		case "X-Request-Id":
			if len(vs) != 1 || len(vs[0]) != 36 {
				return nil, fmt.Errorf("X-Request-Id %q is not one Lambda request id", vs)
			}
		default:
			hv[k] = strings.Join(vs, "\n")
		}
	}
	return map[string]any{"status": status, "headers": hv, "body": BodyView(string(body))}, nil
}

// BodyView parses a JSON body and takes the clock and per-payment values out:
// minted JWTs become their header, claims without iat/exp/nbf and lifetime; unix
// and RFC 3339 times near now become a marker, a pass's valid_until its duration
// from now to the minute; transaction hashes, ledger row ids and sign-in nonces
// become markers.
// Everything else must match exactly.
func BodyView(b string) any {
	var v any
	if json.Unmarshal([]byte(b), &v) != nil {
		return b
	}
	return clockless(v, "")
}

func clockless(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = clockless(e, k)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = clockless(e, "")
		}
		return x
	case float64:
		if key == "expires_in" {
			return lifetime(x)
		}
		if key == "expires_at" || key == "iat" || key == "exp" || key == "nbf" {
			if time.Since(time.Unix(int64(x), 0)).Abs() < 48*time.Hour {
				return "<unix time near now>"
			}
		}
		if key == "valid_until" {
			// A pass runs from its purchase: now plus its duration, which two runs
			// can see a second apart. The duration to the minute must match.
			if d := time.Until(time.Unix(int64(x), 0)); d > 0 {
				return fmt.Sprintf("<unix time in %s>", d.Round(time.Minute))
			}
		}
		return x
	case string:
		if jwt, ok := jwtView(x); ok {
			return jwt
		}
		if ts, err := time.Parse(time.RFC3339, x); err == nil && time.Since(ts).Abs() < 48*time.Hour {
			return "<time near now>"
		}
		if (key == "tx_hash" || key == "transaction") && strings.HasPrefix(x, "0x") && len(x) == 66 {
			return "<transaction hash>" // one per settled payment
		}
		if key == "nonce" && isSignInNonce(x) {
			return "<sign-in nonce>" // random per issue (shared/siwe.Nonces)
		}
		if (key == "id" || strings.HasSuffix(key, "_id")) && isUUID(x) {
			return "<ledger row id>" // one per payment (the report's payment.id, the gateway upstream's payment_id)
		}
		return x
	}
	return v
}

func jwtView(s string) (any, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, false
	}
	var header, claims map[string]any
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil || json.Unmarshal(hb, &header) != nil || json.Unmarshal(cb, &claims) != nil || header["alg"] == nil {
		return nil, false
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	return map[string]any{"jwt_header": header, "jwt_claims": clockless(claims, ""), "jwt_lifetime_s": lifetime(exp - iat)}, true
}

// lifetime rounds a token lifetime to 10 s: a token capped by its credential's
// expiry loses the second or two between the credential's mint and the bridge's,
// which differs from one run to the next.
func lifetime(s float64) float64 { return math.Round(s/10) * 10 }

// isUUID reports whether s is a canonical (8-4-4-4-12 hex) UUID, the ledger's row id.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !('0' <= c && c <= '9' || 'a' <= c && c <= 'f'):
			return false
		}
	}
	return true
}

// JSON renders a view for a message.
func JSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// isSignInNonce reports whether s has the shape of a wallet sign-in nonce: 72
// lower-case hex digits (expiry, random bytes, tag).
func isSignInNonce(s string) bool {
	if len(s) != 72 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
