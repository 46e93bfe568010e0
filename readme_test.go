package clerkauth_test

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
)

// The Go blocks of README.md and docs/*.md are code users copy: this file
// compiles every one of them, offline, so that a renamed function or a
// changed signature breaks a test instead of a reader's build. The
// conventions (CONTRIBUTING.md, "Docs"):
//
//   - a block that starts with "package" is a complete file;
//   - a block of declarations is a file of its page's package;
//   - any other block is statements, compiled as the body of a function with
//     snippetParams in scope;
//   - imports are added for the package names a block uses (docImports);
//   - `<!-- go-prelude [module] … -->` declares the names a page's blocks use
//     without declaring them (a handler, a template);
//   - `<!-- compile-in: module -->` before a block compiles it inside that
//     companion module, whose go.mod has its dependencies;
//   - `<!-- no-compile: why -->` before a block leaves it out.

// snippetParams are in scope in every block of statements.
const snippetParams = "auth *clerkauth.Auth, cfg clerkauth.Config, mux *http.ServeMux, w http.ResponseWriter, r *http.Request, ctx context.Context, db *sql.DB, t *testing.T"

// docImports maps the package names the docs use to their import paths.
var docImports = map[string]string{
	"clerkauth":     "github.com/clerkauth/clerkauth",
	"clerktest":     "github.com/clerkauth/clerkauth/clerktest",
	"sqldedup":      "github.com/clerkauth/clerkauth/sqldedup",
	"clerk":         "github.com/clerk/clerk-sdk-go/v2",
	"ginauth":       "github.com/clerkauth/clerkauth/ginauth",
	"grpcauth":      "github.com/clerkauth/clerkauth/grpcauth",
	"connectauth":   "github.com/clerkauth/clerkauth/connectauth",
	"otelclerkauth": "github.com/clerkauth/clerkauth/otelclerkauth",
	"gin":           "github.com/gin-gonic/gin",
	"grpc":          "google.golang.org/grpc",
	"connect":       "connectrpc.com/connect",
	"cors":          "github.com/rs/cors",
	"context":       "context",
	"sql":           "database/sql",
	"errors":        "errors",
	"fmt":           "fmt",
	"http":          "net/http",
	"httptest":      "net/http/httptest",
	"json":          "encoding/json",
	"log":           "log",
	"slog":          "log/slog",
	"os":            "os",
	"strings":       "strings",
	"template":      "html/template",
	"testing":       "testing",
	"time":          "time",
}

// docBlock is one ```go block of a Markdown file.
type docBlock struct {
	file     string // path relative to the repository
	line     int    // line of the block's first line of code
	code     string
	module   string // "" for the root module, else a folder (compile-in)
	prelude  bool
	skipWhy  string // no-compile
	complete bool   // starts with "package"
}

var (
	compileInRe = regexp.MustCompile(`^<!-- compile-in: ([A-Za-z0-9_./-]+) -->$`)
	noCompileRe = regexp.MustCompile(`^<!-- no-compile: (.+) -->$`)
	preludeRe   = regexp.MustCompile(`^<!-- go-prelude ?([A-Za-z0-9_./-]*)$`)
)

// docBlocks returns the Go blocks and preludes of a Markdown file.
func docBlocks(t *testing.T, file string) []docBlock {
	t.Helper()
	text, err := os.ReadFile(file)
	require.NoError(t, err)
	lines := strings.Split(string(text), "\n")
	var blocks []docBlock
	module, skip := "", ""
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if m := compileInRe.FindStringSubmatch(l); m != nil {
			module = m[1]
			continue
		}
		if m := noCompileRe.FindStringSubmatch(l); m != nil {
			skip = m[1]
			continue
		}
		var b docBlock
		switch m := preludeRe.FindStringSubmatch(l); {
		case m != nil:
			b = docBlock{file: file, line: i + 2, module: m[1], prelude: true}
			end := "-->"
			j := i + 1
			for ; j < len(lines) && lines[j] != end; j++ {
			}
			require.Less(t, j, len(lines), "%s:%d: a go-prelude without its closing -->", file, i+1)
			b.code = strings.Join(lines[i+1:j], "\n")
			i = j
		case strings.TrimSpace(l) == "```go": // also a block indented in a list
			b = docBlock{file: file, line: i + 2, module: module, skipWhy: skip}
			j := i + 1
			for ; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
			}
			require.Less(t, j, len(lines), "%s:%d: a ```go block without its closing ```", file, i+1)
			b.code = strings.Join(lines[i+1:j], "\n")
			b.complete = strings.HasPrefix(strings.TrimSpace(b.code), "package ")
			i = j
			module, skip = "", ""
		default:
			if strings.TrimSpace(l) != "" {
				module, skip = "", "" // a marker applies to the block right after it
			}
			continue
		}
		blocks = append(blocks, b)
	}
	return blocks
}

