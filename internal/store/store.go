// Package store owns the storage contract: what consentgate keeps (policy
// versions, subject history, consent events, exports) and the few
// operations callers need, small enough that each backend (SQLite embedded,
// PostgreSQL in production) implements it without callers changing.
package store

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Sentinel errors. Callers branch on them with errors.Is.
var (
	// ErrNotFound: the thing asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: a policy version with that label is already published
	// with different content; published versions are immutable.
	ErrExists = errors.New("already exists")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("the store is closed")
	// ErrNoStore: there is no store where one was to be opened (and the
	// caller did not ask to create one).
	ErrNoStore = errors.New("no consentgate store there")
	// ErrOutdated: a store opened read-only has an older schema than this
	// program; a writing session upgrades it.
	ErrOutdated = errors.New("the store's schema is older than this program: any command that writes upgrades it")
	// ErrBusy: another writer held the store longer than the opener's
	// busy timeout (a long import); nothing was written. A backend's
	// Condition maps its own errors to it.
	ErrBusy = errors.New("the store is busy: another writer holds it (a long import?); nothing was written, try again shortly")
	// ErrFull: the store's disk (or the database server's) is full;
	// nothing was written.
	ErrFull = errors.New("the store's disk is full: nothing was written")
	// ErrRowForm: a stored row holds a value in a form the store never
	// writes (SQLite keeps any type in any column: a number stored as
	// bytes reads the same but compares otherwise in the queries views
	// are loaded with). Log verification reports the row.
	ErrRowForm = errors.New("a column holds a value the store never writes there (another type, or out of its range)")
)

// OpenOptions say how a backend opens a store: Create makes one where
// there is none (else ErrNoStore); ReadOnly refuses every write and never
// migrates (ErrOutdated when it would have to).
type OpenOptions struct {
	Create   bool
	ReadOnly bool
	// BusyTimeout is how long a write waits for another writer before it
	// fails with ErrBusy (0: ten seconds). A server sets it short, to
	// answer "busy" rather than hang.
	BusyTimeout time.Duration
}

// Policy is a published policy version as stored.
type Policy struct {
	Version       string
	EffectiveFrom timestamp.Time
	Source        []byte
	Digest        string // SHA-256 of Source, hex
	PublishedAt   timestamp.Time
	Forced        bool
}

// Export is one export's record: its manifest and status.
type Export struct {
	ID        string
	CreatedAt timestamp.Time
	Purpose   string
	Recipient string
	AsOf      timestamp.Time
	Status    string // "complete" or "abandoned"
	Manifest  []byte // the manifest JSON
	Subjects  []byte // the subjects included (inclusion.Subjects' stored form)
	// Records gives the included records' decision inputs, inclusion
	// chunks in output order, to LogExport (nil: none), which keeps them
	// for ExportRecords; a chunk is valid only during its call. Listings
	// of exports leave it nil.
	Records func(fn func(chunk []byte) error) error
	// DataDigest is translog.ExportDataDigest of the subject set and the
	// kept records, as the store recorded it (nil for an export logged
	// before exports' states were logged, until its state is backfilled).
	DataDigest []byte
	// Dir is the directory the export ran in (relative paths in its
	// manifest are resolved there), ManifestPath its manifest's path.
	Dir, ManifestPath string
	// Owner ("host:pid") runs the export until LeaseUntil: while the
	// owner's process lives, or the lease has not run out, a logged export
	// is finishing, not abandoned.
	Owner      string
	LeaseUntil timestamp.Time
}

// Erasure is the logged erasure of a subject's log key.
type Erasure struct {
	Seq     int64
	Subject string
	Salt    []byte // the erasure leaf's own salt
	At      timestamp.Time
	// RowsDigest is translog.ErasedRows' digest of the subject's rows when
	// it was erased.
	RowsDigest []byte
}

// ImpactMark is an operator's status change of one impact item (an export
// and a subject): open, notified, retrained or waived.
type ImpactMark struct {
	Seq      int64 // assigned by the store
	ExportID string
	Subject  string
	Status   string
	Note     string
	At       timestamp.Time
}

// Notice is a notice to a recipient as stored (SPEC §11). Body is the
// signed notice JSON (notice.Notice), carrying its log index; the other
// fields repeat what it says, for queries, and log verification holds
// them to it.
type Notice struct {
	Seq       int64 // assigned by the store, increasing: the order notices are delivered in
	ID        string
	ExportID  string
	Recipient string
	IssuedAt  timestamp.Time
	Deadline  timestamp.Time // 0: none
	Body      []byte
}

