package clerkauth

import (
	"net/http"
	"net/url"
)

// FrontendAPIProxyTo is FrontendAPIProxy forwarding to upstream (a fake
// Frontend API on loopback) instead of the one the publishable key names,
// as Clerk's fapiUrl option does; compiled only with the tests.
func FrontendAPIProxyTo(a *Auth, upstream string) (http.Handler, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	return a.frontendAPIProxy(u)
}

// FrontendAPIUpstream is the Frontend API URL the proxy forwards to for a
// publishable key's Frontend API host (Clerk's fapiUrlFromPublishableKey).
func FrontendAPIUpstream(frontendAPI string) string { return frontendAPIUpstream(frontendAPI) }
