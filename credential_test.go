package clerkauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/internal/fixture"
)

// verdict is what an entry point decided: the HTTP status and the reason
// code ("" when signed in).
type verdict struct {
	status int
	reason clerkauth.Reason
}

// middlewareVerdict sends token as "Authorization: Bearer …" (no header for
// "") to a protected route behind Middleware.
func middlewareVerdict(a *clerkauth.Auth, token string) verdict {
	r := httptest.NewRequest("GET", "/api/data", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	res := serve(a.Middleware(whoami), r)
	return verdict{res.status, clerkauth.Reason(res.header.Get("X-Clerk-Auth-Reason"))}
}

// errVerdict reads an entry point's error as the status and reason it
// stands for.
func errVerdict(t *testing.T, err error) verdict {
	t.Helper()
	if err == nil {
		return verdict{http.StatusOK, ""}
	}
	var e *clerkauth.Error
	require.True(t, errors.As(err, &e), "%T is not an *Error", err)
	return verdict{e.Status(), e.Reason}
}

// TestVerifyCredentialAgreesWithMiddleware: for every token type and every
// way it can fail, VerifyCredential and VerifyAuthorization decide what
// the Bearer path of Middleware decides, status and reason alike.
func TestVerifyCredentialAgreesWithMiddleware(t *testing.T) {
	all := newMachineFixture(t, nil)
	busyAuth, release := fixture.VerifierBusy(t)
	defer release()
	failingAuth, failingKey := fixture.BackendAPIFailing(t, 500)
	badSecretAuth, badSecretKey := fixture.BackendAPIFailing(t, 401)
	downAuth, downToken := fixture.KeysUnreachable(t)
	sessionsOnly := newMachineFixture(t, func(c *clerkauth.Config) { c.AcceptsToken = nil })
	keysOnly := newMachineFixture(t, func(c *clerkauth.Config) { c.AcceptsToken = []clerkauth.TokenType{clerkauth.APIKey} })

	revoked := all.bapi.CreateAPIKey("user_1", "old", nil, nil, 0)
	all.bapi.Revoke(revoked.ID)
	other := clerktest.NewIssuer(t)

	for _, tc := range []struct {
		name  string
		auth  *clerkauth.Auth
		token string
		want  verdict
	}{
		{"session token", all.auth, all.iss.MustSessionToken("user_1"), verdict{200, ""}},
		{"API key", all.auth, all.bapi.CreateAPIKey("user_1", "k", []string{"read"}, nil, 0).Secret, verdict{200, ""}},
		{"opaque M2M token", all.auth, all.bapi.CreateM2MToken(all.bapi.MachineID, nil, nil, time.Hour).Secret, verdict{200, ""}},
		{"JWT M2M token", all.auth, all.iss.MustM2MJWT("mch_1", nil, time.Hour), verdict{200, ""}},
		{"opaque OAuth token", all.auth, all.bapi.CreateOAuthToken("user_2", "client_1", nil, time.Hour).Secret, verdict{200, ""}},
		{"JWT OAuth token", all.auth, all.iss.MustOAuthJWT("user_3", "client_2", nil, time.Hour), verdict{200, ""}},

		{"no token", all.auth, "", verdict{401, clerkauth.ReasonSessionTokenMissing}},
		{"garbage", all.auth, "not-a-token", verdict{401, clerkauth.ReasonTokenInvalid}},
		{"oversized", all.auth, strings.Repeat("a", 16<<10+1), verdict{401, clerkauth.ReasonTokenInvalid}},
		{"expired session token", all.auth, all.iss.MustSessionToken("user_1", clerktest.WithExpiry(-time.Hour)), verdict{401, clerkauth.ReasonTokenExpired}},
		{"session token of another instance", all.auth, other.MustSessionToken("user_1", clerktest.WithKeyID(all.iss.KeyID())), verdict{401, clerkauth.ReasonTokenInvalidSignature}},
		{"session token with an unknown kid", all.auth, other.MustSessionToken("user_1"), verdict{401, clerkauth.ReasonJWKKidMismatch}},
		{"pending session", all.auth, all.iss.MustSessionToken("user_1", clerktest.WithPending()), verdict{401, clerkauth.ReasonSessionPending}},
		{"unknown API key", all.auth, "ak_unknown", verdict{401, clerkauth.ReasonTokenInvalid}},
		{"revoked API key", all.auth, revoked.Secret, verdict{401, clerkauth.ReasonTokenInvalid}},
		{"API key with a control character", all.auth, "ak_a\x01b", verdict{401, clerkauth.ReasonTokenInvalid}},
		{"expired M2M JWT", all.auth, all.iss.MustM2MJWT("mch_1", nil, -time.Minute), verdict{401, clerkauth.ReasonTokenExpired}},
		{"unknown OAuth token", all.auth, "oat_unknown", verdict{401, clerkauth.ReasonTokenInvalid}},

		{"API key where only sessions are accepted", sessionsOnly.auth, "ak_whatever", verdict{401, clerkauth.ReasonTokenTypeMismatch}},
		{"M2M JWT where only sessions are accepted", sessionsOnly.auth, all.iss.MustM2MJWT("mch_1", nil, time.Hour), verdict{401, clerkauth.ReasonTokenTypeMismatch}},
		{"session token where only API keys are accepted", keysOnly.auth, keysOnly.iss.MustSessionToken("user_1"), verdict{401, clerkauth.ReasonTokenTypeMismatch}},
		{"no token where only API keys are accepted", keysOnly.auth, "", verdict{401, clerkauth.ReasonTokenTypeMismatch}},

		{"keys unreachable", downAuth, downToken, verdict{503, clerkauth.ReasonJWKRemoteFailedToLoad}},
		{"Backend API failing", failingAuth, failingKey, verdict{503, clerkauth.ReasonUnexpectedError}},
		{"Backend API refusing our secret key", badSecretAuth, badSecretKey, verdict{503, clerkauth.ReasonSecretKeyInvalid}},
		{"machine verifier busy", busyAuth, "ak_a_new_key", verdict{503, clerkauth.ReasonMachineVerifierBusy}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, middlewareVerdict(tc.auth, tc.token), "Middleware")

			id, err := tc.auth.VerifyCredential(context.Background(), tc.token)
			assert.Equal(t, tc.want, errVerdict(t, err), "VerifyCredential")
			assert.Equal(t, err == nil, id != nil, "an identity exactly when there is no error")

			var header []string
			if tc.token != "" {
				header = []string{"Bearer " + tc.token}
			}
			_, err = tc.auth.VerifyAuthorization(context.Background(), header)
			assert.Equal(t, tc.want, errVerdict(t, err), "VerifyAuthorization")
		})
	}
}

