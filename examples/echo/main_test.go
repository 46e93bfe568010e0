package main

import (
	"net/http"
	"testing"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/internal/routertest"
)

// TestWiring: echo.WrapMiddleware(auth.Middleware) and auth.Require on one
// route answer as docs/frameworks.md says (internal/routertest holds the
// specification).
func TestWiring(t *testing.T) {
	routertest.Run(t, func(cfg clerkauth.Config) (http.Handler, error) { return newServer(cfg) })
}
