package gate

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Imported is what an import stored.
type Imported struct {
	File  string `json:"file"`
	Read  int    `json:"read"`
	Added int    `json:"added"`
}

// ImportSubjects stores a subjects file (SPEC §3): all of it or none,
// streaming, so memory does not grow with the file. A bad line is an
// Invalid error naming the file and the line.
func (g *Gate) ImportSubjects(ctx context.Context, file string) (*Imported, error) {
	if err := g.writable(); err != nil {
		return nil, err
	}
	read, added, err := g.st.ImportSubjectEvents(ctx, consent.SubjectsFile(file, now()))
	if err != nil {
		return nil, inputError(err)
	}
	g.changed("")
	return &Imported{file, read, added}, nil
}

// CheckSubjects reads a subjects file by the rules its import reads it
// with, storing nothing: the first import checks its file so before it
// sets a store up, so that a refused file leaves no store behind.
func CheckSubjects(file string) error {
	for _, err := range consent.SubjectsFile(file, now()) {
		if err != nil {
			return inputError(err)
		}
	}
	return nil
}

// ImportConsent stores a consent file: all of it or none. Its purposes and
// recipients must be declared by the published versions.
func (g *Gate) ImportConsent(ctx context.Context, file string) (*Imported, error) {
	if err := g.writable(); err != nil {
		return nil, err
	}
	vs, _, err := g.loadVersions(ctx)
	if err != nil {
		return nil, err
	}
	if vs.Len() <= 1 {
		return nil, noPolicy()
	}
	read, added, err := g.st.ImportConsentEvents(ctx, consent.ConsentFile(file, now(), func(e *consent.Event) error {
		return vs.CheckDeclared(e.Purpose, e.Recipient)
	}))
	if err != nil {
		return nil, inputError(err)
	}
	g.changed("")
	return &Imported{file, read, added}, nil
}

// inputError makes a bad input line, or a file that cannot be read,
// Invalid.
func inputError(err error) error {
	var le *consent.LineError
	var pe *fs.PathError
	if errors.As(err, &le) || errors.As(err, &pe) {
		return &Error{Code: Invalid, Message: err.Error(), Err: err}
	}
	return err
}

func noPolicy() error {
	return Errorf(Invalid, PublishPolicy, "no policy version is published yet: consent can only be recorded for the purposes and recipients a published version declares")
}

// checkDeclared refuses a consent event whose purpose or recipient no
// published version declares.
func checkDeclared(vs *decision.Versions, e *consent.Event) error {
	if vs.Len() <= 1 {
		return noPolicy()
	}
	if err := vs.CheckDeclared(e.Purpose, e.Recipient); err != nil {
		return invalid("%v", err)
	}
	return nil
}

// Recorded is a consent event as a write reports it, with the policy
// version in force at its time and that version's notice, which the event
// notes (absent before any version, and for the same event stored
// already, which keeps what it noted then).
type Recorded struct {
	Purpose   string         `json:"purpose"`
	Recipient string         `json:"recipient"`
	State     string         `json:"state"`
	At        timestamp.Time `json:"at"`
	Source    string         `json:"source"`
	Policy    string         `json:"policy,omitempty"`
	Notice    string         `json:"notice,omitempty"`
	Added     bool           `json:"added"` // false when the same event was stored already
}

func recorded(e *consent.Event, added bool) Recorded {
	r := Recorded{e.Purpose, e.RecipientLabel(), e.State.String(), e.At, e.Source, e.Policy, e.Notice, added}
	if !added {
		r.Policy, r.Notice = "", ""
	}
	return r
}

// noteVersion notes on a consent event being recorded the policy version
// in force at its time, and where that version is explained (SPEC §2.1):
// what the member was told when they chose. Nothing before the first
// version.
func noteVersion(vs *decision.Versions, e *consent.Event) {
	if vs.IndexAt(e.At) == 0 {
		e.Policy, e.Notice = "", ""
		return
	}
	d := vs.At(e.At).Doc
	e.Policy, e.Notice = d.Version, d.Notice
}

