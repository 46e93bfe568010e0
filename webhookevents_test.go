package clerkauth_test

import (
	"context"
	"sync"
	"testing"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

// orgRecorder notes every typed organization event it receives.
type orgRecorder struct {
	mu  sync.Mutex
	got []string // "<type> <id>"
}

func (o *orgRecorder) note(typ, id string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, typ+" "+id)
	return nil
}

// TestWebhookOrganizationEvents: each organization, membership and
// invitation event reaches its typed callback with clerk-sdk-go's type;
// organization.deleted carries the id; bad data is refused; types without
// a typed callback reach Events.
func TestWebhookOrganizationEvents(t *testing.T) {
	rec := &orgRecorder{}
	var raw []string
	f := newWebhookFixture(t, func(c *clerkauth.WebhookConfig) {
		c.Users = clerkauth.UserEventFuncs{}
		c.Organizations = clerkauth.OrganizationEventFuncs{
			Created: func(_ context.Context, e *clerkauth.OrganizationEvent) error {
				return rec.note(e.Type, e.Organization.Slug)
			},
			Updated: func(_ context.Context, e *clerkauth.OrganizationEvent) error {
				return rec.note(e.Type, e.Organization.Name)
			},
			Deleted: func(_ context.Context, e *clerkauth.DeletedEvent) error { return rec.note(e.Type, e.ID) },
		}
		c.Memberships = clerkauth.MembershipEventFuncs{
			Created: func(_ context.Context, e *clerkauth.MembershipEvent) error {
				return rec.note(e.Type, e.Membership.Role)
			},
			Deleted: func(_ context.Context, e *clerkauth.MembershipEvent) error { return rec.note(e.Type, e.Membership.ID) },
		}
		c.Invitations = clerkauth.InvitationEventFuncs{
			Accepted: func(_ context.Context, e *clerkauth.InvitationEvent) error {
				return rec.note(e.Type, e.Invitation.EmailAddress)
			},
		}
		c.Events = func(_ context.Context, e *clerkauth.Event) error {
			raw = append(raw, e.Type)
			return nil
		}
	})
	deliveries := []struct {
		typ  string
		data map[string]any
	}{
		{"organization.created", map[string]any{"id": "org_1", "object": "organization", "name": "Acme", "slug": "acme"}},
		{"organization.updated", map[string]any{"id": "org_1", "object": "organization", "name": "Acme Inc", "slug": "acme"}},
		{"organization.deleted", map[string]any{"id": "org_1", "object": "organization", "deleted": true}},
		{"organizationMembership.created", map[string]any{"id": "orgmem_1", "object": "organization_membership", "role": "org:admin"}},
		{"organizationMembership.updated", map[string]any{"id": "orgmem_1", "object": "organization_membership", "role": "org:member"}},
		{"organizationMembership.deleted", map[string]any{"id": "orgmem_1", "object": "organization_membership", "role": "org:member"}},
		{"organizationInvitation.accepted", map[string]any{"id": "orginv_1", "object": "organization_invitation", "email_address": "ada@example.com"}},
		{"organizationInvitation.revoked", map[string]any{"id": "orginv_2", "object": "organization_invitation"}},
		{"session.created", map[string]any{"id": "sess_1", "object": "session"}},
		{"role.created", map[string]any{"id": "role_1", "object": "role"}},
	}
	for n, d := range deliveries {
		r := clerktest.NewWebhookRequest(t, "/api/webhooks/clerk", f.secret, "msg_"+d.typ, webhookNow, d.typ, d.data)
		require.Equal(t, 200, f.serve(r).status, "delivery %d (%s)", n, d.typ)
	}
	assert.Equal(t, []string{
		"organization.created acme", "organization.updated Acme Inc", "organization.deleted org_1",
		"organizationMembership.created org:admin", "organizationMembership.deleted orgmem_1",
		"organizationInvitation.accepted ada@example.com",
	}, rec.got)
	assert.Equal(t, []string{"organizationMembership.updated", "organizationInvitation.revoked", "session.created", "role.created"}, raw,
		"event types without a typed callback reach Events, raw")

	for _, typ := range []string{"organization.created", "organization.deleted", "organizationMembership.created", "organizationInvitation.accepted"} {
		r := clerktest.NewWebhookRequest(t, "/api/webhooks/clerk", f.secret, "msg_bad_"+typ, webhookNow, typ, map[string]any{"object": "x"})
		assertWebhookRefused(t, f.serve(r), 400, "invalid-data")
	}
}

// TestWebhookOnErrorSeesRefusals: OnError hears about refused deliveries
// too, with no callback error.
func TestWebhookOnErrorSeesRefusals(t *testing.T) {
	var got []clerkauth.WebhookFailure
	f := newWebhookFixture(t, func(c *clerkauth.WebhookConfig) {
		c.OnError = func(_ context.Context, fl clerkauth.WebhookFailure) { got = append(got, fl) }
	})
	r := f.signed(t, "msg_1", webhookNow, readFixture(t, "user.created"))
	r.Header.Set("svix-id", "msg_other")
	assertWebhookRefused(t, f.serve(r), 400, "invalid-signature")
	require.Len(t, got, 1)
	assert.Equal(t, clerkauth.WebhookFailure{ID: "msg_other", Status: 400, Reason: "invalid-signature"}, got[0])
}

func TestPrimaryEmail(t *testing.T) {
	id := "idn_2"
	u := &clerk.User{PrimaryEmailAddressID: &id, EmailAddresses: []*clerk.EmailAddress{
		{ID: "idn_1", EmailAddress: "old@example.com"}, {ID: "idn_2", EmailAddress: "ada@example.com"}}}
	assert.Equal(t, "ada@example.com", clerkauth.PrimaryEmail(u))
	assert.Empty(t, clerkauth.PrimaryEmail(&clerk.User{}))
	assert.Empty(t, clerkauth.PrimaryEmail(nil))
}
