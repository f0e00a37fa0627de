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
	}, func(t timestamp.Time) *ISONotice {
		if t < 2 {
			return nil
		}
		return &ISONotice{Version: "v2"}
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
