package consent

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/timestamp"
)

// Builder assembles a View from subject and consent events given in any
// order. Events after the as-of time are ignored. It is not safe for
// concurrent use; ConsentRows collects consent rows on another goroutine.
type Builder struct {
	asOf      timestamp.Time
	attrNames []string
	slot      map[string]int

	ids *idTable
	// Subject rows wait here for their keys, a batch at a time, so that
	// the index slots of a batch are fetched from memory together.
	pendingID  []byte
	pendingEnd []int32 // end of each pending id in pendingID
	pendingRow []int32 // the rawSubject each waits for
	// first is each key's smallest subject event sequence number, after
	// the as-of time or not: the subject's stable number.
	first []int64

	subj    []rawSubject
	subjVal []int32 // len(attrNames) per raw subject event: -1 unset, 0 removed, k value

	regionIdx map[string]uint32
	regions   []string
	attrIdx   []map[string]uint32
	attrVals  [][]string

	cons         []rawConsent
	purposeIdx   map[string]uint32
	purposes     []string
	recipientIdx map[string]uint32
	recipients   []string
	sources      map[string]string
	sink         uint32 // keeps flushPending's touches from being optimised away
}

type rawSubject struct {
	subj   int32
	region int32 // -1 unset, 0 removed, k code
	at     timestamp.Time
	seq    int64
}

type rawConsent struct {
	subj int32
	viewEvent
}

// NewBuilder starts a view at asOf keeping the named attributes. The hints
// (how many subject and consent events to expect; 0 when unknown) size its
// tables up front.
func NewBuilder(asOf timestamp.Time, attrNames []string, subjectHint, consentHint int) *Builder {
	subjectHint, consentHint = min(max(subjectHint, 0), 1<<26), min(max(consentHint, 0), 1<<26)
	b := &Builder{asOf: asOf, attrNames: append([]string(nil), attrNames...), slot: map[string]int{},
		ids: newIDTable(subjectHint), first: make([]int64, 0, subjectHint), regionIdx: map[string]uint32{"": 0}, regions: []string{""},
		subj: make([]rawSubject, 0, subjectHint), subjVal: make([]int32, 0, subjectHint*len(attrNames)),
		cons:       make([]rawConsent, 0, consentHint),
		purposeIdx: map[string]uint32{}, recipientIdx: map[string]uint32{"": 0}, recipients: []string{""},
		sources: map[string]string{}}
	for i, n := range b.attrNames {
		b.slot[n] = i
		b.attrIdx = append(b.attrIdx, map[string]uint32{"": 0})
		b.attrVals = append(b.attrVals, []string{""})
	}
	return b
}

func (b *Builder) attrValue(slot int, v []byte) int32 {
	m := b.attrIdx[slot]
	if k, ok := m[string(v)]; ok {
		return int32(k)
	}
	k := uint32(len(b.attrVals[slot]))
	m[string(v)] = k
	b.attrVals[slot] = append(b.attrVals[slot], string(v))
	return int32(k)
}

// AddSubject adds a subject event.
func (b *Builder) AddSubject(e SubjectEvent) {
	if e.At > b.asOf {
		b.number([]byte(e.Subject), e.Seq)
		return
	}
	vals := b.addSubjectHead([]byte(e.Subject), e.At, e.Seq, e.RegionSet, []byte(e.Region))
	for name, v := range e.Attributes {
		slot, ok := b.slot[name]
		if !ok {
			continue
		}
		if v == nil {
			vals[slot] = 0
		} else {
			vals[slot] = b.attrValue(slot, []byte(*v))
		}
	}
}

// internBatch is how many subject rows wait for their keys at a time.
const internBatch = 64

// flushPending gives the waiting subject rows their keys: every id hashed,
// every slot touched, then each interned.
func (b *Builder) flushPending() {
	n := len(b.pendingRow)
	if n == 0 {
		return
	}
	var hashes [internBatch]uint64
	var x uint32
	start := int32(0)
	for i := 0; i < n; i++ {
		id := b.pendingID[start:b.pendingEnd[i]]
		hashes[i] = b.ids.hash(id)
		start = b.pendingEnd[i]
	}
	for i := 0; i < n; i++ {
		x += b.ids.touch(hashes[i])
	}
	b.sink += x
	start = 0
	for i := 0; i < n; i++ {
		id := b.pendingID[start:b.pendingEnd[i]]
		start = b.pendingEnd[i]
		k := b.ids.internHashed(id, hashes[i])
		for int(k) >= len(b.first) {
			b.first = append(b.first, 1<<62)
		}
		r := &b.subj[b.pendingRow[i]]
		b.first[k] = min(b.first[k], r.seq)
		r.subj = k
	}
	b.pendingID, b.pendingEnd, b.pendingRow = b.pendingID[:0], b.pendingEnd[:0], b.pendingRow[:0]
}

