package launch

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain lets the test binary act as a function whose build fails, so the init
// error path runs exactly as in a real cold start (a separate process that exits).
func TestMain(m *testing.M) {
	if os.Getenv("LAUNCH_TEST_CHILD") == "1" {
		HTTP("test-fn", func(Runtime) (http.Handler, error) {
			return nil, errors.New("configuration: required key INSFORGE_JWT_SECRET missing value")
		})
		return
	}
	os.Exit(m.Run())
}

func TestInitErrorIsReportedToTheRuntimeAPIAndExits(t *testing.T) {
	type report struct {
		path, errType string
		body          map[string]string
	}
	got := make(chan report, 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]string
		_ = json.Unmarshal(b, &body)
		got <- report{r.URL.Path, r.Header.Get("Lambda-Runtime-Function-Error-Type"), body}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer api.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LAUNCH_TEST_CHILD=1", "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(api.URL, "http://"))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("want exit code 1, got %v\n%s", err, out)
	}
	r := <-got
	if r.path != "/2018-06-01/runtime/init/error" || r.errType != "Runtime.ConfigError" ||
		!strings.Contains(r.body["errorMessage"], "INSFORGE_JWT_SECRET") {
		t.Fatalf("report = %+v", r)
	}
	var logLine map[string]any
	first := strings.SplitN(string(out), "\n", 2)[0]
	if err := json.Unmarshal([]byte(first), &logLine); err != nil || logLine["level"] != "ERROR" || logLine["function"] != "test-fn" {
		t.Fatalf("first output line is not a JSON error log: %q", first)
	}
}
