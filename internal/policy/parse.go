package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/consentgate/consentgate/internal/region"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Problem is one thing wrong with a policy file, at a line (and, where it
// helps, a column; 0 when not given).
type Problem struct {
	File   string
	Line   int
	Msg    string
	Column int
}

func (p Problem) String() string {
	switch {
	case p.Line > 0 && p.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Column, p.Msg)
	case p.Line > 0:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Msg)
}

// InvalidError lists every problem found in a policy file. Parse returns it
// (wrapped by nothing) when the file is refused.
type InvalidError struct {
	Problems []Problem
}

func (e *InvalidError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0].String()
	}
	return fmt.Sprintf("%s (and %d more problems)", e.Problems[0], len(e.Problems)-1)
}

// whenKeys are the condition keys that are not attributes.
var whenKeys = map[string]bool{"purpose": true, "category": true, "region": true, "recipient": true, "role": true}

type parser struct {
	file     string
	problems []Problem
	warnings []Problem
	// published: the document was accepted when it was published, so the
	// rules added since (see ParsePublished) are not applied.
	published bool
}

func (p *parser) fail(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.problems = append(p.problems, Problem{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// failCol is fail with the node's column: for a mistake inside a line,
// such as one entry of a list written on one line.
func (p *parser) failCol(n *yaml.Node, format string, args ...any) {
	p.fail(n, format, args...)
	p.problems[len(p.problems)-1].Column = n.Column
}

// strict reports whether the rules added after the first published
// versions apply (see ParsePublished).
func (p *parser) strict() bool { return !p.published }

// Parse reads and validates one policy version. file names the source in
// messages. On refusal the error is an *InvalidError naming each problem's
// line. Warnings (such as no rule naming the region `unknown`) do not refuse
// the file and are returned alongside a valid document.
//
// The file is read strictly: valid UTF-8, one YAML document, every key's
// value of the type it needs (a list where names are declared, a mapping
// where ids are, text where a name is: an unquoted number, boolean or date
// is refused except as an attribute value), no empty names or empty
// declarations, and no attribute value a diff summary could not say
// unambiguously. Each problem names its line (and column inside a line).
func Parse(file string, src []byte) (*Document, []Problem, error) {
	return parse(&parser{file: file}, src)
}

// ParsePublished reads a version that a store or snapshot already holds.
// It was checked when it was published, perhaps by an earlier release, so
// the strict reading Parse added later is not applied and the version
// reads as it did then: a second document ignored, a single value taken as
// a list of one, numbers, booleans and dates taken as names, empty names
// and empty lists allowed, any attribute value. Every other check applies.
// Use Parse for a document about to be checked, published or compared.
func ParsePublished(file string, src []byte) (*Document, []Problem, error) {
	return parse(&parser{file: file, published: true}, src)
}

func parse(p *parser, src []byte) (*Document, []Problem, error) {
	d := p.parse(src)
	if len(p.problems) > 0 {
		sort.SliceStable(p.problems, func(i, j int) bool {
			a, b := p.problems[i], p.problems[j]
			return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
		})
		return nil, nil, &InvalidError{Problems: p.problems}
	}
	return d, p.warnings, nil
}

func (p *parser) parse(src []byte) *Document {
	if !p.text(src) {
		return nil
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	err := dec.Decode(&root)
	if err == nil && p.strict() {
		var next yaml.Node
		switch err = dec.Decode(&next); {
		case err == io.EOF:
			err = nil
		case err != nil:
		case len(next.Content) == 0 || next.Content[0].ShortTag() == "!!null":
			p.fail(&next, "a second YAML document (after ---) starts here, empty: a policy file holds one version; remove the ---")
		default:
			p.fail(&next, "a second YAML document (after ---) starts here: a policy file holds one version; put each version in a file of its own")
		}
	}
	if err == io.EOF {
		err = nil // no document at all: said below
	}
	if err != nil {
		msg := err.Error()
		line := 0
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			msg = te.Errors[0]
		}
		// yaml.v3 messages look like "yaml: line 3: ..."
		if rest, ok := strings.CutPrefix(msg, "yaml: line "); ok {
			if i := strings.IndexByte(rest, ':'); i > 0 {
				fmt.Sscanf(rest[:i], "%d", &line)
				msg = strings.TrimSpace(rest[i+1:])
			}
		}
		msg = strings.TrimPrefix(msg, "yaml: ")
		p.problems = append(p.problems, Problem{File: p.file, Line: line, Msg: "not valid YAML: " + msg})
		return nil
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || root.Content[0].ShortTag() == "!!null" {
		p.fail(nil, "empty file: expected a policy document with version, effective_from, purposes, ...")
		return nil
	}
	top := root.Content[0]
	if top.Kind != yaml.MappingNode {
		p.fail(top, "expected a mapping of policy keys (version, effective_from, ...)")
		return nil
	}
	d := &Document{File: p.file, Source: src, Groups: map[string][]string{}}
	fields := p.mapping(top, "policy", map[string]bool{
		"version": true, "effective_from": true, "announced_at": true, "min_notice": true, "remediation_within": true,
		"purposes": true, "categories": true, "recipients": true, "regions": true,
		"attributes": true, "gpc": true, "defaults": true, "rules": true, "notice": true, "describe": true,
		"controller": true, "language": true,
	})
	if n, ok := fields["version"]; ok {
		d.Version = p.label(n, "version")
		if d.Version == "" && n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null" {
			p.fail(n, "version must not be empty")
		}
	} else {
		p.fail(top, "missing key version: a unique label for this version, e.g. \"2024-09-18\"")
	}
	if n, ok := fields["effective_from"]; ok {
		d.EffectiveFrom = p.time(n, "effective_from")
	} else {
		p.fail(top, "missing key effective_from: the RFC 3339 time this version starts to govern")
	}
	if n, ok := fields["announced_at"]; ok {
		d.AnnouncedAt = p.time(n, "announced_at")
		d.HasAnnounced = true
	}
	if n, ok := fields["min_notice"]; ok {
		if s := p.scalar(n, "min_notice"); s != "" || n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null" {
			if dur, err := timestamp.ParseDuration(s); err != nil {
				p.fail(n, "min_notice: %v", err)
			} else {
				d.MinNotice = dur
			}
		}
	}
	if n, ok := fields["remediation_within"]; ok {
		s := p.scalar(n, "remediation_within")
		if dur, err := timestamp.ParseDuration(s); err != nil {
			p.fail(n, "remediation_within: %v", err)
		} else if dur <= 0 {
			p.fail(n, "remediation_within %s: expected a time longer than zero for a recipient to act on a notice", s)
		} else {
			d.RemediationWithin = dur
		}
	}

	purposes := p.names(fields["purposes"], "purposes", "purpose", "train_ai_system, train_ai_system.generative")
	categories := p.names(fields["categories"], "categories", "category", "user.content.public, user.profile")
	if _, ok := fields["purposes"]; !ok {
		p.fail(top, "missing key purposes: the purposes this version declares")
	}
	if _, ok := fields["categories"]; !ok {
		p.fail(top, "missing key categories: the data categories this version declares")
	}
	d.purposeSet, d.Purposes = withAncestors(purposes)
	d.categorySet, d.Categories = withAncestors(categories)

	d.recipientByID = map[string]Class{}
	if n, ok := fields["recipients"]; ok {
		p.recipients(n, d)
	}
	if n, ok := fields["regions"]; ok {
		p.regions(n, d)
	}
	attrSet := map[string]map[string]bool{}
	if n, ok := fields["attributes"]; ok {
		p.attributes(n, d, attrSet)
	}
	if n, ok := fields["gpc"]; ok {
		for _, e := range p.declList(n, "gpc", "a list of recipient classes or purposes, e.g. [affiliate, third_party]", "") {
			v, ok := p.name(e, "gpc", "recipient class or purpose")
			if !ok {
				continue
			}
			if _, isClass := ParseClass(v); isClass || d.purposeSet[v] {
				d.GPC = append(d.GPC, v)
			} else {
				p.fail(e, "gpc: %q is neither a recipient class (first_party, affiliate, third_party) nor a declared purpose", v)
			}
		}
	}
	if n, ok := fields["notice"]; ok {
		const expected = "the http or https address where members read this version"
		if v, ok := p.textValue(n, "notice", expected); ok {
			if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				p.fail(n, "notice %q: expected %s", v, expected)
			} else {
				d.Notice = v
			}
		}
	}
	if n, ok := fields["controller"]; ok {
		d.Controller = p.controller(n)
	}
	if n, ok := fields["language"]; ok {
		const expected = "the language members read notice and describe in, as a BCP 47 tag (en, de, pt-BR)"
		if v, ok := p.textValue(n, "language", expected); ok {
			if !languageTag.MatchString(v) {
				p.fail(n, "language %q: expected %s", v, expected)
			} else {
				d.Language = v
			}
		}
	}
	if n, ok := fields["describe"]; ok {
		d.Describe = map[string]string{}
		for _, kv := range p.pairs(n, "describe") {
			kn, v := kv[0], kv[1]
			k, ok := p.name(kn, "describe", "purpose, category, recipient or recipient class")
			if !ok {
				continue
			}
			_, isClass := ParseClass(k)
			_, isRecipient := d.recipientByID[k]
			if !d.purposeSet[k] && !d.categorySet[k] && !isRecipient && !isClass {
				p.fail(v, "describe: %q is not a declared purpose, category, recipient or recipient class", k)
				continue
			}
			text, ok := p.textValue(v, "describe "+k, "the words members read for it")
			if !ok {
				continue
			}
			words := strings.TrimSpace(text)
			if words == "" {
				p.fail(v, "describe %s: expected the words members read for it", k)
				continue
			}
			d.Describe[k] = words
		}
	}
	if n, ok := fields["defaults"]; ok {
		p.defaults(n, d)
	}
	if n, ok := fields["rules"]; ok {
		p.rules(n, d, attrSet)
	}
	if len(p.problems) == 0 {
		namesUnknown := false
		for _, r := range d.Rules {
			for _, g := range r.When.Regions {
				if g == region.Unknown {
					namesUnknown = true
				}
			}
		}
		if !namesUnknown {
			p.warnings = append(p.warnings, Problem{File: p.file, Msg: "no rule names the region `unknown`: subjects with no region match no region rule"})
		}
	}
	return d
}

// mapping returns a mapping node's values by key, refusing unknown and
// duplicate keys.
func (p *parser) mapping(n *yaml.Node, what string, allowed map[string]bool) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if n.Kind != yaml.MappingNode {
		p.fail(n, "%s: expected a mapping, found %s", what, found(n))
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if p.strict() && (k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str") {
			p.failCol(k, "%s: expected a key (one of %s), found %s", what, keyList(allowed), found(k))
			continue
		}
		if allowed != nil && !allowed[k.Value] {
			p.fail(k, "%s: unknown key %q (expected one of %s)", what, k.Value, keyList(allowed))
			continue
		}
		if _, dup := out[k.Value]; dup {
			p.fail(k, "%s: key %q given twice", what, k.Value)
			continue
		}
		out[k.Value] = v
	}
	return out
}

