package main

import (
	"context"
	"fmt"
	"os"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// lineErrors gathers the bad lines of a file; the file is refused whole.
type lineErrors struct {
	first *consent.LineError
	more  int
}

func (l *lineErrors) add(e *consent.LineError) {
	if l.first == nil {
		l.first = e
	} else {
		l.more++
	}
}

func (l *lineErrors) err() error {
	if l.first == nil {
		return nil
	}
	if l.more > 0 {
		return fmt.Errorf("%v (and %d more bad lines); nothing was imported", l.first, l.more)
	}
	return fmt.Errorf("%v; nothing was imported", l.first)
}

// importSubjects reads and stores a subjects file: all of it or none.
func importSubjects(ctx context.Context, st store.Store, file string, now timestamp.Time) (read, added int, err error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var evs []consent.SubjectEvent
	var bad lineErrors
	err = consent.EachLine(file, f, func(n int, line []byte) error {
		e, err := consent.ParseSubjectLine(line, now)
		if err != nil {
			bad.add(&consent.LineError{File: file, Line: n, Msg: err.Error()})
			return nil
		}
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	if err := bad.err(); err != nil {
		return 0, 0, err
	}
	added, err = st.AddSubjectEvents(ctx, evs)
	return len(evs), added, err
}

// consentChecker validates consent events against the published policy
// history: purposes and recipients must be declared by some version.
type consentChecker struct {
	purposes   map[string]bool
	recipients map[string]bool
}

func newConsentChecker(vs *decision.Versions) (*consentChecker, error) {
	c := &consentChecker{purposes: map[string]bool{}, recipients: map[string]bool{}}
	if vs.Len() <= 1 {
		return nil, fmt.Errorf("no policy is published: publish one (consentgate policy publish FILE) before importing consent")
	}
	for i := 1; i < vs.Len(); i++ {
		d := vs.Table(i).Doc
		for _, p := range d.Purposes {
			c.purposes[p] = true
		}
		for _, r := range d.Recipients {
			c.recipients[r.ID] = true
		}
	}
	for _, cl := range []policy.Class{policy.FirstParty, policy.Affiliate, policy.ThirdParty} {
		c.recipients[cl.String()] = true
	}
	return c, nil
}

func (c *consentChecker) check(e *consent.Event) error {
	if !c.purposes[e.Purpose] {
		return fmt.Errorf("purpose %q is not declared by any published policy version", e.Purpose)
	}
	if e.Recipient != "" && !c.recipients[e.Recipient] {
		return fmt.Errorf("recipient %q is neither declared by a published policy version nor a recipient class", e.Recipient)
	}
	return nil
}

// importConsent reads and stores a consent file: all of it or none.
func importConsent(ctx context.Context, st store.Store, file string, now timestamp.Time) (read, added int, err error) {
	vs, _, err := loadVersions(ctx, st)
	if err != nil {
		return 0, 0, err
	}
	chk, err := newConsentChecker(vs)
	if err != nil {
		return 0, 0, err
	}
	f, err := os.Open(file)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var evs []consent.Event
	var bad lineErrors
	err = consent.EachLine(file, f, func(n int, line []byte) error {
		e, err := consent.ParseConsentLine(line, now)
		if err == nil {
			err = chk.check(&e)
		}
		if err != nil {
			bad.add(&consent.LineError{File: file, Line: n, Msg: err.Error()})
			return nil
		}
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	if err := bad.err(); err != nil {
		return 0, 0, err
	}
	added, err = st.AddConsentEvents(ctx, evs)
	return len(evs), added, err
}

func importReport(read, added int) string {
	return fmt.Sprintf("read %d events: %d added, %d already present", read, added, read-added)
}

func cmdSubjectsImport(ctx context.Context, a *app, args []string) error {
	return a.importCmd(ctx, "subjects import", args, importSubjects)
}

func cmdConsentImport(ctx context.Context, a *app, args []string) error {
	return a.importCmd(ctx, "consent import", args, importConsent)
}

func (a *app) importCmd(ctx context.Context, name string, args []string,
	fn func(context.Context, store.Store, string, timestamp.Time) (int, int, error)) error {
	fs := a.newFlags(name)
	var pos []string
	if err := a.parse(fs, args, positionals(&pos)); err != nil {
		return err
	}
	file, err := oneFile(pos, "file")
	if err != nil {
		return err
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	read, added, err := fn(ctx, st, file, timestamp.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s: %s\n", file, importReport(read, added))
	return nil
}
