package identity

import (
	"errors"
	"strings"
	"testing"
)

func claimsOf(t *testing.T, js string) *Claims {
	t.Helper()
	var c Claims
	if err := decodeClaims([]byte(js), &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

func TestMarkersRefuseWhatTheyDeclare(t *testing.T) {
	gty := Marker{Claim: "gty", Refused: []string{"client-credentials", "client_credentials"}, Reason: "machine token"}
	clients := Marker{Claim: "sub", RefusedSuffixes: []string{"@clients"}, Reason: "machine token"}
	sid := Marker{Claim: "sid", Required: true, Reason: "no session"}
	azp := Marker{Claim: "azp", OneOf: []string{"https://app.example.com"}, Reason: "other app"}
	azpOptional := Marker{Claim: "azp", OneOf: []string{"https://app.example.com"}, AllowAbsent: true, Reason: "other app"}
	forbidden := Marker{Claim: "client_id", Forbidden: true, Reason: "service account"}
	prefix := Marker{Claim: "preferred_username", RefusedPrefixes: []string{"service-account-"}, Reason: "service account"}
	notEqual := Marker{Claim: "sub", NotEqual: "oid", Reason: "app-only"}
	cases := []struct {
		name   string
		marker Marker
		claims string
		ok     bool
	}{
		{"gty absent", gty, `{"sub":"u"}`, true},
		{"gty password", gty, `{"gty":"password"}`, true},
		{"gty client-credentials", gty, `{"gty":"client-credentials"}`, false},
		{"gty array with client_credentials", gty, `{"gty":["refresh_token","client_credentials"]}`, false},
		{"gty array without it", gty, `{"gty":["refresh_token"]}`, true},
		{"gty as an object is refused", gty, `{"gty":{"x":"client-credentials"}}`, false},
		{"gty null counts as absent", gty, `{"gty":null}`, true},
		{"sub @clients", clients, `{"sub":"abc@clients"}`, false},
		{"sub user", clients, `{"sub":"auth0|123"}`, true},
		{"sid present", sid, `{"sid":"sess_1"}`, true},
		{"sid missing", sid, `{}`, false},
		{"sid empty", sid, `{"sid":""}`, false},
		{"sid null", sid, `{"sid":null}`, false},
		{"session object required and present", Marker{Claim: "s", Required: true, Reason: "r"}, `{"s":{"id":"x"}}`, true},
		{"session object empty", Marker{Claim: "s", Required: true, Reason: "r"}, `{"s":{}}`, false},
		{"azp allowed", azp, `{"azp":"https://app.example.com"}`, true},
		{"azp other", azp, `{"azp":"https://evil.example.com"}`, false},
		{"azp missing", azp, `{}`, false},
		{"azp missing, absence allowed", azpOptional, `{}`, true},
		{"azp null, absence allowed", azpOptional, `{"azp":null}`, true},
		{"azp allowed, absence allowed", azpOptional, `{"azp":"https://app.example.com"}`, true},
		{"azp other, absence allowed", azpOptional, `{"azp":"https://evil.example.com"}`, false},
		{"azp empty, absence allowed", azpOptional, `{"azp":""}`, false},
		{"azp a number, absence allowed", azpOptional, `{"azp":1}`, false},
		{"azp an empty array, absence allowed", azpOptional, `{"azp":[]}`, false},
		{"azp an empty array with a space", azp, `{"azp":[ ]}`, false},
		{"azp an array of the allowed origin", azp, `{"azp":["https://app.example.com"]}`, true},
		{"azp an array with another origin", azp, `{"azp":["https://app.example.com","https://evil.example.com"]}`, false},
		{"sid an empty object with a space", sid, `{"sid":{ }}`, false},
		{"sid an empty array with a newline", sid, "{\"sid\":[\n]}", false},
		{"client_id absent", forbidden, `{"sub":"u"}`, true},
		{"client_id present", forbidden, `{"client_id":"backend-job"}`, false},
		{"client_id empty still present", forbidden, `{"client_id":""}`, false},
		{"service account username", prefix, `{"preferred_username":"service-account-backend"}`, false},
		{"user whose name contains the prefix later", prefix, `{"preferred_username":"ada-service-account-x"}`, true},
		{"sub equals oid", notEqual, `{"sub":"2b0e","oid":"2b0e"}`, false},
		{"sub differs from oid", notEqual, `{"sub":"pairwise","oid":"2b0e"}`, true},
		{"no oid", notEqual, `{"sub":"2b0e"}`, true},
		{"sub equals oid through an escape is still refused", notEqual, `{"sub":"2b0e","oid":"2b0\u0065"}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.marker.apply("P", claimsOf(t, c.claims))
			if c.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ie *Error
			if !errors.As(err, &ie) || ie.Kind != KindNotUserSession || ie.Kind.Code() != CodeNotUserSession {
				t.Fatalf("err = %v, want %s", err, CodeNotUserSession)
			}
		})
	}
}

func TestMarkerWithoutARuleIsAConfigurationError(t *testing.T) {
	for _, m := range []Marker{{Reason: "r", Required: true}, {Claim: "x", Required: true}, {Claim: "x", Reason: "r"},
		{Claim: "x", Reason: "r", AllowAbsent: true}, {Claim: "x", Reason: "r", Required: true, AllowAbsent: true}} {
		if m.check() == nil {
			t.Errorf("%+v accepted", m)
		}
	}
}

func TestEmailIsCopiedOnlyWhenVerifiedIsExactlyTrue(t *testing.T) {
	for js, want := range map[string]string{
		`{"email":"a@x.io","email_verified":true}`:     "a@x.io",
		`{"email":"a@x.io","email_verified":false}`:    "",
		`{"email":"a@x.io"}`:                           "",
		`{"email":"a@x.io","email_verified":null}`:     "",
		`{"email":"a@x.io","email_verified":"true"}`:   "",
		`{"email":"a@x.io","email_verified":1}`:        "",
		`{"email":"a@x.io","emailVerified":true}`:      "",
		`{"email":"a@x.io","email_verified":[true]}`:   "",
		`{"email":"a@x.io","email_verified":{"v":1}}`:  "",
		`{"email":" a@x.io ","email_verified": true }`: "a@x.io",
	} {
		if got := claimsOf(t, js).email("email_verified"); got != want {
			t.Errorf("%s: email = %q, want %q", js, got, want)
		}
	}
}

func TestSessionTokenShapes(t *testing.T) {
	for tok, want := range map[string]bool{
		"mZAYn5aLEqKUlZ_Ad9U_fWr38GaAQ1oFAhT8ds245v7Q":  true,
		"mZAYn5aLEqKUlZ_Ad9U_fWr38GaAQ1oFAhT8ds245v7":   false,
		"mZAYn5aLEqKUlZ_Ad9U_fWr38GaAQ1oFAhT8ds245v7Q1": false,
		"mZAYn5aLEqKUlZ+Ad9U_fWr38GaAQ1oFAhT8ds245v7Q":  false,
	} {
		if stytchTokenShape(Credential{Token: tok}) != want {
			t.Errorf("stytch %q: want %v", tok, want)
		}
	}
	const raw = "Xq3vT0kq0pXkCq1u0yP2m5N6b7V8c9D0"
	const sig = "7H6Hn7b0x0Rk1l0sE9Y7yq3cE9pq0oK3r0fZs0n1Xw8="
	for c, want := range map[Credential]bool{
		{Token: raw}: true,
		{Token: raw, Cookie: "better-auth.session_token"}:                                  false, // cookies are always signed
		{Token: raw + "." + sig}:                                                           true,
		{Token: raw + "." + "7H6Hn7b0x0Rk1l0sE9Y7yq3cE9pq0oK3r0fZs0n1Xw8%3D", Cookie: "x"}: true,
		{Token: raw + "." + sig[:43]}:                                                      false,
		{Token: raw[1:] + "." + sig}:                                                       false,
		{Token: raw + "." + strings.Replace(sig, "7", "-", 1)}:                             false,
		{Token: raw + "%ZZ"}:                                                               false,
	} {
		if betterAuthTokenShape(c) != want {
			t.Errorf("better auth %+v: want %v", c, want)
		}
	}
}
