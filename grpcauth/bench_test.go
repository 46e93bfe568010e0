package grpcauth_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/grpcauth"
)

// BenchmarkUnaryInterceptor is the interceptor's hot path, a session token
// already verified (so served from the token cache), beside a no-op
// interceptor: the difference is what grpcauth costs a call.
func BenchmarkUnaryInterceptor(b *testing.B) {
	iss := clerktest.NewIssuer(b)
	auth := iss.MustAuth(nil)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(
		"authorization", "Bearer "+iss.MustSessionToken("user_1"),
		"content-type", "application/grpc", "user-agent", "grpc-go/1.85.0", // what a real call carries besides
	))
	info := &grpc.UnaryServerInfo{FullMethod: "/grpc.health.v1.Health/Check"}
	handler := func(ctx context.Context, req any) (any, error) { return req, nil }
	clerk := grpcauth.UnaryServerInterceptor(auth, grpcauth.Public("/grpc.health.v1.Health/Watch"), grpcauth.Require("/acme.admin.*"))
	_, err := clerk(ctx, nil, info, handler) // verify once: the cache has it
	require.NoError(b, err)

	for _, bc := range []struct {
		name string
		i    grpc.UnaryServerInterceptor
	}{{"noop", noopUnary}, {"clerkauth", clerk}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.i(ctx, nil, info, handler); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHealthCheck is a whole call over loopback, through a no-op
// interceptor or grpcauth's, for scale.
func BenchmarkHealthCheck(b *testing.B) {
	iss := clerktest.NewIssuer(b)
	auth := iss.MustAuth(nil)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+iss.MustSessionToken("user_1"))
	for _, bc := range []struct {
		name   string
		client func() healthpb.HealthClient
	}{
		{"noop", func() healthpb.HealthClient { return serveWith(b, noopUnary, noopStream) }},
		{"clerkauth", func() healthpb.HealthClient { return serve(b, auth) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := bc.client()
			_, err := c.Check(ctx, &healthpb.HealthCheckRequest{})
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func noopUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	return h(ctx, req)
}

func noopStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	return h(srv, ss)
}
