//go:build !unix

package clerkjs

// lockFile is a no-op where flock is missing: parallel test binaries may
// then run npm ci twice, which is slow but harmless.
func lockFile(string) (func(), error) { return func() {}, nil }
