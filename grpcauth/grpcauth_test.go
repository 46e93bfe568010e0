package grpcauth_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/grpcauth"
	"github.com/clerkauth/clerkauth/internal/fixture"
)

const (
	check = "/grpc.health.v1.Health/Check" // unary
	watch = "/grpc.health.v1.Health/Watch" // server streaming
)

// serve starts a gRPC server on loopback with the health service behind
// the interceptors, and returns a client for it. The handler's identity
// comes back in the "x-test-subject" header (and "x-test-type").
func serve(t testing.TB, auth *clerkauth.Auth, opts ...grpcauth.Option) healthpb.HealthClient {
	t.Helper()
	return serveWith(t, grpcauth.UnaryServerInterceptor(auth, opts...), grpcauth.StreamServerInterceptor(auth, opts...))
}

func serveWith(t testing.TB, unary grpc.UnaryServerInterceptor, stream grpc.StreamServerInterceptor) healthpb.HealthClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(unary, func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			grpc.SetHeader(ctx, whoIs(ctx))
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(stream, func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			ss.SetHeader(whoIs(ss.Context()))
			return h(srv, ss)
		}),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}

// whoIs is what the handler sees: clerkauth.IdentityFromContext.
func whoIs(ctx context.Context) metadata.MD {
	id, ok := clerkauth.IdentityFromContext(ctx)
	if !ok {
		return metadata.Pairs("x-test-subject", "anonymous")
	}
	return metadata.Pairs("x-test-subject", id.Subject, "x-test-type", string(id.TokenType))
}

// outcome is what the client saw: the status code, the reason (from the
// ErrorInfo detail; the message and the trailer must agree with it), and
// the subject the handler saw.
type outcome struct {
	code    codes.Code
	reason  string
	subject string
}

// call makes method (Check or Watch) with token as "authorization:
// Bearer …" (none for "").
func call(t *testing.T, c healthpb.HealthClient, method, token string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	var header, trailer metadata.MD
	var err error
	switch method {
	case check:
		_, err = c.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&header), grpc.Trailer(&trailer))
	case watch:
		var stream healthpb.Health_WatchClient
		stream, err = c.Watch(ctx, &healthpb.HealthCheckRequest{})
		require.NoError(t, err)
		_, err = stream.Recv() // the first status, or the refusal
		header, _ = stream.Header()
		if err != nil {
			trailer = stream.Trailer()
		}
	default:
		t.Fatalf("no such method %s", method)
	}
	if err == nil {
		return outcome{codes.OK, "", first(header, "x-test-subject")}
	}
	st := status.Convert(err)
	var reason string
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			assert.Equal(t, "clerkauth", info.Domain)
			reason = info.Reason
		}
	}
	assert.Equal(t, reason, st.Message(), "the message is the reason code, nothing else")
	assert.Equal(t, reason, first(trailer, "x-clerk-auth-reason"), "the trailer carries the reason")
	if token != "" {
		assert.NotContains(t, st.Message(), token[:min(len(token), 10)], "never the token")
	}
	return outcome{st.Code(), reason, ""}
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// TestEveryTokenType: each type in AcceptsToken signs a unary and a
// streaming call in, and the handler sees the identity.
func TestEveryTokenType(t *testing.T) {
	in := fixture.NewInstance(t, nil)
	c := serve(t, in.Auth)
	for _, tc := range in.EveryTokenType() {
		for _, method := range []string{check, watch} {
			t.Run(tc.Name+" "+method, func(t *testing.T) {
				assert.Equal(t, outcome{codes.OK, "", tc.Subject}, call(t, c, method, tc.Token))
			})
		}
	}
}

