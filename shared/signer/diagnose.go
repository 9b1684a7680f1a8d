package signer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Level grades a diagnosis finding.
type Level string

// Levels, from fatal to informative.
const (
	Fail Level = "FAIL" // InsForge rejects the token for this reason
	Warn Level = "WARN" // accepted, but probably not what you want
	OK   Level = "OK"
	Info Level = "INFO"
)

// Finding is one check of a diagnosis, in plain words.
type Finding struct {
	Level   Level
	Check   string // alg, signature, sub, role, aud, exp, nbf, …
	Message string
}

// Diagnosis explains whether InsForge would accept a token, and why.
type Diagnosis struct {
	// Accepted is InsForge's verdict; with no secret the signature is unknown and
	// Accepted reports the other checks only.
	Accepted bool
	// SignatureChecked is false when no secret was given.
	SignatureChecked bool
	// Role is the role InsForge would act as ("" when rejected).
	Role     string
	Header   map[string]any
	Claims   map[string]any
	Findings []Finding
}

func (d *Diagnosis) add(l Level, check, format string, args ...any) {
	d.Findings = append(d.Findings, Finding{Level: l, Check: check, Message: fmt.Sprintf(format, args...)})
	if l == Fail {
		d.Accepted = false
	}
}

// Diagnose checks token the way InsForge's backend does (HS256 with JWT_SECRET,
// sub required, role trusted as given, exp/nbf without clock tolerance, aud and iss
// ignored) and explains the result, including the usual Clerk-template and bridge
// mistakes. secret may be empty (signature not checked).
func Diagnose(token string, secret []byte, now time.Time) Diagnosis {
	d := Diagnosis{Accepted: true}
	token = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(token), "Bearer "))
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		d.add(Fail, "format", "not a JWT: it has %d dot-separated parts, a JWT has 3 (header.payload.signature). "+
			"Opaque tokens (Stytch session_token, Better Auth session, Auth0 token without audience) must go through a token bridge.", len(parts))
		return d
	}
	if err := decodeJSON(parts[0], &d.Header); err != nil {
		d.add(Fail, "format", "the header is not base64url JSON: %v", err)
		return d
	}
	if err := decodeJSON(parts[1], &d.Claims); err != nil {
		d.add(Fail, "format", "the payload is not base64url JSON: %v", err)
		return d
	}
	d.checkAlg(parts, secret)
	d.checkSub()
	d.checkRole()
	d.checkTimes(now)
	d.checkAud()
	if !d.Accepted {
		d.Role = ""
	}
	return d
}

