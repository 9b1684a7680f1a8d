package tokenwallet_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/bridge"
	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/httpapi/openapitest"
	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/insforge/edge-functions-go/shared/lookupguard"
	"github.com/insforge/edge-functions-go/shared/signer"
	"github.com/insforge/edge-functions-go/shared/siwe"
	"github.com/insforge/edge-functions-go/shared/siwe/siwetest"
	"github.com/insforge/edge-functions-go/shared/tokenedge"
	"github.com/insforge/edge-functions-go/shared/tokenwallet"
)

// appOrigin is the SPA's origin: ALLOWED_ORIGINS, and the SIWE domain's host.
const (
	appOrigin  = "https://app.example.com"
	testSecret = "test-secret-0123456789abcdef0123456789"
)

// walletEnv is the wallet bridge over the local InsForge (the real used-nonce
// record on PostgreSQL), with a settable clock.
type walletEnv struct {
	t      *testing.T
	stack  *insforgetest.Stack
	signer *signer.Signer
	clock  time.Time
	w      *siwetest.Wallet
	store  siwe.NonceStore
}

func newWalletEnv(t *testing.T) *walletEnv {
	t.Helper()
	e := &walletEnv{t: t, stack: insforgetest.New(t), clock: time.Now().Truncate(time.Second), w: siwetest.NewWallet(t)}
	e.store = tokenwallet.InsforgeNonces{Client: e.stack.ServiceClient()}
	var err error
	e.signer, err = signer.New(signer.Config{Secret: e.stack.JWTSecret, TTL: time.Hour}, signer.Options{Now: e.now})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *walletEnv) now() time.Time { return e.clock }

// handler is one instance of the function (each has its own memory; they share InsForge).
func (e *walletEnv) handler() http.Handler {
	e.t.Helper()
	c := tokenwallet.Config{Config: tokenedge.Config{AllowedOrigins: config.CSV{appOrigin}}, ChainID: 196}
	h, err := tokenwallet.New(c, tokenwallet.Deps{Signer: e.signer, Nonces: siwe.NewNonces([]byte(e.stack.JWTSecret), 0),
		Store: e.store, Now: e.now})
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

func (e *walletEnv) nonce(h http.Handler) string {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/token/wallet/nonce", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	openapitest.CheckRoute(e.t, "/token/wallet/nonce", r, w)
	var n tokenwallet.NonceResponse
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &n) != nil || n.ChainID != 196 || w.Header().Get("Cache-Control") != "no-store" {
		e.t.Fatalf("nonce: %d %s", w.Code, w.Body)
	}
	return n.Nonce
}

func (e *walletEnv) fields(h http.Handler) siwetest.Fields {
	return siwetest.Fields{Domain: "app.example.com", Address: e.w.Address, Statement: "Sign in to the example app.",
		URI: appOrigin + "/login", ChainID: 196, Nonce: e.nonce(h), IssuedAt: e.clock, ExpirationTime: e.clock.Add(30 * time.Minute)}
}

func (e *walletEnv) post(h http.Handler, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/token/wallet", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Origin", appOrigin)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	openapitest.CheckRoute(e.t, "/token/wallet", r, w)
	return w
}

func signIn(msg, sig string) string {
	b, _ := json.Marshal(tokenwallet.WalletRequest{Message: msg, Signature: sig})
	return string(b)
}

func TestWalletSignInMintsATokenForTheCAIP10Account(t *testing.T) {
	e := newWalletEnv(t)
	h := e.handler()
	f := e.fields(h)
	f.ExpirationTime = e.clock.Add(20 * time.Minute) // shorter than TOKEN_TTL: it caps exp
	msg := f.Build()
	w := e.post(h, signIn(msg, e.w.Sign(msg)))
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var resp tokenedge.Response
	_ = json.Unmarshal(w.Body.Bytes(), &resp)
	c, err := e.signer.Verify(resp.Token)
	if err != nil {
		t.Fatal(err)
	}
	want := "eip155:196:" + strings.ToLower(e.w.Address)
	if c.Subject != want || c.Email != "" || c.Role != signer.Role || !c.ExpiresAt.Time.Equal(f.ExpirationTime) ||
		resp.ExpiresAt != f.ExpirationTime.Unix() || resp.ExpiresIn != 1200 {
		t.Fatalf("claims %+v, response %+v", c, resp)
	}
	// Without an expiration time, TOKEN_TTL bounds the token.
	f = e.fields(h)
	f.ExpirationTime = time.Time{}
	msg = f.Build()
	w = e.post(h, signIn(msg, e.w.Sign(msg)))
	_ = json.Unmarshal(w.Body.Bytes(), &resp)
	if w.Code != http.StatusOK || resp.ExpiresIn != 3600 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	// InsForge accepts the token and scopes rows to the wallet.
	var who string
	if err := e.stack.ServiceClient().WithToken(resp.Token).RPC(context.Background(), "requesting_user_id", nil, &who); err != nil || who != want {
		t.Fatalf("InsForge sees %q (%v)", who, err)
	}
}

