package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/httpapi"
)

// hardened is a server run the way `serve` runs it (Server.Run on a real
// TCP listener), with an admin token.
type hardened struct {
	srv   *httpapi.Server
	g     *gate.Gate
	url   string
	addr  string
	admin string
}

func newHardened(t *testing.T) *hardened {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	g := openGate(t, dir, gate.Create, true)
	publish(t, g, testPolicy)
	subjects := writeFile(t, dir, "subjects.jsonl", `{"subject":"ana","at":"2021-01-01T00:00:00Z","region":"US"}`+"\n")
	if _, err := g.ImportSubjects(ctx, subjects); err != nil {
		t.Fatal(err)
	}
	admin, err := g.CreateToken(ctx, access.Admin, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.New(httpapi.Config{Gate: g, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx, l) }()
	t.Cleanup(func() { stop(); <-done })
	return &hardened{srv: srv, g: g, url: "http://" + l.Addr().String(), addr: l.Addr().String(), admin: admin}
}

// send makes one request ("" token: none) and returns the answer with its
// body read.
func (h *hardened) send(t *testing.T, token, method, path, contentType, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// apiError reads the API's error shape, failing when the body is not it.
func apiError(t *testing.T, what string, resp *http.Response, b []byte) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Errorf("%s: not the API's error shape: %v\n%s", what, err, b)
	}
	return e.Error.Code
}

// publicRoute says which routes anyone may call: health, metrics, the
// OpenAPI document, the log and its proofs, the published schemas.
func publicRoute(path string) bool {
	switch path {
	case "/healthz", "/metrics", "/openapi.json":
		return true
	}
	return strings.HasPrefix(path, "/log/") || strings.HasPrefix(path, "/v1/log/") || strings.HasPrefix(path, "/schemas/")
}

// concrete fills a route's wildcards with id ({id}, {version}: the
// subject ana and the version v1 when id is "").
func concrete(path, id string) string {
	var b strings.Builder
	for rest := path; ; {
		before, after, ok := strings.Cut(rest, "{")
		b.WriteString(before)
		if !ok {
			return b.String()
		}
		name, tail, _ := strings.Cut(after, "}")
		rest = tail
		switch {
		case strings.HasSuffix(name, "..."):
			b.WriteString("0/000")
		case id != "":
			b.WriteString(id)
		case name == "version":
			b.WriteString("v1")
		default:
			b.WriteString("ana")
		}
	}
}

// TestHardeningEveryRoute is the authorization and hardening table over
// every route the server serves: without a token every route but the
// public ones answers 401 with a Bearer challenge; every answer is
// nosniff; every authenticated one is no-store; a body declared
// text/plain where JSON is expected is 415; an id in the path with a
// NUL, a bidi override or 300 bytes is 400.
func TestHardeningEveryRoute(t *testing.T) {
	h := newHardened(t)
	badIDs := map[string]string{"NUL": "a%00b", "U+202E": "a%E2%80%AEb", "newline": "a%0Ab", "300 bytes": strings.Repeat("a", 300)}
	for _, rt := range h.srv.Routes() {
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			path := concrete(rt.Path, "")
			body := ""
			if rt.Method != "GET" {
				body = "{}"
			}
			resp, b := h.send(t, "", rt.Method, path, "", body)
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("unauthenticated: X-Content-Type-Options %q", got)
			}
			if publicRoute(rt.Path) {
				if resp.StatusCode == http.StatusUnauthorized {
					t.Errorf("a public route answers 401: %s", b)
				}
				return
			}
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("unauthenticated: %d, want 401\n%s", resp.StatusCode, b)
			}
			if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer ") {
				t.Errorf("401 with WWW-Authenticate %q", got)
			}
			apiError(t, "401", resp, b)
			resp, b = h.send(t, "not-a-token", rt.Method, path, "", body)
			if got := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 401 || !strings.Contains(got, `error="invalid_token"`) {
				t.Errorf("a wrong token: %d, WWW-Authenticate %q", resp.StatusCode, got)
			}

			resp, b = h.send(t, h.admin, rt.Method, path, "", body)
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("authenticated (%d): Cache-Control %q, want no-store", resp.StatusCode, got)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("authenticated: X-Content-Type-Options %q", got)
			}
			if rt.Method != "GET" {
				resp, b = h.send(t, h.admin, rt.Method, path, "text/plain", body)
				if resp.StatusCode != http.StatusUnsupportedMediaType {
					t.Errorf("a text/plain body: %d, want 415\n%s", resp.StatusCode, b)
				} else if code := apiError(t, "415", resp, b); code != "unsupported_media_type" {
					t.Errorf("415 code %q", code)
				}
				if resp.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("415 without no-store")
				}
			}
			if !strings.Contains(rt.Path, "{") {
				return
			}
			for name, id := range badIDs {
				resp, b := h.send(t, h.admin, rt.Method, concrete(rt.Path, id), "application/json", body)
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("id with %s: %d, want 400\n%.300s", name, resp.StatusCode, b)
					continue
				}
				if code := apiError(t, "bad id", resp, b); code != "invalid" {
					t.Errorf("id with %s: code %q", name, code)
				}
			}
		})
	}
}

