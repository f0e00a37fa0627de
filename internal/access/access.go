// Package access owns who may do what through the HTTP API and the web
// pages (SPEC §7): roles, bearer tokens (256 random bits, kept only as
// SHA-256), and the rule that a subject reaches only its own data.
package access

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Role is what a token may do.
type Role string

// The roles, from most to least powerful. Admins publish policies;
// operators record consent and run exports; auditors read everything;
// a subject reads and changes only its own data; a recipient (a company
// datasets go to) reaches only the notices addressed to it (SPEC §11).
const (
	Admin     Role = "admin"
	Operator  Role = "operator"
	Auditor   Role = "auditor"
	Subject   Role = "subject"
	Recipient Role = "recipient"
)

// Roles lists the roles.
var Roles = []Role{Admin, Operator, Auditor, Subject, Recipient}

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	if r := Role(s); slices.Contains(Roles, r) {
		return r, nil
	}
	return "", fmt.Errorf("role %q: expected one of admin, operator, auditor, subject, recipient", s)
}

// ForSubject reports whether the role's tokens reach one subject (and so
// need one).
func (r Role) ForSubject() bool { return r == Subject }

// Staff reports whether the role is the platform's own (admin, operator,
// auditor): who may use the admin console.
func (r Role) Staff() bool { return r == Admin || r == Operator || r == Auditor }

// ForRecipient reports whether the role's tokens reach one recipient's
// notices (and so name one).
func (r Role) ForRecipient() bool { return r == Recipient }

// tokenPrefix marks consentgate tokens, so secret scanners can find them.
const tokenPrefix = "cgt_"

// NewSecret makes a token's secret: the prefix and 256 random bits,
// base64url. It is given out once; only its Hash is kept.
func NewSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// IsSecret reports whether s looks like a token's secret (not its hash).
func IsSecret(s string) bool { return strings.HasPrefix(strings.TrimSpace(s), tokenPrefix) }

// Hash is what the store keeps of a token: SHA-256, hex.
func Hash(secret string) string {
	h := sha256.Sum256([]byte(strings.TrimSpace(secret)))
	return hex.EncodeToString(h[:])
}

// Principal is who a request acts for.
type Principal struct {
	Role      Role
	Subject   string // for the subject role
	Recipient string // for the recipient role: the recipient id whose notices it reaches
	Token     string // the token's hash ("" for the command line)
}

// Local is the command line's principal: whoever can run consentgate on
// the store's machine holds the store and its keys, and acts as an admin.
var Local = Principal{Role: Admin}

// Action is something a request does.
type Action int

// The actions the API checks.
const (
	ReadSubject   Action = iota // a subject's attributes, consent, history, report
	WriteConsent                // record a consent event
	WriteSubject                // record a subject's attribute change
	Decide                      // batch decisions
	ReadPolicies                // list, show and diff versions
	Publish                     // publish a policy version
	ReadExports                 // exports and manifests, impact
	MarkImpact                  // change an impact item's status
	ReadLog                     // checkpoint, tiles, proofs (public)
	ReadNotices                 // the notices to one recipient (subject: the recipient id)
	AnswerNotice                // answer a notice to one recipient (subject: the recipient id)
	ReportLineage               // report a job's run on an export's output (subject: the export's recipient)
)

// Can reports whether a principal may do an action on a subject's data
// (subject "" for actions not about one subject).
func (p Principal) Can(a Action, subject string) bool {
	switch p.Role {
	case Admin:
		return true
	case Operator:
		return a != Publish
	case Auditor:
		return a == ReadSubject || a == Decide || a == ReadPolicies || a == ReadExports || a == ReadLog || a == ReadNotices
	case Subject:
		switch a {
		case ReadSubject, WriteConsent:
			return subject != "" && subject == p.Subject
		case ReadPolicies, ReadLog:
			return true
		}
	case Recipient:
		switch a {
		case ReadNotices, AnswerNotice, ReportLineage:
			return subject != "" && subject == p.Recipient
		case ReadLog:
			return true
		}
	}
	return false
}