// TestRefusals: every mapping, over unary and streaming calls: no or bad
// credential is Unauthenticated, a failed check PermissionDenied, keys or
// Backend API out of reach Unavailable, each with its reason.
func TestRefusals(t *testing.T) {
	in := fixture.NewInstance(t, nil)
	c := serve(t, in.Auth, grpcauth.Require("/grpc.health.v1.Health/*", clerkauth.AnyOf(clerkauth.Role("admin"), clerkauth.Scope("health"), clerkauth.TokenTypes(clerkauth.OAuthToken))))
	admin := in.Issuer.MustSessionToken("user_1", clerktest.WithOrg("org_1", "acme", "org:admin"))
	member := in.Issuer.MustSessionToken("user_1", clerktest.WithOrg("org_1", "acme", "org:member"))
	keysOnly := serve(t, in.Issuer.MustAuth(func(c *clerkauth.Config) {
		in.BackendAPI.Configure(c)
		c.AcceptsToken = []clerkauth.TokenType{clerkauth.APIKey}
	}))

	failingAuth, failingKey := fixture.BackendAPIFailing(t, 500, "health")
	busyAuth, release := fixture.VerifierBusy(t)
	defer release()
	downAuth, downToken := fixture.KeysUnreachable(t)

	for _, tc := range []struct {
		name   string
		client healthpb.HealthClient
		token  string
		code   codes.Code
		reason string
	}{
		{"a check passes", c, admin, codes.OK, ""},
		{"a scope passes", c, in.BackendAPI.CreateAPIKey("user_1", "k", []string{"health"}, nil, 0).Secret, codes.OK, ""},
		{"no credential", c, "", codes.Unauthenticated, string(clerkauth.ReasonSessionTokenMissing)},
		{"garbage", c, "garbage", codes.Unauthenticated, string(clerkauth.ReasonTokenInvalid)},
		{"expired session token", c, in.Issuer.MustSessionToken("user_1", clerktest.WithExpiry(-time.Hour)), codes.Unauthenticated, string(clerkauth.ReasonTokenExpired)},
		{"session of another instance", c, clerktest.NewIssuer(t).MustSessionToken("user_1", clerktest.WithKeyID(in.Issuer.KeyID())), codes.Unauthenticated, string(clerkauth.ReasonTokenInvalidSignature)},
		{"unknown API key", c, "ak_unknown", codes.Unauthenticated, string(clerkauth.ReasonTokenInvalid)},
		{"expired M2M JWT", c, in.Issuer.MustM2MJWT("mch_1", nil, -time.Minute), codes.Unauthenticated, string(clerkauth.ReasonTokenExpired)},
		{"session where only API keys are accepted", keysOnly, admin, codes.Unauthenticated, string(clerkauth.ReasonTokenTypeMismatch)},
		{"no credential where only API keys are accepted", keysOnly, "", codes.Unauthenticated, string(clerkauth.ReasonTokenTypeMismatch)},
		{"a failed check", c, member, codes.PermissionDenied, string(clerkauth.ReasonMissingRole)},
		{"a failed scope", c, in.BackendAPI.CreateAPIKey("user_1", "k", []string{"other"}, nil, 0).Secret, codes.PermissionDenied, string(clerkauth.ReasonMissingRole)},
		{"Backend API failing", serve(t, failingAuth), failingKey, codes.Unavailable, string(clerkauth.ReasonUnexpectedError)},
		{"machine verifier busy", serve(t, busyAuth), "ak_another", codes.Unavailable, string(clerkauth.ReasonMachineVerifierBusy)},
		{"keys unreachable", serve(t, downAuth), downToken, codes.Unavailable, string(clerkauth.ReasonJWKRemoteFailedToLoad)},
	} {
		for _, method := range []string{check, watch} {
			t.Run(tc.name+" "+method, func(t *testing.T) {
				got := call(t, tc.client, method, tc.token)
				assert.Equal(t, tc.code, got.code)
				assert.Equal(t, tc.reason, got.reason)
			})
		}
	}
}

// TestTokenTypesCheck: a TokenTypes check refuses another type as
// Unauthenticated, as Middleware answers 401 token-type-mismatch.
func TestTokenTypesCheck(t *testing.T) {
	in := fixture.NewInstance(t, nil)
	c := serve(t, in.Auth, grpcauth.Require("/grpc.health.v1.*", clerkauth.TokenTypes(clerkauth.M2MToken)))
	assert.Equal(t, outcome{codes.OK, "", "mch_1"}, call(t, c, check, in.Issuer.MustM2MJWT("mch_1", nil, time.Hour)))
	assert.Equal(t, outcome{codes.Unauthenticated, string(clerkauth.ReasonTokenTypeMismatch), ""}, call(t, c, watch, in.Issuer.MustSessionToken("user_1")))
}

