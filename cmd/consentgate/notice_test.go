package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/consentgate/consentgate/internal/notice"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

// exportNotice builds a notice about the first and the last record of
// the export whose output is dir/out.jsonl (the e2e export), from the
// output and the ids of its lines, and the store's log signer.
func exportNotice(t *testing.T, dir string) (notice.Notice, *translog.Signer, string) {
	t.Helper()
	out, err := os.Open(filepath.Join(dir, "out.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var ids [][]byte
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var r struct{ ID string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, []byte(r.ID))
	}
	out.Seek(0, 0)
	tree, err := notice.NewTree(out, ids)
	out.Close()
	if err != nil {
		t.Fatal(err)
	}
	manifest, _ := os.ReadFile(filepath.Join(dir, "out.jsonl.manifest.json"))
	var m struct {
		ExportID    string `json:"export_id"`
		RecordsRoot string `json:"records_root"`
	}
	json.Unmarshal(manifest, &m)
	if tree.Root() != m.RecordsRoot || tree.Size() < 2 {
		t.Fatalf("the rebuilt records_root %s (%d leaves), the manifest's %s", tree.Root(), tree.Size(), m.RecordsRoot)
	}
	n := notice.Notice{ID: "n-1", ExportID: m.ExportID, Recipient: "partner-x", RecordsRoot: tree.Root(), TreeSize: tree.Size(), IssuedAt: timestamp.Now()}
	for _, i := range []int64{0, tree.Size() - 1} {
		r, err := tree.Record(i, notice.Withdrawal)
		if err != nil {
			t.Fatal(err)
		}
		n.Records = append(n.Records, r)
	}
	signer, err := translog.LoadSigner(filepath.Join(dir, "consentgate.db.keys"), "")
	if err != nil {
		t.Fatal(err)
	}
	return n, signer, m.ExportID
}

// writeNotice writes a notice to dir/notice.json, signed when s is not nil.
func writeNotice(t *testing.T, dir string, n notice.Notice, s *translog.Signer) {
	t.Helper()
	if s != nil {
		if err := notice.Sign(&n, s); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.MarshalIndent(n, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "notice.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestNoticeVerify: a notice built from a real export's output, with the
// ids of its lines, has the manifest's records_root; signed with the
// log's key, `notice verify` checks it with the manifest and the public
// key alone, and refuses it when a record's hash, its proof, the
// notice's text or the key is not the right one.
func TestNoticeVerify(t *testing.T) {
	dir := setupE2E(t)
	ok(t, dir, append(append([]string{}, e2eExport...), "--out", "out.jsonl")...)
	n, signer, exportID := exportNotice(t, dir)
	m := struct{ ExportID string }{exportID}
	write := func(n notice.Notice, sign bool) {
		if sign {
			writeNotice(t, dir, n, signer)
		} else {
			writeNotice(t, dir, n, nil)
		}
	}
	verify := func() (string, string, int) {
		return cg(t, dir, "notice", "verify", "notice.json", "--manifest", "out.jsonl.manifest.json", "--key", "consentgate.db.keys/log.pub")
	}
	write(n, true)
	if o, e, code := verify(); code != 0 || !strings.Contains(o, "notice.json verified: notice n-1 to partner-x about export "+m.ExportID) || !strings.Contains(o, "2 records, each proved") {
		t.Fatalf("a good notice: exit %d\n%s%s", code, o, e)
	}
	bad := func(what string, change func(n *notice.Notice), sign bool, want string) {
		t.Helper()
		c := n
		c.Records = append([]notice.Record{}, n.Records...)
		for k := range c.Records {
			c.Records[k].Proof = append([]string{}, n.Records[k].Proof...)
		}
		change(&c)
		write(c, sign)
		if o, e, code := verify(); code == 0 || !strings.Contains(e, want) {
			t.Errorf("%s: exit %d, want an error with %q\n%s%s", what, code, want, o, e)
		}
	}
	bad("a line hash", func(n *notice.Notice) { n.Records[1].LineSHA256 = strings.Repeat("0", 64) }, true, "is not in records_root")
	bad("a proof", func(n *notice.Notice) { n.Records[0].Proof[0] = strings.Repeat("ab", 32) }, true, "record "+n.Records[0].ID+" (index 0) is not in records_root")
	bad("the text after signing", func(n *notice.Notice) { n.Recipient = "affiliates" }, false, "the notice's signature")
	bad("another export", func(n *notice.Notice) { n.ExportID = "exp-other" }, true, "the notice is about export exp-other")
	write(n, true)
	other := t.TempDir() // another log's key
	ok(t, other, "--store", "sqlite:o.db", "policy", "publish", filepath.Join(dir, "policy-1.yaml"))
	if o, e, code := cg(t, dir, "notice", "verify", "notice.json", "--manifest", "out.jsonl.manifest.json", "--key", filepath.Join(other, "o.db.keys", "log.pub")); code == 0 || !strings.Contains(e, "the notice's signature: it does not match the notice, with the log's key") {
		t.Errorf("another log's key: exit %d\n%s%s", code, o, e)
	}
	if o, e, code := cg(t, dir, "notice", "verify", "notice.json", "--manifest", "out.jsonl.manifest.json", "--key", "missing.pub"); code == 0 || !strings.Contains(e, "--key missing.pub") {
		t.Errorf("a key file that is not there: exit %d\n%s%s", code, o, e)
	}
}

// TestRecipientTokens: token create --role recipient --recipient ID makes a
// token for a declared recipient only, token list says whom it reaches,
// and the console's sign-in refuses it.
func TestRecipientTokens(t *testing.T) {
	dir := setupE2E(t)
	if _, e, code := cg(t, dir, "token", "create", "--role", "recipient"); code != 2 || !strings.Contains(e, "a recipient token needs --recipient") {
		t.Errorf("no --recipient: exit %d %s", code, e)
	}
	if _, e, code := cg(t, dir, "token", "create", "--role", "admin", "--recipient", "partner-x"); code != 2 || !strings.Contains(e, "--recipient is only for recipient tokens") {
		t.Errorf("--recipient on an admin token: exit %d %s", code, e)
	}
	if _, e, code := cg(t, dir, "token", "create", "--role", "recipient", "--recipient", "partner-y"); code != 1 || !strings.Contains(e, `recipient "partner-y": no published policy version declares it`) {
		t.Errorf("an undeclared recipient: exit %d %s", code, e)
	}
	token := strings.TrimSpace(ok(t, dir, "token", "create", "--role", "recipient", "--recipient", "partner-x"))
	if list := ok(t, dir, "token", "list"); !strings.Contains(list, "recipient  notices to partner-x") {
		t.Errorf("token list:\n%s", list)
	}
	url := serve(t, dir)
	for _, area := range []string{"admin", "privacy"} {
		resp, err := http.PostForm(url+"/"+area+"/login", neturl.Values{"token": {token}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("a recipient token signing in to /%s: %d", area, resp.StatusCode)
		}
	}
}