// pairs returns a mapping's key and value nodes in order, refusing duplicates.
func (p *parser) pairs(n *yaml.Node, what string) [][2]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		p.fail(n, "%s: expected a mapping, found %s", what, found(n))
		return nil
	}
	seen := map[string]bool{}
	var out [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if p.strict() && (k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str") {
			p.failCol(k, "%s: expected a name as key, found %s%s", what, found(k), quoteHint(k))
			continue
		}
		if p.strict() && k.Value == "" {
			p.failCol(k, "%s: expected a name as key, found an empty name", what)
			continue
		}
		if seen[k.Value] {
			p.fail(k, "%s: %q given twice", what, k.Value)
			continue
		}
		seen[k.Value] = true
		out = append(out, [2]*yaml.Node{k, n.Content[i+1]})
	}
	return out
}

func keyList(m map[string]bool) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

func (p *parser) scalar(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		p.fail(n, "%s: expected a single value, found %s", what, found(n))
		return ""
	}
	return n.Value
}

// list accepts a sequence or a single scalar (a list of one).
func (p *parser) list(n *yaml.Node, what string) []*yaml.Node {
	switch n.Kind {
	case yaml.SequenceNode:
		return n.Content
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			p.fail(n, "%s: expected a value or a list, found nothing", what)
			return nil
		}
		return []*yaml.Node{n}
	}
	p.fail(n, "%s: expected a value or a list of values, found %s", what, found(n))
	return nil
}

