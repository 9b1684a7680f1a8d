package cfngraph

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNoTranslator means no Python with aws-sam-translator was found (scripts/sam-check installs it).
var ErrNoTranslator = errors.New("no aws-sam-translator: run make sam-check (it installs the SAM CLI venv)")

// CacheDir is where scripts/sam-check keeps the SAM CLI venv.
func CacheDir() string {
	if d := os.Getenv("EDGE_CACHE_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "edge-functions-go")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "edge-functions-go")
}

// Translate returns the transformed template.yaml under root, translated once by the SAM CLI
// venv's aws-sam-translator and cached by the hash of the template, the script and the venv's
// SAM CLI version marker.
func Translate(root string) ([]byte, error) {
	python := filepath.Join(CacheDir(), "sam-venv", "bin", "python")
	if p := os.Getenv("SAM_TRANSLATOR_PYTHON"); p != "" {
		python = p // another Python with aws-sam-translator (not the version sam deploy pins)
	}
	if _, err := exec.LookPath(python); err != nil {
		return nil, ErrNoTranslator
	}
	tpl, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	script := filepath.Join(root, "scripts", "internal", "cfngraph", "translate.py")
	code, err := os.ReadFile(script)
	if err != nil {
		return nil, err
	}
	markers, _ := filepath.Glob(filepath.Join(CacheDir(), "sam-venv", ".aws-sam-cli-*"))
	h := sha256.New()
	h.Write(tpl)
	h.Write(code)
	h.Write([]byte(strings.Join(markers, ",") + python))
	cached := filepath.Join(CacheDir(), "translated", hex.EncodeToString(h.Sum(nil))[:16]+".json")
	if raw, err := os.ReadFile(cached); err == nil {
		return raw, nil
	}
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		return nil, err
	}
	tmp := cached + ".tmp"
	cmd := exec.Command(python, script, filepath.Join(root, "template.yaml"), tmp)
	cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION=us-east-1", "SAM_CLI_TELEMETRY=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("aws-sam-translator: %w\n%s", err, out)
	}
	if err := os.Rename(tmp, cached); err != nil {
		return nil, err
	}
	return os.ReadFile(cached)
}
