package httpapi_test

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/gate"
)

// TestConsentNotesVersion: a choice recorded over the API notes the policy
// version in force at its time and that version's notice (SPEC §2.1); once
// a new version takes effect, the next choice notes it; a backdated one
// notes the version in force at its own time, a GPC denial the version in
// force when the signal came, an import none. The history answer shows
// them, and the ISO/IEC TS 27560 records carry them with the version's
// words.
func TestConsentNotesVersion(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t) // v1 in force since 2020, without a notice
	// v2: the same rules, a notice and words, in force in two seconds.
	from := time.Now().UTC().Truncate(time.Second).Add(2 * time.Second)
	v2 := strings.Replace(testPolicy, `version: "v1"
effective_from: 2020-01-01T00:00:00Z`, `version: "v2"
effective_from: `+from.Format(time.RFC3339)+`
notice: https://example.com/privacy/v2
describe:
  train_ai_system.generative: Training AI models that write text
  partner-x: Partner X, an AI company
  third_party: Companies outside the platform`, 1)
	publish(t, w.g, v2)

	type recorded struct {
		Recorded []struct{ Source, Policy, Notice string }
	}
	post := func(who, body string, hdr ...string) recorded {
		t.Helper()
		code, b := w.do(who, "POST", "/v1/subjects/ana/consents", body, hdr...)
		var r recorded
		if code != 201 || json.Unmarshal(b, &r) != nil || len(r.Recorded) == 0 {
			t.Fatalf("POST %s: %d %s", body, code, b)
		}
		return r
	}
	r := post("ana", `{"purpose":"train_ai_system.generative","recipient":"partner-x","state":"granted"}`)
	if e := r.Recorded[0]; e.Policy != "v1" || e.Notice != "" {
		t.Fatalf("before v2 took effect: %+v", e)
	}
	time.Sleep(time.Until(from) + 10*time.Millisecond)
	r = post("ana", `{"purpose":"train_ai_system.generative","recipient":"self","state":"granted"}`, "Sec-GPC", "1")
	if len(r.Recorded) != 2 || r.Recorded[0].Source != "gpc" {
		t.Fatalf("with GPC: %+v", r)
	}
	for _, e := range r.Recorded {
		if e.Policy != "v2" || e.Notice != "https://example.com/privacy/v2" {
			t.Fatalf("after v2 took effect: %+v", e)
		}
	}
	// An operator's backdated choice: the version in force at its time.
	r = post("operator", `{"purpose":"train_ai_system.generative","state":"denied","at":"2021-06-01T00:00:00Z","source":"support"}`)
	if e := r.Recorded[0]; e.Policy != "v1" || e.Notice != "" {
		t.Fatalf("backdated to 2021: %+v", e)
	}
	// Before any version: nothing noted.
	r = post("operator", `{"purpose":"train_ai_system.generative","state":"denied","at":"2019-06-01T00:00:00Z","source":"support"}`)
	if e := r.Recorded[0]; e.Policy != "" || e.Notice != "" {
		t.Fatalf("before any version: %+v", e)
	}
	// What a choice noted is the application's to say, never the caller's.
	if code, b := w.do("operator", "POST", "/v1/subjects/ana/consents", `{"purpose":"train_ai_system.generative","state":"denied","policy":"v9"}`); code != 400 {
		t.Fatalf("a request naming the version: %d %s", code, b)
	}
	// An import notes none.
	file := writeFile(t, w.dir, "consent.jsonl", `{"subject":"ana","purpose":"train_ai_system.generative","recipient":"third_party","state":"denied","at":"2022-01-01T00:00:00Z","source":"import"}`+"\n")
	if _, err := w.g.ImportConsent(ctx, file); err != nil {
		t.Fatal(err)
	}

	var hist struct {
		Events []gate.ConsentEvent
	}
	code, b := w.do("ana", "GET", "/v1/subjects/ana/consents/history", "")
	if code != 200 || json.Unmarshal(b, &hist) != nil {
		t.Fatalf("history: %d %s", code, b)
	}
	type noted struct{ source, policy, notice string }
	want := []noted{ // (at, seq) order
		{"support", "", ""},
		{"support", "v1", ""},
		{"import", "", ""},
		{"settings", "v1", ""},
		{"gpc", "v2", "https://example.com/privacy/v2"},
		{"settings", "v2", "https://example.com/privacy/v2"},
	}
	if len(hist.Events) != len(want) {
		t.Fatalf("history %+v", hist.Events)
	}
	for i, e := range hist.Events {
		if got := (noted{e.Source, e.Policy, e.Notice}); got != want[i] {
			t.Errorf("history event %d: %+v, want %+v", i, got, want[i])
		}
	}
	if strings.Contains(string(b[:strings.Index(string(b), `"source":"import"`)]), `"policy":""`) {
		t.Errorf("an event noting no version answers an empty policy: %s", b)
	}
	pc, err := w.g.PrivacyCentre(ctx, access.Local, "ana")
	if err != nil || len(pc.History) != len(want) || pc.History[0].Policy != "v2" || pc.History[0].Notice != "https://example.com/privacy/v2" {
		t.Fatalf("the privacy centre's history (newest first): %+v %v", pc, err)
	}

	recs, err := w.g.ConsentRecords(ctx, access.Local, "ana")
	if err != nil || len(recs.Records) != 5 { // (gen, *), (gen, third_party), (gen, partner-x), (train_ai_system, third_party), (gen, self)
		t.Fatalf("records %+v %v", recs, err)
	}
	// The records' events, in (at, seq) order, each with its record.
	type event struct {
		e consent.ISOEvent
		r *consent.ISORecord
	}
	var evs []event
	for i := range recs.Records {
		for _, e := range recs.Records[i].Events {
			evs = append(evs, event{e, &recs.Records[i]})
		}
	}
	sort.SliceStable(evs, func(a, b int) bool { return evs[a].e.EventTime < evs[b].e.EventTime })
	if len(evs) != len(want) {
		t.Fatalf("%d events in the records, want %d", len(evs), len(want))
	}
	// The first: before any version, no notice at all.
	if n := evs[0].e.Notice; n != nil {
		t.Errorf("an event before any version has a notice: %+v", n)
	}
	// The import: the version in force then, worked out, not noted.
	if n := evs[2].e.Notice; n == nil || n.Version != "v1" || n.Noted || n.SHA256 == "" {
		t.Errorf("the imported event's notice: %+v", n)
	}
	for _, k := range []int{4, 5} {
		if n := evs[k].e.Notice; n == nil || n.Version != "v2" || n.URL != "https://example.com/privacy/v2" || !n.Noted || n.SHA256 == "" {
			t.Errorf("event %d's notice: %+v", k, n)
		}
	}
	if r := evs[5].r; r.Purposes[0].PurposeDescription != "Training AI models that write text" || r.Scope.Recipient.ID != "self" || r.Scope.Recipient.Name != "" {
		t.Errorf("the last event's record's words: %+v", r)
	}
	if ev := evs[4]; ev.r.Scope.Recipient.Name != "Companies outside the platform" || ev.e.Method != "Global Privacy Control signal" {
		t.Errorf("the GPC denial's record: %+v %+v", ev.e, ev.r)
	}
	if ev := evs[3]; ev.r.Purposes[0].PurposeDescription != "use for train_ai_system.generative" || ev.r.Scope.Recipient.Name != "" || !ev.e.Notice.Noted {
		t.Errorf("a record under v1 (no words): %+v %+v", ev.e, ev.r)
	}
}
