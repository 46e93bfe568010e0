package testutil

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
)

// HostBrowser plays a browser's page loads across host names on loopback
// (primary.localhost and satellite.localhost, say): it dials every host at
// 127.0.0.1, keeping the port, keeps cookies per host as a browser does
// (two ports of one host would share them, and prove nothing about a
// satellite), and follows redirects, recording each hop and the reason of
// each handshake the middleware answered with.
type HostBrowser struct {
	Client *http.Client
	Jar    *cookiejar.Jar

	mu            sync.Mutex
	hops, reasons []string
}

// maxHops bounds the redirects of one load, as a browser gives up on a
// redirect loop.
const maxHops = 15

// NewHostBrowser returns a HostBrowser with an empty cookie jar.
func NewHostBrowser() *HostBrowser {
	jar, _ := cookiejar.New(nil) // never fails without options
	b := &HostBrowser{Jar: jar}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+port)
	}
	b.Client = &http.Client{Jar: jar, Transport: &http.Transport{DialContext: dial}, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		b.mu.Lock()
		b.hops = append(b.hops, req.URL.Hostname()+req.URL.Path)
		if req.Response.Header.Get("X-Clerk-Auth-Status") == "handshake" {
			b.reasons = append(b.reasons, req.Response.Header.Get("X-Clerk-Auth-Reason"))
		}
		b.mu.Unlock()
		if len(via) > maxHops {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

// Load makes a page load: a GET (form nil) or a form's POST, with
// Sec-Fetch-Dest: document, which Go's client copies to every redirect, as
// a browser sends it on each hop of a navigation. It forgets the hops and
// reasons of earlier loads, and returns the last response, its body read.
func (b *HostBrowser) Load(method, u string, form url.Values) (*http.Response, []byte, error) {
	b.mu.Lock()
	b.hops, b.reasons = nil, nil
	b.mu.Unlock()
	req, err := http.NewRequest(method, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Sec-Fetch-Dest", "document")
	res, err := b.Client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res, body, err
}

// Hops returns the redirects' targets since the last Load began, each as
// host and path ("primary.localhost/sign-in").
func (b *HostBrowser) Hops() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.hops...)
}

// Reasons returns the X-Clerk-Auth-Reason of each handshake redirect since
// the last Load began.
func (b *HostBrowser) Reasons() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.reasons...)
}

// Cookie returns the value of the cookie name the browser would send to
// origin, or "".
func (b *HostBrowser) Cookie(origin, name string) string {
	u, err := url.Parse(origin)
	if err != nil {
		return ""
	}
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// Close closes the browser's idle connections.
func (b *HostBrowser) Close() { b.Client.CloseIdleConnections() }
