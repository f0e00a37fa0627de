// Command consentgate decides, record by record, whether user data may go
// into an AI training dataset, builds datasets from only what is allowed,
// and keeps the evidence. See README.md and docs/ for the commands.
//go:generate go test -run TestCLIDocs -update .

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
	origin         string // --origin: the log's origin, when its signing key is created
	storeGiven     bool   // --store was given
	twice          string // a flag given twice, found while parsing
	closeErr       error  // a failure found as the store closed (a checkpoint not issued)
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
	c.Store, c.Keys, c.Origin = a.storeDSN, a.keysDir, a.origin
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

// runFunc is a command's body: its flags are parsed, its positional
// arguments counted; it calls the application and presents the answer.
type runFunc func(ctx context.Context, args []string) error

// command is one leaf of the command tree.
type command struct {
	name     string   // the words that call it: "policy diff"
	args     []string // its positional arguments: {"OLD", "NEW"}; "FILE..." for any number
	synopsis string   // the required flags and arguments, as the usage line shows them
	help     string
	required []string // flags it cannot do without
	build    func(a *app, fs *pflag.FlagSet) runFunc
}

func commands() []command {
	return []command{
		{"demo", nil, "", "the guided tour on a generated professional network, in its own store", nil, cmdDemo},
		{"policy check", []string{"FILE"}, "FILE", "validate a policy file", nil, cmdPolicyCheck},
		{"policy publish", []string{"FILE"}, "FILE", "publish a policy version", nil, cmdPolicyPublish},
		{"policy list", nil, "", "list published versions", nil, cmdPolicyList},
		{"policy show", []string{"VERSION"}, "VERSION", "print a published version", nil, cmdPolicyShow},
		{"policy diff", []string{"OLD", "NEW"}, "OLD NEW", "what changes between two versions (files or published), and the notice check; exit 3 on a notice violation", nil, cmdPolicyDiff},
		{"subjects import", []string{"FILE"}, "FILE", "import subject events (JSON Lines)", nil, cmdSubjectsImport},
		{"consent import", []string{"FILE"}, "FILE", "import consent events (JSON Lines)", nil, cmdConsentImport},
		{"consent set", nil, "--subject S --purpose P --state granted|denied", "record one consent event", []string{"subject", "purpose", "state"}, cmdConsentSet},
		{"consent export", nil, "--subject S", "a subject's consent history as ISO/IEC TS 27560-style JSON", []string{"subject"}, cmdConsentExport},
		{"consent show", nil, "--subject S", "a subject's state, consent, what is shared now, and history", []string{"subject"}, cmdConsentShow},
		{"decide", nil, "--subject S[:ROLE]... --category C --created T --purpose P --recipient R", "decide one record and explain", []string{"subject", "category", "created", "purpose", "recipient"}, cmdDecide},
		{"report subject", nil, "--subject S", "every export that included a subject's data", []string{"subject"}, cmdReportSubject},
		{"impact", nil, "", "export subjects who no longer allow records it included: withdrawals, moves, narrower versions", nil, cmdImpact},
		{"impact mark", nil, "--export E --subject S --status STATUS", "record what was done about an impact item", []string{"export", "subject", "status"}, cmdImpactMark},
		{"export", []string{"FILE..."}, "--purpose P --recipient R --in FILE... --out FILE FIELDS", "build a dataset (input files after --in or as arguments)", []string{"purpose", "recipient", "out"}, cmdExport},
		{"export finalize", nil, "--dir DIR --out FILE", "assemble, log and record an export the Beam pipeline computed", []string{"dir", "out"}, cmdExportFinalize},
		{"deliver", nil, "--webhook URL... | --nats URL | --notices RECIPIENT=URL...", "send consent changes, and recipients their notices, to webhooks and NATS JetStream, at least once, in order", nil, cmdDeliver},
		{"deliver secret", nil, "--webhook URL | --notices RECIPIENT=URL", "print the Standard Webhooks secret (whsec_…) a receiver checks that endpoint's requests with", nil, cmdDeliverSecret},
		{"deliver status", nil, "", "each delivery destination's progress and how many changes it has yet to receive", nil, cmdDeliverStatus},
		{"log checkpoint", nil, "", "print the latest signed checkpoint (C2SP tlog-checkpoint), issuing one if the log grew", nil, cmdLogCheckpoint},
		{"log key", nil, "", "print the log's note verifier key (what GET /log/key answers): checks its checkpoints and manifests", nil, cmdLogKey},
		{"log verify", nil, "", "re-derive every leaf from its row, recompute the tree, check every checkpoint", nil, cmdLogVerify},
		{"log prove inclusion", nil, "--index N", "an RFC 6962 inclusion proof of a leaf", []string{"index"}, cmdLogProveInclusion},
		{"log prove consistency", nil, "--from A", "an RFC 6962 consistency proof between two tree sizes", []string{"from"}, cmdLogProveConsistency},
		{"log open", nil, "--subject S", "give a subject the salts of their log entries and export pseudonyms", []string{"subject"}, cmdLogOpen},
		{"log erase", nil, "--subject S", "erase a subject's log key: their entries become unlinkable", []string{"subject"}, cmdLogErase},
		{"log tiles", nil, "--out DIR", "write the checkpoint, C2SP tlog-tiles and entry bundles to a folder", []string{"out"}, cmdLogTiles},
		{"exports", nil, "", "the exports and where each stands: logged, complete, or abandoned (its files never all appeared)", nil, cmdExports},
		{"exports show", []string{"ID"}, "ID", "an export with its stored manifest", nil, cmdExportsShow},
		{"manifest verify", []string{"FILE"}, "FILE", "check an export manifest's signature, file digests and log inclusion", nil, cmdManifestVerify},
		{"notice verify", []string{"FILE"}, "FILE --manifest FILE --key FILE", "check a notice to a recipient as the recipient does: its signature, its log inclusion and every record's proof in the manifest's records_root, no store", []string{"manifest", "key"}, cmdNoticeVerify},
		{"notices", nil, "", "the notices sent to recipients after opt-outs, and where each stands", nil, cmdNotices},
		{"notices send", nil, "", "create the notices the open impact items call for: one per export, only records no notice named yet", nil, cmdNoticesSend},
		{"notices show", []string{"ID"}, "ID", "a notice with its log inclusion proof: the file a recipient checks with `notice verify`", nil, cmdNoticesShow},
		{"notices answer", []string{"ID"}, "ID --status ANSWER", "record a recipient's answer to a notice, or close a refusal (wontfix)", []string{"status"}, cmdNoticesAnswer},
		{"lineage import", []string{"FILE"}, "FILE", "link training jobs to the exports they read, from OpenLineage run events (JSON Lines)", nil, cmdLineageImport},
		{"serve", nil, "", "the HTTP API, the privacy centre and the admin console", nil, cmdServe},
		{"token create", nil, "--role ROLE", "create an API token; prints it alone, once", []string{"role"}, cmdTokenCreate},
		{"token revoke", []string{"TOKEN"}, "TOKEN", "revoke a token (the token or its SHA-256)", nil, cmdTokenRevoke},
		{"token list", nil, "", "every token's SHA-256, role, subject and whether it is revoked", nil, cmdTokenList},
		{"snapshot", nil, "--out FILE", "write the point-in-time view an export needs to one file", []string{"out"}, cmdSnapshot},
		{"snapshot verify", []string{"FILE"}, "FILE", "check a snapshot file's checksum and contents", nil, cmdSnapshotVerify},
	}
}

