package clerkauth

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestJWTExpiry(t *testing.T) {
	enc := func(payload string) string {
		return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"
	}
	for _, c := range []struct {
		name  string
		token string
		exp   int64 // 0: zero time
		ok    bool
	}{
		{"exp", enc(`{"exp":1767225600,"aud":"convex"}`), 1767225600, true},
		{"no exp: not cached", enc(`{"aud":"convex"}`), 0, true},
		{"fractional exp: not cached", enc(`{"exp":1767225600.5}`), 0, true},
		{"negative exp: not cached", enc(`{"exp":-1}`), 0, true},
		{"exp as a string: not cached", enc(`{"exp":"soon"}`), 0, false},
		{"not JSON", enc(`exp`), 0, false},
		{"two parts", "a.b", 0, false},
		{"four parts", enc(`{"exp":1}`) + ".x", 0, false},
		{"empty signature", "a." + base64.RawURLEncoding.EncodeToString([]byte(`{"exp":1}`)) + ".", 0, false},
		{"payload not base64url", "a.!!!.c", 0, false},
		{"empty", "", 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			exp, ok := jwtExpiry(c.token)
			assert.Equal(t, c.ok, ok)
			if c.exp == 0 {
				assert.True(t, exp.IsZero())
			} else {
				assert.Equal(t, time.Unix(c.exp, 0), exp)
			}
		})
	}
}
