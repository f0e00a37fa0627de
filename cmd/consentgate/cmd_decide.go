package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

func cmdDecide(a *app, fs *pflag.FlagSet) runFunc {
	var subjects []string
	var req gate.DecisionRequest
	var created, asOf timestamp.Time
	var createdSet, asOfSet bool
	fs.Var(listFlag{&subjects}, "subject", "`S[:ROLE]`: a subject id with an optional role (author, recipient, mentioned); repeat for each")
	fs.StringVar(&req.Category, "category", "", "the record's `CATEGORY`")
	fs.Var(timeFlag{&created, &createdSet}, "created", "the record's creation `TIME`")
	fs.StringVar(&req.Purpose, "purpose", "", "the use's `PURPOSE` (a leaf purpose)")
	fs.StringVar(&req.Recipient, "recipient", "", "the `RECIPIENT` id")
	fs.Var(timeFlag{&asOf, &asOfSet}, "as-of", "the `TIME` of the decision (default now)")
	asJSON := fs.Bool("json", false, "print the explanation as JSON")
	return func(ctx context.Context, args []string) error {
		if len(subjects) == 0 || req.Category == "" || !createdSet || req.Purpose == "" || req.Recipient == "" {
			return usagef("--subject, --category, --created, --purpose and --recipient are required")
		}
		req.Created = created
		if asOfSet {
			req.AsOf = &asOf
		}
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
			req.Subjects = append(req.Subjects, gate.SubjectRole{ID: id, Role: role})
		}
		g, err := a.open(ctx, gate.ReadOnly)
		if err != nil {
			return err
		}
		defer a.done(g)
		exs, err := g.Decide(ctx, access.Local, []gate.DecisionRequest{req})
		if err != nil {
			return err
		}
		if *asJSON {
			return a.printJSON(exs[0].JSON())
		}
		fmt.Fprint(a.stdout, exs[0].Text())
		return nil
	}
}
