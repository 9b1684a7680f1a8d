package identity_test

import (
	"testing"

	"github.com/insforge/edge-functions-go/shared/identity"
)

// WorkOS session tokens: https://workos.com/docs/reference/authkit/session-tokens
var workosRules = []rule{
	{name: "legacy issuer https://api.workos.com", cred: token(set("iss", "https://api.workos.com"))},
	{name: "legacy issuer with a trailing slash (as the sessions guide shows)", cred: token(set("iss", "https://api.workos.com/"))},
	{name: "legacy issuer with two trailing slashes", kind: identity.KindInvalid, cred: token(set("iss", "https://api.workos.com//"))},
	{name: "legacy issuer over http", kind: identity.KindInvalid, cred: token(set("iss", "http://api.workos.com"))},
	{name: "WORKOS_ISSUERS replaces the defaults (legacy issuer refused)", kind: identity.KindInvalid,
		cold: customIssuer, cred: token(set("iss", "https://api.workos.com"))},
	{name: "WORKOS_ISSUERS custom domain accepted", cold: customIssuer, cred: token(set("iss", "https://auth.example.com"))},
	{name: "sid missing", kind: identity.KindNotUserSession, cred: token(del("sid"))},
	{name: "sid empty", kind: identity.KindNotUserSession, cred: token(set("sid", ""))},
	{name: "impersonation with WORKOS_ALLOW_IMPERSONATION=false is refused", kind: identity.KindImpersonation,
		cold: func(e *env) { e.T.Setenv("WORKOS_ALLOW_IMPERSONATION", "false") },
		cred: token(set("act", map[string]any{"sub": "admin@example.com", "reason": "support"}))},
	{name: "impersonation accepted with WORKOS_ALLOW_IMPERSONATION, actor returned", actor: "admin@example.com",
		cold: func(e *env) { e.T.Setenv("WORKOS_ALLOW_IMPERSONATION", "true") },
		cred: token(set("act", map[string]any{"sub": "admin@example.com", "reason": "support"}))},
	{name: "issuer of another client", kind: identity.KindInvalid,
		cred: token(set("iss", "https://api.workos.com/user_management/client_OTHER"))},
}

func customIssuer(e *env) { e.T.Setenv("WORKOS_ISSUERS", "https://auth.example.com") }

func TestWorkOSRules(t *testing.T) { runRules(t, onlyFor("workos", workosRules)) }