// snippetSource turns a block into a Go file of package pkg (or main, for a
// complete file). Line directives make the compiler's messages name the
// Markdown file and line.
func snippetSource(t *testing.T, b docBlock, abs string, n int) (string, error) {
	t.Helper()
	directive := fmt.Sprintf("//line %s:%d\n", abs, b.line)
	if b.complete {
		return directive + b.code + "\n", nil
	}
	// Declarations, or statements?
	var body string
	fset := token.NewFileSet()
	if _, err := parser.ParseFile(fset, "", "package snippets\n"+directive+b.code, 0); err == nil || b.prelude {
		body = directive + b.code + "\n"
	} else {
		fn, err := parser.ParseFile(fset, "", "package snippets\nfunc _() {\n"+directive+b.code+"\n}", 0)
		if err != nil { // the position names the Markdown line
			return "", fmt.Errorf("a Go block that is neither declarations nor statements: %v", err)
		}
		var unused []string
		for _, s := range fn.Decls[0].(*ast.FuncDecl).Body.List {
			unused = append(unused, declaredNames(s)...)
		}
		var sb strings.Builder
		fmt.Fprintf(&sb, "func snippet%d(%s) error {\n\t{\n%s%s\n", n, snippetParams, directive, b.code)
		for _, name := range unused {
			fmt.Fprintf(&sb, "\t\t_ = %s\n", name) // a block may show a value without using it
		}
		sb.WriteString("\t}\n\treturn nil\n}\n")
		body = sb.String()
	}
	// The imports: the package names the file uses without declaring them.
	f, err := parser.ParseFile(token.NewFileSet(), "", "package snippets\n"+body, parser.SkipObjectResolution)
	if err != nil {
		return "", fmt.Errorf("%s:%d: %v", b.file, b.line, err)
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && docImports[id.Name] != "" {
				used[id.Name] = true
			}
		}
		return true
	})
	for _, name := range declaredAnywhere(f) {
		delete(used, name) // a variable that shadows a package name
	}
	var paths []string
	for name := range used {
		paths = append(paths, docImports[name])
	}
	sort.Strings(paths)
	var sb strings.Builder
	sb.WriteString("package snippets\n\nimport (\n")
	for _, p := range paths {
		fmt.Fprintf(&sb, "\t%q\n", p)
	}
	sb.WriteString(")\n\n")
	sb.WriteString(body)
	return sb.String(), nil
}

// declaredNames are the variables a top-level statement of a block declares.
func declaredNames(s ast.Stmt) []string {
	var names []string
	switch s := s.(type) {
	case *ast.AssignStmt:
		if s.Tok == token.DEFINE {
			for _, e := range s.Lhs {
				if id, ok := e.(*ast.Ident); ok && id.Name != "_" {
					names = append(names, id.Name)
				}
			}
		}
	case *ast.DeclStmt:
		if gd, ok := s.Decl.(*ast.GenDecl); ok && gd.Tok == token.VAR {
			for _, spec := range gd.Specs {
				for _, id := range spec.(*ast.ValueSpec).Names {
					if id.Name != "_" {
						names = append(names, id.Name)
					}
				}
			}
		}
	}
	return names
}

// declaredAnywhere lists every name f declares (variables, parameters,
// functions, types), so that a local named like a package is not imported.
func declaredAnywhere(f *ast.File) []string {
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			names = append(names, declaredNames(n)...)
		case *ast.ValueSpec:
			for _, id := range n.Names {
				names = append(names, id.Name)
			}
		case *ast.Field:
			for _, id := range n.Names {
				names = append(names, id.Name)
			}
		}
		return true
	})
	return names
}

