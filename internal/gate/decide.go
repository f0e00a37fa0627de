package gate

import (
	"context"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/record"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// DecisionRequest is one record to decide.
type DecisionRequest struct {
	Subjects  []SubjectRole
	Category  string
	Created   timestamp.Time
	Purpose   string
	Recipient string
	AsOf      *timestamp.Time // nil: now
}

// SubjectRole is a subject on a record with its role.
type SubjectRole struct {
	ID   string
	Role policy.Role
}

// MaxDecisions bounds one batch.
const MaxDecisions = 10_000

// maxViewSubjects is the most subjects a batch's view is loaded for by
// name; beyond, it is loaded for every subject (one scan, not a query with
// thousands of parameters).
const maxViewSubjects = 2_000

// Decide decides records (SPEC §2.3–§2.4) with the full explanation of
// each: the batch's subjects are read once per as-of time, and one plan
// serves every record of an as-of time, purpose and recipient. An Invalid
// error names the record (0-based) at fault.
func (g *Gate) Decide(ctx context.Context, p access.Principal, reqs []DecisionRequest) ([]*decision.Explanation, error) {
	if !p.Can(access.Decide, "") {
		return nil, errForbidden
	}
	if len(reqs) == 0 || len(reqs) > MaxDecisions {
		return nil, invalid("expected 1 to %d records to decide, got %d", MaxDecisions, len(reqs))
	}
	vs, _, err := g.loadVersions(ctx)
	if err != nil {
		return nil, err
	}
	t := now()
	at := make([]timestamp.Time, len(reqs))
	subjectsAt := map[timestamp.Time]map[string]bool{}
	for i, q := range reqs {
		at[i] = t
		if q.AsOf != nil {
			at[i] = *q.AsOf
		}
		if len(q.Subjects) == 0 || q.Category == "" || q.Purpose == "" || q.Recipient == "" {
			return nil, invalid("record %d: subjects, category, created, purpose and recipient are required", i)
		}
		if subjectsAt[at[i]] == nil {
			subjectsAt[at[i]] = map[string]bool{}
		}
		for _, s := range q.Subjects {
			if s.ID == "" {
				return nil, invalid("record %d: a subject without an id", i)
			}
			subjectsAt[at[i]][s.ID] = true
		}
	}
	views := map[timestamp.Time]*consent.View{}
	for when, set := range subjectsAt {
		var ids []string // nil: every subject, for a batch naming many
		if len(set) <= maxViewSubjects {
			ids = make([]string, 0, len(set))
			for id := range set {
				ids = append(ids, id)
			}
		}
		if views[when], err = store.LoadView(ctx, g.st, when, vs.Attributes(), ids); err != nil {
			return nil, err
		}
	}
	type planKey struct {
		at                 timestamp.Time
		purpose, recipient string
	}
	plans := map[planKey]*decision.Plan{}
	out := make([]*decision.Explanation, len(reqs))
	for i, q := range reqs {
		k := planKey{at[i], q.Purpose, q.Recipient}
		plan, ok := plans[k]
		if !ok {
			if plan, err = decision.NewPlan(vs, views[k.at], q.Purpose, q.Recipient); err != nil {
				if len(reqs) == 1 {
					return nil, invalid("%v", err)
				}
				return nil, invalid("record %d: %v", i, err)
			}
			plans[k] = plan
		}
		rec := decision.Record{Category: []byte(q.Category), Created: q.Created}
		for _, s := range q.Subjects {
			rec.Subjects = append(rec.Subjects, decision.SubjectRef{ID: []byte(s.ID), Role: s.Role})
		}
		out[i] = plan.Explain(&rec)
	}
	return out, nil
}

// DecideLine decides one input line as an export reads it (its fields
// found by fields, by the same strict reader), with the full explanation:
// why an export included or rejected it. A line the reader refuses is an
// Invalid error naming what was expected.
func (g *Gate) DecideLine(ctx context.Context, p access.Principal, fields record.Fields, line []byte, purpose, recipient string, asOf *timestamp.Time) (*decision.Explanation, error) {
	var rec decision.Record
	if _, err := record.NewReader(fields).Read(line, &rec); err != nil {
		return nil, invalid("%v", err)
	}
	q := DecisionRequest{Category: string(rec.Category), Created: rec.Created, Purpose: purpose, Recipient: recipient, AsOf: asOf}
	for _, s := range rec.Subjects {
		q.Subjects = append(q.Subjects, SubjectRole{ID: string(s.ID), Role: s.Role})
	}
	exs, err := g.Decide(ctx, p, []DecisionRequest{q})
	if err != nil {
		return nil, err
	}
	return exs[0], nil
}
