package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra/doc"
)

var updateDocs = flag.Bool("update", false, "rewrite docs/cli and the golden files from the commands")

// TestCLIDocs keeps the generated reference pages in docs/cli current:
// it fails when a command's help has changed and the pages have not.
// go generate ./cmd/consentgate (or this test with -update) rewrites them.
func TestCLIDocs(t *testing.T) {
	gen := t.TempDir()
	root := newRoot(&app{stdout: os.Stdout, stderr: os.Stderr, storeDSN: "sqlite:consentgate.db"})
	root.DisableAutoGenTag = true
	root.InitDefaultCompletionCmd()
	if err := doc.GenMarkdownTree(root, gen); err != nil {
		t.Fatal(err)
	}
	want := "../../docs/cli"
	if *updateDocs {
		old, _ := filepath.Glob(filepath.Join(want, "*.md"))
		for _, f := range old {
			os.Remove(f)
		}
		os.MkdirAll(want, 0o755)
	}
	files, _ := filepath.Glob(filepath.Join(gen, "*.md"))
	if len(files) < 30 {
		t.Fatalf("only %d pages generated", len(files))
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		dst := filepath.Join(want, filepath.Base(f))
		if *updateDocs {
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		have, err := os.ReadFile(dst)
		if err != nil || string(have) != string(b) {
			t.Errorf("docs/cli/%s is not the command's help as it is now; run go generate ./cmd/consentgate", filepath.Base(f))
		}
	}
	if !*updateDocs {
		have, _ := filepath.Glob(filepath.Join(want, "*.md"))
		if len(have) != len(files) {
			t.Errorf("docs/cli has %d pages, the commands make %d; run go generate ./cmd/consentgate", len(have), len(files))
		}
	}
}
