package consent

import (
	"fmt"
	"testing"
)

func TestIDTable(t *testing.T) {
	tb := newIDTable(0)
	ids := []string{"a", "b", "a-very-long-subject-identifier-beyond-inline", "", "c"}
	for i := 0; i < 1000; i++ {
		ids = append(ids, fmt.Sprintf("u%d", i), fmt.Sprintf("long-%d-%040d", i, i))
	}
	keys := map[string]int32{}
	for _, id := range ids {
		k := tb.intern([]byte(id))
		if old, ok := keys[id]; ok && old != k {
			t.Fatalf("%q interned as %d and %d", id, old, k)
		}
		keys[id] = k
		if string(tb.key(k)) != id {
			t.Fatalf("key %d is %q, want %q", k, tb.key(k), id)
		}
	}
	// Drop every third key, keep the rest at new positions.
	to := make([]int32, tb.len())
	var keyOf []int32
	for k := range to {
		if k%3 == 0 {
			to[k] = -1
			continue
		}
		to[k] = int32(len(keyOf))
		keyOf = append(keyOf, int32(k))
	}
	tb.remap(to)
	for id, k := range keys {
		pos, ok := tb.lookup([]byte(id), keyOf)
		if want := to[k]; (want >= 0) != ok || ok && int32(pos) != want {
			t.Fatalf("lookup %q = %d %v, want %d", id, pos, ok, want)
		}
	}
	if _, ok := tb.lookup([]byte("missing"), keyOf); ok {
		t.Fatal("found a missing id")
	}
}

func BenchmarkIntern(b *testing.B) {
	ids := make([][]byte, 1_000_000)
	for i := range ids {
		ids[i] = fmt.Appendf(nil, "m%07d", i)
	}
	for b.Loop() {
		tb := newIDTable(len(ids))
		for _, id := range ids {
			tb.intern(id)
		}
	}
}

// TestManyAttributeValues: a declared attribute may take more distinct
// values in the data than a uint16 holds.
func TestManyAttributeValues(t *testing.T) {
	b := NewBuilder(100, []string{"employer"}, 0, 0)
	const n = 70_000
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("org-%d", i)
		b.AddSubject(SubjectEvent{Subject: fmt.Sprintf("s%d", i), At: 1, RegionSet: true, Region: "US", Attributes: map[string]*string{"employer": &v}})
	}
	view := b.Finish()
	for _, i := range []int{0, 65534, 65535, 65536, n - 1} {
		k, ok := view.Lookup(fmt.Sprintf("s%d", i))
		if !ok {
			t.Fatalf("s%d missing", i)
		}
		if got := view.Attrs(view.StateAt(k, 50))["employer"]; got != fmt.Sprintf("org-%d", i) {
			t.Fatalf("s%d employer %q", i, got)
		}
	}
}
