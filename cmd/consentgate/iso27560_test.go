package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConsentExportISO27560: on the end-to-end store, with a version that
// names its controller and language, consent export gives one ISO/IEC TS
// 27560 record per scope a member chose for, each with every mandatory
// field of the standard's structure (null only where the guide says
// consentgate cannot know it), and the same records as JSON-LD in DPV
// terms.
func TestConsentExportISO27560(t *testing.T) {
	dir := setupE2E(t)
	src, err := os.ReadFile(filepath.Join(dir, "policy-2.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	v3 := strings.Replace(strings.Replace(strings.Replace(string(src), `version: "2024-09-18"`, `version: "2025-02-01"`, 1),
		"effective_from: 2024-09-18T00:00:00Z", "effective_from: 2025-02-01T00:00:00Z", 1),
		"announced_at: 2024-09-18T00:00:00Z", "announced_at: 2024-12-01T00:00:00Z", 1) + `notice: https://example.com/privacy/2025-02-01
language: en
controller:
  name: Example Social Ltd
  contact: privacy@example.com
  address: 1 Example Street, Dublin, Ireland
  consent_url: https://example.com/privacy
describe:
  train_ai_system.generative: Training AI models that write text
  partner-x: Partner X, an AI company
  user.content.public: Your public posts
`
	if err := os.WriteFile(filepath.Join(dir, "policy-3.yaml"), []byte(v3), 0o644); err != nil {
		t.Fatal(err)
	}
	ok(t, dir, "policy", "publish", "--force", "policy-3.yaml")
	ok(t, dir, "consent", "set", "--subject", "ana", "--purpose", "train_ai_system.generative", "--recipient", "partner-x", "--state", "granted", "--at", "2025-03-01T00:00:00Z")
	ok(t, dir, "consent", "set", "--subject", "ana", "--purpose", "train_ai_system.generative", "--recipient", "partner-x", "--state", "denied", "--at", "2025-04-01T00:00:00Z")

	var x struct {
		SchemaVersion string           `json:"schema_version"`
		Subject       string           `json:"pii_principal_id"`
		Records       []map[string]any `json:"records"`
	}
	out := ok(t, dir, "consent", "export", "--subject", "ana", "--format", "iso27560")
	if err := json.Unmarshal([]byte(out), &x); err != nil || x.Subject != "ana" || !strings.Contains(x.SchemaVersion, "27560") {
		t.Fatalf("export %v: %s", err, out)
	}
	// ana: a grant from the settings import (every recipient), then this
	// test's grant and refusal for partner-x: two records, one of two events.
	if len(x.Records) != 2 {
		t.Fatalf("%d records, want 2:\n%s", len(x.Records), out)
	}
	r := x.Records[1]
	// The mandatory fields of ISO/IEC TS 27560 (and DPV's guide), null
	// only where docs/guide.md says consentgate cannot fill them.
	mayBeNull := map[string]bool{"storage_locations": true, "retention_period": true, "party_contact": true, "party_address": true}
	need := func(where string, m map[string]any, keys ...string) {
		t.Helper()
		for _, k := range keys {
			v, present := m[k]
			empty := v == nil || v == "" || (func() bool { l, ok := v.([]any); return ok && len(l) == 0 })()
			if !present || (empty && !mayBeNull[k]) {
				t.Errorf("%s: mandatory field %s is %v (present %v)", where, k, v, present)
			}
		}
	}
	need("record", r, "schema_version", "record_id", "pii_principal_id", "privacy_notices", "language", "purposes", "parties", "events", "state")
	if r["language"] != "en" || r["state"] != "withdrawn" {
		t.Errorf("language %v, state %v", r["language"], r["state"])
	}
	p := r["purposes"].([]any)[0].(map[string]any)
	need("purpose", p, "purpose", "purpose_description", "lawful_basis", "pii_information", "pii_controllers", "processing_method",
		"storage_locations", "retention_period", "jurisdiction", "recipient_third_parties", "withdrawal_method", "privacy_rights")
	if p["lawful_basis"] != "consent" || p["purpose_description"] != "Training AI models that write text" || p["jurisdiction"] != "US" {
		t.Errorf("purpose %v", p)
	}
	if w := p["withdrawal_method"].(map[string]any); w["url"] != "https://example.com/privacy" || !strings.Contains(w["api"].(string), "/v1/subjects/") {
		t.Errorf("withdrawal method %v", w)
	}
	pii := p["pii_information"].([]any)
	if len(pii) != 2 || pii[0].(map[string]any)["pii_type"] != "user.content.public" || pii[0].(map[string]any)["description"] != "Your public posts" {
		t.Errorf("pii information %v", pii)
	}
	roles := map[string]map[string]any{}
	for _, pt := range r["parties"].([]any) {
		m := pt.(map[string]any)
		need("party", m, "party_id", "party_name", "party_role", "party_type", "party_contact", "party_address")
		roles[m["party_role"].(string)] = m
	}
	if c := roles["pii_controller"]; c == nil || c["party_name"] != "Example Social Ltd" || c["party_contact"] != "privacy@example.com" ||
		c["party_address"] != "1 Example Street, Dublin, Ireland" {
		t.Errorf("controller %v", c)
	}
	if rc := roles["third_party"]; rc == nil || rc["party_id"] != "partner-x" || rc["party_name"] != "Partner X, an AI company" {
		t.Errorf("recipient %v", rc)
	}
	if roles["pii_principal"]["party_id"] != "ana" {
		t.Errorf("principal %v", roles["pii_principal"])
	}
	evs := r["events"].([]any)
	if len(evs) != 2 {
		t.Fatalf("events %v", evs)
	}
	for i, want := range []string{"given", "withdrawn"} {
		e := evs[i].(map[string]any)
		need("event", e, "event_id", "event_time", "event_type", "event_state", "validity_duration", "entity_id", "notice")
		if e["event_state"] != want || e["notice"].(map[string]any)["version"] != "2025-02-01" || e["notice"].(map[string]any)["noted"] != true {
			t.Errorf("event %d: %v", i, e)
		}
	}
	if n := r["privacy_notices"].([]any); len(n) != 1 || n[0].(map[string]any)["url"] != "https://example.com/privacy/2025-02-01" {
		t.Errorf("notices %v", n)
	}
	// The earlier record: the import's grant to every recipient, described
	// by the version then (no controller), the controller the one now.
	first := x.Records[0]
	if first["scope"].(map[string]any)["recipient"].(map[string]any)["type"] != "all" ||
		first["parties"].([]any)[0].(map[string]any)["party_name"] != "Example Social Ltd" {
		t.Errorf("ana's first record %v", first)
	}

	// The JSON-LD form: the same records, DPV terms.
	var ld struct {
		Context map[string]any   `json:"@context"`
		Graph   []map[string]any `json:"@graph"`
	}
	out = ok(t, dir, "consent", "export", "--subject", "ana", "--format", "iso27560-jsonld")
	if err := json.Unmarshal([]byte(out), &ld); err != nil || ld.Context["dpv"] != "https://w3id.org/dpv#" || len(ld.Graph) != 2 {
		t.Fatalf("json-ld %v: %s", err, out)
	}
	g := ld.Graph[1]
	if g["@type"] != "dpv:ConsentRecord" || g["dct:identifier"] != r["record_id"] || g["dpv:hasProcess"] == nil || len(g["dpv:hasConsentStatus"].([]any)) != 2 {
		t.Fatalf("json-ld record %v", g)
	}
	if _, _, code := cg(t, dir, "consent", "export", "--subject", "ana", "--format", "kantara"); code != 2 {
		t.Fatalf("an unknown format: exit %d", code)
	}
}