func (d *Diagnosis) checkAlg(parts []string, secret []byte) {
	alg, _ := d.Header["alg"].(string)
	switch {
	case alg == "HS256":
		d.add(OK, "alg", "HS256, the algorithm InsForge verifies")
	case strings.EqualFold(alg, "none"):
		d.add(Fail, "alg", "alg %q: an unsigned token; InsForge only accepts HS256 signed with JWT_SECRET", alg)
		return
	case strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "ES") || strings.HasPrefix(alg, "PS") || alg == "EdDSA":
		d.add(Fail, "alg", "alg %s: this is a provider token (Clerk session token, WorkOS/Kinde/Auth0/Stytch access token, "+
			"Better Auth jwt() token), signed with the provider's key. InsForge only accepts HS256 tokens signed with its JWT_SECRET: "+
			"exchange it at the provider's /token/<provider> bridge, or (Clerk) use a JWT template with signing algorithm HS256 "+
			"and the InsForge JWT_SECRET as custom signing key", alg)
		return
	default:
		d.add(Fail, "alg", "alg %q is not accepted; InsForge only accepts HS256 (a Clerk template must use HS256, not HS384/HS512)", alg)
		return
	}
	if len(secret) == 0 {
		d.add(Info, "signature", "not checked: set INSFORGE_JWT_SECRET (npx -y @insforge/cli secrets get JWT_SECRET)")
		return
	}
	d.SignatureChecked = true
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		d.add(Fail, "signature", "the signature is not base64url")
		return
	}
	signed := parts[0] + "." + parts[1]
	if hmacOK(signed, sig, secret) {
		d.add(OK, "signature", "valid for INSFORGE_JWT_SECRET")
		return
	}
	// Name the usual copy-paste mistakes instead of a bare "invalid signature".
	hint := "it was signed with a different secret. Clerk template: the custom signing key must be exactly the InsForge JWT_SECRET; " +
		"bridges: INSFORGE_JWT_SECRET must be the same project's JWT_SECRET"
	trimmed := strings.TrimSpace(string(secret))
	switch {
	case trimmed != string(secret) && hmacOK(signed, sig, []byte(trimmed)):
		hint = "it verifies with the secret WITHOUT its surrounding whitespace/newline: your INSFORGE_JWT_SECRET has a stray space or newline"
	case hmacOK(signed, sig, []byte(trimmed+"\n")):
		hint = "it was signed with the secret plus a trailing newline: the signer's copy of the secret ends with a newline"
	default:
		if dec, err := base64.StdEncoding.DecodeString(trimmed); err == nil && hmacOK(signed, sig, dec) {
			hint = "it was signed with the base64-DECODED secret; InsForge uses the secret string as-is (do not tick \"secret is base64 encoded\")"
		} else if hmacOK(signed, sig, []byte(base64.StdEncoding.EncodeToString(secret))) {
			hint = "it was signed with the base64-ENCODED secret; InsForge uses the secret string as-is"
		}
	}
	d.add(Fail, "signature", "invalid: %s", hint)
}

func hmacOK(signed string, sig, key []byte) bool {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signed))
	return hmac.Equal(m.Sum(nil), sig)
}

func (d *Diagnosis) checkSub() {
	v, ok := d.Claims["sub"]
	s, isString := v.(string)
	switch {
	case !ok:
		d.add(Fail, "sub", "missing: InsForge answers 401 \"Invalid token subject\". Bridges set sub to the provider's user id; "+
			"Clerk templates get sub from Clerk (do not remove it)")
	case !isString || strings.TrimSpace(s) == "":
		d.add(Fail, "sub", "empty or not a string (%v): InsForge answers 401 \"Invalid token subject\"", v)
	case strings.Contains(s, "{{"):
		d.add(Warn, "sub", "%q looks like an unexpanded template shortcode; do not set sub in a Clerk template, Clerk adds the user id", s)
	default:
		d.add(OK, "sub", "%q: requesting_user_id() will return this id in RLS policies (auth.uid() only works for UUIDs)", s)
	}
}

func (d *Diagnosis) checkRole() {
	v, ok := d.Claims["role"]
	role, _ := v.(string)
	switch {
	case !ok:
		d.Role = Role
		d.add(Warn, "role", "missing: InsForge treats the token as role authenticated. Fine, but bridges and the Clerk "+
			"template set {\"role\":\"authenticated\"} explicitly")
	case role == Role:
		d.Role = Role
		d.add(OK, "role", "authenticated: an ordinary signed-in user, subject to RLS")
	case role == "project_admin":
		d.Role = role
		d.add(Warn, "role", "project_admin: this is an ADMIN token. InsForge bypasses Row Level Security for it (BYPASSRLS) "+
			"and drops the sub. Never give such a token to a browser; a bridge that copies an upstream role is a security hole")
	case role == "anon":
		d.Role = role
		d.add(Warn, "role", "anon: InsForge acts as the anonymous role and ignores the user; RLS policies for authenticated users will not match")
	default:
		d.add(Fail, "role", "%v: InsForge answers 403 \"Invalid user role claim\" (only anon, authenticated and project_admin exist). "+
			"Provider roles such as WorkOS \"member\" or Supabase \"service_role\" must not be copied: set role to \"authenticated\"", v)
	}
}

