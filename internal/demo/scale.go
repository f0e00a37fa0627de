package demo

import (
	"bufio"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// ScaleFiles are the files of a generated world for benchmarks.
type ScaleFiles struct {
	Subjects, Consent, Records string
}

// GenerateScale writes a large world for benchmarks: subjects members (one
// subject event each, a few with a second), about a third of them with a
// consent event, and records posts and messages (about 235 bytes each, like
// the 2 M records / 470 MB comparison of SPEC §10) in one file. It is fast
// and deterministic; the content is not meant to be read.
func GenerateScale(dir string, subjects, records int, seed uint64) (*ScaleFiles, error) {
	r := rand.New(rand.NewPCG(seed, seed+1))
	f := &ScaleFiles{Subjects: filepath.Join(dir, "subjects.jsonl"), Consent: filepath.Join(dir, "consent.jsonl"),
		Records: filepath.Join(dir, "records.jsonl")}
	write := func(path string, fn func(w *bufio.Writer, buf []byte) []byte) error {
		file, err := os.Create(path)
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(file, 1<<20)
		fn(w, make([]byte, 0, 1024))
		if err := w.Flush(); err != nil {
			file.Close()
			return err
		}
		return file.Close()
	}
	id := func(b []byte, prefix byte, n int) []byte {
		b = append(b, prefix)
		s := strconv.Itoa(n)
		for i := len(s); i < 7; i++ {
			b = append(b, '0')
		}
		return append(b, s...)
	}
	tsb := func(b []byte, t time.Time) []byte { return t.AppendFormat(b, time.RFC3339) }
	base := day(2021, 1, 1)
	span := day(2025, 1, 1).Sub(base)
	randTime := func() time.Time { return base.Add(time.Duration(r.Int64N(int64(span/time.Second))) * time.Second) }
	all := append(append([]string{}, strictCountries...), otherCountries...)
	all = append(all, otherCountries...)
	all = append(all, otherCountries...)

	err := write(f.Subjects, func(w *bufio.Writer, b []byte) []byte {
		for i := 0; i < subjects; i++ {
			b = append(b[:0], `{"subject":"`...)
			b = id(b, 'm', i)
			b = append(b, `","at":"`...)
			b = tsb(b, base.Add(-time.Duration(r.IntN(1000))*time.Hour))
			b = append(b, `","region":"`...)
			b = append(b, all[r.IntN(len(all))]...)
			b = append(b, `","attributes":{"tier":"`...)
			if r.IntN(5) == 0 {
				b = append(b, "premium"...)
			} else {
				b = append(b, "free"...)
			}
			b = append(b, `","handle":"@h`...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, "\"}}\n"...)
			if r.IntN(20) == 0 {
				b = append(b, `{"subject":"`...)
				b = id(b, 'm', i)
				b = append(b, `","at":"`...)
				b = tsb(b, randTime())
				b = append(b, `","region":"`...)
				b = append(b, all[r.IntN(len(all))]...)
				b = append(b, "\"}\n"...)
			}
			w.Write(b)
		}
		return b
	})
	if err != nil {
		return nil, err
	}
	err = write(f.Consent, func(w *bufio.Writer, b []byte) []byte {
		for i := 0; i < subjects; i++ {
			if r.IntN(3) != 0 {
				continue
			}
			b = append(b[:0], `{"subject":"`...)
			b = id(b, 'm', i)
			b = append(b, `","purpose":"train_ai_system","state":"`...)
			if r.IntN(2) == 0 {
				b = append(b, "granted"...)
			} else {
				b = append(b, "denied"...)
			}
			b = append(b, `","at":"`...)
			b = tsb(b, day(2024, 9, 19).Add(time.Duration(r.IntN(2000))*time.Hour))
			b = append(b, "\",\"source\":\"settings\"}\n"...)
			w.Write(b)
		}
		return b
	})
	if err != nil {
		return nil, err
	}
	text := []byte("Quarterly roadmap review with the design team went well; next we ship the data pipeline and hire two mentors. ")
	err = write(f.Records, func(w *bufio.Writer, b []byte) []byte {
		for i := 0; i < records; i++ {
			b = append(b[:0], `{"id":"`...)
			b = id(b, 'r', i)
			msg := r.IntN(3) == 0
			if msg {
				b = append(b, `","kind":"user.content.private.message","author":"`...)
			} else {
				b = append(b, `","kind":"user.content.public","author":"`...)
			}
			b = id(b, 'm', r.IntN(subjects))
			if msg {
				b = append(b, `","to":["`...)
				b = id(b, 'm', r.IntN(subjects))
				b = append(b, `"]`...)
			} else {
				b = append(b, '"')
			}
			b = append(b, `,"created_at":"`...)
			b = tsb(b, randTime())
			b = append(b, `","text":"`...)
			b = append(b, text[:60+r.IntN(50)]...)
			b = append(b, `","likes":`...)
			b = strconv.AppendInt(b, int64(r.IntN(1000)), 10)
			b = append(b, "}\n"...)
			w.Write(b)
		}
		return b
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}
