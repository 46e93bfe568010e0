package issuer

import (
	"fmt"
	"net"
	"net/http"
	"time"
)

// Server is an HTTP server on loopback, as httptest.Server is. This
// package does not use httptest: since Go 1.27 it imports testing, which
// the binaries built on this package (the quickstart's local mode, the
// examples) must not link.
type Server struct {
	// URL is the server's base URL, "http://127.0.0.1:<port>".
	URL string

	srv    *http.Server
	client *http.Client
}

// startServer starts serving h on a loopback port. Like httptest, it
// panics when no port is free: nothing can be tested then.
func startServer(h http.Handler) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if ln, err = net.Listen("tcp6", "[::1]:0"); err != nil {
			panic(fmt.Sprintf("issuer: no loopback port to listen on: %v", err))
		}
	}
	s := &Server{
		URL:    "http://" + ln.Addr().String(),
		srv:    &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second},
		client: &http.Client{Transport: &http.Transport{}}, // no proxy from the environment: loopback only
	}
	go s.srv.Serve(ln) // returns http.ErrServerClosed at Close
	return s
}

// Client returns an HTTP client for the server (its connections are
// closed with the server).
func (s *Server) Client() *http.Client { return s.client }

// Close stops the server and closes its connections.
func (s *Server) Close() {
	s.srv.Close()
	s.client.CloseIdleConnections()
}