func (p *parser) time(n *yaml.Node, what string) timestamp.Time {
	s := p.scalar(n, what)
	if s == "" {
		return 0
	}
	t, err := timestamp.Parse(s)
	if err != nil {
		p.fail(n, "%s: %v", what, err)
	}
	return t
}

// names reads the purposes or categories a version declares: a list of at
// least one dotted name; example is shown when it is not a list.
func (p *parser) names(n *yaml.Node, what, noun, example string) []string {
	if n == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	expected := fmt.Sprintf("a list of %s names, e.g. [%s]", noun, example)
	for _, e := range p.declList(n, what, expected, "at least one "+noun) {
		v, ok := p.name(e, what, noun+" name")
		if !ok {
			continue
		}
		if !validName(v, true) {
			p.failCol(e, "%s: %q is not a name (letters, digits, _ and - in dot-separated segments)", what, v)
			continue
		}
		if seen[v] {
			p.fail(e, "%s: %q declared twice", what, v)
			continue
		}
		seen[v] = true
		out = append(out, v)
	}
	return out
}

func (p *parser) recipients(n *yaml.Node, d *Document) {
	for _, kv := range p.pairs(n, "recipients") {
		k, v := kv[0], kv[1]
		id := k.Value
		switch {
		case id == "*":
			p.fail(k, "recipients: %q may not be a recipient id", id)
			continue
		case !validName(id, false):
			p.fail(k, "recipients: %q is not an id (letters, digits, _ and -)", id)
			continue
		}
		if _, isClass := ParseClass(id); isClass {
			p.fail(k, "recipients: %q is a recipient class name and may not be a recipient id", id)
			continue
		}
		f := p.mapping(v, "recipient "+id, map[string]bool{"class": true})
		cn, ok := f["class"]
		if !ok {
			p.fail(v, "recipient %s: missing class (first_party, affiliate or third_party)", id)
			continue
		}
		cs := p.scalar(cn, "recipient "+id+": class")
		if cs == "" && (cn.Kind != yaml.ScalarNode || cn.ShortTag() == "!!null") {
			continue
		}
		c, ok := ParseClass(cs)
		if !ok {
			p.fail(cn, "recipient %s: class %q is not first_party, affiliate or third_party", id, cn.Value)
			continue
		}
		d.Recipients = append(d.Recipients, Recipient{ID: id, Class: c})
		d.recipientByID[id] = c
	}
}