// number notes a subject event's sequence number for the subject's stable
// number and returns the subject's key.
func (b *Builder) number(id []byte, seq int64) int32 {
	k := b.ids.intern(id)
	for int(k) >= len(b.first) {
		b.first = append(b.first, 1<<62)
	}
	b.first[k] = min(b.first[k], seq)
	return k
}

func (b *Builder) addSubjectHead(id []byte, at timestamp.Time, seq int64, regionSet bool, region []byte) []int32 {
	r := int32(-1)
	if regionSet {
		k, ok := b.regionIdx[string(region)]
		if !ok {
			k = uint32(len(b.regions))
			b.regionIdx[string(region)] = k
			b.regions = append(b.regions, string(region))
		}
		r = int32(k)
	}
	b.pendingID = append(b.pendingID, id...)
	b.pendingEnd = append(b.pendingEnd, int32(len(b.pendingID)))
	b.pendingRow = append(b.pendingRow, int32(len(b.subj)))
	b.subj = append(b.subj, rawSubject{subj: -1, at: at, seq: seq, region: r})
	if len(b.pendingRow) == internBatch {
		b.flushPending()
	}
	n := len(b.subjVal)
	for range b.attrNames {
		b.subjVal = append(b.subjVal, -1)
	}
	return b.subjVal[n:]
}

// AddSubjectRow adds a subject event as the store holds it: attributes are
// a JSON object of string or null values; only the kept attributes are
// decoded. The slices are not retained.
func (b *Builder) AddSubjectRow(id []byte, at timestamp.Time, seq int64, regionSet bool, region []byte, attrs []byte) error {
	if at > b.asOf {
		b.number(id, seq)
		return nil
	}
	vals := b.addSubjectHead(id, at, seq, regionSet, region)
	if len(b.attrNames) == 0 || len(attrs) == 0 {
		return nil
	}
	ok := scanFlatObject(attrs, func(key, val []byte, null bool) {
		slot, ok := b.slot[string(key)]
		if !ok {
			return
		}
		if null {
			vals[slot] = 0
		} else {
			vals[slot] = b.attrValue(slot, val)
		}
	})
	if ok {
		return nil
	}
	// Escaped strings or anything unusual: decode properly.
	var m map[string]*string
	if err := json.Unmarshal(attrs, &m); err != nil {
		return fmt.Errorf("subject %s: stored attributes are not a JSON object of strings: %w", id, err)
	}
	for name, v := range m {
		if slot, ok := b.slot[name]; ok {
			if v == nil {
				vals[slot] = 0
			} else {
				vals[slot] = b.attrValue(slot, []byte(*v))
			}
		}
	}
	return nil
}

// scanFlatObject walks {"k":"v","k2":null} without escapes, calling fn for
// each member. It returns false (having perhaps called fn for a prefix) when
// the text needs a full decoder.
func scanFlatObject(s []byte, fn func(key, val []byte, null bool)) bool {
	i := 0
	str := func() ([]byte, bool) {
		if i >= len(s) || s[i] != '"' {
			return nil, false
		}
		j := i + 1
		for j < len(s) && s[j] != '"' {
			if s[j] == '\\' || s[j] < 0x20 {
				return nil, false
			}
			j++
		}
		if j >= len(s) {
			return nil, false
		}
		out := s[i+1 : j]
		i = j + 1
		return out, true
	}
	if len(s) < 2 || s[0] != '{' {
		return false
	}
	i = 1
	if s[i] == '}' {
		return i == len(s)-1
	}
	for {
		k, ok := str()
		if !ok || i >= len(s) || s[i] != ':' {
			return false
		}
		i++
		if i+4 <= len(s) && string(s[i:i+4]) == "null" {
			fn(k, nil, true)
			i += 4
		} else {
			v, ok := str()
			if !ok {
				return false
			}
			fn(k, v, false)
		}
		if i >= len(s) {
			return false
		}
		if s[i] == '}' {
			return i == len(s)-1
		}
		if s[i] != ',' {
			return false
		}
		i++
	}
}

