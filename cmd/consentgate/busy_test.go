package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestServerDuringLongImport: while an import holds the store for writing
// (paused inside its transaction, deterministically), the server's writes
// answer 503 with Retry-After and a JSON error naming the cause within a
// few seconds — never a 500, never a hang — and its reads go on; once the
// import commits, writes go through again; every write acknowledged is
// stored, none refused is.
func TestServerDuringLongImport(t *testing.T) {
	dir := setupE2E(t)
	var sb strings.Builder
	for i := range 15_000 {
		fmt.Fprintf(&sb, `{"subject":"ana","purpose":"train_ai_system","state":"%s","at":"2024-02-%02dT%02d:%02d:%02dZ","source":"import"}`+"\n",
			[]string{"granted", "denied"}[i%2], 1+i/3600%28, i/3600%24, i/60%60, i%60)
	}
	os.WriteFile(filepath.Join(dir, "long.jsonl"), []byte(sb.String()), 0o644)
	url := serve(t, dir)
	token := strings.TrimSpace(strings.Split(ok(t, dir, "token", "create", "--role", "admin"), "\n")[0])
	token = token[strings.LastIndex(token, " ")+1:]

	imp := exec.Command(binary, "consent", "import", "long.jsonl")
	imp.Dir = dir
	imp.Env = append(os.Environ(), "CONSENTGATE_TEST_PAUSE=after-import-chunk")
	stdin, _ := imp.StdinPipe()
	stderr, _ := imp.StderrPipe()
	if err := imp.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && !strings.Contains(sc.Text(), "paused at after-import-chunk") {
	}

	type answer struct {
		status int
		retry  string
		body   string
		took   time.Duration
		at     string
	}
	write := func(i int) answer {
		at := fmt.Sprintf("2025-05-01T00:%02d:%02dZ", i/60, i%60)
		body := fmt.Sprintf(`{"purpose":"train_ai_system","recipient":"third_party","state":"denied","at":%q,"source":"support"}`, at)
		req, _ := http.NewRequest("POST", url+"/v1/subjects/ben/consents", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return answer{resp.StatusCode, resp.Header.Get("Retry-After"), string(b), time.Since(start), at}
	}
	var mu sync.Mutex
	var acked, refused []string
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := write(i)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case a.status == 201:
				acked = append(acked, a.at)
			case a.status == 503 && a.retry != "" && strings.Contains(a.body, `"code":"busy"`) && strings.Contains(a.body, "another writer"):
				refused = append(refused, a.at)
			default:
				t.Errorf("a write during the import: %d %q %s", a.status, a.retry, a.body)
			}
			if a.took > 10*time.Second {
				t.Errorf("a write during the import took %s", a.took)
			}
		}()
	}
	// The command line says the same, in the same words.
	cli := exec.Command(binary, "consent", "set", "--subject", "ben", "--purpose", "train_ai_system", "--state", "granted")
	cli.Dir = dir
	cli.Env = append(os.Environ(), "CONSENTGATE_BUSY_TIMEOUT=500ms")
	if out, err := cli.CombinedOutput(); err == nil || !strings.Contains(string(out), "the store is busy: another writer holds it") || strings.Contains(string(out), "SQLITE") {
		t.Errorf("the command line during the import: %v\n%s", err, out)
	}
	// Reads go on meanwhile.
	req, _ := http.NewRequest("GET", url+"/v1/subjects/ana/consents", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("a read during the import: %v %v", resp, err)
	}
	wg.Wait()
	if len(refused) == 0 {
		t.Fatal("no write was refused while the import held the store")
	}
	stdin.Write([]byte("\n"))
	for sc.Scan() {
	}
	if err := imp.Wait(); err != nil {
		t.Fatalf("the import, resumed: %v", err)
	}
	for i := 8; i < 12; i++ {
		if a := write(i); a.status != 201 {
			t.Fatalf("a write after the import: %d %s", a.status, a.body)
		} else {
			acked = append(acked, a.at)
		}
	}
	hist := ok(t, dir, "consent", "show", "--subject", "ben", "--json")
	for _, at := range acked {
		if !strings.Contains(hist, at) {
			t.Errorf("the acknowledged write at %s is not stored", at)
		}
	}
	for _, at := range refused {
		if strings.Contains(hist, at) {
			t.Errorf("the refused write at %s is stored", at)
		}
	}
	if out := ok(t, dir, "consent", "show", "--subject", "ana", "--json"); strings.Count(out, `"source": "import"`) < 15_000 {
		t.Errorf("the import is not all stored")
	}
}

// TestDiskFull: on a full disk, a write is refused as such — 507 over HTTP
// with a JSON error, a clear message on the command line — nothing is
// stored, /healthz says the store is unwritable; with room again, writes
// go through and /healthz is ok. (A small tmpfs of its own: run as root,
// as CI is.)
func TestDiskFull(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs for the full disk (needs root, as CI has): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	src := setupE2E(t)
	dir := filepath.Join(mnt, "w")
	if out, err := exec.Command("cp", "-a", src, dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	url := serve(t, dir)
	token := strings.TrimSpace(strings.Split(ok(t, dir, "token", "create", "--role", "admin"), "\n")[0])
	token = token[strings.LastIndex(token, " ")+1:]
	do := func(method, path, body string) (int, string) { return call(t, url, token, method, path, body) }
	if code, body := do("GET", "/healthz", ""); code != 200 {
		t.Fatalf("healthz with room: %d %s", code, body)
	}
	// Fill the disk.
	filler := filepath.Join(mnt, "filler")
	f, _ := os.Create(filler)
	buf := make([]byte, 1<<16)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	var st syscall.Statfs_t
	syscall.Statfs(mnt, &st)
	refusals := 0
	for i := range 50 {
		body := fmt.Sprintf(`{"purpose":"train_ai_system","state":"denied","at":"2025-06-01T00:00:%02dZ","source":"support"}`, i)
		code, b := do("POST", "/v1/subjects/ben/consents", body)
		switch {
		case code == 507 && strings.Contains(b, `"code":"full"`) && strings.Contains(b, "disk is full"):
			refusals++
		case code == 201:
		default:
			t.Fatalf("a write on a full disk: %d %s", code, b)
		}
	}
	if refusals == 0 {
		t.Fatalf("no write was refused with the disk full (%d blocks free)", st.Bavail)
	}
	code, body := do("GET", "/healthz", "")
	var h struct{ Status string }
	json.Unmarshal([]byte(body), &h)
	if code != 503 || h.Status != "unwritable" {
		t.Fatalf("healthz on a full disk: %d %s", code, body)
	}
	if _, errOut, code := cg(t, dir, "consent", "set", "--subject", "ben", "--purpose", "train_ai_system", "--state", "granted"); code != 1 || !strings.Contains(errOut, "disk is full") {
		t.Fatalf("the command line on a full disk: exit %d %q", code, errOut)
	}
	// Room again.
	os.Remove(filler)
	if code, b := do("POST", "/v1/subjects/ben/consents", `{"purpose":"train_ai_system","state":"granted","source":"support"}`); code != 201 {
		t.Fatalf("a write with room again: %d %s", code, b)
	}
	if code, body := do("GET", "/healthz", ""); code != 200 {
		t.Fatalf("healthz with room again: %d %s", code, body)
	}
	if v, code := verifyJSON(t, dir); code != 0 || !v.OK {
		t.Fatalf("log verify after the full disk: %+v", v)
	}
}