func (p *parser) regions(n *yaml.Node, d *Document) {
	raw := map[string][]*yaml.Node{}
	for _, kv := range p.pairs(n, "regions") {
		k, v := kv[0], kv[1]
		name := k.Value
		switch {
		case strings.HasPrefix(name, "@"):
			p.fail(k, "regions: %q: names starting with @ are reserved for built-in groups (@EU, @EEA)", name)
			continue
		case name == region.Unknown:
			p.fail(k, "regions: %q is reserved for subjects with no region", name)
			continue
		case region.Validate(name) == nil:
			p.fail(k, "regions: group name %q collides with a region code", name)
			continue
		case !validName(name, false):
			p.fail(k, "regions: %q is not a group name (letters, digits, _ and -)", name)
			continue
		}
		raw[name] = p.declList(v, "regions."+name, `a list of region codes and groups, e.g. ["@EEA", GB]`, "at least one region code or group")
		d.GroupOrder = append(d.GroupOrder, name)
	}
	// Expand groups to codes, allowing references to built-in and other
	// user groups, refusing cycles.
	state := map[string]int{} // 1 visiting, 2 done
	var expand func(name string, at *yaml.Node) []string
	expand = func(name string, at *yaml.Node) []string {
		if codes, ok := d.Groups[name]; ok && state[name] == 2 {
			return codes
		}
		if state[name] == 1 {
			p.fail(at, "regions: group %q includes itself", name)
			return nil
		}
		state[name] = 1
		var codes []string
		for _, e := range raw[name] {
			v, ok := p.name(e, "regions."+name, "region code or group")
			if !ok {
				continue
			}
			if b, ok := region.Groups[v]; ok {
				codes = append(codes, b...)
				continue
			}
			if _, ok := raw[v]; ok {
				codes = append(codes, expand(v, e)...)
				continue
			}
			if err := region.Validate(v); err != nil {
				p.fail(e, "regions.%s: %v (or the name of a group)", name, err)
				continue
			}
			codes = append(codes, v)
		}
		state[name] = 2
		d.Groups[name] = codes
		return codes
	}
	for _, name := range d.GroupOrder {
		expand(name, nil)
	}
	for g, codes := range region.Groups {
		d.Groups[g] = codes
	}
}

