package clerkauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// Hosts serves several Clerk instances from one server, one per request
// host: a SaaS whose customers each have their own Clerk instance on their
// own domain. Build it with [NewHosts]; each host has its own [Auth], with
// its own key cache, Backend API budget and route policy.
//
// The host is the one the browser addressed, read as [Auth] reads it
// everywhere (Host, or X-Forwarded-Host from a trusted proxy; see
// Config.TrustedProxies), lower-cased, and looked up exactly: a host not
// in the table is answered 421 Misdirected Request with
// {"error":"misdirected","reason":"unknown-host"} and never falls back to
// another instance. A handler that picks the tenant's data must pick it by
// the same host: read it with [Hosts.Host], never from r.Host or the
// Host header, which a trusted proxy's X-Forwarded-Host overrides.
type Hosts struct {
	auths map[string]*Auth
	// reader reads the host of every request: all the instances trust the
	// same proxies (NewHosts checks), so any of them reads it the same way.
	reader  *Auth
	refusal []byte // the 421's body, built once
}

// NewHosts builds a Hosts from a table of host → Config, validating each
// Config with [New] (an error names the host). A host is a name or an IP
// address, with a port only where the browser's URL has one
// ("localhost:3000", "[::1]:8080"); it is lower-cased and must match the
// addressed host exactly, port included. There are no wildcards and no
// default: list every host, "www." and apex alike. A trailing dot
// ("a.example.com.") is refused here and so never matches a request.
// One instance on two hosts is two entries, and two Auths, each with its
// own caches.
//
// Every Config must list the same TrustedProxies: the host decides the
// instance, so it must be read before any instance is chosen, and two
// answers to "who may say which host this is" would let a client of one
// choose the other's rules.
func NewHosts(instances map[string]Config) (*Hosts, error) {
	if len(instances) == 0 {
		return nil, errors.New("clerkauth: NewHosts needs at least one host → Config")
	}
	h := &Hosts{auths: make(map[string]*Auth, len(instances)), refusal: jsonBody("misdirected", string(ReasonUnknownHost))}
	given := make(map[string]string, len(instances)) // normalized → as given
	names := make([]string, 0, len(instances))
	for name := range instances {
		names = append(names, name)
	}
	slices.Sort(names) // deterministic errors and reader
	var proxies []netip.Prefix
	var first string // the host whose Auth is the reader
	for _, name := range names {
		key, err := normalizeHost(name)
		if err != nil {
			return nil, err
		}
		if prev, dup := given[key]; dup {
			return nil, fmt.Errorf("clerkauth: NewHosts lists %q and %q, which are the same host; keep one", prev, name)
		}
		given[key] = name
		a, err := New(instances[name])
		if err != nil {
			return nil, fmt.Errorf("clerkauth: NewHosts: host %q: %w", name, err)
		}
		p := slices.Clone(a.trustedProxies)
		slices.SortFunc(p, func(x, y netip.Prefix) int { return strings.Compare(x.String(), y.String()) })
		p = slices.Compact(p)
		if h.reader == nil {
			h.reader, proxies, first = a, p, name
		} else if !slices.Equal(p, proxies) {
			return nil, fmt.Errorf("clerkauth: NewHosts: host %q lists other TrustedProxies than host %q; the proxy in front names the host before an instance is chosen, so give every Config the same TrustedProxies", name, first)
		}
		h.auths[key] = a
	}
	return h, nil
}

// normalizeHost checks a table key and lower-cases it.
func normalizeHost(name string) (string, error) {
	switch {
	case name == "":
		return "", fmt.Errorf("clerkauth: NewHosts lists an empty host; name each host, e.g. \"app.example.com\"")
	case strings.Contains(name, "*"):
		return "", fmt.Errorf("clerkauth: NewHosts lists %q: wildcards are not supported; list every host", name)
	case !validAuthority(name):
		return "", fmt.Errorf("clerkauth: NewHosts lists %q, which is not a host[:port] (no scheme, path or user info), e.g. \"app.example.com\" or \"localhost:3000\"", name)
	}
	host := name
	if i := strings.LastIndexByte(name, ':'); i >= 0 && !strings.HasSuffix(name, "]") {
		host = name[:i]
	}
	if strings.HasSuffix(host, ".") {
		return "", fmt.Errorf("clerkauth: NewHosts lists %q, with a trailing dot; list it without (a request for the dotted name is refused)", name)
	}
	return strings.ToLower(name), nil
}

