package export

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// TestRowSinkOwnsPendingRows: the rows a Parquet sink holds back for its
// next run of rowRun must not point into the batch they came in, which
// goes back to the pool (its pages and arena reused) as soon as Write
// returns. The batch's bytes are overwritten after each Write, as a reused
// batch's are; the file must still hold the rows as they were.
func TestRowSinkOwnsPendingRows(t *testing.T) {
	type rec struct {
		ID   string `parquet:"id"`
		Text string `parquet:"text"`
	}
	schema := parquet.SchemaOf(rec{})
	var want []rec
	var out bytes.Buffer
	s := newRowSink(&hashWriter{w: &out, h: sha256.New()}, schema)
	arena := make([]byte, 0, 1<<16)
	for bn := 0; bn < 5; bn++ {
		b := &batch{}
		arena = arena[:0]
		for i := 0; i < 40; i++ { // fewer than rowRun: most stay pending across batches
			r := rec{ID: string(rune('a'+bn)) + "-" + string(rune('A'+i%26)), Text: bytes.NewBufferString("text of row").String()}
			want = append(append([]rec(nil), want...), r)
			start := len(arena)
			arena = append(arena, r.ID...)
			id := arena[start:len(arena):len(arena)]
			start = len(arena)
			arena = append(arena, r.Text...)
			text := arena[start:len(arena):len(arena)]
			b.rows = append(b.rows, parquet.Row{parquet.ByteArrayValue(id).Level(0, 0, 0), parquet.ByteArrayValue(text).Level(0, 0, 1)})
			b.kept = append(b.kept, int32(i))
		}
		if err := s.Write(b); err != nil {
			t.Fatal(err)
		}
		for i := range arena { // the batch reused
			arena[i] = 'x'
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := parquet.Read[rec](bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d = %+v, want %+v (a row held back pointed into its batch)", i, got[i], want[i])
		}
	}
}
