package main

import (
	"context"
	"fmt"

	"github.com/consentgate/consentgate/internal/gate"
)

func importReport(im *gate.Imported) string {
	return fmt.Sprintf("read %d events: %d added, %d already present", im.Read, im.Added, im.Read-im.Added)
}

func cmdSubjectsImport(ctx context.Context, a *app, args []string) error {
	return a.importCmd(ctx, "subjects import", args, (*gate.Gate).ImportSubjects)
}

func cmdConsentImport(ctx context.Context, a *app, args []string) error {
	return a.importCmd(ctx, "consent import", args, (*gate.Gate).ImportConsent)
}

func (a *app) importCmd(ctx context.Context, name string, args []string, fn func(*gate.Gate, context.Context, string) (*gate.Imported, error)) error {
	file, err := a.oneArg(a.newFlags(name), args, "file")
	if err != nil {
		return err
	}
	g, err := a.open(ctx, gate.Create)
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
