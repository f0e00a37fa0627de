package export

import (
	"sort"

	"github.com/parquet-go/parquet-go"

	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/record"
)

// Decider decides runs of input lines exactly as the export does, for a
// pipeline that splits and orders the work itself (the Beam module): the
// same reader, decisions, output bytes, rejects lines and records_root
// leaves. It is not safe for concurrent use; make one per worker.
type Decider struct {
	w    *worker
	rows bool
}

// Decided is what one run of lines gave.
type Decided struct {
	Out      []byte           // the included lines, each with "\n"
	Rejects  []byte           // the rejects lines (when asked for)
	Leaves   []byte           // 32-byte records_root leaf hashes, in output order
	Records  []byte           // the included records' decision inputs, one inclusion chunk
	Read     int64            // records read
	Included int64            // records included
	Reasons  map[string]int64 // excluded by reason
	Subjects []IncludedSubject
	// Kept, from a row decider, lists the included rows by their place in
	// the run (0 for its first line), in output order; Out is then empty.
	Kept []int32
}

// IncludedSubject is a subject the run included records of.
type IncludedSubject struct {
	Number  int64  `json:"n"`
	ID      string `json:"id"`
	Records uint32 `json:"r"`
}

// NewDecider makes a decider over a plan; inputs name the input files (as
// the rejects lines name them).
func NewDecider(p *decision.Plan, f record.Fields, inputs []string, rejects bool) *Decider {
	w := newWorker(p, f, inputs, rejects, make([]uint32, p.View().Len()))
	w.tracking = true
	return &Decider{w: w}
}

// NewRowDecider is NewDecider for the rows of Parquet inputs, as the
// export decides them: each line of a run is a row's canonical JSON
// (record.RowEncoder), or a 0 byte and the reason for a row that has none
// (rejected as malformed with that detail); line numbers are row numbers,
// and rejects name a "row". Decided.Kept says which rows were included.
func NewRowDecider(p *decision.Plan, f record.Fields, inputs []string, rejects bool) *Decider {
	d := NewDecider(p, f, inputs, rejects)
	d.w.rowPrefixes(inputs)
	d.rows = true
	return d
}

// noRows marks a row decider's batches as rows (the worker keeps their
// places in batch.kept; the rows themselves stay with the caller).
var noRows = []parquet.Row{}

// Decide decides the lines of data, which are whole lines of input file
// number file starting at line number firstLine.
func (d *Decider) Decide(file, firstLine int, data []byte) *Decided {
	b := &batch{file: file, line: firstLine, data: data}
	if d.rows {
		b.rows = noRows
	}
	d.w.process(b)
	out := &Decided{Out: b.out, Rejects: b.rejects, Leaves: b.leaves, Records: b.records, Read: b.read, Included: b.included, Reasons: map[string]int64{},
		Kept: b.kept}
	for i, r := range b.reasons.names {
		out.Reasons[r] += b.reasons.counts[i]
	}
	view := d.w.plan.View()
	for _, i := range d.w.touched {
		out.Subjects = append(out.Subjects, IncludedSubject{view.Number(int(i)), view.ID(int(i)), d.w.counts[i]})
		d.w.counts[i] = 0
	}
	d.w.touched = d.w.touched[:0]
	return out
}

// PoliciesUsed lists the policy versions the decider's decisions consulted
// so far, as the manifest does.
func (d *Decider) PoliciesUsed() []PolicyUsed {
	var out []PolicyUsed
	vs := d.w.plan.Versions()
	for v, u := range d.w.versions {
		if u && v > 0 {
			doc := vs.Table(v).Doc
			out = append(out, PolicyUsed{Version: doc.Version, SHA256: doc.Digest()})
		}
	}
	return out
}

// UsedVersions lists the indexes of the policy versions the decisions
// consulted so far (a sharded export's shard-i.json).
func (d *Decider) UsedVersions() []int {
	var out []int
	for v, u := range d.w.versions {
		if u {
			out = append(out, v)
		}
	}
	return out
}

// FieldsOf records field flags as the manifest does.
func FieldsOf(f record.Fields) FieldsUsed { return fieldsUsed(f) }

// SubjectTally sums the records of included subjects met in several
// batches or shards, by subject.
type SubjectTally map[string]*IncludedSubject

// Add counts subjects in.
func (t SubjectTally) Add(subjects []IncludedSubject) {
	for _, s := range subjects {
		if cur := t[s.ID]; cur != nil {
			cur.Records += s.Records
		} else {
			c := s
			t[s.ID] = &c
		}
	}
}

// Sorted lists the subjects by number (then id).
func (t SubjectTally) Sorted() []IncludedSubject {
	out := make([]IncludedSubject, 0, len(t))
	for _, s := range t {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Number != out[j].Number {
			return out[i].Number < out[j].Number
		}
		return out[i].ID < out[j].ID
	})
	return out
}