// AddConsent adds a consent event.
func (b *Builder) AddConsent(e Event) {
	b.AddConsentRow([]byte(e.Subject), []byte(e.Purpose), []byte(e.Recipient), e.State, e.At, e.Seq, []byte(e.Source))
}

// AddConsentRow adds a consent event given as bytes (not retained).
// recipient is empty for every recipient.
func (b *Builder) AddConsentRow(id, purpose, recipient []byte, st policy.State, at timestamp.Time, seq int64, source []byte) {
	if at > b.asOf {
		return
	}
	b.flushPending()
	p, ok := b.purposeIdx[string(purpose)]
	if !ok {
		p = uint32(len(b.purposes))
		b.purposeIdx[string(purpose)] = p
		b.purposes = append(b.purposes, string(purpose))
	}
	r, ok := b.recipientIdx[string(recipient)]
	if !ok {
		r = uint32(len(b.recipients))
		b.recipientIdx[string(recipient)] = r
		b.recipients = append(b.recipients, string(recipient))
	}
	src, ok := b.sources[string(source)]
	if !ok {
		src = string(source)
		b.sources[src] = src
	}
	b.cons = append(b.cons, rawConsent{subj: b.ids.intern(id),
		viewEvent: viewEvent{at: at, seq: seq, purpose: p, recipient: r, state: st, source: src}})
}

// ConsentRows collects consent rows as bytes, so that a store can read
// them on one goroutine while a Builder takes subject rows on another.
type ConsentRows struct {
	arena []byte
	rows  []consentRow
}

type consentRow struct {
	id, purpose, recipient, source [2]uint32
	state                          policy.State
	at                             timestamp.Time
	seq                            int64
}

// Add keeps one row (the slices are copied).
func (c *ConsentRows) Add(id, purpose, recipient []byte, st policy.State, at timestamp.Time, seq int64, source []byte) {
	put := func(s []byte) [2]uint32 {
		o := uint32(len(c.arena))
		c.arena = append(c.arena, s...)
		return [2]uint32{o, uint32(len(s))}
	}
	c.rows = append(c.rows, consentRow{id: put(id), purpose: put(purpose), recipient: put(recipient), source: put(source), state: st, at: at, seq: seq})
}

// Len is the number of rows kept.
func (c *ConsentRows) Len() int { return len(c.rows) }

// Grow makes room for about n more rows.
func (c *ConsentRows) Grow(n int) {
	c.rows = slices.Grow(c.rows, n)
	c.arena = slices.Grow(c.arena, n*40)
}

// AddConsentRows adds every row collected.
func (b *Builder) AddConsentRows(c *ConsentRows) {
	get := func(x [2]uint32) []byte { return c.arena[x[0] : x[0]+x[1]] }
	for i := range c.rows {
		r := &c.rows[i]
		b.AddConsentRow(get(r.id), get(r.purpose), get(r.recipient), r.state, r.at, r.seq, get(r.source))
	}
}