// TestDocsGoBlocksCompile compiles the Go blocks of README.md and
// docs/*.md, each module's in that module (go build, offline).
func TestDocsGoBlocksCompile(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	root, err := os.Getwd()
	require.NoError(t, err)
	if probe, err := os.MkdirTemp("testdata", "readmetest-"); err != nil {
		t.Skipf("the blocks are compiled in testdata, which is not writable here (a read-only module cache?): %v", err)
	} else {
		os.Remove(probe)
	}
	files, err := filepath.Glob("docs/*.md")
	require.NoError(t, err)
	files = append([]string{"README.md"}, files...)

	byModule := map[string][]docBlock{}
	total := 0
	for _, f := range files {
		for _, b := range docBlocks(t, f) {
			if b.skipWhy != "" {
				t.Logf("%s:%d: not compiled: %s", b.file, b.line, b.skipWhy)
				continue
			}
			byModule[b.module] = append(byModule[b.module], b)
			if !b.prelude {
				total++
			}
		}
	}
	require.Greater(t, total, 10, "the docs' Go blocks were not found")

	modules := make([]string, 0, len(byModule))
	for m := range byModule {
		modules = append(modules, m)
	}
	slices.Sort(modules)
	for _, module := range modules {
		name := module
		if name == "" {
			name = "root"
		}
		t.Run(name, func(t *testing.T) {
			if module != "" && testing.Short() {
				t.Skip("-short: the companion modules' blocks are not compiled")
			}
			dir := filepath.Join(root, module)
			require.FileExists(t, filepath.Join(dir, "go.mod"), "compile-in names a folder without go.mod")
			pkgs := writeSnippets(t, dir, root, byModule[module])
			out, err := runOffline(gobin, dir, append([]string{"build"}, pkgs...)...)
			if err != nil && module != "" && os.Getenv("CI") == "" && offlineMiss(out) {
				t.Skipf("%s's dependencies are not in the module cache (run go mod download in %s): %s", module, module, firstLine(out))
			}
			assert.NoError(t, err, "the docs' Go blocks do not compile:\n%s", out)
		})
	}
}

// writeSnippets writes the blocks into packages under dir/testdata (which
// ./... patterns skip), removed when the test ends, and returns their
// import paths relative to dir: one package per page, one per complete file.
func writeSnippets(t *testing.T, dir, root string, blocks []docBlock) []string {
	t.Helper()
	testdata := filepath.Join(dir, "testdata")
	if _, err := os.Stat(testdata); os.IsNotExist(err) {
		require.NoError(t, os.Mkdir(testdata, 0o755))
		t.Cleanup(func() { os.Remove(testdata) })
	}
	tmp, err := os.MkdirTemp(testdata, "readmetest-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(tmp) })

	pageDir := map[string]string{}
	var pkgs []string
	addPkg := func(d string) {
		rel, err := filepath.Rel(dir, d)
		require.NoError(t, err)
		pkgs = append(pkgs, "./"+filepath.ToSlash(rel))
	}
	for n, b := range blocks {
		abs := filepath.Join(root, b.file)
		src, err := snippetSource(t, b, abs, n)
		require.NoError(t, err)
		var d string
		if b.complete {
			d = filepath.Join(tmp, fmt.Sprintf("main%d", n))
			addPkg(d)
		} else if d = pageDir[b.file]; d == "" {
			d = filepath.Join(tmp, strings.NewReplacer("/", "_", ".", "_").Replace(b.file))
			pageDir[b.file] = d
			addPkg(d)
		}
		require.NoError(t, os.MkdirAll(d, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d, fmt.Sprintf("block%d.go", n)), []byte(src), 0o644))
	}
	return pkgs
}

