package report

import (
	"fmt"
	"html"
	"io"
	"strings"
	"time"
)

// unitFor says which throughput a workload is judged by: files/s for the
// small-file workloads, MiB/s for the ones whose bytes dominate.
func unitFor(wl string) string {
	switch wl {
	case "W2", "W3":
		return "MiB/s"
	}
	return "files/s"
}

var toolColors = map[string]string{
	ToolAwsutils:         "#1f6feb",
	ToolAwsutilsRemove:   "#6ea8fe",
	ToolS5cmd:            "#d9480f",
	ToolS5cmdMove:        "#ffa94d",
	ToolAWSCLI:           "#2f9e44",
	ToolRclone:           "#9c36b5",
	ToolPutLoop:          "#495057",
	ToolPutLoop256:       "#868e96",
	ToolRawPut256:        "#343a40",
	ToolRawPut1024:       "#212529",
	ToolAwsutilsProxy:    "#74c0fc",
	ToolAwsutilsNoMeta:   "#364fc7",
	ToolAwsutilsFixed:    "#4dabf7",
	ToolAwsutilsSlowDown: "#e03131",
}

// Chart writes an SVG with one panel per upload workload and round trip: a
// horizontal bar per tool, the median throughput in the workload's unit.
func Chart(w io.Writer, rows []Row) error {
	gs := Groups(rows)
	type panel struct {
		wl  string
		rtt time.Duration
	}
	var wls []panel
	for _, wl := range uploadWorkloads(gs) {
		for _, r := range RTTs(gs) {
			if hasGroups(gs, wl, r) {
				wls = append(wls, panel{wl, r})
			}
		}
	}
	const (
		width    = 760
		labelW   = 220
		barMaxW  = 430
		barH     = 18
		gap      = 6
		panelPad = 46
	)
	type bar struct {
		tool string
		v    float64
	}
	panels := make([][]bar, len(wls))
	height := 40
	for i, pn := range wls {
		for _, g := range gs {
			if g.Section != SectionUpload || g.Workload != pn.wl || g.RTT != pn.rtt || len(g.Runs) == 0 {
				continue
			}
			panels[i] = append(panels[i], bar{g.Tool, throughput(g)})
		}
		height += panelPad + len(panels[i])*(barH+gap)
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	p(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	p(`<text x="10" y="22" font-size="15" font-weight="bold">Upload throughput per tool (median; longer is faster)</text>` + "\n")
	y := 40
	for i, pn := range wls {
		maxV := 0.0
		for _, br := range panels[i] {
			maxV = max(maxV, br.v)
		}
		y += 24
		p(`<text x="10" y="%d" font-size="13" font-weight="bold">%s, %s round trip (%s)</text>`+"\n", y, html.EscapeString(pn.wl), FmtRTT(pn.rtt), unitFor(pn.wl))
		y += 10
		for _, br := range panels[i] {
			bw := 0.0
			if maxV > 0 {
				bw = br.v / maxV * barMaxW
			}
			color := toolColors[br.tool]
			if color == "" {
				color = "#868e96"
			}
			name := strings.Trim(label(br.tool), "`")
			p(`<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelW-8, y+barH-5, html.EscapeString(name))
			p(`<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", labelW, y, bw, barH, color)
			p(`<text x="%.1f" y="%d">%s</text>`+"\n", float64(labelW)+bw+5, y+barH-5, fmtNum(br.v))
			y += barH + gap
		}
		y += panelPad - 34
	}
	p("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