func (p *parser) attributes(n *yaml.Node, d *Document, set map[string]map[string]bool) {
	for _, kv := range p.pairs(n, "attributes") {
		k, v := kv[0], kv[1]
		name := k.Value
		if whenKeys[name] {
			p.fail(k, "attributes: %q collides with a rule condition key and may not be an attribute name", name)
			continue
		}
		if !validName(name, false) {
			p.fail(k, "attributes: %q is not a name (letters, digits, _ and -)", name)
			continue
		}
		a := Attribute{Name: name}
		vals := map[string]bool{}
		for _, e := range p.declList(v, "attributes."+name, "a list of the values subjects may have, e.g. [free, premium]", "at least one value") {
			s, ok := p.attrValue(e, "attributes."+name)
			if !ok {
				continue
			}
			if vals[s] {
				p.fail(e, "attributes.%s: value %q listed twice", name, s)
				continue
			}
			vals[s] = true
			a.Values = append(a.Values, s)
		}
		set[name] = vals
		d.Attributes = append(d.Attributes, a)
	}
}

func (p *parser) defaults(n *yaml.Node, d *Document) {
	for _, kv := range p.pairs(n, "defaults") {
		k, v := kv[0], kv[1]
		if !d.purposeSet[k.Value] {
			p.fail(k, "defaults: purpose %q is not declared under purposes", k.Value)
			continue
		}
		switch {
		case v.Kind == yaml.ScalarNode && v.Value == "granted":
			d.Defaults = append(d.Defaults, Default{k.Value, true})
		case v.Kind == yaml.ScalarNode && v.Value == "denied":
			d.Defaults = append(d.Defaults, Default{k.Value, false})
		default:
			p.fail(v, "defaults.%s: expected granted or denied, found %s", k.Value, found(v))
		}
	}
}

func (p *parser) rules(n *yaml.Node, d *Document, attrs map[string]map[string]bool) {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, "rules: expected a list of rules, found %s", found(n))
		return
	}
	ids := map[string]bool{}
	for _, rn := range n.Content {
		f := p.mapping(rn, "rule", map[string]bool{"id": true, "effect": true, "when": true})
		r := Rule{Line: rn.Line}
		if in, ok := f["id"]; ok {
			r.ID = p.label(in, "rule id")
			if r.ID == "" && p.strict() && in.Kind == yaml.ScalarNode && in.ShortTag() == "!!str" {
				p.fail(in, "rule id must not be empty")
			}
			if r.ID != "" && !validName(r.ID, true) {
				p.fail(in, "rule id %q: use letters, digits, _, - and .", r.ID)
			}
			if ids[r.ID] {
				p.fail(in, "rule id %q is used twice", r.ID)
			}
			ids[r.ID] = true
		} else {
			p.fail(rn, "rule: missing id")
		}
		if en, ok := f["effect"]; ok {
			switch {
			case en.Kind == yaml.ScalarNode && en.Value == "deny":
				r.Effect = Deny
			case en.Kind == yaml.ScalarNode && en.Value == "require_consent":
				r.Effect = RequireConsent
			default:
				p.fail(en, "rule %s: effect must be deny or require_consent, found %s", r.ID, found(en))
			}
		} else {
			p.fail(rn, "rule %s: missing effect (deny or require_consent)", r.ID)
		}
		if wn, ok := f["when"]; ok {
			r.When = p.when(wn, d, r.ID, attrs)
		}
		d.Rules = append(d.Rules, r)
	}
}

