package clerkauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/user"

	"github.com/clerkauth/clerkauth/internal/budget"
	"github.com/clerkauth/clerkauth/internal/flight"
	"github.com/clerkauth/clerkauth/internal/redact"
)

// Limits of the CurrentUser cache (its TTL default is in config.go).
const (
	maxUserCacheEntries  = 10_000
	maxUserResponseBytes = 1 << 20
)

// Errors returned by CurrentUser.
var (
	ErrNoSecretKey = errors.New("clerkauth: CurrentUser needs the secret key to call the Backend API; set CLERK_SECRET_KEY (Dashboard → API keys)")
	ErrNotSignedIn = errors.New("clerkauth: CurrentUser: the request is not signed in (call it from a protected route, or check IdentityFromContext first)")
	// ErrUserNotFound: the Backend API does not know the signed-in user
	// (deleted since the token was issued).
	ErrUserNotFound = errors.New("clerkauth: CurrentUser: the Backend API has no such user")
)

var errUserBudget = errors.New("clerkauth: CurrentUser: the Backend API budget (BackendAPIRate, BackendAPIConcurrency) is spent; try again shortly")

// CurrentUser returns the full Clerk user of the identity in ctx (as put
// there by Middleware), fetched from the Backend API with the secret key
// through clerk-sdk-go's user client.
//
// Results are cached per user for 30s (Config.UserCacheTTL), and
// concurrent calls for one user share a single request. The returned user
// may be shared between callers: treat it as read-only.
func (a *Auth) CurrentUser(ctx context.Context) (*clerk.User, error) {
	if a.users == nil {
		return nil, ErrNoSecretKey
	}
	id, ok := IdentityFromContext(ctx)
	if !ok || id.UserID == "" {
		return nil, ErrNotSignedIn
	}
	return a.users.get(ctx, id.UserID)
}

// userCache is CurrentUser's: its own policy is a time to live per user.
type userCache struct {
	client  *user.Client
	ttl     time.Duration // negative: no caching
	timeout time.Duration // one Backend API call
	now     func() time.Time
	limit   *budget.Limiter
	hooks   *Hooks

	users   *flight.Cache[string, *clerk.User]
	fetches flight.Group[string, *clerk.User]
}

func newUserCache(a *Auth) *userCache {
	return &userCache{
		client: user.NewClient(&clerk.ClientConfig{BackendConfig: clerk.BackendConfig{
			HTTPClient: limitedClient(a.cfg.HTTPClient, maxUserResponseBytes),
			URL:        clerk.String(a.cfg.APIURL),
			Key:        clerk.String(a.cfg.SecretKey),
		}}),
		ttl: a.cfg.UserCacheTTL, timeout: a.cfg.ClerkTimeout, now: a.now, limit: a.backendBudget, hooks: &a.cfg.Hooks,
		users: flight.NewCache[string, *clerk.User](maxUserCacheEntries),
	}
}

// get returns the cached user, or fetches it: concurrent callers for one
// user share the call, which runs detached from any one caller's context
// (bounded by ClerkTimeout), so that a caller giving up does not fail
// the others.
func (c *userCache) get(ctx context.Context, userID string) (*clerk.User, error) {
	if u, until, ok := c.users.Get(userID); ok && c.now().Before(until) {
		return u, nil
	}
	u, err := c.fetches.Do(ctx, userID, func(reqCtx context.Context) (*clerk.User, error) {
		u, err := c.request(reqCtx, userID)
		if err == nil && c.ttl > 0 {
			now := c.now()
			c.users.Put(userID, u, now.Add(c.ttl), now)
		}
		return u, err
	})
	switch {
	case errors.Is(err, flight.ErrGaveUp):
		return nil, ctx.Err()
	case err != nil && errors.As(err, new(*flight.PanicError)):
		return nil, fmt.Errorf("clerkauth: CurrentUser: %w", err) // a hook panicked
	}
	return u, err
}

// request makes the Backend API call. The user signed in with a verified
// token: it is Known work, which a flood of made-up tokens or nonces
// cannot starve.
func (c *userCache) request(reqCtx context.Context, userID string) (*clerk.User, error) {
	if !c.limit.Acquire(budget.Known) {
		return nil, errUserBudget
	}
	defer c.limit.Release()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	start := time.Now()
	u, err := c.client.Get(ctx, userID)
	var apiErr *clerk.APIErrorResponse
	if c.hooks.BackendAPICall != nil {
		status := 0
		switch {
		case err == nil:
			status = http.StatusOK
		case errors.As(err, &apiErr):
			status = apiErr.HTTPStatusCode
		}
		c.hooks.reportBackendCall(reqCtx, start, http.MethodGet, "/v1/users/{id}", status)
	}
	switch {
	case err == nil:
		return u, nil
	case errors.As(err, &apiErr) && apiErr.HTTPStatusCode == http.StatusNotFound:
		return nil, ErrUserNotFound
	case errors.As(err, &apiErr):
		return nil, fmt.Errorf("clerkauth: CurrentUser: Backend API answered %d (check CLERK_SECRET_KEY)", apiErr.HTTPStatusCode)
	default:
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = redact.URL(ue.URL) // net/http masks a password, not a lone user name
		}
		return nil, fmt.Errorf("clerkauth: CurrentUser: %w", err)
	}
}
