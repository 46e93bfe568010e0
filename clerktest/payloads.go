package clerktest

import (
	"cmp"
	"encoding/json"
	"strings"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
)

// Builders for the objects Clerk sends: in webhook deliveries (the data of
// user.*, organization.*, organizationMembership.* and
// organizationInvitation.* events) and from the Backend API (a User through
// BackendAPI.SetUser, for clerkauth's CurrentUser). Each is a plain value
// whose MarshalJSON writes the object in Clerk's JSON shape, as
// clerk-sdk-go v2's types (clerk.User, clerk.Organization,
// clerk.OrganizationMembership, clerk.OrganizationInvitation) read it, so
// it can be passed as the data of NewWebhookRequest:
//
//	u := clerktest.User{ID: "user_123", Email: "ada@example.com", FirstName: "Ada"}
//	req := clerktest.NewWebhookRequest(t, "/api/webhooks/clerk", secret, "msg_1", time.Now(), "user.created", u)
//
// Fields left empty are sent as Clerk sends them for an object without
// them: null for optional strings, [] for lists, {} for metadata. Times
// are milliseconds since the epoch, as in Clerk's JSON; a zero time is 0.
// IDs that a builder derives (an email address's "idn_…", a membership's
// "orgmem_…") are derived from the object's ID, so that the output is
// deterministic.

// User is a Clerk user (object "user").
type User struct {
	ID         string // "user_…"
	Email      string // the primary email address, verified; "" for none
	Phone      string // the primary phone number (E.164), verified; "" for none
	Username   string
	FirstName  string
	LastName   string
	ExternalID string
	ImageURL   string // "" sends Clerk's default avatar, with has_image false
	// PublicMetadata, PrivateMetadata and UnsafeMetadata are encoded with
	// encoding/json (a map, a struct or json.RawMessage); nil is {}.
	PublicMetadata, PrivateMetadata, UnsafeMetadata any
	Banned                                          bool
	CreatedAt, UpdatedAt, LastSignInAt              time.Time // a zero UpdatedAt is CreatedAt; a zero LastSignInAt is null
}

// MarshalJSON writes the user as Clerk's Backend API and user.created and
// user.updated deliveries send it.
func (u User) MarshalJSON() ([]byte, error) {
	created, updated := stamps(u.CreatedAt, u.UpdatedAt)
	cu := &clerk.User{
		Object: "user", ID: u.ID,
		Username: optional(u.Username), FirstName: optional(u.FirstName), LastName: optional(u.LastName),
		ExternalID: optional(u.ExternalID), ImageURL: clerk.String(cmp.Or(u.ImageURL, defaultImage)), HasImage: u.ImageURL != "",
		EmailAddresses: []*clerk.EmailAddress{}, PhoneNumbers: []*clerk.PhoneNumber{}, Web3Wallets: []*clerk.Web3Wallet{},
		Passkeys: []*clerk.Passkey{}, ExternalAccounts: []*clerk.ExternalAccount{}, SAMLAccounts: []*clerk.SAMLAccount{},
		EnterpriseAccounts: []*clerk.EnterpriseAccount{},
		Banned:             u.Banned, CreatedAt: created, UpdatedAt: updated,
		DeleteSelfEnabled: true, CreateOrganizationEnabled: true,
	}
	if !u.LastSignInAt.IsZero() {
		cu.LastSignInAt = clerk.Int64(millis(u.LastSignInAt))
	}
	idPart := strings.TrimPrefix(u.ID, "user_")
	if u.Email != "" {
		id := "idn_" + idPart + "_email"
		cu.PrimaryEmailAddressID = clerk.String(id)
		cu.EmailAddresses = append(cu.EmailAddresses, &clerk.EmailAddress{
			ID: id, Object: "email_address", EmailAddress: u.Email, LinkedTo: []*clerk.LinkedIdentification{},
			Verification: verified("email_code"), CreatedAt: created, UpdatedAt: updated,
		})
	}
	if u.Phone != "" {
		id := "idn_" + idPart + "_phone"
		cu.PrimaryPhoneNumberID = clerk.String(id)
		cu.PhoneNumbers = append(cu.PhoneNumbers, &clerk.PhoneNumber{
			ID: id, Object: "phone_number", PhoneNumber: u.Phone, LinkedTo: []*clerk.LinkedIdentification{},
			BackupCodes: []string{}, Verification: verified("phone_code"), CreatedAt: created, UpdatedAt: updated,
		})
	}
	if err := encodeMetadata(meta{&cu.PublicMetadata, u.PublicMetadata}, meta{&cu.PrivateMetadata, u.PrivateMetadata}, meta{&cu.UnsafeMetadata, u.UnsafeMetadata}); err != nil {
		return nil, err
	}
	return json.Marshal(cu)
}

