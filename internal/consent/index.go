package consent

import (
	"hash/maphash"
)

// idTable interns subject ids and finds them again. It is an
// open-addressing hash table whose slots hold short ids inline, so that a
// lookup touches one cache line instead of a Go map's three (control word,
// key header, key bytes): with a million subjects these lookups are cache
// misses, and they dominate both loading a view and an export. Every id's
// bytes also live in one arena, so a million ids cost the garbage collector
// nothing.
//
// While a view is built a slot's value is the id's key (its insertion
// number); Finish rewrites it to the subject's position in the view, or -1
// for a subject the view leaves out.
type idTable struct {
	seed  maphash.Seed
	mask  uint64
	slots []idSlot
	arena []byte
	off   []uint32 // key k is arena[off[k]:off[k+1]]
}

const inlineID = 23

type idSlot struct {
	hash uint32
	val  int32 // key or view position; -1 for a left-out subject
	n    uint8 // 0 for an empty slot; id length + 1 when inline; 255 when not
	id   [inlineID]byte
}

func newIDTable(hint int) *idTable {
	t := &idTable{seed: maphash.MakeSeed(), off: make([]uint32, 1, hint+1), arena: make([]byte, 0, hint*10)}
	t.resize(max(16, hint+hint/2))
	return t
}

func (t *idTable) resize(n int) {
	size := 16
	for size < n {
		size *= 2
	}
	old := t.slots
	t.slots, t.mask = hugeSlots(size, t), uint64(size-1)
	for i := range old {
		if s := &old[i]; s.n != 0 {
			t.place(*s, t.key(s.val))
		}
	}
}

func (t *idTable) place(s idSlot, id []byte) {
	i := maphash.Bytes(t.seed, id) & t.mask
	for t.slots[i].n != 0 {
		i = (i + 1) & t.mask
	}
	t.slots[i] = s
}

// len is the number of ids interned.
func (t *idTable) len() int { return len(t.off) - 1 }

// key returns the bytes of key k.
func (t *idTable) key(k int32) []byte { return t.arena[t.off[k]:t.off[k+1]] }

// intern returns id's key, adding it if it is new.
func (t *idTable) intern(id []byte) int32 {
	return t.internHashed(id, maphash.Bytes(t.seed, id))
}

// internHashed is intern with the id's hash computed already.
func (t *idTable) internHashed(id []byte, h uint64) int32 {
	hi := uint32(h >> 32)
	i := h & t.mask
	for ; t.slots[i].n != 0; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.hash == hi && t.equal(s, id, s.val) {
			return s.val
		}
	}
	k := int32(t.len())
	t.arena = append(t.arena, id...)
	t.off = append(t.off, uint32(len(t.arena)))
	s := &t.slots[i]
	s.hash, s.val = hi, k
	if len(id) <= inlineID {
		s.n = uint8(len(id) + 1)
		copy(s.id[:], id)
	} else {
		s.n = 255
	}
	if uint64(t.len())*2 > t.mask {
		t.resize(2 * len(t.slots))
	}
	return k
}

func (t *idTable) equal(s *idSlot, id []byte, key int32) bool {
	if s.n != 255 {
		return int(s.n) == len(id)+1 && string(s.id[:len(id)]) == string(id)
	}
	return key >= 0 && string(t.key(key)) == string(id)
}

// remap rewrites every slot's value with to[value] (a view position or -1),
// keeping each key reachable through keyOf for long ids.
func (t *idTable) remap(to []int32) {
	for i := range t.slots {
		if s := &t.slots[i]; s.n != 0 {
			s.val = to[s.val]
		}
	}
}

// lookup finds a view position after remap; keyOf maps positions back to
// keys for ids too long to keep inline.
func (t *idTable) lookup(id []byte, keyOf []int32) (int, bool) {
	return t.lookupHashed(id, maphash.Bytes(t.seed, id), keyOf)
}

// hash is the table's hash of an id.
func (t *idTable) hash(id []byte) uint64 { return maphash.Bytes(t.seed, id) }

// lookupHashed is lookup with the id's hash already computed.
func (t *idTable) lookupHashed(id []byte, h uint64, keyOf []int32) (int, bool) {
	hi := uint32(h >> 32)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.n == 0 {
			return 0, false
		}
		if s.hash != hi || s.val < 0 {
			continue
		}
		if s.n != 255 {
			if int(s.n) == len(id)+1 && string(s.id[:len(id)]) == string(id) {
				return int(s.val), true
			}
			continue
		}
		if string(t.key(keyOf[s.val])) == string(id) {
			return int(s.val), true
		}
	}
}

// touch loads the slot of a hash and returns a value of no meaning; see
// View.Touch.
func (t *idTable) touch(h uint64) uint32 { return uint32(t.slots[h&t.mask].val) }
