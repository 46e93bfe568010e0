package main

import (
	"testing"

	"github.com/clerkauth/clerkauth/internal/routertest"
)

// TestWiring: r.Use(auth.Middleware) and auth.Require on one route answer
// as docs/frameworks.md says (internal/routertest holds the specification).
func TestWiring(t *testing.T) {
	routertest.Run(t, newHandler)
}
