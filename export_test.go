package clerkauth

// Hooks for the external tests (package clerkauth_test), compiled only
// with the tests.

// OnMachineJoin makes the opaque-token verifier call f each time a request
// joins a Backend API call already in flight for the same token.
func OnMachineJoin(a *Auth, f func()) { a.machine.onJoin = f }

// WebhookHeaders is the webhook handler's header parser.
func WebhookHeaders(h map[string][]string) { webhookHeaders(h) }

// WaitMachineIdle waits until the opaque-token verifier has no Backend API
// call in flight (background renewals included).
func WaitMachineIdle(a *Auth) { a.machine.calls.Wait() }

// MatchPublic is the route policy's reading of public patterns, for the
// benchmarks beside MatchPath.
func MatchPublic(m *RouteMatcher, path string) bool { return m.matchPublic(path) }
