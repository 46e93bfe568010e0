// Command loadtarget serves the same trivial handler four ways on
// loopback, for scripts/loadtest.sh: unprotected (/plain), behind
// clerkauth (/clerkauth, and /clerkauth-cold with the token cache off) and
// behind clerk-sdk-go v2's WithHeaderAuthorization (/clerksdk). Both
// middlewares verify the same RS256 token with the same key; clerk-sdk-go
// gets it from a fake Backend API on loopback, clerkauth from an
// in-process JWKS, and both cache it after the first request.
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	clerkhttp "github.com/clerk/clerk-sdk-go/v2/http"
	"github.com/clerk/clerk-sdk-go/v2/jwks"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/clerkauth/clerkauth"
)

const issuer = "https://clerk.loadtest.test"

func main() {
	addr := flag.String("addr", "127.0.0.1:18181", "listen address (loopback)")
	tokenFile := flag.String("token-file", "", "write the bearer token here once listening")
	flag.Parse()

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		log.Fatal(err)
	}
	kid := fmt.Sprintf("ins_load_%d", time.Now().UnixNano())
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"}}})
	token := sign(key, kid)

	// The fake Backend API for clerk-sdk-go.
	api, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(api, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(set) }))
	sdkJWKS := jwks.NewClient(&clerk.ClientConfig{BackendConfig: clerk.BackendConfig{
		URL: clerk.String("http://" + api.Addr().String() + "/v1"), Key: clerk.String("sk_test_load"),
	}})

	inProcess := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: io.NopCloser(bytes.NewReader(set)), Header: http.Header{}, Request: r}, nil
	})}
	newAuth := func(cache bool) *clerkauth.Auth {
		a, err := clerkauth.New(clerkauth.Config{IssuerDomain: issuer, HTTPClient: inProcess, TokenCacheSize: map[bool]int{true: 0, false: -1}[cache], Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			log.Fatal(err)
		}
		return a
	}

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux := http.NewServeMux()
	mux.Handle("/plain", hello)
	mux.Handle("/clerkauth", newAuth(true).Middleware(hello))
	mux.Handle("/clerkauth-cold", newAuth(false).Middleware(hello))
	mux.Handle("/clerksdk", clerkhttp.RequireHeaderAuthorization(clerkhttp.JWKSClient(sdkJWKS))(hello))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if *tokenFile != "" {
		if err := os.WriteFile(*tokenFile, []byte(token), 0o600); err != nil {
			log.Fatal(err)
		}
	}
	log.Fatal(http.Serve(ln, mux))
}

func sign(key *rsa.PrivateKey, kid string) string {
	now := time.Now().Unix()
	payload, _ := json.Marshal(map[string]any{
		"iss": issuer, "sub": "user_load", "sid": "sess_load", "azp": "https://app.example.com",
		"iat": now, "nbf": now - 10, "exp": now + 3600, "v": 2, "sts": "active",
		"fea": "o:invoices", "o": map[string]any{"id": "org_load", "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "3"},
	})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		log.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		log.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		log.Fatal(err)
	}
	return s
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
