package gate

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/export"
	"github.com/consentgate/consentgate/internal/impact"
	"github.com/consentgate/consentgate/internal/inclusion"
	"github.com/consentgate/consentgate/internal/notice"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
	"github.com/consentgate/consentgate/internal/translog"
)

// The states of a notice (SPEC §11): open until answered; refused stays
// open for an operator; any other answer closes it.
const (
	NoticeOpen    = "open"
	NoticeRefused = "refused"
	// NoticeWontFix is what an operator closes a refused notice with,
	// saying why nothing more will be done.
	NoticeWontFix = "wontfix"
)

// AnswerStatuses are the answers a recipient may give a notice.
var AnswerStatuses = []string{"deleted", "excluded", "retrained", "unlearned", NoticeRefused}

// Notice is a notice as every front end shows it: what it is about, where
// it stands, its answers, and the signed notice itself.
type Notice struct {
	ID        string         `json:"id"`
	ExportID  string         `json:"export_id"`
	Recipient string         `json:"recipient"`
	Purpose   string         `json:"purpose"`
	IssuedAt  timestamp.Time `json:"issued_at"`
	Deadline  timestamp.Time `json:"deadline,omitempty"` // absent: the policy set no remediation_within
	Records   int            `json:"records"`
	// Status is open, refused, or the answer that closed it; Overdue when
	// it is not closed and its deadline has passed.
	Status   string         `json:"status"`
	Overdue  bool           `json:"overdue"`
	LogIndex int64          `json:"log_index"`
	Answers  []NoticeAnswer `json:"answers"`
	Jobs     []notice.Job   `json:"jobs"` // the jobs known, when it was issued, to have trained on the export
	// Seq orders notices as they are delivered.
	Seq    int64           `json:"seq"`
	Signed json.RawMessage `json:"notice"` // the signed notice (notice.Notice)

	indexes []int64 // the records' indexes in the export's output
}

// noticeSummary is what listings need of a stored notice's body, read
// once per notice: bodies never change (log verify holds them to their
// leaves).
type noticeSummary struct {
	purpose  string
	logIndex int64
	jobs     []notice.Job
	indexes  []int64
}

// summary reads a stored notice's body, once.
func (g *Gate) summary(n *store.Notice) (*noticeSummary, error) {
	g.noticeMu.Lock()
	sum, ok := g.noticeCache[n.Seq]
	g.noticeMu.Unlock()
	if ok {
		return sum, nil
	}
	var body struct {
		Purpose  string       `json:"purpose"`
		LogIndex *int64       `json:"log_index"`
		Jobs     []notice.Job `json:"jobs"`
		Records  []struct {
			Index int64 `json:"index"`
		} `json:"records"`
	}
	if err := json.Unmarshal(n.Body, &body); err != nil {
		return nil, fmt.Errorf("notice %s: the stored notice does not parse: %w", n.ID, err)
	}
	sum = &noticeSummary{purpose: body.Purpose, jobs: body.Jobs, indexes: make([]int64, len(body.Records))}
	if body.LogIndex != nil {
		sum.logIndex = *body.LogIndex
	}
	for i, r := range body.Records {
		sum.indexes[i] = r.Index
	}
	g.noticeMu.Lock()
	if g.noticeCache == nil {
		g.noticeCache = map[int64]*noticeSummary{}
	}
	g.noticeCache[n.Seq] = sum
	g.noticeMu.Unlock()
	return sum, nil
}

// NoticeAnswer is one answer to a notice.
type NoticeAnswer struct {
	Status string         `json:"status"`
	Note   string         `json:"note,omitempty"`
	By     string         `json:"by"` // recipient:<id>, or operator
	At     timestamp.Time `json:"at"`
	Late   bool           `json:"late"` // given after the notice's deadline
}

// NoticeBundle is a notice with the evidence that it is in the log: the
// inclusion proof of its leaf in the latest checkpoint, with that
// checkpoint. `consentgate notice verify` checks it with the manifest and
// the log's verifier key alone.
type NoticeBundle struct {
	Notice
	Log *translog.InclusionEvidence `json:"log"`
}

