package record

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/policy"
)

type encInner struct {
	Kind string   `parquet:"kind"`
	Tags []string `parquet:"tags,list"`
}

type encRow struct {
	ID    string            `parquet:"id"`
	Micro time.Time         `parquet:"micro,timestamp(microsecond)"`
	Milli time.Time         `parquet:"milli,timestamp(millisecond)"`
	Nano  time.Time         `parquet:"nano,timestamp(nanosecond)"`
	Inner encInner          `parquet:"inner"`
	Opt   *string           `parquet:"opt,optional"`
	Attrs map[string]string `parquet:"attrs"`
	N     int64             `parquet:"n"`
	F     float64           `parquet:"f"`
	Blob  []byte            `parquet:"blob"`
	Flag  bool              `parquet:"flag"`
}

func encodeRows(t *testing.T, rows []encRow) []string {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[encRow](&buf)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	enc := NewRowEncoder(f.Schema())
	prs := make([]parquet.Row, len(rows))
	n, _ := f.RowGroups()[0].Rows().ReadRows(prs)
	var out []string
	for _, r := range prs[:n] {
		b, err := enc.Append(nil, r)
		if err != nil {
			if !errors.Is(err, ErrRowUnreadable) {
				t.Fatalf("error %v does not wrap ErrRowUnreadable", err)
			}
			out = append(out, "error: "+err.Error())
			continue
		}
		out = append(out, string(b))
	}
	return out
}

// TestRowEncoder: a row's canonical JSON, nested and typed as SPEC §3
// reads it, and rows with no JSON form failing closed.
func TestRowEncoder(t *testing.T) {
	at := time.Date(2024, 10, 1, 12, 30, 0, 123456000, time.UTC)
	x := "x"
	got := encodeRows(t, []encRow{
		{ID: "r1", Micro: at, Milli: at, Nano: at, Inner: encInner{"k", []string{"a", "b"}}, Opt: &x,
			Attrs: map[string]string{"z": "1", "a": "2"}, N: 7, F: 1.5, Blob: []byte{0xff, 0}, Flag: true},
		{ID: "r2", Micro: at, Milli: at, Nano: at, F: math.NaN()},
		{ID: "r3", Micro: at, Milli: at, Nano: at, Inner: encInner{Kind: "\xff"}},
	})
	want := []string{
		`{"attrs":{"a":"2","z":"1"},"blob":"/wA=","f":1.5,"flag":true,"id":"r1","inner":{"kind":"k","tags":["a","b"]},` +
			`"micro":"2024-10-01T12:30:00.123456Z","milli":"2024-10-01T12:30:00.123Z","n":7,"nano":"2024-10-01T12:30:00.123456Z","opt":"x"}`,
		"error: the Parquet row cannot be read as a JSON object: column f: a number JSON cannot hold",
		"error: the Parquet row cannot be read as a JSON object: column inner.kind: a string that is not UTF-8",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rows: %q", len(got), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d:\n got %s\nwant %s", i+1, got[i], want[i])
		}
	}
	// The canonical JSON is a record line like any other.
	var rec decision.Record
	r := NewReader(Fields{ID: "id", Time: "micro", Category: "inner.kind", Subjects: []SubjectField{{Role: policy.Author, Path: "inner.tags"}}})
	id, err := r.Read([]byte(got[0]), &rec)
	if err != nil || string(id) != "r1" || len(rec.Subjects) != 2 || string(rec.Category) != "k" {
		t.Errorf("Read: id %q, %v, %+v", id, err, rec)
	}
}

func TestIsParquet(t *testing.T) {
	for _, c := range []struct {
		path, format string
		want         bool
	}{
		{"a.parquet", "", true}, {"a.PARQUET", "", true}, {"a.jsonl", "", false}, {"a.data", "parquet", true}, {"a.parquet", "jsonl", false},
		{"s3://b/k/a.parquet", "", true}, {"s3://b/a.parquet?region=eu-west-1", "", true}, {"s3://b/a.jsonl?x=.parquet", "", false},
	} {
		if got := IsParquet(c.path, c.format); got != c.want {
			t.Errorf("IsParquet(%q, %q) = %v", c.path, c.format, got)
		}
	}
}
