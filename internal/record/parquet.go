package record

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

// IsParquet reports whether an input is read as Parquet: inFormat
// "parquet", or inFormat "" and the .parquet extension (SPEC §3) — of an
// object-store URL's key, before its bucket options (?region=…).
func IsParquet(path, inFormat string) bool {
	if inFormat != "" {
		return inFormat == "parquet"
	}
	if strings.Contains(path, "://") {
		path, _, _ = strings.Cut(path, "?")
	}
	return strings.EqualFold(filepath.Ext(path), ".parquet")
}

// ErrRowUnreadable is the detail of a Parquet row that has no JSON form
// (a NaN, a string that is not UTF-8, a value the schema does not
// describe): the row fails closed as malformed, like a bad line.
var ErrRowUnreadable = errors.New("the Parquet row cannot be read as a JSON object")

// RowEncoder turns the rows of one Parquet schema into their RFC 8785
// canonical JSON: groups become objects (so dotted paths name nested
// columns), LIST columns arrays, MAP columns objects, TIMESTAMP columns
// RFC 3339 strings in UTC to the microsecond, STRING, ENUM and JSON
// columns strings, other byte arrays base64 strings, and missing optional
// values null. The canonical JSON holds no raw newline, so it is one line;
// the Reader reads it like any other line, and records_root hashes it in
// place of a line (SPEC §5). A RowEncoder is not safe for concurrent use.
type RowEncoder struct {
	schema  *parquet.Schema
	direct  *encNode // nil when the schema is encoded the reference way only
	state   rowState
	scratch []byte
}

// NewRowEncoder returns an encoder for rows of schema.
func NewRowEncoder(schema *parquet.Schema) *RowEncoder {
	return &RowEncoder{schema: schema, direct: compileRow(schema)}
}

// Schema returns the schema the encoder was made for.
func (e *RowEncoder) Schema() *parquet.Schema { return e.schema }

// Append appends row's canonical JSON to dst. An error wraps
// ErrRowUnreadable and names the column, never the content.
func (e *RowEncoder) Append(dst []byte, row parquet.Row) ([]byte, error) {
	if e.direct != nil {
		if out, err := e.state.appendDirect(dst, e.direct, row); err == nil {
			return out, nil
		}
	}
	return e.appendReference(dst, row)
}

// appendReference is Append the reference way: the row reconstructed as
// Go values, converted (jsonValue), marshalled by encoding/json and
// canonicalised by RFC 8785. It defines the bytes and the errors: the
// direct encoder writes the same bytes faster, and leaves to this way
// every row it cannot write (every error included).
func (e *RowEncoder) appendReference(dst []byte, row parquet.Row) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = dst, ErrRowUnreadable
		}
	}()
	m := map[string]any{}
	if err := e.schema.Reconstruct(&m, row); err != nil {
		return dst, ErrRowUnreadable
	}
	v, err := jsonValue(e.schema, m, "")
	if err != nil {
		return dst, fmt.Errorf("%w: %v", ErrRowUnreadable, err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		return dst, ErrRowUnreadable
	}
	c, err := jcs.Transform(j)
	if err != nil {
		return dst, ErrRowUnreadable
	}
	return append(dst, c...), nil
}

// jsonValue converts what Schema.Reconstruct made of node's value into a
// value encoding/json renders as the row's JSON.
func jsonValue(node parquet.Node, v any, path string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if node.Repeated() {
		return jsonList(node, parquet.Required(node), v, path)
	}
	lt := node.Type().LogicalType()
	if !node.Leaf() {
		switch {
		case lt != nil && isLogical[*format.ListType](lt):
			return jsonLogicalList(node, v, path)
		case lt != nil && isLogical[*format.MapType](lt):
			return jsonMap(node, v, path)
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("column %s is not a group", path)
		}
		out := make(map[string]any, len(obj))
		for _, f := range node.Fields() {
			fv, present := obj[f.Name()]
			if !present {
				continue
			}
			c, err := jsonValue(f, fv, join(path, f.Name()))
			if err != nil {
				return nil, err
			}
			out[f.Name()] = c
		}
		return out, nil
	}
	return jsonLeaf(node.Type(), v, path)
}

