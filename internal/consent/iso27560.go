package consent

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"

	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// ISOProfile names the record structure ToISO27560 writes: ISO/IEC TS
// 27560:2023's consent record, one record per subject and scope, filled as
// docs/guide.md ("Consent records: ISO/IEC TS 27560 and DPV") says.
const ISOProfile = "ISO/IEC TS 27560:2023 consent record, consentgate profile v2"

// DPVRecordSchema is the DPV profile of ISO/IEC TS 27560 the JSON-LD form
// conforms to (dct:conformsTo).
const DPVRecordSchema = "https://w3id.org/dpv/schema/dpv-27560#record"

// ISOExport is a subject's consent as ISO/IEC TS 27560 records: one record
// per scope (purpose × recipient scope) the subject chose for, each holding
// the events of that scope in order.
type ISOExport struct {
	Profile string      `json:"schema_version"`
	Subject string      `json:"pii_principal_id"`
	Records []ISORecord `json:"records"`
}

// ISORecord is one ISO/IEC TS 27560 consent record: header (schema
// version, record id, PII principal), processing (notices, language,
// purposes with their PII, controllers, lawful basis, recipients,
// jurisdiction, withdrawal method), parties and the event history. A field
// consentgate cannot fill is present and null (StorageLocations,
// RetentionPeriod, a party's missing contact or address); the guide says
// why.
type ISORecord struct {
	SchemaVersion  string         `json:"schema_version"`
	RecordID       string         `json:"record_id"`
	PIIPrincipalID string         `json:"pii_principal_id"`
	Scope          ISOScope       `json:"scope"`
	Notices        []ISONotice    `json:"privacy_notices"`
	Language       *string        `json:"language"`
	Purposes       []ISOPurpose   `json:"purposes"`
	Parties        []ISOParty     `json:"parties"`
	Events         []ISOEvent     `json:"events"`
	State          string         `json:"state"` // the last event's event_state
	Created        timestamp.Time `json:"created"`
	Modified       timestamp.Time `json:"modified"`
}