func (p *parser) when(n *yaml.Node, d *Document, id string, attrs map[string]map[string]bool) Condition {
	var c Condition
	for _, kv := range p.pairs(n, "rule "+id+" when") {
		k, v := kv[0], kv[1]
		what := fmt.Sprintf("rule %s: %s", id, k.Value)
		noun := map[string]string{"purpose": "purpose", "category": "category", "recipient": "recipient or class",
			"role": "role", "region": "region code or group"}[k.Value]
		var strs []string
		var vals []*yaml.Node
		refused := false
		for _, e := range p.list(v, what) {
			var s string
			var ok bool
			if noun != "" {
				s, ok = p.name(e, what, noun)
			} else if _, declared := attrs[k.Value]; declared {
				s, ok = p.attrValue(e, what)
			} else {
				s, ok = p.scalar(e, what), true // said below: not a condition
			}
			if ok && s != "" {
				strs, vals = append(strs, s), append(vals, e)
			} else {
				refused = true
			}
		}
		if len(strs) == 0 && !(refused && p.strict()) {
			p.fail(v, "%s: expected at least one value", what)
		}
		switch k.Value {
		case "purpose":
			for i, s := range strs {
				if !d.purposeSet[s] {
					p.fail(vals[i], "%s: purpose %q is not declared under purposes", what, s)
				}
			}
			c.Purposes = nonNil(strs)
		case "category":
			for i, s := range strs {
				if !d.categorySet[s] {
					p.fail(vals[i], "%s: category %q is not declared under categories", what, s)
				}
			}
			c.Categories = nonNil(strs)
		case "recipient":
			for i, s := range strs {
				if _, ok := ParseClass(s); !ok {
					if _, ok := d.recipientByID[s]; !ok {
						p.fail(vals[i], "%s: %q is neither a declared recipient nor a class (first_party, affiliate, third_party)", what, s)
					}
				}
			}
			c.Recipients = nonNil(strs)
		case "role":
			c.Roles = []Role{}
			for i, s := range strs {
				r, ok := ParseRole(s)
				if !ok {
					p.fail(vals[i], "%s: role %q is not author, recipient or mentioned", what, s)
				}
				c.Roles = append(c.Roles, r)
			}
		case "region":
			for i, s := range strs {
				if _, ok := d.Groups[s]; ok || s == region.Unknown {
					continue
				}
				if err := region.Validate(s); err != nil {
					p.fail(vals[i], "%s: %v, nor a region group (declare it under regions)", what, err)
				}
			}
			c.Regions = nonNil(strs)
		default:
			declared, ok := attrs[k.Value]
			if !ok {
				p.fail(k, "rule %s: unknown condition %q (expected purpose, category, region, recipient, role or a declared attribute)", id, k.Value)
				continue
			}
			for i, s := range strs {
				if !declared[s] {
					p.fail(vals[i], "%s: value %q is not declared under attributes.%s", what, s, k.Value)
				}
			}
			c.Attrs = append(c.Attrs, AttrCondition{Name: k.Value, Values: nonNil(strs)})
		}
	}
	return c
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// text refuses a file that is not UTF-8 text YAML can hold, naming the line
// and column of the first bad byte (the YAML parser names neither).
func (p *parser) text(src []byte) bool {
	if bytes.HasPrefix(src, []byte{0xff, 0xfe}) || bytes.HasPrefix(src, []byte{0xfe, 0xff}) {
		p.problems = append(p.problems, Problem{File: p.file, Line: 1, Column: 1,
			Msg: "the file is UTF-16 text: save it as UTF-8"})
		return false
	}
	line, col := 1, 1
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRune(src[i:])
		var msg string
		switch {
		case r == utf8.RuneError && size <= 1:
			msg = fmt.Sprintf("not valid UTF-8 (byte 0x%02x): save the file as UTF-8", src[i])
		case r == '\n':
			line, col = line+1, 1
			i += size
			continue
		case r == 0xfeff && i == 0:
			// a byte order mark
		case !yamlPrintable(r):
			msg = fmt.Sprintf("the character %U (a control character) is not allowed in YAML", r)
		}
		if msg != "" {
			p.problems = append(p.problems, Problem{File: p.file, Line: line, Column: col, Msg: msg})
			return false
		}
		i += size
		col++
	}
	return true
}

