// Package ci holds the project's one rule for telling that tests run in CI, where
// a missing test dependency (PostgreSQL, moto) must fail instead of skip. The e2e
// suite (scripts/e2e/lib/util.mjs) applies the same rule.
package ci

import "os"

// Required reports whether CI is on: the variable CI is exactly "true" or "1".
// Anything else, unset included, is off.
func Required() bool {
	switch os.Getenv("CI") {
	case "true", "1":
		return true
	}
	return false
}
