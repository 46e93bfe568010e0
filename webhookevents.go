package clerkauth

import (
	"context"
	"encoding/json"

	"github.com/clerk/clerk-sdk-go/v2"
)

// Typed organization events. Each callback receives clerk-sdk-go's type
// for the payload and the raw data for fields that type lacks; a nil error
// acknowledges the delivery, an error (or a panic) makes the handler answer
// 500 so that Svix retries. A nil callback leaves its event type to
// WebhookConfig.Events (raw), or acknowledges it unhandled.

// OrganizationEventFuncs receives organization.created, .updated and
// .deleted. Method values fit: OrganizationEventFuncs{Created: store.AddOrg}.
type OrganizationEventFuncs struct {
	Created func(ctx context.Context, e *OrganizationEvent) error
	Updated func(ctx context.Context, e *OrganizationEvent) error
	Deleted func(ctx context.Context, e *DeletedEvent) error
}

// MembershipEventFuncs receives organizationMembership.created, .updated
// and .deleted (Clerk sends the whole membership, deleted ones included).
type MembershipEventFuncs struct {
	Created, Updated, Deleted func(ctx context.Context, e *MembershipEvent) error
}

// InvitationEventFuncs receives organizationInvitation.created, .accepted
// and .revoked.
type InvitationEventFuncs struct {
	Created, Accepted, Revoked func(ctx context.Context, e *InvitationEvent) error
}

// OrganizationEvent is an organization.created or .updated delivery.
type OrganizationEvent struct {
	EventMeta
	Organization *clerk.Organization
	Data         json.RawMessage // the raw organization object
}

// MembershipEvent is an organizationMembership.* delivery.
type MembershipEvent struct {
	EventMeta
	Membership *clerk.OrganizationMembership
	Data       json.RawMessage
}

// InvitationEvent is an organizationInvitation.* delivery.
type InvitationEvent struct {
	EventMeta
	Invitation *clerk.OrganizationInvitation
	Data       json.RawMessage
}

// DeletedEvent is a delivery about a deleted object of which Clerk sends
// only the id: user.deleted and organization.deleted. ID is the object's
// id; the delivery's svix-id is EventMeta.ID.
type DeletedEvent struct {
	EventMeta
	ID         string // "user_…", "org_…"
	ExternalID string // the user's external_id, when it has one (user.deleted); else ""
	Object     string // "user", "organization"
	Deleted    bool
}

// deletedObject is the data of a *.deleted event.
type deletedObject struct {
	ID         string `json:"id"`
	ExternalID string `json:"external_id"` // null when unset: stays ""
	Object     string `json:"object"`
	Deleted    bool   `json:"deleted"`
}

// hasTypedCallbacks reports whether any typed callback is set.
func (cfg WebhookConfig) hasTypedCallbacks() bool {
	u, o, m, i := cfg.Users, cfg.Organizations, cfg.Memberships, cfg.Invitations
	for _, set := range []bool{u.Created != nil, u.Updated != nil, u.Deleted != nil, o.Created != nil, o.Updated != nil, o.Deleted != nil,
		m.Created != nil, m.Updated != nil, m.Deleted != nil, i.Created != nil, i.Accepted != nil, i.Revoked != nil} {
		if set {
			return true
		}
	}
	return false
}

// orgDispatch decodes the organization events that have a typed callback
// configured; handled is false for every other event.
func (h *WebhookHandler) orgDispatch(typ string, meta EventMeta, data json.RawMessage) (call func(context.Context) error, reason string, handled bool) {
	orgs, members, invites := h.cfg.Organizations, h.cfg.Memberships, h.cfg.Invitations
	switch fn := map[string]func(context.Context, *OrganizationEvent) error{
		"organization.created": orgs.Created, "organization.updated": orgs.Updated,
	}[typ]; {
	case fn != nil:
		return typed(meta, data, fn, organizationEvent)
	case typ == "organization.deleted" && orgs.Deleted != nil:
		return typed(meta, data, orgs.Deleted, deletedEvent)
	}
	if fn := (map[string]func(context.Context, *MembershipEvent) error{
		"organizationMembership.created": members.Created, "organizationMembership.updated": members.Updated,
		"organizationMembership.deleted": members.Deleted,
	})[typ]; fn != nil {
		return typed(meta, data, fn, membershipEvent)
	}
	if fn := (map[string]func(context.Context, *InvitationEvent) error{
		"organizationInvitation.created": invites.Created, "organizationInvitation.accepted": invites.Accepted,
		"organizationInvitation.revoked": invites.Revoked,
	})[typ]; fn != nil {
		return typed(meta, data, fn, invitationEvent)
	}
	return nil, "", false
}

// typed decodes data into T, builds the event from it with event (nil
// when the object has no id), and binds the callback to it.
func typed[T, E any](meta EventMeta, data json.RawMessage, fn func(context.Context, *E) error, event func(EventMeta, *T, json.RawMessage) *E) (func(context.Context) error, string, bool) {
	v := new(T)
	var e *E
	if json.Unmarshal(data, v) == nil {
		e = event(meta, v, data)
	}
	if e == nil {
		return nil, WebhookReasonInvalidData, true
	}
	return func(ctx context.Context) error { return fn(ctx, e) }, "", true
}

// The event builders for typed: an object without an id is invalid data.

func organizationEvent(m EventMeta, o *clerk.Organization, raw json.RawMessage) *OrganizationEvent {
	return ifID(o.ID, &OrganizationEvent{EventMeta: m, Organization: o, Data: raw})
}

func membershipEvent(m EventMeta, v *clerk.OrganizationMembership, raw json.RawMessage) *MembershipEvent {
	return ifID(v.ID, &MembershipEvent{EventMeta: m, Membership: v, Data: raw})
}

func invitationEvent(m EventMeta, v *clerk.OrganizationInvitation, raw json.RawMessage) *InvitationEvent {
	return ifID(v.ID, &InvitationEvent{EventMeta: m, Invitation: v, Data: raw})
}

func deletedEvent(m EventMeta, d *deletedObject, _ json.RawMessage) *DeletedEvent {
	return ifID(d.ID, &DeletedEvent{EventMeta: m, ID: d.ID, ExternalID: d.ExternalID, Object: d.Object, Deleted: d.Deleted})
}

func ifID[E any](id string, e *E) *E {
	if id == "" {
		return nil
	}
	return e
}

// PrimaryEmail returns the address of the user's primary email, or "" when
// the user has none.
func PrimaryEmail(u *clerk.User) string {
	if u == nil || u.PrimaryEmailAddressID == nil {
		return ""
	}
	for _, e := range u.EmailAddresses {
		if e != nil && e.ID == *u.PrimaryEmailAddressID {
			return e.EmailAddress
		}
	}
	return ""
}
