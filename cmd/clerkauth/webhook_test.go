package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/internal/webhookmsg"
)

func runCLI(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, func(k string) string { return vars[k] }, &out, &errOut)
	return code, out.String(), errOut.String()
}

// arrivals records what clerkauth's own WebhookHandler delivered: the
// event type and the id of its object, per svix-id.
type arrivals struct {
	mu   sync.Mutex
	seen []string // "type id"
}

func (a *arrivals) add(typ, id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = append(a.seen, typ+" "+id)
	return nil
}

func (a *arrivals) all() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

// endpoint serves a WebhookHandler with every typed callback set.
func endpoint(t *testing.T, secret string) (*httptest.Server, *arrivals) {
	t.Helper()
	got := &arrivals{}
	wh, err := clerkauth.NewWebhookHandler(clerkauth.WebhookConfig{
		Secret: secret,
		Logger: slog.New(slog.DiscardHandler),
		Users: clerkauth.UserEventFuncs{
			Created: func(_ context.Context, e *clerkauth.UserEvent) error { return got.add(e.Type, e.User.ID) },
			Updated: func(_ context.Context, e *clerkauth.UserEvent) error { return got.add(e.Type, e.User.ID) },
			Deleted: func(_ context.Context, e *clerkauth.DeletedEvent) error { return got.add(e.Type, e.ID) },
		},
		Organizations: clerkauth.OrganizationEventFuncs{
			Created: func(_ context.Context, e *clerkauth.OrganizationEvent) error {
				return got.add(e.Type, e.Organization.ID)
			},
			Updated: func(_ context.Context, e *clerkauth.OrganizationEvent) error {
				return got.add(e.Type, e.Organization.ID)
			},
			Deleted: func(_ context.Context, e *clerkauth.DeletedEvent) error { return got.add(e.Type, e.ID) },
		},
		Memberships: clerkauth.MembershipEventFuncs{
			Created: func(_ context.Context, e *clerkauth.MembershipEvent) error { return got.add(e.Type, e.Membership.ID) },
			Updated: func(_ context.Context, e *clerkauth.MembershipEvent) error { return got.add(e.Type, e.Membership.ID) },
			Deleted: func(_ context.Context, e *clerkauth.MembershipEvent) error { return got.add(e.Type, e.Membership.ID) },
		},
		Invitations: clerkauth.InvitationEventFuncs{
			Created:  func(_ context.Context, e *clerkauth.InvitationEvent) error { return got.add(e.Type, e.Invitation.ID) },
			Accepted: func(_ context.Context, e *clerkauth.InvitationEvent) error { return got.add(e.Type, e.Invitation.ID) },
			Revoked:  func(_ context.Context, e *clerkauth.InvitationEvent) error { return got.add(e.Type, e.Invitation.ID) },
		},
		Events: func(_ context.Context, e *clerkauth.Event) error {
			var obj struct{ ID string }
			if err := json.Unmarshal(e.Data, &obj); err != nil {
				return err
			}
			return got.add(e.Type, obj.ID)
		},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(wh)
	t.Cleanup(srv.Close)
	return srv, got
}

// TestWebhookSend: every event type with sample data arrives at
// clerkauth's own WebhookHandler as its typed event, with the sample's
// object.
func TestWebhookSend(t *testing.T) {
	secret := clerktest.NewWebhookSecret()
	srv, got := endpoint(t, secret)
	env := map[string]string{clerkauth.EnvWebhookSecret: secret}
	var want []string
	for _, typ := range webhookmsg.SampleTypes() {
		t.Run(typ, func(t *testing.T) {
			code, out, errOut := runCLI(t, env, "webhook", "send", typ, srv.URL+"/api/webhooks/clerk")
			assert.Equal(t, 0, code, out+errOut)
			assert.Contains(t, out, "POST "+srv.URL+"/api/webhooks/clerk")
			assert.Contains(t, out, "200 OK")
			assert.NotContains(t, out+errOut, strings.TrimPrefix(secret, "whsec_"), "the secret is never printed")
			data, ok := webhookmsg.SampleData(typ, time.Now())
			require.True(t, ok)
			var obj struct{ ID string }
			require.NoError(t, json.Unmarshal(data, &obj))
			want = append(want, typ+" "+obj.ID)
		})
	}
	assert.Equal(t, want, got.all(), "each delivery arrived once, typed, with its object")
}

func TestWebhookSendData(t *testing.T) {
	secret := clerktest.NewWebhookSecret()
	srv, got := endpoint(t, secret)
	env := map[string]string{clerkauth.EnvWebhookSecret: secret}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}

	user := write("user.json", `{"id":"user_from_file","object":"user","email_addresses":[]}`)
	code, out, errOut := runCLI(t, env, "webhook", "send", "--data", user, "user.updated", srv.URL)
	require.Equal(t, 0, code, out+errOut)
	assert.Contains(t, out, "(data from "+user+")")

	// A whole event, as the Dashboard shows one: its data is sent. Flags
	// may also follow the arguments.
	event := write("event.json", `{"object":"event","type":"user.created","data":{"id":"user_from_event","object":"user"}}`)
	code, out, errOut = runCLI(t, env, "webhook", "send", "user.created", srv.URL, "--data", event)
	require.Equal(t, 0, code, out+errOut)

	// A type without sample data, with a file: delivered raw.
	email := write("email.json", `{"id":"ema_1","object":"email","slug":"verification_code"}`)
	code, out, errOut = runCLI(t, env, "webhook", "send", "--data", email, "email.created", srv.URL)
	require.Equal(t, 0, code, out+errOut)

	// One svix-id twice: the handler acknowledges the second unprocessed.
	for range 2 {
		code, out, errOut = runCLI(t, env, "webhook", "send", "--id", "msg_same", "user.deleted", srv.URL)
		require.Equal(t, 0, code, out+errOut)
	}
	assert.Equal(t, []string{"user.updated user_from_file", "user.created user_from_event", "email.created ema_1", "user.deleted user_29w83sxmDNGwOuEthce5gg56FcC"}, got.all())

	// A stale timestamp: the handler refuses it, and the answer says why.
	code, out, _ = runCLI(t, env, "webhook", "send", "--timestamp-offset", "-10m", "user.created", srv.URL)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "400 Bad Request")
	assert.Contains(t, out, clerkauth.WebhookReasonTimestampTooOld)
	assert.Contains(t, out, "did not acknowledge")
}

