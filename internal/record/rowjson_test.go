package record

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/policy"
)

// genSchema makes random schemas of every shape Parquet files hold —
// groups, LIST, MAP, repeated and optional fields, and the leaf types
// the direct encoder knows and some it does not — and random rows for
// them, nulls, empty lists, odd strings and numbers JSON cannot hold
// included.
type genSchema struct {
	r *rand.Rand
}

type genNode struct {
	node parquet.Node
	gen  func() any
}

func (g *genSchema) leaf() genNode {
	r := g.r
	str := func() any {
		parts := []string{"a", "Zz", "é", "日本", "\"", "\\", "\n", "\t", "\x01", "\x1f", "\x7f", "<>&", "\u2028", "😀", " ", "/"}
		var b strings.Builder
		for n := r.IntN(6); n > 0; n-- {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		if r.IntN(40) == 0 {
			b.WriteString("\xff") // not UTF-8
		}
		return b.String()
	}
	i64 := func() any {
		switch r.IntN(5) {
		case 0:
			return int64(r.Uint64())
		case 1:
			return int64(r.IntN(1 << 54))
		case 2:
			return -int64(r.IntN(1 << 53))
		}
		return int64(r.IntN(2000)) - 1000
	}
	ts := func() any {
		switch r.IntN(4) {
		case 0:
			return int64(r.Uint64() >> 2)
		case 1:
			return -int64(r.Uint64() >> 8)
		}
		return int64(r.Int64N(4e12)) * 1000 // about 1970 to 2096 in microseconds
	}
	switch r.IntN(17) {
	case 0:
		return genNode{parquet.Leaf(parquet.BooleanType), func() any { return r.IntN(2) == 0 }}
	case 1:
		return genNode{parquet.Leaf(parquet.Int32Type), func() any { return int32(r.Uint32()) }}
	case 2:
		return genNode{parquet.Int(8), func() any { return int8(r.IntN(256) - 128) }}
	case 3:
		return genNode{parquet.Uint(32), func() any { return r.Uint32() }}
	case 4:
		return genNode{parquet.Leaf(parquet.Int64Type), i64}
	case 5:
		return genNode{parquet.Uint(64), func() any { return r.Uint64() >> uint(r.IntN(64)) }}
	case 6:
		return genNode{parquet.Leaf(parquet.FloatType), func() any {
			switch r.IntN(8) {
			case 0:
				return float32(math.NaN())
			case 1:
				return float32(r.IntN(1000))
			case 2:
				return float32(math.Inf(1))
			}
			return float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(60)-30)))
		}}
	case 7:
		return genNode{parquet.Leaf(parquet.DoubleType), func() any {
			switch r.IntN(8) {
			case 0:
				return math.NaN()
			case 1:
				return float64(r.IntN(1000)) - 500
			case 2:
				return math.Copysign(0, -1)
			case 3:
				return float64(r.Uint64())
			}
			return r.NormFloat64() * math.Pow(10, float64(r.IntN(60)-30))
		}}
	case 8, 9:
		return genNode{parquet.String(), str}
	case 10:
		return genNode{parquet.Leaf(parquet.ByteArrayType), func() any { return []byte(str().(string)) }}
	case 11:
		return genNode{parquet.Timestamp(parquet.Millisecond), ts}
	case 12:
		return genNode{parquet.Timestamp(parquet.Microsecond), ts}
	case 13:
		return genNode{parquet.Timestamp(parquet.Nanosecond), ts}
	case 14:
		return genNode{parquet.Enum(), str}
	case 15:
		return genNode{parquet.Date(), func() any { return int32(r.IntN(40000)) }}
	default:
		return genNode{parquet.JSON(), func() any { return `{"a":1}` }}
	}
}