// yamlPrintable reports whether YAML 1.2 allows r in a document (§5.1).
func yamlPrintable(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r >= 0x20 && r <= 0x7e, r == 0x85:
		return true
	case r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd && r != 0xfeff, r >= 0x10000 && r <= 0x10ffff:
		return true
	}
	return false
}

// found says what a node is, for "expected X, found Y".
func found(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return fmt.Sprintf("the alias *%s (aliases are not supported: write the values out)", n.Value)
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nothing"
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!bool":
			return "the boolean " + n.Value
		case "!!timestamp":
			return "the date " + n.Value
		case "!!str":
			return fmt.Sprintf("%q", n.Value)
		}
		return fmt.Sprintf("a value tagged %s", n.Tag)
	}
	return "something else"
}

// unquoted reports whether n is a bare number, boolean or date: a value
// YAML reads as something other than text, which quotes would make a name.
func unquoted(n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	switch n.ShortTag() {
	case "!!int", "!!float", "!!bool", "!!timestamp":
		return true
	}
	return false
}

// quoteHint is the advice after a bare number, boolean or date where text
// is expected.
func quoteHint(n *yaml.Node) string {
	if unquoted(n) {
		return fmt.Sprintf(` (write "%s" in quotes if it is meant as a name)`, n.Value)
	}
	return ""
}

// textValue returns a scalar that YAML reads as text, refusing anything
// else (a list, a mapping, nothing, a bare number, boolean or date) as
// "what: expected …, found …". In a published document any scalar but
// nothing is text.
func (p *parser) textValue(n *yaml.Node, what, expected string) (string, bool) {
	return p.textOr(n, what, expected, "")
}

func (p *parser) textOr(n *yaml.Node, what, expected, hint string) (string, bool) {
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!str" || (p.published && n.ShortTag() != "!!null")) {
		return n.Value, true
	}
	p.failCol(n, "%s: expected %s, found %s%s", what, expected, found(n), hint)
	return "", false
}

// label returns a version label or rule id: any single value but nothing
// or a boolean, taken as written (version: 2024-09-18 is "2024-09-18").
func (p *parser) label(n *yaml.Node, what string) string {
	if p.strict() && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		p.fail(n, "%s: expected a label, found %s", what, found(n))
		return ""
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		p.fail(n, "%s: expected a single value, found %s", what, found(n))
		return ""
	}
	return n.Value
}

// name returns one name of a declaration or condition: text, not empty.
func (p *parser) name(n *yaml.Node, what, noun string) (string, bool) {
	if p.published {
		v := p.scalar(n, what)
		return v, v != ""
	}
	v, ok := p.textOr(n, what, "a "+noun, quoteHint(n))
	if ok && v == "" {
		p.failCol(n, "%s: expected a %s, found an empty name", what, noun)
		return "", false
	}
	return v, ok && v != ""
}

