//go:build race

package otelclerkauth_test

// raceEnabled: the race detector changes allocation counts (sync.Pool
// drops items at random), so they are only meaningful without it.
const raceEnabled = true
