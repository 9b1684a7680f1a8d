package identity_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/identity"
	"github.com/insforge/edge-functions-go/shared/identity/providertest"
)

// env is one declared provider under test (shared/identity/providertest); claims
// are a token's claims, user a session's user.
type (
	env    = providertest.Env
	claims = providertest.Claims
	user   = providertest.User
)

// rule is one credential given to a freshly built provider. Unless kind is 0
// (accepted) it must be refused with that kind, and no identity may come with the
// refusal. The bridge answers each kind with one status and code
// (shared/bridge/errors_test.go), so a rule here is the whole verdict a client sees.
type rule struct {
	name    string
	applies func(providertest.Spec) bool                     // nil: every provider
	cold    func(e *env)                                     // runs before the provider is built (cold start)
	cred    func(e *env) identity.Credential                 // may verify warm-up credentials itself
	kind    identity.Kind                                    // 0: accepted
	message string                                           // the refusal's message must contain this ("" = any)
	noEmail bool                                             // accepted without an email
	email   string                                           // accepted with this email (default: the base claims')
	actor   string                                           // accepted with this actor
	after   func(t *testing.T, e *env)                       // extra checks after any outcome
	checks  func(t *testing.T, e *env, id identity.Identity) // extra checks when accepted
}

// runRules runs every rule against every declared provider it applies to; each
// case gets a fresh issuer, fakes and provider, so cold-start and rotation
// cases are isolated.
func runRules(t *testing.T, rules []rule) {
	t.Helper()
	for _, sp := range providertest.Specs {
		var applicable []rule
		for _, r := range rules {
			if r.applies == nil || r.applies(sp) {
				applicable = append(applicable, r)
			}
		}
		if len(applicable) == 0 {
			continue
		}
		t.Run(sp.Name, func(t *testing.T) {
			for _, r := range applicable {
				t.Run(r.name, func(t *testing.T) { r.run(t, sp) })
			}
		})
	}
}

func (r rule) run(t *testing.T, sp providertest.Spec) {
	e := providertest.New(t, sp)
	if r.cold != nil {
		r.cold(e)
	}
	e.Load()
	cred := r.cred(e) // may verify warm-up credentials
	id, err := e.Verify(cred)
	if r.after != nil {
		defer r.after(t, e)
	}
	if r.kind != "" {
		var ie *identity.Error
		if !errors.As(err, &ie) || ie.Kind != r.kind {
			t.Fatalf("err = %v, want %s", err, r.kind)
		}
		if !strings.Contains(ie.Message, r.message) {
			t.Fatalf("message %q, want it to contain %q", ie.Message, r.message)
		}
		if id != (identity.Identity{}) {
			t.Fatalf("an identity came with the refusal: %+v", id)
		}
		return
	}
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	email := e.ExpectedEmail()
	if r.noEmail {
		email = ""
	}
	if r.email != "" {
		email = r.email
	}
	if id.Subject != e.Base["sub"].(string) || id.Email != email || id.Actor != r.actor {
		t.Fatalf("identity %+v; want sub %q email %q actor %q", id, e.Base["sub"], email, r.actor)
	}
	// The credential's own expiry, exactly: a minted token is capped by it.
	if e.CredExp != 0 && id.ExpiresAt.Unix() != e.CredExp {
		t.Fatalf("ExpiresAt %v, want the credential's %v", id.ExpiresAt, time.Unix(e.CredExp, 0))
	}
	if r.checks != nil {
		r.checks(t, e, id)
	}
}

func bearer(tok string) identity.Credential { return identity.Credential{Token: tok} }

// valid is a valid token of the provider as a bearer credential.
func valid(e *env) identity.Credential { return bearer(e.Token(nil)) }

// token is a valid token changed by mod.
func token(mod func(claims)) func(e *env) identity.Credential {
	return func(e *env) identity.Credential { return bearer(e.Token(mod)) }
}

// session is a registered session of the base subject, changed by mod.
func session(mod func(*user)) func(e *env) identity.Credential {
	return func(e *env) identity.Credential { return bearer(e.Session(1, mod)) }
}

// warm verifies a valid credential and fails the test unless it is accepted.
func warm(e *env, what string) {
	e.T.Helper()
	if _, err := e.Verify(valid(e)); err != nil {
		e.T.Fatalf("%s: %v", what, err)
	}
}

var (
	set        = providertest.Set
	del        = providertest.Del
	only       = providertest.Only
	withAud    = func(s providertest.Spec) bool { return s.Aud }
	withoutAud = func(s providertest.Spec) bool { return !s.Aud }
	sessions   = providertest.Spec.HasSessions
)

