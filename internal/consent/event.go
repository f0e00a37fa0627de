// Package consent owns subjects and their choices: subject events (region and
// attribute changes over time), consent events, and the point-in-time View an
// export or a decision reads them through.
package consent

import (
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Sources a consent event may come from.
var Sources = []string{"settings", "api", "gpc", "import", "support"}

// ValidSource reports whether s is one of Sources.
func ValidSource(s string) bool {
	for _, x := range Sources {
		if x == s {
			return true
		}
	}
	return false
}

// SubjectEvent is a change to a subject's region and attributes from At on.
// Fields not mentioned are unchanged.
type SubjectEvent struct {
	Seq       int64 // store order; ties at the same At go to the later Seq
	Subject   string
	At        timestamp.Time
	RegionSet bool   // the event sets the region
	Region    string // the region it sets; "" when it removes the region (null)
	// Attributes it sets; a nil value removes the attribute (null).
	Attributes map[string]*string
}

// Event is one consent choice. Recipient "" means every recipient (the file
// format's omitted recipient or "*").
type Event struct {
	Seq       int64
	Subject   string
	Purpose   string
	Recipient string
	State     policy.State
	At        timestamp.Time
	Source    string
}

// RecipientLabel is the recipient as the file format writes it.
func (e *Event) RecipientLabel() string {
	if e.Recipient == "" {
		return "*"
	}
	return e.Recipient
}
