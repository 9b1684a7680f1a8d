package identity

import (
	"net/url"
	"regexp"
	"strings"
)

// oidcPreset is what the generic OIDC bridge knows of one provider, recognised by
// its issuer: the claims that may become the InsForge sub, other spellings of the
// issuer the provider documents, and the rules that tell its machine tokens from
// user tokens. An issuer no preset recognises gets genericPreset.
type oidcPreset struct {
	name string
	// subjectClaims are the claims OIDC_SUBJECT_CLAIM may name: identifiers the
	// provider assigns once and the user cannot change. A claim the user controls
	// (email, preferred_username, upn, name) would let one user sign up as
	// "victim@example.com" and become another user's InsForge sub.
	subjectClaims []string
	// altIssuers are other iss values the provider documents for the same issuer.
	altIssuers []string
	markers    []Marker
	check      func(*Claims) error
}

var genericPreset = oidcPreset{name: "this issuer", subjectClaims: []string{"sub"}}

// Issuer hosts and paths. Entra ID's sovereign clouds and External ID
// (ciamlogin.com) issue the same token formats as the global cloud.
var (
	entraHosts     = []string{"login.microsoftonline.com", "login.microsoftonline.us", "login.partner.microsoftonline.cn", "sts.windows.net"}
	keycloakPath   = regexp.MustCompile(`^(/auth)?/realms/[^/]+/?$`)
	cognitoHost    = regexp.MustCompile(`^cognito-idp\.[a-z0-9-]+\.amazonaws\.com$`)
	oktaHostSuffix = []string{".okta.com", ".oktapreview.com", ".okta-emea.com"}
)

// presetFor recognises the provider of issuer (an already checked URL).
func presetFor(issuer string) oidcPreset {
	u, err := url.Parse(issuer)
	if err != nil {
		return genericPreset
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case host == "accounts.google.com":
		return googlePreset
	case host == "securetoken.google.com":
		return firebasePreset
	case cognitoHost.MatchString(host):
		return cognitoPreset
	case containsFold(entraHosts, host) || strings.HasSuffix(host, ".ciamlogin.com"):
		return entraPreset
	case hasSuffixFold(oktaHostSuffix, host):
		return oktaPreset
	case keycloakPath.MatchString(u.Path):
		return keycloakPreset
	}
	return genericPreset
}

// Google documents both iss forms as current: "The value of iss in the ID token
// is equal to https://accounts.google.com or accounts.google.com."
// https://developers.google.com/identity/openid-connect/openid-connect#validatinganidtoken
var googlePreset = oidcPreset{name: "Google", subjectClaims: []string{"sub"}, altIssuers: []string{"accounts.google.com"}}

// Firebase: user_id is the uid, the same value as sub.
// https://firebase.google.com/docs/auth/admin/verify-id-tokens#verify_id_tokens_using_a_third-party_jwt_library
var firebasePreset = oidcPreset{name: "Firebase", subjectClaims: []string{"sub", "user_id"}}

// Cognito: username is set at sign-up and cannot be changed (preferred_username
// can); access tokens carry it as username, ID tokens as cognito:username.
// https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-settings-attributes.html
var cognitoPreset = oidcPreset{name: "Amazon Cognito", subjectClaims: []string{"sub", "username", "cognito:username"}}

// Okta: uid is the user's Okta id in access tokens (their sub is the login, which
// an administrator can change).
// https://developer.okta.com/docs/guides/validate-access-tokens/dotnet/overview/
var oktaPreset = oidcPreset{name: "Okta", subjectClaims: []string{"sub", "uid"}}

// Entra ID: oid is the user's object id across applications, sub is pairwise per
// application; both are immutable. idtyp is an optional claim (absent unless the
// app registration adds it), so app-only tokens are also told by what they carry
// by default: sub equal to oid (the subject is the calling service principal),
// and application permissions (roles) without delegated scopes (scp) on an access
// token (azpacr v2, appidacr v1).
// https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference
// https://learn.microsoft.com/en-us/entra/identity-platform/optional-claims-reference
var entraPreset = oidcPreset{name: "Microsoft Entra ID", subjectClaims: []string{"sub", "oid"},
	markers: []Marker{{Claim: "sub", NotEqual: "oid",
		Reason: "it is an app-only token: its subject (sub) is the calling application's service principal (oid), not a user"}},
	check: entraAppOnly,
}

func entraAppOnly(c *Claims) error {
	_, roles := c.Raw("roles")
	_, scp := c.Raw("scp")
	_, azpacr := c.Raw("azpacr")
	_, appidacr := c.Raw("appidacr")
	if roles && !scp && (azpacr || appidacr) {
		return NotUserSession("the OIDC token is not a user session: it is an app-only access token (application permissions in roles, no delegated scopes in scp)", nil)
	}
	return nil
}

// Keycloak: a client's service account is the user service-account-<client-id>,
// and the "Client ID" protocol mapper of service-account tokens adds client_id
// (clientId in older versions); user tokens carry neither.
// https://github.com/keycloak/keycloak/blob/main/core/src/main/java/org/keycloak/constants/ServiceAccountConstants.java
var keycloakPreset = oidcPreset{name: "Keycloak", subjectClaims: []string{"sub"},
	markers: []Marker{
		{Claim: "preferred_username", RefusedPrefixes: []string{"service-account-"},
			Reason: "it is a service-account (client-credentials) token (preferred_username service-account-<client>)"},
		{Claim: "client_id", Forbidden: true,
			Reason: "it is a service-account (client-credentials) token (client_id, from the Client ID mapper)"},
		{Claim: "clientId", Forbidden: true,
			Reason: "it is a service-account (client-credentials) token (clientId, from the Client ID mapper)"},
	},
}

func containsFold(list []string, v string) bool {
	for _, s := range list {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

func hasSuffixFold(suffixes []string, v string) bool {
	for _, s := range suffixes {
		if strings.HasSuffix(strings.ToLower(v), s) {
			return true
		}
	}
	return false
}