// Finish builds the view. Subjects with no subject event at or before the
// as-of time are not in it (they are unknown), even if they have consent.
// The Builder must not be used afterwards.
func (b *Builder) Finish() *View {
	b.flushPending()
	nIDs := b.ids.len()
	nSlots := len(b.attrNames)
	// Group raw subject events by subject with a counting sort that keeps
	// input order, then order each group by (at, seq).
	count := make([]int32, nIDs+1)
	for _, r := range b.subj {
		count[r.subj+1]++
	}
	for i := 1; i <= nIDs; i++ {
		count[i] += count[i-1]
	}
	order := make([]int32, len(b.subj))
	pos := append([]int32(nil), count[:nIDs]...)
	for k, r := range b.subj {
		order[pos[r.subj]] = int32(k)
		pos[r.subj]++
	}

	v := &View{AsOf: b.asOf, AttrNames: b.attrNames, Regions: b.regions, AttrValues: b.attrVals,
		Purposes: b.purposes, Recipients: b.recipients, index: b.ids}
	newIdx := make([]int32, nIDs)
	v.subjects = make([]subjectEntry, 0, nIDs)
	v.keyOf = make([]int32, 0, nIDs)
	v.stateAt = make([]timestamp.Time, 0, len(b.subj))
	v.stateRegion = make([]uint32, 0, len(b.subj))
	v.stateAttr = make([]uint32, 0, len(b.subj)*nSlots)

	cur := make([]int32, 1+nSlots)              // region, slots: current values
	first := make([]int32, 1+nSlots)            // earliest value set, -1 none
	firstAt := make([]timestamp.Time, 1+nSlots) // when it was set
	for s := 0; s < nIDs; s++ {
		grp := order[count[s]:count[s+1]]
		if len(grp) == 0 {
			newIdx[s] = -1
			continue
		}
		if !sort.SliceIsSorted(grp, func(x, y int) bool { return b.before(grp[x], grp[y]) }) {
			sort.SliceStable(grp, func(x, y int) bool { return b.before(grp[x], grp[y]) })
		}
		for f := range first {
			first[f], firstAt[f] = -1, timestamp.Min
		}
		for k := len(grp) - 1; k >= 0; k-- {
			e := grp[k]
			if r := b.subj[e].region; r >= 0 {
				first[0], firstAt[0] = r, b.subj[e].at
			}
			for f := 0; f < nSlots; f++ {
				if x := b.subjVal[int(e)*nSlots+f]; x >= 0 {
					first[f+1], firstAt[f+1] = x, b.subj[e].at
				}
			}
		}
		// A field first set after the subject's first event is unknown
		// to a decision as of a time before it (SPEC §2.3): keep when.
		if t0 := b.subj[grp[0]].at; slices.ContainsFunc(firstAt, func(at timestamp.Time) bool { return at > t0 }) {
			if v.firstSet == nil {
				v.firstSet = map[int32][]timestamp.Time{}
			}
			v.firstSet[int32(len(v.subjects))] = slices.Clone(firstAt)
		}
		for f := range cur {
			cur[f] = max(first[f], 0)
		}
		newIdx[s] = int32(len(v.subjects))
		v.keyOf = append(v.keyOf, int32(s))
		entry := subjectEntry{state0: int32(len(v.stateAt)), number: b.first[s]}
		emit := func(at timestamp.Time) {
			if entry.nState > 0 {
				last := len(v.stateAt) - 1
				same := v.stateRegion[last] == uint32(cur[0])
				for f := 0; same && f < nSlots; f++ {
					same = v.stateAttr[last*nSlots+f] == uint32(cur[f+1])
				}
				if same {
					return
				}
				if v.stateAt[last] == at {
					// Two events at the same time: the later one's result stands.
					v.stateRegion[last] = uint32(cur[0])
					for f := 0; f < nSlots; f++ {
						v.stateAttr[last*nSlots+f] = uint32(cur[f+1])
					}
					return
				}
			}
			v.stateAt = append(v.stateAt, at)
			v.stateRegion = append(v.stateRegion, uint32(cur[0]))
			for f := 0; f < nSlots; f++ {
				v.stateAttr = append(v.stateAttr, uint32(cur[f+1]))
			}
			entry.nState++
		}
		emit(timestamp.Min)
		for _, e := range grp {
			if r := b.subj[e].region; r >= 0 {
				cur[0] = r
			}
			for f := 0; f < nSlots; f++ {
				if x := b.subjVal[int(e)*nSlots+f]; x >= 0 {
					cur[f+1] = x
				}
			}
			emit(b.subj[e].at)
		}
		v.subjects = append(v.subjects, entry)
	}
	b.ids.remap(newIdx)

	// Consent events of known subjects, grouped the same way.
	ccount := make([]int32, len(v.subjects)+1)
	for _, c := range b.cons {
		if s := newIdx[c.subj]; s >= 0 {
			ccount[s+1]++
		}
	}
	for i := 1; i <= len(v.subjects); i++ {
		ccount[i] += ccount[i-1]
	}
	v.consent = make([]viewEvent, ccount[len(v.subjects)])
	cpos := append([]int32(nil), ccount[:len(v.subjects)]...)
	for _, c := range b.cons {
		if s := newIdx[c.subj]; s >= 0 {
			v.consent[cpos[s]] = c.viewEvent
			cpos[s]++
		}
	}
	for s := range v.subjects {
		grp := v.consent[ccount[s]:ccount[s+1]]
		v.subjects[s].cons0, v.subjects[s].nCons = ccount[s], int32(len(grp))
		less := func(x, y int) bool {
			if grp[x].at != grp[y].at {
				return grp[x].at < grp[y].at
			}
			return grp[x].seq < grp[y].seq
		}
		if !sort.SliceIsSorted(grp, less) {
			sort.SliceStable(grp, less)
		}
	}
	return v
}

func (b *Builder) before(x, y int32) bool {
	a, c := &b.subj[x], &b.subj[y]
	if a.at != c.at {
		return a.at < c.at
	}
	return a.seq < c.seq
}