// ISOScope is what a record is about: a purpose and a recipient scope.
type ISOScope struct {
	Purpose   string       `json:"purpose"`
	Recipient ISORecipient `json:"recipient"`
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

// ISOPurpose is one entry of the record's purposes, with the fields
// ISO/IEC TS 27560 puts beside it.
type ISOPurpose struct {
	Purpose               string            `json:"purpose"`
	PurposeDescription    string            `json:"purpose_description"`
	PurposeType           []string          `json:"purpose_type,omitempty"` // the broader purposes the policy declares
	LawfulBasis           string            `json:"lawful_basis"`
	PIIInformation        []ISOPII          `json:"pii_information"`
	PIIControllers        []string          `json:"pii_controllers"` // party ids
	CollectionMethod      string            `json:"collection_method"`
	ProcessingMethod      string            `json:"processing_method"`
	StorageLocations      []string          `json:"storage_locations"` // null: not known to consentgate
	RetentionPeriod       *string           `json:"retention_period"`  // null: not known to consentgate
	Jurisdiction          string            `json:"jurisdiction"`
	RecipientThirdParties []string          `json:"recipient_third_parties"` // party ids
	WithdrawalMethod      ISOWithdrawal     `json:"withdrawal_method"`
	PrivacyRights         []ISOPrivacyRight `json:"privacy_rights"`
}

// ISOPII is one data category the consent covers.
type ISOPII struct {
	PIIType     string `json:"pii_type"`
	Description string `json:"description,omitempty"`
}

// ISOWithdrawal says how the member changes or withdraws the consent: the
// controller's consent_url where the policy names one, and always the API.
type ISOWithdrawal struct {
	URL         string `json:"url,omitempty"`
	API         string `json:"api"`
	Description string `json:"description"`
}

// ISOPrivacyRight is a right the member has over the record.
type ISOPrivacyRight struct {
	Right       string `json:"right"`
	ExercisedAt string `json:"exercised_at"`
}

// ISOParty is a party of the record: the PII controller, the PII principal
// or a recipient. Contact and address are null where the policy does not
// give them (a recipient's always: the policy names recipients only).
type ISOParty struct {
	PartyID      string  `json:"party_id"`
	PartyName    string  `json:"party_name"`
	PartyRole    string  `json:"party_role"` // "pii_controller", "pii_principal", "third_party" or "recipient"
	PartyType    string  `json:"party_type"` // "organisation", "person", "recipient class", "every recipient"
	PartyContact *string `json:"party_contact"`
	PartyAddress *string `json:"party_address"`
	PartyURL     string  `json:"party_url,omitempty"`
}

// ISOEvent is one consent event of a record.
type ISOEvent struct {
	EventID          string         `json:"event_id"`
	EventTime        timestamp.Time `json:"event_time"`
	EventType        string         `json:"event_type"`  // the consent type
	EventState       string         `json:"event_state"` // "given", "refused" or "withdrawn"
	ValidityDuration string         `json:"validity_duration"`
	EntityID         string         `json:"entity_id"` // the party who expressed it
	Method           string         `json:"method"`
	Source           string         `json:"source"`
	Jurisdiction     string         `json:"jurisdiction"`
	Notice           *ISONotice     `json:"notice"`
}

// ISOMethods maps sources to how consent was obtained.
var ISOMethods = map[string]string{"settings": "user interface", "api": "application interface",
	"gpc": "Global Privacy Control signal", "import": "bulk import", "support": "support agent"}

// isoTypes maps sources to the consent type (ISO event_type; DPV consent
// types): the privacy centre's toggle is an action about that consent
// alone; the API, a support agent and GPC carry a choice the member
// expressed; an import says nothing of how it was obtained.
var isoTypes = map[string]string{"settings": "explicitly expressed", "api": "expressed", "support": "expressed",
	"gpc": "expressed", "import": "unknown"}

// ControllerPartyID is the party id of the PII controller in every record.
const ControllerPartyID = "controller"

// WithdrawalAPI is how a member's choice is changed over the API.
const WithdrawalAPI = "POST /v1/subjects/{id}/consents with state denied"

// ISOSource is what ToISO27560 reads besides the events: RegionAt gives
// the subject's region at a time (its jurisdiction, "" unknown); NoticeOf
// the notice an event was given under (nil when there is none: no version
// was in force) and the version whose words describe it (nil: none);
// Current the version in force now (nil: none), whose controller,
// language and categories a record names when its own events' versions
// are not known.
type ISOSource struct {
	RegionAt func(timestamp.Time) string
	NoticeOf func(*Event) (*ISONotice, *policy.Document)
	Current  *policy.Document
}

// ToISO27560 turns a subject's history (events in (at, seq) order) into
// one record per scope, in the order each scope was first chosen. A
// refusal that overlaps a standing grant (a purpose above or below, a
// recipient scope that covers the other's) is a withdrawal, whichever
// record the grant is in.
func ToISO27560(subject string, evs []Event, src ISOSource) *ISOExport {
	out := &ISOExport{Profile: ISOProfile, Subject: subject, Records: []ISORecord{}}
	type scope struct{ purpose, recipient string }
	index := map[scope]int{}
	docs := []*policy.Document{} // per record: the version of its last event
	var grants []Event           // grants standing so far
	for _, e := range evs {
		state := "given"
		if e.State == policy.Denied {
			state = "refused"
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
		k := scope{e.Purpose, e.Recipient}
		i, ok := index[k]
		if !ok {
			i = len(out.Records)
			index[k] = i
			out.Records = append(out.Records, ISORecord{SchemaVersion: ISOProfile, RecordID: recordID(subject, e.Purpose, e.Recipient),
				PIIPrincipalID: subject, Scope: ISOScope{Purpose: e.Purpose, Recipient: recipientOf(e.Recipient)}, Created: e.At})
			docs = append(docs, nil)
		}
		r := &out.Records[i]
		notice, doc := src.NoticeOf(&e)
		if doc != nil {
			docs[i] = doc
		}
		if notice != nil && !hasNotice(r.Notices, notice) {
			r.Notices = append(r.Notices, *notice)
		}
		jur := src.RegionAt(e.At)
		if jur == "" {
			jur = "unknown"
		}
		method := ISOMethods[e.Source]
		if method == "" {
			method = e.Source
		}
		typ := isoTypes[e.Source]
		if typ == "" {
			typ = "unknown"
		}
		entity := subject // the member expressed it, through the controller's interfaces
		if e.Source == "support" || e.Source == "import" {
			entity = ControllerPartyID // the controller recorded it for the member
		}
		r.Events = append(r.Events, ISOEvent{EventID: "consentgate:" + hex.EncodeToString(e.Key()), EventTime: e.At,
			EventType: typ, EventState: state, ValidityDuration: "until withdrawn", EntityID: entity, Method: method,
			Source: e.Source, Jurisdiction: jur, Notice: notice})
		r.State, r.Modified = state, e.At
	}
	for i := range out.Records {
		doc := docs[i]
		if doc == nil {
			doc = src.Current
		}
		fill(&out.Records[i], doc, src.Current, src.RegionAt(timestamp.Max))
	}
	return out
}

// fill completes a record's processing and party fields from the policy
// version that describes it (nil: none known); the controller and the
// language from the version in force now where that version names none.
func fill(r *ISORecord, doc, current *policy.Document, region string) {
	if r.Notices == nil {
		r.Notices = []ISONotice{}
	}
	words := func(name string) string {
		if doc != nil {
			return doc.Words(name)
		}
		return ""
	}
	p := ISOPurpose{Purpose: r.Scope.Purpose, PurposeDescription: words(r.Scope.Purpose), LawfulBasis: "consent",
		PIIInformation: []ISOPII{}, PIIControllers: []string{ControllerPartyID},
		CollectionMethod: "collected from the PII principal by the PII controller's service; consentgate decides each later use",
		Jurisdiction:     region, RecipientThirdParties: []string{r.Scope.Recipient.ID}}
	if p.PurposeDescription == "" {
		p.PurposeDescription = "use for " + r.Scope.Purpose
	}
	p.ProcessingMethod = p.PurposeDescription
	for a := parentOf(r.Scope.Purpose); a != ""; a = parentOf(a) {
		p.PurposeType = append(p.PurposeType, a)
	}
	if p.Jurisdiction == "" {
		p.Jurisdiction = "unknown"
	}
	if r.Scope.Recipient.Name == "" {
		r.Scope.Recipient.Name = words(r.Scope.Recipient.ID)
	}
	p.WithdrawalMethod = ISOWithdrawal{API: WithdrawalAPI,
		Description: "the member turns the choice off in the privacy centre, or the platform records a refusal through the API; either is a new event of this record"}
	var controller *policy.Controller
	for _, d := range []*policy.Document{doc, current} {
		if d != nil && controller == nil {
			controller = d.Controller
		}
		if d != nil && r.Language == nil && d.Language != "" {
			lang := d.Language
			r.Language = &lang
		}
	}
	if doc != nil {
		for _, c := range doc.LeafCategories() {
			p.PIIInformation = append(p.PIIInformation, ISOPII{PIIType: c, Description: doc.Words(c)})
		}
	}
	ctl := ISOParty{PartyID: ControllerPartyID, PartyRole: "pii_controller", PartyType: "organisation"}
	if controller != nil {
		ctl.PartyName = controller.Name
		ctl.PartyContact = strOrNil(controller.Contact)
		ctl.PartyAddress = strOrNil(controller.Address)
		ctl.PartyURL = controller.ConsentURL
		p.WithdrawalMethod.URL = controller.ConsentURL
	}
	exercised := p.WithdrawalMethod.URL
	if exercised == "" {
		exercised = WithdrawalAPI
	}
	p.PrivacyRights = []ISOPrivacyRight{{Right: "withdraw consent", ExercisedAt: exercised}}
	r.Purposes = []ISOPurpose{p}
	rcp := ISOParty{PartyID: r.Scope.Recipient.ID, PartyName: r.Scope.Recipient.Name, PartyRole: "recipient"}
	switch r.Scope.Recipient.Type {
	case "all":
		rcp.PartyType = "every recipient"
	case "class":
		rcp.PartyType = "recipient class"
		if r.Scope.Recipient.ID == policy.ThirdParty.String() {
			rcp.PartyRole = "third_party"
		}
	default:
		rcp.PartyType = "organisation"
		if doc != nil {
			if c, ok := doc.RecipientClass(r.Scope.Recipient.ID); ok && c == policy.ThirdParty {
				rcp.PartyRole = "third_party"
			}
		}
	}
	if rcp.PartyName == "" {
		rcp.PartyName = r.Scope.Recipient.ID
	}
	r.Parties = []ISOParty{ctl, {PartyID: r.PIIPrincipalID, PartyName: r.PIIPrincipalID, PartyRole: "pii_principal", PartyType: "person"}, rcp}
}

func recipientOf(id string) ISORecipient {
	switch {
	case id == "":
		return ISORecipient{ID: "*", Type: "all"}
	case isClass(id):
		return ISORecipient{ID: id, Type: "class"}
	}
	return ISORecipient{ID: id, Type: "recipient"}
}

func hasNotice(ns []ISONotice, n *ISONotice) bool {
	for _, m := range ns {
		if m == *n {
			return true
		}
	}
	return false
}

func parentOf(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '.' {
			return p[:i]
		}
	}
	return ""
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// recordID is a record's id: a name-based UUID (RFC 9562 version 5) of
// the subject and scope, so the same record has the same id in every
// export.
func recordID(subject, purpose, recipient string) string {
	h := sha1.New()
	h.Write(recordNamespace[:])
	fmt.Fprintf(h, "%s\x00%s\x00%s", subject, purpose, recipient)
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// recordNamespace is the UUID namespace of consentgate's consent records:
// chosen once at random, fixed for ever (record ids depend on it).
var recordNamespace = [16]byte{0x5c, 0x2e, 0x61, 0x0b, 0x8f, 0x3a, 0x5d, 0x41, 0x9e, 0x27, 0x0c, 0x6b, 0x1f, 0xd4, 0x83, 0x92}

func isClass(s string) bool {
	_, ok := policy.ParseClass(s)
	return ok
}
