package consent

import (
	"encoding/hex"

	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// ISORecord is one consent event in the shape of an ISO/IEC TS 27560
// consent record: who, for what purposes and processing, to which
// recipients, under which jurisdiction and notice, when, in which state and
// by which method.
type ISORecord struct {
	RecordID     string         `json:"record_id"`
	Subject      string         `json:"subject"`
	Purposes     []string       `json:"purposes"`
	Processing   []string       `json:"processing"`
	Recipients   []ISORecipient `json:"recipients"`
	Jurisdiction string         `json:"jurisdiction"`
	EventTime    timestamp.Time `json:"event_time"`
	State        string         `json:"state"`
	Method       string         `json:"method"`
	Notice       *ISONotice     `json:"notice"`
}

// ISORecipient is a recipient or recipient class a record covers.
type ISORecipient struct {
	ID   string `json:"id"`
	Type string `json:"type"` // "recipient", "class" or "all"
}

// ISONotice is the policy version in force when the choice was made.
type ISONotice struct {
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

// ISOExport is a subject's consent history as ISO/IEC TS 27560-style
// records.
type ISOExport struct {
	Profile string      `json:"profile"`
	Subject string      `json:"subject"`
	Records []ISORecord `json:"records"`
}

// ISOMethods maps sources to how consent was obtained.
var ISOMethods = map[string]string{"settings": "user interface", "api": "application interface",
	"gpc": "Global Privacy Control signal", "import": "bulk import", "support": "support agent"}

// ToISO27560 turns a subject's history (events in (at, seq) order) into
// records. regionAt gives the subject's region at a time (its
// jurisdiction); noticeAt the policy version in force then, nil before the
// first. A refusal that overlaps a standing grant (a purpose above or
// below, a recipient scope that covers the other's) is a withdrawal.
func ToISO27560(subject string, evs []Event, regionAt func(timestamp.Time) string, noticeAt func(timestamp.Time) *ISONotice) *ISOExport {
	out := &ISOExport{Profile: "ISO/IEC TS 27560:2023 consent record, consentgate profile v1", Subject: subject, Records: []ISORecord{}}
	var grants []Event // grants standing so far
	for _, e := range evs {
		state := "given"
		if e.State == policy.Denied {
			state = "refused"
			// A refusal overlapping a standing grant withdraws it.
			kept := grants[:0]
			for _, g := range grants {
				overlaps := (policy.IsAncestorOrSelf(g.Purpose, e.Purpose) || policy.IsAncestorOrSelf(e.Purpose, g.Purpose)) &&
					(g.Recipient == "" || e.Recipient == "" || g.Recipient == e.Recipient)
				if overlaps {
					state = "withdrawn"
				}
				if !(overlaps && policy.IsAncestorOrSelf(e.Purpose, g.Purpose) && (e.Recipient == "" || e.Recipient == g.Recipient)) {
					kept = append(kept, g) // not wholly covered by the refusal
				}
			}
			grants = kept
		} else {
			grants = append(grants, e)
		}
		r := ISORecipient{ID: e.Recipient, Type: "recipient"}
		switch {
		case e.Recipient == "":
			r = ISORecipient{ID: "*", Type: "all"}
		case isClass(e.Recipient):
			r.Type = "class"
		}
		jur := regionAt(e.At)
		if jur == "" {
			jur = "unknown"
		}
		method := ISOMethods[e.Source]
		if method == "" {
			method = e.Source
		}
		out.Records = append(out.Records, ISORecord{
			RecordID: "consentgate:" + hex.EncodeToString(e.Key()), Subject: subject,
			Purposes: []string{e.Purpose}, Processing: []string{"use for " + e.Purpose},
			Recipients: []ISORecipient{r}, Jurisdiction: jur, EventTime: e.At, State: state, Method: method,
			Notice: noticeAt(e.At),
		})
	}
	return out
}

func isClass(s string) bool {
	_, ok := policy.ParseClass(s)
	return ok
}