// textual reports whether a byte-array column holds text: annotated
// STRING, ENUM or JSON, as a logical or a converted type.
func textual(t parquet.Type) bool {
	if lt := t.LogicalType(); lt != nil && (isLogical[*format.StringType](lt) || isLogical[*format.EnumType](lt) || isLogical[*format.JsonType](lt)) {
		return true
	}
	if ct := t.ConvertedType(); ct != nil {
		switch *ct {
		case deprecated.UTF8, deprecated.Enum, deprecated.Json:
			return true
		}
	}
	return false
}

func jsonLeaf(typ parquet.Type, v any, path string) (any, error) {
	lt := typ.LogicalType()
	if lt != nil {
		if ts, ok := lt.Value.(*format.TimestampType); ok {
			n, ok := v.(int64)
			if !ok {
				return nil, fmt.Errorf("column %s: a timestamp that is not an INT64", path)
			}
			var t time.Time
			switch ts.Unit.Value.(type) {
			case *format.MilliSeconds:
				t = time.UnixMilli(n)
			case *format.NanoSeconds:
				t = time.Unix(0, n)
			default:
				t = time.UnixMicro(n)
			}
			return t.UTC().Format("2006-01-02T15:04:05.999999Z07:00"), nil
		}
	}
	switch x := v.(type) {
	case []byte:
		return jsonBytes(typ, string(x), path)
	case string:
		return jsonBytes(typ, x, path)
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("column %s: a number JSON cannot hold", path)
		}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("column %s: a number JSON cannot hold", path)
		}
	case [12]byte, parquet.Value: // INT96 and the like: no JSON form
		return nil, fmt.Errorf("column %s: a value with no JSON form", path)
	}
	return v, nil
}

// jsonBytes converts a byte array: text (which must be UTF-8) as a
// string, anything else as a base64 string.
func jsonBytes(typ parquet.Type, x, path string) (any, error) {
	if !textual(typ) {
		return base64.StdEncoding.EncodeToString([]byte(x)), nil
	}
	if !utf8.ValidString(x) {
		return nil, fmt.Errorf("column %s: a string that is not UTF-8", path)
	}
	return x, nil
}

// jsonList converts the values of a repeated node (elem is the node of one
// element).
func jsonList(node, elem parquet.Node, v any, path string) (any, error) {
	xs, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("column %s is not a list", path)
	}
	out := make([]any, len(xs))
	for i, x := range xs {
		c, err := jsonValue(elem, x, path)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// jsonLogicalList converts a LIST group: group (LIST) { repeated group list
// { element } }.
func jsonLogicalList(node parquet.Node, v any, path string) (any, error) {
	fs := node.Fields()
	if len(fs) != 1 {
		return nil, fmt.Errorf("column %s: a LIST without one repeated field", path)
	}
	rep := fs[0]
	elem := parquet.Node(rep)
	if !rep.Leaf() && len(rep.Fields()) == 1 {
		elem = rep.Fields()[0]
	}
	xs, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("column %s is not a list", path)
	}
	out := make([]any, len(xs))
	for i, x := range xs {
		c, err := jsonValue(parquet.Required(elem), x, path)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// jsonMap converts a MAP group: group (MAP) { repeated group key_value {
// key; value } }, whose keys become the object's keys.
func jsonMap(node parquet.Node, v any, path string) (any, error) {
	var valNode parquet.Node
	if fs := node.Fields(); len(fs) == 1 && len(fs[0].Fields()) == 2 {
		valNode = fs[0].Fields()[1]
	} else {
		return nil, fmt.Errorf("column %s: a MAP without a key_value group", path)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("column %s: a map whose keys are not strings", path)
	}
	out := make(map[string]any, len(obj))
	for k, x := range obj {
		if !utf8.ValidString(k) {
			return nil, fmt.Errorf("column %s: a key that is not UTF-8", path)
		}
		c, err := jsonValue(parquet.Required(valNode), x, join(path, k))
		if err != nil {
			return nil, err
		}
		out[k] = c
	}
	return out, nil
}

func isLogical[T any](lt *format.LogicalType) bool {
	_, ok := lt.Value.(T)
	return ok
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
