package store

import (
	"context"
	"fmt"

	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/policy"
)

// LoadVersions compiles every published policy version of a store.
func LoadVersions(ctx context.Context, s Store) (*decision.Versions, []Policy, error) {
	ps, err := s.Policies(ctx)
	if err != nil {
		return nil, nil, err
	}
	vs, err := CompileVersions(ps)
	return vs, ps, err
}

// CompileVersions compiles published policy versions, ordered by
// effective_from, into the tables decisions use.
func CompileVersions(ps []Policy) (*decision.Versions, error) {
	var tables []*policy.Table
	for _, p := range ps {
		doc, _, err := policy.ParsePublished("policy "+p.Version, p.Source) // checked when published, perhaps by an earlier release
		if err != nil {
			return nil, fmt.Errorf("stored policy %s no longer parses: %w", p.Version, err)
		}
		t, err := policy.Compile(doc)
		if err != nil {
			return nil, err
		}
		tables = append(tables, t)
	}
	return decision.NewVersions(tables)
}
