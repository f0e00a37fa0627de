package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/demo"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/record"
	"github.com/consentgate/consentgate/internal/timestamp"
)

func cmdDemo(a *app, fs *pflag.FlagSet) runFunc {
	dir := fs.String("dir", "", "`DIR` for the demo's files and store (default: a new temporary directory)")
	members := new(int)
	*members = 5000
	fs.Var(countFlag{members, 40, "a whole number of at least 40 (one member per strict region and some more)"}, "members", "`N` members in the generated network, at least 40")
	seed := fs.Uint64("seed", 2024, "random `SEED` of the generated world")
	force := fs.Bool("force", false, "use --dir even when it holds files that are not a previous demo's (the demo's own names are overwritten)")
	return func(ctx context.Context, args []string) error {
		pos := args
		if len(pos) > 0 {
			return usagef("unexpected argument %q", pos[0])
		}
		if *members < 40 {
			return usagef("--members must be at least 40 (one per strict region and some more)")
		}
		start := time.Now()
		if *dir == "" {
			d, err := os.MkdirTemp("", "consentgate-demo-")
			if err != nil {
				return err
			}
			*dir = d
		} else if !*force {
			if err := demoDirUsable(*dir); err != nil {
				return err
			}
		}
		if abs, err := filepath.Abs(*dir); err == nil {
			*dir = abs
		}
		w := a.stdout
		files, stats, err := demo.Generate(*dir, *members, *seed)
		if err != nil {
			return err
		}
		dbPath := filepath.Join(*dir, "demo.db")
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(dbPath + suffix)
		}
		// The demo's own store: never the user's default one.
		a.storeDSN, a.keysDir = "sqlite:"+dbPath, ""
		// The story clock: the tour replays the notices of 2025 on its
		// calendar (storyNow), then comes back to the present.
		var storyNow timestamp.Time
		g, err := a.openWith(ctx, gate.Config{Mode: gate.Create, Warn: a.warn, StoryClock: func() timestamp.Time {
			if storyNow != 0 {
				return storyNow
			}
			return timestamp.Now()
		}})
		if err != nil {
			return err
		}
		defer a.done(g)

		fmt.Fprintf(w, "consentgate demo — a professional network and its AI-training policy\n")
		fmt.Fprintf(w, "  files and store in %s\n\n", *dir)
		fmt.Fprintf(w, "1. The network: %d members in %d countries (every strict region among them), %d premium, %d moved, %d premium lapsed.\n",
			stats.Members, stats.Countries, stats.Premium, stats.Moves, stats.Lapses)
		fmt.Fprintf(w, "   %d public posts and %d private messages, 2022–2025.\n\n", stats.Posts, stats.Messages)

		fmt.Fprintf(w, "2. The policy history:\n")
		var prev, forced string
		for _, p := range files.Policies {
			pf, err := a.readPolicy(p)
			if err != nil {
				return err
			}
			pub, err := g.Publish(ctx, access.Local, pf, false)
			if e := gate.As(err); e != nil && e.Hint == gate.Force {
				// The platform published it anyway: so does the tour, and the
				// store records it as forced.
				fmt.Fprintf(w, "   policy publish refuses %s: %s\n", pf.Table.Doc.Version, e.Message)
				forced = pf.Table.Doc.Version
				pub, err = g.Publish(ctx, access.Local, pf, true)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "   %s\n", publishedLine(pub))
			if forced == pub.Version {
				fmt.Fprintf(w, "   (the tour publishes it with --force, as the platform did; the store and the log record it as forced)\n")
			} else if forced == "" {
				prev = pub.Version
			}
		}
		fmt.Fprintln(w)

		sub, err := g.ImportSubjects(ctx, files.Subjects)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "3. Imported subjects: %s.\n", importReport(sub))
		con, err := g.ImportConsent(ctx, files.Consent)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "   Imported consent: %s — opt-ins under the baseline, opt-outs before and after\n", importReport(con))
		fmt.Fprintf(w, "   18 September 2024, refusals of third parties (some by Global Privacy Control), and opt-outs after the\n")
		fmt.Fprintf(w, "   export's as-of time (21 January 2025), which the tour exports as of, as a platform would have then.\n\n")

		if forced != "" {
			d, err := g.Diff(ctx, access.Local, gate.PolicyArg{Label: prev}, gate.PolicyArg{Label: forced})
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "   What the %s version changed (consentgate policy diff %s %s, exact over both versions' domains):\n", forced, prev, forced)
			var b strings.Builder
			printDiffLines(&b, d)
			for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
				fmt.Fprintf(w, "   %s\n", l)
			}
			for _, l := range wrapText(exposedSentence(d, stats.Members), 110) {
				fmt.Fprintf(w, "   %s\n", l)
			}
			fmt.Fprintln(w)
		}

		asOf := timestamp.FromTime(demo.AsOf)
		fields, err := demoFields()
		if err != nil {
			return err
		}
		req := gate.ExportRequest{Purpose: demo.ExportPurpose, Recipient: demo.ExportRecipient, AsOf: &asOf}
		req.Options.Inputs = []string{files.Posts, files.Messages}
		req.Options.Out = filepath.Join(*dir, "partner-x.jsonl")
		req.Options.Rejects = filepath.Join(*dir, "partner-x.rejects.jsonl")
		req.Options.Fields = fields
		m, err := g.Export(ctx, req)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "4. Export for %s (third party), purpose %s, as of %s:\n", m.Recipient, m.Purpose, m.AsOf)
		fmt.Fprintf(w, "   read %s: %d included from %s, %d excluded:\n", countOf(int(m.Counts.Read), "record", "records"), m.Counts.Included, countOf(int(m.Subjects), "member", "members"), m.Counts.Excluded)
		for _, r := range sortedReasons(m.Counts.ExcludedByReason) {
			fmt.Fprintf(w, "   %8d  %s\n", m.Counts.ExcludedByReason[r], r)
		}
		fmt.Fprintf(w, "   output %s, records_root %s\n\n", req.Options.Out, m.RecordsRoot)

		fmt.Fprintf(w, "5. Why some records stayed out (consentgate decide, for the line the rejects file names):\n")
		examples := []struct{ title, reason, check string }{
			{"A premium member's private message", "rule:premium-messages-stay-private", ""},
			{"A member in a strict region", "rule:no-ai-training-in-strict-regions", ""},
			{"Data collected under the baseline policy", "consent.required:ai-only-with-consent", "collection"},
		}
		for _, ex := range examples {
			rej, ok, err := findReject(req.Options.Rejects, ex.reason, ex.check)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			explained, err := explainLine(ctx, g, &req, fields, rej.File, rej.Line)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "\n   %s — record %s (%s line %d):\n", ex.title, rej.ID, filepath.Base(rej.File), rej.Line)
			for _, l := range strings.Split(strings.TrimRight(explained, "\n"), "\n") {
				fmt.Fprintf(w, "   %s\n", l)
			}
		}
		fmt.Fprintf(w, "\n6. Whose data %s holds that they no longer allow (consentgate impact):\n", m.Recipient)
		items, err := g.Impact(ctx, access.Local, timestamp.Min)
		if err != nil {
			return err
		}
		var b strings.Builder
		printImpact(&b, items, 8)
		for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
			fmt.Fprintf(w, "   %s\n", l)
		}
		fmt.Fprintf(w, "   Each is a deletion or retraining the platform owes the members, and a notice it owes the recipient.\n")

		notices, err := demoNotices(ctx, g, w, &storyNow, req.Options.Out)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "\n8. The transparency log (consentgate log verify): every policy, subject change, consent change, the\n")
		fmt.Fprintf(w, "   export's manifest, each notice and answer is a leaf, appended in the same transaction; no subject id or content is in it.\n")
		note, err := g.Checkpoint(ctx)
		if err != nil {
			return err
		}
		rep, err := g.VerifyLog(ctx, nil)
		if err != nil {
			return fmt.Errorf("the demo's own log does not verify: %w", err)
		}
		fmt.Fprintf(w, "   verified: %d leaves re-derived from the rows they record (%d policy, %d subject, %d consent, %d manifest, %d export state,\n",
			rep.Size, rep.Leaves["policy"], rep.Leaves["subject"], rep.Leaves["consent"], rep.Leaves["manifest"], rep.Leaves["export"])
		fmt.Fprintf(w, "   %d notice, %d answer, %d lineage), ", rep.Leaves["notice"], rep.Leaves["answer"], rep.Leaves["lineage"])
		fmt.Fprintf(w, "the copies views are read from compared with their rows (%d events),\n", rep.PackedRows)
		fmt.Fprintf(w, "   the tree recomputed, and the signed checkpoint (C2SP tlog-checkpoint):\n")
		for _, l := range strings.Split(strings.TrimRight(string(note), "\n"), "\n") {
			fmt.Fprintln(w, strings.TrimRight("     "+l, " "))
		}
		fmt.Fprintf(w, "   The manifest carries log index %d and an Ed25519 signature (consentgate manifest verify %s).\n", *m.LogIndex, req.Options.ManifestPath())
		reported := "m00003"
		if len(items) > 0 {
			reported = items[0].Subject
		}

		prog, how := explorer()
		fmt.Fprintf(w, "\nDone in %.1fs. Explore the store yourself%s:\n", time.Since(start).Seconds(), how)
		fmt.Fprintf(w, "   %s --store %s policy list\n", prog, a.storeDSN)
		fmt.Fprintf(w, "   %s --store %s policy diff %s %s\n", prog, a.storeDSN, prev, forced)
		fmt.Fprintf(w, "   %s --store %s report subject --subject %s\n", prog, a.storeDSN, reported)
		fmt.Fprintf(w, "   %s --store %s consent show --subject %s\n", prog, a.storeDSN, reported)
		fmt.Fprintf(w, "   %s --store %s log open --subject %s\n", prog, a.storeDSN, reported)
		fmt.Fprintf(w, "   %s --store %s log verify\n", prog, a.storeDSN)
		fmt.Fprintf(w, "   %s --store %s serve --addr 127.0.0.1:8080   # then, with tokens from\n", prog, a.storeDSN)
		fmt.Fprintf(w, "   %s --store %s token create --role subject --subject %s   # open http://127.0.0.1:8080/privacy/login?token=TOKEN\n", prog, a.storeDSN, reported)
		fmt.Fprintf(w, "   %s --store %s token create --role admin   # open http://127.0.0.1:8080/admin/login?token=TOKEN\n", prog, a.storeDSN)
		fmt.Fprintf(w, "   %s --store %s impact\n", prog, a.storeDSN)
		if len(notices) > 0 {
			fmt.Fprintf(w, "   %s --store %s notices            # and: notices send, notices show %s\n", prog, a.storeDSN, notices[0])
		}
		fmt.Fprintf(w, "   %s --store %s decide --subject m00003 --category user.content.public --created 2023-05-01T00:00:00Z --purpose %s --recipient %s --as-of 2025-01-21T00:00:00Z\n",
			prog, a.storeDSN, demo.ExportPurpose, demo.ExportRecipient)
		return nil
	}
}