// Rules of Provider.Verify and of the Identity it returns, for every provider:
// how long a credential must have left, what a subject may be, when an email is
// copied, and who may act as the user.
var identityRules = []rule{
	{name: "valid token is accepted", cred: valid},
	{name: "expired within the 30s leeway is refused (a minted token would outlive it)", kind: identity.KindExpired,
		cred: token(set("exp", time.Now().Add(-10*time.Second).Unix()))},
	{name: "exp in 3s (under the minimum left) is refused as expired", kind: identity.KindExpired,
		cred: token(set("exp", time.Now().Add(3*time.Second).Unix()))},
	{name: "exp 1s ago is refused as expired", kind: identity.KindExpired,
		cred: token(set("exp", time.Now().Add(-time.Second).Unix()))},
	{name: "exp in 25s is accepted with the credential's expiry", cred: token(set("exp", time.Now().Add(25*time.Second).Unix()))},
	{name: "exp in 2 days is accepted with the credential's expiry", cred: token(set("exp", time.Now().Add(48*time.Hour).Unix()))},

	{name: "sub missing", kind: identity.KindInvalid, cred: token(del("sub"))},
	{name: "sub empty", kind: identity.KindInvalid, cred: token(set("sub", ""))},
	{name: "sub blank", kind: identity.KindInvalid, cred: token(set("sub", "   "))},
	{name: "sub is a number", kind: identity.KindInvalid, cred: token(set("sub", 12345))},
	{name: "sub too long", kind: identity.KindInvalid, cred: token(set("sub", strings.Repeat("u", 300)))},
	{name: "sub with control characters", kind: identity.KindInvalid, cred: token(set("sub", "user_1\u0000admin"))},

	{name: "email with verified exactly true is copied", email: "ada@example.com",
		cred: func(e *env) identity.Credential { return bearer(e.Token(e.WithEmail(true))) }},
	{name: "unverified email is not copied", noEmail: true,
		cred: func(e *env) identity.Credential {
			return bearer(e.Token(func(c claims) { c["email"] = "victim@example.com"; c[e.VerifiedClaim()] = false }))
		}},
	{name: "email with verified missing is not copied", noEmail: true,
		cred: func(e *env) identity.Credential {
			return bearer(e.Token(func(c claims) { e.WithEmail(nil)(c); delete(c, e.VerifiedClaim()) }))
		}},
	{name: "email with verified null is not copied", noEmail: true, cred: withEmail(nil)},
	{name: `email with verified "true" (a string) is not copied`, noEmail: true, cred: withEmail("true")},
	{name: "email with verified 1 is not copied", noEmail: true, cred: withEmail(1)},
	{name: `email with verified "yes" is not copied`, noEmail: true, cred: withEmail("yes")},
	{name: "email with verified false is not copied", noEmail: true, cred: withEmail(false)},
	{name: "email with verified [true] (an array) is not copied", noEmail: true, cred: withEmail([]bool{true})},

	{name: "impersonation token (act claim) is refused", kind: identity.KindImpersonation,
		cred: token(set("act", map[string]any{"sub": "admin@example.com"}))},
	{name: "act claim without sub is refused", kind: identity.KindImpersonation, cred: token(set("act", "admin"))},
	{name: "act null counts as absent", cred: token(set("act", nil))},

	// Opaque sessions (Stytch session_token, Better Auth session): the same rules,
	// with the expiry and email the provider's API reports.
	{name: "session: active session is accepted", noEmail: true, applies: sessions, cred: session(nil)},
	{name: "session: expiring in 20s is accepted with that expiry", noEmail: true, applies: sessions,
		cred: session(func(u *user) { u.ExpiresAt = time.Now().Add(20 * time.Second) })},
	{name: "session: expiring in 2s is refused as expired", kind: identity.KindExpired, applies: sessions,
		cred: session(func(u *user) { u.ExpiresAt = time.Now().Add(2 * time.Second) })},
	{name: "session: reported with an expiry in the past is refused as expired", kind: identity.KindExpired, applies: sessions,
		cred: session(func(u *user) { u.ExpiresAt = time.Now().Add(-time.Minute) })},
	{name: "session: verified email is copied", email: "ada@example.com", applies: sessions,
		cred: session(func(u *user) { u.Email, u.EmailVerified = "ada@example.com", true })},
	{name: "session: unverified email is not copied", noEmail: true, applies: sessions,
		cred: session(func(u *user) { u.Email = "victim@example.com" })},
	{name: "session: unknown session is refused", kind: identity.KindInvalid, applies: sessions,
		cred: func(e *env) identity.Credential { return bearer(e.Spec.SessionToken(99)) }},
}

// withEmail is a token with an email whose verified claim is v.
func withEmail(v any) func(e *env) identity.Credential {
	return func(e *env) identity.Credential { return bearer(e.Token(e.WithEmail(v))) }
}

func TestEveryProviderAppliesTheIdentityRules(t *testing.T) { runRules(t, identityRules) }