// groups are the commands that only hold others.
var groups = map[string]string{
	"policy":    "policy versions: check, publish, list, show, diff",
	"subjects":  "subjects: import",
	"consent":   "members' consent: import, set, show, export",
	"report":    "reports: which exports included a subject's data",
	"log":       "the transparency log: checkpoints, its key, verification, proofs, tiles, a subject's entries",
	"log prove": "RFC 6962 proofs a third party can check",
	"manifest":  "export manifests: verify",
	"lineage":   "lineage from training jobs: import",
	"token":     "API tokens: create, revoke, list",
}

// newRoot builds the command tree for one invocation.
func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "consentgate",
		Short: "decide whether members' data may go into AI training datasets, build the datasets, keep the evidence",
		Long: "consentgate decides, record by record, whether a member's data may go into an AI training\n" +
			"dataset, builds datasets from only what is allowed, and keeps a tamper-evident log.\n\n" +
			"Global flags may come anywhere on the line. Exit status: 0 success, 1 failure,\n" +
			"2 a usage error, 3 a notice violation found by policy diff.",
		SilenceErrors:     true,
		SilenceUsage:      true,
		Args:              nil, // an unknown command is refused, with suggestions
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
		RunE: func(c *cobra.Command, args []string) error {
			return usagef("give a command; consentgate --help lists them")
		},
	}
	root.PersistentFlags().Var(storeFlag{a}, "store", "the store `DSN`: sqlite:PATH or postgres://HOST:PORT/DB?…")
	root.PersistentFlags().StringVar(&a.keysDir, "keys", "", "the `DIR` where keys and secrets live (default beside a SQLite store)")
	root.PersistentFlags().StringVar(&a.origin, "origin", "", "the log's origin `NAME` (its checkpoints' first line), set once when the store's signing key is created (default consentgate/ and a random id); refused if it is not the store's")
	a.once(root.PersistentFlags())
	root.SetFlagErrorFunc(a.flagError)

	byName := map[string]*cobra.Command{"": root}
	var parent func(name string) *cobra.Command
	parent = func(name string) *cobra.Command {
		words := strings.Fields(name)
		up := strings.Join(words[:len(words)-1], " ")
		if c, ok := byName[up]; ok {
			return c
		}
		g := &cobra.Command{
			Use:   words[len(words)-2] + " COMMAND",
			Short: groups[up],
			Args:  cobra.ArbitraryArgs,
			RunE: func(c *cobra.Command, args []string) error {
				if len(args) == 0 {
					return usagef("give one of its commands: %s", subcommands(c))
				}
				return usagef("unknown command %q; its commands are %s", args[0], subcommands(c))
			},
		}
		g.SetFlagErrorFunc(a.flagError)
		parent(up).AddCommand(g)
		byName[up] = g
		return g
	}
	for _, cmd := range commands() {
		words := strings.Fields(cmd.name)
		use := words[len(words)-1]
		if cmd.synopsis != "" {
			use += " " + cmd.synopsis
		}
		c := &cobra.Command{Use: use, Short: cmd.help, Args: argsOf(cmd.args)}
		run := cmd.build(a, c.Flags())
		for _, f := range cmd.required {
			fl := c.Flags().Lookup(f)
			fl.Usage += " (required)"
			_ = c.MarkFlagRequired(f)
		}
		a.once(c.Flags())
		c.SetFlagErrorFunc(a.flagError)
		required := cmd.required
		c.RunE = func(c *cobra.Command, args []string) error {
			// cobra checks that a required flag was given; an empty value
			// (--subject "") is no better than none.
			for _, f := range required {
				if fl := c.Flags().Lookup(f); fl.Value.Type() == "string" && fl.Value.String() == "" {
					return usagef("--%s: expected a value, found an empty one", f)
				}
			}
			return run(c.Context(), args)
		}
		if ex, ok := byName[cmd.name]; ok { // a group made before its own command
			*ex = *c
			c = ex
		}
		parent(cmd.name).AddCommand(c)
		byName[cmd.name] = c
	}
	return root
}