// TestVerifyAuthorizationReadsTheHeaderAsMiddleware: the header rules
// (scheme, spacing, repetition) are Middleware's.
func TestVerifyAuthorizationReadsTheHeaderAsMiddleware(t *testing.T) {
	f := newMachineFixture(t, nil)
	token := f.iss.MustSessionToken("user_1")
	for _, tc := range []struct {
		name   string
		values []string
		want   verdict
	}{
		{"Bearer", []string{"Bearer " + token}, verdict{200, ""}},
		{"lower-case scheme, extra spaces", []string{"  bearer   " + token + " "}, verdict{200, ""}},
		{"empty Bearer token", []string{"Bearer "}, verdict{401, clerkauth.ReasonTokenInvalid}},
		{"the scheme alone", []string{"Bearer"}, verdict{401, clerkauth.ReasonTokenInvalid}},
		{"two values", []string{"Bearer " + token, "Bearer " + token}, verdict{401, clerkauth.ReasonTokenInvalid}},
		{"another scheme", []string{"Basic dXNlcjpwYXNz"}, verdict{401, clerkauth.ReasonSessionTokenMissing}},
		{"a tab after the scheme", []string{"Bearer\t" + token}, verdict{401, clerkauth.ReasonSessionTokenMissing}},
		{"no value", nil, verdict{401, clerkauth.ReasonSessionTokenMissing}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/data", nil)
			r.Header["Authorization"] = tc.values
			res := serve(f.auth.Middleware(whoami), r)
			assert.Equal(t, tc.want, verdict{res.status, clerkauth.Reason(res.header.Get("X-Clerk-Auth-Reason"))}, "Middleware")

			_, err := f.auth.VerifyAuthorization(context.Background(), tc.values)
			assert.Equal(t, tc.want, errVerdict(t, err), "VerifyAuthorization")
		})
	}
}

