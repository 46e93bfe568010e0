// Package ginauth runs clerkauth's middleware in gin.
//
// [Middleware] and [Require] are clerkauth's own [clerkauth.Auth.Middleware]
// and [clerkauth.Auth.Require], called from a gin handler: the library
// decides every request and writes every refusal (handshake redirects,
// sign-in redirects, 401, 403 and 503 with X-Clerk-Auth-Reason, the cookies
// of a handshake), exactly as it does for net/http. This package adds no
// decision of its own, so a gin app and a net/http app with the same
// configuration answer the same request the same way.
//
// On a refusal the gin chain is aborted: no handler after the middleware
// runs. On success the chain continues with the identity in the request's
// context, where [clerkauth.IdentityFromContext] (or [Identity]) finds it:
//
//	r := gin.New()
//	r.Use(ginauth.Middleware(auth))
//	r.GET("/api/me", func(c *gin.Context) {
//		id, _ := ginauth.Identity(c)
//		c.JSON(200, gin.H{"user": id.UserID})
//	})
//	r.DELETE("/api/admin/purge", ginauth.Require(auth, clerkauth.Role("org:admin")), purge)
//
// Public routes are configured in clerkauth.Config (PublicRoutes or
// ProtectedRoutes), not in gin: the route policy reads the URL the way a
// router could, and protects any path it cannot read unambiguously.
package ginauth

import (
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/clerkauth/clerkauth"
)

// Middleware is auth.Middleware as a gin handler: it authenticates every
// request and enforces the route policy of auth's Config. A request the
// library answers (a refusal, a redirect, a handshake) is aborted; any
// other continues down the chain, signed in or, on a public route, not.
func Middleware(auth *clerkauth.Auth) gin.HandlerFunc {
	return adapt(auth.Middleware)
}

// Require is auth.Require(checks...) as a gin handler: the request must be
// signed in and pass every check, or it is answered as Require answers it
// (401 or a redirect for a signed-out request, 403 with the check's reason)
// and aborted. Put it on a route or a group:
//
//	admin := r.Group("/api/admin", ginauth.Require(auth, clerkauth.Role("org:admin")))
//
// Behind [Middleware] it reuses the middleware's result; without it, it
// authenticates the request itself. Like auth.Require, it panics when a
// check has no Allow function.
func Require(auth *clerkauth.Auth, checks ...clerkauth.Check) gin.HandlerFunc {
	return adapt(auth.Require(checks...))
}

// Identity returns the verified identity of the request, if it is signed
// in: clerkauth.IdentityFromContext on c.Request's context. It never
// panics.
func Identity(c *gin.Context) (*clerkauth.Identity, bool) {
	if c == nil || c.Request == nil {
		return nil, false
	}
	return clerkauth.IdentityFromContext(c.Request.Context())
}

// adapt turns a net/http middleware into a gin handler whose "next" is the
// rest of the gin chain. Whatever mw writes goes to c.Writer; when mw does
// not call next, the chain is aborted.
//
// The net/http chain (mw around a next that finds c) is built once per
// link and reused through a pool, rather than per request, so that the
// adapter allocates nothing on top of the library's own work.
func adapt(mw func(http.Handler) http.Handler) gin.HandlerFunc {
	var pool sync.Pool
	pool.New = func() any {
		l := &link{}
		l.h = mw(l)
		return l
	}
	return func(c *gin.Context) {
		l := pool.Get().(*link)
		l.c, l.passed = c, false
		l.h.ServeHTTP(c.Writer, c.Request)
		passed := l.passed
		l.c = nil // a pooled link keeps no request alive
		pool.Put(l)
		if !passed {
			c.Abort()
		}
	}
}

// link is one net/http chain, mw in front of the link itself, serving one
// gin request at a time.
type link struct {
	h      http.Handler
	c      *gin.Context
	passed bool
}

// ServeHTTP is mw's next: it hands the request, with the identity mw put
// into its context, back to gin and runs the rest of the chain.
func (l *link) ServeHTTP(_ http.ResponseWriter, r *http.Request) {
	l.passed = true
	l.c.Request = r
	l.c.Next()
}
