package webhookmsg

import (
	"encoding/json"
	"slices"
	"time"
)

// The ids of the sample objects: the same on every delivery, so that a
// handler that upserts by id can be tried again and again.
const (
	sampleUserID       = "user_29w83sxmDNGwOuEthce5gg56FcC"
	sampleEmailID      = "idn_29w83yL7CwVlJXylYLxcslromF1"
	sampleOrgID        = "org_29w9IfBrPmcpi0IeBVaKtA7R94W"
	sampleMembershipID = "orgmem_29w8XFmdnmOAlKL6rmFTJ8Dd1tK"
	sampleInvitationID = "orginv_29w9PqAMkZTqhRVMAvHmrzHQGAj"
	sampleSessionID    = "sess_29w84Ktt7ByrfAEFPuMCk8tBoAF"
	sampleClientID     = "client_29w83sxmDNGwOuEthce5gg56FcC"
)

// samples builds the data of each event type with sample data, in the
// shape Clerk's webhooks send (the objects of the Backend API).
var samples = map[string]func(ms int64) any{
	"user.created":                    sampleUser,
	"user.updated":                    sampleUser,
	"user.deleted":                    func(int64) any { return deleted(sampleUserID, "user") },
	"session.created":                 func(ms int64) any { return sampleSession(ms, "active") },
	"session.ended":                   func(ms int64) any { return sampleSession(ms, "ended") },
	"session.removed":                 func(ms int64) any { return sampleSession(ms, "removed") },
	"session.revoked":                 func(ms int64) any { return sampleSession(ms, "revoked") },
	"organization.created":            sampleOrganization,
	"organization.updated":            sampleOrganization,
	"organization.deleted":            func(int64) any { return deleted(sampleOrgID, "organization") },
	"organizationMembership.created":  sampleMembership,
	"organizationMembership.updated":  sampleMembership,
	"organizationMembership.deleted":  sampleMembership,
	"organizationInvitation.created":  func(ms int64) any { return sampleInvitation(ms, "pending") },
	"organizationInvitation.accepted": func(ms int64) any { return sampleInvitation(ms, "accepted") },
	"organizationInvitation.revoked":  func(ms int64) any { return sampleInvitation(ms, "revoked") },
}

// SampleData returns sample data for eventType at time at, and false for
// a type without sample data.
func SampleData(eventType string, at time.Time) (json.RawMessage, bool) {
	build, ok := samples[eventType]
	if !ok {
		return nil, false
	}
	raw, err := json.Marshal(build(at.UnixMilli()))
	if err != nil {
		panic(err) // maps of strings, numbers and bools always encode
	}
	return raw, true
}

// SampleTypes lists the event types with sample data, sorted.
func SampleTypes() []string {
	types := make([]string, 0, len(samples))
	for t := range samples {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

func deleted(id, object string) any {
	return map[string]any{"id": id, "object": object, "deleted": true}
}

func sampleUser(ms int64) any {
	return map[string]any{
		"id": sampleUserID, "object": "user", "external_id": nil, "username": nil,
		"first_name": "Example", "last_name": "User",
		"image_url": "https://img.clerk.com/placeholder", "has_image": false,
		"primary_email_address_id": sampleEmailID, "primary_phone_number_id": nil, "primary_web3_wallet_id": nil,
		"email_addresses": []any{map[string]any{
			"id": sampleEmailID, "object": "email_address", "email_address": "example@example.org", "reserved": false,
			"verification": map[string]any{"status": "verified", "strategy": "email_code", "attempts": 1, "expire_at": ms + 600_000},
			"linked_to":    []any{},
		}},
		"phone_numbers": []any{}, "web3_wallets": []any{}, "passkeys": []any{}, "external_accounts": []any{}, "saml_accounts": []any{},
		"password_enabled": true, "two_factor_enabled": false, "totp_enabled": false, "backup_code_enabled": false,
		"public_metadata": map[string]any{}, "private_metadata": map[string]any{}, "unsafe_metadata": map[string]any{},
		"banned": false, "locked": false, "lockout_expires_in_seconds": nil, "verification_attempts_remaining": 100,
		"delete_self_enabled": true, "create_organization_enabled": true,
		"last_sign_in_at": ms, "last_active_at": ms, "created_at": ms, "updated_at": ms,
	}
}

func sampleSession(ms int64, status string) any {
	return map[string]any{
		"id": sampleSessionID, "object": "session", "client_id": sampleClientID, "user_id": sampleUserID,
		"status": status, "last_active_at": ms, "last_active_organization_id": nil, "actor": nil,
		"expire_at": ms + 7*24*3600_000, "abandon_at": ms + 30*24*3600_000, "created_at": ms, "updated_at": ms,
	}
}

func sampleOrganization(ms int64) any {
	return map[string]any{
		"id": sampleOrgID, "object": "organization", "name": "Example Org", "slug": "example-org",
		"image_url": "https://img.clerk.com/placeholder", "has_image": false, "created_by": sampleUserID,
		"members_count": 1, "pending_invitations_count": 0, "max_allowed_memberships": 5, "admin_delete_enabled": true,
		"public_metadata": map[string]any{}, "private_metadata": map[string]any{}, "created_at": ms, "updated_at": ms,
	}
}

func sampleMembership(ms int64) any {
	return map[string]any{
		"id": sampleMembershipID, "object": "organization_membership", "role": "org:admin", "role_name": "Admin",
		"permissions":     []any{"org:sys_memberships:manage", "org:sys_memberships:read", "org:sys_profile:manage"},
		"organization":    sampleOrganization(ms),
		"public_metadata": map[string]any{}, "private_metadata": map[string]any{},
		"public_user_data": map[string]any{
			"user_id": sampleUserID, "first_name": "Example", "last_name": "User", "identifier": "example@example.org",
			"image_url": "https://img.clerk.com/placeholder", "has_image": false,
		},
		"created_at": ms, "updated_at": ms,
	}
}

func sampleInvitation(ms int64, status string) any {
	return map[string]any{
		"id": sampleInvitationID, "object": "organization_invitation", "email_address": "invitee@example.org",
		"role": "org:member", "role_name": "Member", "organization_id": sampleOrgID, "status": status,
		"public_metadata": map[string]any{}, "private_metadata": map[string]any{},
		"expires_at": ms + 30*24*3600_000, "created_at": ms, "updated_at": ms,
	}
}