// TestPolicyPatterns: Public and Require by full method name, service and
// package, over the two methods of the health service.
func TestPolicyPatterns(t *testing.T) {
	in := fixture.NewInstance(t, nil)
	user := in.Issuer.MustSessionToken("user_1")
	admin := in.Issuer.MustSessionToken("user_2", clerktest.WithOrg("org_1", "acme", "org:admin"))
	anonymous := outcome{codes.OK, "", "anonymous"}
	missing := outcome{codes.Unauthenticated, string(clerkauth.ReasonSessionTokenMissing), ""}
	for _, tc := range []struct {
		name  string
		opts  []grpcauth.Option
		token string
		want  map[string]outcome
	}{
		{"fail closed", nil, "", map[string]outcome{check: missing, watch: missing}},
		{"a public method", []grpcauth.Option{grpcauth.Public(check)}, "", map[string]outcome{check: anonymous, watch: missing}},
		{"a public service", []grpcauth.Option{grpcauth.Public("/grpc.health.v1.Health/*")}, "", map[string]outcome{check: anonymous, watch: anonymous}},
		{"a public package", []grpcauth.Option{grpcauth.Public("/grpc.*")}, "", map[string]outcome{check: anonymous, watch: anonymous}},
		{"another package is public", []grpcauth.Option{grpcauth.Public("/grpc.healthz.*", "/grpc.health.v1.Healt/*")}, "", map[string]outcome{check: missing, watch: missing}},
		{"everything public", []grpcauth.Option{grpcauth.Public("/*")}, "", map[string]outcome{check: anonymous, watch: anonymous}},
		{"a public method sees who calls", []grpcauth.Option{grpcauth.Public("/*")}, user, map[string]outcome{check: {codes.OK, "", "user_1"}, watch: {codes.OK, "", "user_1"}}},
		{"a bad credential on a public method", []grpcauth.Option{grpcauth.Public("/*")}, "garbage", map[string]outcome{check: anonymous, watch: anonymous}},
		{"Require wins over Public", []grpcauth.Option{grpcauth.Public("/*"), grpcauth.Require(watch)}, "", map[string]outcome{check: anonymous, watch: missing}},
		{"Require on one method", []grpcauth.Option{grpcauth.Require(watch, clerkauth.Role("admin"))}, user, map[string]outcome{check: {codes.OK, "", "user_1"}, watch: {codes.PermissionDenied, string(clerkauth.ReasonMissingRole), ""}}},
		{"every matching Require applies", []grpcauth.Option{grpcauth.Require("/*", clerkauth.Role("admin")), grpcauth.Require(watch, clerkauth.Permission("org:health:watch"))}, admin, map[string]outcome{check: {codes.OK, "", "user_2"}, watch: {codes.PermissionDenied, string(clerkauth.ReasonMissingPermission), ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := serve(t, in.Auth, tc.opts...)
			for method, want := range tc.want {
				assert.Equal(t, want, call(t, c, method, tc.token), method)
			}
		})
	}
}

// TestInvalidOptionsPanicWithTheFix: the interceptors are built at
// start-up; a wrong pattern must stop it, saying what to write.
func TestInvalidOptionsPanicWithTheFix(t *testing.T) {
	in := fixture.NewInstance(t, nil)
	for _, tc := range []struct {
		name string
		auth *clerkauth.Auth
		opts []grpcauth.Option
		want string
	}{
		{"no auth", nil, nil, "grpcauth: auth is nil; pass the *clerkauth.Auth that clerkauth.New returned"},
		{"no leading slash", in.Auth, []grpcauth.Option{grpcauth.Public("grpc.health.v1.Health/Check")}, `grpcauth: Public("grpc.health.v1.Health/Check"): it must begin with "/" (write "/grpc.health.v1.Health/Check")`},
		{"a star inside", in.Auth, []grpcauth.Option{grpcauth.Require("/grpc.*/Check")}, `grpcauth: Require("/grpc.*/Check"): "*" may only end a pattern`},
		{"a service without method", in.Auth, []grpcauth.Option{grpcauth.Public("/grpc.health.v1.Health")}, `add "/Method", or "/*"`},
		{"a check without Allow", in.Auth, []grpcauth.Option{grpcauth.Require("/*", clerkauth.Check{Reason: "x"})}, "a Check has a nil Allow function"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, build := range []func(){
				func() { grpcauth.UnaryServerInterceptor(tc.auth, tc.opts...) },
				func() { grpcauth.StreamServerInterceptor(tc.auth, tc.opts...) },
			} {
				msg := panicMessage(build)
				assert.True(t, strings.Contains(msg, tc.want), "%q does not contain %q", msg, tc.want)
			}
		})
	}
}

func panicMessage(f func()) (msg string) {
	defer func() { msg, _ = recover().(string) }()
	f()
	return ""
}
