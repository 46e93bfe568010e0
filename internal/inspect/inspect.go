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
	// CompareInstances fetches the Backend API's key set with the secret
	// key and compares it with the keys tokens are verified with, to tell
	// whether the secret key and the publishable key (or issuer, or PEM
	// key) belong to the same Clerk instance.
	CompareInstances func(ctx context.Context, auth any) InstanceMatch
)

// InstanceMatch is what CompareInstances found.
type InstanceMatch struct {
	// Compared is false when there is nothing to compare: no secret key,
	// or the keys already come from the Backend API.
	Compared bool
	// Source is the environment variable the verifier's keys come from
	// (CLERK_JWT_KEY, CLERK_JWT_ISSUER_DOMAIN or CLERK_PUBLISHABLE_KEY):
	// the one to fix, besides CLERK_SECRET_KEY, on a mismatch.
	Source string
	// BackendKids and VerifierKids are the kids of the two key sets.
	BackendKids, VerifierKids []string
	// Same reports that a key (kid and key material) is in both sets.
	Same bool
	// BackendErr and VerifierErr say why a set could not be fetched, in
	// words that never include a key.
	BackendErr, VerifierErr error
}
