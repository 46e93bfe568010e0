package connectauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/connectauth"
	"github.com/clerkauth/clerkauth/internal/fixture"
)

// A Connect handler that only organization admins may call; the client
// sends its Clerk token in the Authorization header, whatever the
// protocol.
func Example() {
	tb := &fixture.ExampleTB{}
	defer tb.Close()
	iss := clerktest.NewIssuer(tb) // in production: clerkauth.New(clerkauth.ConfigFromEnv())
	auth := iss.MustAuth(nil)

	interceptor := connectauth.NewInterceptor(auth,
		connectauth.Public("/grpc.health.v1.Health/*"),
		connectauth.Require("/acme.admin.v1.Admin/*", clerkauth.Role("org:admin")),
	)
	const procedure = "/acme.admin.v1.Admin/WhoAmI"
	mux := http.NewServeMux()
	mux.Handle(procedure, connect.NewUnaryHandler(procedure, func(ctx context.Context, _ *connect.Request[emptypb.Empty]) (*connect.Response[wrapperspb.StringValue], error) {
		id, _ := clerkauth.IdentityFromContext(ctx)
		return connect.NewResponse(wrapperspb.String(id.UserID)), nil
	}, connect.WithInterceptors(interceptor)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	client := connect.NewClient[emptypb.Empty, wrapperspb.StringValue](srv.Client(), srv.URL+procedure)
	for _, org := range []string{"org:admin", "org:member"} {
		req := connect.NewRequest(&emptypb.Empty{})
		req.Header().Set("Authorization", "Bearer "+iss.MustSessionToken("user_123", clerktest.WithOrg("org_1", "acme", org)))
		res, err := client.CallUnary(context.Background(), req)
		if err != nil {
			fmt.Println(org, connect.CodeOf(err), err.(*connect.Error).Message())
			continue
		}
		fmt.Println(org, res.Msg.Value)
	}
	// Output:
	// org:admin user_123
	// org:member permission_denied missing-role
}