// NoticeFilter narrows a listing of notices.
type NoticeFilter struct {
	Overdue   bool   // only overdue ones
	Recipient string // "" for every recipient the principal may read
	Export    string // "" for every export
}

// Notices lists the notices, oldest first: every one for staff, a
// recipient's own for a recipient token.
func (g *Gate) Notices(ctx context.Context, p access.Principal, f NoticeFilter) ([]Notice, error) {
	if p.Role == access.Recipient {
		if f.Recipient != "" && f.Recipient != p.Recipient {
			return nil, errForbidden
		}
		f.Recipient = p.Recipient
	}
	if !p.Can(access.ReadNotices, f.Recipient) && !p.Can(access.ReadExports, "") {
		return nil, errForbidden
	}
	all, err := g.notices(ctx)
	if err != nil {
		return nil, err
	}
	out := []Notice{}
	for _, n := range all {
		if f.Recipient != "" && n.Recipient != f.Recipient || f.Export != "" && n.ExportID != f.Export || f.Overdue && !n.Overdue {
			continue
		}
		out = append(out, n)
	}
	return out, nil
}

// NoticeByID is one notice with its log inclusion proof. A recipient
// token asking for another recipient's notice, or one that does not
// exist, is Forbidden alike.
func (g *Gate) NoticeByID(ctx context.Context, p access.Principal, id string) (*NoticeBundle, error) {
	n, err := g.noticeFor(ctx, p, id, access.ReadNotices)
	if err != nil {
		return nil, err
	}
	ev, err := g.ProveInclusion(ctx, n.LogIndex, 0)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || e.Code != Invalid {
			return nil, err
		}
		ev = nil // appended after the latest checkpoint: the next one covers it
	}
	return &NoticeBundle{Notice: *n, Log: ev}, nil
}

// noticeFor finds a notice the principal may act on.
func (g *Gate) noticeFor(ctx context.Context, p access.Principal, id string, a access.Action) (*Notice, error) {
	all, err := g.notices(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].ID == id {
			if !p.Can(a, all[i].Recipient) && !(a == access.ReadNotices && p.Can(access.ReadExports, "")) && !(a == access.AnswerNotice && p.Can(access.MarkImpact, "")) {
				return nil, errForbidden
			}
			return &all[i], nil
		}
	}
	if p.Role == access.Recipient {
		return nil, errForbidden // whether or not it exists
	}
	return nil, Errorf(NotFound, NoHint, "no notice %s: `consentgate notices` lists them", id)
}

// notices reads every notice with its answers and state.
func (g *Gate) notices(ctx context.Context) ([]Notice, error) {
	ns, err := g.st.Notices(ctx)
	if err != nil {
		return nil, err
	}
	as, err := g.st.NoticeAnswers(ctx)
	if err != nil {
		return nil, err
	}
	deadlines := make(map[string]timestamp.Time, len(ns))
	for i := range ns {
		deadlines[ns[i].ID] = ns[i].Deadline
	}
	answers := map[string][]NoticeAnswer{}
	for _, a := range as {
		d := deadlines[a.NoticeID]
		answers[a.NoticeID] = append(answers[a.NoticeID], NoticeAnswer{Status: a.Status, Note: a.Note, By: a.By, At: a.At, Late: d != 0 && a.At > d})
	}
	t := g.noticeNow()
	out := make([]Notice, 0, len(ns))
	for i := range ns {
		sum, err := g.summary(&ns[i])
		if err != nil {
			return nil, err
		}
		n := Notice{ID: ns[i].ID, ExportID: ns[i].ExportID, Recipient: ns[i].Recipient, Purpose: sum.purpose, IssuedAt: ns[i].IssuedAt,
			Deadline: ns[i].Deadline, Records: len(sum.indexes), Status: NoticeOpen, Answers: answers[ns[i].ID], Jobs: sum.jobs,
			Seq: ns[i].Seq, Signed: json.RawMessage(ns[i].Body), LogIndex: sum.logIndex, indexes: sum.indexes}
		if n.Answers == nil {
			n.Answers = []NoticeAnswer{}
		}
		if n.Jobs == nil {
			n.Jobs = []notice.Job{}
		}
		if k := len(n.Answers); k > 0 {
			n.Status = n.Answers[k-1].Status
		}
		n.Overdue = noticeOpen(n.Status) && n.Deadline != 0 && t > n.Deadline
		out = append(out, n)
	}
	return out, nil
}

