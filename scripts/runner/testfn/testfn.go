// Package testfn is a small HTTP function used by the runner's tests until (and
// besides) the real functions: it echoes what it received, sets cookies, returns
// binary bodies and can sleep, so every part of the Runtime API path is observable.
// Its main package (testdata/echofn) is wired exactly like functions/*/main.go.
package testfn

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/insforge/edge-functions-go/shared/config"
	"github.com/insforge/edge-functions-go/shared/httpapi"
	"github.com/insforge/edge-functions-go/shared/launch"
)

// Config is required like a real function's secret, so a missing value exercises
// the init-error path.
type Config struct {
	Secret string `envconfig:"ECHO_SECRET" required:"true"`
}

// Validate rejects short secrets, naming the variable.
func (c Config) Validate() error {
	if len(c.Secret) < 8 {
		return config.Invalid("ECHO_SECRET", "must be at least 8 bytes")
	}
	return nil
}

// Echo is the JSON answer of /echo.
type Echo struct {
	Method   string            `json:"method"`
	Path     string            `json:"path"`
	Query    string            `json:"query"`
	Headers  map[string]string `json:"headers"`
	Cookies  []string          `json:"cookies"`
	BodyB64  string            `json:"body_base64"`
	Function string            `json:"function"`
}

// Build loads the configuration and returns the handler (launch.HTTP's build).
func Build(rt launch.Runtime) (http.Handler, error) {
	var cfg Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	return New(rt.Log()), nil
}

// New returns the handler.
func New(log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/echo", httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		body, err := httpapi.ReadBody(r)
		if err != nil {
			return err
		}
		e := Echo{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Headers: map[string]string{},
			BodyB64: base64.StdEncoding.EncodeToString(body), Function: os.Getenv("AWS_LAMBDA_FUNCTION_NAME")}
		for k := range r.Header {
			if k != "Cookie" {
				e.Headers[k] = r.Header.Get(k)
			}
		}
		for _, c := range r.Cookies() {
			e.Cookies = append(e.Cookies, c.Name+"="+c.Value)
		}
		sort.Strings(e.Cookies)
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "abc", Path: "/", HttpOnly: true})
		http.SetCookie(w, &http.Cookie{Name: "theme", Value: "dark", Path: "/"})
		httpapi.WriteJSON(w, http.StatusOK, e)
		return nil
	}))
	mux.Handle("/binary", httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		body, err := httpapi.ReadBody(r)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
		return nil
	}))
	mux.Handle("/sleep", httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		n, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil || n < 0 || n > 60_000 {
			return httpapi.InvalidRequest.New("ms must be 0..60000")
		}
		// Ignores the invocation deadline on purpose: it plays a stuck function,
		// so only the runner's timeout can end it.
		time.Sleep(time.Duration(n) * time.Millisecond)
		httpapi.WriteJSON(w, http.StatusOK, map[string]int{"pid": os.Getpid()})
		return nil
	}))
	mux.Handle("/env", httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		name := r.URL.Query().Get("name")
		v, ok := os.LookupEnv(name)
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"name": name, "value": v, "set": ok})
		return nil
	}))
	mux.Handle("/crash", httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		os.Exit(3)
		return nil
	}))
	return httpapi.Chain(mux, httpapi.Recover(), httpapi.RequestID(log))
}
