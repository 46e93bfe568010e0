package clerkauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/clerkauth/clerkauth/internal/backendapi"
	"github.com/clerkauth/clerkauth/internal/budget"
	"github.com/clerkauth/clerkauth/internal/flight"
)

// Limits of the template-token cache.
const (
	maxTemplateTokenEntries = 10_000
	maxTemplateNameLength   = 256
	// templateTokenMargin is how long before its exp a cached token is
	// fetched again, so that a token handed out still has time to reach
	// the service it is for and be checked there.
	templateTokenMargin = 15 * time.Second
)

// templateTokenError is an error of TemplateToken with its own text that
// still matches the sentinel it stands for (errors.Is).
type templateTokenError struct {
	msg string
	is  error
}

func (e *templateTokenError) Error() string { return e.msg }
func (e *templateTokenError) Unwrap() error { return e.is }

var (
	errTemplateNoSecretKey = &templateTokenError{"clerkauth: TemplateToken needs the secret key to call the Backend API; set CLERK_SECRET_KEY (Dashboard → API keys)", ErrNoSecretKey}
	errTemplateNoSession   = &templateTokenError{"clerkauth: TemplateToken: the request is not signed in with a session (call it from a protected route; machine tokens and JWT-template tokens without sid have no session)", ErrNotSignedIn}
	errTemplateBudget      = errors.New("clerkauth: TemplateToken: the Backend API budget (BackendAPIRate, BackendAPIConcurrency) is spent; try again shortly")
)

// TemplateToken returns a token of the JWT template named template for
// the session in ctx (as put there by Middleware): what Clerk's
// getToken({ template }) returns in the browser, for a handler that calls
// Convex, Hasura, Supabase or your own service on the user's behalf. It
// asks the Backend API (POST /v1/sessions/{sid}/tokens/{template}) with
// the secret key.
//
// Tokens are cached per session, active organization and template until
// 15 seconds before their exp, concurrent calls for one share a single
// request, and every request goes through the Backend API budget (BackendAPIRate,
// BackendAPIConcurrency) and Hooks.BackendAPICall. The token is not
// verified here: it comes from the Backend API over the connection the
// secret key authenticates, and a template may be signed with a key of
// its own (Supabase's HS256 secret) that only its audience knows; its exp
// is read from the payload to bound the cache. Errors never carry the
// token.
//
// It returns an error matching ErrNoSecretKey without a secret key, and
// ErrNotSignedIn when ctx has no session (not signed in, or signed in by a
// machine token or a JWT-template token without a sid).
func (a *Auth) TemplateToken(ctx context.Context, template string) (string, error) {
	if a.templates == nil {
		return "", errTemplateNoSecretKey
	}
	id, ok := IdentityFromContext(ctx)
	if !ok || id.SessionID == "" || isMachineType(id.TokenType) {
		return "", errTemplateNoSession
	}
	if template == "" || len(template) > maxTemplateNameLength {
		return "", fmt.Errorf("clerkauth: TemplateToken: the template name must be 1 to %d bytes (the name shown in Dashboard → JWT templates)", maxTemplateNameLength)
	}
	return a.templates.get(ctx, templateKey{id.SessionID, id.OrgID, template})
}

type templateTokens struct {
	a       *Auth
	onJoin  func() // for tests: a caller joins a call in flight
	tokens  *flight.Cache[templateKey, string]
	fetches flight.Group[templateKey, string]
}

// templateKey names a cached token. The active organization is part of
// it: the Backend API mints for the session's active organization, so a
// switch must not be answered with the token of the one before.
type templateKey struct{ sid, org, template string }

func newTemplateTokens(a *Auth) *templateTokens {
	return &templateTokens{a: a, tokens: flight.NewCache[templateKey, string](maxTemplateTokenEntries)}
}

