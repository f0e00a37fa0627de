package consent

import (
	"testing"

	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

func TestISO27560States(t *testing.T) {
	evs := []Event{
		{Subject: "u", Purpose: "a.b", State: policy.Granted, At: 1, Source: "settings"},
		{Subject: "u", Purpose: "a", Recipient: "third_party", State: policy.Denied, At: 2, Source: "gpc"},
		{Subject: "u", Purpose: "z", State: policy.Denied, At: 3, Source: "api"},
		{Subject: "u", Purpose: "a", Recipient: "p", State: policy.Denied, At: 4, Source: "api"},
		{Subject: "u", Purpose: "a", State: policy.Denied, At: 5, Source: "support"},
		{Subject: "u", Purpose: "a", State: policy.Denied, At: 6, Source: "support"},
	}
	out := ToISO27560("u", evs, func(t timestamp.Time) string {
		if t < 3 {
			return "DE"
		}
		return ""
	}, func(e *Event) (*ISONotice, *policy.Document) {
		if e.At < 2 {
			return nil, nil
		}
		return &ISONotice{Version: "v2"}, nil
	})
	want := []string{"given", "withdrawn", "refused", "withdrawn", "withdrawn", "refused"}
	for i, r := range out.Records {
		if r.State != want[i] {
			t.Errorf("record %d: %s, want %s", i, r.State, want[i])
		}
	}
	if out.Records[0].Jurisdiction != "DE" || out.Records[3].Jurisdiction != "unknown" || out.Records[0].Notice != nil ||
		out.Records[1].Notice.Version != "v2" || out.Records[1].Recipients[0].Type != "class" || out.Records[0].Recipients[0].ID != "*" ||
		out.Records[3].Recipients[0].Type != "recipient" || out.Records[1].Method != "Global Privacy Control signal" {
		t.Fatalf("records %+v", out.Records)
	}
}

// TestISO27560Words: a record's processing and recipient name are the words
// of the version it was given under; a name without words reads as
// before.
func TestISO27560Words(t *testing.T) {
	doc, _, err := policy.Parse("p.yaml", []byte(`version: v1
effective_from: 2024-01-01T00:00:00Z
purposes: [train_ai_system, train_ai_system.generative]
categories: [user.content.public]
recipients:
  self: { class: first_party }
  partner-x: { class: third_party }
notice: https://example.com/privacy/v1
describe:
  train_ai_system.generative: Training AI models that write text
  partner-x: Partner X, an AI company
  third_party: Companies outside the platform
`))
	if err != nil {
		t.Fatal(err)
	}
	evs := []Event{
		{Subject: "u", Purpose: "train_ai_system.generative", Recipient: "partner-x", State: policy.Granted, At: 1, Source: "settings",
			Policy: "v1", Notice: "https://example.com/privacy/v1"},
		{Subject: "u", Purpose: "train_ai_system", Recipient: "third_party", State: policy.Denied, At: 2, Source: "import"},
	}
	out := ToISO27560("u", evs, func(timestamp.Time) string { return "DE" }, func(e *Event) (*ISONotice, *policy.Document) {
		return &ISONotice{Version: doc.Version, URL: doc.Notice, Noted: e.Policy != ""}, doc
	})
	r0, r1 := out.Records[0], out.Records[1]
	if r0.Processing[0] != "Training AI models that write text" || r0.Recipients[0].Name != "Partner X, an AI company" || !r0.Notice.Noted ||
		r0.Notice.URL != "https://example.com/privacy/v1" || r0.Purposes[0] != "train_ai_system.generative" {
		t.Fatalf("record 0: %+v %+v", r0, r0.Notice)
	}
	if r1.Processing[0] != "use for train_ai_system" || r1.Recipients[0].Name != "Companies outside the platform" || r1.Notice.Noted {
		t.Fatalf("record 1: %+v %+v", r1, r1.Notice)
	}
}
