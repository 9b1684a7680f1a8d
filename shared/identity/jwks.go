package identity

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/insforge/edge-functions-go/shared/config"
)

// asymmetric are the only algorithms a JWKS verifier may be pinned to: HS* would
// let anyone holding the (public) JWKS forge tokens, and none needs no key at all.
var asymmetric = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// JWTSpec describes one provider's JWTs.
type JWTSpec struct {
	Provider string // display name used in messages
	// JWKSURL and JWKSVar (the variable it came from, for error messages).
	JWKSURL, JWKSVar string
	// Algorithms accepted; each must be asymmetric.
	Algorithms []string
	// Issuers: iss must equal one of them (required, at least one).
	Issuers []string
	// Audiences: when non-empty, aud (string or array) must contain one of them.
	Audiences []string
	// EmailVerifiedClaim names the claim that must be exactly true for the email
	// claim to be copied. Default "email_verified" (OIDC); Better Auth's
	// jwt() payload uses "emailVerified".
	EmailVerifiedClaim string
	// Markers tell a user's session token from a machine, third-party or other
	// app's token; every one must pass (see Marker).
	Markers []Marker
	// AllowActor accepts tokens with an act (actor) claim, an admin acting as the
	// user; the actor is then returned in Identity.Actor and logged with every
	// mint. Otherwise such tokens are refused.
	AllowActor bool
	// ActorOptIn names the variable that sets AllowActor (for the refusal message).
	ActorOptIn string
	// Check runs provider-specific rules that are not data (Clerk sts "pending").
	Check func(*Claims) error
	// SubjectClaim is the claim that becomes Identity.Subject (default sub; sub is
	// required either way). SubjectVar names the variable that set it (messages).
	SubjectClaim, SubjectVar string
}

// check validates the JWKS URL, the algorithms (asymmetric only) and the issuers.
func (cfg JWTSpec) check() error {
	if _, err := config.CheckURL(cfg.JWKSVar, cfg.JWKSURL); err != nil {
		return err
	}
	if len(cfg.Algorithms) == 0 {
		return fmt.Errorf("%s: no JWT algorithm configured", cfg.Provider)
	}
	for i, a := range cfg.Algorithms {
		if !slices.Contains(asymmetric, a) {
			return fmt.Errorf("%s: JWT algorithm %d of %d is not allowed (use one of %s)", cfg.Provider, i+1, len(cfg.Algorithms), strings.Join(asymmetric, ", "))
		}
	}
	if len(cfg.Issuers) == 0 {
		return fmt.Errorf("%s: no issuer configured", cfg.Provider)
	}
	for _, m := range cfg.Markers {
		if err := m.check(); err != nil {
			return fmt.Errorf("%s: %w", cfg.Provider, err)
		}
	}
	return nil
}

// JWTVerifier verifies provider JWTs against the provider's JWKS.
type JWTVerifier struct {
	cfg           JWTSpec
	verifiedClaim string
	subjectClaim  string
	leeway        time.Duration
	now           func() time.Time
	keys          *keySet
}

// NewJWT validates cfg and starts loading the JWKS in the background: cold start
// does not wait for the provider, and a provider that is down at cold start gives
// 503s until it comes back, not an init failure.
func NewJWT(cfg JWTSpec, opts Options) (*JWTVerifier, error) {
	o := opts.withDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	v := &JWTVerifier{cfg: cfg, verifiedClaim: orDefault(cfg.EmailVerifiedClaim, "email_verified"),
		subjectClaim: orDefault(cfg.SubjectClaim, "sub"), leeway: o.Leeway, now: o.Now}
	v.keys = startKeySet(cfg.Provider, cfg.JWKSURL, o)
	return v, nil
}

// Close stops the background refresh.
func (v *JWTVerifier) Close() { v.keys.cancel() }

// errNoKID marks a token without a kid header: every supported provider sets one,
// and requiring it means a token is tried against exactly one key.
var errNoKID = errors.New("token header has no kid")

