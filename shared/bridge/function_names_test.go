package bridge_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/insforge/edge-functions-go/shared/bridge"
	"github.com/insforge/edge-functions-go/shared/tokenwallet"
)

// A deployed bridge records metrics under its function's name (launch.Runtime);
// FromEnv, used by tests and the local runner, uses "token-"+Slug(provider
// name). They agree for every provider: each functions/token-<Slug>/main.go
// exists and launches under exactly that name, and no bridge function is left
// out, so the metric dimension cannot drift between the two paths.
func TestEveryBridgeFunctionIsNamedTokenSlugOfItsProvider(t *testing.T) {
	seen := map[string]bool{}
	for _, sp := range specs {
		t.Run(sp.Name, func(t *testing.T) {
			e := newEnv(t, sp)
			e.build()
			fn := "token-" + bridge.Slug(e.Provider.Name)
			seen[fn] = true
			src, err := os.ReadFile(filepath.Join("..", "..", "functions", fn, "main.go"))
			if err != nil {
				t.Fatalf("provider %q has no function %s: %v", e.Provider.Name, fn, err)
			}
			if !strings.Contains(string(src), `launch.HTTP("`+fn+`", bridge.Build(`) {
				t.Fatalf("functions/%s/main.go does not launch under the name %s:\n%s", fn, fn, src)
			}
		})
	}
	// The wallet bridge has no identity provider: its own builder, the same name rule.
	fn := "token-" + tokenwallet.WalletProvider
	src, err := os.ReadFile(filepath.Join("..", "..", "functions", fn, "main.go"))
	if err != nil || !strings.Contains(string(src), `launch.HTTP("`+fn+`", tokenwallet.Build)`) {
		t.Errorf("functions/%s/main.go does not launch tokenwallet.Build under the name %s: %v", fn, fn, err)
	}
	seen[fn] = true
	dirs, err := filepath.Glob(filepath.Join("..", "..", "functions", "token-*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no bridge functions found: %v", err)
	}
	for _, d := range dirs {
		if !seen[filepath.Base(d)] {
			t.Errorf("%s is not the function of any provider the harness builds", filepath.Base(d))
		}
	}
}
