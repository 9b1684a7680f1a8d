package x402payments

// CORSHeaders exposes the lists the drift test compares with the paywall's.
func CORSHeaders() (allow, expose []string) { return corsAllowHeaders, corsExposeHeaders }
