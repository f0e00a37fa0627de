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
		return a.printJSON(explanationJSON(ex))
	}
	fmt.Fprint(a.stdout, ex.Text())
	return nil
}

type checkJSON struct {
	Subject  string            `json:"subject"`
	Role     string            `json:"role"`
	Check    string            `json:"check"`
	Version  string            `json:"version"`
	At       timestamp.Time    `json:"at"`
	Region   string            `json:"region"`
	Attrs    map[string]string `json:"attributes"`
	Consent  string            `json:"consent"`
	Decision string            `json:"decision"`
	Reason   string            `json:"reason"`
	Meaning  string            `json:"meaning"`
}

func explanationJSON(ex *decision.Explanation) any {
	out := struct {
		Decision  string         `json:"decision"`
		Reason    string         `json:"reason"`
		Subject   string         `json:"subject,omitempty"`
		Role      string         `json:"role,omitempty"`
		Check     string         `json:"check,omitempty"`
		Purpose   string         `json:"purpose"`
		Recipient string         `json:"recipient"`
		Category  string         `json:"category"`
		Created   timestamp.Time `json:"created"`
		AsOf      timestamp.Time `json:"as_of"`
		Checks    []checkJSON    `json:"checks"`
	}{Decision: "deny", Reason: ex.Reason, Subject: string(ex.Subject), Check: ex.Check.String(),
		Purpose: ex.Purpose, Recipient: ex.Recipient, Category: ex.Category, Created: ex.Created, AsOf: ex.AsOf, Checks: []checkJSON{}}
	if ex.Allow {
		out.Decision = "allow"
	}
	if len(ex.Subject) > 0 {
		out.Role = ex.Role.String()
	}
	for _, c := range ex.Checks {
		d := "deny"
		if c.Outcome.Allow {
			d = "allow"
		}
		out.Checks = append(out.Checks, checkJSON{Subject: c.Subject, Role: c.Role.String(), Check: c.Check.String(),
			Version: c.Version, At: c.At, Region: c.Region, Attrs: c.Attrs, Consent: c.Consent.String(),
			Decision: d, Reason: c.Outcome.Reason, Meaning: decision.Describe(c.Outcome)})
	}
	return out
}
