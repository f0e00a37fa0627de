package policy

// Query is one check's inputs, as DecideDirect takes them.
type Query struct {
	Purpose, Category, Recipient string
	Class                        Class // the recipient's class in the as-of version
	Region                       string
	Attrs                        map[string]string
	Role                         Role
	Consent                      State
}

// DecideDirect decides SPEC §2.2 by reading the document directly, with no
// table, and returns the reason. It is slow and simple on purpose: the
// oracle the compiled tables are tested against.
func (d *Document) DecideDirect(q Query) string {
	purpose, category, recipient, class, region, attrs, role, c := q.Purpose, q.Category, q.Recipient, q.Class, q.Region, q.Attrs, q.Role, q.Consent
	matches := func(w Condition) bool {
		if w.Purposes != nil && !anyOf(w.Purposes, func(q string) bool { return IsAncestorOrSelf(q, purpose) }) {
			return false
		}
		if w.Categories != nil && !anyOf(w.Categories, func(q string) bool { return IsAncestorOrSelf(q, category) }) {
			return false
		}
		if w.Recipients != nil && !anyOf(w.Recipients, func(q string) bool { return q == recipient || q == class.String() }) {
			return false
		}
		if w.Regions != nil && !d.regionMatches(w.Regions, region) {
			return false
		}
		if w.Roles != nil {
			ok := false
			for _, r := range w.Roles {
				ok = ok || r == role
			}
			if !ok {
				return false
			}
		}
		for _, ac := range w.Attrs {
			v, has := attrs[ac.Name]
			if !has || !anyOf(ac.Values, func(x string) bool { return x == v }) {
				return false
			}
		}
		return true
	}
	for _, r := range d.Rules {
		if r.Effect == Deny && matches(r.When) {
			return "rule:" + r.ID
		}
	}
	if c == Denied {
		return "consent.denied"
	}
	for _, r := range d.Rules {
		if r.Effect == RequireConsent && matches(r.When) && c != Granted {
			return "consent.required:" + r.ID
		}
	}
	_, hasR := d.RecipientClass(recipient)
	if !(d.DeclaresPurpose(purpose) && d.DeclaresCategory(category) && hasR) && c != Granted {
		return "consent.required:undeclared"
	}
	if c == Granted {
		return "consent.granted"
	}
	best, granted := -1, false
	for _, df := range d.Defaults {
		if IsAncestorOrSelf(df.Purpose, purpose) && len(df.Purpose) > best {
			best, granted = len(df.Purpose), df.Granted
		}
	}
	if granted {
		return "default.granted"
	}
	return "default.denied"
}

func anyOf(list []string, f func(string) bool) bool {
	for _, x := range list {
		if f(x) {
			return true
		}
	}
	return false
}
