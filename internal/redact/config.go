package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Operator is what happens to a finding.
type Operator uint8

// The operators.
const (
	Off Operator = iota
	Replace
	Hash
	Drop
)

func (o Operator) String() string {
	return [...]string{"off", "replace", "hash", "drop"}[o]
}

// Config is a redaction configuration: the text fields to scan (dotted
// paths) and, per detector, the operator.
type Config struct {
	File      string
	Fields    []string
	Operators [numKinds]Operator
	Source    []byte
}

// Digest is the SHA-256 of the configuration file.
func (c *Config) Digest() string {
	s := sha256.Sum256(c.Source)
	return hex.EncodeToString(s[:])
}

// Enabled reports which detectors run.
func (c *Config) Enabled() (e [numKinds]bool) {
	for k, op := range c.Operators {
		e[k] = op != Off
	}
	return e
}

// ParseConfig reads a configuration:
//
//	fields: [text, meta.bio]
//	detectors:
//	  email: replace
//	  phone: hash
//	  card: drop
//
// Problems name the file and line.
func ParseConfig(file string, src []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, fmt.Errorf("%s: not valid YAML: %v", file, err)
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: expected a mapping with fields and detectors", file)
	}
	c := &Config{File: file, Source: src}
	fail := func(n *yaml.Node, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", file, n.Line, fmt.Sprintf(format, args...))
	}
	top := root.Content[0]
	seen := map[string]bool{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if seen[k.Value] {
			return nil, fail(k, "key %q given twice", k.Value)
		}
		seen[k.Value] = true
		switch k.Value {
		case "fields":
			if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
				return nil, fail(v, "fields: expected a list of dotted field paths, e.g. [text]")
			}
			for _, f := range v.Content {
				if f.Kind != yaml.ScalarNode || f.Value == "" || strings.Contains(f.Value, "..") || strings.HasPrefix(f.Value, ".") || strings.HasSuffix(f.Value, ".") {
					return nil, fail(f, "fields: %q is not a dotted field path", f.Value)
				}
				c.Fields = append(c.Fields, f.Value)
			}
		case "detectors":
			if v.Kind != yaml.MappingNode || len(v.Content) == 0 {
				return nil, fail(v, "detectors: expected a mapping of detector to operator, e.g. email: replace")
			}
			dseen := map[string]bool{}
			for j := 0; j+1 < len(v.Content); j += 2 {
				dk, dv := v.Content[j], v.Content[j+1]
				kind, ok := ParseKind(dk.Value)
				if !ok {
					return nil, fail(dk, "detectors: unknown detector %q (expected one of %s)", dk.Value, strings.Join(kindNames[:], ", "))
				}
				if dseen[dk.Value] {
					return nil, fail(dk, "detectors: %q given twice", dk.Value)
				}
				dseen[dk.Value] = true
				switch dv.Value {
				case "replace":
					c.Operators[kind] = Replace
				case "hash":
					c.Operators[kind] = Hash
				case "drop":
					c.Operators[kind] = Drop
				case "off":
					c.Operators[kind] = Off
				default:
					return nil, fail(dv, "detectors.%s: operator %q is not replace, hash, drop or off", dk.Value, dv.Value)
				}
			}
		default:
			return nil, fail(k, "unknown key %q (expected fields and detectors)", k.Value)
		}
	}
	if len(c.Fields) == 0 {
		return nil, fmt.Errorf("%s: missing fields: the text fields to scan", file)
	}
	if !seen["detectors"] {
		return nil, fmt.Errorf("%s: missing detectors: which detectors run, with their operators", file)
	}
	return c, nil
}

// placeholder is what Replace writes for a kind.
func placeholder(k Kind) string { return "<" + strings.ToUpper(k.String()) + ">" }

// hashToken is what Hash writes: the same value always maps to the same
// token, under a key used for nothing else.
func hashToken(key []byte, k Kind, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(k.String()))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return "<" + strings.ToUpper(k.String()) + ":" + hex.EncodeToString(m.Sum(nil)[:8]) + ">"
}
