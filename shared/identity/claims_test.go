package identity

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDecodeClaimsReadsTheRegisteredClaims(t *testing.T) {
	var c Claims
	err := decodeClaims([]byte(` { "iss" : "https://i.example" , "sub":"u\u00e9", "aud":["a","b"], "exp":1700000000.9, "nbf":1699999990, "iat":1.7e9,
		"nested":{"sub":"not-top-level","x":[1,{"y":"}"}]}, "s":"a\"b" } `), &c)
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "https://i.example" || c.Subject != "ué" || strings.Join(c.Audience, ",") != "a,b" {
		t.Fatalf("claims %+v", c)
	}
	if !c.ExpiresAt.Equal(time.Unix(1700000000, 0)) || !c.NotBefore.Equal(time.Unix(1699999990, 0)) || !c.IssuedAt.Equal(time.Unix(1700000000, 0)) {
		t.Fatalf("times exp %v nbf %v iat %v", c.ExpiresAt, c.NotBefore, c.IssuedAt)
	}
	if s, ok := c.String("s"); !ok || s != `a"b` {
		t.Fatalf("escaped string %q %v", s, ok)
	}
	if raw, ok := c.Raw("nested"); !ok || !strings.HasSuffix(string(raw), `"}"}]}`) {
		t.Fatalf("nested raw %s", raw)
	}
}

func TestDecodeClaimsRefusesWhatIsAmbiguousOrMistyped(t *testing.T) {
	for name, payload := range map[string]string{
		"duplicate claim":             `{"sub":"a","sub":"b"}`,
		"duplicate through an escape": `{"sub":"a","s\u0075b":"b"}`,
		"not an object":               `["sub"]`,
		"invalid JSON":                `{"sub":"a",}`,
		"trailing data":               `{"sub":"a"} {}`,
		"sub not a string":            `{"sub":42}`,
		"iss not a string":            `{"iss":["x"]}`,
		"aud an object":               `{"aud":{"a":true}}`,
		"aud array with a number":     `{"aud":["a",1]}`,
		"exp a string":                `{"exp":"1700000000"}`,
		"nbf true":                    `{"nbf":true}`,
	} {
		var c Claims
		if err := decodeClaims([]byte(payload), &c); err == nil {
			t.Errorf("%s: %s accepted", name, payload)
		}
	}
}

func TestActorIsActSub(t *testing.T) {
	for payload, want := range map[string]string{
		`{"act":{"sub":"admin@example.com"}}`:             "admin@example.com",
		`{"act":{"sub":" admin "}}`:                       "admin",
		`{"act":{"iss":"x","sub":"a","act":{"sub":"b"}}}`: "a",
		`{"act":{}}`:         "(act without sub)",
		`{"act":"admin"}`:    "(act without sub)",
		`{"act":{"sub":42}}`: "(act without sub)",
	} {
		var c Claims
		if err := decodeClaims([]byte(payload), &c); err != nil {
			t.Fatal(err)
		}
		if got, ok := c.actor(); !ok || got != want {
			t.Errorf("%s: actor %q %v, want %q", payload, got, ok, want)
		}
	}
	var c Claims
	_ = decodeClaims([]byte(`{"act":null}`), &c)
	if _, ok := c.actor(); ok {
		t.Error("act null counts as an actor")
	}
}

// The one-pass index agrees with encoding/json on every object without
// duplicate names: same members, same raw values; and it refuses what
// encoding/json refuses.
func FuzzDecodeClaimsAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"sub":"a","aud":["x","y"],"exp":1}`, `{"a":{"b":[1,"}",{"c":"]"}]},"d":"\"\\"}`,
		`{"s\u0075b":"x"}`, `{"a":1e3,"b":-0.5,"c":true,"d":null}`, ` {"a" : [ ] , "b" : { } } `, `[1]`, `{"a":}`, `{"a":1,}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		var want map[string]json.RawMessage
		wantErr := json.Unmarshal(p, &want)
		var got []member
		err := indexObject(p, &got)
		if wantErr != nil {
			if err == nil {
				t.Fatalf("%q: accepted, encoding/json says %v", p, wantErr)
			}
			return
		}
		if err != nil {
			if strings.Contains(err.Error(), "twice") || strings.Contains(err.Error(), "not a JSON object") || strings.Contains(err.Error(), "too many") ||
				strings.Contains(err.Error(), "UTF-8") {
				return // refused on purpose: duplicates, invalid UTF-8; null decodes to a nil map
			}
			t.Fatalf("%q: refused: %v", p, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d members, encoding/json %d", p, len(got), len(want))
		}
		for _, m := range got {
			w, ok := want[string(m.name)]
			if !ok || !bytes.Equal(bytes.TrimSpace(w), m.value) {
				t.Fatalf("%q: member %q = %s, encoding/json %s", p, m.name, m.value, w)
			}
		}
	})
}
