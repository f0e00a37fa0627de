package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

// cmdStore is the store a command works on, with the key store its log
// uses. Closing it issues a checkpoint when the command appended.
type cmdStore struct {
	store.Store
	keys  *translog.KeyStore
	a     *app
	ctx   context.Context
	start int64 // the log's size when opened
}

// Close issues a checkpoint if the log grew, then closes the store. A
// failure to issue it is the command's failure (app.closeErr).
func (c *cmdStore) Close() error {
	if c.Store == nil {
		return nil
	}
	if size, err := c.LogSize(c.ctx); err == nil && size > c.start {
		if _, err := c.a.checkpoint(c.ctx, c); err != nil {
			c.a.closeErr = fmt.Errorf("the log grew to %d leaves but no checkpoint was issued: %w", size, err)
		}
	}
	err := c.Store.Close()
	c.keys.Close()
	c.Store = nil
	return err
}

// deployment names this deployment in the log's origin,
// consentgate/<deployment>: $CONSENTGATE_DEPLOYMENT, else the host name.
// It is fixed when the signing key is created.
func deployment() string {
	if d := os.Getenv("CONSENTGATE_DEPLOYMENT"); d != "" {
		return d
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "default"
}

// signer loads (creating at first use) the log's signing key.
func (a *app) signer() (*translog.Signer, error) {
	dir, err := a.keys()
	if err != nil {
		return nil, err
	}
	return translog.LoadSigner(dir, deployment())
}

// checkpoint returns the signed checkpoint of the log as it is, issuing
// and keeping a new one when the latest kept is older.
func (a *app) checkpoint(ctx context.Context, st store.Store) ([]byte, error) {
	signer, err := a.signer()
	if err != nil {
		return nil, err
	}
	return translog.Issue(ctx, st, signer, timestamp.Now())
}

// logState is the log's size and root now, for a manifest.
func logState(ctx context.Context, st store.Store) (*export.LogState, error) {
	size, err := st.LogSize(ctx)
	if err != nil {
		return nil, err
	}
	root, err := translog.Root(ctx, st, size)
	if err != nil {
		return nil, err
	}
	return &export.LogState{Size: uint64(size), Root: hex.EncodeToString(root)}, nil
}

// reconcileExports marks exports logged without their files abandoned
// (SPEC §5): a crash between the log append and the renames. An export
// whose output and manifest are in place with the logged sizes completed
// its renames and is marked complete.
func (a *app) reconcileExports(ctx context.Context, st store.Store) error {
	es, err := st.LoggedExports(ctx)
	if err != nil {
		return err
	}
	for _, e := range es {
		status := store.ExportAbandoned
		var m export.Manifest
		if json.Unmarshal(e.Manifest, &m) == nil && m.Output.File != "" {
			if fi, err := os.Stat(m.Output.File); err == nil && fi.Size() == m.Output.Bytes {
				status = store.ExportComplete
			}
		}
		if err := st.SetExportStatus(ctx, e.ID, status); err != nil {
			return err
		}
		if status == store.ExportAbandoned {
			fmt.Fprintf(a.stderr, "consentgate: export %s was logged but its files never appeared (a crash?): marked abandoned\n", e.ID)
		}
	}
	return nil
}

// subjectsRoot is the RFC 6962 root over the included subjects'
// pseudonyms for this export, sorted (SPEC §5).
func subjectsRoot(ctx context.Context, keys store.Keys, exportID string, ids []string) ([]byte, error) {
	ks, err := keys.SubjectKeys(ctx, ids, true)
	if err != nil {
		return nil, err
	}
	return translog.NewSubjectsTree(exportID, ids, ks).Root(), nil
}

// logExport is the export's BeforeRename hook: subjects_root, then the
// manifest appended to the log and the export recorded in one transaction,
// then its log index and signature.
func (a *app) logExport(ctx context.Context, st *cmdStore, signer *translog.Signer) func(*export.Manifest, *export.SubjectSet) error {
	return func(m *export.Manifest, subjects *export.SubjectSet) error {
		root, err := subjectsRoot(ctx, st.keys, m.ExportID, subjects.IDs)
		if err != nil {
			return err
		}
		r := hex.EncodeToString(root)
		m.SubjectsRoot, m.LogIndex, m.Signature = &r, nil, nil
		body, err := export.MarshalManifest(m)
		if err != nil {
			return err
		}
		e := store.Export{ID: m.ExportID, CreatedAt: m.CreatedAt, Purpose: m.Purpose, Recipient: m.Recipient, AsOf: m.AsOf,
			Manifest: body, Subjects: subjects.Encode()}
		defer crashPoint("after-log")
		return st.LogExport(ctx, e, func(index int64) ([]byte, error) {
			i := uint64(index)
			m.LogIndex = &i
			body, err := export.MarshalManifest(m)
			if err != nil {
				return nil, err
			}
			sig, err := signer.SignManifest(body)
			if err != nil {
				return nil, err
			}
			m.Signature = &sig
			return export.MarshalManifest(m)
		})
	}
}

// crashPoint ends the process at once, as a crash would, when
// $CONSENTGATE_TEST_CRASH names this point: fault injection for the crash
// tests, which cannot time a kill between two steps microseconds apart.
func crashPoint(name string) {
	if os.Getenv("CONSENTGATE_TEST_CRASH") == name {
		os.Exit(137)
	}
}
