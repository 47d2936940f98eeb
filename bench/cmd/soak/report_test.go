package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

// steady returns n one-minute samples with the given figures.
func steady(n int, rss float64, gor, fds int, p99 float64) []sample {
	out := make([]sample, n)
	for i := range out {
		out[i] = sample{Minute: float64(i + 1), RSSMiB: rss, Goroutines: gor, OpenFiles: fds, P99ms: p99}
	}
	return out
}

func TestJudge(t *testing.T) {
	tests := []struct {
		name     string
		samples  func() []sample
		wantFlat bool
		failing  string // the check expected to fail
	}{
		{"flat", func() []sample { return steady(20, 30, 40, 20, 12) }, true, ""},
		{"warm-up growth ignored", func() []sample {
			s := steady(20, 30, 40, 20, 12)
			s[0].RSSMiB, s[1].RSSMiB, s[2].Goroutines = 5, 12, 400
			return s
		}, true, ""},
		{"memory leak", func() []sample {
			s := steady(20, 30, 40, 20, 12)
			for i := range s {
				s[i].RSSMiB = 30 + 2*float64(i)
			}
			return s
		}, false, "rss_mib"},
		{"goroutine leak", func() []sample {
			s := steady(20, 30, 40, 20, 12)
			for i := range s {
				s[i].Goroutines = 40 + 5*i
			}
			return s
		}, false, "goroutines"},
		{"file leak", func() []sample {
			s := steady(20, 30, 40, 20, 12)
			s[19].OpenFiles = 60
			return s
		}, false, "open_files"},
		{"latency creeps up", func() []sample {
			s := steady(20, 30, 40, 20, 12)
			for i := 12; i < 20; i++ {
				s[i].P99ms = 80
			}
			return s
		}, false, "p99_ms"},
		{"too short", func() []sample { return steady(3, 30, 40, 20, 12) }, false, "samples after the warm-up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := judge(tt.samples(), 3*time.Minute)
			if v.Flat != tt.wantFlat {
				t.Fatalf("flat = %v, want %v: %+v", v.Flat, tt.wantFlat, v.Checks)
			}
			for _, c := range v.Checks {
				if c.OK == (c.Figure == tt.failing) {
					t.Errorf("check %s ok = %v: %+v", c.Figure, c.OK, c)
				}
			}
		})
	}
}

func TestPlotIsWellFormedSVG(t *testing.T) {
	r := report{Duration: "1h0m0s", Warmup: "10m0s", Rate: 1234, Commit: "abc1234", Samples: steady(60, 31.5, 42, 23, 9.5)}
	svg := plot(r)
	dec := xml.NewDecoder(bytes.NewReader(svg))
	polylines, texts := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "polyline":
				polylines++
				for _, a := range se.Attr {
					if a.Name.Local == "points" && len(strings.Fields(a.Value)) != 60 {
						t.Errorf("a polyline has %d points, want 60", len(strings.Fields(a.Value)))
					}
				}
			case "text":
				texts++
			}
		}
	}
	if polylines != 4 {
		t.Errorf("%d polylines, want one per figure (4)", polylines)
	}
	for _, want := range []string{"resident memory (MiB)", "goroutines", "open files", "produce latency p99 (ms)", "1234 records/s"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("the plot does not say %q", want)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	for _, tt := range []struct{ in, want float64 }{{0, 1}, {0.5, 1}, {1, 1}, {1.2, 2}, {3, 5}, {7, 10}, {31.5, 50}, {42, 50}, {120, 200}} {
		if got := niceCeil(tt.in); got != tt.want {
			t.Errorf("niceCeil(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
