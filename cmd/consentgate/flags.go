package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/consentgate/consentgate/internal/gate"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// onceValue refuses a second value for a flag that takes one: a repeated
// --purpose is a mistake, not "the last one wins".
type onceValue struct {
	pflag.Value
	a    *app
	name string
	set  bool
}

func (o *onceValue) Set(s string) error {
	if o.set {
		o.a.twice = o.name
		return fmt.Errorf("given twice")
	}
	o.set = true
	return o.Value.Set(s)
}

// once wraps every flag of fs that takes one value.
func (a *app) once(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		switch f.Value.(type) {
		case listFlag, *onceValue, pflag.SliceValue:
			return
		}
		if f.Name == "help" {
			return
		}
		f.Value = &onceValue{Value: f.Value, a: a, name: f.Name}
	})
}

// listFlag is a repeatable string flag.
type listFlag struct{ values *[]string }

func (l listFlag) String() string {
	if l.values == nil {
		return ""
	}
	return strings.Join(*l.values, ",")
}

func (l listFlag) Set(s string) error {
	*l.values = append(*l.values, s)
	return nil
}

func (l listFlag) Type() string { return "list" }

// timeFlag is an RFC 3339 time flag.
type timeFlag struct {
	t   *timestamp.Time
	set *bool
}

func (f timeFlag) String() string {
	if f.t == nil || f.set == nil || !*f.set {
		return ""
	}
	return f.t.String()
}

func (f timeFlag) Set(s string) error {
	t, err := timestamp.Parse(s)
	if err != nil {
		return err
	}
	*f.t, *f.set = t, true
	return nil
}

func (f timeFlag) Type() string { return "time" }

// storeFlag is --store: its scheme is checked as it is read, before the
// command does anything else.
type storeFlag struct{ a *app }

func (f storeFlag) String() string { return f.a.storeDSN }
func (f storeFlag) Type() string   { return "dsn" }
func (f storeFlag) Set(s string) error {
	if err := gate.CheckDSN(s); err != nil {
		return fmt.Errorf("expected sqlite:PATH or postgres://HOST:PORT/DB")
	}
	f.a.storeDSN, f.a.storeGiven = s, true
	return nil
}

// countFlag is a whole number of at least min: --workers, --batch, --members.
type countFlag struct {
	n    *int
	min  int
	what string // what the number may be, for the message
}

func (f countFlag) String() string { return strconv.Itoa(*f.n) }
func (f countFlag) Type() string   { return "int" }
func (f countFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < f.min {
		return fmt.Errorf("expected %s", f.what)
	}
	*f.n = n
	return nil
}

// choiceFlag is a flag with a fixed set of values.
type choiceFlag struct {
	v       *string
	choices []string
}

func (f choiceFlag) String() string { return *f.v }
func (f choiceFlag) Type() string   { return strings.Join(f.choices, "|") }
func (f choiceFlag) Set(s string) error {
	for _, c := range f.choices {
		if s == c {
			*f.v = s
			return nil
		}
	}
	return fmt.Errorf("expected %s", orList(f.choices))
}

// countOf words a count: "1 event", "2 events".
func countOf(n int, one, many string) string {
	return fmt.Sprintf("%d %s", n, plural(n, one, many))
}
