package httpapi

import (
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
)

func (s *Server) logRoutes() {
	s.handle("GET", "/log/checkpoint", s.public(s.getCheckpoint))
	s.handle("GET", "/log/key", s.public(s.getKey))
	s.handle("GET", "/log/tile/{path...}", s.public(s.getTile))
	s.handle("GET", "/v1/log/proofs/inclusion", s.public(s.getInclusion))
	s.handle("GET", "/v1/log/proofs/consistency", s.public(s.getConsistency))
}

// The log is public (SPEC §6): its leaves hold no content and no subject
// id, so checkpoint, tiles and proofs need no token.

func (s *Server) getCheckpoint(w http.ResponseWriter, r *http.Request) error {
	_, note, err := s.Gate.LatestCheckpoint(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, err = w.Write(note)
	return err
}

// getKey publishes the note verifier key the checkpoints are signed
// under, so that anyone can check a checkpoint, a proof or a manifest.
func (s *Server) getKey(w http.ResponseWriter, r *http.Request) error {
	key, err := s.Gate.VerifierKey()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, err = w.Write([]byte(key + "\n"))
	return err
}

func (s *Server) getTile(w http.ResponseWriter, r *http.Request) error {
	body, immutable, err := s.Gate.Tile(r.Context(), r.PathValue("path"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if immutable {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	if strings.HasPrefix(r.PathValue("path"), "entries/") {
		// Entry bundles compress well (tlog-tiles: SHOULD be served
		// gzip'd to a client that accepts it); hash tiles would not.
		w.Header().Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			if _, err := zw.Write(body); err != nil {
				return err
			}
			return zw.Close()
		}
	}
	_, err = w.Write(body)
	return err
}

// acceptsGzip reads Accept-Encoding (RFC 9110 §12.5.3): gzip, x-gzip or
// *, not with q=0.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding != "gzip" && coding != "x-gzip" && coding != "*" {
				continue
			}
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
						q = f
					}
				}
			}
			if q > 0 {
				return true
			}
		}
	}
	return false
}

// queryInt reads a non-negative integer parameter; def < 0 makes it
// required.
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
	index, err := queryInt(r, "index", -1)
	if err != nil {
		return err
	}
	size, err := queryInt(r, "size", 0)
	if err != nil {
		return err
	}
	e, err := s.Gate.ProveInclusion(r.Context(), index, size)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}

func (s *Server) getConsistency(w http.ResponseWriter, r *http.Request) error {
	from, err := queryInt(r, "from", -1)
	if err != nil {
		return err
	}
	to, err := queryInt(r, "to", 0)
	if err != nil {
		return err
	}
	e, err := s.Gate.ProveConsistency(r.Context(), from, to)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}
