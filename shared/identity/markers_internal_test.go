package identity

import (
	"errors"
	"testing"

	"github.com/insforge/edge-functions-go/shared/httpapi"
)

func claimsOf(t *testing.T, js string) *Claims {
	t.Helper()
	var c Claims
	if err := c.UnmarshalJSON([]byte(js)); err != nil {
		t.Fatal(err)
	}
	return &c
}

func TestMarkersRefuseWhatTheyDeclare(t *testing.T) {
	gty := Marker{Claim: "gty", Refused: []string{"client-credentials", "client_credentials"}, Reason: "machine token"}
	clients := Marker{Claim: "sub", RefusedSuffixes: []string{"@clients"}, Reason: "machine token"}
	sid := Marker{Claim: "sid", Required: true, Reason: "no session"}
	azp := Marker{Claim: "azp", OneOf: []string{"https://app.example.com"}, Reason: "other app"}
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
			var he *httpapi.Error
			if !errors.As(err, &he) || he.Code != CodeNotUserSession || he.Status != 401 {
				t.Fatalf("err = %v, want 401 %s", err, CodeNotUserSession)
			}
		})
	}
}

func TestMarkerWithoutARuleIsAConfigurationError(t *testing.T) {
	for _, m := range []Marker{{Reason: "r", Required: true}, {Claim: "x", Required: true}, {Claim: "x", Reason: "r"}} {
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