// noticeOpen reports whether a notice in that state still waits for
// something to be done.
func noticeOpen(status string) bool { return status == NoticeOpen || status == NoticeRefused }

// AnswerNotice records an answer to a notice: the recipient's (its token
// reaches only its own notices), or one an operator records for it (an
// answer received another way, or wontfix to close a refusal, with a note
// saying why). Refused and wontfix need a note.
func (g *Gate) AnswerNotice(ctx context.Context, p access.Principal, id, status, note string) (*Notice, error) {
	n, err := g.noticeFor(ctx, p, id, access.AnswerNotice)
	if err != nil {
		return nil, err
	}
	if err := g.writable(); err != nil {
		return nil, err
	}
	by := "operator"
	allowed := AnswerStatuses
	if p.Role == access.Recipient {
		by = "recipient:" + p.Recipient
	} else {
		allowed = append(slices.Clip(allowed), NoticeWontFix)
	}
	if !slices.Contains(allowed, status) {
		return nil, invalid("answer %q: expected one of %s", status, strings.Join(allowed, ", "))
	}
	note = strings.TrimSpace(note)
	if (status == NoticeRefused || status == NoticeWontFix) && note == "" {
		return nil, invalid("answer %s needs a note saying why", status)
	}
	if len(note) > 4000 {
		return nil, invalid("the note has %d bytes: at most 4000", len(note))
	}
	if !noticeOpen(n.Status) {
		return nil, Errorf(Refused, NoHint, "notice %s is already closed (%s)", id, n.Status)
	}
	a := store.NoticeAnswer{NoticeID: id, Status: status, Note: note, By: by, At: g.noticeNow()}
	if _, err := g.st.AddNoticeAnswer(ctx, a); err != nil {
		return nil, err
	}
	n.Answers = append(n.Answers, NoticeAnswer{Status: status, Note: note, By: by, At: a.At, Late: n.Deadline != 0 && a.At > n.Deadline})
	n.Status = status
	n.Overdue = noticeOpen(status) && n.Deadline != 0 && a.At > n.Deadline
	return n, nil
}

// SendResult is what SendNotices did.
type SendResult struct {
	Sent []Notice `json:"sent"` // the notices created, oldest first
	// Waiting counts the open impact items whose records every notice
	// already names.
	Waiting int `json:"already_notified"`
}

