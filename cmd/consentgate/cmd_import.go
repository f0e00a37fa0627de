package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/consentgate/consentgate/internal/gate"
)

func importReport(im *gate.Imported) string {
	return fmt.Sprintf("read %d events: %d added, %d already present", im.Read, im.Added, im.Read-im.Added)
}

// subjects import may set a store up (subjects come first); consent
// import needs one (consent is for subjects it already knows).
func cmdSubjectsImport(ctx context.Context, a *app, args []string) error {
	return a.importCmd(ctx, "subjects import", gate.Create, args, (*gate.Gate).ImportSubjects)
}

func cmdConsentImport(ctx context.Context, a *app, args []string) error {
	return a.importCmd(ctx, "consent import", gate.Write, args, (*gate.Gate).ImportConsent)
}

func (a *app) importCmd(ctx context.Context, name string, mode gate.Mode, args []string, fn func(*gate.Gate, context.Context, string) (*gate.Imported, error)) error {
	file, err := a.oneArg(a.newFlags(name), args, "file")
	if err != nil {
		return err
	}
	// A file that is not there is found before a store is opened (or set
	// up): a typo creates nothing.
	if fi, err := os.Stat(file); err != nil {
		return fmt.Errorf("%s: %w", file, errors.Unwrap(err))
	} else if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a file", file)
	}
	g, err := a.open(ctx, gate.Write)
	if gate.CodeOf(err) == gate.NoStore && mode == gate.Create {
		// The first import sets the store up, once its file reads well:
		// a refused file leaves no store behind.
		if err := gate.CheckSubjects(file); err != nil {
			return err
		}
		g, err = a.open(ctx, gate.Create)
	}
	if err != nil {
		return err
	}
	defer a.done(g)
	stop := a.spinner(fmt.Sprintf("%s: importing", file))
	im, err := fn(g, ctx, file)
	stop()
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s: %s\n", file, importReport(im))
	return nil
}
