package web

import (
	"encoding/hex"
	"errors"
	"net/http"

	"github.com/consentgate/consentgate/internal/httpapi"
	"github.com/consentgate/consentgate/internal/translog"
)

// subjectProof is a member's evidence that an export included their data:
// their pseudonym, its place in the export's subjects_root with the RFC
// 6962 audit path, and the manifest's log index (whose inclusion proof the
// public log route gives).
func subjectProof(r *http.Request, s *httpapi.Server, subject, exportID string) (map[string]any, error) {
	ctx := r.Context()
	es, err := s.Store.Exports(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		if e.ID != exportID || len(e.Subjects) == 0 {
			continue
		}
		keys, err := s.Keys.SubjectKeys(ctx, []string{subject}, false)
		if err != nil {
			return nil, err
		}
		if keys[subject] == nil {
			return nil, errors.New("no proof: your log key was erased")
		}
		tree, err := translog.ExportSubjectsTree(ctx, s.Store, s.Keys, &e)
		if err != nil {
			return nil, err
		}
		if tree == nil {
			return nil, errors.New("no proof: this export's subjects can no longer all be linked (a key was erased)")
		}
		ps := translog.Pseudonym(translog.ExportSalt(keys[subject], e.ID), []byte(subject))
		i, path, ok := tree.Prove(ps)
		if !ok {
			return nil, errors.New("no proof: your data was not in this export")
		}
		var logIndex any
		if m, ok := manifestOf(e.Manifest); ok {
			logIndex = m.LogIndex
		}
		return map[string]any{"export_id": e.ID, "pseudonym": hex.EncodeToString(ps[:]), "subjects_root": hex.EncodeToString(tree.Root()),
			"index": i, "size": len(tree.Leaves), "proof": path, "manifest_log_index": logIndex}, nil
	}
	return nil, errors.New("no such export")
}
