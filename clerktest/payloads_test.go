package clerktest_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

var (
	created = time.UnixMilli(1_754_000_000_123)
	ada     = clerktest.User{ID: "user_ada", Email: "ada@example.com", Phone: "+15555550100", Username: "ada", FirstName: "Ada",
		LastName: "Lovelace", ExternalID: "42", PublicMetadata: map[string]any{"plan": "pro"}, CreatedAt: created}
	acme = clerktest.Organization{ID: "org_acme", Name: "Acme", Slug: "acme", CreatedBy: "user_ada", CreatedAt: created,
		PrivateMetadata: map[string]any{"billing": "b_1"}}
)

// TestBuildersDecodeIntoTypedEvents: each builder's payload, delivered
// with NewWebhookRequest, reaches the webhook handler's typed callback
// with the fields set.
func TestBuildersDecodeIntoTypedEvents(t *testing.T) {
	secret := clerktest.NewWebhookSecret()
	var got []any
	record := func(e any) error { got = append(got, e); return nil }
	wh, err := clerkauth.NewWebhookHandler(clerkauth.WebhookConfig{
		Secret: secret,
		Users: clerkauth.UserEventFuncs{
			Created: func(_ context.Context, e *clerkauth.UserEvent) error { return record(e) },
			Deleted: func(_ context.Context, e *clerkauth.DeletedEvent) error { return record(e) },
		},
		Organizations: clerkauth.OrganizationEventFuncs{
			Updated: func(_ context.Context, e *clerkauth.OrganizationEvent) error { return record(e) },
			Deleted: func(_ context.Context, e *clerkauth.DeletedEvent) error { return record(e) },
		},
		Memberships: clerkauth.MembershipEventFuncs{Created: func(_ context.Context, e *clerkauth.MembershipEvent) error { return record(e) }},
		Invitations: clerkauth.InvitationEventFuncs{Accepted: func(_ context.Context, e *clerkauth.InvitationEvent) error { return record(e) }},
	})
	require.NoError(t, err)

	for _, tc := range []struct {
		event string
		data  any
		check func(t *testing.T, e any)
	}{
		{"user.created", ada, func(t *testing.T, e any) {
			u := e.(*clerkauth.UserEvent).User
			assert.Equal(t, "user_ada", u.ID)
			assert.Equal(t, "ada@example.com", clerkauth.PrimaryEmail(u))
			assert.Equal(t, "Ada", *u.FirstName)
			assert.Equal(t, "Lovelace", *u.LastName)
			assert.Equal(t, "ada", *u.Username)
			assert.Equal(t, "42", *u.ExternalID)
			require.Len(t, u.PhoneNumbers, 1)
			assert.Equal(t, "+15555550100", u.PhoneNumbers[0].PhoneNumber)
			assert.Equal(t, u.PhoneNumbers[0].ID, *u.PrimaryPhoneNumberID)
			assert.JSONEq(t, `{"plan":"pro"}`, string(u.PublicMetadata))
			assert.JSONEq(t, `{}`, string(u.PrivateMetadata))
			assert.Equal(t, created.UnixMilli(), u.CreatedAt)
			assert.Equal(t, created.UnixMilli(), u.UpdatedAt, "a zero UpdatedAt is CreatedAt")
			assert.Nil(t, u.LastSignInAt)
		}},
		{"user.deleted", clerktest.Deleted{Object: "user", ID: "user_ada"}, func(t *testing.T, e any) {
			assert.Equal(t, "user_ada", e.(*clerkauth.DeletedEvent).ID)
		}},
		{"organization.updated", acme, func(t *testing.T, e any) {
			o := e.(*clerkauth.OrganizationEvent).Organization
			assert.Equal(t, "org_acme", o.ID)
			assert.Equal(t, "Acme", o.Name)
			assert.Equal(t, "acme", o.Slug)
			assert.Equal(t, "user_ada", o.CreatedBy)
			assert.JSONEq(t, `{"billing":"b_1"}`, string(o.PrivateMetadata))
		}},
		{"organization.deleted", clerktest.Deleted{Object: "organization", ID: "org_acme"}, func(t *testing.T, e any) {
			d := e.(*clerkauth.DeletedEvent)
			assert.Equal(t, "org_acme", d.ID)
			assert.True(t, d.Deleted)
		}},
		{"organizationMembership.created", clerktest.Membership{Organization: acme, User: ada, Role: "admin", Permissions: []string{"invoices:create", "org:sys_memberships:manage"}}, func(t *testing.T, e any) {
			m := e.(*clerkauth.MembershipEvent).Membership
			assert.Equal(t, "orgmem_acme_ada", m.ID)
			assert.Equal(t, "org:admin", m.Role)
			assert.Equal(t, "Admin", m.RoleName)
			assert.Equal(t, []string{"org:invoices:create", "org:sys_memberships:manage"}, m.Permissions)
			require.NotNil(t, m.Organization)
			assert.Equal(t, "acme", m.Organization.Slug)
			require.NotNil(t, m.PublicUserData)
			assert.Equal(t, "user_ada", m.PublicUserData.UserID)
			assert.Equal(t, "ada@example.com", m.PublicUserData.Identifier)
		}},
		{"organizationInvitation.accepted", clerktest.Invitation{ID: "orginv_1", EmailAddress: "bob@example.com", OrganizationID: "org_acme", Role: "org:member", Status: "accepted"}, func(t *testing.T, e any) {
			v := e.(*clerkauth.InvitationEvent).Invitation
			assert.Equal(t, "orginv_1", v.ID)
			assert.Equal(t, "bob@example.com", v.EmailAddress)
			assert.Equal(t, "org_acme", v.OrganizationID)
			assert.Equal(t, "org:member", v.Role)
			assert.Equal(t, "accepted", v.Status)
		}},
	} {
		t.Run(tc.event, func(t *testing.T) {
			got = nil
			rec := httptest.NewRecorder()
			wh.ServeHTTP(rec, clerktest.NewWebhookRequest(t, "/api/webhooks/clerk", secret, "msg_"+tc.event, time.Now(), tc.event, tc.data))
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Len(t, got, 1, "the typed callback ran: %s", rec.Body.String())
			tc.check(t, got[0])
		})
	}
}

