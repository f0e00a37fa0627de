package decision

import "github.com/consentgate/consentgate/internal/timestamp"

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

// JSON is the explanation as the --json output and the API give it: the
// decision, its reason, and every check of every subject.
func (ex *Explanation) JSON() any {
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
			Decision: d, Reason: c.Outcome.Reason, Meaning: Describe(c.Outcome)})
	}
	return out
}
