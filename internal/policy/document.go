// Package policy owns the policy document of SPEC §2: parsing and validating
// YAML versions, the purpose/category hierarchies, recipient classes and
// region groups, and compiling a version into a decision table over its
// finite domain so that one decision is a few array lookups.
package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/consentgate/consentgate/internal/timestamp"
)

// Class is a recipient class.
type Class uint8

// The three recipient classes of SPEC §1.
const (
	FirstParty Class = iota
	Affiliate
	ThirdParty
	numClasses
)

var classNames = [...]string{"first_party", "affiliate", "third_party"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", c)
}

// ParseClass reads a class name.
func ParseClass(s string) (Class, bool) {
	for i, n := range classNames {
		if n == s {
			return Class(i), true
		}
	}
	return 0, false
}

// Role is how a subject relates to a record.
type Role uint8

// The roles of SPEC §1.
const (
	Author Role = iota
	RecipientRole
	Mentioned
	numRoles
)

var roleNames = [...]string{"author", "recipient", "mentioned"}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("role(%d)", r)
}

// ParseRole reads a role name.
func ParseRole(s string) (Role, bool) {
	for i, n := range roleNames {
		if n == s {
			return Role(i), true
		}
	}
	return 0, false
}

// Effect is what a rule does when it matches.
type Effect uint8

// Rule effects.
const (
	Deny Effect = iota
	RequireConsent
)

func (e Effect) String() string {
	if e == Deny {
		return "deny"
	}
	return "require_consent"
}

// Recipient is a declared recipient.
type Recipient struct {
	ID    string
	Class Class
}

// Attribute is a declared subject attribute with its allowed values.
type Attribute struct {
	Name   string
	Values []string
}

// Controller is the policy's `controller`: the PII controller a consent
// record names. Name and Contact (an email address or an http(s) URL) are
// set; Address and ConsentURL (where members change or withdraw consent)
// may be "".
type Controller struct {
	Name       string
	Contact    string
	Address    string
	ConsentURL string
}

// Default is an assumed consent state for a purpose and its descendants.
type Default struct {
	Purpose string
	Granted bool
}

// Condition is a rule's `when`: keys are ANDed, a list means any of, a nil
// list matches anything.
type Condition struct {
	Purposes   []string
	Categories []string
	Regions    []string // codes, group names or "unknown", as written
	Recipients []string // ids or class names
	Roles      []Role
	Attrs      []AttrCondition
}

// AttrCondition tests one declared attribute.
type AttrCondition struct {
	Name   string
	Values []string
}

// Rule is one policy rule.
type Rule struct {
	ID     string
	Effect Effect
	When   Condition
	Line   int
}

// Document is one parsed and validated policy version. Build it with Parse.
type Document struct {
	File          string
	Version       string
	EffectiveFrom timestamp.Time
	AnnouncedAt   timestamp.Time // zero when HasAnnounced is false
	HasAnnounced  bool
	MinNotice     time.Duration
	// RemediationWithin is how long a recipient has to act on a notice
	// (SPEC §11; 0 when the version sets none).
	RemediationWithin time.Duration
	Purposes          []string // declared, with ancestors, in order
	Categories        []string // declared, with ancestors, in order
	Recipients        []Recipient
	Groups            map[string][]string // user region groups, expanded to codes
	GroupOrder        []string
	Attributes        []Attribute
	GPC               []string
	Defaults          []Default
	Rules             []Rule
	// Notice is where members read this version (an http or https URL);
	// Describe the words members read for each purpose, category and
	// recipient (id or class) it names (SPEC §2.1).
	Notice   string
	Describe map[string]string
	// Controller is who answers for the data (nil when the version names
	// none); Language the BCP 47 tag of the language notice and describe
	// are written in ("" when not said). Consent records carry both.
	Controller *Controller
	Language   string
	Source     []byte // the YAML as given

	purposeSet, categorySet map[string]bool
	recipientByID           map[string]Class
}

// Digest is the SHA-256 of the document's source, hex encoded.
func (d *Document) Digest() string {
	s := sha256.Sum256(d.Source)
	return hex.EncodeToString(s[:])
}

// DeclaresPurpose reports whether the purpose is declared (directly or as an ancestor).
func (d *Document) DeclaresPurpose(p string) bool { return d.purposeSet[p] }

// DeclaresCategory reports whether the category is declared exactly (or as an ancestor).
func (d *Document) DeclaresCategory(c string) bool { return d.categorySet[c] }

// RecipientClass returns the class the document declares for a recipient id.
func (d *Document) RecipientClass(id string) (Class, bool) {
	c, ok := d.recipientByID[id]
	return c, ok
}

// IsLeafPurpose reports whether p is declared and no declared purpose is below it.
func (d *Document) IsLeafPurpose(p string) bool {
	if !d.purposeSet[p] {
		return false
	}
	for _, q := range d.Purposes {
		if q != p && IsAncestorOrSelf(p, q) {
			return false
		}
	}
	return true
}

// LeafPurposes returns the declared purposes with no declared child.
func (d *Document) LeafPurposes() []string {
	var out []string
	for _, p := range d.Purposes {
		if d.IsLeafPurpose(p) {
			out = append(out, p)
		}
	}
	return out
}

// DefaultGranted reports whether the version assumes consent for a
// purpose when the subject never chose: its defaults entry for the nearest
// ancestor-or-self of the purpose says granted (SPEC §2.2 step 6).
func (d *Document) DefaultGranted(purpose string) bool {
	best, granted := -1, false
	for _, def := range d.Defaults {
		if IsAncestorOrSelf(def.Purpose, purpose) && len(def.Purpose) > best {
			best, granted = len(def.Purpose), def.Granted
		}
	}
	return granted
}

// LeafCategories returns the declared categories with no declared child:
// the kinds of data a record can be of.
func (d *Document) LeafCategories() []string {
	var out []string
	for _, c := range d.Categories {
		leaf := true
		for _, q := range d.Categories {
			if q != c && IsAncestorOrSelf(c, q) {
				leaf = false
				break
			}
		}
		if leaf {
			out = append(out, c)
		}
	}
	return out
}

// HasAttribute reports whether the document declares the attribute.
func (d *Document) HasAttribute(name string) bool {
	for _, a := range d.Attributes {
		if a.Name == name {
			return true
		}
	}
	return false
}

// regionMatches reports whether a condition's region list matches a
// subject's region code ("" for none).
func (d *Document) regionMatches(list []string, code string) bool {
	for _, named := range list {
		if named == "unknown" {
			if code == "" {
				return true
			}
			continue
		}
		if code == "" {
			continue
		}
		if codes, ok := d.Groups[named]; ok {
			for _, c := range codes {
				if regionCovers(c, code) {
					return true
				}
			}
			continue
		}
		if regionCovers(named, code) {
			return true
		}
	}
	return false
}

func regionCovers(named, code string) bool {
	if named == code {
		return true
	}
	return len(code) > len(named) && code[len(named)] == '-' && strings.HasPrefix(code, named)
}

// Empty is the document that governs before any version is in force: it
// declares nothing and has no rules and no defaults, so deciding with it is
// SPEC §2.2 steps 2 and 4 alone.
func Empty() *Document {
	return &Document{Version: "(none)", EffectiveFrom: timestamp.Min,
		purposeSet: map[string]bool{}, categorySet: map[string]bool{}, recipientByID: map[string]Class{},
		Groups: map[string][]string{}}
}

// Words returns what members read for a purpose, category or recipient
// (its describe entry), and "" when the version gives none.
func (d *Document) Words(name string) string { return d.Describe[name] }