// Organization is a Clerk organization (object "organization").
type Organization struct {
	ID        string // "org_…"
	Name      string
	Slug      string
	CreatedBy string // the creating user's ID
	ImageURL  string
	// MaxAllowedMemberships: 0 is Clerk's "unlimited".
	MaxAllowedMemberships int64
	// PublicMetadata and PrivateMetadata are encoded with encoding/json;
	// nil is {}.
	PublicMetadata, PrivateMetadata any
	CreatedAt, UpdatedAt            time.Time // a zero UpdatedAt is CreatedAt
}

// MarshalJSON writes the organization as organization.created and
// organization.updated deliveries send it.
func (o Organization) MarshalJSON() ([]byte, error) {
	co, err := o.clerk()
	if err != nil {
		return nil, err
	}
	return json.Marshal(co)
}

func (o Organization) clerk() (*clerk.Organization, error) {
	created, updated := stamps(o.CreatedAt, o.UpdatedAt)
	co := &clerk.Organization{
		Object: "organization", ID: o.ID, Name: o.Name, Slug: o.Slug, CreatedBy: o.CreatedBy,
		ImageURL: optional(o.ImageURL), HasImage: o.ImageURL != "", MaxAllowedMemberships: o.MaxAllowedMemberships,
		AdminDeleteEnabled: true, CreatedAt: created, UpdatedAt: updated,
	}
	if err := encodeMetadata(meta{&co.PublicMetadata, o.PublicMetadata}, meta{&co.PrivateMetadata, o.PrivateMetadata}); err != nil {
		return nil, err
	}
	return co, nil
}

// Membership is a user's membership of an organization (object
// "organization_membership"), as organizationMembership.* deliveries send
// it: the organization in full, the member's public data.
type Membership struct {
	ID           string // default "orgmem_" + the organization's and the user's IDs
	Organization Organization
	User         User // its ID, FirstName, LastName, Username, ImageURL and Email (the identifier) are sent
	// Role and Permissions are written with or without Clerk's "org:"
	// prefix, as WithOrg takes them ("admin", "invoices:create"); they are
	// sent with it, as Clerk does ("org:admin", "org:invoices:create").
	Role        string
	Permissions []string
	// PublicMetadata and PrivateMetadata are encoded with encoding/json;
	// nil is {}.
	PublicMetadata, PrivateMetadata any
	CreatedAt, UpdatedAt            time.Time // a zero UpdatedAt is CreatedAt
}

// MarshalJSON writes the membership as organizationMembership.created,
// .updated and .deleted deliveries send it.
func (m Membership) MarshalJSON() ([]byte, error) {
	org, err := m.Organization.clerk()
	if err != nil {
		return nil, err
	}
	created, updated := stamps(m.CreatedAt, m.UpdatedAt)
	id := m.ID
	if id == "" {
		id = "orgmem_" + strings.TrimPrefix(m.Organization.ID, "org_") + "_" + strings.TrimPrefix(m.User.ID, "user_")
	}
	role := orgScoped(m.Role)
	perms := make([]string, len(m.Permissions))
	for i, p := range m.Permissions {
		perms[i] = orgScoped(p)
	}
	cm := &clerk.OrganizationMembership{
		Object: "organization_membership", ID: id, Organization: org, Permissions: perms,
		Role: role, RoleName: roleName(role), CreatedAt: created, UpdatedAt: updated,
		PublicUserData: &clerk.OrganizationMembershipPublicUserData{
			UserID: m.User.ID, FirstName: optional(m.User.FirstName), LastName: optional(m.User.LastName),
			ImageURL: optional(m.User.ImageURL), HasImage: m.User.ImageURL != "", Identifier: m.User.Email,
			Username: optional(m.User.Username),
		},
	}
	if err := encodeMetadata(meta{&cm.PublicMetadata, m.PublicMetadata}, meta{&cm.PrivateMetadata, m.PrivateMetadata}); err != nil {
		return nil, err
	}
	return json.Marshal(cm)
}