// RecordConsent records one consent choice for c.Subject, validated as a
// consent-file line is, and with gpc (the request carried Sec-GPC: 1)
// first the denials the signal owes (SPEC §7). A member (a subject token)
// records for themselves only, as of now, with source settings; a missing
// source is settings for a member and api for others; `at` defaults to
// now. It returns what was recorded, GPC denials first.
func (g *Gate) RecordConsent(ctx context.Context, p access.Principal, c consent.Choice, gpc bool) ([]Recorded, error) {
	subject := ""
	if c.Subject != nil {
		subject = *c.Subject
	}
	if !p.Can(access.WriteConsent, subject) {
		return nil, errForbidden
	}
	def := "api"
	if p.Role == access.Subject {
		if c.At != nil {
			return nil, Errorf(Forbidden, NoHint, "a member records their choices as of now: at may not be given")
		}
		if c.Source != nil && *c.Source != "settings" {
			return nil, Errorf(Forbidden, NoHint, "a member's choices are recorded with source settings (a Global Privacy Control signal is read from the request itself)")
		}
		def = "settings"
	}
	if err := g.writable(); err != nil {
		return nil, err
	}
	at := now()
	if c.At == nil {
		s := at.String()
		c.At = &s
	}
	e, err := c.Event(at, def)
	if err != nil {
		return nil, invalid("%v", err)
	}
	vs, _, err := g.loadVersions(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkDeclared(vs, &e); err != nil {
		return nil, err
	}
	noteVersion(vs, &e)
	// The signal's denials and the choice in one transaction, the choice
	// last: it stands against them (SPEC §7).
	var evs []consent.Event
	if gpc {
		if evs, err = g.gpcDenials(ctx, vs, subject, at); err != nil {
			return nil, err
		}
	}
	n, err := g.st.AddConsentEvents(ctx, append(evs, e))
	if err != nil {
		return nil, err
	}
	g.changed(subject)
	out := make([]Recorded, 0, len(evs)+1)
	for i := range evs {
		out = append(out, recorded(&evs[i], true))
	}
	return append(out, recorded(&e, n > len(evs))), nil
}

// RecordConsentJSON is RecordConsent for a JSON object of a consent line's
// fields without the subject (an HTTP body), read by the same strict rules
// as a consent file's lines.
func (g *Gate) RecordConsentJSON(ctx context.Context, p access.Principal, subject string, body []byte, gpc bool) ([]Recorded, error) {
	if !p.Can(access.WriteConsent, subject) {
		return nil, errForbidden
	}
	c, err := consent.ReadChoice(body)
	if err != nil {
		return nil, invalid("the body: %v", err)
	}
	if c.Subject != nil {
		return nil, invalid("the body: the subject is the one the path names; leave \"subject\" out")
	}
	c.Subject = &subject
	return g.RecordConsent(ctx, p, c, gpc)
}

// ApplyGPC records, for a request carrying Sec-GPC: 1 (a privacy-centre
// sign-in), the denials the signal owes the subject (SPEC §7).
func (g *Gate) ApplyGPC(ctx context.Context, p access.Principal, subject string) ([]Recorded, error) {
	if !p.Can(access.WriteConsent, subject) {
		return nil, errForbidden
	}
	if err := g.writable(); err != nil {
		return nil, err
	}
	vs, _, err := g.loadVersions(ctx)
	if err != nil {
		return nil, err
	}
	return g.applyGPC(ctx, vs, subject, now())
}

// gpcDenials are the denials a signal at at owes the subject now.
func (g *Gate) gpcDenials(ctx context.Context, vs *decision.Versions, subject string, at timestamp.Time) ([]consent.Event, error) {
	if vs.IndexAt(at) == 0 {
		return nil, nil
	}
	hist, err := g.st.ConsentHistory(ctx, subject)
	if err != nil {
		return nil, err
	}
	evs := GPCDenials(vs.At(at).Doc, hist, subject, at)
	for i := range evs {
		noteVersion(vs, &evs[i])
	}
	return evs, nil
}

func (g *Gate) applyGPC(ctx context.Context, vs *decision.Versions, subject string, at timestamp.Time) ([]Recorded, error) {
	evs, err := g.gpcDenials(ctx, vs, subject, at)
	if err != nil || len(evs) == 0 {
		return nil, err
	}
	if _, err := g.st.AddConsentEvents(ctx, evs); err != nil {
		return nil, err
	}
	g.changed(subject)
	out := make([]Recorded, len(evs))
	for i := range evs {
		out[i] = recorded(&evs[i], true)
	}
	return out, nil
}

// GPCUses are the uses a policy's gpc list opts out of: a purpose entry
// for every recipient, a recipient class entry for each root purpose the
// version declares.
func GPCUses(doc *policy.Document) [][2]string {
	var uses [][2]string
	for _, g := range doc.GPC {
		if _, isClass := policy.ParseClass(g); !isClass {
			uses = append(uses, [2]string{g, ""})
			continue
		}
		var roots []string
		for _, p := range doc.Purposes {
			root, _, _ := strings.Cut(p, ".")
			if !slices.Contains(roots, root) {
				roots = append(roots, root)
				uses = append(uses, [2]string{root, g})
			}
		}
	}
	return uses
}

// GPCDenials are the denials (source gpc) a Global Privacy Control signal
// owes a subject with this consent history ((at, seq) order) under doc,
// at a time (SPEC §7): one for each use of the gpc list, unless the
// signal was applied to it before — a GPC denial of the use is on record,
// and whatever the subject chose after it stands — or the subject's latest
// event for the use is already a denial covering all of it.
func GPCDenials(doc *policy.Document, hist []consent.Event, subject string, at timestamp.Time) []consent.Event {
	var out []consent.Event
	for _, u := range GPCUses(doc) {
		purpose, recipient := u[0], u[1]
		applied, covered := false, false
		for i := len(hist) - 1; i >= 0; i-- {
			e := &hist[i]
			if e.Source == "gpc" && e.State == policy.Denied && e.Purpose == purpose && e.Recipient == recipient {
				applied = true
				break
			}
		}
		if !applied {
			for i := len(hist) - 1; i >= 0; i-- {
				e := &hist[i]
				if !gpcOverlaps(doc, e, purpose, recipient) {
					continue
				}
				covered = e.State == policy.Denied && policy.IsAncestorOrSelf(e.Purpose, purpose) && (e.Recipient == "" || e.Recipient == recipient)
				break
			}
		}
		if !applied && !covered {
			out = append(out, consent.Event{Subject: subject, Purpose: purpose, Recipient: recipient, State: policy.Denied, At: at, Source: "gpc"})
		}
	}
	return out
}

// gpcOverlaps reports whether a consent event decides part of a GPC use:
// its purpose above or below the use's, and its recipient every recipient,
// the use's class, or a recipient of that class.
func gpcOverlaps(doc *policy.Document, e *consent.Event, purpose, recipient string) bool {
	if !policy.IsAncestorOrSelf(e.Purpose, purpose) && !policy.IsAncestorOrSelf(purpose, e.Purpose) {
		return false
	}
	if recipient == "" || e.Recipient == "" || e.Recipient == recipient {
		return true
	}
	if c, ok := doc.RecipientClass(e.Recipient); ok {
		return c.String() == recipient
	}
	return false
}

// RecordSubjectJSON records a subject change given as a JSON object of a
// subjects-file line's fields without the subject ({"at", "region",
// "attributes"}; at defaults to now), read by the same strict rules.
func (g *Gate) RecordSubjectJSON(ctx context.Context, p access.Principal, subject string, body []byte) (*consent.SubjectEvent, bool, error) {
	if !p.Can(access.WriteSubject, subject) {
		return nil, false, errForbidden
	}
	if err := g.writable(); err != nil {
		return nil, false, err
	}
	c, err := consent.ReadSubjectChange(body)
	if err != nil {
		return nil, false, invalid("the body: %v", err)
	}
	if c.Subject != nil {
		return nil, false, invalid("the body: the subject is the one the path names; leave \"subject\" out")
	}
	c.Subject = &subject
	at := now()
	if c.At == nil {
		s := at.String()
		c.At = &s
	}
	e, err := c.Event(at)
	if err != nil {
		return nil, false, invalid("the body: %v", err)
	}
	n, err := g.st.AddSubjectEvents(ctx, []consent.SubjectEvent{e})
	if err != nil {
		return nil, false, err
	}
	g.changed(subject)
	return &e, n == 1, nil
}

// SubjectState is a subject's region and attributes at a time, by the
// rule decisions use (SPEC §2.3): each field from the latest event at or
// before the time that sets it, else from the earliest that sets it, and
// nothing recorded with a later time seen.
type SubjectState struct {
	Subject    string            `json:"subject"`
	AsOf       timestamp.Time    `json:"as_of"`
	Known      bool              `json:"known"`
	Region     *string           `json:"region"`
	Attributes map[string]string `json:"attributes"`
}

// Subject returns a subject's state as of asOf (nil: now); NotFound when
// the subject has no subject event at or before it.
func (g *Gate) Subject(ctx context.Context, p access.Principal, id string, asOf *timestamp.Time) (*SubjectState, error) {
	if !p.Can(access.ReadSubject, id) {
		return nil, errForbidden
	}
	t := now()
	if asOf != nil {
		t = *asOf
	}
	hist, err := g.st.SubjectHistory(ctx, id)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range hist {
		for k := range e.Attributes {
			if !slices.Contains(names, k) {
				names = append(names, k)
			}
		}
	}
	sort.Strings(names)
	view, err := store.LoadView(ctx, g.st, t, names, []string{id})
	if err != nil {
		return nil, err
	}
	i, ok := view.Lookup(id)
	if !ok {
		return nil, notFound("subject %s is not known as of %s", id, t)
	}
	st := view.StateAt(i, t)
	out := &SubjectState{Subject: id, AsOf: t, Known: true, Attributes: view.Attrs(st)}
	if r := view.Regions[view.StateRegion(st)]; r != "" {
		out.Region = &r
	}
	return out, nil
}

// SubjectEvent is a subject event as the answers show it: like a
// subjects-file line, "region" only when the event sets it (null when it
// removes it), the attributes it sets (null removes one).
type SubjectEvent struct {
	Seq        int64
	At         timestamp.Time
	RegionSet  bool
	Region     string
	Attributes map[string]*string
}

// MarshalJSON writes the event as a subjects-file line's fields, with its
// sequence number.
func (e SubjectEvent) MarshalJSON() ([]byte, error) {
	m := map[string]any{"seq": e.Seq, "at": e.At}
	if e.RegionSet {
		if e.Region == "" {
			m["region"] = nil
		} else {
			m["region"] = e.Region
		}
	}
	if len(e.Attributes) > 0 {
		m["attributes"] = e.Attributes
	}
	return json.Marshal(m)
}

// SubjectHistory returns a subject's events in (at, seq) order.
func (g *Gate) SubjectHistory(ctx context.Context, p access.Principal, id string) ([]SubjectEvent, error) {
	if !p.Can(access.ReadSubject, id) {
		return nil, errForbidden
	}
	hist, err := g.st.SubjectHistory(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]SubjectEvent, len(hist))
	for i, e := range hist {
		out[i] = SubjectEvent{e.Seq, e.At, e.RegionSet, e.Region, e.Attributes}
	}
	return out, nil
}

