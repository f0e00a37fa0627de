package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/consentgate/consentgate/internal/timestamp"
)

// newFlags makes a flag set for a command with the global flags on it.
func (a *app) newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("consentgate "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&a.storeDSN, "store", a.storeDSN, "the store, `DSN` sqlite:PATH")
	fs.StringVar(&a.keysDir, "keys", a.keysDir, "`DIR` for keys and secrets")
	return fs
}

// parse reads flags and positional arguments in any order. Each positional
// argument is passed to positional as it is met, so that it can share an
// ordered list with a repeated flag. A flag that is not a list given twice
// is a usage error.
func (a *app) parse(fs *flag.FlagSet, args []string, positional func(string)) error {
	fs.VisitAll(func(f *flag.Flag) {
		switch f.Value.(type) {
		case listFlag, *onceValue:
			return
		}
		f.Value = &onceValue{Value: f.Value, a: a, name: f.Name,
			set: (f.Name == "store" && a.storeGiven) || (f.Name == "keys" && a.keysGiven)}
	})
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				printFlags(a.stdout, fs)
				return err
			}
			if a.twice != "" {
				return usagef("--%s is given twice; give it once", a.twice)
			}
			// The flag package names flags with one dash; the docs, two.
			return usagef("%s", strings.Replace(strings.Replace(err.Error(), " for flag -", " for flag --", 1), "provided but not defined: -", "unknown flag --", 1))
		}
		args = fs.Args()
		if len(args) == 0 {
			return nil
		}
		positional(args[0])
		args = args[1:]
	}
}

// onceValue refuses a second value for a flag that takes one.
type onceValue struct {
	flag.Value
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
	switch o.name {
	case "store":
		o.a.storeGiven = true
	case "keys":
		o.a.keysGiven = true
	}
	return o.Value.Set(s)
}

func (o *onceValue) IsBoolFlag() bool {
	b, ok := o.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// positionals collects positional arguments into a list.
func positionals(dst *[]string) func(string) {
	return func(s string) { *dst = append(*dst, s) }
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

// printFlags lists a command's flags the way the docs write them (--name).
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage of %s:\n", fs.Name())
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		if name != "" {
			name = " " + strings.ToUpper(name)
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "  --%s%s\n      %s%s\n", f.Name, name, usage, def)
	})
}
