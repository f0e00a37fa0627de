package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

func (s *Server) logRoutes() {
	s.handle("GET", "/log/checkpoint", s.public(s.getCheckpoint))
	s.handle("GET", "/log/tile/{path...}", s.public(s.getTile))
	s.handle("GET", "/v1/log/proofs/inclusion", s.public(s.getInclusion))
	s.handle("GET", "/v1/log/proofs/consistency", s.public(s.getConsistency))
}

// The log is public (SPEC §6): its leaves hold no content and no subject
// id, so checkpoint, tiles and proofs need no token.

// latest is the latest kept checkpoint (one is issued when there is none;
// the server issues one a minute while the log grows).
func (s *Server) latest(r *http.Request) (*translog.Checkpoint, []byte, error) {
	if s.Signer == nil {
		return nil, nil, &Error{http.StatusServiceUnavailable, "no_signer", "this server has no signing key"}
	}
	cps, err := s.Store.Checkpoints(r.Context())
	if err != nil {
		return nil, nil, err
	}
	var note []byte
	if len(cps) > 0 {
		note = cps[len(cps)-1].Note
	} else if note, err = translog.Issue(r.Context(), s.Store, s.Signer, timestamp.Now()); err != nil {
		return nil, nil, err
	}
	cp, err := translog.OpenCheckpoint(note, s.Signer.Verifier)
	return cp, note, err
}

func (s *Server) getCheckpoint(w http.ResponseWriter, r *http.Request) error {
	_, note, err := s.latest(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, err = w.Write(note)
	return err
}

func (s *Server) getTile(w http.ResponseWriter, r *http.Request) error {
	t, ok := translog.ParseTilePath(r.PathValue("path"))
	if !ok {
		return notFound("tile")
	}
	cp, _, err := s.latest(r)
	if err != nil {
		return err
	}
	body, err := translog.TileData(r.Context(), s.Store, t, cp.Size)
	if errors.Is(err, translog.ErrRange) {
		return notFound("tile")
	} else if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if t.W == 256 {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	_, err = w.Write(body)
	return err
}

func queryInt(r *http.Request, name string, def int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		if def < 0 {
			return 0, badRequest("%s is required", name)
		}
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest("%s %q: expected a non-negative integer", name, v)
	}
	return n, nil
}

func (s *Server) getInclusion(w http.ResponseWriter, r *http.Request) error {
	cp, note, err := s.latest(r)
	if err != nil {
		return err
	}
	index, err := queryInt(r, "index", -1)
	if err != nil {
		return err
	}
	size, err := queryInt(r, "size", cp.Size)
	if err != nil {
		return err
	}
	if size > cp.Size || index >= size {
		return badRequest("index %d, size %d: the latest checkpoint is of %d leaves", index, size, cp.Size)
	}
	e, err := translog.ProveInclusion(r.Context(), s.Store, index, size)
	if err != nil {
		return err
	}
	if size == cp.Size {
		e.Checkpoint = string(note)
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}

func (s *Server) getConsistency(w http.ResponseWriter, r *http.Request) error {
	cp, _, err := s.latest(r)
	if err != nil {
		return err
	}
	from, err := queryInt(r, "from", -1)
	if err != nil {
		return err
	}
	to, err := queryInt(r, "to", cp.Size)
	if err != nil {
		return err
	}
	if to > cp.Size || from > to {
		return badRequest("from %d, to %d: the latest checkpoint is of %d leaves", from, to, cp.Size)
	}
	e, err := translog.ProveConsistency(r.Context(), s.Store, from, to)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}
