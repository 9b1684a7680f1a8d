package parity

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func jwt(claims map[string]any) string {
	h, _ := json.Marshal(map[string]any{"alg": "HS256", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + ".sig"
}

// Views set aside the clock and per-payment hashes, and nothing else.
func TestBodyViewIgnoresOnlyTheClock(t *testing.T) {
	now := time.Now().Unix()
	body := func(sub string, iat int64, ttl int64, hash, id string) string {
		tok := jwt(map[string]any{"sub": sub, "role": "authenticated", "iat": iat, "exp": iat + ttl})
		return fmt.Sprintf(`{"token":%q,"expires_at":%d,"generated_at":%q,"tx_hash":%q,"payment":{"id":%q}}`,
			tok, iat+ttl, time.Unix(iat, 0).UTC().Format(time.RFC3339), hash, id)
	}
	h1, h2 := "0x"+fmt.Sprintf("%064x", 1), "0x"+fmt.Sprintf("%064x", 2)
	id1, id2 := "6e58d23f-d54a-4dd6-85fd-8432b5986794", "f7d93507-17c6-46d3-8038-3e194735d9b7"
	base := BodyView(body("user_1", now, 3600, h1, id1))
	for _, tc := range []struct {
		name  string
		other string
		equal bool
	}{
		{"a second later, another payment", body("user_1", now+1, 3600, h2, id2), true},
		{"another subject", body("user_2", now, 3600, h1, id1), false},
		{"another lifetime", body("user_1", now, 60, h1, id1), false},
		{"a capped lifetime a second shorter", body("user_1", now, 3599, h1, id1), true},
		{"a time far from now", body("user_1", now-10*86400, 3600, h1, id1), false},
		{"a hash that is not one", body("user_1", now, 3600, "0xabc", id1), false},
		{"an id that is not a UUID", body("user_1", now, 3600, h1, "row-1"), false},
	} {
		if got := reflect.DeepEqual(BodyView(tc.other), base); got != tc.equal {
			t.Errorf("%s: equal %v, want %v\n %s\n %s", tc.name, got, tc.equal, JSON(BodyView(tc.other)), JSON(base))
		}
	}
	// The gateway's upstream echoes the ledger row as payment_id; other keys keep their UUIDs.
	for _, tc := range []struct {
		name  string
		a, b  string
		equal bool
	}{
		{"payment_id is per payment", `{"payment_id":"` + id1 + `"}`, `{"payment_id":"` + id2 + `"}`, true},
		{"another key keeps its value", `{"subject":"` + id1 + `"}`, `{"subject":"` + id2 + `"}`, false},
		{"a sign-in nonce is per issue", `{"nonce":"` + strings.Repeat("0a", 36) + `"}`, `{"nonce":"` + strings.Repeat("b1", 36) + `"}`, true},
		{"a nonce of another shape keeps its value", `{"nonce":"abc"}`, `{"nonce":"abd"}`, false},
		{"a pass bought a second later", fmt.Sprintf(`{"valid_until":%d}`, now+2592000), fmt.Sprintf(`{"valid_until":%d}`, now+2592001), true},
		{"a pass of another duration", fmt.Sprintf(`{"valid_until":%d}`, now+2592000), fmt.Sprintf(`{"valid_until":%d}`, now+86400), false},
	} {
		if got := reflect.DeepEqual(BodyView(tc.a), BodyView(tc.b)); got != tc.equal {
			t.Errorf("%s: equal %v, want %v", tc.name, got, tc.equal)
		}
	}
}

// The request id each side echoes must be its own.
func TestLambdaViewChecksTheRequestID(t *testing.T) {
	payload := []byte(`{"statusCode":200,"headers":{"X-Request-Id":"id-1","Vary":"Origin"},"body":"{}"}`)
	v, err := LambdaView(payload, "id-1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"statusCode": 200.0, "headers": map[string]any{"Vary": "Origin"}, "body": map[string]any{}}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("view %s", JSON(v))
	}
	if _, err := LambdaView(payload, "id-2"); err == nil {
		t.Error("another request id was accepted")
	}
}
