package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/consentgate/consentgate/internal/gate"
)

// cmdNoticeVerify checks a notice as its recipient does: the notice, the
// export's manifest and the log's verifier key, no store.
func cmdNoticeVerify(a *app, fs *pflag.FlagSet) runFunc {
	manifest := fs.String("manifest", "", "the export's manifest `FILE` (what the recipient received with the dataset)")
	keyFile := fs.String("key", "", "the log's verifier key `FILE` (signed-note format, as GET /log/key gives it)")
	dataset := fs.String("dataset", "", "also check your copy of the dataset, `FILE`: the line at each record's index is the one the notice names")
	asJSON := fs.Bool("json", false, "print the verified notice as JSON")
	return func(ctx context.Context, args []string) error {
		key, err := os.ReadFile(*keyFile)
		if err != nil {
			return fmt.Errorf("--key %s: %w", *keyFile, errors.Unwrap(err))
		}
		n, inLog, err := gate.VerifyNotice(args[0], *manifest, string(key), *dataset)
		if err != nil {
			return err
		}
		if *asJSON {
			return a.printJSON(map[string]any{"notice": n, "in_log": inLog, "dataset_checked": *dataset != ""})
		}
		fmt.Fprintf(a.stdout, "%s verified: notice %s to %s about export %s, signed with the log's key; %d %s, each proved in the manifest's records_root %s\n",
			args[0], n.ID, n.Recipient, n.ExportID, len(n.Records), plural(len(n.Records), "record", "records"), n.RecordsRoot)
		if *dataset != "" {
			fmt.Fprintf(a.stdout, "%s holds every record the notice names, at its index, with its line's SHA-256\n", *dataset)
		}
		if inLog {
			fmt.Fprintf(a.stdout, "in the log at index %d, under a checkpoint signed with the same key\n", *n.LogIndex)
		} else {
			fmt.Fprintln(a.stdout, "its log inclusion was not checked: the file holds no log evidence (`consentgate notices show ID` or GET /v1/notices/{id} give it)")
		}
		return nil
	}
}
