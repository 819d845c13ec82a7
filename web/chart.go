package web

import (
	"fmt"
	"math"
	"time"

	"github.com/stewardhq/steward"
)

// barChart is a stacked daily bar chart, drawn as SVG by the costs
// template: no script and no library, so it renders anywhere and reads
// well to screen readers (each bar segment has a title, the chart a
// description, and the same numbers are in the table below it).
type barChart struct {
	Width, Height float64
	Left, Bottom  float64 // plot area origin (bottom-left)
	PlotW, PlotH  float64
	Desc          string
	Bars          []chartBar
	Series        []chartSeries
	YTicks        []chartTick
	XTicks        []chartTick
}

type chartBar struct {
	X, W     float64
	Segments []chartSegment
}

type chartSegment struct {
	Y, H  float64
	Color string
	Title string
}

type chartSeries struct {
	Name  string
	Color string
	Total string
}

type chartTick struct {
	Pos   float64
	Label string
}

// palette is eight colours distinguishable with common colour blindness
// (Okabe–Ito), the last for "other".
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#7f7f7f"}

const maxSeries = 7

// dailyChart draws the daily groups over the query's days: the largest
// groups each in a colour, the rest as "other".
func dailyChart(q steward.CostQuery, daily, totals []*steward.CostGroup) *barChart {
	if len(daily) == 0 {
		return nil
	}
	currency := daily[0].Currency
	top := map[string]int{}
	var series []chartSeries
	for _, g := range totals { // largest first
		if len(series) == maxSeries {
			break
		}
		top[g.Key] = len(series)
		series = append(series, chartSeries{Name: costLabel(q, g.Key), Color: palette[len(series)], Total: money(g.Cost, g.Currency)})
	}
	other := -1
	if len(totals) > maxSeries {
		other = len(series)
		var rest float64
		for _, g := range totals[maxSeries:] {
			rest += g.Cost
		}
		series = append(series, chartSeries{Name: "other", Color: palette[len(palette)-1], Total: money(rest, currency)})
	}
	days := int(q.To.Sub(q.From).Hours()/24 + 0.5)
	if days <= 0 {
		return nil
	}
	perDay := make([][]float64, days)
	for i := range perDay {
		perDay[i] = make([]float64, len(series))
	}
	for _, g := range daily {
		d := int(g.Day.Sub(q.From).Hours() / 24)
		if d < 0 || d >= days {
			continue
		}
		if i, ok := top[g.Key]; ok {
			perDay[d][i] += g.Cost
		} else if other >= 0 {
			perDay[d][other] += g.Cost
		}
	}
	var peak float64
	for _, v := range perDay {
		var sum float64
		for _, x := range v {
			sum += x
		}
		peak = max(peak, sum)
	}
	c := &barChart{Width: 760, Height: 300, Left: 64, Bottom: 270, Series: series}
	c.PlotW, c.PlotH = c.Width-c.Left-12, c.Bottom-16
	top10 := niceCeil(peak)
	for i := 0; i <= 4; i++ {
		v := top10 * float64(i) / 4
		c.YTicks = append(c.YTicks, chartTick{Pos: c.Bottom - c.PlotH*float64(i)/4, Label: shortMoney(v)})
	}
	slot := c.PlotW / float64(days)
	w := math.Max(slot*0.8, 1)
	for d := range days {
		x := c.Left + slot*float64(d) + (slot-w)/2
		bar := chartBar{X: x, W: w}
		y := c.Bottom
		day := q.From.AddDate(0, 0, d)
		for i, v := range perDay[d] {
			if v <= 0 || top10 == 0 {
				continue
			}
			h := c.PlotH * v / top10
			y -= h
			bar.Segments = append(bar.Segments, chartSegment{Y: y, H: h, Color: series[i].Color,
				Title: fmt.Sprintf("%s, %s: %s", day.Format(time.DateOnly), series[i].Name, money(v, currency))})
		}
		c.Bars = append(c.Bars, bar)
		if every := max(days/6, 1); d%every == 0 {
			c.XTicks = append(c.XTicks, chartTick{Pos: c.Left + slot*float64(d) + slot/2, Label: dayLabel(day)})
		}
	}
	c.Desc = fmt.Sprintf("Daily spend by %s from %s to %s; the highest day is %s. The table below lists the same totals.",
		groupName(q.GroupBy), q.From.Format(time.DateOnly), q.To.AddDate(0, 0, -1).Format(time.DateOnly), money(peak, currency))
	return c
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func money(v float64, currency string) string {
	return fmt.Sprintf("%s %s", commas(v), currency)
}

// commas formats with two decimals and thousands separators.
func commas(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	intPart, frac := s[:len(s)-3], s[len(s)-3:]
	var out []byte
	for i, ch := range []byte(intPart) {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, ch)
	}
	if neg {
		return "-" + string(out) + frac
	}
	return string(out) + frac
}

func shortMoney(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func groupName(g string) string {
	switch g {
	case "resourceGroup":
		return "resource group"
	case "day":
		return "day"
	}
	if len(g) > 4 && g[:4] == "tag:" {
		return "tag " + g[4:]
	}
	return g
}
