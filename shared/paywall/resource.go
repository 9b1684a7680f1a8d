package paywall

import "net/http"

// ResourceURL is the URL a request pays for (the 402's resource): https, or
// plain http on loopback. The discovery document lists resources the same way.
func ResourceURL(r *http.Request) string { return resourceURL(r) }
