package clerkauth

import (
	"strings"

	"github.com/clerkauth/clerkauth/internal/jsnum"
)

// This file is the multi-domain and multi-tenant part of the cookie side:
// a satellite domain syncing its session with the primary domain (and
// the primary answering a development satellite's sync), and the
// organization a URL names (organization sync). Both are steps of the one
// decision in handshake.go.

// OrganizationSync is Clerk's organizationSyncOptions: patterns, in
// createRouteMatcher's syntax, of the paths that name an organization or
// the personal account. When a signed-in page load's path names another
// organization than the session's active one, the handshake asks the
// Frontend API to activate it (active-organization-mismatch); the
// Frontend API does so only for a member.
type OrganizationSync struct {
	// OrganizationPatterns name an organization by its id (":id", e.g.
	// "/orgs/:id/(.*)") or its slug (":slug", e.g. "/team/:slug",
	// "/team/:slug/(.*)"). The first pattern that matches decides; one
	// without an id or slug parameter names nothing.
	OrganizationPatterns []string
	// PersonalAccountPatterns name the personal account (no active
	// organization), e.g. "/me", "/me/(.*)". They are tried after
	// OrganizationPatterns.
	PersonalAccountPatterns []string
}

// envTrue reads a boolean environment variable as Clerk's isTruthy does:
// "true" or "false" in any case, else an integer prefix above zero.
func envTrue(v string) bool {
	switch strings.ToLower(v) {
	case "true":
		return true
	case "false":
		return false
	}
	return jsnum.ParseInt(v) > 0
}
