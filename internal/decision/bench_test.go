package decision_test

import (
	"fmt"
	"testing"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/demo"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

func demoVersions(b *testing.B) *decision.Versions {
	b.Helper()
	names, srcs := demo.PolicyFiles()
	var tables []*policy.Table
	for _, n := range names {
		doc, _, err := policy.Parse(n, srcs[n])
		if err != nil {
			b.Fatal(err)
		}
		t, err := policy.Compile(doc)
		if err != nil {
			b.Fatal(err)
		}
		tables = append(tables, t)
	}
	vs, err := decision.NewVersions(tables)
	if err != nil {
		b.Fatal(err)
	}
	return vs
}

var sink int

// BenchmarkDecide is one decision from resolved inputs: a lookup in the
// compiled table (SPEC §10: ≤ 50 ns, no allocation).
func BenchmarkDecide(b *testing.B) {
	vs := demoVersions(b)
	t := vs.Table(vs.Len() - 1)
	p := t.PurposeClass("train_ai_system.generative")
	c := t.CategoryClass("user.content.private.message")
	r := t.RecipientClass("partner-x", policy.ThirdParty)
	tier, _ := t.AttrIndex("tier")
	s := t.SubjectClass(t.RegionClass("US-CA"), []int{t.AttrClass(tier, "premium", true)})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sink += t.Decide(p, c, r, s, policy.Role(i%3), policy.State(i%3))
		i++
	}
	if o := t.Outcomes[t.Decide(p, c, r, s, policy.RecipientRole, policy.Granted)]; o.Reason != "rule:premium-messages-stay-private" {
		b.Fatalf("decided %s", o.Reason)
	}
}

// BenchmarkResolveAndDecide is a subject's state and consent resolved from
// a loaded view of a million subjects, then both checks of one record
// (SPEC §10: resolving ≤ 100 ns).
func BenchmarkResolveAndDecide(b *testing.B) {
	vs := demoVersions(b)
	const n = 1_000_000
	asOf := timestamp.FromTime(demo.AsOf)
	bl := consent.NewBuilder(asOf, vs.Attributes(), n, n/3)
	regions := []string{"US", "DE", "BR", "US-CA", "JP", "GB"}
	ids := make([][]byte, n)
	for i := 0; i < n; i++ {
		ids[i] = fmt.Appendf(nil, "m%07d", i)
		attrs := []byte(`{"tier":"free"}`)
		if i%5 == 0 {
			attrs = []byte(`{"tier":"premium"}`)
		}
		bl.AddSubjectRow(ids[i], asOf-1e12, int64(i), true, []byte(regions[i%len(regions)]), attrs)
		if i%3 == 0 {
			bl.AddConsentRow(ids[i], []byte("train_ai_system"), nil, policy.Denied, asOf-1e9, int64(i), []byte("settings"))
		}
	}
	view := bl.Finish()
	plan, err := decision.NewPlan(vs, view, demo.ExportPurpose, demo.ExportRecipient)
	if err != nil {
		b.Fatal(err)
	}
	// The ids of the records, in random subject order but one after the
	// other in memory, as they are in an export's input.
	stream := make([][]byte, n)
	var arena []byte
	for i := range stream {
		arena = append(arena, ids[(i*7919)%n]...)
	}
	for i, off := 0, 0; i < n; i++ {
		l := len(ids[(i*7919)%n])
		stream[i] = arena[off : off+l]
		off += l
	}
	b.Run("one", func(b *testing.B) {
		rec := decision.Record{Category: []byte("user.content.public"), Created: asOf - 1e11, Subjects: []decision.SubjectRef{{Role: policy.Author}}}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			rec.Subjects[0].ID = stream[i%n]
			i++
			if plan.Decide(&rec).Allow {
				sink++
			}
		}
	})
	// As the export does it: a group of records hashed, prefetched,
	// resolved, touched, then decided, so that their memory accesses
	// overlap. The time is per record.
	b.Run("grouped", func(b *testing.B) {
		const group = 32
		recs := make([]decision.Record, group)
		for k := range recs {
			recs[k] = decision.Record{Category: []byte("user.content.public"), Created: asOf - 1e11, Subjects: []decision.SubjectRef{{Role: policy.Author}}}
		}
		b.ReportAllocs()
		i := 0
		var x uint32
		for b.Loop() {
			k := i % group
			recs[k].Subjects[0].ID = stream[i%n]
			i++
			if k != group-1 {
				continue
			}
			for k := range recs {
				plan.Hash(&recs[k])
			}
			for k := range recs {
				x += plan.Prefetch(&recs[k])
			}
			for k := range recs {
				plan.Resolve(&recs[k])
			}
			for k := range recs {
				x += plan.Touch(&recs[k])
			}
			for k := range recs {
				if plan.DecideResolved(&recs[k]).Allow {
					sink++
				}
			}
		}
		sink += int(x)
	})
}
