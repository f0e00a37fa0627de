package consent

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/piprate/json-gold/ld"

	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// offline is a JSON-LD document loader that loads nothing: the DPV form
// inlines its @context, so expanding it must never reach the network.
type offline struct{ t *testing.T }

func (o offline) LoadDocument(u string) (*ld.RemoteDocument, error) {
	o.t.Errorf("the JSON-LD processor tried to load %s", u)
	return nil, errors.New("offline")
}

const (
	dpv    = "https://w3id.org/dpv#"
	dct    = "http://purl.org/dc/terms/"
	schema = "https://schema.org/"
)

// expand runs the JSON-LD 1.1 expansion algorithm (json-gold) over the
// export's DPV form, offline, and returns the expanded records.
func expand(t *testing.T, x *ISOExport) []map[string]any {
	t.Helper()
	// Through JSON text, as a consumer reads it.
	b, err := json.Marshal(x.JSONLD())
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	opts := ld.NewJsonLdOptions("")
	opts.DocumentLoader = offline{t}
	out, err := ld.NewJsonLdProcessor().Expand(doc, opts)
	if err != nil {
		t.Fatalf("expansion: %v\n%s", err, b)
	}
	var recs []map[string]any
	for _, n := range out {
		m := n.(map[string]any)
		if g, ok := m["@graph"]; ok {
			for _, r := range g.([]any) {
				recs = append(recs, r.(map[string]any))
			}
			continue
		}
		recs = append(recs, m)
	}
	return recs
}

