package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestConsentSetNotesVersion: consent set (the application's RecordConsent,
// as the API and the privacy centre) notes the policy version in force at
// the choice's time; consent show says it, and consent export's ISO/IEC TS
// 27560 records tell a noted version from one worked out for an import.
func TestConsentSetNotesVersion(t *testing.T) {
	dir := setupE2E(t)
	ok(t, dir, "consent", "set", "--subject", "ben", "--purpose", "train_ai_system", "--state", "granted", "--at", "2024-06-01T00:00:00Z")
	ok(t, dir, "consent", "set", "--subject", "ben", "--purpose", "train_ai_system", "--recipient", "third_party", "--state", "denied")
	show := ok(t, dir, "consent", "show", "--subject", "ben")
	for _, want := range []string{"2024-06-01T00:00:00Z  granted purpose train_ai_system, recipient *, source support, under policy 2024-01-01",
		"denied  purpose train_ai_system, recipient third_party, source support, under policy 2024-09-18"} {
		if !strings.Contains(show, want) {
			t.Errorf("consent show lacks %q:\n%s", want, show)
		}
	}
	var iso struct {
		Records []struct {
			Events []struct {
				Notice *struct {
					Version string
					Noted   bool
				}
			}
		}
	}
	// notices lists the notice of every event, records in order.
	notices := func() (ns []*struct {
		Version string
		Noted   bool
	}) {
		for _, r := range iso.Records {
			for _, e := range r.Events {
				ns = append(ns, e.Notice)
			}
		}
		return ns
	}
	out := ok(t, dir, "consent", "export", "--subject", "ben", "--format", "iso27560")
	if err := json.Unmarshal([]byte(out), &iso); err != nil || len(iso.Records) != 2 || len(notices()) != 2 {
		t.Fatalf("ben's records %v: %s", err, out)
	}
	if n := notices()[0]; n == nil || n.Version != "2024-01-01" || !n.Noted {
		t.Errorf("the backdated choice's notice: %+v", n)
	}
	if n := notices()[1]; n == nil || n.Version != "2024-09-18" || !n.Noted {
		t.Errorf("the choice's notice: %+v", n)
	}
	// dee's choice came in an import: the version in force then, worked out.
	out = ok(t, dir, "consent", "export", "--subject", "dee", "--format", "iso27560")
	iso.Records = nil
	if err := json.Unmarshal([]byte(out), &iso); err != nil || len(iso.Records) != 1 || len(notices()) != 1 {
		t.Fatalf("dee's records %v: %s", err, out)
	}
	if n := notices()[0]; n == nil || n.Version != "2024-09-18" || n.Noted {
		t.Errorf("the imported choice's notice: %+v", n)
	}
	if v, code := verifyStore(t, dir, nil); code != 0 || !v.OK {
		t.Fatalf("log verify: %+v", v)
	}
}
