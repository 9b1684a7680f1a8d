package identity

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/insforge/edge-functions-go/shared/identity/identitytest"
)

// TestValidIDMatchesThePattern pins validID to the pattern it replaced.
func TestValidIDMatchesThePattern(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	cases := []string{"", "a", "project-test-6a1e8c2d-0000-4000-8000-000000000001", "client_01HTEST",
		strings.Repeat("a", 128), strings.Repeat("a", 129), "a b", "a/b", "../x", "a%2F", "é", "a\n", "a.b", "A-Z_0-9"}
	for _, c := range cases {
		if got, want := validID(c), pattern.MatchString(c); got != want {
			t.Errorf("validID(%q) = %v, want %v", c, got, want)
		}
	}
}

// The provider fixtures (testdata/providers/*.json) are the token samples each
// provider publishes (decoded claims from its reference pages and SDK sources),
// each with its source URL and whether it is published as is or constructed
// from a claims table where no decoded sample exists. The table test signs each
// one with a local key (exp, iat and nbf moved to now: the samples expired long
// ago) and asserts the bridge's decision. docs/providers.md "User-session
// markers at a glance" is generated from the same files:
//
//	go test ./shared/identity -run TestProviderFixtures -update-docs
var updateDocs = flag.Bool("update-docs", false, "rewrite the fixture table in docs/providers.md")

// fixtureFile is one testdata/providers/<slug>.json; its keys are its field
// names in lower case (encoding/json matches them without tags).
type fixtureFile struct {
	Provider, Bridge, Alg string
	Env                   map[string]string
	Cases                 []fixtureCase
}

type fixtureCase struct {
	Name   string            `json:"name"`
	Rule   string            `json:"decision_rule"`
	Source string            `json:"source"`
	Sample string            `json:"sample"`
	Env    map[string]string `json:"env"`
	Claims map[string]any    `json:"claims"`
	Minted *struct {
		Sub   string `json:"sub"`
		Email string `json:"email"`
		Actor string `json:"actor"`
	} `json:"minted"`
	Refused string `json:"refused"`
}

func loadFixtures(t *testing.T) []fixtureFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "providers", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	sort.Strings(paths)
	var out []fixtureFile
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f fixtureFile
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if BridgeNamed(f.Bridge) == nil || f.Provider == "" || len(f.Cases) == 0 {
			t.Fatalf("%s: unknown bridge %q or no cases", p, f.Bridge)
		}
		for _, c := range f.Cases {
			if !strings.HasPrefix(c.Source, "https://") || c.Sample == "" || c.Rule == "" || (c.Minted == nil) == (c.Refused == "") {
				t.Fatalf("%s %q: every case needs a source URL, a sample note, a rule and exactly one of minted/refused", p, c.Name)
			}
		}
		out = append(out, f)
	}
	return out
}

func TestProviderFixtures(t *testing.T) {
	files := loadFixtures(t)
	// Every declared bridge is pinned by at least one published sample.
	for _, b := range Bridges {
		if !slices.ContainsFunc(files, func(f fixtureFile) bool { return f.Bridge == b.Slug }) {
			t.Errorf("bridge %s has no fixture in testdata/providers", b.Slug)
		}
	}
	for _, f := range files {
		for _, c := range f.Cases {
			t.Run(f.Provider+"/"+c.Name, func(t *testing.T) {
				b := BridgeNamed(f.Bridge)
				alg := f.Alg
				if alg == "" {
					alg = b.Alg
				}
				iss := identitytest.NewIssuer(t, alg)
				env := map[string]string{b.JWKSVar: iss.JWKSURL()}
				if f.Bridge == "oidc" {
					env["OIDC_ALGORITHMS"] = alg
				}
				if f.Bridge == "better-auth" {
					env["BETTER_AUTH_JWT_ALGORITHMS"] = alg
				}
				for k, v := range f.Env {
					env[k] = v
				}
				for k, v := range c.Env {
					env[k] = v
				}
				for k, v := range env {
					t.Setenv(k, v)
				}
				p, err := b.Load(oidcOptions(&syncBuf{}))
				if err != nil {
					t.Fatalf("build: %v", err)
				}
				t.Cleanup(p.Close)
				claims := jwt.MapClaims{}
				for k, v := range c.Claims {
					claims[k] = v
				}
				now := time.Now()
				claims["iat"], claims["exp"] = now.Add(-time.Minute).Unix(), now.Add(5*time.Minute).Unix()
				if _, ok := claims["nbf"]; ok {
					claims["nbf"] = now.Add(-time.Minute).Unix()
				}
				id, err := p.Verify(context.Background(), Credential{Token: iss.Sign(claims)})
				if c.Refused != "" {
					var ie *Error
					if !errors.As(err, &ie) || ie.Kind.Code() != c.Refused {
						t.Fatalf("decision %+v, err %v; want refused with %s", id, err, c.Refused)
					}
					return
				}
				if err != nil {
					t.Fatalf("refused: %v; want minted sub %q", err, c.Minted.Sub)
				}
				if id.Subject != c.Minted.Sub || id.Email != c.Minted.Email || id.Actor != c.Minted.Actor {
					t.Fatalf("minted sub %q email %q actor %q; want %q %q %q", id.Subject, id.Email, id.Actor, c.Minted.Sub, c.Minted.Email, c.Minted.Actor)
				}
			})
		}
	}
	t.Run("docs", func(t *testing.T) { checkFixtureDocs(t, files) })
}

const (
	docsPath    = "../../docs/providers.md"
	fixturesBeg = "<!-- generated from shared/identity/testdata/providers by TestProviderFixtures: do not edit -->"
	fixturesEnd = "<!-- end of generated table -->"
)

// fixtureTable renders the decision of every fixture as a Markdown table.
func fixtureTable(files []fixtureFile) string {
	var b strings.Builder
	b.WriteString("| Provider | Token (source) | Decision | Because | Sample |\n|---|---|---|---|---|\n")
	for _, f := range files {
		for _, c := range f.Cases {
			decision := "**`" + c.Refused + "`**"
			if c.Minted != nil {
				decision = "minted, `sub` `" + c.Minted.Sub + "`"
				if c.Minted.Email != "" {
					decision += ", `email` `" + c.Minted.Email + "`"
				}
				if c.Minted.Actor != "" {
					decision += ", actor logged"
				}
			}
			name := c.Name
			if len(c.Env) > 0 {
				keys := make([]string, 0, len(c.Env))
				for k, v := range c.Env {
					keys = append(keys, "`"+k+"="+v+"`")
				}
				sort.Strings(keys)
				name += " (" + strings.Join(keys, ", ") + ")"
			}
			fmt.Fprintf(&b, "| %s | [%s](%s) | %s | %s | %s |\n", f.Provider, mdEscape(name), c.Source, mdEscape(decision), mdEscape(c.Rule), mdEscape(c.Sample))
		}
	}
	return b.String()
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

func checkFixtureDocs(t *testing.T, files []fixtureFile) {
	raw, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i, j := strings.Index(doc, fixturesBeg), strings.Index(doc, fixturesEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no generated fixture table (markers %q … %q)", docsPath, fixturesBeg, fixturesEnd)
	}
	want := fixturesBeg + "\n" + fixtureTable(files) + fixturesEnd
	if doc[i:j+len(fixturesEnd)] == want {
		return
	}
	if *updateDocs {
		if err := os.WriteFile(docsPath, []byte(doc[:i]+want+doc[j+len(fixturesEnd):]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("%s's fixture table is out of date: go test ./shared/identity -run TestProviderFixtures -update-docs", docsPath)
}
