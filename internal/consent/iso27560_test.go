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
	out := ToISO27560("u", evs, ISOSource{RegionAt: func(t timestamp.Time) string {
		if t < 3 {
			return "DE"
		}
		return ""
	}, NoticeOf: func(e *Event) (*ISONotice, *policy.Document) {
		if e.At < 2 {
			return nil, nil
		}
		return &ISONotice{Version: "v2"}, nil
	}})
	// One record per scope, in the order first chosen, each with its events.
	type scope struct{ purpose, recipient string }
	wantScopes := []scope{{"a.b", "*"}, {"a", "third_party"}, {"z", "*"}, {"a", "p"}, {"a", "*"}}
	wantStates := [][]string{{"given"}, {"withdrawn"}, {"refused"}, {"withdrawn"}, {"withdrawn", "refused"}}
	if len(out.Records) != len(wantScopes) {
		t.Fatalf("%d records, want %d: %+v", len(out.Records), len(wantScopes), out.Records)
	}
	for i, r := range out.Records {
		if (scope{r.Scope.Purpose, r.Scope.Recipient.ID}) != wantScopes[i] || len(r.Events) != len(wantStates[i]) {
			t.Fatalf("record %d: %+v, want scope %v with %d events", i, r, wantScopes[i], len(wantStates[i]))
		}
		for j, e := range r.Events {
			if e.EventState != wantStates[i][j] {
				t.Errorf("record %d event %d: %s, want %s", i, j, e.EventState, wantStates[i][j])
			}
		}
		if r.State != r.Events[len(r.Events)-1].EventState || r.Created != r.Events[0].EventTime || r.Modified != r.Events[len(r.Events)-1].EventTime {
			t.Errorf("record %d: state %s, created %s, modified %s", i, r.State, r.Created, r.Modified)
		}
	}
	r0, r1, r3, r4 := out.Records[0], out.Records[1], out.Records[3], out.Records[4]
	if r0.Events[0].Jurisdiction != "DE" || r3.Events[0].Jurisdiction != "unknown" || r0.Events[0].Notice != nil || len(r0.Notices) != 0 ||
		r1.Events[0].Notice.Version != "v2" || r1.Scope.Recipient.Type != "class" || r0.Scope.Recipient.ID != "*" || r0.Scope.Recipient.Type != "all" ||
		r3.Scope.Recipient.Type != "recipient" || r1.Events[0].Method != "Global Privacy Control signal" || len(r4.Notices) != 1 {
		t.Fatalf("records %+v", out.Records)
	}
	// The same subject and scope have the same record id; another scope another.
	again := ToISO27560("u", evs[:1], ISOSource{RegionAt: func(timestamp.Time) string { return "" }, NoticeOf: func(*Event) (*ISONotice, *policy.Document) { return nil, nil }})
	if again.Records[0].RecordID != r0.RecordID || r0.RecordID == r1.RecordID || len(r0.RecordID) != 36 || r0.RecordID[14] != '5' {
		t.Fatalf("record ids %s %s %s", again.Records[0].RecordID, r0.RecordID, r1.RecordID)
	}
	// Without a policy: the fields ISO/IEC TS 27560 asks for are there,
	// null where nothing says them.
	p := r0.Purposes[0]
	if p.LawfulBasis != "consent" || p.PurposeDescription != "use for a.b" || len(p.PurposeType) != 1 || p.PurposeType[0] != "a" ||
		p.StorageLocations != nil || p.RetentionPeriod != nil || p.WithdrawalMethod.API == "" || r0.Language != nil ||
		r0.Parties[0].PartyRole != "pii_controller" || r0.Parties[0].PartyContact != nil || r0.Parties[1].PartyRole != "pii_principal" {
		t.Fatalf("record 0 without a policy: %+v %+v", r0, p)
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
	out := ToISO27560("u", evs, ISOSource{RegionAt: func(timestamp.Time) string { return "DE" }, NoticeOf: func(e *Event) (*ISONotice, *policy.Document) {
		return &ISONotice{Version: doc.Version, URL: doc.Notice, Noted: e.Policy != ""}, doc
	}})
	r0, r1 := out.Records[0], out.Records[1]
	if r0.Purposes[0].PurposeDescription != "Training AI models that write text" || r0.Scope.Recipient.Name != "Partner X, an AI company" || !r0.Events[0].Notice.Noted ||
		r0.Notices[0].URL != "https://example.com/privacy/v1" || r0.Purposes[0].Purpose != "train_ai_system.generative" {
		t.Fatalf("record 0: %+v %+v", r0, r0.Events[0].Notice)
	}
	if r1.Purposes[0].PurposeDescription != "use for train_ai_system" || r1.Scope.Recipient.Name != "Companies outside the platform" || r1.Events[0].Notice.Noted {
		t.Fatalf("record 1: %+v %+v", r1, r1.Events[0].Notice)
	}
	if rp := r0.Parties[2]; rp.PartyRole != "third_party" || rp.PartyName != "Partner X, an AI company" || rp.PartyType != "organisation" {
		t.Fatalf("record 0's recipient party %+v", rp)
	}
	if pii := r0.Purposes[0].PIIInformation; len(pii) != 1 || pii[0].PIIType != "user.content.public" {
		t.Fatalf("record 0's PII %+v", pii)
	}
}