// runOffline runs the go command with no module downloads: the test must
// not reach the network.
func runOffline(gobin, dir string, args ...string) (string, error) {
	cmd := exec.Command(gobin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=readonly"), "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// offlineMiss: the build failed for a module that is not downloaded, not
// for the code.
func offlineMiss(out string) bool {
	return strings.Contains(out, "GOPROXY=off") || strings.Contains(out, "missing go.sum entry")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// TestRefusalHeadersAsTheREADMESays proves the README's paragraph on the
// headers of refusals: every refusal carries X-Clerk-Auth-Reason and
// Cache-Control: no-store; the signed-out ones (401, 503, the 307 to
// sign-in) X-Clerk-Auth-Status: signed-out, a 403 none; WWW-Authenticate
// has error= only when a credential came.
func TestRefusalHeadersAsTheREADMESays(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	prod := clerktest.NewIssuer(t)
	auth := prod.MustAuth(nil)
	admin := auth.Middleware(auth.Require(clerkauth.Role("org:admin"))(ok))
	dev := clerktest.NewDevelopmentIssuer(t)
	down := clerktest.NewIssuer(t)
	downAuth := down.MustAuth(func(c *clerkauth.Config) { c.Logger = slog.New(slog.DiscardHandler) })
	down.Close() // no keys can be had

	session := prod.MustSessionToken("user_1")
	tests := []struct {
		name      string
		h         http.Handler
		req       func() *http.Request
		status    int
		reason    string
		authState string // X-Clerk-Auth-Status, "" for none
		challenge string // WWW-Authenticate, "" for none
	}{
		{"no token", admin, func() *http.Request { return httptest.NewRequest("GET", "/api/admin", nil) },
			401, "session-token-missing", "signed-out", "Bearer"},
		{"a bad Bearer token", admin, func() *http.Request {
			r := httptest.NewRequest("GET", "/api/admin", nil)
			r.Header.Set("Authorization", "Bearer "+session+"x")
			return r
		}, 401, "token-invalid-signature", "signed-out", `Bearer error="invalid_token"`},
		{"a development instance, no token (curl)", dev.MustAuth(nil).Middleware(ok), func() *http.Request { return httptest.NewRequest("GET", "/api/me", nil) },
			401, "dev-browser-missing", "signed-out", "Bearer"},
		{"a page load signed out", admin, func() *http.Request {
			r := httptest.NewRequest("GET", "/api/admin", nil)
			r.Header.Set("Sec-Fetch-Dest", "document")
			return r
		}, 307, "session-token-missing", "signed-out", ""},
		{"keys cannot be had", downAuth.Middleware(ok), func() *http.Request {
			r := httptest.NewRequest("GET", "/api/me", nil)
			r.Header.Set("Authorization", "Bearer "+down.MustSessionToken("user_1"))
			return r
		}, 503, "jwk-remote-failed-to-load", "signed-out", ""},
		{"a failed Require check", admin, func() *http.Request {
			r := httptest.NewRequest("GET", "/api/admin", nil)
			r.Header.Set("Authorization", "Bearer "+session)
			return r
		}, 403, "missing-role", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.h.ServeHTTP(rec, tc.req())
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			assert.Equal(t, tc.reason, rec.Header().Get("X-Clerk-Auth-Reason"))
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			assert.Equal(t, tc.authState, rec.Header().Get("X-Clerk-Auth-Status"))
			assert.Equal(t, tc.challenge, rec.Header().Get("WWW-Authenticate"))
		})
	}
}

// TestReadmeStaysShort: the README is read in ten minutes (issue 22); depth
// goes to docs/, internals to CONTRIBUTING.md. Every page it links exists.
func TestReadmeStaysShort(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	assert.LessOrEqual(t, strings.Count(string(readme), "\n"), 400, "README.md is over 400 lines: move depth to a docs/ page")
	for _, f := range append([]string{"README.md", "CONTRIBUTING.md"}, mustGlob(t, "docs/*.md")...) {
		text, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range regexp.MustCompile(`\]\(([^)#:]+)(#[^)]*)?\)`).FindAllStringSubmatch(string(text), -1) {
			_, err := os.Stat(filepath.Join(filepath.Dir(f), m[1]))
			assert.NoError(t, err, "%s links to %s, which is not in the repository", f, m[1])
		}
	}
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	require.NoError(t, err)
	require.NotEmpty(t, files, pattern)
	return files
}
