package connectauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/connectauth"
	"github.com/clerkauth/clerkauth/internal/fixture"
)

// Two procedures with well-known message types (no generated code): each
// answers with the subject the handler sees.
const (
	whoAmI   = "/acme.test.v1.Who/AmI"   // unary
	whoWatch = "/acme.test.v1.Who/Watch" // server streaming
)

var protocols = []struct {
	name string
	opts []connect.ClientOption
}{
	{"connect", nil},
	{"grpc", []connect.ClientOption{connect.WithGRPC()}},
	{"grpcweb", []connect.ClientOption{connect.WithGRPCWeb()}},
}

// server is the two procedures behind the interceptor, over HTTP/2 with
// TLS on loopback (gRPC needs HTTP/2).
type server struct{ *httptest.Server }

func serve(t *testing.T, auth *clerkauth.Auth, opts ...connectauth.Option) server {
	t.Helper()
	ic := connect.WithInterceptors(connectauth.NewInterceptor(auth, opts...))
	mux := http.NewServeMux()
	mux.Handle(whoAmI, connect.NewUnaryHandler(whoAmI, func(ctx context.Context, _ *connect.Request[emptypb.Empty]) (*connect.Response[wrapperspb.StringValue], error) {
		return connect.NewResponse(wrapperspb.String(subject(ctx))), nil
	}, ic))
	mux.Handle(whoWatch, connect.NewServerStreamHandler(whoWatch, func(ctx context.Context, _ *connect.Request[emptypb.Empty], s *connect.ServerStream[wrapperspb.StringValue]) error {
		return s.Send(wrapperspb.String(subject(ctx)))
	}, ic))
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return server{srv}
}

func subject(ctx context.Context) string {
	if id, ok := clerkauth.IdentityFromContext(ctx); ok {
		return id.Subject
	}
	return "anonymous"
}

type outcome struct {
	code    connect.Code // 0 for success
	reason  string
	subject string
}

// call makes procedure over protocol with token as "Authorization: Bearer
// …" (none for ""), and checks that a refusal carries its reason the same
// in the message, the ErrorInfo detail and the metadata.
func (s server) call(t *testing.T, protocol []connect.ClientOption, procedure, token string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := connect.NewClient[emptypb.Empty, wrapperspb.StringValue](s.Client(), s.URL+procedure, protocol...)
	req := connect.NewRequest(&emptypb.Empty{})
	if token != "" {
		req.Header().Set("Authorization", "Bearer "+token)
	}
	var got string
	var err error
	switch procedure {
	case whoAmI:
		var res *connect.Response[wrapperspb.StringValue]
		if res, err = client.CallUnary(ctx, req); err == nil {
			got = res.Msg.Value
		}
	case whoWatch:
		var stream *connect.ServerStreamForClient[wrapperspb.StringValue]
		if stream, err = client.CallServerStream(ctx, req); err == nil {
			if stream.Receive() {
				got = stream.Msg().Value
			}
			err = stream.Err()
			stream.Close()
		}
	}
	if err == nil {
		return outcome{0, "", got}
	}
	var ce *connect.Error
	require.True(t, errors.As(err, &ce), "%v", err)
	var reason string
	for _, d := range ce.Details() {
		v, derr := d.Value()
		require.NoError(t, derr)
		if info, ok := v.(*errdetails.ErrorInfo); ok {
			assert.Equal(t, "clerkauth", info.Domain)
			reason = info.Reason
		}
	}
	assert.Equal(t, reason, ce.Message(), "the message is the reason code, nothing else")
	assert.Equal(t, reason, ce.Meta().Get("X-Clerk-Auth-Reason"), "the metadata carries the reason")
	if token != "" {
		assert.NotContains(t, ce.Error(), token[:min(len(token), 10)], "never the token")
	}
	return outcome{ce.Code(), reason, ""}
}

// TestEveryTokenTypeEveryProtocol: each type in AcceptsToken signs unary
// and streaming calls in, over Connect, gRPC and gRPC-Web.
func TestEveryTokenTypeEveryProtocol(t *testing.T) {
	in := fixture.NewInstance(t, nil)
	s := serve(t, in.Auth)
	for _, tc := range in.EveryTokenType() {
		for _, p := range protocols {
			for _, procedure := range []string{whoAmI, whoWatch} {
				t.Run(tc.Name+" "+p.name+" "+procedure, func(t *testing.T) {
					assert.Equal(t, outcome{0, "", tc.Subject}, s.call(t, p.opts, procedure, tc.Token))
				})
			}
		}
	}
}

