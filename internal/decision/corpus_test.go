package decision_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/record"
	"github.com/consentgate/consentgate/internal/sqlite"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// corpusWorld is one file of testdata/decisions.
type corpusWorld struct {
	Policies []string     `yaml:"policies"`
	Subjects []string     `yaml:"subjects"`
	Consent  []string     `yaml:"consent"`
	Cases    []corpusCase `yaml:"cases"`
}

type corpusCase struct {
	Name      string   `yaml:"name"`
	Rule      string   `yaml:"rule"`
	Line      string   `yaml:"line"`
	Kind      string   `yaml:"kind"`
	Author    []string `yaml:"author"`
	To        []string `yaml:"to"`
	Mentions  []string `yaml:"mentions"`
	Created   string   `yaml:"created"`
	Purpose   string   `yaml:"purpose"`
	Recipient string   `yaml:"recipient"`
	AsOf      string   `yaml:"as_of"`
	Expect    struct {
		Decision string `yaml:"decision"`
		Reason   string `yaml:"reason"`
		Subject  string `yaml:"subject"`
		Role     string `yaml:"role"`
		Check    string `yaml:"check"`
		Error    string `yaml:"error"`
	} `yaml:"expect"`
}

// corpusFields are the field flags every corpus record is read with.
var corpusFields = record.Fields{ID: "id", Time: "created_at", Category: "kind", Subjects: []record.SubjectField{
	{Role: policy.Author, Path: "author"}, {Role: policy.RecipientRole, Path: "to"}, {Role: policy.Mentioned, Path: "mentions"}}}

func (c *corpusCase) line() string {
	if c.Line != "" {
		return c.Line
	}
	m := map[string]any{"id": "case", "kind": c.Kind, "created_at": c.Created}
	if m["kind"] == "" {
		m["kind"] = "user.content.public"
	}
	if c.Created == "" {
		m["created_at"] = "2024-07-15T00:00:00Z"
	}
	for k, v := range map[string][]string{"author": c.Author, "to": c.To, "mentions": c.Mentions} {
		if v != nil {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func mustTime(t *testing.T, s, def string) timestamp.Time {
	t.Helper()
	if s == "" {
		s = def
	}
	v, err := timestamp.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// loadWorld parses a corpus file and returns its versions, events, and a
// SQLite store holding the same.
func loadWorld(t *testing.T, path string) (*corpusWorld, *decision.Versions, []consent.SubjectEvent, []consent.Event, store.Store) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var w corpusWorld
	if err := yaml.Unmarshal(src, &w); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "corpus.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var tables []*policy.Table
	for i, p := range w.Policies {
		doc, _, err := policy.Parse("policy", []byte(p))
		if err != nil {
			t.Fatalf("policy %d: %v", i, err)
		}
		tb, err := policy.Compile(doc)
		if err != nil {
			t.Fatal(err)
		}
		tables = append(tables, tb)
		if _, err := st.PublishPolicy(ctx, store.Policy{Version: doc.Version, EffectiveFrom: doc.EffectiveFrom, Source: doc.Source, Digest: doc.Digest(), PublishedAt: timestamp.Time(i)}); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := decision.NewVersions(tables)
	if err != nil {
		t.Fatal(err)
	}
	now := timestamp.Now()
	var subs []consent.SubjectEvent
	for i, l := range w.Subjects {
		e, err := consent.ParseSubjectLine([]byte(l), now)
		if err != nil {
			t.Fatalf("subject line %d: %v", i+1, err)
		}
		e.Seq = int64(i + 1)
		subs = append(subs, e)
	}
	var cons []consent.Event
	for i, l := range w.Consent {
		e, err := consent.ParseConsentLine([]byte(l), now)
		if err != nil {
			t.Fatalf("consent line %d: %v", i+1, err)
		}
		e.Seq = int64(i + 1)
		cons = append(cons, e)
	}
	if _, err := st.AddSubjectEvents(ctx, subs); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddConsentEvents(ctx, cons); err != nil {
		t.Fatal(err)
	}
	return &w, vs, subs, cons, st
}

// TestCorpus runs every case of testdata/decisions through the decision
// engine twice — over a view built in memory and over one loaded from a real
// SQLite store — and through both the fast path and the explaining one.
func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/decisions/*.yaml")
	if len(files) == 0 {
		t.Fatal("no corpus files")
	}
	for _, file := range files {
		w, vs, subs, cons, st := loadWorld(t, file)
		for _, c := range w.Cases {
			t.Run(filepath.Base(file)+"/"+c.Name, func(t *testing.T) {
				asOf := mustTime(t, c.AsOf, "2025-01-01T00:00:00Z")
				purpose, recipient := c.Purpose, c.Recipient
				if purpose == "" {
					purpose = "train_ai_system.generative"
				}
				if recipient == "" {
					recipient = "partner-x"
				}
				b := consent.NewBuilder(asOf, vs.Attributes(), 0, 0)
				for _, e := range subs {
					b.AddSubject(e)
				}
				for _, e := range cons {
					b.AddConsent(e)
				}
				memView := b.Finish()
				dbView, err := store.LoadView(context.Background(), st, asOf, vs.Attributes(), nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, view := range []*consent.View{memView, dbView} {
					plan, err := decision.NewPlan(vs, view, purpose, recipient)
					if c.Expect.Error != "" {
						if err == nil || !strings.Contains(err.Error(), c.Expect.Error) {
							t.Fatalf("%s: plan error %v, want one containing %q", c.Rule, err, c.Expect.Error)
						}
						continue
					}
					if err != nil {
						t.Fatalf("%s: %v", c.Rule, err)
					}
					var rec decision.Record
					got := decision.Result{Reason: decision.ReasonMalformed}
					if _, err := record.NewReader(corpusFields).Read([]byte(c.line()), &rec); err == nil {
						got = plan.Decide(&rec)
						ex := plan.Explain(&rec)
						if ex.Allow != got.Allow || ex.Reason != got.Reason || string(ex.Subject) != string(got.Subject) || ex.Check != got.Check || ex.Role != got.Role {
							t.Fatalf("Explain %+v disagrees with Decide %+v", ex.Result, got)
						}
					}
					want := c.Expect
					dec := "deny"
					if got.Allow {
						dec = "allow"
					}
					role := ""
					if len(got.Subject) > 0 {
						role = got.Role.String()
					}
					if dec != want.Decision || (want.Reason != "" && got.Reason != want.Reason && !(got.Allow && want.Decision == "allow")) ||
						string(got.Subject) != want.Subject || role != want.Role || got.Check.String() != want.Check {
						t.Errorf("%s: got %s %s subject=%q role=%q check=%q; want %s %s subject=%q role=%q check=%q",
							c.Rule, dec, got.Reason, got.Subject, role, got.Check, want.Decision, want.Reason, want.Subject, want.Role, want.Check)
					}
					if got.Allow && want.Reason != "" {
						// The reason of an allowed record is that of its last check.
						ex := plan.Explain(&rec)
						last := ex.Checks[len(ex.Checks)-1].Outcome.Reason
						if last != want.Reason {
							t.Errorf("%s: allowed by %s, want %s", c.Rule, last, want.Reason)
						}
					}
				}
			})
		}
	}
}
