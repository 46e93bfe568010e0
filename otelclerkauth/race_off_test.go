//go:build !race

package otelclerkauth_test

const raceEnabled = false
