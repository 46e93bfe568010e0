package grpcauth_test

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
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

// A gRPC server whose health checks are public and whose Watch needs an
// organization admin; the client sends its Clerk token as
// "authorization: Bearer …" metadata.
func Example() {
	tb := &fixture.ExampleTB{}
	defer tb.Close()
	iss := clerktest.NewIssuer(tb) // in production: clerkauth.New(clerkauth.ConfigFromEnv())
	auth := iss.MustAuth(nil)

	opts := []grpcauth.Option{
		grpcauth.Public("/grpc.health.v1.Health/Check"),
		grpcauth.Require("/grpc.health.v1.Health/Watch", clerkauth.Role("org:admin")),
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(grpcauth.UnaryServerInterceptor(auth, opts...)),
		grpc.ChainStreamInterceptor(grpcauth.StreamServerInterceptor(auth, opts...)),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(lis)
	defer srv.Stop()

	conn, _ := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)

	res, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{})
	fmt.Println("Check without a token:", res.GetStatus(), err)

	member := iss.MustSessionToken("user_123", clerktest.WithOrg("org_1", "acme", "org:member"))
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+member)
	stream, _ := client.Watch(ctx, &healthpb.HealthCheckRequest{})
	_, err = stream.Recv()
	fmt.Println("Watch as a member:", status.Code(err), status.Convert(err).Message())
	// Output:
	// Check without a token: SERVING <nil>
	// Watch as a member: PermissionDenied missing-role
}
