package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/gate"
)

// Error is how the API answers a failure:
// {"error": {"code": …, "message": …, "hint": …}}, the code and hint the
// application's, the message worded for an HTTP client.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// statuses maps the application's codes to HTTP statuses, in one place.
var statuses = map[gate.Code]int{
	gate.Invalid:      http.StatusBadRequest,
	gate.NotFound:     http.StatusNotFound,
	gate.Exists:       http.StatusConflict,
	gate.Refused:      http.StatusConflict,
	gate.Unauthorized: http.StatusUnauthorized,
	gate.Forbidden:    http.StatusForbidden,
	gate.NoStore:      http.StatusServiceUnavailable,
	gate.Unavailable:  http.StatusServiceUnavailable,
	gate.Busy:         http.StatusServiceUnavailable,
	gate.Full:         http.StatusInsufficientStorage,
	gate.Inconsistent: http.StatusInternalServerError,
	gate.Internal:     http.StatusInternalServerError,
}

// hints word the application's hints for an HTTP client.
var hints = map[gate.Hint]string{
	gate.Force:         "repeat the request with ?force=true to do it anyway, recorded as forced",
	gate.PublishPolicy: "publish one first: POST /v1/policies",
	gate.SeeImpact:     "GET /v1/impact lists the items",
}

// asError maps an error to the API's, in one place.
func asError(err error) *Error {
	var e *Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &mbe):
		return &Error{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the request body is larger than %d bytes", mbe.Limit), ""}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &Error{http.StatusRequestTimeout, "timeout", "the request body did not arrive in time", ""}
	}
	ge := gate.As(err)
	out := &Error{Status: statuses[ge.Code], Code: string(ge.Code), Message: ge.Message, Hint: string(ge.Hint)}
	if out.Status == 0 {
		out.Status = http.StatusInternalServerError
	}
	switch ge.Code {
	case gate.Internal:
		out.Message = "internal error"
	case gate.Unauthorized:
		out.Message = "a valid bearer token is required"
	}
	if h := hints[ge.Hint]; h != "" {
		out.Message += " (" + h + ")"
	}
	return out
}

func badRequest(format string, args ...any) error {
	return &Error{http.StatusBadRequest, string(gate.Invalid), fmt.Sprintf(format, args...), ""}
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := asError(err)
	switch {
	case e.Code == string(gate.Busy):
		s.Logger.Info("store busy", "method", r.Method, "path", r.URL.Path) // transient: another writer
	case e.Code == string(gate.Full):
		s.Logger.Warn("store full", "method", r.Method, "path", r.URL.Path, "err", err)
	case e.Status >= 500:
		s.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	switch e.Status {
	case http.StatusServiceUnavailable:
		if e.Code == string(gate.Busy) {
			// The busy timeout already waited; the client tries again soon.
			w.Header().Set("Retry-After", strconv.Itoa(int(gate.ServingBusyTimeout/time.Second)))
		}
	case http.StatusUnauthorized:
		// RFC 6750 §3: the scheme to use, and why a token given failed.
		challenge := `Bearer realm="consentgate"`
		if r.Header.Get("Authorization") != "" {
			challenge += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
	case http.StatusRequestTimeout:
		w.Header().Set("Connection", "close")
	}
	writeJSON(w, e.Status, map[string]any{"error": e})
}

// writeJSON answers v as compact JSON (pipe it through jq to read it).
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// jsonType says whether mt is a media type a JSON body may be declared as; a body
// declared as anything else (text/plain, a form) is refused with 415. A
// body with no Content-Type is read as JSON, as it always was.
func jsonType(mt string) bool { return mt == "application/json" || strings.HasSuffix(mt, "+json") }

// policyType says whether a policy body may be declared as mt: YAML (the
// policy format) or JSON (a subset of YAML).
func policyType(mt string) bool {
	switch mt {
	case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
		return true
	}
	return jsonType(mt)
}

// contentType refuses a body declared as a media type ok does not take:
// 415, naming what the route takes.
func contentType(r *http.Request, ok func(string) bool, takes string) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && ok(mt) {
		return nil
	}
	return &Error{http.StatusUnsupportedMediaType, "unsupported_media_type", fmt.Sprintf("the body is declared as %q; this route takes %s", ct, takes), ""}
}

// readBody reads a JSON request body whole (within the route's limit),
// refusing one declared as another media type (415).
func readBody(r *http.Request) ([]byte, error) {
	if err := contentType(r, jsonType, "application/json"); err != nil {
		return nil, err
	}
	return readAll(r)
}

// readPolicyBody reads a policy document's body: YAML or JSON, declared
// as application/yaml (or application/x-yaml, text/yaml) or
// application/json, or undeclared; 415 for anything else.
func readPolicyBody(r *http.Request) ([]byte, error) {
	if err := contentType(r, policyType, "application/yaml or application/json"); err != nil {
		return nil, err
	}
	return readAll(r)
}

func readAll(r *http.Request) ([]byte, error) {
	var b bytes.Buffer
	_, err := io.Copy(&b, r.Body)
	return b.Bytes(), err
}

// readJSON decodes a request body strictly: unknown fields are refused.
func readJSON(r *http.Request, v any) error {
	if err := contentType(r, jsonType, "application/json"); err != nil {
		return err
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		return badRequest("the body could not be read: %v", err)
	}
	// The imports' strict rules first: a key given twice, invalid UTF-8
	// or JSON the RFC does not allow is refused, not read one way.
	if err := consent.CheckJSON(body); err != nil {
		return badRequest("the body is not the JSON expected: %s", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("the body is not the JSON expected: %s", gate.JSONProblem(err))
	}
	if dec.More() {
		return badRequest("the body holds more than one JSON value")
	}
	return nil
}
