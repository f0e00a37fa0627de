package gate_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/demo"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// TestDemoWorldOneAnswer: for every member of the demo's world (its
// default size), the privacy centre's settings and the API's effective
// entries say what decide says, and the settings' states follow from
// them: one answer per question.
func TestDemoWorldOneAnswer(t *testing.T) {
	dir := t.TempDir()
	files, stats, err := demo.Generate(dir, 5000, 2024)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, dir: dir}
	g, err := gate.Open(ctx, gate.Config{Store: w.store(), Mode: gate.Create, Deployment: "test", Serving: true})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	w.g = g
	for _, p := range files.Policies {
		src, _ := os.ReadFile(p)
		if _, err := w.publish(string(src), false); gate.As(err) != nil && gate.As(err).Hint == gate.Force {
			_, err = w.publish(string(src), true)
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := g.ImportSubjects(ctx, files.Subjects); err != nil {
		t.Fatal(err)
	}
	if _, err := g.ImportConsent(ctx, files.Consent); err != nil {
		t.Fatal(err)
	}
	type entry struct {
		subject string
		e       gate.Effective
	}
	var entries []entry
	states := map[string]int{}
	// The privacy centre's settings tallied as the console counts them,
	// by purpose and class.
	tally := map[[2]string]*gate.Standings{}
	for i := 1; i <= stats.Members; i++ {
		id := fmt.Sprintf("m%05d", i)
		cs, err := g.Consents(ctx, member(id), id, nil)
		if err != nil {
			t.Fatal(err)
		}
		pc, err := g.PrivacyCentre(ctx, member(id), id)
		if err != nil {
			t.Fatal(err)
		}
		inAPI := map[gate.Effective]bool{}
		for _, e := range cs.Effective {
			inAPI[e] = true
			entries = append(entries, entry{id, e})
		}
		n := 0
		for _, s := range pc.Settings {
			states[s.State]++
			k := [2]string{s.Purpose, s.Class}
			if tally[k] == nil {
				tally[k] = &gate.Standings{}
			}
			switch s.State {
			case gate.OnByDefault:
				tally[k].OnByDefault++
			case gate.OnAgreed:
				tally[k].Agreed++
			case gate.OffRefused:
				tally[k].Refused++
			case gate.OffByDefault:
				tally[k].OffByDefault++
			case gate.NotPossible:
				tally[k].NotPossible++
			}
			allowed := 0
			for _, e := range s.Entries {
				n++
				if !inAPI[e] {
					t.Fatalf("%s: the privacy centre shows %+v, the API does not", id, e)
				}
				if e.Decision == "allow" {
					allowed++
				}
			}
			ok := true
			switch s.State {
			case gate.OnByDefault:
				ok = allowed > 0 && s.ChosenBy == nil && s.On
			case gate.OnAgreed:
				ok = s.ChosenBy != nil && s.ChosenBy.State == "granted"
			case gate.OffRefused:
				ok = allowed == 0 && !s.On && s.ChosenBy != nil && s.ChosenBy.State == "denied"
			case gate.OffByDefault:
				ok = allowed == 0 && !s.On && s.ChosenBy == nil
			case gate.NotPossible:
				ok = allowed == 0 && !s.CanAgree && !s.CanRefuse && !s.On
			}
			if !ok {
				t.Fatalf("%s: setting %+v does not follow from its entries", id, s)
			}
		}
		if n != len(cs.Effective) {
			t.Fatalf("%s: the settings show %d uses, the API %d", id, n, len(cs.Effective))
		}
	}
	// The console counts what the privacy centres show: today by region
	// (summed) and the present month of consent over time, for every
	// purpose and class (one recipient each in the demo).
	c, err := g.Console(ctx, access.Local, gate.ImpactFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, series := range c.OverTime {
		got := series.Months[len(series.Months)-1].Standings
		if want := tally[[2]string{series.Purpose, series.Class}]; want == nil || got != *want {
			t.Errorf("the console counts %s by %s now as %+v; the privacy centres show %+v", series.Purpose, series.Class, got, want)
		}
	}
	for _, today := range c.Today {
		var got gate.Standings
		for _, grp := range today.Groups {
			got.Agreed += grp.Agreed
			got.Refused += grp.Refused
			got.OnByDefault += grp.OnByDefault
			got.OffByDefault += grp.OffByDefault
			got.NotPossible += grp.NotPossible
		}
		if want := tally[[2]string{today.Purpose, today.Class}]; want == nil || got != *want {
			t.Errorf("the console counts %s by %s today as %+v; the privacy centres show %+v", today.Purpose, today.Class, got, want)
		}
	}
	// Every entry is decide's answer, in batches as the API takes them.
	for start := 0; start < len(entries); start += gate.MaxDecisions {
		batch := entries[start:min(start+gate.MaxDecisions, len(entries))]
		reqs := make([]gate.DecisionRequest, len(batch))
		for i, x := range batch {
			reqs[i] = gate.DecisionRequest{Subjects: []gate.SubjectRole{{ID: x.subject, Role: policy.Author}}, Category: x.e.Category,
				Purpose: x.e.Purpose, Recipient: x.e.Recipient}
		}
		// Created and as of the same instant: the effective state's record.
		at := timestamp.Now()
		for i := range reqs {
			reqs[i].Created, reqs[i].AsOf = at, &at
		}
		exs, err := g.Decide(ctx, access.Local, reqs)
		if err != nil {
			t.Fatal(err)
		}
		for i, ex := range exs {
			x := batch[i]
			if ex.Allow != (x.e.Decision == "allow") || (!ex.Allow && ex.Reason != x.e.Reason) {
				t.Fatalf("%s %s %s %s: decide says %v %s, the effective state %s %s", x.subject, x.e.Purpose, x.e.Recipient, x.e.Category,
					ex.Allow, ex.Reason, x.e.Decision, x.e.Reason)
			}
		}
	}
	// The world has every kind of setting the privacy centre words.
	for _, s := range []string{gate.OnByDefault, gate.OnAgreed, gate.OffRefused, gate.NotPossible} {
		if states[s] == 0 {
			t.Errorf("no member's setting is %s: %v", s, states)
		}
	}
	t.Logf("%d members, %d effective entries, settings by state: %v", stats.Members, len(entries), states)
}