// jsonNumber is a number as JSON writes it, the form subject data gives.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// attrValue returns one attribute value: text, or a bare number or boolean
// spelled as JSON writes it (subject data gives attribute values as JSON
// strings, numbers or booleans, and a number or boolean is matched as its
// JSON text). A value is refused when a diff summary could not say it
// unambiguously ("tier free or premium", "tier not free", "… · …").
func (p *parser) attrValue(n *yaml.Node, what string) (string, bool) {
	if p.published {
		v := p.scalar(n, what)
		return v, v != ""
	}
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!int", "!!float":
			if jsonNumber.MatchString(n.Value) {
				return n.Value, true
			}
			p.failCol(n, `%s: the number %s is not written as subject data writes numbers (JSON); write "%s" in quotes if it is meant as the value`, what, n.Value, n.Value)
			return "", false
		case "!!bool":
			if n.Value == "true" || n.Value == "false" {
				return n.Value, true
			}
			p.failCol(n, `%s: subject data writes booleans as true or false; write %s, or "%s" in quotes if it is meant as the value`, what, strings.ToLower(n.Value), n.Value)
			return "", false
		}
	}
	v, ok := p.textValue(n, what, "an attribute value")
	if !ok {
		return "", false
	}
	var why string
	switch {
	case v == "":
		p.failCol(n, "%s: expected an attribute value, found an empty value", what)
		return "", false
	case strings.TrimSpace(v) != v:
		why = "may not start or end with a space"
	case strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }) >= 0:
		why = "may not hold a line break, tab or other control character"
	case strings.Contains(v, " or "):
		why = `may not contain " or ", which diff summaries put between values ("tier free or premium")`
	case strings.Contains(v, "·"):
		why = `may not contain "·", which diff summaries put between conditions`
	case strings.HasPrefix(v, "not "):
		why = `may not start with "not ", which diff summaries put before a value left out ("tier not free")`
	case v == absentText:
		why = "is what diff summaries say of subjects without the attribute"
	}
	if why != "" {
		p.failCol(n, "%s: value %q: an attribute value %s", what, v, why)
		return "", false
	}
	return v, true
}

// declList returns the entries of a declaration, which must be a list (a
// published document may give a single value as a list of one). atLeast
// says the list may not be empty ("at least one purpose").
func (p *parser) declList(n *yaml.Node, what, expected, atLeast string) []*yaml.Node {
	if p.published {
		return p.list(n, what)
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(n, "%s: expected %s, found %s", what, expected, found(n))
		return nil
	}
	if len(n.Content) == 0 && atLeast != "" {
		p.fail(n, "%s: expected %s, found an empty list", what, atLeast)
	}
	return n.Content
}

// languageTag is a BCP 47 language tag in its usual forms: a language,
// then optional script, region and variant subtags.
var languageTag = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*$`)

// controller reads the controller mapping: a name, a contact (an email
// address or an http or https URL), and optionally a postal address and
// the http or https address where members change or withdraw consent.
func (p *parser) controller(n *yaml.Node) *Controller {
	f := p.mapping(n, "controller", map[string]bool{"name": true, "contact": true, "address": true, "consent_url": true})
	if n.Kind != yaml.MappingNode {
		return nil
	}
	c := &Controller{}
	text := func(key, expected string) string {
		v, ok := f[key]
		if !ok {
			return ""
		}
		s, ok := p.textValue(v, "controller "+key, expected)
		if ok && strings.TrimSpace(s) == "" {
			p.fail(v, "controller %s: expected %s, found nothing", key, expected)
		}
		return strings.TrimSpace(s)
	}
	webURL := func(s string) bool {
		u, err := url.Parse(s)
		return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
	}
	c.Name = text("name", "the controller's legal name")
	if _, ok := f["name"]; !ok {
		p.fail(n, "controller: missing key name: the legal name of who answers for the data")
	}
	const contactIs = "an email address or the http or https address of a contact page"
	c.Contact = text("contact", contactIs)
	if _, ok := f["contact"]; !ok {
		p.fail(n, "controller: missing key contact: %s", contactIs)
	} else if c.Contact != "" {
		if _, err := mail.ParseAddress(c.Contact); err != nil && !webURL(c.Contact) {
			p.fail(f["contact"], "controller contact %q: expected %s", c.Contact, contactIs)
		}
	}
	c.Address = text("address", "the controller's postal address")
	const consentURLIs = "the http or https address where members change or withdraw consent (the privacy centre)"
	if c.ConsentURL = text("consent_url", consentURLIs); c.ConsentURL != "" && !webURL(c.ConsentURL) {
		p.fail(f["consent_url"], "controller consent_url %q: expected %s", c.ConsentURL, consentURLIs)
	}
	return c
}
