package policy

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// The dimensions of a diff's boxes, in this order: recipient, purpose,
// category, region class, each attribute, then role and consent.
const (
	dimRecipient = iota
	dimPurpose
	dimCategory
	dimRegion
	dimAttr0
)

// layout places each dimension's value set, a bitset, in a box's words.
type layout struct {
	sizes []int
	off   []int // word offset of each dimension, and the total last
}

func newLayout(sizes []int) layout {
	l := layout{sizes: sizes}
	w := 0
	for _, s := range sizes {
		l.off = append(l.off, w)
		w += (s + 63) / 64
	}
	l.off = append(l.off, w)
	return l
}

func (l *layout) role() int    { return len(l.sizes) - 2 }
func (l *layout) consent() int { return len(l.sizes) - 1 }

// box is a product of one value set per dimension, all of whose cells
// change the same way.
type box struct {
	widening bool
	bits     []uint64
}

// newBox returns the box of one value of each of the first dimensions
// (fixed) and no value of the others yet.
func (l *layout) newBox(widening bool, fixed []int) box {
	b := box{widening: widening, bits: make([]uint64, l.off[len(l.sizes)])}
	for d, v := range fixed {
		b.set(l, d, v)
	}
	return b
}

func (b box) set(l *layout, d, i int) { b.bits[l.off[d]+i/64] |= 1 << (i % 64) }

func (b box) has(l *layout, d, i int) bool {
	return i >= 0 && i < l.sizes[d] && b.bits[l.off[d]+i/64]&(1<<(i%64)) != 0
}

func (b box) count(l *layout, d int) int {
	n := 0
	for _, w := range b.bits[l.off[d]:l.off[d+1]] {
		n += bits.OnesCount64(w)
	}
	return n
}

// members returns the values of dimension d in the box, ascending.
func (b box) members(l *layout, d int) []int {
	var out []int
	for i := 0; i < l.sizes[d]; i++ {
		if b.has(l, d, i) {
			out = append(out, i)
		}
	}
	return out
}

func (b box) cells(l *layout) int {
	n := 1
	for d := range l.sizes {
		n *= b.count(l, d)
	}
	return n
}

// cover merges disjoint boxes into as few as it can find that hold exactly
// the same cells: two boxes equal in every dimension but one, and changing
// the same way, are one box with the union of that dimension's sets. The
// result depends on the order dimensions are merged in; cover tries
// several and keeps the fewest boxes.
func cover(boxes []box, l *layout) []box {
	n := len(l.sizes)
	base := []int{l.consent(), l.role()}
	for k := l.role() - 1; k >= dimRecipient; k-- {
		base = append(base, k)
	}
	var orders [][]int
	rev := slices.Clone(base)
	slices.Reverse(rev)
	for r := 0; r < n; r++ {
		orders = append(orders, append(slices.Clone(base[r:]), base[:r]...), append(slices.Clone(rev[r:]), rev[:r]...))
	}
	if len(boxes) > 20_000 {
		orders = orders[:1]
	}
	var best []box
	for _, order := range orders {
		got := mergeAll(boxes, l, order)
		if best == nil || len(got) < len(best) {
			best = got
		}
	}
	return best
}

// mergeAll merges along each dimension of order in turn until no merge is
// left; boxes is not modified.
func mergeAll(boxes []box, l *layout, order []int) []box {
	for first := true; ; first = false {
		merged := false
		for _, d := range order {
			var m bool
			boxes, m = mergeAlong(boxes, l, d, first)
			merged = merged || m
			first = false
		}
		if !merged {
			return boxes
		}
	}
}

// mergeAlong merges the boxes equal in every dimension but d. The boxes
// it returns are its own unless copy is false.
func mergeAlong(boxes []box, l *layout, d int, copy bool) ([]box, bool) {
	idx := make(map[string]int, len(boxes))
	out := make([]box, 0, len(boxes))
	key := make([]byte, 0, 8*l.off[len(l.sizes)]+1)
	from, to := l.off[d], l.off[d+1]
	merged := false
	for _, b := range boxes {
		key = key[:0]
		if b.widening {
			key = append(key, 1)
		} else {
			key = append(key, 0)
		}
		for w, x := range b.bits {
			if w < from || w >= to {
				key = binary.LittleEndian.AppendUint64(key, x)
			}
		}
		if i, ok := idx[string(key)]; ok {
			for w := from; w < to; w++ {
				out[i].bits[w] |= b.bits[w]
			}
			merged = true
			continue
		}
		idx[string(key)] = len(out)
		if copy {
			b = box{widening: b.widening, bits: slices.Clone(b.bits)}
		}
		out = append(out, b)
	}
	return out, merged
}
