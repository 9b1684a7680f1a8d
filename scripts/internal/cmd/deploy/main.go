// Command deploy is the first `make deploy`: it asks which features to deploy and only what
// they need (scripts/internal/deployplan), stores the secret values in AWS Secrets Manager
// through the SAM CLI venv's boto3 (never on a command line, never in CloudFormation), and
// prints the parameter overrides for `sam deploy`. scripts/deploy runs it and then sam deploy.
//
//	go run ./scripts/internal/cmd/deploy <python-with-boto3> <out-file>
//	go run ./scripts/internal/cmd/deploy --sample clerk|everything   (the rehearsal's answers, as JSON)
package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/insforge/edge-functions-go/scripts/internal/deployplan"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "--sample" {
		if err := sample(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "deploy --sample:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: deploy <python-with-boto3> <out-file>")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "make deploy:", err)
		os.Exit(1)
	}
}

func run(python, outFile string) error {
	in := bufio.NewReader(os.Stdin)
	ask := func(q deployplan.Question, def string) (string, error) {
		hint := ""
		if q.Where != "" {
			hint = "  (" + q.Where + ")"
		}
		if def != "" {
			fmt.Fprintf(os.Stderr, "%s [%s]%s: ", q.Prompt, def, hint)
		} else {
			fmt.Fprintf(os.Stderr, "%s%s: ", q.Prompt, hint)
		}
		hidden := strings.HasPrefix(q.Key, "secret:") && echo(false)
		line, err := in.ReadString('\n')
		if hidden {
			echo(true)
			fmt.Fprintln(os.Stderr)
		}
		line = strings.TrimSpace(line)
		if err != nil && line == "" {
			return "", fmt.Errorf("no answer to %q", q.Prompt)
		}
		if line == "" {
			line = def
		}
		if line == "" && !q.Optional {
			return "", fmt.Errorf("%s is required", q.Prompt)
		}
		return line, nil
	}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		region = "us-east-1"
	}
	stack, err := ask(deployplan.Stack, "insforge-edge-functions")
	if err != nil {
		return err
	}
	if region, err = ask(deployplan.Region, region); err != nil {
		return err
	}
	picked, err := ask(deployplan.Picks, "")
	if err != nil {
		return err
	}
	fs, err := deployplan.Lookup(strings.Split(picked, ","))
	if err != nil {
		return err
	}
	params := map[string]string{}
	values := map[string]string{}
	for _, q := range deployplan.Questions(fs)[3:] {
		v, err := ask(q, "")
		if err != nil {
			return err
		}
		if name, ok := strings.CutPrefix(q.Key, "secret:"); ok {
			values[name] = v
		} else if v != "" {
			params[q.Key] = v
		}
	}
	if _, ok := values["X402_GATEWAY_RECEIPT_KEY"]; ok && values["X402_GATEWAY_RECEIPT_KEY"] == "" {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		values["X402_GATEWAY_RECEIPT_KEY"] = hex.EncodeToString(b)
		fmt.Fprintln(os.Stderr, "generated a receipt key; read it from the gateway secret for your API")
	}
	// One secret per group, named <stack>/<group>; a group whose values are all empty (the
	// optional Stytch secret) is not created and its ARN stays empty.
	var groups []group
	for _, s := range deployplan.Secrets(fs) {
		g := group{Name: stack + "/" + s.Name, Param: s.Param, Values: map[string]string{}}
		empty := true
		for _, v := range s.Vars {
			g.Values[v] = values[v]
			if values[v] != "" {
				empty = false
			}
		}
		if !empty {
			groups = append(groups, g)
		}
	}
	req, _ := json.Marshal(secretRequest{Region: region, Secrets: groups})
	script, _ := filepath.Abs("scripts/internal/cmd/deploy/store_secrets.py")
	cmd := exec.Command(python, script)
	cmd.Stdin = strings.NewReader(string(req))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("storing the secrets: %w", err)
	}
	var arns map[string]string
	if err := json.Unmarshal(out, &arns); err != nil {
		return fmt.Errorf("storing the secrets: %w", err)
	}
	for k, v := range arns {
		params[k] = v
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "STACK=%s\nREGION=%s\nOVERRIDES=(", shellQuote(stack), shellQuote(region))
	// Each element is one Key="value" token of SAM CLI's --parameter-overrides, its quotes and
	// backslashes escaped (a JSON value such as GatewayRoutes holds quotes), then quoted for bash.
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s", shellQuote(k+`="`+esc.Replace(params[k])+`"`))
	}
	b.WriteString(" )\n")
	return os.WriteFile(outFile, []byte(b.String()), 0o600)
}

type group struct {
	Name   string            `json:"name"`
	Param  string            `json:"param"`
	Values map[string]string `json:"values"`
}

type secretRequest struct {
	Region     string            `json:"region"`
	Secrets    []group           `json:"secrets"`
	Parameters map[string]string `json:"parameters,omitempty"`
}

// sample prints what the answers of `make deploy` would be for a feature set, with the plan's
// sample values (no real credential), for the rehearsal.
func sample(picks string) error {
	pick := picks
	if pick == "everything" {
		pick = "all"
	}
	fs, err := deployplan.Lookup([]string{pick})
	if err != nil {
		return err
	}
	req := secretRequest{Region: "us-east-1", Parameters: deployplan.SampleValues(fs, func(deployplan.Secret) string { return "" })}
	for _, s := range deployplan.Secrets(fs) {
		g := group{Name: "rehearsal-" + picks + "/" + s.Name, Param: s.Param, Values: map[string]string{}}
		for _, v := range s.Vars {
			g.Values[v] = sampleValue(fs, v)
		}
		req.Secrets = append(req.Secrets, g)
		delete(req.Parameters, s.Param)
	}
	req.Parameters["AlarmEmail"] = deployplan.Email.Sample
	req.Parameters["AllowedOrigins"] = deployplan.Origins.Sample
	return json.NewEncoder(os.Stdout).Encode(req)
}

func sampleValue(fs []deployplan.Feature, variable string) string {
	if variable == "INSFORGE_JWT_SECRET" {
		return deployplan.JwtValue.Sample
	}
	for _, f := range fs {
		for _, q := range f.Questions {
			if q.Key == "secret:"+variable {
				return q.Sample
			}
		}
	}
	return ""
}

// echo turns the terminal's echo on or off (secret answers are typed unseen); it reports false
// when stdin is no terminal (piped answers), where there is nothing to hide.
func echo(on bool) bool {
	arg := "-echo"
	if on {
		arg = "echo"
	}
	cmd := exec.Command("stty", arg)
	cmd.Stdin = os.Stdin
	return cmd.Run() == nil
}

// shellQuote quotes s for bash: inside single quotes, each single quote closes, escapes and reopens.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
