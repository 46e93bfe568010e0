// Package grpcauth authenticates gRPC calls with Clerk: server
// interceptors that verify the "authorization" metadata ("Bearer …", any
// token type in clerkauth.Config.AcceptsToken: session tokens, API keys,
// M2M and OAuth tokens), enforce a policy per method, and put the
// identity into the handler's context, where clerkauth.IdentityFromContext
// reads it.
//
//	auth, err := clerkauth.New(clerkauth.ConfigFromEnv())
//	…
//	opts := []grpcauth.Option{
//		grpcauth.Public("/grpc.health.v1.Health/*"),
//		grpcauth.Require("/acme.billing.v1.Billing/*", clerkauth.Permission("org:billing:manage")),
//	}
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(grpcauth.UnaryServerInterceptor(auth, opts...)),
//		grpc.ChainStreamInterceptor(grpcauth.StreamServerInterceptor(auth, opts...)),
//	)
//
// # Policy
//
// Fail closed: every method needs a valid credential unless Public names
// it. A pattern is a full method name ("/package.Service/Method"), every
// method of a service ("/package.Service/*"), of a package
// ("/package.*", which includes its sub-packages) or every method ("/*").
// Require(pattern, checks...) adds checks (clerkauth.Role, Permission,
// Feature, Scope, TokenTypes, …) to the methods it names and makes them
// protected even where Public names them too; a method that several
// Require options name must pass all their checks. A public method also
// verifies a credential when one comes, so that its handler sees who
// calls; a bad one there is no refusal. An invalid pattern panics when the
// interceptor is built, with a message that tells the fix.
//
// # Refusals
//
// A refused call ends with a status whose code follows the HTTP status
// clerkauth.Middleware would answer ([clerkauth.Error.Status]):
//
//   - Unauthenticated (401): no credential, a bad or expired one, or a
//     token type the method does not accept;
//   - PermissionDenied (403): a failed check;
//   - Unavailable (503): the instance's keys or the Backend API cannot be
//     reached, or the machine-token verifier is busy; retry later.
//
// The reason code (token-expired, missing-role, …; see the clerkauth
// README) travels in the status details as an
// errdetails.ErrorInfo{Reason: reason, Domain: "clerkauth"} and in the
// "x-clerk-auth-reason" trailer; the status message is the reason code.
// Neither ever holds the token or an internal error.
package grpcauth

import (
	"context"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/internal/rpcpolicy"
)

// Option sets the policy of an interceptor: Public or Require.
type Option = rpcpolicy.Option

// Public names methods that need no credential: full method names
// ("/grpc.health.v1.Health/Check") or patterns ending in "/*" (a service)
// or ".*" (a package).
func Public(patterns ...string) Option {
	return rpcpolicy.Public(patterns...)
}

// Require adds checks to the methods pattern names (which then need a
// credential, whatever Public says): the identity must pass each, or the
// call is refused with PermissionDenied and the check's reason
// (clerkauth.TokenTypes: Unauthenticated, token-type-mismatch).
func Require(pattern string, checks ...clerkauth.Check) Option {
	return rpcpolicy.Require(pattern, checks...)
}

// UnaryServerInterceptor authenticates unary calls by the policy of opts.
// It panics on a nil auth or an invalid option: a programming error best
// found at start-up.
func UnaryServerInterceptor(auth *clerkauth.Auth, opts ...Option) grpc.UnaryServerInterceptor {
	p := rpcpolicy.MustNew("grpcauth", auth, opts)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := p.Authorize(ctx, info.FullMethod, metadata.ValueFromIncomingContext(ctx, "authorization"))
		if err != nil {
			grpc.SetTrailer(ctx, metadata.Pairs(rpcpolicy.ReasonMetadata, string(err.Reason)))
			return nil, refusal(err)
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor authenticates streaming calls by the policy of
// opts, before the handler reads any message. It panics as
// UnaryServerInterceptor does.
func StreamServerInterceptor(auth *clerkauth.Auth, opts ...Option) grpc.StreamServerInterceptor {
	p := rpcpolicy.MustNew("grpcauth", auth, opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		authed, err := p.Authorize(ctx, info.FullMethod, metadata.ValueFromIncomingContext(ctx, "authorization"))
		if err != nil {
			ss.SetTrailer(metadata.Pairs(rpcpolicy.ReasonMetadata, string(err.Reason)))
			return refusal(err)
		}
		if authed == ctx {
			return handler(srv, ss) // a public method, nobody signed in
		}
		return handler(srv, &identityStream{ss, authed})
	}
}

// identityStream is a ServerStream whose context carries the identity.
type identityStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *identityStream) Context() context.Context { return s.ctx }

// refusal is the status of a refused call: its code, the reason code as
// the message and as an ErrorInfo detail.
func refusal(err *clerkauth.Error) error {
	st := status.New(codes.Code(rpcpolicy.Code(err)), string(err.Reason))
	if withInfo, e := st.WithDetails(&errdetails.ErrorInfo{Reason: string(err.Reason), Domain: rpcpolicy.Domain}); e == nil {
		st = withInfo
	}
	return st.Err()
}