// Invitation is an invitation to an organization (object
// "organization_invitation").
type Invitation struct {
	ID             string // "orginv_…"
	EmailAddress   string
	OrganizationID string
	// Role is written with or without "org:", and sent with it.
	Role string
	// Status is "pending" (the default), "accepted" or "revoked", as the
	// created, accepted and revoked deliveries carry it.
	Status string
	// PublicMetadata and PrivateMetadata are encoded with encoding/json;
	// nil is {}.
	PublicMetadata, PrivateMetadata any
	CreatedAt, UpdatedAt            time.Time // a zero UpdatedAt is CreatedAt
	ExpiresAt                       time.Time // zero: null
}

// MarshalJSON writes the invitation as organizationInvitation.created,
// .accepted and .revoked deliveries send it.
func (v Invitation) MarshalJSON() ([]byte, error) {
	created, updated := stamps(v.CreatedAt, v.UpdatedAt)
	role := orgScoped(v.Role)
	ci := &clerk.OrganizationInvitation{
		Object: "organization_invitation", ID: v.ID, EmailAddress: v.EmailAddress, OrganizationID: v.OrganizationID,
		Role: role, RoleName: roleName(role), Status: cmp.Or(v.Status, "pending"), CreatedAt: created, UpdatedAt: updated,
	}
	if !v.ExpiresAt.IsZero() {
		ci.ExpiresAt = clerk.Int64(millis(v.ExpiresAt))
	}
	if err := encodeMetadata(meta{&ci.PublicMetadata, v.PublicMetadata}, meta{&ci.PrivateMetadata, v.PrivateMetadata}); err != nil {
		return nil, err
	}
	return json.Marshal(ci)
}

// Deleted is the data of a deletion delivery (user.deleted,
// organization.deleted, …): Clerk sends only the object's kind and ID.
type Deleted struct {
	Object string `json:"object"` // "user", "organization", …
	ID     string `json:"id"`
}

// MarshalJSON writes {"deleted":true,"id":…,"object":…}, as Clerk does.
func (d Deleted) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"deleted": true, "id": d.ID, "object": d.Object})
}

// defaultImage stands in for the generated avatar Clerk sends as the
// image_url of a user who uploaded none.
const defaultImage = "https://img.clerk.com/clerktest-default-avatar"

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// optional is a string Clerk sends as null when it is empty.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// verified is the verification of an identifier proven by a one-time
// code, as Clerk sends it.
func verified(strategy string) *clerk.Verification {
	return &clerk.Verification{Object: "verification_otp", Status: "verified", Strategy: strategy}
}

// stamps are an object's created_at and updated_at: a zero updated is
// created.
func stamps(created, updated time.Time) (int64, int64) {
	if updated.IsZero() {
		updated = created
	}
	return millis(created), millis(updated)
}

// meta is a metadata field and the value to encode into it.
type meta struct {
	dst *json.RawMessage
	v   any
}

// encodeMetadata encodes each value into its field; nil is {}.
func encodeMetadata(fields ...meta) error {
	for _, f := range fields {
		if f.v == nil {
			*f.dst = json.RawMessage("{}")
			continue
		}
		raw, err := json.Marshal(f.v)
		if err != nil {
			return err
		}
		*f.dst = raw
	}
	return nil
}

// orgScoped writes a role or permission with Clerk's "org:" prefix, as
// Clerk sends system and custom roles alike.
func orgScoped(s string) string {
	if s == "" || strings.HasPrefix(s, "org:") {
		return s
	}
	return "org:" + s
}

// roleName is the display name Clerk gives a role: "org:admin" is "Admin".
func roleName(role string) string {
	name := strings.TrimPrefix(role, "org:")
	if name == "" {
		return ""
	}
	return strings.ToUpper(name[:1]) + name[1:]
}