// demoFiles are the names a demo writes in its directory.
var demoFiles = map[string]bool{
	"consent.jsonl": true, "subjects.jsonl": true, "posts.jsonl": true, "messages.jsonl": true,
	"demo.db": true, "demo.db-wal": true, "demo.db-shm": true, "demo.db.keys": true, "policies": true,
	"partner-x.jsonl": true, "partner-x.jsonl.manifest.json": true, "partner-x.rejects.jsonl": true,
}

// demoDirUsable refuses a --dir that holds anything but a previous demo's
// files: the demo overwrites its files by name, and the user's own
// posts.jsonl is not one of them.
func demoDirUsable(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	var other []string
	demoDB := false
	for _, e := range entries {
		if e.Name() == "demo.db" {
			demoDB = true
		}
		if !demoFiles[e.Name()] {
			other = append(other, e.Name())
		}
	}
	if demoDB && len(other) == 0 {
		return nil // a previous demo's: run it again
	}
	what := "files that are not a previous demo's"
	if len(other) > 0 {
		what = "other files (" + strings.Join(other[:min(3, len(other))], ", ")
		if len(other) > 3 {
			what += ", …"
		}
		what += ")"
	}
	return usagef("--dir %s is not empty: it holds %s; give an empty or new directory, or --force to write the demo's files there anyway", dir, what)
}

