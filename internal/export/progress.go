package export

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// The phases an export's progress line names.
const (
	PhaseView      = "loading the view"
	PhaseRecords   = "records"
	PhaseFinishing = "finishing (sync to disk, subjects_root, sign, log, rename)"
)

// progressEvery is how often the line is redrawn. Nothing is drawn before
// the first tick, so an export done sooner shows only its summary.
const progressEvery = 250 * time.Millisecond

// progressLine draws an export's progress on one terminal line (each
// redraw starts with \r): the phase it is in and how long it has taken; in
// the records pass, how much of the input is read, how fast, and an
// estimate of the time left from the bytes still to read.
type progressLine struct {
	w     io.Writer
	total int64 // bytes of input, 0 when unknown
	start time.Time

	mu         sync.Mutex
	phase      string
	phaseStart time.Time
	bytesIn    int64
	records    int64
	width      int // of the longest line drawn, to blank what a shorter one leaves

	stop chan struct{}
	done chan struct{}
}

func startProgress(w io.Writer, phase string, total int64) *progressLine {
	now := time.Now()
	p := &progressLine{w: w, total: total, start: now, phase: phase, phaseStart: now, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.mu.Lock()
				p.draw(p.line(time.Now()))
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// ProgressPhase shows a phase outside the export's own (the view's load,
// before Run) on w until stop is called; a nil w shows nothing.
func ProgressPhase(w io.Writer, phase string) (stop func()) {
	if w == nil {
		return func() {}
	}
	p := startProgress(w, phase, 0)
	return func() { p.end("") }
}

func (p *progressLine) setPhase(phase string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.phase, p.phaseStart = phase, time.Now()
	p.mu.Unlock()
}

func (p *progressLine) add(bytesIn, records int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.bytesIn, p.records = bytesIn, records
	p.mu.Unlock()
}

// line is what the line says now.
func (p *progressLine) line(now time.Time) string {
	secs := now.Sub(p.phaseStart).Seconds()
	if p.phase != PhaseRecords {
		return fmt.Sprintf("export: %s… %.1fs", p.phase, secs)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "export: records: %d read, %.1f", p.records, float64(p.bytesIn)/1e6)
	if p.total > 0 {
		fmt.Fprintf(&b, " of %.1f MB (%.0f%%)", float64(p.total)/1e6, 100*float64(p.bytesIn)/float64(p.total))
	} else {
		b.WriteString(" MB")
	}
	fmt.Fprintf(&b, ", %.0f MB/s", float64(p.bytesIn)/1e6/max(secs, 1e-9))
	if left, ok := p.timeLeft(secs); ok {
		fmt.Fprintf(&b, ", about %s left", left)
	}
	return b.String()
}

// timeLeft estimates the records pass's time left from its rate so far.
func (p *progressLine) timeLeft(secs float64) (string, bool) {
	if p.total <= 0 || p.bytesIn <= 0 || secs < 0.2 {
		return "", false
	}
	left := secs * float64(max(p.total-p.bytesIn, 0)) / float64(p.bytesIn)
	if left >= 60 {
		return fmt.Sprintf("%dm%02ds", int(left)/60, int(left)%60), true
	}
	return fmt.Sprintf("%.0fs", max(left, 1)), true
}

// draw writes a line over the last one.
func (p *progressLine) draw(s string) {
	pad := max(p.width-len(s), 0)
	p.width = max(p.width, len(s))
	fmt.Fprintf(p.w, "\r%s%s", s, strings.Repeat(" ", pad))
}

// end stops the redraws and draws final (with a newline) in their place,
// or blanks the line when final is "" and a line was drawn.
func (p *progressLine) end(final string) {
	if p == nil {
		return
	}
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case final != "":
		p.draw(final)
		fmt.Fprint(p.w, "\n")
	case p.width > 0:
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
	}
}