func (g *genSchema) node(depth int) genNode {
	r := g.r
	var n genNode
	switch k := r.IntN(10); {
	case depth >= 3 || k < 4:
		n = g.leaf()
	case k < 6:
		n = g.group(depth + 1)
	case k < 8:
		e := g.node(depth + 1)
		n = genNode{parquet.List(e.node), func() any {
			xs := make([]any, r.IntN(4))
			for i := range xs {
				xs[i] = e.gen()
			}
			return xs
		}}
	default:
		v := g.node(depth + 1)
		n = genNode{parquet.Map(parquet.String(), v.node), func() any {
			m := map[string]any{}
			for i := r.IntN(4); i > 0; i-- {
				m[[]string{"k", "a", "é", "\U0001F600", "\uff61", "z\"", "K"}[r.IntN(7)]] = v.gen()
			}
			return m
		}}
	}
	switch r.IntN(6) {
	case 0, 1:
		gen := n.gen
		return genNode{parquet.Optional(n.node), func() any {
			if r.IntN(3) == 0 {
				return nil
			}
			return gen()
		}}
	case 2:
		if lt := n.node.Type().LogicalType(); lt == nil || !isLogical[*format.ListType](lt) && !isLogical[*format.MapType](lt) {
			gen := n.gen
			return genNode{parquet.Repeated(n.node), func() any {
				xs := make([]any, r.IntN(3))
				for i := range xs {
					xs[i] = gen()
				}
				return xs
			}}
		}
	}
	return n
}

func (g *genSchema) group(depth int) genNode {
	grp := parquet.Group{}
	gens := map[string]func() any{}
	names := []string{"id", "a", "B", "b", "é", "z\"q", "\U0001F600", "\uff61", "x.y", "n1", "n2"}
	for i := 1 + g.r.IntN(4); i > 0; i-- {
		name := names[g.r.IntN(len(names))]
		n := g.node(depth)
		grp[name], gens[name] = n.node, n.gen
	}
	return genNode{grp, func() any {
		m := map[string]any{}
		for _, k := range slices.Sorted(maps.Keys(gens)) { // in one order, so that a seed makes one world
			m[k] = gens[k]()
		}
		return m
	}}
}

// shred turns v (nil, map[string]any for a group or a MAP, []any for a
// LIST or a repeated field, a scalar for a leaf) into the values of each
// leaf column below n, with their levels, as a Parquet writer does.
type shredder struct {
	cols [][]parquet.Value
}

func (s *shredder) shred(n parquet.Node, v any, col, rep, def, depth int) int {
	switch {
	case n.Repeated():
		xs, _ := v.([]any)
		if len(xs) == 0 {
			return s.nulls(n, col, rep, def)
		}
		next := col
		for i, x := range xs {
			r := rep
			if i > 0 {
				r = depth + 1
			}
			next = s.required(n, x, col, r, def+1, depth+1)
		}
		return next
	case n.Optional():
		if v == nil {
			return s.nulls(n, col, rep, def)
		}
		return s.required(n, v, col, rep, def+1, depth)
	}
	return s.required(n, v, col, rep, def, depth)
}

func (s *shredder) required(n parquet.Node, v any, col, rep, def, depth int) int {
	if n.Leaf() {
		val := parquet.ValueOf(v)
		if n.Type().Kind() == parquet.ByteArray {
			switch x := v.(type) {
			case string:
				val = parquet.ByteArrayValue([]byte(x))
			case []byte:
				val = parquet.ByteArrayValue(x)
			}
		}
		s.cols[col] = append(s.cols[col], val.Level(rep, def, col))
		return col + 1
	}
	if lt := n.Type().LogicalType(); lt != nil {
		switch {
		case isLogical[*format.ListType](lt):
			var elems []any
			for _, x := range v.([]any) {
				elems = append(elems, map[string]any{n.Fields()[0].Fields()[0].Name(): x})
			}
			v = map[string]any{n.Fields()[0].Name(): elems}
		case isLogical[*format.MapType](lt):
			kv := n.Fields()[0]
			m := v.(map[string]any)
			var entries []any
			for _, k := range slices.Sorted(maps.Keys(m)) {
				entries = append(entries, map[string]any{kv.Fields()[0].Name(): k, kv.Fields()[1].Name(): m[k]})
			}
			v = map[string]any{kv.Name(): entries}
		}
	}
	m, _ := v.(map[string]any)
	for _, f := range n.Fields() {
		col = s.shred(f, m[f.Name()], col, rep, def, depth)
	}
	return col
}

