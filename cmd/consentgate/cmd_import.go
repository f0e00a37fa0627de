package main

import (
	"context"
	"fmt"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// importSubjects reads and stores a subjects file: all of it or none,
// streaming, so memory does not grow with the file.
func importSubjects(ctx context.Context, st store.Store, file string, now timestamp.Time) (read, added int, err error) {
	return st.ImportSubjectEvents(ctx, consent.SubjectsFile(file, now))
}

// importConsent reads and stores a consent file: all of it or none. Its
// purposes and recipients must be declared by the published policies.
func importConsent(ctx context.Context, st store.Store, file string, now timestamp.Time) (read, added int, err error) {
	vs, _, err := loadVersions(ctx, st)
	if err != nil {
		return 0, 0, err
	}
	if vs.Len() <= 1 {
		return 0, 0, vs.CheckDeclared("", "")
	}
	return st.ImportConsentEvents(ctx, consent.ConsentFile(file, now, func(e *consent.Event) error { return vs.CheckDeclared(e.Purpose, e.Recipient) }))
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
	file, err := a.oneArg(a.newFlags(name), args, "file")
	if err != nil {
		return err
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	stop := a.spinner(fmt.Sprintf("%s: importing", file))
	read, added, err := fn(ctx, st, file, timestamp.Now())
	stop()
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s: %s\n", file, importReport(read, added))
	return nil
}
