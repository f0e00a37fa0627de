package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/translog"
)

// Error is the API's one coded error: an HTTP status, a stable code and a
// message for a person. Every failure is answered as
// {"error": {"code": …, "message": …}}.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

var (
	errUnauthorized = &Error{http.StatusUnauthorized, "unauthorized", "a valid bearer token is required"}
	errForbidden    = &Error{http.StatusForbidden, "forbidden", "this token may not do that"}
)

func badRequest(format string, args ...any) error {
	return &Error{http.StatusBadRequest, "invalid", fmt.Sprintf(format, args...)}
}

func notFound(what string) error {
	return &Error{http.StatusNotFound, "not_found", what + " not found"}
}

// asError maps an error to the API's, in one place.
func asError(err error) *Error {
	var e *Error
	var mbe *http.MaxBytesError
	var ve *translog.VerifyError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &mbe):
		return &Error{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the request body is larger than %d bytes", mbe.Limit)}
	case errors.Is(err, store.ErrNotice):
		return &Error{http.StatusConflict, "refused", err.Error()}
	case errors.Is(err, store.ErrExists):
		return &Error{http.StatusConflict, "exists", err.Error()}
	case errors.Is(err, store.ErrNotFound):
		return &Error{http.StatusNotFound, "not_found", err.Error()}
	case errors.Is(err, translog.ErrRange):
		return &Error{http.StatusBadRequest, "invalid", err.Error()}
	case errors.As(err, &ve):
		return &Error{http.StatusInternalServerError, "log_inconsistent", ve.Error()}
	}
	return &Error{http.StatusInternalServerError, "internal", "internal error"}
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := asError(err)
	if e.Status >= 500 {
		s.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, e.Status, map[string]any{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// readJSON decodes a request body strictly: unknown fields are refused.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("the body is not the JSON expected: %v", err)
	}
	if dec.More() {
		return badRequest("the body holds more than one JSON value")
	}
	return nil
}