// errKIDCooldown marks an unknown kid seen while its JWKS refetch is rate limited.
var errKIDCooldown = errors.New("unknown kid while the JWKS refetch is cooling down")

// Verify checks, in this order: the compact form, the pinned algorithm, the kid,
// the signature, exp/nbf/iat, aud, iss and sub; then the provider's markers, act
// and its own check. The payload is decoded once (see Claims).
func (v *JWTVerifier) Verify(ctx context.Context, c Credential) (Identity, error) {
	var claims Claims
	return v.verify(ctx, c, &claims)
}

func (v *JWTVerifier) verify(ctx context.Context, c Credential, claims *Claims) (Identity, error) {
	p := v.cfg.Provider
	if len(c.Token) > MaxCredentialBytes {
		return Identity{}, Invalid("the "+p+" token is too long", nil)
	}
	kf, err := v.keys.wait(ctx)
	if err != nil {
		return Identity{}, Unavailable(p, err)
	}
	malformed := func(err error) error { return Invalid("the credential is not a well-formed "+p+" JWT", err) }
	tok := c.Token
	d1 := strings.IndexByte(tok, '.')
	d2 := strings.LastIndexByte(tok, '.')
	if d1 <= 0 || d2 == d1 || strings.IndexByte(tok[d1+1:d2], '.') >= 0 {
		return Identity{}, malformed(errors.New("not three dot-separated segments"))
	}
	// One copy of the token and one buffer for the three decoded segments.
	raw := []byte(tok)
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, enc.DecodedLen(d1)+enc.DecodedLen(d2-d1-1)+enc.DecodedLen(len(tok)-d2-1))
	header, err := enc.AppendDecode(buf, raw[:d1])
	if err != nil {
		return Identity{}, malformed(err)
	}
	payload, err := enc.AppendDecode(header[len(header):], raw[d1+1:d2])
	if err != nil {
		return Identity{}, malformed(err)
	}
	sig, err := enc.AppendDecode(payload[len(payload):], raw[d2+1:])
	if err != nil {
		return Identity{}, malformed(err)
	}
	var hbuf [8]member
	h := hbuf[:0]
	if err := indexObject(header, &h); err != nil {
		return Identity{}, malformed(err)
	}
	alg, kid := headerString(h, "alg"), headerString(h, "kid")
	claims.Typ = headerString(h, "typ")
	if err := decodeClaims(payload, claims); err != nil {
		return Identity{}, malformed(err)
	}
	method := jwt.GetSigningMethod(alg)
	switch {
	case method == nil:
		return Identity{}, Invalid("the "+p+" token algorithm is missing or unsupported", fmt.Errorf("alg %q", alg))
	case !slices.Contains(v.cfg.Algorithms, alg):
		return Identity{}, Invalid(fmt.Sprintf("the %s token algorithm %s is not accepted (expected %s)", p, alg, strings.Join(v.cfg.Algorithms, " or ")), nil)
	case kid == "":
		return Identity{}, Invalid("the "+p+" token has no key id (kid) header", errNoKID)
	}
	for _, m := range h {
		if string(m.name) == "crit" {
			// RFC 7515 section 4.1.11: extensions a recipient does not understand make the token invalid.
			return Identity{}, Invalid("the "+p+" token header has critical extensions (crit) this bridge does not understand", nil)
		}
	}
	fetchesBefore := v.keys.fetches.Load()
	key, err := kf.KeyfuncCtx(ctx)(&jwt.Token{Header: map[string]any{"kid": kid, "alg": alg}, Method: method})
	if err != nil {
		return Identity{}, v.keyError(err, v.keys.fetches.Load() != fetchesBefore)
	}
	if err := method.Verify(tok[:d2], sig, key); err != nil {
		return Identity{}, Invalid("the "+p+" token signature is invalid", err)
	}
	if err := v.checkTimes(claims); err != nil {
		return Identity{}, err
	}
	if len(v.cfg.Audiences) > 0 && !slices.ContainsFunc(claims.Audience, func(a string) bool { return slices.Contains(v.cfg.Audiences, a) }) {
		return Identity{}, Invalid("the "+p+" token audience (aud) is not accepted", fmt.Errorf("aud %q", claims.Audience))
	}
	if !slices.Contains(v.cfg.Issuers, claims.Issuer) {
		return Identity{}, Invalid("the "+p+" token issuer (iss) is not accepted", fmt.Errorf("iss %q not in configured issuers", claims.Issuer))
	}
	if err := checkSubject(p, claims.Subject); err != nil {
		return Identity{}, err
	}
	for _, m := range v.cfg.Markers {
		if err := m.apply(p, claims); err != nil {
			return Identity{}, err
		}
	}
	id := Identity{Subject: claims.Subject, Email: claims.email(v.verifiedClaim), ExpiresAt: claims.ExpiresAt}
	if actor, ok := claims.actor(); ok {
		if !v.cfg.AllowActor {
			return Identity{}, ImpersonationRefused(p, v.cfg.ActorOptIn)
		}
		if len(actor) > MaxSubjectBytes {
			actor = actor[:MaxSubjectBytes]
		}
		id.Actor = actor
	}
	if v.cfg.Check != nil {
		if err := v.cfg.Check(claims); err != nil {
			return Identity{}, err
		}
	}
	if v.subjectClaim != "sub" {
		sub, ok := claims.String(v.subjectClaim)
		if !ok {
			return Identity{}, Invalid(fmt.Sprintf("the %s token has no string %s claim (%s)", p, v.subjectClaim, orDefault(v.cfg.SubjectVar, "subject claim")), nil)
		}
		if err := checkSubject(p, sub); err != nil {
			return Identity{}, err
		}
		id.Subject = sub
	}
	return id, nil
}

