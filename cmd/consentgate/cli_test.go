package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// runIn runs the program in-process in dir.
func runIn(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	if dir != "" {
		t.Chdir(dir)
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// leaves is every command of the tree that runs something.
func leaves() map[string]*cobra.Command {
	m := map[string]*cobra.Command{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, s := range c.Commands() {
			walk(s)
		}
		m[strings.TrimPrefix(c.CommandPath(), "consentgate ")] = c
	}
	walk(newRoot(&app{storeDSN: "sqlite:consentgate.db"}))
	return m
}

// TestEveryCommand: each command's --help shows its positional arguments
// and required flags; an unknown flag and a bad value of each typed flag
// exit 2 naming the flag.
func TestEveryCommand(t *testing.T) {
	dir := t.TempDir()
	tree := leaves()
	for _, cmd := range commands() {
		t.Run(cmd.name, func(t *testing.T) {
			words := strings.Fields(cmd.name)
			out, errOut, code := runIn(t, dir, append(words, "--help")...)
			if code != 0 || !strings.Contains(out, "consentgate "+cmd.name) {
				t.Fatalf("--help: exit %d\n%s%s", code, out, errOut)
			}
			usage := ""
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(strings.TrimSpace(l), "consentgate "+cmd.name) {
					usage = l
					break
				}
			}
			for _, arg := range cmd.args {
				if !strings.Contains(usage, arg) {
					t.Errorf("usage line %q lacks the argument %s", usage, arg)
				}
			}
			for _, f := range cmd.required {
				if !strings.Contains(usage, "--"+f) {
					t.Errorf("usage line %q lacks the required --%s", usage, f)
				}
				if !regexp.MustCompile(`--` + f + `\b.*\(required\)`).MatchString(out) {
					t.Errorf("--help does not say --%s is required:\n%s", f, out)
				}
			}
			// An unknown flag.
			_, errOut, code = runIn(t, dir, append(words, "--no-such-flag")...)
			if code != 2 || !strings.Contains(errOut, "--no-such-flag") || !strings.Contains(errOut, "usage: consentgate "+cmd.name) {
				t.Errorf("unknown flag: exit %d %q", code, errOut)
			}
			// A bad value of each typed flag, and each flag given twice.
			tree[cmd.name].Flags().VisitAll(func(f *pflag.Flag) {
				if f.Name == "help" {
					return
				}
				bad := map[string]string{"time": "yesterday", "int": "x", "int64": "x", "uint64": "-1", "duration": "soon", "bool": "maybe"}[f.Value.Type()]
				if strings.Contains(f.Value.Type(), "|") {
					bad = "csv"
				}
				if bad != "" {
					_, errOut, code := runIn(t, dir, append(words, "--"+f.Name+"="+bad)...)
					if code != 2 || !strings.Contains(errOut, "--"+f.Name) || strings.Contains(errOut, "strconv") {
						t.Errorf("--%s=%s: exit %d %q", f.Name, bad, code, errOut)
					}
				}
				if f.Value.Type() != "list" && f.Value.Type() != "bool" {
					v := "1"
					if f.Value.Type() == "time" {
						v = "2024-01-01T00:00:00Z"
					} else if f.Value.Type() == "duration" {
						v = "1s"
					} else if strings.Contains(f.Value.Type(), "|") {
						v = strings.Split(f.Value.Type(), "|")[0]
					} else if f.Value.Type() == "int" && f.Name == "members" {
						v = "40"
					}
					_, errOut, code := runIn(t, dir, append(words, "--"+f.Name, v, "--"+f.Name, v)...)
					if code != 2 || !strings.Contains(errOut, "--"+f.Name+" is given twice") {
						t.Errorf("--%s twice: exit %d %q", f.Name, code, errOut)
					}
				}
			})
		})
	}
}

// TestUsageErrors: the mistakes of issue 14, each exit 2 with a message
// naming the flag and what it allows.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "--workers", "0"}, `--workers "0": expected a whole number of at least 1`},
		{[]string{"export", "--workers", "-3"}, `--workers "-3": expected a whole number of at least 1`},
		{[]string{"export", "--format", "csv"}, `--format "csv": expected jsonl or parquet`},
		{[]string{"--store", "mysql://x", "policy", "list"}, `--store "mysql://x": expected sqlite:PATH or postgres://`},
		{[]string{"policy", "list", "--store", "mysql://x", "--keys"}, `--store "mysql://x"`},
		{[]string{"exprot", "--purpose", "x"}, `unknown command "exprot" for "consentgate"`},
		{[]string{"policy", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"policy"}, "give one of its commands: check, diff, list, publish, show"},
		{[]string{"policy", "diff", "a"}, "expected OLD NEW, got 1 argument"},
		{[]string{"policy", "check"}, "expected FILE, got 0 arguments"},
		{[]string{"consent", "show"}, "--subject is required"},
		{[]string{"consent", "show", "--subject", ""}, "--subject: expected a value, found an empty one"},
		{[]string{"log", "tiles", "--out="}, "--out: expected a value, found an empty one"},
		{[]string{"log", "prove", "inclusion", "--index", "-3"}, "--index -3: expected a leaf number, 0 or more"},
		{[]string{"snapshot", "--out", "v.cgs", "extra"}, `unexpected argument "extra"`},
		{[]string{"export", "--purpose", "a", "--purpose", "b"}, "--purpose is given twice"},
		{[]string{"--store", "sqlite:a.db", "policy", "list", "--store", "sqlite:b.db"}, "--store is given twice"},
		{[]string{"demo", "--members", "3"}, `--members "3": expected a whole number of at least 40`},
		{[]string{"log", "prove", "inclusion", "--index", "x"}, `--index "x": expected a whole number`},
		{[]string{"notices", "answer", "n1"}, "--status is required"},
		{[]string{"notices", "answer", "n1", "--status", "gone"}, `--status "gone": expected one of deleted, excluded, retrained, unlearned, refused, or wontfix`},
		{[]string{"notices", "show"}, "expected ID, got 0 arguments"},
		{[]string{"lineage", "import"}, "expected FILE, got 0 arguments"},
		{[]string{"deliver", "--notices", "partner-x"}, `--notices "partner-x": expected RECIPIENT=URL`},
		{[]string{"deliver", "--notices", "partner-x=ftp://x"}, `expected an http:// or https:// URL after partner-x=`},
		{[]string{"deliver", "--notices-nats", "partner-x"}, "--notices-nats needs --nats URL"},
	} {
		_, errOut, code := runIn(t, dir, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d %q, want 2 and %q", c.args, code, errOut, c.want)
		}
		if strings.Contains(c.args[0], "exprot") && strings.Contains(errOut, "--purpose") {
			t.Errorf("the unknown command echoes the next flag: %q", errOut)
		}
	}
	// Global flags anywhere on the line, before the command's words too.
	if _, errOut, code := runIn(t, dir, "policy", "--store", "sqlite:nowhere.db", "list"); code != 1 || !strings.Contains(errOut, "no consentgate store at sqlite:nowhere.db") {
		t.Errorf("policy --store X list: exit %d %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "nowhere.db")); err == nil {
		t.Error("a read-only command created the store")
	}
	// Shell completion.
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if out, errOut, code := runIn(t, dir, "completion", sh); code != 0 || !strings.Contains(out, "consentgate") {
			t.Errorf("completion %s: exit %d %q", sh, code, errOut)
		}
	}
}

