package snapshot_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/consentgate/consentgate/internal/consent"
	"github.com/consentgate/consentgate/internal/demo"
	"github.com/consentgate/consentgate/internal/policy"
	"github.com/consentgate/consentgate/internal/snapshot"
	"github.com/consentgate/consentgate/internal/sqlite"
	"github.com/consentgate/consentgate/internal/store"
	"github.com/consentgate/consentgate/internal/timestamp"
)

var asOf = timestamp.FromTime(time.Date(2025, 1, 21, 0, 0, 0, 0, time.UTC))

// world imports the demo's generated network into a real SQLite store,
// plus a subject whose first stored event lies after the as-of time and a
// second, earlier one stored after it (so its number comes from the later
// event).
func world(t *testing.T) (store.Store, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	files, _, err := demo.Generate(dir, 300, 11)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	names, srcs := demo.PolicyFiles()
	for i, n := range names {
		doc, _, err := policy.Parse(n, srcs[n])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.PublishPolicy(ctx, store.Policy{Version: doc.Version, EffectiveFrom: doc.EffectiveFrom,
			Source: doc.Source, Digest: doc.Digest(), PublishedAt: timestamp.Time(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	now := timestamp.Now()
	subs, err := consent.ReadSubjectsFile(files.Subjects, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddSubjectEvents(ctx, subs); err != nil {
		t.Fatal(err)
	}
	cons, err := consent.ReadConsentFile(files.Consent, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddConsentEvents(ctx, cons); err != nil {
		t.Fatal(err)
	}
	fr := "FR"
	for _, at := range []timestamp.Time{asOf + 1_000_000, asOf - 1_000_000} {
		if _, err := st.AddSubjectEvents(ctx, []consent.SubjectEvent{{Subject: "late-ann", At: at, RegionSet: true, Region: fr,
			Attributes: map[string]*string{"tier": &fr}}}); err != nil {
			t.Fatal(err)
		}
	}
	return st, dir
}

type subjectDump struct {
	ID      string
	Number  int64
	States  []string
	Consent []consent.Event
}

// dump lists everything a view holds, subject by subject.
func dump(v *consent.View) []subjectDump {
	var out []subjectDump
	for i := range v.Len() {
		d := subjectDump{ID: v.ID(i), Number: v.Number(i)}
		t := timestamp.Time(-1 << 62)
		for {
			s := v.StateAt(i, t)
			d.States = append(d.States, fmt.Sprintf("%s region=%q attrs=%v", t, v.Regions[v.StateRegion(s)], v.Attrs(s)))
			next, ok := v.ChangedAfter(i, t)
			if !ok {
				break
			}
			t = next
		}
		for k := range v.NumConsent(i) {
			d.Consent = append(d.Consent, v.ConsentEvent(i, k))
		}
		out = append(out, d)
	}
	return out
}

func TestRoundTripMatchesTheStore(t *testing.T) {
	ctx := context.Background()
	st, dir := world(t)
	path := filepath.Join(dir, "snap.cgs")
	sum, err := snapshot.Write(ctx, st, asOf, timestamp.Now(), path)
	if err != nil {
		t.Fatal(err)
	}
	if sum.SubjectEvents == 0 || sum.ConsentEvents == 0 || sum.LaterSubjects == 0 || len(sum.Policies) != 3 {
		t.Fatalf("summary %+v", sum)
	}
	ver, err := snapshot.Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	if ver.Counts != sum.Counts || ver.SHA256 != sum.SHA256 || ver.Bytes != sum.Bytes {
		t.Fatalf("verify %+v, write %+v", ver, sum)
	}

	vs, ps, err := store.LoadVersions(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	attrs := append(vs.Attributes(), "handle", "name", "tier")
	want, err := store.LoadView(ctx, st, asOf, attrs, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := snapshot.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !reflect.DeepEqual(f.Policies, ps) {
		t.Fatalf("policies differ:\n%+v\n%+v", f.Policies, ps)
	}
	if _, err := f.Versions(); err != nil {
		t.Fatal(err)
	}
	got, counts, err := f.LoadView(attrs)
	if err != nil {
		t.Fatal(err)
	}
	if counts != sum.Counts {
		t.Fatalf("counts %+v, want %+v", counts, sum.Counts)
	}
	gd, wd := dump(got), dump(want)
	if len(gd) != len(wd) || len(gd) < 300 {
		t.Fatalf("%d subjects from the snapshot, %d from the store", len(gd), len(wd))
	}
	for i := range wd {
		if !reflect.DeepEqual(gd[i], wd[i]) {
			t.Fatalf("subject %d differs:\nsnapshot %+v\nstore    %+v", i, gd[i], wd[i])
		}
	}
	// The late subject is numbered by its first stored event, which lies
	// after the as-of time: the snapshot kept its sequence number.
	i, ok := got.Lookup("late-ann")
	if !ok || len(gd[i].States) != 1 {
		t.Fatalf("late-ann: %v %+v", ok, gd[i])
	}
	if _, _, err := f.LoadView(attrs); err == nil {
		t.Fatal("a second LoadView succeeded")
	}
}

func TestDamageIsCaught(t *testing.T) {
	ctx := context.Background()
	st, dir := world(t)
	path := filepath.Join(dir, "snap.cgs")
	if _, err := snapshot.Write(ctx, st, asOf, timestamp.Now(), path); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		edit func([]byte) []byte
		want string
	}{
		"a flipped byte in the body":     {func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }, ""},
		"a flipped byte in the checksum": {func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, "checksum mismatch"},
		"truncated":                      {func(b []byte) []byte { return b[:len(b)-100] }, ""},
		"only the start":                 {func(b []byte) []byte { return b[:20] }, ""},
		"not a snapshot":                 {func(b []byte) []byte { return []byte(strings.Repeat("{}\n", 30)) }, "not a consentgate snapshot"},
		"a newer version":                {func(b []byte) []byte { b[7] = 9; return b }, "format version 9"},
		"empty":                          {func(b []byte) []byte { return nil }, "too short"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.cgs")
			if err := os.WriteFile(p, c.edit(append([]byte(nil), good...)), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := snapshot.Verify(p)
			if err == nil {
				t.Fatal("verified")
			}
			if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q: want the file name and %q", err, c.want)
			}
			// LoadView refuses it too, returning no view.
			f, err := snapshot.Open(p)
			if err != nil {
				return
			}
			defer f.Close()
			if v, _, err := f.LoadView(nil); err == nil || v != nil {
				t.Fatalf("LoadView of a damaged file: %v, %v", v, err)
			}
		})
	}
}

func TestWriteIsAtomic(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "empty.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	path := filepath.Join(dir, "snap.cgs")
	if _, err := snapshot.Write(ctx, st, asOf, timestamp.Now(), path); err == nil || !strings.Contains(err.Error(), "no policy") {
		t.Fatalf("a store without policies: %v", err)
	}
	// A cancelled scan leaves nothing behind either.
	full, _ := world(t)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := snapshot.Write(cctx, full, asOf, timestamp.Now(), path); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "snap") {
			t.Fatalf("left %s behind", e.Name())
		}
	}
}

// FuzzVerify: any damage to a snapshot is reported as an error naming the
// file, never a panic, and nothing but the file as written verifies.
func FuzzVerify(f *testing.F) {
	ctx := context.Background()
	dir := f.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "s.db"))
	if err != nil {
		f.Fatal(err)
	}
	names, srcs := demo.PolicyFiles()
	doc, _, err := policy.Parse(names[0], srcs[names[0]])
	if err != nil {
		f.Fatal(err)
	}
	st.PublishPolicy(ctx, store.Policy{Version: doc.Version, EffectiveFrom: doc.EffectiveFrom, Source: doc.Source, Digest: doc.Digest(), PublishedAt: 1})
	st.AddSubjectEvents(ctx, []consent.SubjectEvent{{Subject: "a", At: 5, RegionSet: true, Region: "DE"}, {Subject: "b", At: asOf + 9}})
	st.AddConsentEvents(ctx, []consent.Event{{Subject: "a", Purpose: "p", State: policy.Denied, At: 7, Source: "api"}})
	good := filepath.Join(dir, "good.cgs")
	if _, err := snapshot.Write(ctx, st, asOf, 1, good); err != nil {
		f.Fatal(err)
	}
	st.Close()
	want, _ := os.ReadFile(good)
	f.Add(want)
	f.Add(want[:len(want)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "f.cgs")
		os.WriteFile(p, b, 0o600)
		_, err := snapshot.Verify(p)
		if bytes.Equal(b, want) {
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		if err == nil {
			t.Fatalf("a changed file verified (%d bytes)", len(b))
		}
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error without the file name: %v", err)
		}
	})
}
