// Package mototest runs a real moto_server (a local AWS API server) on a free
// loopback port for tests: Secrets Manager, IAM and STS with real SigV4 checks
// once authentication is switched on. scripts/ensure-moto installs moto into a
// cached venv the first time. With CI on (CI=true or CI=1) a moto that cannot be installed or
// started fails the test; elsewhere the test is skipped with the reason.
package mototest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/insforge/edge-functions-go/shared/internal/ci"
)

// Region and the root credentials moto accepts while authentication is off.
const (
	Region    = "us-east-1"
	AccessKey = "testing"
	SecretKey = "testing"
)

// Server is a running moto_server.
type Server struct {
	URL string
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary returns the path of moto_server: $MOTO_SERVER, else what scripts/ensure-moto
// installs (and prints).
func Binary() (string, error) {
	binOnce.Do(func() {
		if p := os.Getenv("MOTO_SERVER"); p != "" {
			binPath = p
			return
		}
		root, err := moduleRoot()
		if err != nil {
			binErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "ensure-moto"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			binErr = fmt.Errorf("scripts/ensure-moto: %v: %s", err, strings.TrimSpace(stderr.String()))
			return
		}
		binPath = strings.TrimSpace(string(out))
	})
	return binPath, binErr
}

// Start runs moto_server on a free loopback port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		unavailable(t, err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		unavailable(t, fmt.Errorf("start %s: %w", bin, err))
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port)}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(s.URL + "/moto-api/data.json")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-done:
			t.Fatalf("moto_server exited: %s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not answer on %s: %v\n%s", s.URL, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	if ci.Required() {
		t.Fatalf("moto is required (CI is on): %v", err)
	}
	t.Skipf("moto unavailable (install with scripts/ensure-moto): %v", err)
}

// Env returns the variables a function needs to reach this server as its Secrets
// Manager endpoint with the given credentials.
func (s *Server) Env(accessKey, secretKey string) map[string]string {
	return map[string]string{
		"AWS_REGION":                       Region,
		"AWS_ACCESS_KEY_ID":                accessKey,
		"AWS_SECRET_ACCESS_KEY":            secretKey,
		"AWS_SESSION_TOKEN":                "",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": s.URL,
	}
}

// CreateSecret creates a secret holding value and returns its ARN.
func (s *Server) CreateSecret(t testing.TB, name, value string) string {
	t.Helper()
	var out struct{ ARN string }
	s.JSON(t, "secretsmanager", "secretsmanager.CreateSecret", map[string]string{"Name": name, "SecretString": value}, &out)
	if out.ARN == "" {
		t.Fatalf("CreateSecret %s: no ARN", name)
	}
	return out.ARN
}

// DeleteSecret deletes a secret at once (no recovery window).
func (s *Server) DeleteSecret(t testing.TB, id string) {
	t.Helper()
	s.JSON(t, "secretsmanager", "secretsmanager.DeleteSecret", map[string]any{"SecretId": id, "ForceDeleteWithoutRecovery": true}, nil)
}

// JSON calls an AWS JSON 1.1 API (X-Amz-Target) with the root credentials.
func (s *Server) JSON(t testing.TB, service, target string, in, out any) {
	t.Helper()
	body, _ := json.Marshal(in)
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	raw := s.do(t, req, body, service)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s: %v: %s", target, err, raw)
		}
	}
}

// Query calls an AWS query-protocol API (IAM, STS) with the root credentials.
func (s *Server) Query(t testing.TB, service string, params url.Values) []byte {
	t.Helper()
	body := []byte(params.Encode())
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return s.do(t, req, body, service)
}

// User creates an IAM user with the given inline policy document (empty: none)
// and returns its access key pair.
func (s *Server) User(t testing.TB, name, policy string) (accessKey, secretKey string) {
	t.Helper()
	s.Query(t, "iam", url.Values{"Action": {"CreateUser"}, "Version": {"2010-05-08"}, "UserName": {name}})
	if policy != "" {
		s.Query(t, "iam", url.Values{"Action": {"PutUserPolicy"}, "Version": {"2010-05-08"}, "UserName": {name},
			"PolicyName": {name + "-policy"}, "PolicyDocument": {policy}})
	}
	raw := s.Query(t, "iam", url.Values{"Action": {"CreateAccessKey"}, "Version": {"2010-05-08"}, "UserName": {name}})
	accessKey, secretKey = between(string(raw), "<AccessKeyId>", "</AccessKeyId>"), between(string(raw), "<SecretAccessKey>", "</SecretAccessKey>")
	if accessKey == "" || secretKey == "" {
		t.Fatalf("CreateAccessKey: %s", raw)
	}
	return accessKey, secretKey
}

// EnforceAuth switches on moto's IAM authentication and authorization for every
// later request: signatures are verified and policies evaluated.
func (s *Server) EnforceAuth(t testing.TB) {
	t.Helper()
	res, err := http.Post(s.URL+"/moto-api/reset-auth", "text/plain", strings.NewReader("0"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("reset-auth: HTTP %d", res.StatusCode)
	}
}

func (s *Server) do(t testing.TB, req *http.Request, body []byte, service string) []byte {
	t.Helper()
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: AccessKey, SecretAccessKey: SecretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: HTTP %d: %s", service, req.Header.Get("X-Amz-Target"), res.StatusCode, raw)
	}
	return raw
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, b)
	return v
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}
