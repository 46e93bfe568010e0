//go:build ignore

// vulngate reads govulncheck's JSON stream (-format json) on standard
// input and fails when our code calls a vulnerable function of a module
// we require: that is ours to fix (upgrade the module). Findings in the
// standard library are printed but do not fail: they are fixed by the Go
// toolchain that builds the binary, which the library does not choose.
//
//	govulncheck -db file://$db -format json ./... | go run .ci/vulngate.go
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
}

type message struct {
	Finding *struct {
		OSV          string  `json:"osv"`
		FixedVersion string  `json:"fixed_version"`
		Trace        []frame `json:"trace"`
	} `json:"finding"`
}

func main() {
	dec := json.NewDecoder(os.Stdin)
	seen := map[string]bool{}
	failed, messages := 0, 0
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "vulngate: reading govulncheck's output:", err)
			os.Exit(2)
		}
		messages++
		f := m.Finding
		if f == nil || len(f.Trace) == 0 || f.Trace[0].Function == "" {
			continue // not a finding, or one our code does not call
		}
		top := f.Trace[0]
		key := f.OSV + " " + top.Module
		if seen[key] {
			continue
		}
		seen[key] = true
		if top.Module == "stdlib" {
			fmt.Printf("note: %s in the standard library (%s.%s), fixed in %s: build with that Go or newer\n", f.OSV, top.Package, top.Function, f.FixedVersion)
			continue
		}
		failed++
		fmt.Printf("FAIL: %s in %s@%s (%s.%s) is called from our code; require %s\n", f.OSV, top.Module, top.Version, top.Package, top.Function, f.FixedVersion)
	}
	if messages == 0 {
		fmt.Fprintln(os.Stderr, "vulngate: govulncheck printed nothing")
		os.Exit(2)
	}
	if failed > 0 {
		os.Exit(1)
	}
	fmt.Println("vulngate: no module vulnerability is reachable from our code")
}
