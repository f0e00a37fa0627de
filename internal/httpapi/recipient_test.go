package httpapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
)

// TestRecipientToken: a recipient token (SPEC §11) names a declared
// recipient, lists as reaching that recipient's notices, and is refused
// on every subject, export, policy, decision and impact route; the public
// log answers it like anyone.
func TestRecipientToken(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if _, err := w.g.CreateToken(ctx, access.Recipient, "nobody-we-know"); gate.CodeOf(err) != gate.Invalid || !strings.Contains(err.Error(), "no published policy version declares it") {
		t.Fatalf("a token for an undeclared recipient: %v", err)
	}
	if _, err := w.g.CreateToken(ctx, access.Recipient, ""); gate.CodeOf(err) != gate.Invalid {
		t.Fatalf("a recipient token naming no recipient: %v", err)
	}
	if _, err := w.g.CreateToken(ctx, access.Auditor, "partner-x"); gate.CodeOf(err) != gate.Invalid {
		t.Fatalf("an auditor token naming a recipient: %v", err)
	}
	secret, err := w.g.CreateToken(ctx, access.Recipient, "partner-x")
	if err != nil {
		t.Fatal(err)
	}
	w.tokens["partner-x"] = secret
	p, err := w.g.Authenticate(ctx, secret)
	if err != nil || p.Role != access.Recipient || p.Recipient != "partner-x" || p.Subject != "" {
		t.Fatalf("the recipient token's principal: %+v %v", p, err)
	}
	if !p.Can(access.ReadNotices, "partner-x") || p.Can(access.ReadNotices, "self") || p.Can(access.AnswerNotice, "self") || p.Can(access.ReadSubject, "partner-x") {
		t.Fatalf("what a recipient token may do: %+v", p)
	}
	ts, _ := w.g.Tokens(ctx)
	found := false
	for _, tk := range ts {
		found = found || tk.Role == "recipient" && tk.Recipient == "partner-x" && tk.Subject == ""
	}
	if !found {
		t.Fatalf("token list: %+v", ts)
	}
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/subjects/ana", ""},
		{"GET", "/v1/subjects/ana/consents", ""},
		{"POST", "/v1/subjects/ana/consents", `{"purpose":"train_ai_system.generative","state":"denied"}`},
		{"GET", "/v1/subjects/ana/report", ""},
		{"GET", "/v1/exports", ""},
		{"GET", "/v1/impact", ""},
		{"GET", "/v1/policies", ""},
		{"POST", "/v1/policies", testPolicy},
		{"POST", "/v1/decisions", `{"decisions":[]}`},
	} {
		if code, b := w.do("partner-x", c.method, c.path, c.body); code != 403 {
			t.Errorf("%s %s with a recipient token: %d %s", c.method, c.path, code, b)
		}
	}
	if code, _ := w.do("partner-x", "GET", "/log/checkpoint", ""); code != 200 {
		t.Errorf("the public log with a recipient token: %d", code)
	}
}
