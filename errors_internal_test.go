package clerkauth

import (
	"context"
	"encoding/base64"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func isKnownReason(code Reason) bool {
	_, ok := knownReason(code)
	return ok
}

// TestReadmeReasonTableMatchesCode: the README's table of reason codes
// lists exactly the codes of the reasons table, with the same status and
// the same "clerkauth's own" marker.
func TestReadmeReasonTableMatchesCode(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	section := string(readme)
	i := strings.Index(section, "### Reason codes")
	require.GreaterOrEqual(t, i, 0)
	section = section[i:]
	section = section[:strings.Index(section, "\n\n¹")]

	row := regexp.MustCompile(`(?m)^\| (.+?) \| .+ \| ([0-9 /]+) \|$`)
	code := regexp.MustCompile("`([a-z-]+)`( ¹)?")
	documented := map[string]reasonInfo{}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		status, err := strconv.Atoi(strings.Fields(m[2])[0])
		require.NoError(t, err, m[0])
		ours := strings.Contains(m[1], "¹")
		for _, c := range code.FindAllStringSubmatch(m[1], -1) {
			documented[c[1]] = reasonInfo{code: Reason(c[1]), status: status, ours: ours}
		}
	}
	require.NotEmpty(t, documented)
	for _, r := range reasons {
		d, ok := documented[string(r.code)]
		if assert.True(t, ok, "README's reason table lacks %s", r.code) {
			assert.Equal(t, r.status, d.status, "status of %s", r.code)
			assert.Equal(t, r.ours, d.ours, "the ¹ marker of %s", r.code)
		}
		delete(documented, string(r.code))
	}
	assert.Empty(t, documented, "README lists codes the package does not have")
}

// TestReasonsAreErrors: each Reason matches errors of its reason and no
// other, and cannot be changed by a caller (it is a constant).
func TestReasonsAreErrors(t *testing.T) {
	for _, r := range reasons {
		assert.ErrorIs(t, newError(r.code, "detail"), r.code)
		assert.ErrorIs(t, wrapError(r.code, "", errors.New("cause")), r.code)
		assert.Equal(t, r.code, reasonOf(r.code))
		for _, other := range reasons {
			if other.code != r.code {
				assert.False(t, errors.Is(newError(other.code, ""), r.code), "%s is not %s", other.code, r.code)
			}
		}
	}
}

// TestReasonNamesMatchTheirCodes: a constant's name is its code in
// camel case (ReasonJWKRemoteFailedToLoad is "jwk-remote-failed-to-load"),
// so that a reader who sees the code in a log finds the constant.
func TestReasonNamesMatchTheirCodes(t *testing.T) {
	for name, code := range constValues(t, "errors.go", "Reason") {
		assert.True(t, strings.EqualFold(strings.TrimPrefix(name, "Reason"), strings.ReplaceAll(code, "-", "")), "%s is %q", name, code)
	}
}

// constValues returns the string constants of file whose names start with
// prefix: the test reads the source, so it needs no list of its own.
func constValues(t *testing.T, file, prefix string) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	require.NoError(t, err)
	out := map[string]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && strings.HasPrefix(name.Name, prefix) && lit.Kind == token.STRING {
					out[name.Name], _ = strconv.Unquote(lit.Value)
				}
			}
		}
	}
	require.NotEmpty(t, out)
	return out
}

// TestEveryReasonConstantIsListed: a Reason constant added to errors.go
// without a row in the reasons table (and so without a prebuilt response
// and a README line) fails here.
func TestEveryReasonConstantIsListed(t *testing.T) {
	for name, code := range constValues(t, "errors.go", "Reason") {
		assert.True(t, isKnownReason(Reason(code)), "%s (%q) is not in the reasons table", name, code)
	}
}

// TestReadmeWebhookTableMatchesCode: every webhook reason constant is in
// the table of webhook answers (docs/webhooks.md, linked from the README).
func TestReadmeWebhookTableMatchesCode(t *testing.T) {
	readme, err := os.ReadFile("docs/webhooks.md")
	require.NoError(t, err)
	section := string(readme)
	section = section[strings.Index(section, "| Delivery | Answer |"):]
	section = section[:strings.Index(section, "\n\n")]
	for name, code := range constValues(t, "webhook.go", "WebhookReason") {
		assert.Contains(t, section, "`"+code+"`", "docs/webhooks.md's table lacks %s", name)
	}
}

// TestEveryClaimCheckDescribesItself: ExplainToken reports each claim
// check with the check's own description; none may lack one.
func TestEveryClaimCheckDescribesItself(t *testing.T) {
	id := &Identity{Issuer: "https://clerk.example.com", ExpiresAt: time.Unix(100, 0)}
	for _, c := range claimChecks {
		require.NotNil(t, c.describe, c.name)
		assert.NotEmpty(t, c.describe(id, time.Unix(40, 0)), c.name)
	}
	a := fuzzAuth(t)
	var names []string
	token := "eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://clerk.fuzz.test","sub":"user_1","exp":1}`)) + ".AAAA"
	for _, c := range a.ExplainToken(context.Background(), token) {
		names = append(names, c.Name)
	}
	for _, c := range claimChecks {
		assert.Contains(t, names, c.name, "ExplainToken runs every claim check")
	}
}
