package export

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressLinePhases(t *testing.T) {
	p := &progressLine{total: 400e6, phase: PhaseRecords}
	t0 := time.Now()
	p.phaseStart = t0
	p.bytesIn, p.records = 100e6, 500_000
	got := p.line(t0.Add(time.Second))
	if want := "export: records: 500000 read, 100.0 of 400.0 MB (25%), 100 MB/s, about 3s left"; got != want {
		t.Fatalf("records line %q, want %q", got, want)
	}
	p.phase = PhaseView
	if got := p.line(t0.Add(1500 * time.Millisecond)); got != "export: loading the view… 1.5s" {
		t.Fatalf("view line %q", got)
	}
	var w bytes.Buffer
	p.w = &w
	p.draw("export: a longer line")
	p.draw("export: short")
	if !strings.HasSuffix(w.String(), "\rexport: short        ") {
		t.Fatalf("a shorter line does not blank the longer one's end: %q", w.String())
	}
}

// A phase shorter than the first redraw draws nothing; no writer, nothing.
func TestProgressQuietWhenQuick(t *testing.T) {
	var w bytes.Buffer
	stop := ProgressPhase(&w, PhaseView)
	stop()
	ProgressPhase(nil, PhaseView)()
	if w.Len() != 0 {
		t.Fatalf("drew %q", w.String())
	}
	stop = ProgressPhase(&w, PhaseView)
	time.Sleep(progressEvery + 100*time.Millisecond)
	stop()
	if s := w.String(); !strings.HasPrefix(s, "\rexport: loading the view… ") || !strings.HasSuffix(s, "\r") {
		t.Fatalf("drew %q", s)
	}
}