// TestRefusalsEveryProtocol: every mapping reaches Connect, gRPC and
// gRPC-Web clients with its code and reason.
func TestRefusalsEveryProtocol(t *testing.T) {
	in := fixture.NewInstance(t, nil)
	s := serve(t, in.Auth, connectauth.Require("/acme.test.v1.Who/*", clerkauth.AnyOf(clerkauth.Role("admin"), clerkauth.Scope("who"))))
	member := in.Issuer.MustSessionToken("user_1", clerktest.WithOrg("org_1", "acme", "org:member"))
	keysOnly := serve(t, in.Issuer.MustAuth(func(c *clerkauth.Config) {
		in.BackendAPI.Configure(c)
		c.AcceptsToken = []clerkauth.TokenType{clerkauth.APIKey}
	}))
	failingAuth, failingKey := fixture.BackendAPIFailing(t, 500, "who")
	busyAuth, release := fixture.VerifierBusy(t)
	defer release()
	downAuth, downToken := fixture.KeysUnreachable(t)

	for _, tc := range []struct {
		name   string
		s      server
		token  string
		code   connect.Code
		reason string
	}{
		{"no credential", s, "", connect.CodeUnauthenticated, string(clerkauth.ReasonSessionTokenMissing)},
		{"expired session token", s, in.Issuer.MustSessionToken("user_1", clerktest.WithExpiry(-time.Hour)), connect.CodeUnauthenticated, string(clerkauth.ReasonTokenExpired)},
		{"unknown API key", s, "ak_unknown", connect.CodeUnauthenticated, string(clerkauth.ReasonTokenInvalid)},
		{"session where only API keys are accepted", keysOnly, member, connect.CodeUnauthenticated, string(clerkauth.ReasonTokenTypeMismatch)},
		{"a failed check", s, member, connect.CodePermissionDenied, string(clerkauth.ReasonMissingRole)},
		{"Backend API failing", serve(t, failingAuth), failingKey, connect.CodeUnavailable, string(clerkauth.ReasonUnexpectedError)},
		{"machine verifier busy", serve(t, busyAuth), "ak_another", connect.CodeUnavailable, string(clerkauth.ReasonMachineVerifierBusy)},
		{"keys unreachable", serve(t, downAuth), downToken, connect.CodeUnavailable, string(clerkauth.ReasonJWKRemoteFailedToLoad)},
	} {
		for _, p := range protocols {
			for _, procedure := range []string{whoAmI, whoWatch} {
				t.Run(tc.name+" "+p.name+" "+procedure, func(t *testing.T) {
					assert.Equal(t, outcome{tc.code, tc.reason, ""}, tc.s.call(t, p.opts, procedure, tc.token))
				})
			}
		}
	}
}

// TestPolicyByProcedure: Public and Require by procedure name, as in
// grpcauth (whose policy this is).
func TestPolicyByProcedure(t *testing.T) {
	in := fixture.NewInstance(t, nil)
	user := in.Issuer.MustSessionToken("user_1")
	anonymous := outcome{0, "", "anonymous"}
	missing := outcome{connect.CodeUnauthenticated, string(clerkauth.ReasonSessionTokenMissing), ""}
	for _, tc := range []struct {
		name  string
		opts  []connectauth.Option
		token string
		want  map[string]outcome
	}{
		{"fail closed", nil, "", map[string]outcome{whoAmI: missing, whoWatch: missing}},
		{"a public procedure", []connectauth.Option{connectauth.Public(whoAmI)}, "", map[string]outcome{whoAmI: anonymous, whoWatch: missing}},
		{"a public package", []connectauth.Option{connectauth.Public("/acme.test.*")}, "", map[string]outcome{whoAmI: anonymous, whoWatch: anonymous}},
		{"a public procedure sees who calls", []connectauth.Option{connectauth.Public("/*")}, user, map[string]outcome{whoAmI: {0, "", "user_1"}, whoWatch: {0, "", "user_1"}}},
		{"Require wins over Public", []connectauth.Option{connectauth.Public("/*"), connectauth.Require(whoWatch, clerkauth.Role("admin"))}, user, map[string]outcome{whoAmI: {0, "", "user_1"}, whoWatch: {connect.CodePermissionDenied, string(clerkauth.ReasonMissingRole), ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, in.Auth, tc.opts...)
			for procedure, want := range tc.want {
				assert.Equal(t, want, s.call(t, protocols[1].opts, procedure, tc.token), procedure)
			}
		})
	}
}

// TestClientsPassThrough: on a client the interceptor does nothing.
func TestClientsPassThrough(t *testing.T) {
	in := fixture.NewInstance(t, nil)
	s := serve(t, in.Auth, connectauth.Public("/*"))
	client := connect.NewClient[emptypb.Empty, wrapperspb.StringValue](s.Client(), s.URL+whoAmI,
		connect.WithInterceptors(connectauth.NewInterceptor(in.Auth)))
	res, err := client.CallUnary(context.Background(), connect.NewRequest(&emptypb.Empty{}))
	require.NoError(t, err)
	assert.Equal(t, "anonymous", res.Msg.Value)
}

func TestInvalidOptionsPanicWithTheFix(t *testing.T) {
	in := fixture.NewInstance(t, nil)
	for _, tc := range []struct {
		name string
		auth *clerkauth.Auth
		opt  connectauth.Option
		want string
	}{
		{"no auth", nil, connectauth.Public("/*"), "connectauth: auth is nil; pass the *clerkauth.Auth that clerkauth.New returned"},
		{"a procedure without its leading slash", in.Auth, connectauth.Public("acme.test.v1.Who/AmI"), `connectauth: Public("acme.test.v1.Who/AmI"): it must begin with "/" (write "/acme.test.v1.Who/AmI")`},
		{"a star inside", in.Auth, connectauth.Require("/acme.*.Who/AmI"), `connectauth: Require("/acme.*.Who/AmI"): "*" may only end a pattern`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := func() (msg string) {
				defer func() { msg, _ = recover().(string) }()
				connectauth.NewInterceptor(tc.auth, tc.opt)
				return ""
			}()
			assert.True(t, strings.Contains(msg, tc.want), "%q does not contain %q", msg, tc.want)
		})
	}
}
