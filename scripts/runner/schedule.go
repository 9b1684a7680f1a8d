package runner

import (
	"encoding/json"
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