// nulls gives each leaf column below n one null at the levels given.
func (s *shredder) nulls(n parquet.Node, col, rep, def int) int {
	if n.Leaf() {
		s.cols[col] = append(s.cols[col], parquet.NullValue().Level(rep, def, col))
		return col + 1
	}
	for _, f := range n.Fields() {
		col = s.nulls(f, col, rep, def)
	}
	return col
}

// TestRowEncoderMatchesReference: on random schemas and rows, the direct
// encoder gives exactly the reference's bytes, or its error.
func TestRowEncoderMatchesReference(t *testing.T) {
	direct, total, directRows := 0, 0, 0
	for seed := uint64(0); seed < 400; seed++ {
		g := &genSchema{r: rand.New(rand.NewPCG(seed, 18))}
		root := g.group(0)
		schema := parquet.NewSchema("row", root.node.(parquet.Group))
		var buf bytes.Buffer
		w := parquet.NewWriter(&buf, schema)
		var written []any
		for i := 0; i < 30; i++ {
			v := root.gen()
			s := &shredder{cols: make([][]parquet.Value, len(schema.Columns()))}
			s.shred(schema, v, 0, 0, 0, 0)
			var row parquet.Row
			for _, c := range s.cols {
				row = append(row, c...)
			}
			if _, err := w.WriteRows([]parquet.Row{row}); err != nil {
				t.Fatalf("seed %d: parquet-go cannot write %v: %v", seed, v, err)
			}
			written = append(written, v)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		enc := NewRowEncoder(f.Schema())
		if enc.direct != nil {
			direct++
		}
		for _, rg := range f.RowGroups() {
			rows := rg.Rows()
			rs := make([]parquet.Row, 64)
			n, _ := rows.ReadRows(rs)
			rows.Close()
			for i, row := range rs[:n] {
				total++
				// Where the direct encoder gives up, Append is the reference
				// by construction; where it does not, it must be the
				// reference's bytes.
				if enc.direct == nil {
					continue
				}
				got, err := enc.state.appendDirect([]byte("prefix"), enc.direct, row)
				if err != nil {
					continue
				}
				directRows++
				want, wantErr := enc.appendReference([]byte("prefix"), row)
				viaAppend, _ := enc.Append([]byte("prefix"), row)
				if !bytes.Equal(got, want) || wantErr != nil || !bytes.Equal(viaAppend, got) {
					t.Errorf("seed %d row %d (%v), schema\n%s\n got %s\nwant %s (%v)", seed, i, written[i], f.Schema(), got, want, wantErr)
				}
			}
		}
	}
	if direct < 100 {
		t.Errorf("only %d of the schemas compiled for the direct encoder", direct)
	}
	if directRows < total/10 {
		t.Errorf("only %d of %d rows encoded the direct way", directRows, total)
	}
	t.Logf("%d schemas of 400 direct; %d rows, %d of them encoded the direct way", direct, total, directRows)
}

type benchEncRow struct {
	ID   string `parquet:"id"`
	Meta struct {
		Kind   string `parquet:"kind"`
		Author string `parquet:"author"`
	} `parquet:"meta"`
	To        []string  `parquet:"to,list"`
	CreatedAt time.Time `parquet:"created_at,timestamp(microsecond)"`
	Text      string    `parquet:"text"`
	Likes     int64     `parquet:"likes"`
}

// BenchmarkRowEncoder: one row of the export benchmark's shape (a
// struct, a list and a TIMESTAMP column), encoded the direct way and the
// reference way, and its fields read by a RowReader.
func BenchmarkRowEncoder(b *testing.B) {
	row := benchEncRow{ID: "r0001234", To: []string{"m0004567"}, CreatedAt: time.Date(2024, 10, 1, 12, 30, 0, 123456000, time.UTC),
		Text: "Quarterly roadmap review with the design team went well; next we ship the data", Likes: 417}
	row.Meta.Kind, row.Meta.Author = "user.content.private.message", "m0000042"
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[benchEncRow](&buf)
	if _, err := w.Write([]benchEncRow{row}); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		b.Fatal(err)
	}
	rs := make([]parquet.Row, 1)
	if n, _ := f.RowGroups()[0].Rows().ReadRows(rs); n != 1 {
		b.Fatal("no row")
	}
	enc := NewRowEncoder(f.Schema())
	if enc.direct == nil {
		b.Fatal("the benchmark's schema is not encoded the direct way")
	}
	rr := NewRowReader(enc, Fields{ID: "id", Time: "created_at", Category: "meta.kind", Subjects: []SubjectField{
		{Role: policy.Author, Path: "meta.author"}, {Role: policy.RecipientRole, Path: "to"}}})
	var rec decision.Record
	read := func(dst []byte, row parquet.Row) ([]byte, error) {
		if _, err, ok := rr.Read(row, &rec); !ok || err != nil {
			return nil, fmt.Errorf("read %v, %v", ok, err)
		}
		return dst, nil
	}
	for _, c := range []struct {
		name string
		fn   func([]byte, parquet.Row) ([]byte, error)
	}{{"direct", enc.Append}, {"reference", enc.appendReference}, {"fields", read}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var out []byte
			for b.Loop() {
				var err error
				if out, err = c.fn(out[:0], rs[0]); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(out)))
			_ = rec
		})
	}
}

