package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/insforge/edge-functions-go/scripts/runner"
)

// startSchedules runs Schedule events with rate() expressions, like EventBridge.
func startSchedules(ctx context.Context, env *runner.Runner, log *slog.Logger) {
	for _, f := range env.Functions {
		p, ok := env.Pools[f.LogicalID]
		if !ok {
			continue
		}
		for _, expr := range f.Schedules {
			every, ok := runner.ParseRate(expr)
			if !ok {
				log.Warn("schedule not run locally (only rate() expressions are)", "function", f.LogicalID, "schedule", expr)
				continue
			}
			go func() {
				t := time.NewTicker(every)
				defer t.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case now := <-t.C:
						res, err := p.Invoke(ctx, runner.ScheduledEvent(now))
						switch {
						case err != nil:
							log.Error("scheduled invoke", "function", f.LogicalID, "error", err)
						case res.Err != nil:
							log.Error("scheduled invoke failed", "function", f.LogicalID, "error_type", res.Err.Type, "error", res.Err.Message)
						default:
							log.Info("REPORT", "function", f.LogicalID, "request_id", res.RequestID, "trigger", "schedule",
								"duration_ms", res.Duration.Milliseconds())
						}
					}
				}
			}()
		}
	}
}
