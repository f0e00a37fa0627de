package translog

import (
	"context"
	"database/sql"
	"encoding/binary"
	"hash/maphash"
)

// KeyTable holds every subject's key compactly for log verification: each
// subject's key and id one after the other in one arena, and an
// open-addressing index of (hash tag, offset) pairs — a handful of
// allocations however many subjects (a map of a million strings and slices
// is that many objects for the collector to scan), and a lookup touches
// two places in memory: its slot, and its entry.
type KeyTable struct {
	seed  maphash.Seed
	arena []byte   // entries: key (32 bytes), uvarint id length, id
	slots []uint64 // hash tag << 32 | entry offset + 1; 0 empty
	n     int
	mask  uint64
}

// NewKeyTable makes a table sized for about n subjects.
func NewKeyTable(n int) *KeyTable {
	t := &KeyTable{seed: maphash.MakeSeed(), arena: make([]byte, 0, n*48)}
	t.grow(max(16, 2*n))
	return t
}

func (t *KeyTable) grow(size int) {
	n := 16
	for n < size {
		n <<= 1
	}
	old := t.slots
	t.slots, t.mask = make([]uint64, n), uint64(n-1)
	for _, e := range old {
		if e != 0 {
			t.place(e)
		}
	}
}

func (t *KeyTable) place(e uint64) {
	h := maphash.Bytes(t.seed, t.entryID(uint32(e)-1))
	for s := h & t.mask; ; s = (s + 1) & t.mask {
		if t.slots[s] == 0 {
			t.slots[s] = e
			return
		}
	}
}

// entryID is the id of the entry at off.
func (t *KeyTable) entryID(off uint32) []byte {
	b := t.arena[off+32:]
	n, w := binary.Uvarint(b)
	return b[w : w+int(n)]
}

// Len is the number of subjects.
func (t *KeyTable) Len() int { return t.n }

// Put adds a subject's 32-byte key (a subject put twice keeps the first).
func (t *KeyTable) Put(subject, key []byte) {
	if _, ok := t.Get(subject); ok || len(key) != 32 {
		return
	}
	off := uint32(len(t.arena))
	t.arena = append(t.arena, key...)
	t.arena = binary.AppendUvarint(t.arena, uint64(len(subject)))
	t.arena = append(t.arena, subject...)
	t.n++
	if 2*t.n > len(t.slots) {
		t.grow(4 * t.n)
	}
	h := maphash.Bytes(t.seed, subject)
	e := h>>32<<32 | uint64(off+1)
	for s := h & t.mask; ; s = (s + 1) & t.mask {
		if t.slots[s] == 0 {
			t.slots[s] = e
			return
		}
	}
}

// Get returns a subject's key.
func (t *KeyTable) Get(subject []byte) ([]byte, bool) {
	h := maphash.Bytes(t.seed, subject)
	tag := h >> 32
	for s := h & t.mask; ; s = (s + 1) & t.mask {
		e := t.slots[s]
		if e == 0 {
			return nil, false
		}
		if e>>32 == tag {
			off := uint32(e) - 1
			if string(t.entryID(off)) == string(subject) {
				return t.arena[off : off+32 : off+32], true
			}
		}
	}
}

// Table reads every subject's key into a KeyTable.
func (k *KeyStore) Table(ctx context.Context) (*KeyTable, error) {
	var n int
	k.db.QueryRowContext(ctx, `SELECT count(*) FROM subject_keys`).Scan(&n)
	t := NewKeyTable(n)
	rows, err := k.db.QueryContext(ctx, `SELECT subject, key FROM subject_keys`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var s, key sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&s, &key); err != nil {
			return nil, err
		}
		if len(key) > 0 { // not a tombstone
			t.Put(s, key)
		}
	}
	return t, rows.Err()
}
