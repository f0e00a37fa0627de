// Command consentgate decides, record by record, whether user data may go
// into an AI training dataset, builds datasets from only what is allowed,
// and keeps the evidence. See README.md and docs/ for the commands.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/consentgate/consentgate/internal/gate"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is a mistake in how the command was called (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// exitError carries a specific exit status with its message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// app is one invocation: its output streams and global flags.
type app struct {
	stdout, stderr io.Writer
	storeDSN       string
	keysDir        string
	// storeGiven and keysGiven record the global flags given before the
	// command (a second --store after it is then a flag given twice).
	storeGiven, keysGiven bool
	twice                 string // a flag given twice, found while parsing
	closeErr              error  // a failure found as the store closed (a checkpoint not issued)
}

// open opens a session on the store the global flags name.
func (a *app) open(ctx context.Context, mode gate.Mode) (*gate.Gate, error) {
	return a.openWith(ctx, gate.Config{Mode: mode, Warn: a.warn})
}

// warn tells the person at the terminal what is not an error.
func (a *app) warn(msg string) { fmt.Fprintf(a.stderr, "consentgate: %s\n", msg) }

// openWith opens a session with the global flags' store and keys; a store
// or keys flag that cannot be used is a usage error.
func (a *app) openWith(ctx context.Context, c gate.Config) (*gate.Gate, error) {
	c.Store, c.Keys, c.Deployment = a.storeDSN, a.keysDir, deployment()
	// $CONSENTGATE_BUSY_TIMEOUT (a Go duration: 30s, 2m) is how long a
	// command waits for another writer before it gives up.
	if v := os.Getenv("CONSENTGATE_BUSY_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, usagef("CONSENTGATE_BUSY_TIMEOUT=%q: expected a duration such as 30s", v)
		}
		c.BusyTimeout = d
	}
	g, err := gate.Open(ctx, c)
	if gate.CodeOf(err) == gate.Invalid {
		return nil, usagef("%s", message(err))
	}
	return g, err
}

// done closes a session, keeping a failure to close (a checkpoint that
// could not be issued) as the command's error.
func (a *app) done(g *gate.Gate) {
	err := g.Close()
	if errors.Is(err, gate.ErrCheckpointPending) {
		// The change is stored: say so, and succeed.
		a.warn("warning: " + err.Error())
		return
	}
	if err != nil && a.closeErr == nil {
		a.closeErr = err
	}
}

