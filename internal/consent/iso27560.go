package consent

import (
	"encoding/hex"

	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// ISORecord is one consent event in the shape of an ISO/IEC TS 27560
// consent record: who, for what purposes and processing, to which
// recipients, under which jurisdiction and notice, when, in which state and
// by which method. Purposes are the policy's names; Processing and the
// recipients' names are the words members read for them (the notice's
// version's describe), where it has some.
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

// ISORecipient is a recipient or recipient class a record covers, with
// the words members read for it (absent where the version has none).
type ISORecipient struct {
	ID   string `json:"id"`
	Type string `json:"type"` // "recipient", "class" or "all"
	Name string `json:"name,omitempty"`
}

// ISONotice is the notice a choice was made under: the policy version, the
// SHA-256 of its source and the address where it is explained (absent when
// it gives none). Noted says where the version comes from: true when the
// event itself noted it as it was recorded (the privacy centre, the API,
// the command line: Event.Policy), false when it is the version in force
// at the event's time, worked out for an event that noted none (an
// import, or one stored before events noted their version).
type ISONotice struct {
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
	URL     string `json:"url,omitempty"`
	Noted   bool   `json:"noted"`
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
// jurisdiction); noticeOf the notice an event was given under (nil when
// there is none: no version was in force) and the version whose words
// describe its purpose and recipient (nil: none). A refusal that overlaps
// a standing grant (a purpose above or below, a recipient scope that
// covers the other's) is a withdrawal.
func ToISO27560(subject string, evs []Event, regionAt func(timestamp.Time) string, noticeOf func(*Event) (*ISONotice, *policy.Document)) *ISOExport {
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
		notice, doc := noticeOf(&e)
		processing := "use for " + e.Purpose
		if doc != nil {
			if w := doc.Words(e.Purpose); w != "" {
				processing = w
			}
			r.Name = doc.Words(e.Recipient)
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
			Purposes: []string{e.Purpose}, Processing: []string{processing},
			Recipients: []ISORecipient{r}, Jurisdiction: jur, EventTime: e.At, State: state, Method: method,
			Notice: notice,
		})
	}
	return out
}

func isClass(s string) bool {
	_, ok := policy.ParseClass(s)
	return ok
}
