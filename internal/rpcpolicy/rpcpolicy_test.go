package rpcpolicy_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/internal/rpcpolicy"
)

func TestPatternsAreValidatedWithTheFix(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	auth := iss.MustAuth(nil)
	for _, tc := range []struct {
		pattern string
		err     string // "" for a valid pattern
	}{
		{"/pkg.Service/Method", ""},
		{"/grpc.health.v1.Health/Check", ""},
		{"/grpc.health.v1.Health/*", ""},
		{"/grpc.health.*", ""},
		{"/_x.Y_2/M_3", ""},
		{"/*", ""},
		{"pkg.Service/Method", `must begin with "/" (write "/pkg.Service/Method")`},
		{"", `must begin with "/"`},
		{"/", "names no method"},
		{"/pkg.Service", `names no method (add "/Method", or "/*"`},
		{"/pkg.Service/", `"" is not a method name`},
		{"/pkg.Service/Method/More", `"Method/More" is not a method name`},
		{"/pkg.Service/Get*", `"*" may only end a pattern, after "/" or "."`},
		{"/pkg.*/Method", `"*" may only end a pattern`},
		{"/**", `"*" may only end a pattern`},
		{"/pkg*", `"*" may only end a pattern`},
		{"/pkg..Service/M", `"pkg..Service" is not a service name`},
		{"/pkg.Service /M", `is not a service name`},
		{"/1pkg.S/M", `"1pkg.S" is not a service name`},
		{"/.*", `"" is not a package name`},
		{"/a/b.*", `"a/b" is not a package name`},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			for _, rule := range []rpcpolicy.Rule{{Public: true, Patterns: []string{tc.pattern}}, {Patterns: []string{tc.pattern}}} {
				_, err := rpcpolicy.New("grpcauth", auth, []rpcpolicy.Rule{rule})
				if tc.err == "" {
					assert.NoError(t, err)
					continue
				}
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.Contains(t, err.Error(), "grpcauth: ")
				assert.Contains(t, err.Error(), `a pattern is a full method name ("/package.Service/Method")`)
			}
		})
	}

	_, err := rpcpolicy.New("connectauth", nil, nil)
	assert.EqualError(t, err, "connectauth: auth is nil; pass the *clerkauth.Auth that clerkauth.New returned")
	_, err = rpcpolicy.New("grpcauth", auth, []rpcpolicy.Rule{{Public: true}})
	assert.ErrorContains(t, err, "grpcauth: Public() names no method")
	_, err = rpcpolicy.New("grpcauth", auth, []rpcpolicy.Rule{{Patterns: []string{"/a.B/C"}, Checks: []clerkauth.Check{{Reason: "x"}}}})
	assert.ErrorContains(t, err, `grpcauth: Require("/a.B/C"): a Check has a nil Allow function`)
}

// TestPolicyDecides: fail closed unless Public names the procedure;
// Require adds checks, also on public procedures.
func TestPolicyDecides(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	auth := iss.MustAuth(nil)
	admin := "Bearer " + iss.MustSessionToken("user_admin", clerktest.WithOrg("org_1", "acme", "org:admin"))
	member := "Bearer " + iss.MustSessionToken("user_member", clerktest.WithOrg("org_1", "acme", "org:member"))
	p, err := rpcpolicy.New("grpcauth", auth, []rpcpolicy.Rule{
		{Public: true, Patterns: []string{"/grpc.health.v1.Health/*", "/acme.public.*", "/acme.shop.Shop/List"}},
		{Patterns: []string{"/acme.shop.Shop/*"}, Checks: []clerkauth.Check{clerkauth.Permission("org:shop:read")}},
		{Patterns: []string{"/acme.admin.*"}, Checks: []clerkauth.Check{clerkauth.Role("admin")}},
		{Patterns: []string{"/acme.public.Audit/Read"}}, // signed in, on a public package
	})
	require.NoError(t, err)

	for _, tc := range []struct {
		procedure, authorization string
		reason                   clerkauth.Reason // "" when the call goes on
		user                     string           // who the handler sees
	}{
		{"/grpc.health.v1.Health/Check", "", "", ""},
		{"/grpc.health.v1.Health/Check", admin, "", "user_admin"},
		{"/grpc.health.v1.Health/Check", "Bearer garbage", "", ""},
		{"/grpc.health.v1.HealthX/Check", "", clerkauth.ReasonSessionTokenMissing, ""},
		{"/acme.public.News/Read", "", "", ""},
		{"/acme.publicity.News/Read", "", clerkauth.ReasonSessionTokenMissing, ""},
		{"/acme.public.Audit/Read", "", clerkauth.ReasonSessionTokenMissing, ""},
		{"/acme.public.Audit/Read", member, "", "user_member"},
		{"/acme.shop.Shop/List", "", clerkauth.ReasonSessionTokenMissing, ""}, // Require wins over Public
		{"/acme.shop.Shop/List", member, clerkauth.ReasonMissingPermission, ""},
		{"/acme.shop.Shop/Buy", member, clerkauth.ReasonMissingPermission, ""},
		{"/acme.admin.Users/Delete", member, clerkauth.ReasonMissingRole, ""},
		{"/acme.admin.Users/Delete", admin, "", "user_admin"},
		{"/acme.other.Thing/Do", member, "", "user_member"},
		{"/acme.other.Thing/Do", "Bearer garbage", clerkauth.ReasonTokenInvalid, ""},
		{"/unknown", "", clerkauth.ReasonSessionTokenMissing, ""},
	} {
		t.Run(tc.procedure+" "+tc.authorization[:min(len(tc.authorization), 12)], func(t *testing.T) {
			var values []string
			if tc.authorization != "" {
				values = []string{tc.authorization}
			}
			ctx, err := p.Authorize(context.Background(), tc.procedure, values)
			if tc.reason != "" {
				require.NotNil(t, err)
				assert.Equal(t, tc.reason, err.Reason)
				return
			}
			require.Nil(t, err)
			id, ok := clerkauth.IdentityFromContext(ctx)
			assert.Equal(t, tc.user != "", ok)
			if ok {
				assert.Equal(t, tc.user, id.UserID)
			}
		})
	}
}

func TestCode(t *testing.T) {
	for reason, want := range map[clerkauth.Reason]uint32{
		clerkauth.ReasonSessionTokenMissing:   rpcpolicy.CodeUnauthenticated,
		clerkauth.ReasonTokenTypeMismatch:     rpcpolicy.CodeUnauthenticated,
		clerkauth.ReasonMissingRole:           rpcpolicy.CodePermissionDenied,
		clerkauth.ReasonJWKRemoteFailedToLoad: rpcpolicy.CodeUnavailable,
		clerkauth.ReasonMachineVerifierBusy:   rpcpolicy.CodeUnavailable,
		"unknown":                             rpcpolicy.CodeUnauthenticated,
	} {
		assert.Equal(t, want, rpcpolicy.Code(&clerkauth.Error{Reason: reason}), reason)
	}
}
