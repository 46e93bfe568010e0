// Package connectauth authenticates Connect handlers (connectrpc.com/connect)
// with Clerk: an interceptor that verifies the Authorization header
// ("Bearer …", any token type in clerkauth.Config.AcceptsToken: session
// tokens, API keys, M2M and OAuth tokens), enforces a policy per procedure,
// and puts the identity into the handler's context, where
// clerkauth.IdentityFromContext reads it. Connect, gRPC and gRPC-Web
// clients all get the status code and the reason.
//
//	auth, err := clerkauth.New(clerkauth.ConfigFromEnv())
//	…
//	interceptor := connectauth.NewInterceptor(auth,
//		connectauth.Public("/grpc.health.v1.Health/*"),
//		connectauth.Require("/acme.billing.v1.Billing/*", clerkauth.Permission("org:billing:manage")),
//	)
//	path, handler := billingv1connect.NewBillingServiceHandler(svc, connect.WithInterceptors(interceptor))
//
// The policy and the refusals are grpcauth's: every procedure needs a
// valid credential unless Public names it ("/package.Service/Method",
// "/package.Service/*", "/package.*" or "/*"); Require adds checks, and
// makes the procedures it names protected even where Public names them
// too; a public procedure still verifies a credential that comes, so its
// handler sees who calls. A refusal's code follows the HTTP status
// clerkauth.Middleware would answer ([clerkauth.Error.Status]):
// CodeUnauthenticated (401: no, bad or unaccepted credential),
// CodePermissionDenied (403: a failed check), CodeUnavailable (503: keys
// or Backend API out of reach, or the machine-token verifier busy; retry
// later). Its message is the reason code (token-expired, missing-role, …),
// which also travels as an errdetails.ErrorInfo{Reason, Domain:
// "clerkauth"} detail and in the X-Clerk-Auth-Reason metadata; neither ever
// holds the token or an internal error. An invalid option panics when the
// interceptor is built, with a message that tells the fix.
package connectauth

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/internal/rpcpolicy"
)

// Option sets the policy of the interceptor: Public or Require.
type Option = rpcpolicy.Option

// Public names procedures that need no credential: full names
// ("/grpc.health.v1.Health/Check") or patterns ending in "/*" (a service)
// or ".*" (a package).
func Public(patterns ...string) Option {
	return rpcpolicy.Public(patterns...)
}

// Require adds checks to the procedures pattern names (which then need a
// credential, whatever Public says): the identity must pass each, or the
// call is refused with CodePermissionDenied and the check's reason
// (clerkauth.TokenTypes: CodeUnauthenticated, token-type-mismatch).
func Require(pattern string, checks ...clerkauth.Check) Option {
	return rpcpolicy.Require(pattern, checks...)
}

// NewInterceptor returns an interceptor for handlers (unary and streaming)
// that authenticates each call by the policy of opts before the handler
// runs; on clients it does nothing. It panics on a nil auth or an invalid
// option: a programming error best found at start-up.
func NewInterceptor(auth *clerkauth.Auth, opts ...Option) connect.Interceptor {
	return &interceptor{rpcpolicy.MustNew("connectauth", auth, opts)}
}

type interceptor struct{ policy *rpcpolicy.Policy }

func (i *interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		ctx, err := i.policy.Authorize(ctx, req.Spec().Procedure, req.Header().Values("Authorization"))
		if err != nil {
			return nil, refusal(err)
		}
		return next(ctx, req)
	}
}

func (i *interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i *interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := i.policy.Authorize(ctx, conn.Spec().Procedure, conn.RequestHeader().Values("Authorization"))
		if err != nil {
			return refusal(err)
		}
		return next(ctx, conn)
	}
}

// refusal is the error of a refused call: its code, the reason code as
// the message, as an ErrorInfo detail and as metadata.
func refusal(err *clerkauth.Error) *connect.Error {
	ce := connect.NewError(connect.Code(rpcpolicy.Code(err)), errors.New(string(err.Reason)))
	if d, e := connect.NewErrorDetail(&errdetails.ErrorInfo{Reason: string(err.Reason), Domain: rpcpolicy.Domain}); e == nil {
		ce.AddDetail(d)
	}
	ce.Meta().Set(rpcpolicy.ReasonMetadata, string(err.Reason))
	return ce
}