// SendNotices turns the open impact items into notices (SPEC §11): one
// per export whose items name records no notice named yet, holding only
// those records, each with its inclusion proof in the export's
// records_root, signed with the log's key and appended to the log. Sending
// again adds nothing until new items arise.
func (g *Gate) SendNotices(ctx context.Context, p access.Principal) (*SendResult, error) {
	if !p.Can(access.MarkImpact, "") {
		return nil, errForbidden
	}
	if err := g.writable(); err != nil {
		return nil, err
	}
	signer, err := g.signing(ctx)
	if err != nil {
		return nil, err
	}
	t := g.noticeNow()
	vs, _, err := g.loadVersions(ctx)
	if err != nil {
		return nil, err
	}
	items, err := g.impact(ctx, "", timestamp.Min, func() (*consent.View, error) { return store.LoadView(ctx, g.st, t, vs.Attributes(), nil) })
	if err != nil {
		return nil, err
	}
	existing, err := g.st.Notices(ctx)
	if err != nil {
		return nil, err
	}
	named := map[string]map[int64]bool{} // export → indexes already in a notice
	last := map[string]int64{}           // export → its latest notice's seq
	count := map[string]int{}
	for i := range existing {
		n := &existing[i]
		sum, err := g.summary(n)
		if err != nil {
			return nil, err
		}
		if named[n.ExportID] == nil {
			named[n.ExportID] = map[int64]bool{}
		}
		for _, ix := range sum.indexes {
			named[n.ExportID][ix] = true
		}
		last[n.ExportID], count[n.ExportID] = n.Seq, count[n.ExportID]+1
	}
	// The records each export's notice is to name, with their cause.
	type pending struct {
		causes map[int64]string
	}
	todo := map[string]*pending{}
	var order []string
	res := &SendResult{Sent: []Notice{}}
	for _, it := range items {
		// Open, or notified only because notices named its records
		// (an operator's mark says otherwise).
		byNotices := it.Status == impact.Notified && len(it.Notices) > 0 && (len(it.Marks) == 0 || it.Marks[len(it.Marks)-1].Status == impact.Open)
		if it.Status != impact.Open && !byNotices || it.LapsedAt != 0 || it.At > t {
			continue
		}
		fresh := false
		for _, ix := range it.Indexes {
			if named[it.ExportID][ix] {
				continue
			}
			pd := todo[it.ExportID]
			if pd == nil {
				pd = &pending{causes: map[int64]string{}}
				todo[it.ExportID] = pd
				order = append(order, it.ExportID)
			}
			if _, ok := pd.causes[ix]; !ok {
				pd.causes[ix] = it.Cause
			}
			fresh = true
		}
		if !fresh {
			res.Waiting++
		}
	}
	if len(order) == 0 {
		return res, nil
	}
	runs, err := g.st.LineageRuns(ctx)
	if err != nil {
		return nil, err
	}
	for _, id := range order {
		e, err := g.export(ctx, id)
		if err != nil {
			return nil, err
		}
		m, err := manifestOf(e)
		if err != nil {
			return nil, err
		}
		tree, err := g.recordsTree(ctx, e, m)
		if err != nil {
			return nil, err
		}
		idx := make([]int64, 0, len(todo[id].causes))
		for ix := range todo[id].causes {
			idx = append(idx, ix)
		}
		slices.Sort(idx)
		issued := t
		body := notice.Notice{ID: id + ".n" + strconv.Itoa(count[id]+1), ExportID: id, Recipient: e.Recipient, Purpose: e.Purpose,
			RecordsRoot: m.RecordsRoot, TreeSize: tree.Size(), IssuedAt: issued, Records: make([]notice.Record, 0, len(idx))}
		if within := vs.At(issued).Doc.RemediationWithin; within > 0 {
			d := issued + timestamp.Time(within/time.Microsecond)
			body.Deadline = &d
		}
		for _, r := range runs {
			if r.ExportID == id {
				body.Jobs = append(body.Jobs, notice.Job{Namespace: r.Namespace, Name: r.Job, RunID: r.RunID, At: r.At})
			}
		}
		for _, ix := range idx {
			r, err := tree.Record(ix, todo[id].causes[ix])
			if err != nil {
				return nil, err
			}
			body.Records = append(body.Records, r)
		}
		raw, err := json.Marshal(&body)
		if err != nil {
			return nil, err
		}
		sn := store.Notice{ID: body.ID, ExportID: id, Recipient: e.Recipient, IssuedAt: issued, Body: raw}
		if body.Deadline != nil {
			sn.Deadline = *body.Deadline
		}
		seq, err := g.st.AddNotice(ctx, sn, last[id], func(index int64) ([]byte, error) {
			body.LogIndex = &index
			if err := notice.Sign(&body, signer); err != nil {
				return nil, err
			}
			return json.Marshal(&body)
		})
		if errors.Is(err, store.ErrExists) {
			return nil, Errorf(Busy, NoHint, "another `notices send` added a notice for export %s meanwhile: run it again", id)
		}
		if err != nil {
			return nil, err
		}
		final, _ := json.Marshal(&body)
		res.Sent = append(res.Sent, Notice{ID: body.ID, ExportID: id, Recipient: e.Recipient, Purpose: e.Purpose, IssuedAt: issued,
			Deadline: sn.Deadline, Records: len(body.Records), Status: NoticeOpen, LogIndex: *body.LogIndex, Answers: []NoticeAnswer{},
			Jobs: append([]notice.Job{}, body.Jobs...), Seq: seq, Signed: final})
	}
	return res, nil
}