// ids is the @id of every node under key, types the @type IRIs.
func ids(n map[string]any, key string) []string {
	var out []string
	for _, v := range asList(n[key]) {
		if id, ok := v.(map[string]any)["@id"].(string); ok {
			out = append(out, id)
		}
	}
	return out
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

func types(n map[string]any) []string {
	var out []string
	for _, v := range asList(n["@type"]) {
		out = append(out, v.(string))
	}
	return out
}

func node(t *testing.T, n map[string]any, key string) map[string]any {
	t.Helper()
	l := asList(n[key])
	if len(l) == 0 {
		t.Fatalf("no %s in %v", key, n)
	}
	return l[0].(map[string]any)
}

func lit(n map[string]any, key string) string {
	for _, v := range asList(n[key]) {
		if s, ok := v.(map[string]any)["@value"].(string); ok {
			return s
		}
	}
	return ""
}

// fullPolicy names a controller and a language, describes its names.
func fullPolicy(t *testing.T) *policy.Document {
	t.Helper()
	doc, _, err := policy.Parse("p.yaml", []byte(`version: v1
effective_from: 2024-01-01T00:00:00Z
purposes: [train_ai_system, train_ai_system.generative]
categories: [user.content.public, user.messages]
recipients:
  partner-x: { class: third_party }
notice: https://example.com/privacy/v1
language: en
controller:
  name: Example Social Ltd
  contact: privacy@example.com
  address: 1 Example Street, Dublin, Ireland
  consent_url: https://example.com/privacy
describe:
  train_ai_system.generative: Training AI models that write text
  partner-x: Partner X, an AI company
  user.messages: Your private messages
`))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestISO27560JSONLD: the DPV form expands, with json-gold and nothing
// fetched, to dpv:ConsentRecord nodes holding the DPV terms the W3C guide
// for ISO/IEC TS 27560 names: conformsTo the DPV-27560 record schema, the
// data subject, a dpv:Process with purpose, personal data, controller,
// dpv:Consent as legal basis, recipient, consent control and jurisdiction,
// the consent statuses with their time, notice and duration, and the
// entities with the controller's name, contact and address.
func TestISO27560JSONLD(t *testing.T) {
	doc := fullPolicy(t)
	evs := []Event{
		{Subject: "u 1", Purpose: "train_ai_system.generative", Recipient: "partner-x", State: policy.Granted, At: 1_000_000, Source: "settings", Policy: "v1", Notice: doc.Notice},
		{Subject: "u 1", Purpose: "train_ai_system.generative", Recipient: "partner-x", State: policy.Denied, At: 2_000_000, Source: "support", Policy: "v1", Notice: doc.Notice},
		{Subject: "u 1", Purpose: "train_ai_system", State: policy.Denied, At: 3_000_000, Source: "import"},
	}
	x := ToISO27560("u 1", evs, ISOSource{RegionAt: func(timestamp.Time) string { return "DE" }, NoticeOf: func(e *Event) (*ISONotice, *policy.Document) {
		return &ISONotice{Version: doc.Version, SHA256: doc.Digest(), URL: doc.Notice, Noted: e.Policy != ""}, doc
	}, Current: doc})
	recs := expand(t, x)
	if len(recs) != 2 {
		t.Fatalf("%d records expanded, want 2: %v", len(recs), recs)
	}
	r := recs[0]
	if !slices.Contains(types(r), dpv+"ConsentRecord") || !slices.Equal(ids(r, dct+"conformsTo"), []string{"https://w3id.org/dpv/schema/dpv-27560#record"}) ||
		lit(r, dct+"identifier") != x.Records[0].RecordID || r["@id"] != "urn:uuid:"+x.Records[0].RecordID || lit(r, dct+"language") != "en" {
		t.Fatalf("record header %v", r)
	}
	if lit(r, dct+"created") != "1970-01-01T00:00:01Z" || lit(r, dct+"modified") != "1970-01-01T00:00:02Z" {
		t.Fatalf("record times %v %v", r[dct+"created"], r[dct+"modified"])
	}
	proc := node(t, r, dpv+"hasProcess")
	if !slices.Contains(types(proc), dpv+"Process") || !slices.Equal(ids(proc, dpv+"hasLegalBasis"), []string{dpv + "Consent"}) ||
		!slices.Equal(ids(proc, dpv+"hasJurisdiction"), []string{"https://w3id.org/dpv/loc#DE"}) {
		t.Fatalf("process %v", proc)
	}
	if p := node(t, proc, dpv+"hasPurpose"); !slices.Contains(types(p), dpv+"Purpose") || lit(p, dct+"description") != "Training AI models that write text" {
		t.Fatalf("purpose %v", p)
	}
	var data []string
	for _, d := range asList(proc[dpv+"hasPersonalData"]) {
		if !slices.Contains(types(d.(map[string]any)), dpv+"PersonalData") {
			t.Fatalf("personal data %v", d)
		}
		data = append(data, lit(d.(map[string]any), dct+"identifier"))
	}
	if !slices.Equal(data, []string{"user.content.public", "user.messages"}) {
		t.Fatalf("personal data %v", data)
	}
	ctl := node(t, proc, dpv+"hasConsentControl")
	if !slices.Contains(types(ctl), dpv+"WithdrawConsent") || !slices.Equal(ids(ctl, dpv+"isExercisedAt"), []string{"https://example.com/privacy"}) {
		t.Fatalf("consent control %v", ctl)
	}
	if right := node(t, proc, dpv+"hasRight"); !slices.Contains(types(right), dpv+"DataSubjectRight") {
		t.Fatalf("right %v", right)
	}
	entities := map[string]map[string]any{}
	for _, e := range asList(r[dpv+"hasEntity"]) {
		entities[e.(map[string]any)["@id"].(string)] = e.(map[string]any)
	}
	controller := entities[ids(proc, dpv+"hasDataController")[0]]
	if !slices.Contains(types(controller), dpv+"DataController") || lit(controller, dpv+"hasName") != "Example Social Ltd" ||
		lit(node(t, controller, schema+"contactPoint"), schema+"email") != "privacy@example.com" ||
		lit(node(t, controller, schema+"address"), schema+"streetAddress") != "1 Example Street, Dublin, Ireland" {
		t.Fatalf("controller %v", controller)
	}
	if rcp := entities[ids(proc, dpv+"hasRecipient")[0]]; !slices.Contains(types(rcp), dpv+"ThirdParty") || lit(rcp, dpv+"hasName") != "Partner X, an AI company" {
		t.Fatalf("recipient %v", rcp)
	}
	if ds := entities[ids(r, dpv+"hasDataSubject")[0]]; !slices.Contains(types(ds), dpv+"DataSubject") || lit(ds, dct+"identifier") != "u 1" {
		t.Fatalf("data subject %v", ds)
	}
	sts := asList(r[dpv+"hasConsentStatus"])
	if len(sts) != 2 {
		t.Fatalf("statuses %v", sts)
	}
	given, withdrawn := sts[0].(map[string]any), sts[1].(map[string]any)
	if !slices.Equal(types(given), []string{dpv + "ConsentGiven", dpv + "ExplicitlyExpressedConsent"}) ||
		lit(given, dpv+"isIndicatedAtTime") != "1970-01-01T00:00:01Z" || !slices.Equal(ids(given, dpv+"isIndicatedBy"), []string{dpv + "DataSubject"}) ||
		!slices.Contains(types(node(t, given, dpv+"hasDuration")), dpv+"UntilEventDuration") {
		t.Fatalf("given %v", given)
	}
	if n := node(t, given, dpv+"hasNotice"); !slices.Contains(types(n), dpv+"ConsentNotice") || lit(n, dct+"identifier") != "v1" ||
		!slices.Equal(ids(n, schema+"url"), []string{"https://example.com/privacy/v1"}) {
		t.Fatalf("given's notice %v", n)
	}
	if !slices.Contains(types(withdrawn), dpv+"ConsentWithdrawn") || ids(withdrawn, dpv+"isIndicatedBy")[0] != ids(proc, dpv+"hasDataController")[0] {
		t.Fatalf("withdrawn (recorded by support: the controller) %v", withdrawn)
	}
	// The import's refusal of every recipient: a record of its own, its
	// consent type unknown (no consent type IRI), indicated by the controller.
	st := node(t, recs[1], dpv+"hasConsentStatus")
	if !slices.Equal(types(st), []string{dpv + "ConsentRefused"}) {
		t.Fatalf("imported refusal %v", st)
	}
	if rcp := node(t, recs[1], dpv+"hasEntity"); rcp == nil || strings.Contains(ids(node(t, recs[1], dpv+"hasProcess"), dpv+"hasRecipient")[0], "partner") {
		t.Fatalf("second record's recipient %v", recs[1])
	}
}
