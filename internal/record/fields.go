// Package record owns reading records: the field flags of SPEC §3 (dotted
// paths to the id, creation time, category and subjects), and a strict,
// allocation-free JSON scanner that validates a whole line and picks out
// those fields, failing closed on anything malformed (SPEC §2.4).
package record

import (
	"fmt"
	"strings"

	"github.com/consentgate/consentgate/internal/policy"
)

// SubjectField is one --subject role=path flag.
type SubjectField struct {
	Role policy.Role
	Path string
}

// Fields says which fields of a record to read.
type Fields struct {
	ID            string // dotted path
	Time          string // dotted path
	Category      string // dotted path, or "" when FixedCategory is used
	FixedCategory string
	Subjects      []SubjectField
	// Scan lists text fields (dotted paths) whose string values Scanned
	// returns after a Read, for redaction. A key on one of these paths
	// given twice makes the record malformed, like any key the export reads.
	Scan []string
}

// ParseSubjectFlag reads "role=path".
func ParseSubjectFlag(s string) (SubjectField, error) {
	role, path, ok := strings.Cut(s, "=")
	if !ok {
		return SubjectField{}, fmt.Errorf("--subject %q: expected role=field, e.g. author=from", s)
	}
	r, ok := policy.ParseRole(role)
	if !ok {
		return SubjectField{}, fmt.Errorf("--subject %q: role %q is not author, recipient or mentioned", s, role)
	}
	if err := checkPath(path); err != nil {
		return SubjectField{}, fmt.Errorf("--subject %q: %v", s, err)
	}
	return SubjectField{Role: r, Path: path}, nil
}

func checkPath(p string) error {
	if p == "" {
		return fmt.Errorf("empty field path")
	}
	for _, seg := range strings.Split(p, ".") {
		if seg == "" {
			return fmt.Errorf("field path %q has an empty segment", p)
		}
	}
	return nil
}

// Validate checks the field flags are complete and well formed.
func (f *Fields) Validate() error {
	if f.ID == "" {
		return fmt.Errorf("--id is required: the field holding the record id")
	}
	if f.Time == "" {
		return fmt.Errorf("--time is required: the field holding the record's creation time")
	}
	if (f.Category == "") == (f.FixedCategory == "") {
		return fmt.Errorf("give exactly one of --category-field FIELD or --category CATEGORY")
	}
	if len(f.Subjects) == 0 {
		return fmt.Errorf("at least one --subject role=field is required")
	}
	for _, p := range append([]string{f.ID, f.Time, f.Category}, f.Scan...) {
		if p != "" {
			if err := checkPath(p); err != nil {
				return err
			}
		}
	}
	return nil
}