// TestUnknownPathAndMethod: the API answers its own error shape for a
// path nothing serves (404) and a method a path does not take (405,
// with Allow), nosniff both.
func TestUnknownPathAndMethod(t *testing.T) {
	h := newHardened(t)
	for _, c := range []struct {
		method, path string
		want         int
		allow        string
	}{
		{"GET", "/nope", 404, ""},
		{"GET", "/v1/nope", 404, ""},
		{"GET", "/", 404, ""},
		{"DELETE", "/v1/subjects/ana", 405, "GET, HEAD, PUT"},
		{"POST", "/healthz", 405, "GET, HEAD"},
		{"PUT", "/v1/policies", 405, "GET, HEAD, POST"},
	} {
		resp, b := h.send(t, h.admin, c.method, c.path, "", "")
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d\n%s", c.method, c.path, resp.StatusCode, c.want, b)
			continue
		}
		apiError(t, c.method+" "+c.path, resp, b)
		if got := resp.Header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: no nosniff", c.method, c.path)
		}
	}
}

// TestContentTypes: JSON bodies may be declared application/json (or a
// +json type) or not at all; a policy may be YAML or JSON.
func TestContentTypes(t *testing.T) {
	h := newHardened(t)
	consentBody := `{"purpose":"train_ai_system","recipient":"third_party","state":"denied"}`
	for _, c := range []struct {
		method, path, ct, body string
		want                   int
	}{
		{"POST", "/v1/subjects/ana/consents", "application/json", consentBody, 201},
		{"POST", "/v1/subjects/ana/consents", "application/json; charset=utf-8", consentBody, 201},
		{"POST", "/v1/subjects/ana/consents", "", consentBody, 201},
		{"POST", "/v1/subjects/ana/consents", "text/plain;charset=UTF-8", consentBody, 415},
		{"POST", "/v1/subjects/ana/consents", "application/x-www-form-urlencoded", consentBody, 415},
		{"POST", "/v1/subjects/ana/consents", "multipart/form-data; boundary=x", consentBody, 415},
		{"POST", "/v1/policies", "application/yaml", testPolicy, 200},
		{"POST", "/v1/policies", "text/yaml", testPolicy, 200},
		{"POST", "/v1/policies", "", testPolicy, 200},
		{"POST", "/v1/policies", "text/plain", testPolicy, 415},
	} {
		resp, b := h.send(t, h.admin, c.method, c.path, c.ct, c.body)
		if resp.StatusCode != c.want {
			t.Errorf("%s %s as %q: %d, want %d\n%s", c.method, c.path, c.ct, resp.StatusCode, c.want, b)
		}
	}
}