func TestWebhookSendErrors(t *testing.T) {
	secret := clerktest.NewWebhookSecret()
	env := map[string]string{clerkauth.EnvWebhookSecret: secret}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(notJSON, []byte(`{"id": "user_1",`), 0o600))
	const password = "pw-must-not-show"

	for _, tt := range []struct {
		name string
		vars map[string]string
		args []string
		code int
		want string
	}{
		{"no secret", nil, []string{"user.created", "http://localhost:1"}, 1, clerkauth.EnvWebhookSecret + " is not set"},
		{"malformed secret", map[string]string{clerkauth.EnvWebhookSecret: "whsec_QQ=="}, []string{"user.created", "http://localhost:1"}, 1, "too short"},
		{"data file not JSON", env, []string{"--data", notJSON, "user.created", closed.URL}, 1, "bad.json is not a JSON object"},
		{"data file missing", env, []string{"--data", filepath.Join(dir, "none.json"), "user.created", closed.URL}, 1, "no such file"},
		{"no sample data", env, []string{"email.created", closed.URL}, 1, `no sample data for "email.created": pass --data`},
		{"unreachable target", env, []string{"user.created", closed.URL}, 1, "cannot reach " + closed.URL},
		{"unreachable target with a password", env, []string{"user.created", strings.Replace(closed.URL, "://", "://user:"+password+"@", 1)}, 1, "cannot reach http://user:xxxxx@"},
		{"not an http URL", env, []string{"user.created", "ftp://user:" + password + "@example.com"}, 2, "must be an http or https URL"},
		{"one argument", env, []string{"user.created"}, 2, "want an event type and a URL"},
		{"unknown flag", env, []string{"--bogus", "user.created", closed.URL}, 2, "flag provided but not defined: -bogus"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.vars, append([]string{"webhook", "send"}, tt.args...)...)
			assert.Equal(t, tt.code, code, out+errOut)
			assert.Contains(t, errOut, tt.want)
			assert.NotContains(t, out+errOut, password)
			assert.NotContains(t, out+errOut, strings.TrimPrefix(secret, "whsec_"))
			if tt.code == 2 {
				assert.Contains(t, errOut, "clerkauth webhook send [flags] <event-type> <url>", "usage errors show the usage")
			}
		})
	}

	code, out, _ := runCLI(t, nil, "webhook", "send", "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "user.created")
	code, _, errOut := runCLI(t, nil, "webhook")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `the command is "webhook send"`)
}
