package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/renderswarm/renderswarm/gui"
)

// progressBar draws one updating line on a terminal, and a line every few
// seconds otherwise (logs, CI).
type progressBar struct {
	w        io.Writer
	tty      bool
	start    time.Time
	lastLine time.Time
	lastText string
	drawn    bool
}

func newProgressBar(w io.Writer) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressBar{w: w, tty: tty, start: time.Now()}
}

func (b *progressBar) update(p gui.Progress) { b.line(progressLine(p)) }

// line shows one progress line.
func (b *progressBar) line(line string) {
	if b.tty {
		fmt.Fprintf(b.w, "\r\033[K%s", line)
		b.drawn = true
		return
	}
	// Not a terminal: a line when something changed (at most every 2 s),
	// and at least every 30 s.
	since := time.Since(b.lastLine)
	if line != b.lastText && since >= 2*time.Second || since >= 30*time.Second {
		fmt.Fprintln(b.w, line)
		b.lastLine, b.lastText = time.Now(), line
	}
}

func (b *progressBar) finish() {
	if b.drawn {
		fmt.Fprintln(b.w)
	}
}

// progressLine renders e.g.
// "downloading [#######.....] 58%  37.1 MiB/64.0 MiB  12.3 MiB/s  ETA 2s  3 peers".
func progressLine(p gui.Progress) string {
	if p.Total <= 0 {
		return fmt.Sprintf("%s…  %d peers", p.Phase, p.Peers)
	}
	frac := float64(p.Done) / float64(p.Total)
	frac = min(max(frac, 0), 1)
	const width = 24
	n := int(frac * width)
	bar := strings.Repeat("#", n) + strings.Repeat(".", width-n)
	eta := "--"
	if p.Rate > 0 && p.Done < p.Total {
		eta = (time.Duration(float64(p.Total-p.Done)/p.Rate) * time.Second).Round(time.Second).String()
	}
	return fmt.Sprintf("%s [%s] %3.0f%%  %s/%s  %s/s  ETA %s  %d peers",
		p.Phase, bar, frac*100, humanBytes(float64(p.Done)), humanBytes(float64(p.Total)),
		humanBytes(p.Rate), eta, p.Peers)
}

func humanBytes(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f %s", v, units[i])
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}
