package runner

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// ParseRate understands EventBridge rate expressions: rate(5 minutes), rate(1 hour).
// Cron expressions are not run locally (ok is false).
func ParseRate(expr string) (time.Duration, bool) {
	s := strings.TrimSpace(expr)
	if !strings.HasPrefix(s, "rate(") || !strings.HasSuffix(s, ")") {
		return 0, false
	}
	f := strings.Fields(s[5 : len(s)-1])
	if len(f) != 2 {
		return 0, false
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n <= 0 {
		return 0, false
	}
	unit := map[string]time.Duration{"minute": time.Minute, "minutes": time.Minute, "hour": time.Hour,
		"hours": time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour}[f[1]]
	if unit == 0 {
		return 0, false
	}
	return time.Duration(n) * unit, true
}

// ScheduledEvent is the EventBridge event a Schedule invocation carries.
func ScheduledEvent(now time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"version": "0", "id": randomSecret()[:32], "detail-type": "Scheduled Event", "source": "aws.events",
		"account": "123456789012", "time": now.UTC().Format(time.RFC3339), "region": "us-east-1",
		"resources": []string{"arn:aws:events:us-east-1:123456789012:rule/local-schedule"}, "detail": map[string]any{},
	})
	return b
}

// startSchedules runs Schedule events with rate() expressions, like EventBridge.
func startSchedules(ctx context.Context, env *Runner, log *slog.Logger) {
	for _, f := range env.Functions {
		p, ok := env.Pools[f.LogicalID]
		if !ok {
			continue
		}
		for _, expr := range f.Schedules {
			every, ok := ParseRate(expr)
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
						res, err := p.Invoke(ctx, ScheduledEvent(now))
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
