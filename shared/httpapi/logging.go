package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

type loggerKey struct{}

// NewLogger returns a JSON logger (one object per line, with a "level" key, as
// Lambda's JSON log format expects). The level comes from LOG_LEVEL, else Lambda's
// AWS_LAMBDA_LOG_LEVEL, else INFO.
func NewLogger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	for _, name := range []string{"LOG_LEVEL", "AWS_LAMBDA_LOG_LEVEL"} {
		if v := os.Getenv(name); v != "" {
			_ = level.UnmarshalText([]byte(strings.ToUpper(v)))
			break
		}
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// Logger returns the request-scoped logger (with request_id), or slog's default.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// WithLogger stores a logger in the context.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// RequestID gives every request an id (Lambda's request id when running on Lambda)
// and a logger carrying it, and echoes it in X-Request-Id.
func RequestID(base *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := ""
			if lc, ok := lambdacontext.FromContext(r.Context()); ok {
				id = lc.AwsRequestID
			}
			if id == "" {
				id = newID()
			}
			w.Header().Set("X-Request-Id", id)
			l := base.With(slog.String("request_id", id))
			next.ServeHTTP(w, r.WithContext(WithLogger(r.Context(), l)))
		})
	}
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
