package apigateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/insforge/edge-functions-go/scripts/runner/runtimeapi"
)

// Invoker runs one invocation of a function (runtimeapi.Pool implements it).
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) (runtimeapi.Result, error)
}

// Handler serves the HTTP API: route → event → function → response.
type Handler struct {
	Router    *Router
	Functions map[string]Invoker // a routed function missing here (runner started with a subset) answers 501
	Log       *slog.Logger
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m, ok := h.Router.Find(r.Method, r.URL.EscapedPath())
	if !ok {
		WriteError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no route in template.yaml matches %s %s", r.Method, r.URL.Path))
		return
	}
	fn, ok := h.Functions[m.Function]
	if !ok {
		WriteError(w, http.StatusNotImplemented, "function_unavailable", m.Function+" is not running")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	ev, err := Event(r, m, newID(), time.Now())
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.Is(err, errTooLarge) || errors.As(err, &mbe) {
			WriteError(w, http.StatusRequestEntityTooLarge, "request_too_large", errTooLarge.Error())
			return
		}
		WriteError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		WriteError(w, http.StatusInternalServerError, "internal_error", "event could not be encoded")
		return
	}
	res, err := fn.Invoke(r.Context(), payload)
	if err != nil {
		WriteError(w, http.StatusServiceUnavailable, "function_unavailable", err.Error())
		return
	}
	status := h.write(w, m.Function, res)
	attrs := []any{
		slog.String("function", m.Function), slog.String("request_id", res.RequestID),
		slog.String("route", m.RouteKey), slog.Int("status", status),
		slog.Float64("duration_ms", ms(res.Duration)),
	}
	if res.ColdStart {
		attrs = append(attrs, slog.Float64("init_duration_ms", ms(res.InitDuration)))
	}
	h.log().Info("REPORT", attrs...)
}

// write maps the invocation result to HTTP and returns the status sent. API
// Gateway would answer a bare 500/503 here; the runner says what went wrong,
// because it only ever serves a developer on loopback.
func (h *Handler) write(w http.ResponseWriter, function string, res runtimeapi.Result) int {
	if fe := res.Err; fe != nil {
		h.log().Error("function failed", slog.String("function", function), slog.String("phase", fe.Phase),
			slog.String("error_type", fe.Type), slog.String("error", fe.Message), slog.String("detail", fe.Detail))
		msg := fe.Message
		if fe.Detail != "" {
			msg += ": " + fe.Detail
		}
		switch {
		case fe.Timeout:
			WriteError(w, http.StatusGatewayTimeout, "function_timeout", function+": "+msg)
			return http.StatusGatewayTimeout
		case fe.Phase == "init":
			WriteError(w, http.StatusBadGateway, "function_init_error", fmt.Sprintf("%s failed to start (%s): %s", function, fe.Type, msg))
		default:
			WriteError(w, http.StatusBadGateway, "function_error", fmt.Sprintf("%s failed (%s): %s", function, fe.Type, msg))
		}
		return http.StatusBadGateway
	}
	rec := &statusWriter{ResponseWriter: w}
	if err := WriteResponse(rec, res.Payload); err != nil {
		if rec.status != 0 {
			return rec.status
		}
		WriteError(w, http.StatusBadGateway, "invalid_function_response", err.Error())
		return http.StatusBadGateway
	}
	return rec.status
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
