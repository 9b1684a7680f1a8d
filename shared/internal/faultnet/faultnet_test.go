package faultnet_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insforge/edge-functions-go/shared/internal/faultnet"
)

func TestEachModeFailsTheCallAndActsOnTheServerOnlyWhenItShould(t *testing.T) {
	for _, c := range []struct {
		mode  faultnet.Mode
		acted bool
		err   error
	}{
		{faultnet.Drop, false, faultnet.ErrInjected},
		{faultnet.LoseReply, true, faultnet.ErrInjected},
		{faultnet.Hang, true, context.DeadlineExceeded},
	} {
		t.Run(c.mode.String(), func(t *testing.T) {
			var acted atomic.Int32
			var body atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				body.Store(string(b))
				acted.Add(1)
			}))
			defer srv.Close()
			ft := &faultnet.Transport{}
			ft.Arm("post", func(r *http.Request, b []byte) bool { return r.Method == http.MethodPost && string(b) == "x" }, c.mode, 1)
			hc := &http.Client{Transport: ft}
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader("x"))
			if _, err := hc.Do(req); !errors.Is(err, c.err) {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			if got := acted.Load() == 1; got != c.acted {
				t.Fatalf("server acted %v, want %v", got, c.acted)
			}
			if c.acted && body.Load() != "x" {
				t.Fatalf("server got body %v", body.Load())
			}
			if ft.Fired("post") != 1 {
				t.Fatalf("fired %d", ft.Fired("post"))
			}
			// Armed once: the next call goes through.
			req, _ = http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("x"))
			res, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if ft.Fired("post") != 1 {
				t.Fatal("fired twice")
			}
		})
	}
}
