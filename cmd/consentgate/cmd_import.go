package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/consentgate/consentgate/internal/gate"
)

func importReport(im *gate.Imported) string {
	return fmt.Sprintf("read %s: %d added, %d already present", countOf(im.Read, "event", "events"), im.Added, im.Read-im.Added)
}

// subjects import may set a store up (subjects come first); consent
// import needs one (consent is for subjects it already knows).
func cmdSubjectsImport(a *app, fs *pflag.FlagSet) runFunc {
	return func(ctx context.Context, args []string) error {
		return a.importCmd(ctx, gate.Create, args[0], (*gate.Gate).ImportSubjects)
	}
}

func cmdConsentImport(a *app, fs *pflag.FlagSet) runFunc {
	return func(ctx context.Context, args []string) error {
		return a.importCmd(ctx, gate.Write, args[0], (*gate.Gate).ImportConsent)
	}
}

func (a *app) importCmd(ctx context.Context, mode gate.Mode, file string, fn func(*gate.Gate, context.Context, string) (*gate.Imported, error)) error {
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
