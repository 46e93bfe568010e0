// Package inspect lets the clerkauth command see what the library knows
// about an Auth (its issuer, its key source, the kids its key server
// offers) and use the library's own key parsing, without making any of it
// public API. The clerkauth package fills these in when it is initialised;
// the arguments are *clerkauth.Auth values (this package cannot name the
// type without an import cycle).
package inspect

import "context"

var (
	// Issuer returns the issuer tokens must carry, or "" when any of
	// Clerk's issuer forms is accepted.
	Issuer func(auth any) string
	// KeySource says where the Auth gets its verification keys, in words.
	KeySource func(auth any) string
	// FetchKeyIDs fetches the key set now, bypassing the cache, and returns
	// the kids of its usable keys and a description of each entry it
	// skipped. With CLERK_JWT_KEY it fetches nothing and returns nil.
	FetchKeyIDs func(ctx context.Context, auth any) (kids, skipped []string, err error)
	// ParseSecretKey validates a secret key as New does, and reports
	// whether it is a production (live) key.
	ParseSecretKey func(sk string) (live bool, err error)
)