// TestSlowBodyCutOff: a body trickled in a byte at a time does not hold
// a connection: the server answers 408 and closes it within the body
// timeout (ten seconds), not after the body would have ended (more than
// a minute).
func TestSlowBodyCutOff(t *testing.T) {
	t.Parallel()
	h := newHardened(t)
	conn, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const length = 100
	start := time.Now()
	fmt.Fprintf(conn, "POST /v1/subjects/ana/consents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", h.admin, length)
	// The trickle: a byte a second, for longer than the server may wait.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for range length - 1 {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	// The client waits at most 30 s for an answer, and measures.
	conn.SetReadDeadline(start.Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer after %s: %v", time.Since(start), err)
	}
	b, _ := io.ReadAll(resp.Body)
	took := time.Since(start)
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("a trickled body: %d, want 408\n%s", resp.StatusCode, b)
	}
	if took > 15*time.Second {
		t.Errorf("the server held the connection %s", took)
	}
	// And then the connection is closed: a read ends at once, not at the
	// client's deadline.
	var one [1]byte
	_, err = conn.Read(one[:])
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("the connection stayed open after the 408")
	}
	t.Logf("cut off after %s", took)
}

// TestImportRefusesBadIDs: the imports read ids by the API's rule, and
// name the file and line of a bad one.
func TestImportRefusesBadIDs(t *testing.T) {
	h := newHardened(t)
	ctx := context.Background()
	dir := t.TempDir()
	for name, id := range map[string]string{"NUL": `a\u0000b`, "newline": `a\nb`, "U+202E": "a\u202eb", "U+2066": `a\u2066b`, "300 bytes": strings.Repeat("a", 300), "DEL": "a\x7fb"} {
		subjects := writeFile(t, dir, "subjects.jsonl", `{"subject":"ok","at":"2021-01-01T00:00:00Z"}`+"\n"+`{"subject":"`+id+`","at":"2021-01-01T00:00:00Z"}`+"\n")
		if _, err := h.g.ImportSubjects(ctx, subjects); err == nil || !strings.Contains(err.Error(), subjects+":2:") || !strings.Contains(err.Error(), "id") {
			t.Errorf("subjects with %s: %v", name, err)
		}
		cons := writeFile(t, dir, "consent.jsonl", `{"subject":"`+id+`","purpose":"train_ai_system","state":"denied","at":"2021-01-01T00:00:00Z"}`+"\n")
		if _, err := h.g.ImportConsent(ctx, cons); err == nil || !strings.Contains(err.Error(), cons+":1:") || !strings.Contains(err.Error(), "id") {
			t.Errorf("consent with %s: %v", name, err)
		}
	}
	ok := strings.Repeat("é", 128) // 256 bytes: the longest id there is
	resp, b := h.send(t, h.admin, "PUT", "/v1/subjects/"+ok, "application/json", `{"region":"US"}`)
	if resp.StatusCode != 201 {
		t.Errorf("a 256-byte id: %d %s", resp.StatusCode, b)
	}
}

// TestStrictBodies: a JSON body is held to the imports' rules — a key
// given twice (at the top or nested), invalid UTF-8 or an empty body is
// refused naming the problem, before anything is read from it.
func TestStrictBodies(t *testing.T) {
	w := newWorld(t)
	for _, c := range []struct{ body, want string }{
		{`{"export":"e","subject":"ana","status":"open","status":"wontfix"}`, `field \"status\" given twice`},
		{`{"export":"e","subject":"ana","status":"open","x":{"a":1,"a":2}}`, `given twice`},
		{"{\"export\":\"e\xff\",\"subject\":\"ana\",\"status\":\"open\"}", "not valid UTF-8"},
		{``, "the body is empty"},
		{`{"export":"e","subject":"ana","status":"open"} {}`, "bytes after the value"},
	} {
		code, b := w.do("admin", "POST", "/v1/impact/marks", c.body)
		if code != 400 || !strings.Contains(string(b), c.want) {
			t.Errorf("%q: %d %s, want 400 with %q", c.body, code, b, c.want)
		}
	}
	if code, b := w.do("admin", "POST", "/v1/decisions", `[{"subjects":[{"id":"ana","role":"author"}],"subjects":[]}]`); code != 400 || !strings.Contains(string(b), "given twice") {
		t.Errorf("a key twice in a batch's element: %d %s", code, b)
	}
}
