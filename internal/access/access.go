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

	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Role is what a token may do.
type Role string

// The roles, from most to least powerful. Admins publish policies;
// operators record consent and run exports; auditors read everything;
// a subject reads and changes only its own data.
const (
	Admin    Role = "admin"
	Operator Role = "operator"
	Auditor  Role = "auditor"
	Subject  Role = "subject"
)

// Roles lists the roles.
var Roles = []Role{Admin, Operator, Auditor, Subject}

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	if r := Role(s); slices.Contains(Roles, r) {
		return r, nil
	}
	return "", fmt.Errorf("role %q: expected one of admin, operator, auditor, subject", s)
}

// tokenPrefix marks consentgate tokens, so secret scanners can find them.
const tokenPrefix = "cgt_"

// NewToken makes a token for a role (and, for the subject role, its
// subject): the secret to give out once, and what the store keeps.
func NewToken(role Role, subject string, now timestamp.Time) (string, store.Token, error) {
	if role == Subject && subject == "" {
		return "", store.Token{}, fmt.Errorf("a subject token needs --subject")
	}
	if role != Subject && subject != "" {
		return "", store.Token{}, fmt.Errorf("--subject is only for subject tokens")
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", store.Token{}, err
	}
	secret := tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, store.Token{Hash: Hash(secret), Role: string(role), Subject: subject, CreatedAt: now}, nil
}

// Hash is what the store keeps of a token: SHA-256, hex.
func Hash(secret string) string {
	h := sha256.Sum256([]byte(strings.TrimSpace(secret)))
	return hex.EncodeToString(h[:])
}

// Principal is who a request acts for.
type Principal struct {
	Role    Role
	Subject string // for the subject role
	Token   string // the token's hash
}

// Action is something a request does.
type Action int

// The actions the API checks.
const (
	ReadSubject  Action = iota // a subject's attributes, consent, history, report
	WriteConsent               // record a consent event
	WriteSubject               // record a subject's attribute change
	Decide                     // batch decisions
	ReadPolicies               // list, show and diff versions
	Publish                    // publish a policy version
	ReadExports                // exports and manifests, impact
	MarkImpact                 // change an impact item's status
	ReadLog                    // checkpoint, tiles, proofs (public)
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
		return a == ReadSubject || a == Decide || a == ReadPolicies || a == ReadExports || a == ReadLog
	case Subject:
		switch a {
		case ReadSubject, WriteConsent:
			return subject != "" && subject == p.Subject
		case ReadPolicies, ReadLog:
			return true
		}
	}
	return false
}