// NoticeAnswer is an answer to a notice: the recipient's through its
// token, or one an operator recorded (By "operator").
type NoticeAnswer struct {
	Seq      int64 // assigned by the store
	NoticeID string
	Status   string // deleted, excluded, retrained, unlearned or refused; an operator may also close with wontfix
	Note     string
	By       string // "recipient:<id>" or "operator"
	At       timestamp.Time
}

// LineageRun links a job that completed a run reading an export's output
// to that export: an OpenLineage COMPLETE run event received (SPEC §11).
type LineageRun struct {
	Seq       int64 // assigned by the store
	ExportID  string
	Namespace string // the job's namespace and name
	Job       string
	RunID     string
	At        timestamp.Time // the event's eventTime
	Producer  string
}

// Token is an API bearer token as stored: its SHA-256, never the token.
type Token struct {
	Hash      string         `json:"hash"`              // SHA-256 of the token, hex
	Role      string         `json:"role"`              // admin, operator, auditor, subject or recipient
	Subject   string         `json:"subject,omitempty"` // the subject's id, or the recipient's for a recipient token
	CreatedAt timestamp.Time `json:"created_at"`
	RevokedAt timestamp.Time `json:"revoked_at,omitempty"` // 0 while valid
}

// Session is a web session as stored: its secret's SHA-256, never the
// secret (the cookie's value).
type Session struct {
	Hash      string // SHA-256 of the session's secret, hex
	Token     string // the hash of the token it was opened with
	CreatedAt timestamp.Time
	ExpiresAt timestamp.Time // refused from then on
	EndedAt   timestamp.Time // signed out or its token revoked; 0 while open
}

// Checkpoint is a signed checkpoint of the transparency log as issued.
type Checkpoint struct {
	Size int64
	Note []byte // the signed note (C2SP tlog-checkpoint)
	At   timestamp.Time
}

// Keys gives each subject the key its log entries' salts derive from
// (SPEC §6). translog.KeyStore implements it over a file under --keys.
type Keys interface {
	// SubjectKeys returns the keys of the subjects that have one; with
	// create it first gives each subject without one a new key, durably.
	SubjectKeys(ctx context.Context, subjects []string, create bool) (map[string][]byte, error)
}

// Export statuses.
const (
	ExportLogged    = "logged"    // its manifest is in the log; its files are being renamed into place
	ExportComplete  = "complete"  // its files are in place
	ExportAbandoned = "abandoned" // logged, but its files never appeared
)

// SubjectRow is a subject event as a scan yields it: attributes are the
// stored JSON object of string or null values. The slices are valid only
// during the callback.
type SubjectRow struct {
	Seq       int64
	Subject   []byte
	At        timestamp.Time
	RegionSet bool
	Region    []byte
	Attrs     []byte
}

// ConsentRow is a consent event as a scan yields it; Recipient is empty for
// every recipient; Policy and Notice are empty for an event that noted no
// policy version (consent.Event). The slices are valid only during the
// callback.
type ConsentRow struct {
	Seq                         int64
	Subject, Purpose, Recipient []byte
	State                       policy.State
	At                          timestamp.Time
	Source                      []byte
	Policy, Notice              []byte
}

// Delivery is a destination's progress through the consent events.
type Delivery struct {
	Destination string         `json:"destination"`
	Delivered   int64          `json:"delivered"` // the last sequence number acknowledged
	Pending     int64          `json:"pending"`   // consent events stored after it
	UpdatedAt   timestamp.Time `json:"updated_at"`
}

// Event copies a scanned subject row into a subject event.
func (r *SubjectRow) Event() (consent.SubjectEvent, error) {
	attrs, err := consent.DecodeAttributes(r.Attrs)
	return consent.SubjectEvent{Seq: r.Seq, Subject: string(r.Subject), At: r.At, RegionSet: r.RegionSet, Region: string(r.Region), Attributes: attrs}, err
}

// Event copies a scanned consent row into a consent event.
func (r *ConsentRow) Event() consent.Event {
	return consent.Event{Seq: r.Seq, Subject: string(r.Subject), Purpose: string(r.Purpose), Recipient: string(r.Recipient),
		State: r.State, At: r.At, Source: string(r.Source), Policy: string(r.Policy), Notice: string(r.Notice)}
}