// TestBuildersWriteClerksFields: a built user and organization carry every
// field of Clerk's own webhook fixtures that clerk-sdk-go reads (the
// fixtures' deprecated fields aside), with the same JSON types.
func TestBuildersWriteClerksFields(t *testing.T) {
	for _, tc := range []struct {
		fixture    string
		built      any
		deprecated []string
	}{
		{"user.created.json", ada, []string{"birthday", "gender", "profile_image_url"}},
		{"organization.created.json", acme, []string{"logo_url"}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			raw, err := os.ReadFile("../testdata/webhooks/" + tc.fixture)
			require.NoError(t, err)
			var fixture struct{ Data map[string]any }
			require.NoError(t, json.Unmarshal(raw, &fixture))
			b, err := json.Marshal(tc.built)
			require.NoError(t, err)
			var built map[string]any
			require.NoError(t, json.Unmarshal(b, &built))
			for _, k := range slices.Sorted(maps.Keys(fixture.Data)) {
				if slices.Contains(tc.deprecated, k) {
					continue
				}
				require.Contains(t, built, k)
				if want := fixture.Data[k]; want != nil && built[k] != nil {
					assert.IsType(t, want, built[k], k)
				}
			}
		})
	}
}

// TestCurrentUserFromTheFakeBackendAPI: a user set on the BackendAPI is
// what CurrentUser returns for a session of that user; a deleted one is
// ErrUserNotFound.
func TestCurrentUserFromTheFakeBackendAPI(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	bapi := clerktest.NewBackendAPI(t, iss)
	auth := iss.MustAuth(func(c *clerkauth.Config) {
		bapi.Configure(c)
		c.UserCacheTTL = -1 // every call asks the Backend API
	})
	bapi.SetUser(ada)
	current := func(userID string) (*clerk.User, error) {
		t.Helper()
		var u *clerk.User
		var err error
		h := auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { u, err = auth.CurrentUser(r.Context()) }))
		r := httptest.NewRequest("GET", "/api/me", nil)
		r.Header.Set("Authorization", "Bearer "+iss.MustSessionToken(userID))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		require.Equal(t, http.StatusOK, rec.Code)
		return u, err
	}

	u, err := current("user_ada")
	require.NoError(t, err)
	assert.Equal(t, "user_ada", u.ID)
	assert.Equal(t, "ada@example.com", clerkauth.PrimaryEmail(u))
	assert.Equal(t, "Lovelace", *u.LastName)
	assert.JSONEq(t, `{"plan":"pro"}`, string(u.PublicMetadata))
	assert.Equal(t, 1, bapi.Calls("/v1/users/user_ada"))

	_, err = current("user_nobody")
	assert.ErrorIs(t, err, clerkauth.ErrUserNotFound)

	bapi.DeleteUser("user_ada")
	_, err = current("user_ada")
	assert.ErrorIs(t, err, clerkauth.ErrUserNotFound)
}