// For returns the Auth of the request's host, and its table key, or false
// for a host not in the table.
func (h *Hosts) For(r *http.Request) (*Auth, bool) {
	a, _, ok := h.choose(r)
	return a, ok
}

func (h *Hosts) choose(r *http.Request) (*Auth, string, bool) {
	// strings.ToLower returns its argument, unallocated, when nothing is
	// upper-case: the common case costs a map lookup.
	host := strings.ToLower(hostOf(h.reader, r))
	a, ok := h.auths[host]
	return a, host, ok
}

// hostOf is the request's addressed host, as a reads it.
func hostOf(a *Auth, r *http.Request) string {
	_, host := a.addressedOrigin(r)
	return host
}

// Middleware is [Auth.Middleware] of the request's host: its route policy,
// its keys, its sign-in page. A host not in the table is refused (421).
// The handler finds the host in the context ([Hosts.Host]).
func (h *Hosts) Middleware(next http.Handler) http.Handler {
	return h.dispatch(func(a *Auth, host string) http.Handler {
		return a.Middleware(withHost(host, next))
	})
}

// Require is [Auth.Require] of the request's host: the request must be
// signed in to that host's instance and pass every check. Behind
// [Hosts.Middleware] it reuses its result. A host not in the table is
// refused (421). It panics as Auth.Require does, for any host's Config.
func (h *Hosts) Require(checks ...Check) func(http.Handler) http.Handler {
	guards := make(map[string]func(http.Handler) http.Handler, len(h.auths))
	for host, a := range h.auths {
		guards[host] = a.Require(checks...)
	}
	return func(next http.Handler) http.Handler {
		return h.dispatch(func(_ *Auth, host string) http.Handler {
			return guards[host](withHost(host, next))
		})
	}
}

// dispatch builds one handler per host, once, and sends each request to
// its host's.
func (h *Hosts) dispatch(build func(a *Auth, host string) http.Handler) http.Handler {
	handlers := make(map[string]http.Handler, len(h.auths))
	for host, a := range h.auths {
		handlers[host] = build(a, host)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, host, ok := h.choose(r)
		if prev := h.Host(r.Context()); !ok || (prev != "" && prev != host) {
			// Unknown, or not the host an outer Hosts handler chose (a
			// handler in between rewrote it): that one's identity must
			// not reach this one's instance.
			h.refuse(w, r)
			return
		}
		handlers[host].ServeHTTP(w, r)
	})
}

// refuse answers a request for a host not in the table: 421, as RFC 9110
// §15.5.20 has a server answer a request it is not configured for. No
// instance's RefusalHandler is asked: none of them owns the request.
func (h *Hosts) refuse(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Clerk-Auth-Reason", string(ReasonUnknownHost))
	h.reader.logRefusal(r, http.StatusMisdirectedRequest, ReasonUnknownHost) // the first host's Logger
	writeBody(w, http.StatusMisdirectedRequest, h.refusal)
}

type hostKeyType struct{}

// hostCtxKey is the context key of the chosen host.
var hostCtxKey = &hostKeyType{}

// withHost records the host Hosts chose before next runs.
func withHost(host string, next http.Handler) http.Handler {
	value := &host // a pointer in the context: no allocation per request
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hostFrom(r.Context()) == host {
			next.ServeHTTP(w, r) // Require behind Middleware: already there
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), hostCtxKey, value)))
	})
}

// Host returns the host (a key of NewHosts' table, lower-cased)
// whose instance [Hosts.Middleware] or [Hosts.Require] chose for this
// request, or "" outside them. Pick the tenant's data by it. It reads only
// ctx (any *Hosts, nil included, answers the same).
func (h *Hosts) Host(ctx context.Context) string { return hostFrom(ctx) }

func hostFrom(ctx context.Context) string {
	if host, ok := ctx.Value(hostCtxKey).(*string); ok {
		return *host
	}
	return ""
}
