package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// bar is one horizontal bar: a value with an optional whisker and budget mark.
type bar struct {
	Label   string
	Value   float64 // bar length
	Whisker float64 // 0 = none (e.g. p90)
	Budget  float64 // 0 = none: a red tick
	Note    string  // printed after the bar
}

// panel is a titled group of bars sharing one axis.
type panel struct {
	Title, Unit string
	Bars        []bar
	// Series, when set, draws len(Series) sub-bars per label from Values.
	Series []string
	Values [][]float64 // [bar][series]
}

var seriesColors = []string{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2"}

// renderSVG draws the panels one above the other. Pure Go, no external tools.
func renderSVG(title string, panels []panel) string {
	const (
		width   = 960
		left    = 250 // label column
		right   = 150 // notes column
		rowH    = 20
		gap     = 6
		headerH = 44
	)
	plotW := float64(width - left - right)
	var b strings.Builder
	y := headerH
	var body strings.Builder
	for _, p := range panels {
		body.WriteString(fmt.Sprintf(`<text x="10" y="%d" class="t2">%s</text>`+"\n", y+14, esc(p.Title)))
		y += 26
		maxV := 0.0
		for i, br := range p.Bars {
			maxV = math.Max(maxV, math.Max(br.Value, math.Max(br.Whisker, br.Budget)))
			if p.Values != nil {
				for _, v := range p.Values[i] {
					maxV = math.Max(maxV, v)
				}
			}
		}
		if maxV <= 0 {
			maxV = 1
		}
		maxV = niceCeil(maxV)
		scale := plotW / maxV
		var bars strings.Builder // drawn over the grid
		top := y
		for i, br := range p.Bars {
			n := max(1, len(p.Series))
			h := rowH*n + gap
			bars.WriteString(fmt.Sprintf(`<text x="%d" y="%d" class="l">%s</text>`+"\n", left-8, y+rowH*n/2+4, esc(br.Label)))
			if p.Series == nil {
				w := br.Value * scale
				bars.WriteString(fmt.Sprintf(`<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y+2, w, rowH-4, seriesColors[0]))
				if br.Whisker > br.Value {
					x1, x2 := float64(left)+w, float64(left)+br.Whisker*scale
					bars.WriteString(fmt.Sprintf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="wh"/><line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="wh"/>`+"\n",
						x1, y+rowH/2, x2, y+rowH/2, x2, y+5, x2, y+rowH-5))
				}
				if br.Budget > 0 {
					x := float64(left) + br.Budget*scale
					bars.WriteString(fmt.Sprintf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="bud"/>`+"\n", x, y, x, y+rowH))
				}
			} else {
				for s, v := range p.Values[i] {
					bars.WriteString(fmt.Sprintf(`<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n",
						left, y+s*rowH+2, v*scale, rowH-4, seriesColors[s%len(seriesColors)]))
					bars.WriteString(fmt.Sprintf(`<text x="%.1f" y="%d" class="v">%s %s</text>`+"\n",
						float64(left)+v*scale+4, y+s*rowH+rowH/2+4, p.Series[s], fmtNum(v)))
				}
			}
			if br.Note != "" {
				bars.WriteString(fmt.Sprintf(`<text x="%d" y="%d" class="v">%s</text>`+"\n", width-right+8, y+rowH*n/2+4, esc(br.Note)))
			}
			y += h
		}
		// axis with 5 ticks
		for i := 0; i <= 5; i++ {
			v := maxV * float64(i) / 5
			x := float64(left) + v*scale
			body.WriteString(fmt.Sprintf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="grid"/>`+"\n", x, top, x, y))
			body.WriteString(fmt.Sprintf(`<text x="%.1f" y="%d" class="ax">%s</text>`+"\n", x, y+14, fmtNum(v)))
		}
		body.WriteString(bars.String())
		body.WriteString(fmt.Sprintf(`<text x="%d" y="%d" class="ax" text-anchor="end">%s</text>`+"\n", width-right, y+28, esc(p.Unit)))
		y += 44
	}
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif">`+"\n", width, y, width, y)
	b.WriteString(`<style>.t1{font-size:16px;font-weight:bold}.t2{font-size:13px;font-weight:bold}.l{font-size:12px;text-anchor:end}` +
		`.v{font-size:11px;fill:#333}.ax{font-size:10px;fill:#555;text-anchor:middle}.grid{stroke:#ddd;stroke-width:1}` +
		`.wh{stroke:#222;stroke-width:1.5}.bud{stroke:#d62728;stroke-width:2.5}</style>` + "\n")
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="24" class="t1">%s</text>`+"\n", esc(title))
	b.WriteString(body.String())
	b.WriteString("</svg>\n")
	return b.String()
}

func esc(s string) string { return html.EscapeString(s) }

// niceCeil rounds up to 1, 2 or 5 × 10^k so the axis ticks are round numbers.
func niceCeil(v float64) float64 {
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*e {
			return m * e
		}
	}
	return 10 * e
}

func fmtNum(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
