// Command machine is a small API that accepts Clerk's machine tokens (API
// keys, M2M tokens, OAuth access tokens) besides session tokens, and a
// client that calls it with each kind.
//
//	go run ./examples/machine
//
// It needs no Clerk account: it starts a local token issuer and a local
// stand-in for Clerk's Backend API (the one clerktest offers tests), creates
// a token of each kind there, starts the API on a loopback port, calls it,
// prints what came back, and exits. The API's routes:
//
//	GET  /api/whoami     any accepted token: who is calling
//	POST /api/reports    needs the "reports:write" scope
//	GET  /internal/jobs  M2M tokens only (other services of yours)
//
// Against your own Clerk instance, the server part is the same with
// clerkauth.ConfigFromEnv() (CLERK_SECRET_KEY, CLERK_MACHINE_SECRET_KEY).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/internal/issuer"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// NewAPI is the server: every route protected, four token types accepted,
// a scope and a token type required where they matter.
func NewAPI(cfg clerkauth.Config, logger *slog.Logger) (http.Handler, error) {
	cfg.AcceptsToken = []clerkauth.TokenType{clerkauth.SessionToken, clerkauth.APIKey, clerkauth.M2MToken, clerkauth.OAuthToken}
	cfg.Logger = logger
	auth, err := clerkauth.New(cfg)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/whoami", func(w http.ResponseWriter, r *http.Request) {
		id, ok := clerkauth.IdentityFromContext(r.Context())
		if !ok { // only if the route becomes public
			http.Error(w, "not signed in", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"token_type": id.TokenType, "subject": id.Subject, "user_id": id.UserID, "org_id": id.OrgID,
			"machine_id": id.MachineID, "client_id": id.ClientID, "scopes": id.Scopes, "key_name": id.KeyName,
		})
	})
	mux.Handle("POST /api/reports", auth.Require(clerkauth.Scope("reports:write"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		id, _ := clerkauth.IdentityFromContext(r.Context()) // Require let only signed-in requests through
		fmt.Fprintf(w, `{"created_by":%q}`+"\n", id.Subject)
	})))
	mux.Handle("GET /internal/jobs", auth.Require(clerkauth.TokenTypes(clerkauth.M2MToken))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"jobs":["nightly-sync"]}`)
	})))
	return auth.Middleware(mux), nil
}

// call is one request of the client.
type call struct {
	who, method, path, token string
}

// run starts the local issuer, Backend API and API, calls the API with each
// kind of token, and writes one line per call to out.
func run(out io.Writer) error {
	iss, err := issuer.Start()
	if err != nil {
		return err
	}
	defer iss.Close()
	bapi := issuer.StartBackendAPI(iss)
	defer bapi.Close()

	cfg := iss.Config()
	cfg.APIURL, cfg.SecretKey, cfg.MachineSecretKey = bapi.URL+"/v1", bapi.SecretKey, bapi.MachineSecretKey
	api, err := NewAPI(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	base := "http://" + ln.Addr().String()

	// The tokens a real deployment gets from Clerk: an API key a user
	// created in your app, an M2M token your own service fetched with its
	// machine secret key (opaque, and the JWT format), an OAuth access token
	// a third-party app holds, and a user's session token.
	apiKey := bapi.CreateAPIKey("user_alice", "alice's CI", []string{"reports:write"}, nil, 0)
	readOnly := bapi.CreateAPIKey("org_acme", "acme read-only", []string{"reports:read"}, nil, 0)
	m2m := bapi.CreateM2MToken(bapi.MachineID, []string{"mch_reports_api"}, nil, time.Hour)
	m2mJWT, err := iss.M2MJWT(bapi.MachineID, []string{"mch_reports_api"}, time.Hour)
	if err != nil {
		return err
	}
	oauth := bapi.CreateOAuthToken("user_bob", "client_dashboards", []string{"profile", "reports:write"}, time.Hour)
	oauthJWT, err := iss.OAuthJWT("user_bob", "client_dashboards", []string{"profile"}, time.Hour)
	if err != nil {
		return err
	}
	session, err := iss.SessionToken("user_alice")
	if err != nil {
		return err
	}
	revoked := bapi.CreateAPIKey("user_alice", "leaked", []string{"reports:write"}, nil, 0)
	bapi.Revoke(revoked.ID)

	for _, c := range []call{
		{"API key", "GET", "/api/whoami", apiKey.Secret},
		{"API key", "POST", "/api/reports", apiKey.Secret},
		{"read-only org API key", "POST", "/api/reports", readOnly.Secret},
		{"M2M token", "GET", "/internal/jobs", m2m.Secret},
		{"M2M JWT", "GET", "/api/whoami", m2mJWT},
		{"OAuth token", "POST", "/api/reports", oauth.Secret},
		{"OAuth JWT", "GET", "/api/whoami", oauthJWT},
		{"session token", "GET", "/internal/jobs", session},
		{"revoked API key", "GET", "/api/whoami", revoked.Secret},
		{"no token", "GET", "/api/whoami", ""},
	} {
		status, body, err := do(base, c)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%-22s %-4s %-15s → %d %s\n", c.who, c.method, c.path, status, body)
	}
	return nil
}

func do(base string, c call) (int, string, error) {
	req, err := http.NewRequest(c.method, base+c.path, nil)
	if err != nil {
		return 0, "", err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, strings.TrimSpace(string(body)), err
}