// headerString returns a JOSE header parameter that is a string, or "".
func headerString(h []member, name string) string {
	for _, m := range h {
		if string(m.name) == name {
			s, _ := unquote(m.value)
			return s
		}
	}
	return ""
}

// checkTimes applies exp (required), nbf and iat with the leeway, as golang-jwt's
// validator does (WithExpirationRequired, WithIssuedAt, WithLeeway).
func (v *JWTVerifier) checkTimes(c *Claims) error {
	p := v.cfg.Provider
	now := v.now()
	switch {
	case c.ExpiresAt.IsZero():
		return Invalid("the "+p+" token has no expiry (exp)", nil)
	case !now.Before(c.ExpiresAt.Add(v.leeway)):
		return Expired(p, fmt.Errorf("exp %s", c.ExpiresAt.UTC().Format(time.RFC3339)))
	case !c.NotBefore.IsZero() && now.Before(c.NotBefore.Add(-v.leeway)):
		return Invalid("the "+p+" token is not valid yet (nbf)", nil)
	case !c.IssuedAt.IsZero() && now.Before(c.IssuedAt.Add(-v.leeway)):
		return Invalid("the "+p+" token is issued in the future (iat)", nil)
	}
	return nil
}

// keyError maps a failed key lookup. refetched reports whether the JWKS was
// fetched while this token was being checked.
func (v *JWTVerifier) keyError(err error, refetched bool) error {
	p := v.cfg.Provider
	// The key lookup failed: the provider is unreachable (unavailable); or the keys
	// were just fetched and still lack this kid (invalid); or the unknown-kid
	// refetch is in its cooldown, so we could not look (unavailable, retry after the
	// cooldown). Answering invalid in the last case would let anyone who sends a
	// random kid every cooldown make a freshly rotated key look invalid (clients
	// read invalid_token as "signed out") until the next background refresh.
	if ok, cause := v.keys.health(); !ok {
		return Unavailable(p+" (signing keys)", errors.Join(cause, err))
	}
	if !refetched {
		e := Unavailable(p+" (signing keys)", errors.Join(errKIDCooldown, err))
		e.Message = "the " + p + " token is signed with a key that is not known yet; the provider's keys were refreshed moments ago, try again shortly"
		e.RetryAfter = max(time.Second, time.Duration(math.Ceil(v.keys.cooldown.Seconds()))*time.Second)
		return e
	}
	return Invalid("the "+p+" token is signed with a key the provider does not publish", err)
}