// TestAuthorizeAgreesWithRequire: a check decides the same outside HTTP
// as Require decides it, status and reason alike.
func TestAuthorizeAgreesWithRequire(t *testing.T) {
	f := newMachineFixture(t, nil)
	admin := f.iss.MustSessionToken("user_1", clerktest.WithOrg("org_1", "acme", "org:admin", "org:invoices:read"))
	key := f.bapi.CreateAPIKey("user_1", "k", []string{"read"}, nil, 0).Secret
	custom := clerkauth.Check{Reason: "not-on-sundays", Allow: func(*clerkauth.Identity) bool { return false }}

	for _, tc := range []struct {
		name   string
		token  string
		checks []clerkauth.Check
		want   verdict
	}{
		{"no checks", admin, nil, verdict{200, ""}},
		{"a role it has", admin, []clerkauth.Check{clerkauth.Role("admin")}, verdict{200, ""}},
		{"a role it lacks", admin, []clerkauth.Check{clerkauth.Role("member")}, verdict{403, clerkauth.ReasonMissingRole}},
		{"the first failed check answers", admin, []clerkauth.Check{clerkauth.Permission("org:invoices:read"), clerkauth.Feature("sso"), clerkauth.Role("member")}, verdict{403, clerkauth.ReasonMissingFeature}},
		{"a scope the key has", key, []clerkauth.Check{clerkauth.Scope("read")}, verdict{200, ""}},
		{"a scope the key lacks", key, []clerkauth.Check{clerkauth.Scope("write")}, verdict{403, clerkauth.ReasonMissingScope}},
		{"a session where only API keys may call", admin, []clerkauth.Check{clerkauth.TokenTypes(clerkauth.APIKey)}, verdict{401, clerkauth.ReasonTokenTypeMismatch}},
		{"an API key where API keys may call", key, []clerkauth.Check{clerkauth.TokenTypes(clerkauth.APIKey)}, verdict{200, ""}},
		{"reverification", admin, []clerkauth.Check{clerkauth.Reverification(clerkauth.Strict)}, verdict{403, clerkauth.ReasonReverificationError}},
		{"a custom check with a reason that is a 401 elsewhere", admin, []clerkauth.Check{{Reason: clerkauth.ReasonTokenExpired, Allow: custom.Allow}}, verdict{403, clerkauth.ReasonTokenExpired}},
		{"a custom check", admin, []clerkauth.Check{custom}, verdict{403, "not-on-sundays"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := bearer(httptest.NewRequest("GET", "/api/data", nil), tc.token)
			res := serve(f.auth.Middleware(f.auth.Require(tc.checks...)(whoami)), r)
			assert.Equal(t, tc.want, verdict{res.status, clerkauth.Reason(res.header.Get("X-Clerk-Auth-Reason"))}, "Require")

			id, err := f.auth.VerifyCredential(context.Background(), tc.token)
			require.NoError(t, err)
			assert.Equal(t, tc.want, errVerdict(t, id.Authorize(tc.checks...)), "Authorize")
		})
	}
	t.Run("no identity", func(t *testing.T) {
		var id *clerkauth.Identity
		assert.Equal(t, verdict{401, clerkauth.ReasonSessionTokenMissing}, errVerdict(t, id.Authorize()))
	})
	t.Run("a check without Allow fails closed", func(t *testing.T) {
		id := clerktest.Identity("user_1")
		assert.Equal(t, verdict{403, "x"}, errVerdict(t, id.Authorize(clerkauth.Check{Reason: "x"})))
	})
}

// TestErrorStatus: every reason code has the status Middleware answers it
// with; a code clerkauth does not know is a 401 (fail closed).
func TestErrorStatus(t *testing.T) {
	for reason, want := range map[clerkauth.Reason]int{
		clerkauth.ReasonSessionTokenMissing:   401,
		clerkauth.ReasonTokenExpired:          401,
		clerkauth.ReasonTokenTypeMismatch:     401,
		clerkauth.ReasonJWKRemoteFailedToLoad: 503,
		clerkauth.ReasonUnexpectedError:       503,
		clerkauth.ReasonSecretKeyInvalid:      503,
		clerkauth.ReasonMachineVerifierBusy:   503,
		clerkauth.ReasonMissingRole:           403,
		clerkauth.ReasonCrossOriginRequest:    403,
		"something-new":                       401,
	} {
		assert.Equal(t, want, (&clerkauth.Error{Reason: reason}).Status(), reason)
	}
}

// A credential that came without an http.Request (a websocket's first
// message, a queued job, a gRPC call): verify it, check it, and answer
// with the status and reason code, never with the error text.
func ExampleAuth_VerifyCredential() {
	tb := &fixture.ExampleTB{}
	defer tb.Close()
	iss := clerktest.NewIssuer(tb) // a local stand-in for your Clerk instance
	auth := iss.MustAuth(nil)

	refusal := func(err error) string {
		var e *clerkauth.Error
		errors.As(err, &e) // every error of VerifyCredential and Authorize is an *Error
		return fmt.Sprint(e.Status(), " ", e.Reason)
	}
	for _, token := range []string{
		iss.MustSessionToken("user_123", clerktest.WithOrg("org_1", "acme", "org:admin")),
		iss.MustSessionToken("user_456", clerktest.WithOrg("org_1", "acme", "org:member")),
		iss.MustSessionToken("user_789", clerktest.WithExpiry(-time.Hour)),
		"",
	} {
		id, err := auth.VerifyCredential(context.Background(), token)
		if err != nil {
			fmt.Println(refusal(err))
			continue
		}
		if err := id.Authorize(clerkauth.Role("org:admin")); err != nil {
			fmt.Println(id.UserID, refusal(err))
			continue
		}
		fmt.Println(id.UserID, "may")
	}
	// Output:
	// user_123 may
	// user_456 403 missing-role
	// 401 token-expired
	// 401 session-token-missing
}
