//go:build ignore

// vulngate reads govulncheck's JSON stream (-format json) on standard
// input and fails when our code calls a vulnerable function of a module
// we require: that is ours to fix (upgrade the module). Findings in the
// standard library are fixed by the Go toolchain that builds the binary,
// which the library does not choose: they are printed as notes, unless
// -stdlib names the Go version govulncheck scanned with (go1.27.3): then
// that toolchain must be clean of them too, and a scan with another
// version (GOTOOLCHAIN not honoured) fails.
//
//	govulncheck -db file://$db -format json ./... | go run .ci/vulngate.go
//	GOTOOLCHAIN=go1.27.3 govulncheck … | go run .ci/vulngate.go -stdlib go1.27.3
package main

import (
	"encoding/json"
	"errors"
	"flag"
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
	// SBOM comes once the packages are loaded: a scan that could not load
	// them (a govulncheck built with an older Go than the one scanned
	// cannot type-check its standard library) has none.
	SBOM *struct {
		GoVersion string `json:"go_version"`
	} `json:"SBOM"`
	Finding *struct {
		OSV          string  `json:"osv"`
		FixedVersion string  `json:"fixed_version"`
		Trace        []frame `json:"trace"`
	} `json:"finding"`
}

func main() {
	stdlib := flag.String("stdlib", "", "fail on reachable standard-library findings; the Go version the scan must have used (go1.27.3)")
	flag.Parse()
	dec := json.NewDecoder(os.Stdin)
	seen := map[string]bool{}
	failed, messages := 0, 0
	goVersion, loaded := "", false
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "vulngate: reading govulncheck's output:", err)
			os.Exit(2)
		}
		messages++
		if m.SBOM != nil {
			loaded, goVersion = true, m.SBOM.GoVersion
			fmt.Println("vulngate: govulncheck scanned with", goVersion)
		}
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
		if top.Module == "stdlib" && *stdlib == "" {
			fmt.Printf("note: %s in the standard library (%s.%s), fixed in %s: build with that Go or newer\n", f.OSV, top.Package, top.Function, f.FixedVersion)
			continue
		}
		if top.Module == "stdlib" {
			failed++
			fmt.Printf("FAIL: %s in the standard library of %s (%s.%s) is called from our code; fixed in %s: raise the Go version CI checks\n", f.OSV, goVersion, top.Package, top.Function, f.FixedVersion)
			continue
		}
		failed++
		fmt.Printf("FAIL: %s in %s@%s (%s.%s) is called from our code; require %s\n", f.OSV, top.Module, top.Version, top.Package, top.Function, f.FixedVersion)
	}
	if messages == 0 || !loaded {
		fmt.Fprintln(os.Stderr, "vulngate: govulncheck did not load the packages (see its errors above)")
		os.Exit(2)
	}
	if *stdlib != "" && goVersion != *stdlib {
		fmt.Fprintf(os.Stderr, "vulngate: govulncheck scanned with Go %q, not %s (is GOTOOLCHAIN set for it?)\n", goVersion, *stdlib)
		os.Exit(2)
	}
	if failed > 0 {
		os.Exit(1)
	}
	if *stdlib != "" {
		fmt.Println("vulngate: no module or standard-library vulnerability is reachable from our code")
		return
	}
	fmt.Println("vulngate: no module vulnerability is reachable from our code")
}
