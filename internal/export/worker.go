package export

import (
	"bytes"
	"crypto/sha256"
	"strconv"
	"unicode/utf8"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/consentgate/consentgate/internal/decision"
	"github.com/consentgate/consentgate/internal/record"
)

// worker decides the lines of batches. Each worker owns its reader and
// scratch space, and records which subjects it included and which policy
// versions it consulted.
type worker struct {
	plan     *decision.Plan
	reader   *record.Reader
	rec      decision.Record
	inputs   []string
	subjects []uint64
	versions []bool
	leaf     []byte
}

func newWorker(p *decision.Plan, f record.Fields, inputs []string) *worker {
	return &worker{plan: p, reader: record.NewReader(f), inputs: inputs,
		subjects: make([]uint64, (p.View().Len()+63)/64), versions: make([]bool, p.Versions().Len())}
}

func blank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

func (w *worker) process(b *batch) {
	for _, n := range b.tooLong {
		b.read++
		w.reject(b, n, nil, decision.Result{Reason: decision.ReasonMalformed}, "line longer than 16 MiB")
	}
	data := b.data
	n := b.line - 1
	vs := w.plan.Versions()
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		n++
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 || blank(line) {
			continue
		}
		b.read++
		id, err := w.reader.Read(line, &w.rec)
		if err != nil {
			w.reject(b, n, id, decision.Result{Reason: decision.ReasonMalformed}, err.Error())
			continue
		}
		res := w.plan.Decide(&w.rec)
		if res.Check != decision.NoCheck || res.Allow {
			w.versions[vs.IndexAt(w.rec.Created)] = true
			w.versions[vs.IndexAt(w.plan.View().AsOf)] = true
		}
		if !res.Allow {
			w.reject(b, n, id, res, "")
			continue
		}
		b.included++
		b.out = append(append(b.out, line...), '\n')
		// records_root leaf: id ‖ 0x00 ‖ SHA-256(line).
		sum := sha256.Sum256(line)
		w.leaf = append(append(append(w.leaf[:0], id...), 0), sum[:]...)
		b.leaves = append(b.leaves, rfc6962.DefaultHasher.HashLeaf(w.leaf)...)
		for _, s := range w.rec.Subjects {
			if i, ok := w.plan.View().LookupBytes(s.ID); ok {
				w.subjects[i>>6] |= 1 << (uint(i) & 63)
			}
		}
	}
}

// reject appends one line to the batch's rejects: file, line, id, reason,
// and where it failed — never content.
func (w *worker) reject(b *batch, line int, id []byte, res decision.Result, detail string) {
	b.reasons[res.Reason]++
	r := append(b.rejects, `{"file":`...)
	r = appendJSONString(r, w.inputs[b.file])
	r = append(r, `,"line":`...)
	r = strconv.AppendInt(r, int64(line), 10)
	if id != nil {
		r = append(r, `,"id":`...)
		r = appendJSONString(r, string(id))
	}
	r = append(r, `,"reason":`...)
	r = appendJSONString(r, res.Reason)
	if res.Subject != "" {
		r = append(r, `,"subject":`...)
		r = appendJSONString(r, res.Subject)
		r = append(r, `,"role":"`...)
		r = append(r, res.Role.String()...)
		r = append(r, '"')
	}
	if res.Check != decision.NoCheck {
		r = append(r, `,"check":"`...)
		r = append(r, res.Check.String()...)
		r = append(r, '"')
	}
	if detail != "" {
		r = append(r, `,"detail":`...)
		r = appendJSONString(r, detail)
	}
	b.rejects = append(r, "}\n"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string (no HTML escaping).
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
