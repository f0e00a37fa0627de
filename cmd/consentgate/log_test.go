package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	logfmt "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/consentgate/consentgate/internal/inclusion"
	"github.com/consentgate/consentgate/internal/sqlite"
	"github.com/consentgate/consentgate/internal/translog"
)

// logged sets up the e2e store with an export, an impact mark and a few
// single consent changes, so that every kind of leaf and several
// checkpoints exist.
func logged(t *testing.T) string {
	t.Helper()
	dir := setupE2E(t)
	ok(t, dir, append(append([]string{}, e2eExport...), "--out", "out.jsonl", "--rejects", "out.rej")...)
	ok(t, dir, "consent", "set", "--subject", "ana", "--purpose", "train_ai_system", "--state", "denied", "--at", "2025-02-01T00:00:00Z")
	var m struct {
		ExportID string `json:"export_id"`
	}
	json.Unmarshal([]byte(readFile(t, dir, "out.jsonl.manifest.json")), &m)
	ok(t, dir, "impact", "mark", "--export", m.ExportID, "--subject", "ana", "--status", "notified", "--note", "mailed")
	return dir
}

// leafIndex finds the log index of the leaf recording (kind, ref).
func leafIndex(t *testing.T, dir string, kind translog.Kind, ref string) int64 {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "consentgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	size, _ := st.LogSize(ctx)
	found := int64(-1)
	st.LogLeaves(ctx, 0, size, func(i int64, d []byte) error {
		if l, err := translog.DecodeLeaf(d); err == nil && l.Kind == kind && l.Ref == ref && found < 0 {
			found = i
		}
		return nil
	})
	if found < 0 {
		t.Fatalf("no leaf records %s %s", kind, ref)
	}
	return found
}

