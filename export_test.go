package clerkauth

// Hooks for the external tests (package clerkauth_test), compiled only
// with the tests.

// OnMachineJoin makes the opaque-token verifier call f each time a request
// joins a Backend API call already in flight for the same token.
func OnMachineJoin(a *Auth, f func()) { a.machine.onJoin = f }

// MatchPublic is the route policy's reading of public patterns, for the
// benchmarks beside MatchPath.
func MatchPublic(m *RouteMatcher, path string) bool { return m.matchPublic(path) }