// keySet is keyfunc's cached, self-refreshing JWKS plus what keyfunc does not
// track: whether the provider is currently reachable (to tell unavailable from invalid) and
// throttled logging of fetch failures.
type keySet struct {
	provider, url string
	log           *slog.Logger
	logEvery      time.Duration
	now           func() time.Time
	ready         chan struct{}
	kf            keyfunc.Keyfunc
	initErr       error
	cancel        context.CancelFunc
	cooldown      time.Duration // between unknown-kid refetches
	fetches       atomic.Uint64 // JWKS requests sent, successful or not

	mu      sync.Mutex
	ok      bool  // the last fetch succeeded
	lastErr error // why the last fetch failed
	lastLog time.Time
}

func startKeySet(provider, url string, o Options) *keySet {
	ctx, cancel := context.WithCancel(context.Background())
	k := &keySet{provider: provider, url: url, log: o.Logger, logEvery: o.RefreshInterval, now: o.Now,
		ready: make(chan struct{}), cancel: cancel, cooldown: o.UnknownKIDCooldown, lastErr: errors.New("signing keys not fetched yet")}
	client := &http.Client{
		Timeout:       o.Timeout,
		Transport:     &jwksTransport{base: o.Transport, keys: k},
		CheckRedirect: noRedirects,
	}
	go func() {
		// keyfunc fetches once (bounded by HTTPTimeout), then refreshes every
		// RefreshInterval and on unknown kids at most once per cooldown.
		kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{url}, keyfunc.Override{
			Client:            client,
			HTTPTimeout:       o.Timeout,
			RefreshInterval:   o.RefreshInterval,
			RefreshUnknownKID: rate.NewLimiter(rate.Every(o.UnknownKIDCooldown), 1),
			RefreshErrorHandlerFunc: func(string) func(context.Context, error) {
				return func(_ context.Context, err error) { k.fail(err) }
			},
		})
		k.kf, k.initErr = kf, err
		close(k.ready)
	}()
	return k
}

// wait returns the key function once the first fetch has finished (successfully
// or not), or an error when ctx ends first.
func (k *keySet) wait(ctx context.Context) (keyfunc.Keyfunc, error) {
	select {
	case <-k.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the first JWKS fetch from %s: %w", k.url, ctx.Err())
	}
	if k.initErr != nil {
		return nil, k.initErr
	}
	return k.kf, nil
}

func (k *keySet) health() (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.ok, k.lastErr
}

// fail records a failed fetch and logs it on the first failure after a success,
// then at most once per refresh interval, never once per request.
func (k *keySet) fail(err error) {
	now := k.now()
	k.mu.Lock()
	wasOK := k.ok
	k.ok, k.lastErr = false, err
	logIt := wasOK || k.lastLog.IsZero() || now.Sub(k.lastLog) >= k.logEvery
	if logIt {
		k.lastLog = now
	}
	k.mu.Unlock()
	if logIt {
		k.log.Error("jwks fetch failed", slog.String("provider", k.provider), slog.String("url", k.url),
			slog.String("error", err.Error()))
	}
}

func (k *keySet) succeed() {
	k.mu.Lock()
	recovered := !k.ok && !k.lastLog.IsZero()
	k.ok = true
	k.mu.Unlock()
	if recovered {
		k.log.Info("jwks fetch recovered", slog.String("provider", k.provider), slog.String("url", k.url))
	}
}

// jwksTransport caps JWKS responses and records reachability: a 200 marks the
// provider reachable (a body that then fails to decode is reported through
// keyfunc's error handler, which runs after this and marks it failed again).
type jwksTransport struct {
	base http.RoundTripper
	keys *keySet
}

func (t *jwksTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.keys.fetches.Add(1)
	res, err := t.base.RoundTrip(r)
	if err != nil {
		t.keys.fail(err)
		return nil, err
	}
	if res.StatusCode == http.StatusOK {
		t.keys.succeed()
	}
	res.Body = capBody(res.Body, MaxResponseBytes)
	return res, nil
}