// explorer is how the person who ran the demo runs the binary again: the
// same way they ran it. go run builds into a temporary directory, so its
// users are shown go run.
func explorer() (prog, how string) {
	exe, err := os.Executable()
	if err != nil {
		return "consentgate", " (build the binary first: go build ./cmd/consentgate)"
	}
	if strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/consentgate", " (from the repository's root; or go build ./cmd/consentgate and use ./consentgate)"
	}
	if p, err := exec.LookPath("consentgate"); err == nil {
		if same, _ := filepath.EvalSymlinks(p); same == exe || p == exe {
			return "consentgate", ""
		}
	}
	return exe, ""
}

func demoFields() (record.Fields, error) { return demo.ExportFields() }

// exposedSentence says what a diff's count of exposed subjects (SPEC §2.5)
// means, for a person: how many of the members, to whom, and — when every
// widened combination is one where the member never chose — why.
func exposedSentence(d *gate.Diff, members int) string {
	if d.Exposed == nil || d.Widening == 0 {
		return fmt.Sprintf("Nothing %s allows was refused under %s, so the change exposes no member.", d.New, d.Old)
	}
	var to []string
	silent := true
	for _, c := range d.Changes {
		if !c.Widening {
			continue
		}
		for _, r := range c.Recipients {
			if !slices.Contains(to, r) {
				to = append(to, r)
			}
		}
		silent = silent && slices.Equal(c.Consent, []string{"none"})
	}
	slices.Sort(to)
	state := []string{"region"}
	for _, a := range d.Domain.Attributes {
		state = append(state, a.Name)
	}
	s := fmt.Sprintf("The widening exposed %d of the %d members: as they stand today (their %s and consent), "+
		"version %s lets data of theirs go to %s where version %s did not.", *d.Exposed, members, strings.Join(state, ", "), d.New, orList(to), d.Old)
	if silent {
		s += " Each of them never said yes or no to such a use: the new version's opt-out default takes their silence for a yes."
	}
	return s
}

