package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

func cmdDecide(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("decide")
	var subjects []string
	var category, purpose, recipient string
	var created, asOf timestamp.Time
	var createdSet, asOfSet bool
	fs.Var(listFlag{&subjects}, "subject", "`S[:ROLE]`: a subject id with an optional role (author, recipient, mentioned); repeat for each")
	fs.StringVar(&category, "category", "", "the record's `CATEGORY`")
	fs.Var(timeFlag{&created, &createdSet}, "created", "the record's creation `TIME`")
	fs.StringVar(&purpose, "purpose", "", "the use's `PURPOSE` (a leaf purpose)")
	fs.StringVar(&recipient, "recipient", "", "the `RECIPIENT` id")
	fs.Var(timeFlag{&asOf, &asOfSet}, "as-of", "the `TIME` of the decision (default now)")
	asJSON := fs.Bool("json", false, "print the explanation as JSON")
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if len(subjects) == 0 || category == "" || !createdSet || purpose == "" || recipient == "" {
		return usagef("--subject, --category, --created, --purpose and --recipient are required")
	}
	if !asOfSet {
		asOf = timestamp.Now()
	}
	rec := &decision.Record{Category: []byte(category), Created: created}
	var ids []string
	for _, s := range subjects {
		id, roleName, hasRole := strings.Cut(s, ":")
		role := policy.Author
		if hasRole {
			r, ok := policy.ParseRole(roleName)
			if !ok {
				return usagef("--subject %q: role %q is not author, recipient or mentioned", s, roleName)
			}
			role = r
		}
		if id == "" {
			return usagef("--subject %q: empty subject id", s)
		}
		rec.Subjects = append(rec.Subjects, decision.SubjectRef{ID: []byte(id), Role: role})
		ids = append(ids, id)
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	vs, _, err := loadVersions(ctx, st)
	if err != nil {
		return err
	}
	view, err := store.LoadView(ctx, st, asOf, vs.Attributes(), ids)
	if err != nil {
		return err
	}
	plan, err := decision.NewPlan(vs, view, purpose, recipient)
	if err != nil {
		return err
	}
	ex := plan.Explain(rec)
	if *asJSON {
		return a.printJSON(ex.JSON())
	}
	fmt.Fprint(a.stdout, ex.Text())
	return nil
}
