package httpapi

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

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

// parseTilePath reads a C2SP tlog-tiles path after /log/tile/:
// <L>/<N>[.p/<W>] or entries/<N>[.p/<W>], N in x-prefixed 3-digit groups.
func parseTilePath(p string) (tlog.Tile, bool) {
	level := -1
	rest := p
	if r, ok := strings.CutPrefix(p, "entries/"); ok {
		rest = r
	} else {
		l, r, ok := strings.Cut(p, "/")
		n, err := strconv.Atoi(l)
		if !ok || err != nil || n < 0 || n > 63 || strconv.Itoa(n) != l {
			return tlog.Tile{}, false
		}
		level, rest = n, r
	}
	// Let Go's tlog parse the index part in its sumdb form.
	lv := "data"
	if level >= 0 {
		lv = strconv.Itoa(level)
	}
	t, err := tlog.ParseTilePath("tile/8/" + lv + "/" + rest)
	if err != nil {
		return tlog.Tile{}, false
	}
	return t, true
}

func (s *Server) getTile(w http.ResponseWriter, r *http.Request) error {
	t, ok := parseTilePath(r.PathValue("path"))
	if !ok {
		return notFound("tile")
	}
	cp, _, err := s.latest(r)
	if err != nil {
		return err
	}
	// A tile exists when the tree has its entries: full tiles always, a
	// partial one only of the width the tree's size gives it now.
	level := max(t.L, 0)
	from := t.N << 8
	count := cp.Size >> (8 * level) // hashes at this tile level
	if from+int64(t.W) > count || (t.W < 256 && from+int64(t.W) != count) {
		return notFound("tile")
	}
	var body []byte
	switch {
	case t.L < 0:
		err = s.Store.LogLeaves(r.Context(), from, from+int64(t.W), func(_ int64, d []byte) error {
			body = binary.BigEndian.AppendUint16(body, uint16(len(d)))
			body = append(body, d...)
			return nil
		})
	case t.L == 0:
		err = s.Store.LogLeaves(r.Context(), from, from+int64(t.W), func(_ int64, d []byte) error {
			body = append(body, translog.LeafHash(d)...)
			return nil
		})
	default:
		var hs [][]byte
		hs, err = s.Store.LogNodes(r.Context(), t.L, from, from+int64(t.W))
		body = bytes.Join(hs, nil)
	}
	if err != nil {
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
