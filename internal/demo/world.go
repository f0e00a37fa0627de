// Package demo owns the guided tour's world: a generated professional
// network — members in many countries (every strict region among them),
// free and premium tiers, moves and lapsed subscriptions, public posts and
// private messages from 2022 to 2025, opt-outs and opt-ins around the
// September 2024 policy change — and the three policy versions of the
// motivating case. Everything is deterministic for a given seed.
package demo

import (
	"bufio"
	"embed"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

//go:embed policies/*.yaml
var policies embed.FS

// PolicyFiles returns the demo's policy versions in publication order, by
// file name.
func PolicyFiles() ([]string, map[string][]byte) {
	entries, _ := policies.ReadDir("policies")
	var names []string
	files := map[string][]byte{}
	for _, e := range entries {
		b, _ := policies.ReadFile("policies/" + e.Name())
		names = append(names, e.Name())
		files[e.Name()] = b
	}
	sort.Strings(names)
	return names, files
}

// The export the tour builds.
const (
	ExportPurpose   = "train_ai_system.generative"
	ExportRecipient = "partner-x"
)

// AsOf is the tour's export time.
var AsOf = time.Date(2025, 1, 21, 0, 0, 0, 0, time.UTC)

// ExportFlags are the field flags for the tour's record files.
var ExportFlags = []string{"--id", "id", "--time", "created_at", "--category-field", "kind",
	"--subject", "author=author", "--subject", "recipient=to", "--subject", "mentioned=mentions"}

// Files are the paths the world was written to.
type Files struct {
	Dir      string
	Policies []string
	Subjects string
	Consent  string
	Posts    string
	Messages string
}

// Stats count what was generated.
type Stats struct {
	Members, Countries, Premium, Moves, Lapses int
	SubjectEvents, ConsentEvents               int
	Posts, Messages                            int
}

type member struct {
	id, handle, name string
	joined           time.Time
	region           string
	tier             string
}

var (
	strictCountries = strings.Fields("AT BE BG HR CY CZ DK EE FI FR DE GR IE IT LV LT LU MT NL PL PT RO SK SI ES SE HU IS LI NO GB CH CA HK CN")
	otherCountries  = strings.Fields("US US-CA US-NY US-TX IN BR JP AU MX SG ZA NG KR AR AE ID PH TR EG KE CO CL NZ IL")
	firstNames      = strings.Fields("Ana Ben Chloe Dev Eli Fatima Gus Hana Ivan Jun Kofi Lea Mateo Nia Omar Priya Quinn Rosa Sven Tariq Uma Vik Wen Yara Zoe")
	lastNames       = strings.Fields("Silva Okafor Novak Tanaka Müller Haddad Larsen Costa Kim Rossi Dubois Nguyen Patel Reyes Kowalski Ahmed Berg Chen Ortiz Fischer")
	words           = strings.Fields("team launch hiring roadmap quarterly growth design review customer product data pipeline offsite mentor promotion conference talk release feedback strategy partnership")
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func between(r *rand.Rand, a, b time.Time) time.Time {
	span := b.Sub(a)
	if span <= 0 {
		return a
	}
	return a.Add(time.Duration(r.Int64N(int64(span/time.Second))) * time.Second)
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Generate writes a world of n members into dir.
func Generate(dir string, n int, seed uint64) (*Files, *Stats, error) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	f := &Files{Dir: dir, Subjects: filepath.Join(dir, "subjects.jsonl"), Consent: filepath.Join(dir, "consent.jsonl"),
		Posts: filepath.Join(dir, "posts.jsonl"), Messages: filepath.Join(dir, "messages.jsonl")}
	st := &Stats{Members: n}
	if err := os.MkdirAll(filepath.Join(dir, "policies"), 0o755); err != nil {
		return nil, nil, err
	}
	names, files := PolicyFiles()
	for _, name := range names {
		p := filepath.Join(dir, "policies", name)
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return nil, nil, err
		}
		f.Policies = append(f.Policies, p)
	}

	// Members: every strict country is represented; most members are elsewhere.
	members := make([]member, n)
	countries := map[string]bool{}
	for i := range members {
		m := &members[i]
		m.id = fmt.Sprintf("m%05d", i+1)
		first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
		m.name = first + " " + last
		m.handle = fmt.Sprintf("@%s%s%d", strings.ToLower(first), strings.ToLower(last[:1]), i+1)
		m.joined = between(r, day(2021, 6, 1), day(2024, 6, 1))
		switch {
		case i < len(strictCountries):
			m.region = strictCountries[i]
		case r.IntN(100) < 30:
			m.region = strictCountries[r.IntN(len(strictCountries))]
		case r.IntN(100) < 2:
			m.region = "" // never told us where they are
		default:
			m.region = otherCountries[r.IntN(len(otherCountries))]
		}
		if m.region != "" {
			countries[strings.SplitN(m.region, "-", 2)[0]] = true
		}
		m.tier = "free"
		if r.IntN(100) < 20 {
			m.tier = "premium"
			st.Premium++
		}
	}
	st.Countries = len(countries)

	// Subject events: joining, moves, subscription changes.
	sw, err := newLines(f.Subjects)
	if err != nil {
		return nil, nil, err
	}
	for i := range members {
		m := &members[i]
		region := "null"
		if m.region != "" {
			region = `"` + m.region + `"`
		}
		sw.printf(`{"subject":%q,"at":%q,"region":%s,"attributes":{"tier":%q,"handle":%q,"name":%q}}`,
			m.id, ts(m.joined), region, m.tier, m.handle, m.name)
		st.SubjectEvents++
		switch k := r.IntN(100); {
		case k < 4 && m.region != "": // a move
			to := otherCountries[r.IntN(len(otherCountries))]
			if r.IntN(2) == 0 {
				to = strictCountries[r.IntN(len(strictCountries))]
			}
			sw.printf(`{"subject":%q,"at":%q,"region":%q}`, m.id, ts(between(r, m.joined, day(2024, 12, 1))), to)
			m.region = to
			st.Moves++
			st.SubjectEvents++
		case k < 10 && m.tier == "premium": // the subscription lapses
			sw.printf(`{"subject":%q,"at":%q,"attributes":{"tier":"free"}}`, m.id, ts(between(r, day(2024, 6, 1), day(2024, 12, 31))))
			st.Lapses++
			st.SubjectEvents++
		case k < 14 && m.tier == "free": // upgrades
			sw.printf(`{"subject":%q,"at":%q,"attributes":{"tier":"premium"}}`, m.id, ts(between(r, m.joined, day(2024, 12, 31))))
			st.SubjectEvents++
		}
	}
	if err := sw.close(); err != nil {
		return nil, nil, err
	}

	// Consent: opt-ins under the baseline, opt-outs before and after the
	// widening, opt-outs after the export, partner-specific refusals.
	cw, err := newLines(f.Consent)
	if err != nil {
		return nil, nil, err
	}
	consentLine := func(id, purpose, recipient, state string, at time.Time, source string) {
		rec := ""
		if recipient != "" {
			rec = fmt.Sprintf(`,"recipient":%q`, recipient)
		}
		cw.printf(`{"subject":%q,"purpose":%q%s,"state":%q,"at":%q,"source":%q}`, id, purpose, rec, state, ts(at), source)
		st.ConsentEvents++
	}
	for i := range members {
		m := &members[i]
		k := r.IntN(100)
		switch {
		case k < 8: // opted in under the baseline
			consentLine(m.id, "train_ai_system", "", "granted", between(r, maxTime(m.joined, day(2022, 1, 1)), day(2024, 7, 31)), "settings")
		case k < 16: // opted out when first-party training started
			consentLine(m.id, "train_ai_system", "", "denied", between(r, day(2024, 8, 1), day(2024, 9, 17)), "settings")
		case k < 22: // opted out after the widening, before the export
			consentLine(m.id, "train_ai_system", "", "denied", between(r, day(2024, 9, 19), day(2025, 1, 20)), "settings")
		case k < 26: // refused third parties only (some through Global Privacy Control)
			src := "settings"
			if r.IntN(2) == 0 {
				src = "gpc"
			}
			consentLine(m.id, "train_ai_system", "third_party", "denied", between(r, day(2024, 9, 19), day(2025, 1, 20)), src)
		case k < 34: // opted in after the widening, knowing about partners
			consentLine(m.id, "train_ai_system", "", "granted", between(r, day(2024, 9, 19), day(2025, 1, 20)), "settings")
		case k < 36: // granted the partner by name
			consentLine(m.id, "train_ai_system.generative", "partner-x", "granted", between(r, day(2024, 9, 19), day(2025, 1, 20)), "api")
		case k < 42: // opted out after the export had used their data
			consentLine(m.id, "train_ai_system", "", "denied", between(r, day(2025, 1, 22), day(2025, 6, 30)), "settings")
		}
	}
	if err := cw.close(); err != nil {
		return nil, nil, err
	}

	// Records.
	text := func() string {
		k := 3 + r.IntN(8)
		parts := make([]string, k)
		for i := range parts {
			parts[i] = words[r.IntN(len(words))]
		}
		return strings.Join(parts, " ")
	}
	pw, err := newLines(f.Posts)
	if err != nil {
		return nil, nil, err
	}
	end := day(2025, 3, 1) // some records postdate the export
	for i := range members {
		m := &members[i]
		for k := r.IntN(8); k > 0; k-- {
			st.Posts++
			created := between(r, maxTime(m.joined, day(2022, 1, 1)), end)
			mentions := ""
			if r.IntN(5) == 0 {
				mentions = fmt.Sprintf(`,"mentions":[%q]`, members[r.IntN(n)].id)
			}
			pw.printf(`{"id":"p%06d","kind":"user.content.public","author":%q%s,"created_at":%q,"text":%q,"likes":%d}`,
				st.Posts, m.id, mentions, ts(created), text(), r.IntN(500))
		}
	}
	// A few lines every export meets sooner or later.
	st.Posts++
	pw.printf(`{"id":"p%06d","kind":"user.content.public","author":"m99999","created_at":"2024-05-01T09:00:00Z","text":"from an account deleted long ago"}`, st.Posts)
	st.Posts++
	pw.printf(`{"id":"p%06d","kind":"user.content.draft","author":%q,"created_at":"2024-05-01T09:00:00Z","text":"an unsent draft"}`, st.Posts, members[0].id)
	st.Posts++
	pw.printf(`{"id":"p%06d","kind":"user.content.public","author":%q,"created_at":"last tuesday","text":"a bad timestamp"}`, st.Posts, members[1].id)
	st.Posts++
	pw.printf(`{"id":"p%06d","kind":"user.content.public","author":%q,"created_at":"2024-05-01T09:00:00Z","text":"cut off`, st.Posts, members[2].id)
	if err := pw.close(); err != nil {
		return nil, nil, err
	}
	mw, err := newLines(f.Messages)
	if err != nil {
		return nil, nil, err
	}
	for i := range members {
		m := &members[i]
		for k := r.IntN(6); k > 0; k-- {
			st.Messages++
			to := []string{members[r.IntN(n)].id}
			if r.IntN(4) == 0 {
				to = append(to, members[r.IntN(n)].id)
			}
			created := between(r, maxTime(m.joined, day(2022, 1, 1)), end)
			mw.printf(`{"id":"d%06d","kind":"user.content.private.message","author":%q,"to":["%s"],"created_at":%q,"text":%q}`,
				st.Messages, m.id, strings.Join(to, `","`), ts(created), text())
		}
	}
	if err := mw.close(); err != nil {
		return nil, nil, err
	}
	return f, st, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

type lines struct {
	f   *os.File
	w   *bufio.Writer
	err error
}

func newLines(path string) (*lines, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &lines{f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

func (l *lines) printf(format string, args ...any) {
	if l.err == nil {
		_, l.err = fmt.Fprintf(l.w, format+"\n", args...)
	}
}

func (l *lines) close() error {
	if err := l.w.Flush(); l.err == nil {
		l.err = err
	}
	if err := l.f.Close(); l.err == nil {
		l.err = err
	}
	return l.err
}
