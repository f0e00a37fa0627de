package policy

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/consentgate/consentgate/internal/region"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Problem is one thing wrong with a policy file, at a line.
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) String() string {
	if p.Line > 0 {
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
}

func (p *parser) fail(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.problems = append(p.problems, Problem{p.file, line, fmt.Sprintf(format, args...)})
}

// Parse reads and validates one policy version. file names the source in
// messages. On refusal the error is an *InvalidError naming each problem's
// line. Warnings (such as no rule naming the region `unknown`) do not refuse
// the file and are returned alongside a valid document.
func Parse(file string, src []byte) (*Document, []Problem, error) {
	p := &parser{file: file}
	d := p.parse(src)
	if len(p.problems) > 0 {
		sort.SliceStable(p.problems, func(i, j int) bool { return p.problems[i].Line < p.problems[j].Line })
		return nil, nil, &InvalidError{Problems: p.problems}
	}
	return d, p.warnings, nil
}

func (p *parser) parse(src []byte) *Document {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
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
		p.problems = append(p.problems, Problem{p.file, line, "not valid YAML: " + msg})
		return nil
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
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
		"version": true, "effective_from": true, "announced_at": true, "min_notice": true,
		"purposes": true, "categories": true, "recipients": true, "regions": true,
		"attributes": true, "gpc": true, "defaults": true, "rules": true, "notice": true, "describe": true,
	})
	if n, ok := fields["version"]; ok {
		d.Version = p.scalar(n, "version")
		if d.Version == "" && n.Kind == yaml.ScalarNode {
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
		s := p.scalar(n, "min_notice")
		if dur, err := timestamp.ParseDuration(s); err != nil {
			p.fail(n, "min_notice: %v", err)
		} else {
			d.MinNotice = dur
		}
	}

	purposes := p.names(fields["purposes"], "purposes", true)
	categories := p.names(fields["categories"], "categories", true)
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
		for _, e := range p.list(n, "gpc") {
			v := p.scalar(e, "gpc entry")
			if _, isClass := ParseClass(v); isClass || d.purposeSet[v] {
				d.GPC = append(d.GPC, v)
			} else if v != "" {
				p.fail(e, "gpc: %q is neither a recipient class (first_party, affiliate, third_party) nor a declared purpose", v)
			}
		}
	}
	if n, ok := fields["notice"]; ok {
		v := p.scalar(n, "notice")
		if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			p.fail(n, "notice %q: expected the http or https address where members read this version", v)
		} else {
			d.Notice = v
		}
	}
	if n, ok := fields["describe"]; ok {
		d.Describe = map[string]string{}
		for k, v := range p.mapping(n, "describe", nil) {
			_, isClass := ParseClass(k)
			_, isRecipient := d.recipientByID[k]
			if !d.purposeSet[k] && !d.categorySet[k] && !isRecipient && !isClass {
				p.fail(v, "describe: %q is not a declared purpose, category, recipient or recipient class", k)
				continue
			}
			words := strings.TrimSpace(p.scalar(v, "describe "+k))
			if words == "" && v.Kind == yaml.ScalarNode {
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
			p.warnings = append(p.warnings, Problem{p.file, 0,
				"no rule names the region `unknown`: subjects with no region match no region rule"})
		}
	}
	return d
}

// mapping returns a mapping node's values by key, refusing unknown and
// duplicate keys.
func (p *parser) mapping(n *yaml.Node, what string, allowed map[string]bool) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if n.Kind != yaml.MappingNode {
		p.fail(n, "%s: expected a mapping", what)
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
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
		p.fail(n, "%s: expected a mapping", what)
		return nil
	}
	seen := map[string]bool{}
	var out [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
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
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.fail(n, "%s: expected a single value", what)
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
		if n.Tag == "!!null" {
			p.fail(n, "%s: expected a value or a list, found nothing", what)
			return nil
		}
		return []*yaml.Node{n}
	}
	p.fail(n, "%s: expected a value or a list of values", what)
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

func (p *parser) names(n *yaml.Node, what string, dotted bool) []string {
	if n == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, e := range p.list(n, what) {
		v := p.scalar(e, what)
		if v == "" {
			continue
		}
		if !validName(v, dotted) {
			p.fail(e, "%s: %q is not a name (letters, digits, _ and - in dot-separated segments)", what, v)
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
		c, ok := ParseClass(p.scalar(cn, "class"))
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
		raw[name] = p.list(v, "regions."+name)
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
			v := p.scalar(e, "regions."+name)
			if v == "" {
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
		for _, e := range p.list(v, "attributes."+name) {
			s := p.scalar(e, "attributes."+name)
			if s == "" {
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
		switch p.scalar(v, "defaults."+k.Value) {
		case "granted":
			d.Defaults = append(d.Defaults, Default{k.Value, true})
		case "denied":
			d.Defaults = append(d.Defaults, Default{k.Value, false})
		default:
			p.fail(v, "defaults.%s: expected granted or denied, found %q", k.Value, v.Value)
		}
	}
}

func (p *parser) rules(n *yaml.Node, d *Document, attrs map[string]map[string]bool) {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, "rules: expected a list of rules")
		return
	}
	ids := map[string]bool{}
	for _, rn := range n.Content {
		f := p.mapping(rn, "rule", map[string]bool{"id": true, "effect": true, "when": true})
		r := Rule{Line: rn.Line}
		if in, ok := f["id"]; ok {
			r.ID = p.scalar(in, "rule id")
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
			switch p.scalar(en, "effect") {
			case "deny":
				r.Effect = Deny
			case "require_consent":
				r.Effect = RequireConsent
			default:
				p.fail(en, "rule %s: effect must be deny or require_consent, found %q", r.ID, en.Value)
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
		vals := p.list(v, what)
		var strs []string
		for _, e := range vals {
			if s := p.scalar(e, what); s != "" {
				strs = append(strs, s)
			}
		}
		if len(strs) == 0 {
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
