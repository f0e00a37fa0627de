package gate

import (
	"errors"
	"fmt"

	"github.com/consentgate/consentgate/internal/postgres"
	"github.com/consentgate/consentgate/internal/sqlite"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/translog"
)

// Code classifies a failure for the front ends: each maps a code to its
// own convention (an exit status, an HTTP status) in one place.
type Code string

// The codes.
const (
	// Invalid: the request or the input is wrong; it changed nothing.
	Invalid Code = "invalid"
	// NotFound: what was asked for does not exist.
	NotFound Code = "not_found"
	// Exists: it exists already with other content (published versions
	// are immutable).
	Exists Code = "exists"
	// Refused: a check refused the change; the Hint says whether forcing
	// it is possible.
	Refused Code = "refused"
	// Unauthorized: no valid token.
	Unauthorized Code = "unauthorized"
	// Forbidden: the principal may not do this.
	Forbidden Code = "forbidden"
	// NoStore: there is no store where one was to be opened.
	NoStore Code = "no_store"
	// Unavailable: something the use case needs is not there (a signing
	// key, a store schema to upgrade).
	Unavailable Code = "unavailable"
	// Busy: another writer held the store past the busy timeout (a long
	// import); nothing was written, and the same request shortly after may
	// go through.
	Busy Code = "busy"
	// Full: the store's disk is full; nothing was written.
	Full Code = "full"
	// Inconsistent: the log does not verify.
	Inconsistent Code = "log_inconsistent"
	// Internal: anything else.
	Internal Code = "internal"
)

// Hint names what would make a refused or invalid request go through, for
// each front end to word for its users (a flag on the command line, a
// query parameter over HTTP).
type Hint string

// The hints.
const (
	NoHint Hint = ""
	// Force: the same request forced goes through, recorded as forced.
	Force Hint = "force"
	// PublishPolicy: a policy version must be published first.
	PublishPolicy Hint = "publish_policy"
	// CreateStore: a command that creates the store must run first.
	CreateStore Hint = "create_store"
	// KeysDir: the keys directory named is not the store's.
	KeysDir Hint = "keys_dir"
	// SeeImpact: the item must be one `impact` lists.
	SeeImpact Hint = "see_impact"
)

// Error is the application's coded error: a code, a message for a person
// that names no front end's flags or routes, and a hint.
type Error struct {
	Code    Code
	Message string
	Hint    Hint
	Err     error // the cause, when there is one
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// Errorf makes a coded error.
func Errorf(code Code, hint Hint, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Hint: hint, Err: errors.Unwrap(err)}
}

func invalid(format string, args ...any) error  { return Errorf(Invalid, NoHint, format, args...) }
func notFound(format string, args ...any) error { return Errorf(NotFound, NoHint, format, args...) }

var errForbidden = &Error{Code: Forbidden, Message: "this token may not do that"}

// As returns err as a coded error: the application's own, or a lower
// layer's sentinel mapped to its code; anything else is Internal, its
// message kept for logs.
func As(err error) *Error {
	var e *Error
	var ve *translog.VerifyError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return e
	case errors.As(err, &ve):
		return &Error{Code: Inconsistent, Message: ve.Error(), Err: err}
	case errors.Is(err, store.ErrNotFound):
		return &Error{Code: NotFound, Message: err.Error(), Err: err}
	case errors.Is(err, store.ErrExists):
		return &Error{Code: Exists, Message: err.Error(), Err: err}
	case errors.Is(err, store.ErrNoStore):
		return &Error{Code: NoStore, Message: err.Error(), Hint: CreateStore, Err: err}
	case errors.Is(err, store.ErrOutdated):
		return &Error{Code: Unavailable, Message: err.Error(), Err: err}
	case errors.Is(err, translog.ErrRange):
		return &Error{Code: Invalid, Message: err.Error(), Err: err}
	case errors.Is(err, translog.ErrNoSigningKey), errors.Is(err, translog.ErrNoKeys):
		return &Error{Code: Unavailable, Message: err.Error(), Hint: KeysDir, Err: err}
	case errors.Is(err, store.ErrBusy):
		return &Error{Code: Busy, Message: store.ErrBusy.Error(), Err: err}
	case errors.Is(err, store.ErrFull):
		return &Error{Code: Full, Message: store.ErrFull.Error(), Err: err}
	}
	// What a backend answered, in the store's terms.
	for _, condition := range []func(error) error{sqlite.Condition, postgres.Condition} {
		if c := condition(err); c != nil {
			return As(fmt.Errorf("%w: %v", c, err))
		}
	}
	return &Error{Code: Internal, Message: err.Error(), Err: err}
}

// CodeOf is As(err).Code ("" for nil).
func CodeOf(err error) Code {
	if e := As(err); e != nil {
		return e.Code
	}
	return ""
}
