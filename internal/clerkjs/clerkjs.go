// Package clerkjs runs Clerk's own published JavaScript (@clerk/backend and
// @clerk/shared, pinned in testdata/oracle/package.json) from Go tests, as
// a test oracle: a Go test generates inputs, a small node script decides
// them with Clerk's code, and the test compares.
//
// The pinned packages are installed with "npm ci" on first use into
// testdata/oracle/node_modules (git-ignored), under a file lock so that
// parallel test binaries install once, and again whenever
// package-lock.json changes (.ci/run installs them up front). Where node or npm is missing, tests that need
// the oracle skip with a message that says so, except under CI=true, where
// they fail: CI always runs them.
package clerkjs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Dir is the folder that holds package.json, package-lock.json and the
// oracle scripts.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "oracle")
}

var install = sync.OnceValue(func() error {
	dir := Dir()
	if installed(dir) {
		return nil
	}
	unlock, err := lockFile(filepath.Join(dir, ".install.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if installed(dir) {
		return nil // another test binary installed while we waited
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %v\n%s", dir, err, out)
	}
	return nil
})

// installed reports whether node_modules matches package-lock.json, as npm
// itself judges it: npm ci writes node_modules/.package-lock.json, so that
// file is newer than a lock file that has not changed since.
func installed(dir string) bool {
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return false
	}
	done, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	return err == nil && !done.ModTime().Before(lock.ModTime())
}

// Require makes sure node and the pinned packages are there, or skips the
// test (fails it under CI=true).
func Require(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed, and CI must run the Clerk oracle tests", tool)
			}
			t.Skipf("%s is not installed: this test compares with Clerk's own JavaScript and needs Node.js 20 or newer", tool)
		}
	}
	if err := install(); err != nil {
		t.Fatalf("installing Clerk's pinned packages: %v", err)
	}
}

// Run runs script (a file in Dir) with node, writes input to its standard
// input as JSON, and decodes its standard output as JSON into output.
func Run(t testing.TB, script string, input, output any) {
	t.Helper()
	Require(t)
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", script)
	cmd.Dir = Dir()
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, strings.TrimSpace(stderr.String()))
	}
	if err := json.Unmarshal(stdout.Bytes(), output); err != nil {
		t.Fatalf("node %s printed what is not the expected JSON: %v\n%.2000s", script, err, stdout.String())
	}
}
