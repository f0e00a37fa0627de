package gate_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestArchitecture states which packages may import which (STYLE.md: one
// application layer, thin front ends): the front ends call the
// application and never the storage contract or an adapter, nor one
// another; the domain packages know nothing of storage, the application
// or the front ends; the log does not know exports. It reads the imports
// of the module's non-test code with `go list`.
func TestArchitecture(t *testing.T) {
	const mod = "github.com/consentgate/consentgate/"
	cmd := exec.Command("go", "list", "-json", mod+"...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	imports := map[string][]string{}
	dec := json.NewDecoder(out)
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(p.ImportPath, mod)
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, mod) {
				imports[name] = append(imports[name], strings.TrimPrefix(imp, mod))
			}
		}
		if _, ok := imports[name]; !ok {
			imports[name] = nil
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cmd/consentgate", "internal/gate", "internal/httpapi", "internal/web", "internal/store", "internal/translog", "internal/blobio"} {
		if _, ok := imports[want]; !ok {
			t.Fatalf("go list did not list %s", want)
		}
	}
	storage := []string{"internal/store", "internal/store/storetest", "internal/sqlite", "internal/postgres"}
	frontEnds := []string{"cmd/consentgate", "internal/httpapi", "internal/web"}
	domain := []string{"internal/policy", "internal/decision", "internal/consent", "internal/region", "internal/timestamp",
		"internal/inclusion", "internal/record", "internal/redact", "internal/impact", "internal/access"}
	rules := []struct {
		from    []string
		never   []string
		because string
	}{
		{frontEnds, storage, "a front end calls the application (gate), never the store"},
		{[]string{"internal/httpapi"}, []string{"internal/web", "cmd/consentgate"}, "a front end never imports another"},
		{[]string{"internal/web"}, []string{"internal/httpapi", "cmd/consentgate"}, "a front end never imports another: the pages are not built on the API server"},
		{[]string{"internal/gate"}, frontEnds, "the application knows no front end"},
		{domain, append(append(slices.Clone(storage), frontEnds...), "internal/gate", "internal/translog", "internal/export"),
			"the domain knows nothing of storage, the log, exports, the application or the front ends"},
		{[]string{"internal/translog"}, []string{"internal/export", "internal/gate"}, "the log does not know exports"},
		{[]string{"internal/notice"}, append(append(slices.Clone(storage), frontEnds...), "internal/gate"), "a notice is made and checked from what it is given: no store, no application"},
		{[]string{"internal/store"}, append([]string{"internal/sqlite", "internal/postgres", "internal/gate"}, frontEnds...), "the contract knows no backend"},
		{[]string{"internal/sqlite", "internal/postgres"}, append([]string{"internal/gate", "internal/export"}, frontEnds...), "an adapter adapts its dependency, nothing more"},
		{[]string{"internal/blobio"}, append(append(append(slices.Clone(domain), storage...), frontEnds...), "internal/gate", "internal/translog", "internal/export", "internal/snapshot"),
			"file and object-store I/O knows nothing of what the files hold: no domain, store, log, export, application or front end"},
	}
	for _, r := range rules {
		for _, from := range r.from {
			for _, imp := range imports[from] {
				if slices.Contains(r.never, imp) {
					t.Errorf("%s imports %s: %s", from, imp, r.because)
				}
			}
		}
	}
	// The front ends compute no answer of their own: they never call the
	// engine's or the application's parts (read from their source).
	banned := map[string][]string{
		"decision": {"NewPlan", "PlanFor", "NewOne", "ConsentStateAt", "ConsentAll", "NewVersions"},
		"impact":   {"Compute"},
		"policy":   {"Compare", "Parse", "Compile"},
		"translog": {"Verify", "Issue", "ProveInclusion", "ProveConsistency", "OpenCheckpoint", "VerifyManifest", "LoadSigner", "OpenKeys"},
		"export":   {"Run", "Finalize"},
		"snapshot": {"Write"},
		"deliver":  {"Run"},
	}
	for _, dir := range []string{"../../cmd/consentgate", "../httpapi", "../web"} {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, pkg := range pkgs {
			for name, f := range pkg.Files {
				ast.Inspect(f, func(n ast.Node) bool {
					sel, ok := n.(*ast.SelectorExpr)
					if !ok {
						return true
					}
					if x, ok := sel.X.(*ast.Ident); ok && slices.Contains(banned[x.Name], sel.Sel.Name) {
						t.Errorf("%s: %s.%s: a front end asks the application (gate) instead", fset.Position(sel.Pos()), x.Name, sel.Sel.Name)
					}
					return true
				})
				_ = name
			}
		}
	}
	// Only the application opens an adapter.
	for from, imps := range imports {
		for _, imp := range imps {
			if (imp == "internal/sqlite" || imp == "internal/postgres") && from != "internal/gate" {
				t.Errorf("%s imports %s: only the application opens a store", from, imp)
			}
		}
	}
}