// A nonce signs in once, whichever instance of the function sees it next: the
// used-nonce record is in InsForge, not in an instance's memory.
func TestWalletNonceIsSingleUseAcrossInstances(t *testing.T) {
	e := newWalletEnv(t)
	first, second := e.handler(), e.handler()
	msg := e.fields(first).Build()
	body := signIn(msg, e.w.Sign(msg))
	if w := e.post(first, body); w.Code != http.StatusOK {
		t.Fatalf("first: %d %s", w.Code, w.Body)
	}
	for _, h := range []http.Handler{first, second} {
		w := e.post(h, body)
		if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), `"siwe_nonce_used"`) || strings.Contains(w.Body.String(), "token\"") {
			t.Fatalf("replay: %d %s", w.Code, w.Body)
		}
	}
}

func TestWalletRefusesEachAttackWithItsOwnCodeAndMintsNothing(t *testing.T) {
	e := newWalletEnv(t)
	h := e.handler()
	other := siwetest.NewWallet(t)
	cases := []struct {
		name   string
		edit   func(*siwetest.Fields)
		body   func(msg, sig string) string
		status int
		code   string
	}{
		{"another domain", func(f *siwetest.Fields) { f.Domain, f.URI = "evil.example.com", "https://evil.example.com/" }, nil, 401, siwe.CodeDomain},
		{"uri elsewhere", func(f *siwetest.Fields) { f.URI = "https://evil.example.com/" }, nil, 401, siwe.CodeURI},
		{"another chain", func(f *siwetest.Fields) { f.ChainID = 1 }, nil, 401, siwe.CodeChain},
		{"nonce not issued here", func(f *siwetest.Fields) { f.Nonce = "abcdefgh12345678" }, nil, 401, siwe.CodeNonce},
		{"stale message", func(f *siwetest.Fields) { f.IssuedAt = e.clock.Add(-11 * time.Minute) }, nil, 401, siwe.CodeExpired},
		{"expired message", func(f *siwetest.Fields) { f.ExpirationTime = e.clock.Add(-time.Second) }, nil, 401, siwe.CodeExpired},
		{"not yet valid", func(f *siwetest.Fields) { f.NotBefore = e.clock.Add(time.Hour) }, nil, 401, siwe.CodeNotYetValid},
		{"another key", nil, func(msg, _ string) string { return signIn(msg, other.Sign(msg)) }, 401, siwe.CodeSignature},
		{"contract wallet, no RPC", nil, func(msg, _ string) string { return signIn(msg, "0x"+strings.Repeat("00", 100)) }, 401, siwe.CodeContractWallet},
		{"version 2", func(f *siwetest.Fields) { f.Version = "2" }, nil, 400, siwe.CodeVersion},
		{"reordered fields", nil, func(msg, sig string) string {
			m := strings.Replace(msg, "Version: 1\nChain ID: 196", "Chain ID: 196\nVersion: 1", 1)
			return signIn(m, e.w.Sign(m))
		}, 400, siwe.CodeMalformed},
		{"extra field", nil, func(msg, sig string) string { m := msg + "\nSession: 1"; return signIn(m, e.w.Sign(m)) }, 400, siwe.CodeMalformed},
		{"not json", nil, func(string, string) string { return "message=x" }, 400, "invalid_request"},
		{"unknown json field", nil, func(msg, sig string) string {
			return `{"message":` + jsonString(msg) + `,"signature":"` + sig + `","address":"0x0"}`
		}, 400, "invalid_request"},
		{"no signature", nil, func(msg, _ string) string { return signIn(msg, "") }, 400, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := e.fields(h)
			if c.edit != nil {
				c.edit(&f)
			}
			msg := f.Build()
			body := signIn(msg, e.w.Sign(msg))
			if c.body != nil {
				body = c.body(msg, e.w.Sign(msg))
			}
			w := e.post(h, body)
			if w.Code != c.status || !strings.Contains(w.Body.String(), `"error":"`+c.code+`"`) || strings.Contains(w.Body.String(), `"token"`) {
				t.Fatalf("got %d %s, want %d %s", w.Code, w.Body, c.status, c.code)
			}
		})
	}
}

func TestMain(m *testing.M) { insforgetest.Main(m) }

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestWalletAnswers503WhenTheNonceRecordIsUnreachable(t *testing.T) {
	e := newWalletEnv(t)
	down, err := insforge.New(insforge.Options{BaseURL: "http://127.0.0.1:1", Token: "ik_x", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.store = tokenwallet.InsforgeNonces{Client: down}
	h := e.handler()
	msg := e.fields(h).Build()
	w := e.post(h, signIn(msg, e.w.Sign(msg)))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), siwe.CodeUnavailable) {
		t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body)
	}
}