// subcommands lists a group's commands.
func subcommands(c *cobra.Command) string {
	var names []string
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	return strings.Join(names, ", ")
}

// argsOf checks a command's positional arguments.
func argsOf(names []string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(names) == 1 && strings.HasSuffix(names[0], "...") {
			return nil
		}
		if len(args) == len(names) {
			return nil
		}
		if len(names) == 0 {
			if c.HasSubCommands() {
				return usagef("unexpected argument %q (its commands are %s)", args[0], subcommands(c))
			}
			return usagef("unexpected argument %q", args[0])
		}
		return usagef("expected %s, got %s", strings.Join(names, " "), countOf(len(args), "argument", "arguments"))
	}
}

// flagError words pflag's complaint about a flag as a usage error that
// names the flag and what it allows.
func (a *app) flagError(c *cobra.Command, err error) error {
	if a.twice != "" {
		return usagef("--%s is given twice; give it once", a.twice)
	}
	msg := err.Error()
	// invalid argument "x" for "--workers" flag: expected ...
	if rest, ok := strings.CutPrefix(msg, "invalid argument "); ok {
		if val, rest, ok := strings.Cut(rest, " for "); ok {
			if name, why, ok := strings.Cut(rest, " flag: "); ok {
				name = strings.Trim(name, `"`)
				if i := strings.Index(name, "--"); i >= 0 {
					name = name[i:]
				}
				why = strings.TrimPrefix(why, "strconv.ParseInt: ")
				why = strings.TrimPrefix(why, "strconv.ParseUint: ")
				why = strings.TrimPrefix(why, "strconv.ParseBool: ")
				if strings.HasPrefix(why, "parsing ") {
					why = "expected a whole number"
				}
				return usagef("%s %s: %s", name, val, why)
			}
		}
	}
	return usagef("%s", msg)
}

// run is the whole program, callable from tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, storeDSN: "sqlite:consentgate.db"}
	root := newRoot(a)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	c, err := root.ExecuteContextC(ctx)
	if err == nil {
		err = a.closeErr
	}
	if err == nil {
		return 0
	}
	name := "consentgate"
	if c != nil {
		name = c.CommandPath()
	}
	msg := err.Error()
	var ue *usageError
	switch {
	case errors.As(err, &ue):
	case strings.HasPrefix(msg, "unknown command"), strings.HasPrefix(msg, "unknown flag"), strings.HasPrefix(msg, "unknown shorthand"):
		err = usagef("%s", strings.TrimRight(msg, "\n"))
	case strings.HasPrefix(msg, "required flag(s) "):
		var names []string
		for _, f := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(msg, "required flag(s) "), " not set"), ", ") {
			names = append(names, "--"+strings.Trim(f, `"`))
		}
		verb := "are"
		if len(names) == 1 {
			verb = "is"
		}
		err = usagef("%s %s required", orList(names), verb)
		err.(*usageError).msg = strings.Replace(err.(*usageError).msg, " or ", " and ", 1)
	}
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "%s: %v\n", name, ue)
		if c != nil && c != root {
			fmt.Fprintf(stderr, "usage: %s\nRun '%s --help' for more.\n", c.UseLine(), c.CommandPath())
		} else {
			fmt.Fprintln(stderr, "Run 'consentgate --help' for the commands.")
		}
		return 2
	}
	fmt.Fprintf(stderr, "%s: %s\n", name, message(err))
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}
