package localidentity

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/golang-jwt/jwt/v5"
)

// Key is one signing key of the issuer.
type Key struct {
	KID     string
	Alg     string
	Private crypto.Signer
}

// Public returns the public key.
func (k Key) Public() crypto.PublicKey { return k.Private.Public() }

// PublicDER is the PKIX encoding of the public key (what an alg-confusion attacker
// would use as an HMAC secret).
func (k Key) PublicDER() []byte {
	b, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		panic(err)
	}
	return b
}

// RSA 2048 key generation is slow; tests share a small pool.
var (
	rsaMu   sync.Mutex
	rsaPool []*rsa.PrivateKey
)

func rsaKey(i int) *rsa.PrivateKey {
	rsaMu.Lock()
	defer rsaMu.Unlock()
	for len(rsaPool) <= i {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaPool = append(rsaPool, k)
	}
	return rsaPool[i]
}

// Issuer serves one provider's JWKS and OpenID Connect discovery document and
// holds the private keys behind them: it can rotate keys, publish keys it does not
// sign with, and misbehave (Mode). It is an http.Handler, mounted wherever the
// provider's JWKS URL points.
type Issuer struct {
	Alg string
	// Fetches counts JWKS requests served (successful or not).
	Fetches atomic.Int64

	// DiscoveryFetches counts discovery documents served (successful or not).
	DiscoveryFetches atomic.Int64

	mu        sync.Mutex
	discIss   *string // issuer named by the discovery document; nil: the request's origin and prefix
	published []Key   // keys in the JWKS
	current   Key     // key new tokens are signed with
	next      int
	mode      atomic.Int32
}

// NewIssuer returns an issuer for alg (RS256 or EdDSA) with one key.
func NewIssuer(alg string) (*Issuer, error) {
	if alg != "RS256" && alg != "EdDSA" {
		return nil, errors.New("localidentity: unsupported algorithm " + alg + " (RS256 or EdDSA)")
	}
	i := &Issuer{Alg: alg}
	i.current = i.newKey()
	i.published = []Key{i.current}
	return i, nil
}

func (i *Issuer) newKey() Key {
	n := i.next
	i.next++
	kid := fmt.Sprintf("%s-key-%d", i.Alg, n)
	switch i.Alg {
	case "RS256":
		return Key{KID: kid, Alg: i.Alg, Private: rsaKey(n)}
	case "EdDSA":
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		return Key{KID: kid, Alg: i.Alg, Private: priv}
	}
	panic("localidentity: unsupported alg " + i.Alg)
}

// SetDown makes the JWKS endpoint answer 503 (down=true) or serve keys again.
func (i *Issuer) SetDown(down bool) {
	if down {
		i.SetMode(Down)
	} else {
		i.SetMode(Up)
	}
}

// SetMode makes the JWKS endpoint misbehave (Up restores it).
func (i *Issuer) SetMode(m Mode) { i.mode.Store(int32(m)) }

// Current is the key new tokens are signed with.
func (i *Issuer) Current() Key {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.current
}

// Rotate publishes a new key and signs with it from now on. With retireOld the
// previous keys are removed from the JWKS (revocation).
func (i *Issuer) Rotate(retireOld bool) Key {
	i.mu.Lock()
	defer i.mu.Unlock()
	k := i.newKey()
	if retireOld {
		i.published = nil
	}
	i.published = append(i.published, k)
	i.current = k
	return k
}

// Unpublished returns a fresh key of the same algorithm that the JWKS does not list.
func (i *Issuer) Unpublished() Key {
	i.mu.Lock()
	defer i.mu.Unlock()
	k := i.newKey()
	return k
}

// SetDiscoveryIssuer makes the discovery document name iss as the issuer (a
// provider that contradicts the bridge's configuration).
func (i *Issuer) SetDiscoveryIssuer(iss string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.discIss = &iss
}

// ServeHTTP serves the OpenID Connect discovery document at
// /.well-known/openid-configuration (under any prefix) and the JWKS on any other
// path, so the issuer can be mounted where a provider's default JWKS URL points
// (Kinde /.well-known/jwks, Clerk /.well-known/jwks.json, Stytch
// /v1/sessions/jwks/<project>, Better Auth /api/auth/jwks). Modes apply to both.
func (i *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	disc := strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration")
	if disc {
		i.DiscoveryFetches.Add(1)
	} else {
		i.Fetches.Add(1)
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method", http.StatusMethodNotAllowed)
		return
	}
	if misbehave(w, r, Mode(i.mode.Load())) {
		return
	}
	if disc {
		i.serveDiscovery(w, r)
		return
	}
	i.mu.Lock()
	keys := make([]map[string]string, 0, len(i.published))
	for _, k := range i.published {
		keys = append(keys, JWK(k))
	}
	i.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
}

// serveDiscovery answers the provider metadata the OIDC bridge reads. The issuer
// is where the document is mounted (origin plus path prefix) unless
// SetDiscoveryIssuer overrode it. The algorithm list also names HS256 and none,
// which a bridge must never pick up.
func (i *Issuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	base := "http://" + r.Host + strings.TrimSuffix(r.URL.Path, "/.well-known/openid-configuration")
	i.mu.Lock()
	iss := base
	if i.discIss != nil {
		iss = *i.discIss
	}
	i.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer": iss, "jwks_uri": base + "/jwks", "authorization_endpoint": base + "/authorize",
		"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"HS256", i.Alg, "none"},
	})
}

// JWK is the public JWK of k.
func JWK(k Key) map[string]string {
	b64 := base64.RawURLEncoding.EncodeToString
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "kid": k.KID, "use": "sig", "alg": k.Alg,
			"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
	case ed25519.PublicKey:
		return map[string]string{"kty": "OKP", "crv": "Ed25519", "kid": k.KID, "use": "sig", "alg": k.Alg, "x": b64(pub)}
	}
	panic("localidentity: unsupported key")
}

// Sign signs claims with the current key (kid set).
func (i *Issuer) Sign(claims jwt.MapClaims) string { return SignWith(i.Current(), claims, nil) }

// SignWith signs claims with k; extra header fields override the defaults (set a
// field to nil to delete it).
func SignWith(k Key, claims jwt.MapClaims, header map[string]any) string {
	m := jwt.GetSigningMethod(k.Alg)
	t := jwt.NewWithClaims(m, claims)
	t.Header["kid"] = k.KID
	for name, v := range header {
		if v == nil {
			delete(t.Header, name)
		} else {
			t.Header[name] = v
		}
	}
	s, err := t.SignedString(k.Private)
	if err != nil {
		panic(err)
	}
	return s
}

// Unsigned builds header.payload. (no signature) for alg "none" and shape attacks.
func Unsigned(header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}
