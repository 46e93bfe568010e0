package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRun runs the example end to end: each kind of token against the API,
// over loopback, with the answers docs/machine-tokens.md describes.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 10)
	for i, want := range []string{
		`→ 200 {"client_id":"","key_name":"alice's CI"`,
		`→ 200 {"created_by":"user_alice"}`,
		`→ 403 {"error":"forbidden","reason":"missing-scope"}`,
		`→ 200 {"jobs":["nightly-sync"]}`,
		`"token_type":"m2m_token"`,
		`→ 200 {"created_by":"user_bob"}`,
		`"subject":"user_bob","token_type":"oauth_token"`,
		`→ 401 {"error":"unauthenticated","reason":"token-type-mismatch"}`,
		`→ 401 {"error":"unauthenticated","reason":"token-invalid"}`,
		`→ 401 {"error":"unauthenticated","reason":"session-token-missing"}`,
	} {
		assert.Contains(t, lines[i], want)
	}
}