func TestWalletRoutesAnswerOnlyTheirMethods(t *testing.T) {
	e := newWalletEnv(t)
	h := e.handler()
	for _, c := range []struct{ method, path, route string }{
		{http.MethodPost, "/token/wallet/nonce", "/token/wallet/nonce"},
		{http.MethodGet, "/token/wallet", "/token/wallet"},
		{http.MethodDelete, "/token/wallet", "/token/wallet"},
	} {
		r := httptest.NewRequest(c.method, c.path, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		openapitest.CheckRoute(t, c.route, r, w)
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") == "" {
			t.Errorf("%s %s: %d", c.method, c.path, w.Code)
		}
	}
}

func TestWalletConfigFailsNamingTheVariable(t *testing.T) {
	base := tokenedge.Config{}
	base.Secret, base.TTL = testSecret, time.Hour
	for want, c := range map[string]tokenwallet.Config{
		"ALLOWED_ORIGINS": {Config: tokenedge.Config{Config: base.Config, AllowedOrigins: config.CSV{"*"}}, ChainID: 196},
		"WALLET_CHAIN_ID": {Config: tokenedge.Config{Config: base.Config, AllowedOrigins: config.CSV{appOrigin}}, ChainID: 0},
		"XLAYER_RPC_URL":  {Config: tokenedge.Config{Config: base.Config, AllowedOrigins: config.CSV{appOrigin}}, ChainID: 196, RPCURL: "http://rpc.example.com"},
	} {
		var ve *config.VarError
		if err := c.Validate(); !errors.As(err, &ve) || ve.Var != want {
			t.Errorf("%s: %v", want, err)
		}
	}
}

// No provider bridge mints a wallet subject, whatever its provider says.
func TestProviderBridgeRefusesAWalletShapedSubject(t *testing.T) {
	s, _ := signer.New(signer.Config{Secret: testSecret, TTL: time.Hour}, signer.Options{})
	p := &identity.Provider{Name: "Evil", Verifier: identity.VerifierFunc(func(context.Context, identity.Credential) (identity.Identity, error) {
		return identity.Identity{Subject: "EIP155:196:0xF39FD6E51AAD88F6F4CE6AB8827279CFFFB92266", ExpiresAt: time.Now().Add(time.Hour)}, nil
	})}
	h := bridge.New(bridge.Config{AllowedOrigins: config.CSV{appOrigin}}, bridge.Deps{Provider: p, Signer: s})
	r := httptest.NewRequest(http.MethodPost, "/token/evil", nil)
	r.Header.Set("Authorization", "Bearer anything")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), `"invalid_token"`) || strings.Contains(w.Body.String(), `"token"`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// refusingNode is a loopback JSON-RPC node where every address is a contract
// that refuses every signature (isValidSignature returns 0xffffffff).
func refusingNode(t *testing.T) (url string, calls *atomic.Int32) {
	calls = new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var req struct {
			Method string `json:"method"`
			ID     int    `json:"id"`
		}
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil || req.Method != "eth_call" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": "0xffffffff" + strings.Repeat("0", 56)})
	}))
	t.Cleanup(srv.Close)
	return srv.URL, calls
}

func TestWalletThrottlesEIP1271CallsWith503AndMintsNothing(t *testing.T) {
	e := newWalletEnv(t)
	url, calls := refusingNode(t)
	c := tokenwallet.Config{Config: tokenedge.Config{AllowedOrigins: config.CSV{appOrigin}}, ChainID: 196, RPCURL: url}
	h, err := tokenwallet.New(c, tokenwallet.Deps{Signer: e.signer, Nonces: siwe.NewNonces([]byte(e.stack.JWTSecret), 0),
		Store: e.store, Contracts: siwe.NewRPC(url), Guard: lookupguard.New(lookupguard.Options{Burst: 2}), Now: e.now})
	if err != nil {
		t.Fatal(err)
	}
	msg := e.fields(h).Build()
	for i, want := range []struct {
		status     int
		code       string
		retryAfter string
		calls      int32
	}{
		{401, siwe.CodeSignature, "", 1},
		{401, siwe.CodeSignature, "", 2},
		{503, siwe.CodeThrottled, "1", 2},
		{503, siwe.CodeThrottled, "1", 2},
	} {
		sig := "0x" + strings.Repeat("0", 198) + "0" + string("0123456789"[i])
		w := e.post(h, signIn(msg, sig))
		if w.Code != want.status || !strings.Contains(w.Body.String(), `"error":"`+want.code+`"`) ||
			w.Header().Get("Retry-After") != want.retryAfter || strings.Contains(w.Body.String(), `"token"`) || calls.Load() != want.calls {
			t.Fatalf("junk %d: %d %v %s, node calls %d; want %d %s Retry-After %q, %d calls",
				i, w.Code, w.Header(), w.Body, calls.Load(), want.status, want.code, want.retryAfter, want.calls)
		}
	}
	// A valid EOA sign-in never needs the spent budget.
	msg = e.fields(h).Build()
	if w := e.post(h, signIn(msg, e.w.Sign(msg))); w.Code != http.StatusOK || calls.Load() != 2 {
		t.Fatalf("EOA sign-in after the flood: %d %s, node calls %d", w.Code, w.Body, calls.Load())
	}
}
