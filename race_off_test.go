//go:build !race

package clerkauth

const raceEnabled = false
