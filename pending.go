package clerkauth

import (
	"net/http"
	"net/url"
	"strings"
)

// Pending sessions.
//
// A session with pending tasks (sts "pending": the user must still choose
// an organization, say) is signed out by default, as Clerk's
// treatPendingAsSignedOut has it: no route sees its Identity. A route
// that lets the user finish those tasks opts in with AllowPending, and
// only that route's Require admits it. Everything else stays fail-closed
// because the pending Identity travels inside the session-pending *Error,
// in an unexported field, and only Require with AllowPending takes it
// out; IdentityFromContext never returns it elsewhere.

// pendingSession is the verified Identity of a pending session, kept in
// the session-pending *Error for AllowPending.
type pendingSession struct {
	id     *Identity
	bearer bool // from the Authorization header: no ambient authority to forge
}

// pendingError is the session-pending refusal, carrying the identity.
// The credential counts as a cookie (so the cross-site check applies)
// unless fromBearer says otherwise: fail closed.
func pendingError(id *Identity) *Error {
	e := newError(ReasonSessionPending, "the session is pending (sts)")
	e.pending = &pendingSession{id: id}
	return e
}

// fromBearer marks a pending session as presented in the Authorization
// header.
func fromBearer(err error) error {
	if e, ok := err.(*Error); ok && e.pending != nil {
		c := *e
		c.pending = &pendingSession{id: e.pending.id, bearer: true}
		return &c
	}
	return err
}

// allowsPending reports whether checks contain AllowPending.
func allowsPending(checks []Check) bool {
	for _, c := range checks {
		if c.allowPending {
			return true
		}
	}
	return false
}

// admitPending is Require's answer for a pending session on a route that
// allows it: its identity, or false when the request was answered (a
// cross-site request riding the cookie).
func (a *Auth) admitPending(w http.ResponseWriter, r *http.Request, p *pendingSession) (*Identity, bool) {
	if !p.bearer && a.crossOrigin(r) {
		a.forbid(w, r, Check{Reason: ReasonCrossOriginRequest})
		return nil, false
	}
	return p.id, true
}

// pendingTarget is where a browser signed out for why goes: a pending
// session to the page's tasks (when there are), anyone else to the page.
func pendingTarget(why *Error, page, tasks *url.URL) *url.URL {
	if why != nil && why.Reason == ReasonSessionPending && tasks != nil {
		// Signed in, with tasks left: @clerk/backend's createRedirect
		// sends the browser to the page's tasks.
		return tasks
	}
	return page
}

// tasksPage is where a pending session goes instead of page (the sign-in
// or sign-up page): <page>/tasks, as @clerk/backend's createRedirect
// builds it, where Clerk's components show the tasks. Nil (page itself is
// used) when there is no page, or when the tasks page is on this server
// and protected, which would send pending sessions round in a loop.
func (a *Auth) tasksPage(page *url.URL) *url.URL {
	if page == nil {
		return nil
	}
	u := *page
	u.Path = strings.TrimSuffix(u.Path, "/") + "/tasks"
	u.RawPath = ""
	if u.Host == "" && a.routes.protectsPath(u.EscapedPath()) {
		return nil
	}
	return &u
}