func (d *Diagnosis) checkTimes(now time.Time) {
	exp, hasExp, expErr := numericClaim(d.Claims, "exp")
	switch {
	case expErr != nil:
		d.add(Fail, "exp", "%v", expErr)
	case !hasExp:
		d.add(Warn, "exp", "missing: InsForge accepts a token that never expires; bridge tokens always carry exp (TOKEN_TTL)")
	case !now.Before(exp):
		d.add(Fail, "exp", "expired %s ago (at %s); InsForge allows no clock skew. Get a fresh token (bridges: refresh before expires_at)",
			now.Sub(exp).Round(time.Second), exp.UTC().Format(time.RFC3339))
	case exp.Sub(now) <= 2*time.Minute:
		d.add(Warn, "exp", "expires in %s: Clerk template tokens live 60 s by default; refresh before expiry or raise the template lifetime",
			exp.Sub(now).Round(time.Second))
	default:
		d.add(OK, "exp", "valid for another %s (until %s)", exp.Sub(now).Round(time.Second), exp.UTC().Format(time.RFC3339))
	}
	nbf, hasNbf, nbfErr := numericClaim(d.Claims, "nbf")
	switch {
	case nbfErr != nil:
		d.add(Fail, "nbf", "%v", nbfErr)
	case hasNbf && now.Before(nbf):
		d.add(Fail, "nbf", "not valid for another %s: InsForge checks nbf with no clock tolerance (a signer whose clock runs ahead?)",
			nbf.Sub(now).Round(time.Second))
	}
	if iat, has, err := numericClaim(d.Claims, "iat"); err == nil && has && iat.After(now.Add(time.Minute)) {
		d.add(Warn, "iat", "issued %s in the future: the signer's clock is ahead", iat.Sub(now).Round(time.Second))
	}
}

func (d *Diagnosis) checkAud() {
	aud, ok := d.Claims["aud"]
	has := false
	switch a := aud.(type) {
	case string:
		has = a == Audience
	case []any:
		for _, x := range a {
			has = has || x == Audience
		}
	}
	switch {
	case !ok:
		d.add(Info, "aud", "missing: InsForge does not check aud; its guides (and these bridges) set \"insforge-api\"")
	case has:
		d.add(OK, "aud", "contains insforge-api (InsForge itself does not check aud)")
	default:
		d.add(Info, "aud", "%v: InsForge does not check aud, but its guides use \"insforge-api\"", aud)
	}
	if iss, ok := d.Claims["iss"].(string); ok && strings.Contains(iss, "clerk") && d.Header["alg"] == "HS256" {
		d.add(Info, "iss", "%s: a Clerk JWT-template token; it can be used with InsForge directly, no bridge needed", iss)
	}
}

// numericClaim reads a NumericDate claim the way jsonwebtoken does: a JSON number.
func numericClaim(c map[string]any, name string) (time.Time, bool, error) {
	v, ok := c[name]
	if !ok {
		return time.Time{}, false, nil
	}
	f, isNum := v.(float64)
	if !isNum || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, true, fmt.Errorf("%v is not a number of seconds: InsForge rejects it (invalid %s value)", v, name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

func decodeJSON(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// String is the plain-words report the token doctor prints.
func (d Diagnosis) String() string {
	var b strings.Builder
	switch {
	case !d.Accepted:
		b.WriteString("REJECTED: InsForge would refuse this token.\n")
	case !d.SignatureChecked:
		b.WriteString("PROBABLY ACCEPTED: the claims are fine, but the signature was not checked (no secret).\n")
	default:
		fmt.Fprintf(&b, "ACCEPTED: InsForge would accept this token as role %s.\n", d.Role)
	}
	if d.Header != nil {
		fmt.Fprintf(&b, "\nheader: %s\n", compact(d.Header))
		fmt.Fprintf(&b, "claims: %s\n\n", compact(d.Claims))
	}
	for _, f := range d.Findings {
		fmt.Fprintf(&b, "  [%-4s] %-9s %s\n", f.Level, f.Check, f.Message)
	}
	return b.String()
}

func compact(m map[string]any) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v, _ := json.Marshal(m[k])
		parts = append(parts, fmt.Sprintf("%s=%s", k, v))
	}
	return strings.Join(parts, " ")
}
