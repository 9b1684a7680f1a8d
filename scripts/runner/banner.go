package runner

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/insforge/edge-functions-go/shared/localidentity/devserver"
)

// banner prints the routes, the dev profile's services and copy-paste commands.
func banner(w io.Writer, env *Runner, base string) {
	fmt.Fprintf(w, "\nInsForge edge functions: local HTTP API at %s (built in %s; real bootstrap binaries, Lambda Runtime API)\n\n",
		base, env.BuildTime.Round(time.Millisecond))
	fmt.Fprintln(w, "Routes (from template.yaml):")
	for _, f := range env.Functions {
		for _, r := range f.Routes {
			fmt.Fprintf(w, "  %-4s %s%-20s → %s (timeout %s)\n", r.Method, base, r.Path, f.LogicalID, f.Timeout)
		}
		for _, s := range f.Schedules {
			fmt.Fprintf(w, "  schedule %-28s → %s (run now: make invoke FN=%s EVENT=events/x402-reconcile-scheduled.json)\n",
				s, f.LogicalID, f.LogicalID)
		}
	}
	if env.Issuer != nil {
		fmt.Fprintf(w, "\nDev identity issuer: %s (JWKS for %s; Stytch sessions/authenticate and Better Auth get-session emulated)\n",
			env.Issuer.URL, strings.Join(devserver.Providers, ", "))
	}
	if st := env.Insforge; st != nil {
		fmt.Fprintf(w, "InsForge local stack (throwaway PostgreSQL, infra/migrations applied): %s  anon key %s  (service key passed to the x402 functions)\n",
			st.URL, st.AnonKey)
	}
	for _, f := range env.Functions {
		for _, r := range f.Routes {
			if r.Path == "/x402/dashboard" {
				fmt.Fprintf(w, "Payments dashboard (live over InsForge realtime): %s%s\n", base, r.Path)
			}
		}
	}
	if up := env.Upstream; up != nil {
		fmt.Fprintf(w, "x402 gateway upstream (local demo API, sold at %s/pay/…): %s\n", base, up.URL)
	}
	if c := env.Chain; c != nil {
		fmt.Fprintf(w, "x402 settles on the local devnet (Anvil, chain id 196, test USDG at %s; started in %s): RPC %s\n",
			c.Devnet.USDG.Hex(), c.Devnet.StartTime.Round(time.Millisecond), c.Devnet.URL)
		fmt.Fprintf(w, "  fund a payer with 100 test USDG: curl -s -X POST '%s/faucet?address=0x…'; explorer links open %s/tx/… (local)\n", c.URL, c.URL)
	}
	if env.JWTSecret != "" {
		fmt.Fprintf(w, "Dev INSFORGE_JWT_SECRET (generated for this run): %s\n", env.JWTSecret)
	}
	for _, n := range env.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	issuerFlag := ""
	if env.Issuer != nil && env.Issuer.URL != "http://127.0.0.1:3001" {
		issuerFlag = " --issuer " + env.Issuer.URL
	}
	fmt.Fprintln(w, "\nTry it (copy-paste):")
	fmt.Fprintf(w, "  TOKEN=$(go run ./scripts/dev-token%s clerk user_2dev)\n", issuerFlag)
	fmt.Fprintf(w, "  curl -s -X POST -H \"Authorization: Bearer $TOKEN\" %s/token/clerk\n", base)
	secret := cmp.Or(env.JWTSecret, "$INSFORGE_JWT_SECRET")
	fmt.Fprintf(w, "  INSFORGE_JWT_SECRET=%s go run ./scripts/token-doctor \"$(curl -s -X POST -H \"Authorization: Bearer $TOKEN\" %s/token/clerk | sed -E 's/.*\"token\":\"([^\"]+)\".*/\\1/')\"\n", secret, base)
	fmt.Fprintf(w, "  # other providers: go run ./scripts/dev-token <%s> <user-id> [--kind session|cookie]\n", strings.Join(devserver.Providers, "|"))
	fmt.Fprintf(w, "  go run ./scripts/x402-pay %s/x402/report\n", base)
	if env.Upstream != nil {
		fmt.Fprintf(w, "  go run ./scripts/x402-pay -X GET %s/pay/quote?symbol=ETH   # the x402 gateway in front of the local upstream\n", base)
	}
	fmt.Fprintf(w, "  curl -s %s/x402/payments\n", base)
	fmt.Fprintln(w, "\nLogs of the functions follow (Ctrl-C stops everything).")
}