// orList reads "a", "a or b", "a, b or c".
func orList(xs []string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

// wrapText breaks a paragraph into lines of at most width bytes, at spaces.
func wrapText(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}

type rejectLine struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	ID     string `json:"id"`
	Reason string `json:"reason"`
	Check  string `json:"check"`
}

// findReject returns the first reject with the reason (and check, if given).
func findReject(path, reason, check string) (rejectLine, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return rejectLine{}, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r rejectLine
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return r, false, err
		}
		if r.Reason == reason && (check == "" || r.Check == check) {
			return r, true, nil
		}
	}
	return rejectLine{}, false, sc.Err()
}

// explainLine re-reads one input line and has it decided again, with the
// full explanation, as the export decided it.
func explainLine(ctx context.Context, g *gate.Gate, req *gate.ExportRequest, fields record.Fields, file string, line int) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	for n := 1; ; n++ {
		l, err := br.ReadBytes('\n')
		if n == line {
			l = bytes.TrimRight(l, "\r\n")
			ex, err := g.DecideLine(ctx, access.Local, fields, l, req.Purpose, req.Recipient, req.AsOf)
			if err != nil {
				return "", fmt.Errorf("%s:%d: %s", file, line, message(err))
			}
			return ex.Text(), nil
		}
		if err == io.EOF {
			return "", fmt.Errorf("%s has no line %d", file, line)
		}
		if err != nil {
			return "", err
		}
	}
}