// fieldPaths lists the dotted paths to every field below n that is not
// inside a list or a repeated field, with its node.
func fieldPaths(n parquet.Node, prefix string, out map[string]parquet.Node) {
	for _, f := range n.Fields() {
		p := join(prefix, f.Name())
		out[p] = f
		if !f.Leaf() && !f.Repeated() && f.Type().LogicalType() == nil {
			fieldPaths(f, p, out)
		}
	}
}

// TestRowReaderMatchesReader: on random schemas, fields and rows, the
// RowReader reads what Reader.Read reads from the row's canonical JSON —
// the same id, error, category, creation time and subjects — or leaves
// the row to the JSON way; and it never takes a row that has no JSON form.
func TestRowReaderMatchesReader(t *testing.T) {
	directRows, decided, total := 0, 0, 0
	errs := map[string]int{}
	defer func() { t.Log(errs) }()
	for seed := uint64(0); seed < 600; seed++ {
		g := &genSchema{r: rand.New(rand.NewPCG(seed, 19))}
		r := g.r
		root := g.group(0)
		// Fields of the kinds an export reads, beside the random ones.
		grp := root.node.(parquet.Group)
		ids := []string{"u1", "u2", "ü3", "a\"b", "", "u\n"}
		times := []string{"2024-10-01T00:00:00Z", "2024-10-01T00:00:00.5+02:00", "2024-13-01T00:00:00Z", "yesterday"}
		var extra []func(map[string]any)
		add := func(name string, n parquet.Node, gen func() any) {
			grp[name] = n
			extra = append(extra, func(m map[string]any) { m[name] = gen() })
		}
		maybe := func(n parquet.Node, gen func() any) (parquet.Node, func() any) {
			if r.IntN(2) == 0 {
				return n, gen
			}
			return parquet.Optional(n), func() any {
				if r.IntN(5) == 0 {
					return nil
				}
				return gen()
			}
		}
		add("rid", parquet.String(), func() any { return ids[r.IntN(len(ids))] })
		add("rt", parquet.Timestamp([]parquet.TimeUnit{parquet.Millisecond, parquet.Microsecond, parquet.Nanosecond}[r.IntN(3)]), func() any {
			if r.IntN(20) == 0 {
				return int64(r.Uint64() >> 1)
			}
			return int64(r.Int64N(4e12))
		})
		add("rts", parquet.String(), func() any { return times[r.IntN(len(times))] })
		add("rw", parquet.Optional(parquet.String()), func() any {
			if r.IntN(4) == 0 {
				return nil
			}
			return ids[r.IntN(len(ids))]
		})
		elem, egen := maybe(parquet.String(), func() any { return ids[r.IntN(len(ids))] })
		ln, lgen := maybe(parquet.List(elem), func() any {
			xs := make([]any, r.IntN(3))
			for i := range xs {
				xs[i] = egen()
			}
			return xs
		})
		add("rl", ln, lgen)
		add("rr", parquet.Repeated(parquet.String()), func() any {
			xs := make([]any, r.IntN(3))
			for i := range xs {
				xs[i] = ids[r.IntN(len(ids))]
			}
			return xs
		})
		gen := root.gen
		root.gen = func() any {
			m := gen().(map[string]any)
			for _, e := range extra {
				e(m)
			}
			return m
		}
		schema := parquet.NewSchema("row", grp)
		paths := map[string]parquet.Node{}
		fieldPaths(schema, "", paths)
		names := slices.Sorted(maps.Keys(paths))
		pick := func(good func(parquet.Node) bool) string {
			var fit []string
			for _, p := range names {
				if good(paths[p]) {
					fit = append(fit, p)
				}
			}
			switch {
			case len(fit) > 0 && r.IntN(4) != 0:
				return fit[r.IntN(len(fit))]
			case r.IntN(5) == 0:
				return "missing.field"
			}
			return names[r.IntN(len(names))]
		}
		isText := func(n parquet.Node) bool {
			return n.Leaf() && n.Type().Kind() == parquet.ByteArray && textual(n.Type())
		}
		isTime := func(n parquet.Node) bool {
			lt := n.Type().LogicalType()
			return n.Leaf() && lt != nil && isLogical[*format.TimestampType](lt)
		}
		f := Fields{ID: pick(isText), Time: pick(isTime)}
		if r.IntN(3) == 0 {
			f.FixedCategory = "c"
		} else {
			f.Category = pick(isText)
		}
		for i := 1 + r.IntN(2); i > 0; i-- {
			f.Subjects = append(f.Subjects, SubjectField{Role: policy.Role(i), Path: pick(func(n parquet.Node) bool {
				return isText(n) || !n.Leaf() && n.Type().LogicalType() != nil && isLogical[*format.ListType](n.Type().LogicalType())
			})})
		}
		if f.Validate() != nil {
			continue
		}
		var buf bytes.Buffer
		w := parquet.NewWriter(&buf, schema)
		for i := 0; i < 30; i++ {
			s := &shredder{cols: make([][]parquet.Value, len(schema.Columns()))}
			s.shred(schema, root.gen(), 0, 0, 0, 0)
			var row parquet.Row
			for _, c := range s.cols {
				row = append(row, c...)
			}
			if _, err := w.WriteRows([]parquet.Row{row}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		pf, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		rr := NewRowReader(NewRowEncoder(pf.Schema()), f)
		reader := NewReader(f)
		rows := pf.RowGroups()[0].Rows()
		rs := make([]parquet.Row, 64)
		n, _ := rows.ReadRows(rs)
		rows.Close()
		for i, row := range rs[:n] {
			total++
			var got, want decision.Record
			gotID, gotErr, ok := rr.Read(row, &got)
			if !ok {
				continue
			}
			directRows++
			line, err := rr.Encoder().Append(nil, row)
			if err != nil {
				t.Errorf("seed %d row %d: the RowReader read a row with no JSON form (%v)", seed, i, err)
				continue
			}
			wantID, wantErr := reader.Read(line, &want)
			if !bytes.Equal(gotID, wantID) || gotErr != wantErr {
				t.Errorf("seed %d row %d, fields %+v, line %s:\n got id %q, %v\nwant id %q, %v", seed, i, f, line, gotID, gotErr, wantID, wantErr)
				continue
			}
			errs[fmt.Sprint(wantErr)]++
			if wantErr != nil {
				continue
			}
			decided++
			if !bytes.Equal(got.Category, want.Category) || got.Created != want.Created || len(got.Subjects) != len(want.Subjects) {
				t.Errorf("seed %d row %d, fields %+v, line %s:\n got %+v\nwant %+v", seed, i, f, line, got, want)
				continue
			}
			for k := range got.Subjects {
				if !bytes.Equal(got.Subjects[k].ID, want.Subjects[k].ID) || got.Subjects[k].Role != want.Subjects[k].Role {
					t.Errorf("seed %d row %d subject %d: got %+v, want %+v", seed, i, k, got.Subjects[k], want.Subjects[k])
				}
			}
		}
	}
	if directRows < total/10 || decided < 200 {
		t.Errorf("only %d of %d rows read the direct way, %d of them decidable", directRows, total, decided)
	}
	t.Logf("%d rows, %d read the direct way, %d of them decidable", total, directRows, decided)
}