// Store is the storage contract. Every method is safe for concurrent use.
// Writes are atomic: a batch is stored whole or not at all.
type Store interface {
	// PublishPolicy stores a version. Publishing a label again with the
	// same source is a no-op returning false; with a different source it
	// fails with ErrExists.
	PublishPolicy(ctx context.Context, p Policy) (added bool, err error)
	// Policies returns every published version ordered by effective_from.
	Policies(ctx context.Context) ([]Policy, error)

	// AddSubjectEvents stores subject events, skipping any already stored
	// (same subject, time and fields), and returns how many were new.
	AddSubjectEvents(ctx context.Context, evs []consent.SubjectEvent) (added int, err error)
	// AddConsentEvents stores consent events, skipping any already stored
	// (same subject, purpose, recipient, state, time and source).
	AddConsentEvents(ctx context.Context, evs []consent.Event) (added int, err error)
	// ImportSubjectEvents stores every event a sequence yields in one
	// transaction, taking them a chunk at a time so that memory stays flat
	// however long the sequence. If it yields an error, nothing is stored
	// and that error is returned. It reports how many were read and added.
	ImportSubjectEvents(ctx context.Context, evs iter.Seq2[consent.SubjectEvent, error]) (read, added int, err error)
	// ImportConsentEvents is ImportSubjectEvents for consent events.
	ImportConsentEvents(ctx context.Context, evs iter.Seq2[consent.Event, error]) (read, added int, err error)

	// SubjectHistory returns one subject's events in (at, seq) order.
	SubjectHistory(ctx context.Context, subject string) ([]consent.SubjectEvent, error)
	// ConsentHistory returns one subject's consent events in (at, seq) order.
	ConsentHistory(ctx context.Context, subject string) ([]consent.Event, error)

	// ScanSubjects calls fn for every subject event at or before asOf (of
	// the listed subjects only, when subjects is not nil), in any order. A
	// scan of every subject also yields the later events, which a
	// consent.Builder only numbers its subjects by.
	ScanSubjects(ctx context.Context, asOf timestamp.Time, subjects []string, fn func(*SubjectRow) error) error
	// ScanConsent calls fn for every consent event at or before asOf,
	// likewise.
	ScanConsent(ctx context.Context, asOf timestamp.Time, subjects []string, fn func(*ConsentRow) error) error
	// EventCounts returns upper bounds on the numbers of subject and
	// consent events stored, to size a view before loading it.
	EventCounts(ctx context.Context) (subjects, consent int64, err error)

	// SubjectNumber returns a subject's stable number (the sequence number
	// of its first subject event), false when the subject is unknown.
	SubjectNumber(ctx context.Context, subject string) (int64, bool, error)
	// SubjectsByNumber returns the subjects whose events have the given
	// sequence numbers (a subject's number is its first event's), by
	// number; numbers without an event are absent.
	SubjectsByNumber(ctx context.Context, numbers []int64) (map[int64]string, error)

	// AddImpactMark records an operator's status change of an impact item,
	// returning the sequence number the store gave it.
	AddImpactMark(ctx context.Context, m ImpactMark) (int64, error)
	// ImpactMarks returns every status change, oldest first.
	ImpactMarks(ctx context.Context) ([]ImpactMark, error)

	// ConsentAfter returns up to limit consent events with a sequence
	// number above after, in sequence order, which is the order they were
	// committed in: the outbox that consent changes are delivered from.
	ConsentAfter(ctx context.Context, after int64, limit int) ([]consent.Event, error)
	// Delivered returns the sequence number a destination has acknowledged
	// up to (0 for a new destination).
	Delivered(ctx context.Context, destination string) (int64, error)
	// SetDelivered records a destination's progress; it never moves back.
	SetDelivered(ctx context.Context, destination string, seq int64) error
	// Deliveries returns every destination's progress, by name.
	Deliveries(ctx context.Context) ([]Delivery, error)

	// LogExport records an export and appends its manifest to the log in
	// one transaction, with status ExportLogged: finish is given the log
	// index the manifest gets and returns the manifest to store (now
	// carrying its index and signature).
	LogExport(ctx context.Context, e Export, finish func(index int64) (manifest []byte, err error)) error
	// ExportRecords calls fn with each chunk of an export's included
	// records, in output order (none for an export that kept none). The
	// chunk is valid only during the call.
	ExportRecords(ctx context.Context, id string, fn func(chunk []byte) error) error
	// LoggedExports lists the exports with status ExportLogged, and those
	// whose state is not logged yet (DataDigest nil): cheap enough to ask
	// on every open.
	LoggedExports(ctx context.Context) ([]Export, error)
	// SetExportStatus changes an export's status and appends its state
	// (translog.ExportLeaf) in the same transaction; for an export whose
	// state was never logged (logged before exports' states were), the
	// digest of its data is computed and the leaf marked backfilled.
	SetExportStatus(ctx context.Context, id, status string) error

	// AddErasure records the erasure of a subject's log key, with its
	// leaf, in one transaction (a second erasure of the subject adds
	// nothing). It does not touch the key: the caller deletes it after.
	AddErasure(ctx context.Context, subject string, at timestamp.Time) error
	// Erasures lists every erasure, by sequence number.
	Erasures(ctx context.Context) ([]Erasure, error)
	// Exports lists the recorded exports, oldest first.
	Exports(ctx context.Context) ([]Export, error)

	// AddNotice stores a notice and appends its leaf (translog.NoticeLeaf)
	// in one transaction: finish is given the log index the notice gets
	// and returns the body to store (now carrying its index and
	// signature). after is the Seq of the export's latest notice the
	// caller built on (0: none): when the export has a later one by then,
	// nothing is stored and the error is ErrExists — two senders never
	// notify a record twice. It returns the notice's Seq.
	AddNotice(ctx context.Context, n Notice, after int64, finish func(index int64) (body []byte, err error)) (int64, error)
	// Notices returns every notice, by Seq.
	Notices(ctx context.Context) ([]Notice, error)
	// NoticesAfter returns up to limit notices to recipient with a Seq
	// above after, by Seq: the outbox notices are delivered from.
	NoticesAfter(ctx context.Context, recipient string, after int64, limit int) ([]Notice, error)
	// AddNoticeAnswer stores an answer and appends its leaf in one
	// transaction (ErrNotFound when there is no such notice), returning
	// its Seq.
	AddNoticeAnswer(ctx context.Context, a NoticeAnswer) (int64, error)
	// NoticeAnswers returns every answer, by Seq.
	NoticeAnswers(ctx context.Context) ([]NoticeAnswer, error)
	// AddLineageRun stores a link and appends its leaf in one transaction;
	// the same (export, namespace, job, run id) again adds nothing and
	// returns false (ErrNotFound when there is no such export).
	AddLineageRun(ctx context.Context, r LineageRun) (added bool, err error)
	// LineageRuns returns every link, by Seq.
	LineageRuns(ctx context.Context) ([]LineageRun, error)

	// AddToken stores a token's hash.
	AddToken(ctx context.Context, t Token) error
	// TokenByHash returns a token by its hash (ErrNotFound if unknown).
	TokenByHash(ctx context.Context, hash string) (Token, error)
	// RevokeToken marks a token revoked (ErrNotFound if unknown).
	RevokeToken(ctx context.Context, hash string, at timestamp.Time) error
	// Tokens lists every token, oldest first.
	Tokens(ctx context.Context) ([]Token, error)

	// AddSession stores a web session (its secret's hash unique).
	AddSession(ctx context.Context, x Session) error
	// SessionByHash returns a session by its secret's hash (ErrNotFound
	// if unknown), ended or not.
	SessionByHash(ctx context.Context, hash string) (Session, error)
	// EndSession marks a session ended; the first end stands (ErrNotFound
	// if unknown).
	EndSession(ctx context.Context, hash string, at timestamp.Time) error
	// EndTokenSessions ends every open session opened with a token.
	EndTokenSessions(ctx context.Context, token string, at timestamp.Time) error

	// The transparency log (SPEC §6): every write above appends its leaves
	// in its own transaction. These read it (translog.Reader).
	LogSize(ctx context.Context) (int64, error)
	LogLeaves(ctx context.Context, from, to int64, fn func(index int64, data []byte) error) error
	LogNodes(ctx context.Context, tl int, from, to int64) ([][]byte, error)
	// AddCheckpoint keeps a signed checkpoint (one per size).
	AddCheckpoint(ctx context.Context, c Checkpoint) error
	// Checkpoints returns every kept checkpoint, by size.
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
	// SubjectRows and ConsentRows call fn for the event rows with
	// lo <= seq <= hi in sequence order, read from the rows themselves
	// (never a derived copy): what log verification re-derives leaves from.
	SubjectRows(ctx context.Context, lo, hi int64, fn func(*SubjectRow) error) error
	ConsentRows(ctx context.Context, lo, hi int64, fn func(*ConsentRow) error) error
	// DerivedSubjectRows and DerivedConsentRows call fn for every event as
	// the store's derived copies hold it (SQLite's packs, which views are
	// loaded from), in sequence order; nothing for a store that reads its
	// views from the rows. Log verification compares them with the rows.
	DerivedSubjectRows(ctx context.Context, fn func(*SubjectRow) error) error
	DerivedConsentRows(ctx context.Context, fn func(*ConsentRow) error) error
	// CheckStorage finds the first row of the other tables exports,
	// reports and impact read (policies, exports and their records, impact
	// marks, erasures, checkpoints, notices, their answers, lineage links)
	// holding a value in a form the store
	// never writes (ErrRowForm, naming it); SubjectRows and ConsentRows
	// refuse such event rows as they read them. Nil for a store whose
	// schema enforces its types.
	CheckStorage(ctx context.Context) error

	Close() error
}
