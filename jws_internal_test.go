package clerkauth

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHeaderCacheKeepsOnlyVerifiedHeaders: headers that anyone can invent
// (valid-looking, random kids, or invalid) never enter the header cache,
// however many arrive; the header of a token that verified does.
func TestHeaderCacheKeepsOnlyVerifiedHeaders(t *testing.T) {
	a := fuzzAuth(t)
	for i := range 1000 {
		for _, h := range []string{
			fmt.Sprintf(`{"alg":"RS256","kid":"junk_%d","typ":"JWT"}`, i),
			fmt.Sprintf(`{"alg":"HS256","kid":"junk_%d"}`, i),
		} {
			_, err := a.VerifyToken(context.Background(), base64.RawURLEncoding.EncodeToString([]byte(h))+".e30.AAAA")
			require.Error(t, err)
		}
	}
	assert.Empty(t, a.headers.m, "junk headers were cached")

	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"ins_1","typ":"JWT"}`))
	payload := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"iss":"https://clerk.fuzz.test","sub":"user_1","exp":%d}`, 1767225600+60))
	sum := sha256.Sum256([]byte(header + "." + payload))
	sig, err := fuzzKey().Sign(rand.Reader, sum[:], crypto.SHA256)
	require.NoError(t, err)
	_, err = a.VerifyToken(context.Background(), header+"."+payload+"."+base64.RawURLEncoding.EncodeToString(sig))
	require.NoError(t, err)
	assert.Contains(t, a.headers.m, header, "the verified token's header is cached")
	assert.Len(t, a.headers.m, 1)
}

// TestHeaderCacheIsBounded: even headers that verified (several keys, a
// long-running process) never grow the cache past its bound.
func TestHeaderCacheIsBounded(t *testing.T) {
	var c headerCache
	for i := range 3 * maxCachedHeaders {
		c.remember(fmt.Sprint(i), validHeader{})
	}
	assert.Len(t, c.m, maxCachedHeaders)
	_, cached := c.header(jwsParts{header: fmt.Sprint(3*maxCachedHeaders - 1)})
	assert.True(t, cached, "the newest header is kept")
}
