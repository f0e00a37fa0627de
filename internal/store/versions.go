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
	var tables []*policy.Table
	for _, p := range ps {
		doc, _, err := policy.Parse("policy "+p.Version, p.Source)
		if err != nil {
			return nil, nil, fmt.Errorf("stored policy %s no longer parses: %w", p.Version, err)
		}
		t, err := policy.Compile(doc)
		if err != nil {
			return nil, nil, err
		}
		tables = append(tables, t)
	}
	vs, err := decision.NewVersions(tables)
	return vs, ps, err
}
