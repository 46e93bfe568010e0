package clerkauth

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAddressedPath: the path and query of the URLs built from a request
// are the request line's, as the URL Standard serializes them, whatever
// Go's EscapedPath would have re-escaped.
func TestAddressedPath(t *testing.T) {
	for raw, want := range map[string]string{
		"/plain":                "/plain",
		"/a|b/c'd":              "/a|b/c'd",
		"/orgs/a^b/x":           "/orgs/a^b/x",
		"/%7Cb/%7c":             "/%7Cb/%7c",
		"/caf%C3%A9":            "/caf%C3%A9",
		"/sp%20ace":             "/sp%20ace",
		"/q\"<>`{}":             "/q%22%3C%3E%60%7B%7D",
		"/caf\u00e9":            "/caf%C3%A9",
		"/a%2Fb":                "/a%2Fb",
		"/x;y=1,2@host:3!$&()*": "/x;y=1,2@host:3!$&()*",
	} {
		u := &url.URL{}
		p, err := url.PathUnescape(raw)
		if err != nil {
			p = raw
		}
		u.Path, u.RawPath = p, raw
		assert.Equal(t, want, addressedPath(u), raw)
	}
	u, err := url.Parse("https://h/a|b?x=1")
	require.NoError(t, err)
	u.Path, u.RawPath = "/other", "/a|b" // a handler changed Path: RawPath no longer says it
	assert.Equal(t, "/other", addressedPath(u))
	assert.Equal(t, "q=%27x%27|y%7e&a=%22%3C%3E%23", addressedQuery(`q='x'|y%7e&a="<>#`))
	assert.Equal(t, "%C3%A9%09", addressedQuery("é\t"))
}