// get answers from the cache, or joins or starts the one call for k, run
// detached from any one caller's context (its values stay, for the hook),
// bounded by ClerkTimeout, so that a caller giving up does not fail the
// others.
func (c *templateTokens) get(ctx context.Context, k templateKey) (string, error) {
	if jwt, until, ok := c.tokens.Get(k); ok && c.a.now().Before(until) {
		return jwt, nil
	}
	call, joined := c.fetches.Start(ctx, k, func() flight.Func[string] {
		return func(reqCtx context.Context) (string, error) {
			jwt, exp, err := c.request(reqCtx, k)
			if now := c.a.now(); err == nil && now.Before(exp.Add(-templateTokenMargin)) {
				c.tokens.Put(k, jwt, exp.Add(-templateTokenMargin), now)
			}
			return jwt, err
		}
	})
	if joined && c.onJoin != nil {
		c.onJoin()
	}
	jwt, err := call.Wait(ctx)
	switch {
	case errors.Is(err, flight.ErrGaveUp):
		return "", ctx.Err()
	case err != nil && errors.As(err, new(*flight.PanicError)):
		return "", fmt.Errorf("clerkauth: TemplateToken: %w", err) // a hook panicked
	}
	return jwt, err
}

// request makes the Backend API call. The session is one a verified token
// named: Known work, which a flood of made-up tokens cannot starve.
func (c *templateTokens) request(reqCtx context.Context, k templateKey) (jwt string, exp time.Time, err error) {
	if !c.a.backendBudget.Acquire(budget.Known) {
		return "", time.Time{}, errTemplateBudget
	}
	defer c.a.backendBudget.Release()
	var out struct {
		Object string `json:"object"`
		JWT    string `json:"jwt"`
	}
	// As @clerk/backend 3.25.0's sessions.getToken(sid, template): a POST
	// without a body (escaped here, where Clerk joins the names as given).
	path := "/sessions/" + url.PathEscape(k.sid) + "/tokens/" + url.PathEscape(k.template)
	if err := c.a.backendAPI(reqCtx, http.MethodPost, path, "/v1/sessions/{sid}/tokens/{template}", nil, &out); err != nil {
		var be *backendapi.Error
		switch {
		case errors.As(err, &be) && be.Status == http.StatusNotFound:
			return "", time.Time{}, fmt.Errorf("clerkauth: TemplateToken: the Backend API answered 404 (%s): is there a JWT template named %q (Dashboard → JWT templates), and is the session still there?", be.Code, k.template)
		case errors.As(err, &be):
			return "", time.Time{}, fmt.Errorf("clerkauth: TemplateToken: the Backend API answered %d (%s); check CLERK_SECRET_KEY", be.Status, be.Code)
		case errors.As(err, new(*json.SyntaxError)), errors.As(err, new(*json.UnmarshalTypeError)):
			return "", time.Time{}, errors.New("clerkauth: TemplateToken: the Backend API's answer is not a token object")
		}
		return "", time.Time{}, fmt.Errorf("clerkauth: TemplateToken: %w", err) // a transport error: it names no token
	}
	exp, ok := jwtExpiry(out.JWT)
	if out.Object != "token" || !ok {
		return "", time.Time{}, errors.New("clerkauth: TemplateToken: the Backend API's answer is not a token object with a JWT")
	}
	return out.JWT, exp, nil
}

// jwtExpiry reads the exp of a compact JWS without checking its signature
// (see TemplateToken for why), in one pass over input the Backend API
// answer's size already bounds. A token without a usable exp is not
// cached: ok is true and exp zero.
func jwtExpiry(token string) (exp time.Time, ok bool) {
	header, rest, ok1 := strings.Cut(token, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || header == "" || payload == "" || sig == "" || strings.Contains(sig, ".") {
		return time.Time{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(raw, &claims) != nil {
		return time.Time{}, false
	}
	if n, err := claims.Exp.Int64(); err == nil && n > 0 {
		return time.Unix(n, 0), true
	}
	return time.Time{}, true
}