// recordsTree rebuilds an export's records_root tree from its output and
// the ids the store kept, refusing an output that no longer gives the
// manifest's root.
func (g *Gate) recordsTree(ctx context.Context, e *store.Export, m *export.Manifest) (*notice.Tree, error) {
	var ids [][]byte
	var r inclusion.Reader
	err := g.st.ExportRecords(ctx, e.ID, func(chunk []byte) error {
		return r.Each(chunk, func(rec *inclusion.Record) error {
			ids = append(ids, slices.Clone(rec.ID))
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	path := m.Output.File
	if !filepath.IsAbs(path) && e.Dir != "" {
		path = filepath.Join(e.Dir, path)
	}
	lines, closeFn, err := outputLines(path, m.Output.Format)
	if err != nil {
		return nil, Errorf(Unavailable, NoHint, "export %s: its output %s cannot be read, and a notice's record proofs are made from it: %s", e.ID, path, pathProblem(err))
	}
	defer closeFn()
	tree, err := notice.NewTree(lines, ids)
	if err != nil {
		return nil, Errorf(Inconsistent, NoHint, "export %s: its output %s is not what was exported: %v", e.ID, path, err)
	}
	if tree.Root() != m.RecordsRoot {
		return nil, Errorf(Inconsistent, NoHint, "export %s: its output %s gives records_root %s, the manifest says %s: it changed since the export", e.ID, path, tree.Root(), m.RecordsRoot)
	}
	return tree, nil
}

// outputLines reads an export's output as its lines: JSON Lines as they
// are, Parquet output's record column one per line.
func outputLines(path, format string) (io.Reader, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	if format != "parquet" {
		return bufio.NewReaderSize(f, 1<<20), func() { f.Close() }, nil
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		rd := parquet.NewGenericReader[export.ParquetRow](pf)
		defer rd.Close()
		rows := make([]export.ParquetRow, 256)
		w := bufio.NewWriterSize(pw, 1<<20)
		for {
			n, err := rd.Read(rows)
			for _, row := range rows[:n] {
				w.WriteString(row.Record)
				w.WriteByte('\n')
			}
			if err != nil {
				if err == io.EOF {
					err = w.Flush()
				}
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return pr, func() { pr.Close(); f.Close() }, nil
}

// noticeOverlay gives impact items the notices that name their records:
// an open item all of whose records a notice named reads notified, and
// overdue when one of those notices is.
func noticeOverlay(items []impact.Item, ns []Notice) error {
	type named struct {
		id      string
		overdue bool
		status  string
	}
	byRecord := map[string]map[int64][]named{}
	for _, n := range ns {
		if byRecord[n.ExportID] == nil {
			byRecord[n.ExportID] = map[int64][]named{}
		}
		for _, ix := range n.indexes {
			byRecord[n.ExportID][ix] = append(byRecord[n.ExportID][ix], named{n.ID, n.Overdue, n.Status})
		}
	}
	for i := range items {
		it := &items[i]
		covered := 0
		for _, ix := range it.Indexes {
			ns := byRecord[it.ExportID][ix]
			if len(ns) > 0 {
				covered++
			}
			for _, n := range ns {
				if !slices.ContainsFunc(it.Notices, func(r impact.NoticeRef) bool { return r.ID == n.id }) {
					it.Notices = append(it.Notices, impact.NoticeRef{ID: n.id, Status: n.status, Overdue: n.overdue})
				}
				it.Overdue = it.Overdue || n.overdue
			}
		}
		sort.Slice(it.Notices, func(a, b int) bool { return it.Notices[a].ID < it.Notices[b].ID })
		if it.Status == impact.Open && it.LapsedAt == 0 && covered == len(it.Indexes) && covered > 0 {
			it.Status = impact.Notified
		}
	}
	return nil
}

// countIndexes counts the records the notice names among indexes, adding
// them to named.
func (n *Notice) countIndexes(indexes, named map[int64]bool) int {
	k := 0
	for _, ix := range n.indexes {
		if indexes[ix] {
			k++
			named[ix] = true
		}
	}
	return k
}
