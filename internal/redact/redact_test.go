package redact

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://clerk.example.com", "https://clerk.example.com"},
		{"https://app.example.com/__clerk", "https://app.example.com/__clerk"},
		{"/sign-in", "/sign-in"},
		{"clerk.example.com", "clerk.example.com"},
		{"", ""},
		{"https://app.example.com/@team/page", "https://app.example.com/@team/page"},
		{"https://user:secret@clerk.example.com/x", "https://user:xxxxx@clerk.example.com/x"},
		{"https://:secret@clerk.example.com", "https://:xxxxx@clerk.example.com"},
		{"https://secret@clerk.example.com", "https://xxxxx@clerk.example.com"},
		{"//user:secret@clerk.example.com", "//user:xxxxx@clerk.example.com"},
		// Strings net/url refuses or reads otherwise keep only their scheme.
		{"user:secret@clerk.example.com", "user:xxxxx"},
		{"https://user:secret", "https://xxxxx"},
		{"https://user:se%zzcret@clerk.example.com", "https://xxxxx"},
		{"https://us er:secret@clerk.example.com", "https://xxxxx"},
		{"clerk.example.com/user:secret@x", "xxxxx"},
		{"user:se cret", "user:xxxxx"},
		{"1user:secret@host", "xxxxx"},
		{"http://[::1:secret@host", "http://xxxxx"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got := URL(tt.in)
			assert.Equal(t, tt.want, got)
			assert.NotContains(t, got, "secret")
		})
	}
}
