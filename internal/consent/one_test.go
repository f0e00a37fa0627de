package consent

import (
	"fmt"
	"testing"

	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// TestOne: a one-subject view answers as the view it was cut from, at
// every time, and carries the extra events after the subject's own.
func TestOne(t *testing.T) {
	str := func(s string) *string { return &s }
	b := NewBuilder(100, []string{"tier"}, 0, 0)
	b.AddSubject(SubjectEvent{Seq: 1, Subject: "a", At: 10, RegionSet: true, Region: "DE", Attributes: map[string]*string{"tier": str("free")}})
	b.AddSubject(SubjectEvent{Seq: 2, Subject: "b", At: 5, RegionSet: true, Region: "US"})
	b.AddSubject(SubjectEvent{Seq: 3, Subject: "a", At: 30, RegionSet: true, Region: "US-CA"})
	b.AddSubject(SubjectEvent{Seq: 4, Subject: "a", At: 50, Attributes: map[string]*string{"tier": nil}})
	b.AddConsent(Event{Seq: 1, Subject: "a", Purpose: "p", State: policy.Denied, At: 20, Source: "api"})
	b.AddConsent(Event{Seq: 2, Subject: "a", Purpose: "p", Recipient: "x", State: policy.Granted, At: 40, Source: "settings"})
	v := b.Finish()
	i, _ := v.Lookup("a")
	one := v.One(i, 100, Event{Purpose: "q", State: policy.Granted, At: 100, Source: "settings"})
	j, ok := one.Lookup("a")
	if !ok || one.Len() != 1 || one.Number(j) != v.Number(i) {
		t.Fatalf("one: %d subjects, number %d", one.Len(), one.Number(j))
	}
	for _, at := range []timestamp.Time{0, 10, 29, 30, 49, 50, 100} {
		a, b := v.StateAt(i, at), one.StateAt(j, at)
		if v.Regions[v.StateRegion(a)] != one.Regions[one.StateRegion(b)] || fmt.Sprint(v.Attrs(a)) != fmt.Sprint(one.Attrs(b)) {
			t.Errorf("at %d: %s %v, one gives %s %v", at, v.Regions[v.StateRegion(a)], v.Attrs(a), one.Regions[one.StateRegion(b)], one.Attrs(b))
		}
	}
	if one.NumConsent(j) != 3 || one.ConsentEvent(j, 2).Purpose != "q" || one.ConsentEvent(j, 1).Source != "settings" {
		t.Fatalf("consent: %d events", one.NumConsent(j))
	}
	if early := v.One(i, 25); early.NumConsent(0) != 1 || early.AsOf != 25 {
		t.Fatal("a one-subject view as of an earlier time holds the events up to it")
	}
}