// tamper copies the store, runs SQL on the copy and returns its dir.
func tamper(t *testing.T, dir string, stmts ...string) string {
	t.Helper()
	cp := t.TempDir()
	out, err := exec.Command("cp", "-a", dir+"/.", cp).CombinedOutput()
	if err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	db, err := sql.Open("sqlite", filepath.Join(cp, "consentgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return cp
}

type verifyOut struct {
	OK         bool   `json:"ok"`
	Index      int64  `json:"index"`
	Checkpoint int64  `json:"checkpoint"`
	Row        string `json:"row"`
	Problem    string `json:"problem"`
	Error      string `json:"error"`
}

func verifyJSON(t *testing.T, dir string, args ...string) (verifyOut, int) {
	t.Helper()
	out, errOut, code := cg(t, dir, append([]string{"log", "verify", "--json"}, args...)...)
	var v verifyOut
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("log verify --json: %v\n%s%s", err, out, errOut)
	}
	return v, code
}

// TestLogTampering edits the store under the log in each way an insider
// might and requires log verify to fail naming the first bad index.
func TestLogTampering(t *testing.T) {
	dir := logged(t)
	if v, code := verifyJSON(t, dir); code != 0 || !v.OK {
		t.Fatalf("the untouched store does not verify: %+v (exit %d)", v, code)
	}
	consent2 := leafIndex(t, dir, translog.KindConsent, "2")
	consent1 := leafIndex(t, dir, translog.KindConsent, "1")
	consent3 := leafIndex(t, dir, translog.KindConsent, "3")
	policy := leafIndex(t, dir, translog.KindPolicy, "2024-09-18")
	subject4 := leafIndex(t, dir, translog.KindSubject, "4")
	// A byte of leaf 5 inside the first bundle: each leaf is a 2-byte
	// length and its bytes.
	var off int
	{
		st, _ := sqlite.Open(context.Background(), filepath.Join(dir, "consentgate.db"))
		st.LogLeaves(context.Background(), 0, 5, func(_ int64, d []byte) error { off += 2 + len(d); return nil })
		st.Close()
	}
	flip := fmt.Sprintf(`UPDATE log SET data = substr(data, 1, %d) || (CASE WHEN substr(data, %d, 1) = X'00' THEN X'01' ELSE X'00' END) || substr(data, %d) WHERE bundle = 0`,
		off+10, off+11, off+12)

	var manifestID string
	{
		var m struct {
			ExportID string `json:"export_id"`
		}
		json.Unmarshal([]byte(readFile(t, dir, "out.jsonl.manifest.json")), &m)
		manifestID = m.ExportID
	}
	manifest := leafIndex(t, dir, translog.KindManifest, manifestID)
	impact := leafIndex(t, dir, translog.KindImpact, "1")

	cases := []struct {
		name  string
		sql   []string
		index int64
		says  string
	}{
		{"a byte of a leaf", []string{flip}, 5, "does not match"},
		{"a consent row edited", []string{`UPDATE consent_events SET state = 3 - state WHERE seq = 2`}, consent2, "does not match"},
		{"a consent row's time edited", []string{`UPDATE consent_events SET at = at - 1 WHERE seq = 3`}, consent3, "does not match"},
		{"a consent row deleted", []string{`DELETE FROM consent_events WHERE seq = 3`}, consent3, "missing from the store"},
		{"consent rows reordered", []string{`UPDATE consent_events SET seq = -1 WHERE seq = 1`, `UPDATE consent_events SET seq = 1 WHERE seq = 2`, `UPDATE consent_events SET seq = 2 WHERE seq = -1`}, consent1, "does not match"},
		{"a subject row edited", []string{`UPDATE subject_events SET region = 'US' WHERE seq = 4`}, subject4, "does not match"},
		{"a policy's source edited", []string{`UPDATE policies SET source = CAST(source || ' ' AS BLOB) WHERE version = '2024-09-18'`}, policy, "does not match"},
		{"a manifest edited in the store", []string{`UPDATE exports SET manifest = CAST(replace(manifest, '"included": ', '"included": 1') AS BLOB)`}, manifest, "does not match"},
		{"a manifest stored as text", []string{`UPDATE exports SET manifest = CAST(manifest AS TEXT)`}, -1, "never writes there"},
		{"an impact mark edited", []string{`UPDATE impact_marks SET status = 'waived'`}, impact, "does not match"},
		{"an export's subject set edited", []string{fmt.Sprintf(`UPDATE exports SET subjects = X'%x'`, (&inclusion.Subjects{Numbers: []int64{1}, Records: []uint32{1}}).Encode())}, manifest + 1, "does not match what the store keeps"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, code := verifyJSON(t, tamper(t, dir, c.sql...))
			if code != 1 || v.OK || v.Index != c.index || !strings.Contains(v.Problem, c.says) {
				t.Fatalf("want index %d (%q), got exit %d %+v", c.index, c.says, code, v)
			}
		})
	}
	t.Run("a consent row added without its leaf", func(t *testing.T) {
		v, code := verifyJSON(t, tamper(t, dir, `INSERT INTO consent_events(subject, purpose, recipient, state, at, source, recorded_at, key) VALUES ('eve','train_ai_system','',1,0,'x',0,X'00')`))
		if code != 1 || v.OK || !strings.Contains(v.Problem, "is not in the log") {
			t.Fatalf("got exit %d %+v", code, v)
		}
	})
	t.Run("checkpoints swapped", func(t *testing.T) {
		v, code := verifyJSON(t, tamper(t, dir,
			`CREATE TABLE c AS SELECT * FROM checkpoints`,
			`UPDATE checkpoints SET note = (SELECT note FROM c WHERE c.size = (SELECT max(size) FROM c)) WHERE size = (SELECT min(size) FROM c)`,
			`UPDATE checkpoints SET note = (SELECT note FROM c WHERE c.size = (SELECT min(size) FROM c)) WHERE size = (SELECT max(size) FROM c)`))
		if code != 1 || v.OK || v.Index != -1 || !strings.Contains(v.Problem, "signed for size") {
			t.Fatalf("got exit %d %+v", code, v)
		}
	})
	t.Run("a checkpoint's root re-signed by another key", func(t *testing.T) {
		skey, _, _ := note.GenerateKey(nil, "consentgate/evil")
		signer, _ := note.NewSigner(skey)
		forged, _ := note.Sign(&note.Note{Text: "consentgate/evil\n1\n" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n"}, signer)
		v, code := verifyJSON(t, tamper(t, dir, fmt.Sprintf(`UPDATE checkpoints SET note = X'%x' WHERE size = (SELECT min(size) FROM checkpoints)`, forged)))
		if code != 1 || v.OK || v.Index != -1 || !strings.Contains(v.Problem, "signature") {
			t.Fatalf("got exit %d %+v", code, v)
		}
	})
	t.Run("the log truncated, caught by a checkpoint kept outside", func(t *testing.T) {
		ok(t, dir, "log", "checkpoint")
		os.WriteFile(filepath.Join(dir, "outside.checkpoint"), []byte(ok(t, dir, "log", "checkpoint")), 0o644)
		cp := tamper(t, dir, `DELETE FROM checkpoints`, `UPDATE log SET n = n - 1 WHERE bundle = (SELECT max(bundle) FROM log)`)
		v, code := verifyJSON(t, cp, "--checkpoint", "outside.checkpoint")
		if code != 1 || v.OK || !strings.Contains(v.Problem, "--checkpoint") {
			t.Fatalf("got exit %d %+v", code, v)
		}
	})
	if v, code := verifyJSON(t, dir, "--checkpoint", "outside.checkpoint"); code != 0 || !v.OK {
		t.Fatalf("the untouched store with its outside checkpoint: %+v", v)
	}
}

// TestLogAuditor checks the checkpoint, tiles and proofs as an outside
// auditor would: with the libraries' own verification functions, from the
// files and command output alone.
func TestLogAuditor(t *testing.T) {
	dir := logged(t)
	// Enough leaves for full and partial tiles on two levels.
	var lines bytes.Buffer
	for i := range 700 {
		fmt.Fprintf(&lines, `{"subject":"a%03d","purpose":"train_ai_system","state":"denied","at":"2024-02-01T00:00:00Z","source":"settings"}`+"\n", i)
	}
	os.WriteFile(filepath.Join(dir, "more.jsonl"), lines.Bytes(), 0o644)
	ok(t, dir, "consent", "import", "more.jsonl")
	ok(t, dir, "log", "tiles", "--out", "tiles")
	vkey := strings.TrimSpace(readFile(t, dir, "consentgate.db.keys/log.pub"))
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	cpText := []byte(readFile(t, dir, "tiles/checkpoint"))
	cp, _, _, err := logfmt.ParseCheckpoint(cpText, verifier.Name(), verifier)
	if err != nil {
		t.Fatalf("checkpoint: %v\n%s", err, cpText)
	}
	if !strings.HasPrefix(cp.Origin, "consentgate/") || cp.Size < 700 {
		t.Fatalf("checkpoint %+v", cp)
	}
	size := int64(cp.Size)
	var root tlog.Hash
	copy(root[:], cp.Hash)
	// Go's tlog reads C2SP tiles: the same layout without the height in
	// the path.
	tr := tileDir{filepath.Join(dir, "tiles")}
	hr := tlog.TileHashReader(tlog.Tree{N: size, Hash: root}, tr)
	entries := readBundles(t, filepath.Join(dir, "tiles"), size)
	for _, i := range []int64{0, 1, 255, 256, 511, size / 2, size - 1} {
		p, err := tlog.ProveRecord(size, i, hr)
		if err != nil {
			t.Fatalf("prove %d: %v", i, err)
		}
		if err := tlog.CheckRecord(p, size, root, i, tlog.RecordHash(entries[i])); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	for _, old := range []int64{1, 7, 256, 300, size - 1} {
		oldHash, err := tlog.TreeHash(old, hr)
		if err != nil {
			t.Fatal(err)
		}
		p, err := tlog.ProveTree(size, old, hr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckTree(p, size, root, old, oldHash); err != nil {
			t.Fatalf("tree %d → %d: %v", old, size, err)
		}
	}
	// The command line proofs, checked with transparency-dev/merkle.
	var inc struct {
		Index    uint64   `json:"index"`
		Size     uint64   `json:"size"`
		Leaf     []byte   `json:"leaf"`
		LeafHash []byte   `json:"leaf_hash"`
		Root     []byte   `json:"root"`
		Proof    []string `json:"proof"`
	}
	json.Unmarshal([]byte(ok(t, dir, "log", "prove", "inclusion", "--index", "3", "--json")), &inc)
	if !bytes.Equal(inc.Root, cp.Hash) || inc.Size != cp.Size || !bytes.Equal(inc.Leaf, entries[3]) {
		t.Fatalf("inclusion proof against another tree: %+v", inc)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, inc.Index, inc.Size, rfc6962.DefaultHasher.HashLeaf(inc.Leaf), unb64(t, inc.Proof), cp.Hash); err != nil {
		t.Fatalf("inclusion: %v", err)
	}
	var cons struct {
		From, To         uint64
		FromRoot, ToRoot []byte `json:"-"`
		FR               []byte `json:"from_root"`
		TR               []byte `json:"to_root"`
		Proof            []string
	}
	json.Unmarshal([]byte(ok(t, dir, "log", "prove", "consistency", "--from", "5", "--json")), &cons)
	oldRoot, _ := tlog.TreeHash(5, hr)
	if !bytes.Equal(cons.FR, oldRoot[:]) || !bytes.Equal(cons.TR, cp.Hash) {
		t.Fatalf("consistency roots: %+v", cons)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, 5, cons.To, unb64(t, cons.Proof), cons.FR, cons.TR); err != nil {
		t.Fatalf("consistency: %v", err)
	}
	// A member opens their entries: each salt gives the pseudonym in the
	// leaf, and the export's pseudonym is proven in its subjects_root.
	var opened struct {
		Entries []struct {
			Index     int64
			Kind      string
			Salt      string
			Pseudonym string
		}
		Exports []struct {
			Pseudonym     string
			SubjectsRoot  string `json:"subjects_root"`
			SubjectsIndex *int   `json:"subjects_index"`
			SubjectsSize  int    `json:"subjects_size"`
			Proof         []string
		}
	}
	json.Unmarshal([]byte(ok(t, dir, "log", "open", "--subject", "ana", "--json")), &opened)
	if len(opened.Entries) < 3 || len(opened.Exports) != 1 {
		t.Fatalf("log open: %+v", opened)
	}
	for _, e := range opened.Entries {
		l, err := translog.DecodeLeaf(entries[e.Index])
		salt, _ := hex.DecodeString(e.Salt)
		p := sha256.Sum256(append(salt, "ana"...))
		if err != nil || !bytes.Equal(l.Pseudonym, p[:]) || hex.EncodeToString(p[:]) != e.Pseudonym {
			t.Fatalf("entry %+v: the salt does not give the leaf's pseudonym", e)
		}
	}
	ex := opened.Exports[0]
	pseud, _ := hex.DecodeString(ex.Pseudonym)
	sroot, _ := hex.DecodeString(ex.SubjectsRoot)
	if ex.SubjectsIndex == nil || !strings.Contains(m0(t, dir), ex.SubjectsRoot) {
		t.Fatalf("export pseudonym: %+v", ex)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(*ex.SubjectsIndex), uint64(ex.SubjectsSize), rfc6962.DefaultHasher.HashLeaf(pseud), unhex(t, ex.Proof), sroot); err != nil {
		t.Fatalf("the member's pseudonym is not proven in subjects_root: %v", err)
	}
	// Erasure: the key goes, the log still verifies, nobody can open it.
	ok(t, dir, "log", "erase", "--subject", "ana")
	if _, errOut, code := cg(t, dir, "log", "open", "--subject", "ana"); code != 1 || !strings.Contains(errOut, "erased") {
		t.Fatalf("log open after erasure: exit %d %s", code, errOut)
	}
	var rep struct {
		OK     bool
		Report struct{ Erased int }
	}
	json.Unmarshal([]byte(ok(t, dir, "log", "verify", "--json")), &rep)
	if !rep.OK || rep.Report.Erased < len(opened.Entries) {
		t.Fatalf("verify after erasure: %+v", rep)
	}

	// The manifest verifies; edited, it does not.
	if out := ok(t, dir, "manifest", "verify", "out.jsonl.manifest.json"); strings.Count(out, "ok  ") < 4 {
		t.Fatalf("manifest verify:\n%s", out)
	}
	m := readFile(t, dir, "out.jsonl.manifest.json")
	os.WriteFile(filepath.Join(dir, "edited.json"), []byte(strings.Replace(m, `"purpose": "`, `"purpose": "x`, 1)), 0o644)
	if out, _, code := cg(t, dir, "manifest", "verify", "edited.json"); code != 1 || !strings.Contains(out, "FAIL signature") || !strings.Contains(out, "FAIL log inclusion") {
		t.Fatalf("an edited manifest: exit %d\n%s", code, out)
	}
	os.WriteFile(filepath.Join(dir, "out.jsonl"), []byte("{}\n"), 0o644)
	if out, _, code := cg(t, dir, "manifest", "verify", "out.jsonl.manifest.json"); code != 1 || !strings.Contains(out, "FAIL output") {
		t.Fatalf("an edited output: exit %d\n%s", code, out)
	}
}

// m0 is the export's manifest file.
func m0(t *testing.T, dir string) string { return readFile(t, dir, "out.jsonl.manifest.json") }

func unb64(t *testing.T, ss []string) [][]byte {
	var out [][]byte
	for _, s := range ss {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func unhex(t *testing.T, ss []string) [][]byte {
	var out [][]byte
	for _, s := range ss {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// tileDir reads C2SP tlog-tiles from a folder for Go's tlog package.
type tileDir struct{ dir string }

func (d tileDir) Height() int { return 8 }

func (d tileDir) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := os.ReadFile(filepath.Join(d.dir, translog.TilePath(t)))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (d tileDir) SaveTiles([]tlog.Tile, [][]byte) {}

// readBundles reads every entry from the entry bundles.
func readBundles(t *testing.T, dir string, size int64) [][]byte {
	var out [][]byte
	for _, tile := range tlog.NewTiles(8, 0, size) {
		if tile.L != 0 {
			continue
		}
		tile.L = -1
		b, err := os.ReadFile(filepath.Join(dir, translog.TilePath(tile)))
		if err != nil {
			t.Fatal(err)
		}
		es, err := translog.SplitBundle(b)
		if err != nil || len(es) != tile.W {
			t.Fatalf("bundle %s: %d entries, %v", tile.Path(), len(es), err)
		}
		out = append(out, es...)
	}
	return out
}

// TestLogCrash kills the process in the middle of a large import and
// between an export's log append and its renames: every acknowledged event
// is in the store and the log, the log verifies, and no output looks
// complete.
func TestLogCrash(t *testing.T) {
	dir := setupE2E(t)
	// Acknowledged one at a time.
	for i := range 5 {
		ok(t, dir, "consent", "set", "--subject", "ben", "--purpose", "train_ai_system", "--state", []string{"granted", "denied"}[i%2],
			"--at", fmt.Sprintf("2025-03-0%dT00:00:00Z", i+1))
	}
	f, _ := os.Create(filepath.Join(dir, "big.jsonl"))
	w := bufio.NewWriter(f)
	for i := range 40_000 {
		fmt.Fprintf(w, `{"subject":"k%06d","purpose":"train_ai_system","state":"granted","at":"2024-01-01T00:00:00Z","source":"settings"}`+"\n", i)
	}
	w.Flush()
	f.Close()
	// Killed once its first chunk is stored in its transaction (a fault
	// point: deterministic, not a race with a timer).
	cmd := exec.Command(binary, "consent", "import", "big.jsonl")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CONSENTGATE_TEST_CRASH=after-import-chunk")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("the import was not killed:\n%s", out)
	}
	v, code := verifyJSON(t, dir)
	if code != 0 || !v.OK {
		t.Fatalf("after a kill mid-import: %+v", v)
	}
	if out := ok(t, dir, "consent", "show", "--subject", "ben"); len(regexp.MustCompile(`2025-03-0\dT00:00:00Z  (granted|denied)`).FindAllString(out, -1)) != 5 {
		t.Fatalf("acknowledged events lost:\n%s", out)
	}
	// The import was one transaction, not acknowledged: none of it stays.
	if out := ok(t, dir, "consent", "show", "--subject", "k000001"); !strings.Contains(out, "(no consent events)") {
		t.Fatalf("part of the killed import is in the store:\n%s", out)
	}

	// Killed between the log append and the renames.
	args := append(append([]string{}, e2eExport...), "--out", "crash.jsonl", "--rejects", "crash.rej")
	c := exec.Command(binary, args...)
	c.Dir = dir
	c.Env = append(os.Environ(), "CONSENTGATE_TEST_CRASH=after-log")
	if out, err := c.CombinedOutput(); err == nil {
		t.Fatalf("the crash point was not reached:\n%s", out)
	}
	for _, f := range []string{"crash.jsonl", "crash.rej", "crash.jsonl.manifest.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s looks complete after the crash", f)
		}
	}
	// A read-only command shows it abandoned and writes nothing; the next
	// writing command marks it so in the store.
	if out := ok(t, dir, "report", "subject", "--subject", "ana", "--json"); !strings.Contains(out, `"status": "abandoned"`) {
		t.Errorf("report does not show the abandoned export:\n%s", out)
	}
	if _, errOut, _ := cg(t, dir, "log", "verify"); strings.Contains(errOut, "marked abandoned") {
		t.Errorf("a read-only command marked the export: %q", errOut)
	}
	_, errOut, _ := cg(t, dir, "log", "checkpoint")
	if !strings.Contains(errOut, "marked abandoned") {
		t.Errorf("the logged export without files was not marked abandoned by the next writing command: %q", errOut)
	}
	if v, code := verifyJSON(t, dir); code != 0 || !v.OK {
		t.Fatalf("after a crash mid-export: %+v", v)
	}
	if out := ok(t, dir, "report", "subject", "--subject", "ana", "--json"); !strings.Contains(out, `"status": "abandoned"`) {
		t.Errorf("report does not show the abandoned export:\n%s", out)
	}
}

// exportStatus is an export's status as report subject (--json) shows it
// to a command run in dir on the store at storePath.
func exportStatus(t *testing.T, dir, storePath, id string) string {
	t.Helper()
	out := ok(t, dir, "--store", "sqlite:"+storePath, "report", "subject", "--subject", "ana", "--json")
	var rep struct {
		Exports []struct {
			ExportID string `json:"export_id"`
			Status   string `json:"status"`
		} `json:"exports"`
	}
	json.Unmarshal([]byte(out), &rep)
	for _, e := range rep.Exports {
		if e.ExportID == id || id == "" {
			return e.Status
		}
	}
	return ""
}

// listedStatus is an export's status as `exports --json` lists it.
func listedStatus(t *testing.T, dir, storePath, id string) string {
	t.Helper()
	var l struct {
		Exports []struct{ ID, Status string }
	}
	if err := json.Unmarshal([]byte(ok(t, dir, "--store", "sqlite:"+storePath, "exports", "--json")), &l); err != nil {
		t.Fatal(err)
	}
	for _, e := range l.Exports {
		if e.ID == id {
			return e.Status
		}
	}
	return ""
}

// lastExportID is the id of the store's newest export (the newest line of
// report subject).
func lastExportID(t *testing.T, dir, storePath string) string {
	t.Helper()
	out := ok(t, dir, "--store", "sqlite:"+storePath, "report", "subject", "--subject", "ana", "--json")
	var rep struct {
		Exports []struct {
			ExportID string `json:"export_id"`
		} `json:"exports"`
	}
	json.Unmarshal([]byte(out), &rep)
	if len(rep.Exports) == 0 {
		t.Fatalf("no export:\n%s", out)
	}
	return rep.Exports[len(rep.Exports)-1].ExportID
}

// TestExportCrashAtEachRename (SPEC §5): an export killed after its log
// append, or after any rename but the manifest's, is abandoned at the next
// opening of the store — by a command run from another directory, which
// still finds the export's relative paths — and its temporary files are
// removed; one killed after its manifest's rename, all its files in place,
// is complete. The status change is logged either way.
func TestExportCrashAtEachRename(t *testing.T) {
	for _, c := range []struct{ point, want string }{
		{"after-log", "abandoned"}, {"after-rename-output", "abandoned"}, {"after-rename-rejects", "abandoned"}, {"after-rename-manifest", "complete"},
	} {
		t.Run(c.point, func(t *testing.T) {
			dir := setupE2E(t)
			storePath := filepath.Join(dir, "consentgate.db")
			cmd := exec.Command(binary, append(append([]string{}, e2eExport...), "--out", "crash.jsonl", "--rejects", "crash.rej")...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "CONSENTGATE_TEST_CRASH="+c.point)
			if out, err := cmd.CombinedOutput(); err == nil {
				t.Fatalf("the crash point was not reached:\n%s", out)
			}
			elsewhere := t.TempDir()
			id := lastExportID(t, elsewhere, storePath)
			// A read-only look from elsewhere works it out, writing nothing.
			if got := exportStatus(t, elsewhere, storePath, id); got != c.want {
				t.Fatalf("seen read-only from another directory: %s, want %s", got, c.want)
			}
			// The next writing command, from elsewhere, records it.
			_, errOut, code := cg(t, elsewhere, "--store", "sqlite:"+storePath, "log", "checkpoint")
			if code != 0 || (c.want == "abandoned") != strings.Contains(errOut, "marked abandoned") {
				t.Fatalf("the next writing command: exit %d %q", code, errOut)
			}
			if got := exportStatus(t, elsewhere, storePath, id); got != c.want {
				t.Fatalf("after the next writing command: %s, want %s", got, c.want)
			}
			// `exports` says the same as report subject, as text, as JSON,
			// and with the export's manifest.
			if got := listedStatus(t, elsewhere, storePath, id); got != c.want {
				t.Fatalf("exports --json: %s, want %s", got, c.want)
			}
			if out := ok(t, elsewhere, "--store", "sqlite:"+storePath, "exports"); !regexp.MustCompile(`(?m)^` + id + ` +` + c.want + ` `).MatchString(out) {
				t.Fatalf("exports does not list %s as %s:\n%s", id, c.want, out)
			}
			var shown struct {
				Export   struct{ ID, Status string }
				Manifest struct {
					ExportID string `json:"export_id"`
				}
			}
			if err := json.Unmarshal([]byte(ok(t, elsewhere, "--store", "sqlite:"+storePath, "exports", "show", id)), &shown); err != nil ||
				shown.Export.ID != id || shown.Export.Status != c.want || shown.Manifest.ExportID != id {
				t.Fatalf("exports show %s: %+v %v", id, shown, err)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".crash*.tmp-*")); len(left) != 0 {
				t.Fatalf("temporary files left: %v", left)
			}
			// An abandoned export leaves nothing that looks complete: what
			// it had renamed into place is removed; a complete one keeps
			// all its files.
			for _, f := range []string{"crash.jsonl", "crash.rej", "crash.jsonl.manifest.json"} {
				_, err := os.Stat(filepath.Join(dir, f))
				if (c.want == "abandoned") == (err == nil) {
					t.Errorf("%s after the %s export: %v", f, c.want, err)
				}
			}
			if v, code := verifyJSON(t, dir); code != 0 || !v.OK {
				t.Fatalf("log verify after the crash: %+v", v)
			}
		})
	}
}

// TestRunningExportLeftAlone: a command that opens the store while an
// export is finishing (paused between its renames, deterministically) does
// not mark it abandoned; the export then completes.
func TestRunningExportLeftAlone(t *testing.T) {
	dir := setupE2E(t)
	cmd := exec.Command(binary, append(append([]string{}, e2eExport...), "--out", "run.jsonl", "--rejects", "run.rej")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CONSENTGATE_TEST_PAUSE=after-rename-output")
	stdin, _ := cmd.StdinPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && !strings.Contains(sc.Text(), "paused at after-rename-output") {
	}
	storePath := filepath.Join(dir, "consentgate.db")
	id := lastExportID(t, dir, storePath)
	_, errOut, code := cg(t, dir, "log", "checkpoint")
	if code != 0 || strings.Contains(errOut, "abandoned") {
		t.Fatalf("a writing command during the export: exit %d %q", code, errOut)
	}
	if got := exportStatus(t, dir, storePath, id); got != "logged" {
		t.Fatalf("the running export is %s, want logged", got)
	}
	stdin.Write([]byte("\n"))
	for sc.Scan() {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the export, resumed: %v", err)
	}
	if got := exportStatus(t, dir, storePath, id); got != "complete" {
		t.Fatalf("after it finished: %s", got)
	}
	if v, code := verifyJSON(t, dir); code != 0 || !v.OK {
		t.Fatalf("log verify: %+v", v)
	}
}

// TestCheckpointAfterCommitFails: a command whose change is stored but
// whose checkpoint cannot be signed (the signing key unreadable here) says
// so and succeeds; the next writing command signs the tail.
func TestCheckpointAfterCommitFails(t *testing.T) {
	dir := setupE2E(t)
	key := filepath.Join(dir, "consentgate.db.keys", "log.key")
	good, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(key, []byte("PRIVATE+KEY+garbled\n"), 0o600)
	out, errOut, code := cg(t, dir, "consent", "set", "--subject", "ben", "--purpose", "train_ai_system", "--state", "denied")
	if code != 0 || !strings.Contains(out, "recorded") || !strings.Contains(errOut, "warning: the change is stored") || !strings.Contains(errOut, "the next command that writes signs it") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	v, _ := verifyJSON(t, dir)
	if !v.OK {
		t.Fatalf("log verify with the tail unsigned: %+v", v)
	}
	os.WriteFile(key, good, 0o600)
	ok(t, dir, "consent", "set", "--subject", "ben", "--purpose", "train_ai_system", "--state", "granted")
	out = ok(t, dir, "log", "verify")
	if strings.Contains(out, "not signed yet") {
		t.Fatalf("the tail is still unsigned after the next writing command:\n%s", out)
	}
}

// httpTiles reads C2SP tlog-tiles over HTTP for Go's tlog package.
type httpTiles struct {
	t   *testing.T
	url string
}

func (h httpTiles) Height() int { return 8 }

func (h httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		code, b, _ := httpGet(h.t, h.url+"/log/"+translog.TilePath(t), nil)
		if code != 200 {
			return nil, fmt.Errorf("GET /log/%s: %d %s", translog.TilePath(t), code, b)
		}
		out[i] = b
	}
	return out, nil
}

func (h httpTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// httpGet fetches a URL with the headers given, without Go's transparent
// decompression: the body as it came, and the answer's headers.
func httpGet(t *testing.T, url string, header map[string]string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// openCheckpoint opens a signed checkpoint with golang.org/x/mod's note
// and the key given, and reads its tree.
func openCheckpoint(t *testing.T, signed []byte, key string) (string, tlog.Tree) {
	t.Helper()
	v, err := note.NewVerifier(strings.TrimSpace(key))
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		t.Fatalf("checkpoint: %v\n%s", err, signed)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 3 {
		t.Fatalf("checkpoint %q", n.Text)
	}
	var tree tlog.Tree
	fmt.Sscan(lines[1], &tree.N)
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != 32 || tree.N <= 0 {
		t.Fatalf("checkpoint %q", n.Text)
	}
	copy(tree.Hash[:], h)
	return lines[0], tree
}

// moreConsent imports n consent events for new subjects prefix000….
func moreConsent(t *testing.T, dir, prefix string, n int) {
	t.Helper()
	var lines bytes.Buffer
	for i := range n {
		fmt.Fprintf(&lines, `{"subject":"%s%03d","purpose":"train_ai_system","state":"denied","at":"2024-02-01T00:00:00Z","source":"settings"}`+"\n", prefix, i)
	}
	os.WriteFile(filepath.Join(dir, prefix+".jsonl"), lines.Bytes(), 0o644)
	ok(t, dir, "consent", "import", prefix+".jsonl")
}

// TestOlderCheckpointFromTiles: a client holding an older checkpoint
// checks it against the tiles the running server serves once the log has
// grown past it (C2SP tlog-tiles: the partial tiles of every size a
// checkpoint was signed for), with golang.org/x/mod's tlog and note and
// the key the server publishes; log tiles --out writes the same tiles;
// entry bundles come gzip'd to a client that asks.
func TestOlderCheckpointFromTiles(t *testing.T) {
	dir := setupE2E(t)
	moreConsent(t, dir, "a", 300)
	old := []byte(ok(t, dir, "log", "checkpoint"))
	moreConsent(t, dir, "b", 400)
	latest := []byte(ok(t, dir, "log", "checkpoint"))
	url := serve(t, dir)

	code, key, _ := httpGet(t, url+"/log/key", nil)
	if code != 200 {
		t.Fatalf("GET /log/key: %d", code)
	}
	if cli := ok(t, dir, "log", "key"); cli != string(key) {
		t.Fatalf("log key printed %q, GET /log/key answers %q", cli, key)
	}
	origin, oldTree := openCheckpoint(t, old, string(key))
	_, tree := openCheckpoint(t, latest, string(key))
	if !strings.HasPrefix(origin, "consentgate/") || oldTree.N>>8 != 1 || tree.N>>8 < 2 {
		t.Fatalf("origin %q, trees of %d and %d leaves: expected the older with a partial level-0 tile the newer has full", origin, oldTree.N, tree.N)
	}
	// The older tree's own partial tile, which the latest tree does not
	// have.
	partial := fmt.Sprintf("/log/tile/0/001.p/%d", oldTree.N-256)
	if code, b, _ := httpGet(t, url+partial, nil); code != 200 || len(b) != int(oldTree.N-256)*32 {
		t.Fatalf("GET %s: %d, %d bytes", partial, code, len(b))
	}
	if code, _, _ := httpGet(t, url+fmt.Sprintf("/log/tile/0/001.p/%d", oldTree.N-255), nil); code != 404 {
		t.Fatalf("a partial tile of a size no checkpoint has: %d", code)
	}

	// The older root, recomputed from the served tiles alone.
	for _, tr := range []tlog.Tree{oldTree, tree} {
		hr := tlog.TileHashReader(tr, httpTiles{t, url})
		root, err := tlog.TreeHash(tr.N, hr)
		if err != nil || root != tr.Hash {
			t.Fatalf("tree of %d leaves from the served tiles: %v, root %s, checkpoint %s", tr.N, err, root, tr.Hash)
		}
	}
	hr := tlog.TileHashReader(tree, httpTiles{t, url})
	p, err := tlog.ProveTree(tree.N, oldTree.N, hr)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(p, tree.N, tree.Hash, oldTree.N, oldTree.Hash); err != nil {
		t.Fatalf("the older tree is not a prefix of the newer: %v", err)
	}

	// The older tree's partial entry bundle: gzip'd when asked, and its
	// entries are the leaves its hashes are of.
	bundle := fmt.Sprintf("/log/tile/entries/001.p/%d", oldTree.N-256)
	code, plain, h := httpGet(t, url+bundle, nil)
	if code != 200 || h.Get("Content-Encoding") != "" || !strings.Contains(h.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("GET %s: %d, Content-Encoding %q, Vary %q", bundle, code, h.Get("Content-Encoding"), h.Get("Vary"))
	}
	code, zipped, h := httpGet(t, url+bundle, map[string]string{"Accept-Encoding": "gzip"})
	if code != 200 || h.Get("Content-Encoding") != "gzip" || !strings.Contains(h.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("GET %s with Accept-Encoding: gzip: %d, Content-Encoding %q, Vary %q", bundle, code, h.Get("Content-Encoding"), h.Get("Vary"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, plain) || len(zipped) >= len(plain) {
		t.Fatalf("gzip'd bundle: %v; %d bytes gzip'd, %d plain, same %v", err, len(zipped), len(plain), bytes.Equal(unzipped, plain))
	}
	entries, err := translog.SplitBundle(plain)
	if err != nil || len(entries) != int(oldTree.N-256) {
		t.Fatalf("bundle: %d entries, %v", len(entries), err)
	}
	ohr := tlog.TileHashReader(oldTree, httpTiles{t, url})
	for _, i := range []int64{256, oldTree.N - 1} {
		p, err := tlog.ProveRecord(oldTree.N, i, ohr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(p, oldTree.N, oldTree.Hash, i, tlog.RecordHash(entries[i-256])); err != nil {
			t.Fatalf("entry %d of the older tree's bundle: %v", i, err)
		}
	}
	// A hash tile is not compressed (it would not shrink).
	if _, _, h := httpGet(t, url+partial, map[string]string{"Accept-Encoding": "gzip"}); h.Get("Content-Encoding") != "" {
		t.Fatalf("a hash tile came %s", h.Get("Content-Encoding"))
	}

	// Static serving: log tiles --out has the older tree's partial tiles
	// too, byte for byte the server's.
	ok(t, dir, "log", "tiles", "--out", "tiles")
	fromFiles := tlog.TileHashReader(oldTree, tileDir{filepath.Join(dir, "tiles")})
	if root, err := tlog.TreeHash(oldTree.N, fromFiles); err != nil || root != oldTree.Hash {
		t.Fatalf("older tree from log tiles --out: %v", err)
	}
	if b := readFile(t, dir, filepath.Join("tiles", bundle[len("/log/"):])); b != string(plain) {
		t.Fatalf("the written bundle %s differs from the served one", bundle)
	}
	// Written again, nothing changes: every tile there is kept.
	if out := ok(t, dir, "log", "tiles", "--out", "tiles"); !strings.HasPrefix(out, "wrote 0 tiles") {
		t.Fatalf("log tiles again: %s", out)
	}
}

// TestOrigin: a store's origin is its own — unique, not the host name —,
// set once when its signing key is created (--origin, or a random id),
// kept across sessions, and a --origin that is not the store's is
// refused. A store whose key was made before (under the host name) keeps
// signing as it did.
func TestOrigin(t *testing.T) {
	origins := map[string]bool{}
	host, _ := os.Hostname()
	for range 2 {
		dir := e2eDir(t)
		ok(t, dir, "policy", "publish", "policy-1.yaml")
		o1, _ := openCheckpoint(t, []byte(ok(t, dir, "log", "checkpoint")), ok(t, dir, "log", "key"))
		ok(t, dir, "policy", "publish", "policy-2.yaml")
		o2, _ := openCheckpoint(t, []byte(ok(t, dir, "log", "checkpoint")), ok(t, dir, "log", "key"))
		if o1 != o2 || !regexp.MustCompile(`^consentgate/[0-9a-f]{16}$`).MatchString(o1) || strings.Contains(o1, host) {
			t.Fatalf("origins %q then %q", o1, o2)
		}
		origins[o1] = true
		if _, errOut, code := cg(t, dir, "--origin", "consentgate/other", "log", "checkpoint"); code != 2 || !strings.Contains(errOut, o1) {
			t.Fatalf("another --origin: exit %d %s", code, errOut)
		}
		ok(t, dir, "--origin", o1, "log", "checkpoint") // its own is fine
	}
	if len(origins) != 2 {
		t.Fatalf("two stores sign as %v", origins)
	}

	// Given at creation, it is the origin.
	dir := e2eDir(t)
	ok(t, dir, "--origin", "consent.example.com/log", "policy", "publish", "policy-1.yaml")
	if o, _ := openCheckpoint(t, []byte(ok(t, dir, "log", "checkpoint")), ok(t, dir, "log", "key")); o != "consent.example.com/log" {
		t.Fatalf("origin %q", o)
	}
	if _, errOut, code := cg(t, e2eDir(t), "--origin", "two words", "policy", "publish", "policy-1.yaml"); code != 2 || !strings.Contains(errOut, "origin") {
		t.Fatalf("--origin with a space: exit %d %s", code, errOut)
	}

	// A key made the old way, named after the host: the store keeps it.
	dir = e2eDir(t)
	skey, vkey, err := note.GenerateKey(nil, "consentgate/vm")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "consentgate.db.keys"), 0o700)
	os.WriteFile(filepath.Join(dir, "consentgate.db.keys", "log.key"), []byte(skey+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "consentgate.db.keys", "log.pub"), []byte(vkey+"\n"), 0o644)
	ok(t, dir, "policy", "publish", "policy-1.yaml")
	if key := ok(t, dir, "log", "key"); key != vkey+"\n" {
		t.Fatalf("log key %q, the store's key %q", key, vkey)
	}
	if o, _ := openCheckpoint(t, []byte(ok(t, dir, "log", "checkpoint")), vkey); o != "consentgate/vm" {
		t.Fatalf("origin %q", o)
	}
}