// ConsentHistory returns a subject's consent events in (at, seq) order.
func (g *Gate) ConsentHistory(ctx context.Context, p access.Principal, id string) ([]ConsentEvent, error) {
	if !p.Can(access.ReadSubject, id) {
		return nil, errForbidden
	}
	hist, err := g.st.ConsentHistory(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]ConsentEvent, len(hist))
	for i := range hist {
		out[i] = *eventOf(&hist[i])
	}
	return out, nil
}

// ConsentRecords returns a subject's consent history as ISO/IEC TS 27560
// records, one per scope (purpose × recipient scope) holding its events,
// with the controller, language and data categories of the version that
// describes the scope (its last event's, else the version in force now);
// each event with the region then and its notice: the
// policy version the event noted when it was recorded, with the notice
// URL it noted, else (an import, an event stored before events noted their
// version) the version in force at its time, with that version's notice;
// the purposes and recipients in that version's words.
func (g *Gate) ConsentRecords(ctx context.Context, p access.Principal, id string) (*consent.ISOExport, error) {
	if !p.Can(access.ReadSubject, id) {
		return nil, errForbidden
	}
	vs, _, err := g.loadVersions(ctx)
	if err != nil {
		return nil, err
	}
	evs, err := g.st.ConsentHistory(ctx, id)
	if err != nil {
		return nil, err
	}
	view, err := store.LoadView(ctx, g.st, timestamp.Max, nil, []string{id})
	if err != nil {
		return nil, err
	}
	idx, known := view.Lookup(id)
	regionAt := func(t timestamp.Time) string {
		if !known {
			return ""
		}
		return view.Regions[view.StateRegion(view.StateAt(idx, t))]
	}
	noticeOf := func(e *consent.Event) (*consent.ISONotice, *policy.Document) {
		if e.Policy != "" {
			n := &consent.ISONotice{Version: e.Policy, URL: e.Notice, Noted: true}
			t, ok := vs.ByLabel(e.Policy)
			if !ok { // (published versions are never removed)
				return n, nil
			}
			n.SHA256 = t.Doc.Digest()
			return n, t.Doc
		}
		if vs.IndexAt(e.At) == 0 {
			return nil, nil
		}
		d := vs.At(e.At).Doc
		return &consent.ISONotice{Version: d.Version, SHA256: d.Digest(), URL: d.Notice}, d
	}
	var current *policy.Document
	if t := now(); vs.IndexAt(t) > 0 {
		current = vs.At(t).Doc
	}
	return consent.ToISO27560(id, evs, consent.ISOSource{RegionAt: regionAt, NoticeOf: noticeOf, Current: current}), nil
}
