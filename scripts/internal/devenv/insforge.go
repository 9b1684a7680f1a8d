package devenv

import "context"

// startInsforge starts the InsForge-compatible stack on a throwaway PostgreSQL.
// It is wired to shared/insforge/insforgetest's development constructor once that
// package is merged; until then the x402 functions need INSFORGE_BASE_URL.
func startInsforge(ctx context.Context, o Options) (baseURL, serviceKey string, closeFn func(), err error) {
	return "", "", nil, errNoStack
}