var snake = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// jsonKeys collects the object keys of a JSON value, except the keys of
// maps keyed by data (a purpose, a reason, a region code).
func jsonKeys(v any, path string, keys map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			keys[k] = path
			jsonKeys(x, path+"."+k, keys)
		}
	case []any:
		for _, x := range v {
			jsonKeys(x, path+"[]", keys)
		}
	}
}

// TestJSONOutput: every command with --json prints JSON that parses,
// with snake_case keys.
func TestJSONOutput(t *testing.T) {
	dir := setupE2E(t)
	ok(t, dir, append(append([]string{}, e2eExport...), "--out", "out.jsonl")...)
	ok(t, dir, "snapshot", "--out", "view.cgs", "--as-of", "2025-01-01T00:00:00Z")
	n, signer, _ := exportNotice(t, dir)
	writeNotice(t, dir, n, signer)
	os.WriteFile(filepath.Join(dir, "train.jsonl"), []byte(runEvent("llm", "0195f0a2-7c1e-7b3a-9d4e-5a6b7c8d9e0f", "2025-02-15T06:00:00Z", filepath.Join(dir, "out.jsonl"))+"\n"), 0o644)
	cases := map[string][]string{
		"notices":               {"notices"},
		"notices send":          {"notices", "send"},
		"lineage import":        {"lineage", "import", "train.jsonl"},
		"notice verify":         {"notice", "verify", "notice.json", "--manifest", "out.jsonl.manifest.json", "--key", "consentgate.db.keys/log.pub"},
		"policy list":           {"policy", "list"},
		"policy diff":           {"policy", "diff", "2024-01-01", "2024-09-18"},
		"consent show":          {"consent", "show", "--subject", "ana"},
		"decide":                {"decide", "--subject", "ana", "--category", "user.content.public", "--created", "2024-10-01T00:00:00Z", "--purpose", "train_ai_system.generative", "--recipient", "partner-x", "--as-of", "2025-01-01T00:00:00Z"},
		"report subject":        {"report", "subject", "--subject", "ana"},
		"exports":               {"exports"},
		"impact":                {"impact"},
		"deliver status":        {"deliver", "status"},
		"log verify":            {"log", "verify"},
		"log prove inclusion":   {"log", "prove", "inclusion", "--index", "0"},
		"log prove consistency": {"log", "prove", "consistency", "--from", "1"},
		"log open":              {"log", "open", "--subject", "ana"},
		"manifest verify":       {"manifest", "verify", "out.jsonl.manifest.json"},
		"token list":            {"token", "list"},
		"snapshot":              {"snapshot", "--out", "view2.cgs", "--as-of", "2025-01-01T00:00:00Z"},
		"snapshot verify":       {"snapshot", "verify", "view.cgs"},
	}
	// Keys that are data, not names: maps keyed by a reason, a purpose, a
	// region or a category.
	dataMaps := regexp.MustCompile(`(excluded_by_reason|by_reason|found|counts|regions|classes)`)
	for name, c := range leaves() {
		if c.Flags().Lookup("json") == nil {
			continue
		}
		args, ok := cases[name]
		if !ok {
			t.Errorf("%s has --json and no case here", name)
			continue
		}
		out, errOut, code := runIn(t, dir, append(args, "--json")...)
		if code != 0 && code != 3 {
			t.Errorf("%s --json: exit %d %s", name, code, errOut)
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Errorf("%s --json: %v\n%s", name, err, out)
			continue
		}
		keys := map[string]string{}
		jsonKeys(v, "", keys)
		for k, path := range keys {
			if !snake.MatchString(k) && !dataMaps.MatchString(path) && !strings.Contains(k, ".") && !strings.Contains(k, ":") {
				t.Errorf("%s --json: key %q at %q is not snake_case", name, k, path)
			}
		}
	}
}