// deployment names this deployment in the log's origin,
// consentgate/<deployment>: $CONSENTGATE_DEPLOYMENT, else the host name.
// It is fixed when the signing key is created.
func deployment() string {
	if d := os.Getenv("CONSENTGATE_DEPLOYMENT"); d != "" {
		return d
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "default"
}

// message words an error for the command line: the application's message
// with what would help, in this front end's terms.
func message(err error) string {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	e := gate.As(err)
	if e == nil {
		return msg
	}
	if e.Code == gate.Busy || e.Code == gate.Full {
		msg = e.Message // in the store's words, not the driver's
	}
	switch e.Hint {
	case gate.Force:
		msg += "; --force does it anyway, recorded as forced"
	case gate.PublishPolicy:
		msg += "; publish one first: consentgate policy publish FILE"
	case gate.CreateStore:
		msg += " (check --store; the commands that set a store up create it: policy publish, subjects import, token create, serve)"
	case gate.KeysDir:
		msg += "; --keys DIR names the store's keys directory"
	case gate.SeeImpact:
		msg += "; consentgate impact lists the items"
	}
	return msg
}

// printJSON writes v to stdout as indented JSON; a nil slice as [] (a
// list with nothing in it, not null).
func (a *app) printJSON(v any) error {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.IsNil() {
		v = []any{}
	}
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type command struct {
	name, args, help string
	run              func(ctx context.Context, a *app, args []string) error
}

func commands() []command {
	return []command{
		{"demo", "[--dir DIR] [--members N]", "the guided tour on a generated professional network, in its own store", cmdDemo},
		{"policy check", "FILE", "validate a policy file", cmdPolicyCheck},
		{"policy publish", "[--force] FILE", "publish a policy version", cmdPolicyPublish},
		{"policy list", "[--json]", "list published versions", cmdPolicyList},
		{"policy show", "VERSION", "print a published version", cmdPolicyShow},
		{"policy diff", "OLD NEW [--json]", "what changes between two versions (files or published), and the notice check", cmdPolicyDiff},
		{"subjects import", "FILE", "import subject events (JSON Lines)", cmdSubjectsImport},
		{"consent import", "FILE", "import consent events (JSON Lines)", cmdConsentImport},
		{"consent set", "--subject S --purpose P [--recipient R] --state granted|denied [--at T] [--source SRC]", "record one consent event", cmdConsentSet},
		{"consent export", "--subject S --format iso27560", "a subject's consent history as ISO/IEC TS 27560-style JSON", cmdConsentExport},
		{"consent show", "--subject S [--as-of T] [--json]", "a subject's state, consent, what is shared now, and history", cmdConsentShow},
		{"decide", "--subject S[:role]... --category C --created T --purpose P --recipient R [--as-of T] [--json]", "decide one record and explain", cmdDecide},
		{"report subject", "--subject S [--json]", "every export that included a subject's data", cmdReportSubject},
		{"impact mark", "--export E --subject S --status open|notified|deleted|retrained|wontfix [--note TEXT]", "record what was done about an impact item", cmdImpactMark},
		{"impact", "[--since T] [--json]", "export subjects who no longer allow records it included: withdrawals, moves, narrower versions", cmdImpact},
		{"export finalize", "--dir DIR --out FILE [--rejects FILE] [--manifest FILE]", "assemble, log and record an export the Beam pipeline computed", cmdExportFinalize},
		{"export", "--purpose P --recipient R [--as-of T] [--snapshot FILE] --in FILE... --out FILE [--rejects FILE] [--manifest FILE] [--format jsonl|parquet] [--workers N] [--redact CONFIG] [--lineage FILE|--lineage-url URL] FIELDS", "build a dataset", cmdExport},
		{"deliver status", "[--json]", "each delivery destination's progress and how many changes it has yet to receive", cmdDeliverStatus},
		{"deliver", "[--webhook URL]... [--nats URL [--nats-subject S] [--nats-stream NAME]] [--once] [--poll DUR] [--batch N]", "send consent changes to webhooks and NATS JetStream, at least once, in order", cmdDeliver},
		{"log checkpoint", "", "print the latest signed checkpoint (C2SP tlog-checkpoint), issuing one if the log grew", cmdLogCheckpoint},
		{"log verify", "[--checkpoint FILE] [--json]", "re-derive every leaf from its row, recompute the tree, check every checkpoint", cmdLogVerify},
		{"log prove inclusion", "--index N [--size M] [--json]", "an RFC 6962 inclusion proof of a leaf", cmdLogProveInclusion},
		{"log prove consistency", "--from A [--to B] [--json]", "an RFC 6962 consistency proof between two tree sizes", cmdLogProveConsistency},
		{"log open", "--subject S [--json]", "give a subject the salts of their log entries and export pseudonyms", cmdLogOpen},
		{"log erase", "--subject S", "erase a subject's log key: their entries become unlinkable", cmdLogErase},
		{"log tiles", "--out DIR", "write the checkpoint, C2SP tlog-tiles and entry bundles to a folder", cmdLogTiles},
		{"manifest verify", "FILE [--key FILE] [--json]", "check an export manifest's signature, file digests and log inclusion", cmdManifestVerify},
		{"serve", "[--addr :8080] [--checkpoint-every 1m] [--quiet]", "the HTTP API, the privacy centre and the admin console", cmdServe},
		{"token create", "--role admin|operator|auditor|subject [--subject S]", "create an API token; prints it alone, once", cmdTokenCreate},
		{"token revoke", "TOKEN", "revoke a token (the token or its SHA-256)", cmdTokenRevoke},
		{"token list", "[--json]", "every token's SHA-256, role, subject and whether it is revoked", cmdTokenList},
		{"snapshot verify", "FILE [--json]", "check a snapshot file's checksum and contents", cmdSnapshotVerify},
		{"snapshot", "--out FILE [--as-of T] [--json]", "write the point-in-time view an export needs to one file", cmdSnapshot},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: consentgate [--store DSN] [--keys DIR] COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.help)
	}
	fmt.Fprintln(w, "\nglobal flags (anywhere on the line):")
	fmt.Fprintln(w, "  --store DSN   sqlite:PATH (default sqlite:consentgate.db) or postgres://HOST:PORT/DB?…")
	fmt.Fprintln(w, "  --keys DIR    where keys and secrets live (default beside a SQLite store)")
	fmt.Fprintln(w, "\n'consentgate COMMAND --help' shows a command's flags.")
}

// run is the whole program, callable from tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, storeDSN: "sqlite:consentgate.db"}
	// Global flags may come first; commands accept them anywhere too.
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		name, val, hasVal := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		if name != "store" && name != "keys" {
			if name == "help" || name == "h" {
				usage(stdout)
				return 0
			}
			break
		}
		if !hasVal {
			if len(args) < 2 {
				fmt.Fprintf(stderr, "consentgate: --%s needs a value\n", name)
				return 2
			}
			val, args = args[1], args[1:]
		}
		if (name == "store" && a.storeGiven) || (name == "keys" && a.keysGiven) {
			fmt.Fprintf(stderr, "consentgate: --%s is given twice; give it once\n", name)
			return 2
		}
		if name == "store" {
			a.storeDSN, a.storeGiven = val, true
		} else {
			a.keysDir, a.keysGiven = val, true
		}
		args = args[1:]
	}
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	var cmd *command
	all := commands()
	for i := range all {
		words := strings.Fields(all[i].name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == all[i].name {
			cmd = &all[i]
			args = args[len(words):]
			break
		}
	}
	if cmd == nil {
		if args[0] == "help" {
			usage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "consentgate: unknown command %q\n\n", strings.Join(args[:min(2, len(args))], " "))
		usage(stderr)
		return 2
	}
	err := cmd.run(ctx, a, args)
	if err == nil {
		err = a.closeErr
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "consentgate %s: %v\nusage: consentgate %s %s\n", cmd.name, err, cmd.name, cmd.args)
		return 2
	}
	fmt.Fprintf(stderr, "consentgate %s: %s\n", cmd.name, message(err))
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}
