package web

import (
	"strings"
	"testing"
	"time"

	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// TestAftermathWords: the privacy centre says each aftermath in words —
// why, who was told when, what they answered, what is overdue, which jobs
// had trained on it — and never an id where words exist.
func TestAftermathWords(t *testing.T) {
	at := func(s string) timestamp.Time {
		v, _ := time.Parse(time.RFC3339, s)
		return timestamp.FromTime(v)
	}
	w := gate.Words{"partner-x": "Partner X, an AI company", "train_ai_system.generative": "Training AI models that write text or make images"}
	base := gate.Aftermath{ExportID: "exp-1", Purpose: "train_ai_system.generative", Recipient: "partner-x", AsOf: at("2025-01-21T00:00:00Z"),
		Cause: "withdrawal", At: at("2025-03-03T10:00:00Z"), Records: 2, Notices: []gate.MemberNotice{}, Jobs: []gate.LineageLink{}}
	cases := []struct {
		name string
		edit func(a *gate.Aftermath)
		want []string
		not  []string
	}{
		{"not told yet", func(a *gate.Aftermath) {}, []string{"gave 2 records of yours to Partner X, an AI company, for training AI models", "You withdrew on 3 Mar 2025", "Not told yet"}, []string{"partner-x", "train_ai_system"}},
		{"moved", func(a *gate.Aftermath) { a.Cause = "ineligibility" }, []string{"On 3 Mar 2025 your details changed (such as the region you live in"}, nil},
		{"narrower", func(a *gate.Aftermath) { a.Cause = "narrower policy" }, []string{"A later version of the platform's policy, in force from 3 Mar 2025, no longer allows"}, nil},
		{"answered", func(a *gate.Aftermath) {
			a.Notices = []gate.MemberNotice{{ID: "exp-1.n1", IssuedAt: at("2025-03-15T09:00:00Z"), Deadline: at("2025-04-14T09:00:00Z"), Status: "deleted", Records: 1, LogIndex: 7,
				Answers: []gate.NoticeAnswer{{Status: "deleted", Note: "gone from our copy", By: "recipient:partner-x", At: at("2025-03-28T16:30:00Z")}}}}
			a.Jobs = []gate.LineageLink{{Namespace: "partner-x", Job: "llm-v3", At: at("2025-02-10T06:00:00Z")}}
		}, []string{"Partner X, an AI company, was told on 15 Mar 2025 (1 record of yours in the notice).", "It had until 14 Apr 2025 to act.",
			"Answered on 28 Mar 2025: deleted — your records were removed. The note: “gone from our copy”.", "Job partner-x/llm-v3, run finished 10 Feb 2025"}, []string{"Not told yet", "Overdue", "before this applied"}},
		{"overdue", func(a *gate.Aftermath) {
			a.Notices = []gate.MemberNotice{{ID: "exp-1.n2", IssuedAt: at("2025-05-20T09:00:00Z"), Deadline: at("2025-06-19T09:00:00Z"), Status: "open", Overdue: true, Records: 2, Answers: []gate.NoticeAnswer{}}}
		}, []string{"(2 records of yours in the notice)", "Overdue: no answer by 19 Jun 2025."}, []string{"Not told yet", "Answered"}},
		{"refused, overdue", func(a *gate.Aftermath) {
			a.Notices = []gate.MemberNotice{{ID: "exp-1.n2", IssuedAt: at("2025-05-20T09:00:00Z"), Deadline: at("2025-06-19T09:00:00Z"), Status: "refused", Overdue: true, Records: 2,
				Answers: []gate.NoticeAnswer{{Status: "refused", Note: "the model is shipped", By: "recipient:partner-x", At: at("2025-06-01T09:00:00Z")}}}}
		}, []string{"refused — the company would not act on it", "Overdue: refused, and not resolved by 19 Jun 2025."}, nil},
		{"recorded by the platform", func(a *gate.Aftermath) {
			a.Notices = []gate.MemberNotice{{ID: "exp-1.n1", IssuedAt: at("2025-03-15T09:00:00Z"), Status: "excluded", Records: 2,
				Answers: []gate.NoticeAnswer{{Status: "excluded", By: "operator", At: at("2025-03-20T09:00:00Z")}}}}
		}, []string{"The policy set no deadline for it.", "Answered on 20 Mar 2025 (recorded by the platform): excluded — your records are kept out of further training."}, nil},
		{"told for another member", func(a *gate.Aftermath) {
			a.Notices = []gate.MemberNotice{{ID: "exp-1.n1", IssuedAt: at("2025-02-01T09:00:00Z"), Status: "open", Records: 1, Answers: []gate.NoticeAnswer{}}}
		}, []string{"That was before this applied to you: it named that record because of another member it also concerns.", "Waiting for an answer."}, nil},
		{"lapsed", func(a *gate.Aftermath) { a.Lapsed = at("2025-04-01T00:00:00Z") }, []string{"Since 1 Apr 2025 you allow this use again"}, []string{"Not told yet"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := base
			c.edit(&a)
			v := aftermathWords(w, []gate.Aftermath{a})[0]
			text := strings.Join([]string{v.What, v.Why, v.Told, v.Lapsed, strings.Join(v.Marks, " "), strings.Join(v.Jobs, " ")}, " ")
			for _, n := range v.Notices {
				text += " " + strings.Join(append([]string{n.Sentence, n.Until, n.Overdue, n.Waiting}, n.Answers...), " ")
			}
			for _, s := range c.want {
				if !strings.Contains(text, s) {
					t.Errorf("lacks %q:\n%s", s, text)
				}
			}
			for _, s := range c.not {
				if strings.Contains(strings.ReplaceAll(text, "partner-x/llm", ""), s) {
					t.Errorf("says %q:\n%s", s, text)
				}
			}
		})
	}
}
