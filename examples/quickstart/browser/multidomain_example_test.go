package browser

import (
	"regexp"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMultidomainExampleInChromium runs examples/multidomain in local mode
// and follows its banner's steps in Chromium: the satellite's protected
// page sends a signed-out browser to the primary's sign-in; Ada's button
// signs in there and lands back on the satellite signed in, through its
// sync; a URL then activates an organization on the satellite.
func TestMultidomainExampleInChromium(t *testing.T) {
	chromium := findChromium(t)
	primary, satellite := startMultidomainExample(t)
	ctx := newBrowser(t, chromium)
	decisions := watchDecisions(t, ctx)
	text := func(id string) string { return run(t, ctx, chromedp.Text(chromedp.CSS("#"+id))) }

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(satellite+"/docs"),
		chromedp.WaitVisible(chromedp.CSS("#sign-in-user_ada")),
	))
	assert.Equal(t, primary+"/sign-in", run(t, ctx, chromedp.Evaluate[string](`location.origin + location.pathname`)))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#sign-in-user_ada")),
		chromedp.WaitVisible(chromedp.CSS("#docs")),
	))
	assert.Equal(t, satellite+"/docs", run(t, ctx, chromedp.Evaluate[string](`location.origin + location.pathname`)))
	assert.Equal(t, []string{"satellite", "signed-in", "user_ada"}, []string{text("site"), text("auth-status"), text("user")})
	assert.Contains(t, decisions(), "handshake satellite-needs-syncing")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(satellite+"/orgs/globex/"),
		chromedp.WaitVisible(chromedp.CSS("#active")),
	))
	assert.Equal(t, "globex", text("org"))
	screenshot(t, ctx, "multidomain-example.png")
}

// startMultidomainExample runs examples/multidomain in local mode on free
// ports; it returns the two origins from its banner.
func startMultidomainExample(t *testing.T) (primary, satellite string) {
	t.Helper()
	origins := startExample(t, "./examples/multidomain", []string{"PORT=0", "SATELLITE_PORT=0"},
		regexp.MustCompile(`^1\. Open (http://\S+)/ and`), regexp.MustCompile(`^2\. Open (http://\S+)/docs`))
	return origins[0], origins[1]
}
