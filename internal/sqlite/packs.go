package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"

	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Packs hold events many to a row so that a whole view loads fast (SQLite
// pays a lock and an allocation per column of every row it returns).
// Events are packed, in seq order, in the transaction that stores them once
// packThreshold of them are unpacked; loading reads the packs and then the
// unpacked tail as rows.
const (
	packThreshold = 4096
	packMaxRows   = 65536
)

// A packed row is a sequence of fields: uvarint seq, varint at, then for a
// subject event a byte region_set and three length-prefixed strings
// (subject, region, attrs); for a consent event a byte state and four
// (subject, purpose, recipient, source), and when the event noted a policy
// version (or a notice) the state byte has notedFlag set and two more
// follow (policy, notice). Packs written before events noted a version
// read as they always did.

// notedFlag on a packed consent event's state byte: the policy version
// and notice follow.
const notedFlag = 0x80

type packKind struct {
	table, packs string
	cols         string // selected in this order when packing
	strings      int
	// optional strings follow those when the small byte has flag set
	// (and are then not all empty: one event, one encoding).
	optional  int
	flag      byte
	keepLater bool // a full scan also yields events after the as-of time
}

var (
	subjectPacks = packKind{"subject_events", "subject_packs", "seq, at, region_set, subject, region, attrs", 3, 0, 0, true}
	consentPacks = packKind{"consent_events", "consent_packs", "seq, at, state, subject, purpose, recipient, source, policy, notice", 4, 2, notedFlag, false}
)

// fresh describes rows a transaction has just inserted, in order, with
// sequence numbers first, first+1, ...: they can be packed from memory
// instead of read back.
type fresh struct {
	first int64
	n     int
	// encode appends row i in pack form.
	encode func(b []byte, i int) []byte
}

// appendConsentPacked appends a consent event in pack form: the policy
// and notice only when either is set.
func appendConsentPacked(b []byte, seq, at int64, state byte, subject, purpose, recipient, source, policy, notice []byte) []byte {
	if len(policy) == 0 && len(notice) == 0 {
		return appendPacked(b, seq, at, state, subject, purpose, recipient, source)
	}
	return appendPacked(b, seq, at, state|notedFlag, subject, purpose, recipient, source, policy, notice)
}

// appendKind appends an event read back for packing: its optional strings
// (the last k.optional of strs) only when one is set.
func (k *packKind) appendKind(b []byte, seq, at int64, small byte, strs [][]byte) []byte {
	if k.optional > 0 {
		n := k.strings
		for _, v := range strs[k.strings:] {
			if len(v) > 0 {
				n = len(strs)
				small |= k.flag
				break
			}
		}
		strs = strs[:n]
	}
	return appendPacked(b, seq, at, small, strs...)
}

func appendPacked(b []byte, seq, at int64, small byte, strs ...[]byte) []byte {
	b = binary.AppendUvarint(b, uint64(seq))
	b = binary.AppendVarint(b, at)
	b = append(b, small)
	for _, v := range strs {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

func maxSeq(ctx context.Context, tx *sql.Tx, table string) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM `+table).Scan(&n)
	return n, err
}

// pack writes packs for the unpacked events of a kind when there are
// enough: the older unpacked rows read back, then new (when not nil) from
// memory.
func pack(ctx context.Context, tx *sql.Tx, k packKind, new *fresh) error {
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(last_seq), 0) FROM `+k.packs).Scan(&last); err != nil {
		return err
	}
	top, err := maxSeq(ctx, tx, k.table)
	if err != nil {
		return err
	}
	// Rows are never deleted and ignored inserts take no sequence number,
	// so the unpacked rows are exactly last+1 … top.
	if top-last < packThreshold {
		return nil
	}
	type packed struct {
		first, last, n int64
		body           []byte
	}
	var out []packed
	var cur packed
	add := func(seq int64, enc func([]byte) []byte) {
		if cur.n == 0 {
			cur.first = seq
		}
		cur.body, cur.last = enc(cur.body), seq
		cur.n++
		if cur.n == packMaxRows {
			out = append(out, cur)
			cur = packed{}
		}
	}
	readUpTo := top
	if new != nil {
		readUpTo = new.first - 1
	}
	if readUpTo > last {
		rows, err := tx.QueryContext(ctx, `SELECT `+k.cols+` FROM `+k.table+` WHERE seq > ? AND seq <= ? ORDER BY seq`, last, readUpTo)
		if err != nil {
			return err
		}
		vals := make([]sql.RawBytes, k.strings+k.optional)
		dest := make([]any, 3+len(vals))
		var seq, at, small int64
		dest[0], dest[1], dest[2] = &seq, &at, &small
		strs := make([][]byte, len(vals))
		for i := range vals {
			dest[3+i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return err
			}
			for i := range vals {
				strs[i] = vals[i]
			}
			add(seq, func(b []byte) []byte { return k.appendKind(b, seq, at, byte(small), strs) })
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	if new != nil {
		for i := 0; i < new.n; i++ {
			add(new.first+int64(i), func(b []byte) []byte { return new.encode(b, i) })
		}
	}
	if cur.n > 0 {
		out = append(out, cur)
	}
	for _, p := range out {
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+k.packs+`(first_seq, last_seq, rows, body) VALUES (?,?,?,?)`, p.first, p.last, p.n, p.body); err != nil {
			return err
		}
	}
	return nil
}

// scanPacked reads every event of a kind at or before asOf in seq order:
// the packs, then the unpacked tail through rowFn's query — the rows after
// the last event the packs hold (by the events themselves, not by what a
// pack's columns say). With strict, a pack whose columns disagree with its
// events, or that does not follow the one before, is an error naming it.
func (s *DB) scanPacked(ctx context.Context, k packKind, asOf timestamp.Time, strict bool, fn func(seq int64, at timestamp.Time, small byte, strs [][]byte) error,
	tail func(tx *sql.Tx, afterSeq int64) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT first_seq, last_seq, rows, body FROM `+k.packs+` ORDER BY first_seq`)
	if err != nil {
		return err
	}
	var last int64 // the last event held so far
	var firstCol, lastCol, nCol int64
	var body sql.RawBytes
	all := make([][]byte, k.strings+k.optional)
	for rows.Next() {
		if err := rows.Scan(&firstCol, &lastCol, &nCol, &body); err != nil {
			rows.Close()
			return err
		}
		b := []byte(body)
		var first, n int64
		for len(b) > 0 {
			seq, w := binary.Uvarint(b)
			if w <= 0 {
				rows.Close()
				return fmt.Errorf("%s: the pack from %d: corrupt", k.packs, firstCol)
			}
			b = b[w:]
			at, w := binary.Varint(b)
			if w <= 0 || len(b) < w+1 {
				rows.Close()
				return fmt.Errorf("%s: the pack from %d: corrupt", k.packs, firstCol)
			}
			small := b[w]
			b = b[w+1:]
			strs := all[:k.strings]
			if k.flag != 0 && small&k.flag != 0 {
				strs = all
			} else {
				clear(all[k.strings:])
			}
			for i := range strs {
				l, w := binary.Uvarint(b)
				if w <= 0 || uint64(len(b)-w) < l {
					rows.Close()
					return fmt.Errorf("%s: the pack from %d: corrupt", k.packs, firstCol)
				}
				strs[i] = b[w : w+int(l)]
				b = b[w+int(l):]
			}
			if len(strs) > k.strings && allEmpty(strs[k.strings:]) {
				rows.Close()
				return fmt.Errorf("%s: the pack from %d: corrupt (event %d flagged with nothing after it)", k.packs, firstCol, seq)
			}
			if int64(seq) <= last {
				rows.Close()
				return fmt.Errorf("%s: the pack from %d holds event %d after event %d: out of order, or twice", k.packs, firstCol, seq, last)
			}
			if n == 0 {
				first = int64(seq)
			}
			n++
			last = int64(seq)
			if timestamp.Time(at) > asOf && !k.keepLater {
				continue
			}
			if err := fn(int64(seq), timestamp.Time(at), small&^k.flag, all); err != nil {
				rows.Close()
				return err
			}
		}
		if strict && (first != firstCol || last != lastCol || n != nCol) {
			rows.Close()
			return fmt.Errorf("%s: the pack from %d says it holds events %d to %d (%d), but holds %d to %d (%d)",
				k.packs, firstCol, firstCol, lastCol, nCol, first, last, n)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	return tail(tx, last)
}

func allEmpty(strs [][]byte) bool {
	for _, v := range strs {
		if len(v) > 0 {
			return false
		}
	}
	return true
}

func (s *DB) scanAllSubjects(ctx context.Context, asOf timestamp.Time, fn func(*store.SubjectRow) error) error {
	var r store.SubjectRow
	return s.scanPacked(ctx, subjectPacks, asOf, false, func(seq int64, at timestamp.Time, small byte, strs [][]byte) error {
		r = store.SubjectRow{Seq: seq, At: at, RegionSet: small == 1, Subject: strs[0], Region: strs[1], Attrs: strs[2]}
		return fn(&r)
	}, func(tx *sql.Tx, after int64) error {
		return scanSubjectRows(ctx, tx, `WHERE seq > ? ORDER BY seq`, []any{after}, fn)
	})
}

func (s *DB) scanAllConsent(ctx context.Context, asOf timestamp.Time, fn func(*store.ConsentRow) error) error {
	var r store.ConsentRow
	return s.scanPacked(ctx, consentPacks, asOf, false, func(seq int64, at timestamp.Time, small byte, strs [][]byte) error {
		r = store.ConsentRow{Seq: seq, At: at, State: policy.State(small), Subject: strs[0], Purpose: strs[1], Recipient: strs[2], Source: strs[3],
			Policy: strs[4], Notice: strs[5]}
		return fn(&r)
	}, func(tx *sql.Tx, after int64) error {
		return scanConsentRows(ctx, tx, `WHERE seq > ? AND at <= ? ORDER BY seq`, []any{after, int64(asOf)}, fn)
	})
}

// DerivedSubjectRows implements store.Store: the subject events as the
// packs hold them, for log verification to compare with the rows.
func (s *DB) DerivedSubjectRows(ctx context.Context, fn func(*store.SubjectRow) error) error {
	var r store.SubjectRow
	return s.scanPacked(ctx, subjectPacks, timestamp.Max, true, func(seq int64, at timestamp.Time, small byte, strs [][]byte) error {
		r = store.SubjectRow{Seq: seq, At: at, RegionSet: small == 1, Subject: strs[0], Region: strs[1], Attrs: strs[2]}
		return fn(&r)
	}, func(*sql.Tx, int64) error { return nil })
}

// DerivedConsentRows implements store.Store: the consent events as the
// packs hold them.
func (s *DB) DerivedConsentRows(ctx context.Context, fn func(*store.ConsentRow) error) error {
	var r store.ConsentRow
	return s.scanPacked(ctx, consentPacks, timestamp.Max, true, func(seq int64, at timestamp.Time, small byte, strs [][]byte) error {
		r = store.ConsentRow{Seq: seq, At: at, State: policy.State(small), Subject: strs[0], Purpose: strs[1], Recipient: strs[2], Source: strs[3],
			Policy: strs[4], Notice: strs[5]}
		return fn(&r)
	}, func(*sql.Tx, int64) error { return nil })
}
