package adminpage

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/eventguard/eventguard/catalog"
)

// Bounds of the drawn map. Past them the least used nodes of a column are
// left out, and the map says how many; the tables and GET /v1/catalog
// still have every one.
const (
	// MaxNodesPerColumn bounds the features, topics, versions and groups
	// drawn, each.
	MaxNodesPerColumn = 100
	// MaxEdges bounds the edges drawn.
	MaxEdges = 1000
	// maxLabelRunes is what fits on one line of a node; the full text is
	// in the node's tooltip.
	maxLabelRunes = 30
	// maxReasonLines bounds the rejection lines of one node.
	maxReasonLines = 4
)

// Geometry of the map, in SVG user units (CSS pixels).
const (
	marginX    = 16
	headerY    = 22
	topY       = 40
	nodeW      = 230
	colGap     = 120
	lineH      = 16
	nodePadY   = 10
	nodeGap    = 12
	topicGap   = 10 // extra space between the versions of two topics
	textInsetX = 10
)

// Column kinds, left to right.
const (
	KindFeature = "feature"
	KindTopic   = "topic"
	KindVersion = "version"
	KindGroup   = "group"
)

var columns = []struct{ kind, title string }{
	{KindFeature, "producing features"},
	{KindTopic, "topics"},
	{KindVersion, "subject versions"},
	{KindGroup, "consumer groups"},
}

// Map is a laid-out usage map, ready to draw as SVG.
type Map struct {
	Width, Height int
	Headers       []Header
	Nodes         []*Node
	Edges         []*Edge
	// Omitted says what was left out to keep the map bounded.
	Omitted []string
}

// Header is a column title.
type Header struct {
	X    int
	Text string
}

// Node is one box of the map.
type Node struct {
	// ID is stable for one snapshot ("feature-1", "version-3").
	ID   string
	Kind string
	// Key is what the node stands for ("pets", "pets-value v1"); it is
	// also the tooltip.
	Key        string
	X, Y, W, H int
	Lines      []Line
	// Deprecated marks a deprecated version; Rejected a node with
	// rejected or dead-lettered records.
	Deprecated, Rejected bool

	ideal    float64 // wanted centre y
	order    int     // position in its column
	activity uint64
}

// Line is one line of text in a node.
type Line struct {
	X, Y  int
	Text  string
	Class string
}

// Edge is an arrow between two nodes, labelled with a record count.
type Edge struct {
	From, To *Node
	// D is the SVG path.
	D string
	// LabelX, LabelY place Label.
	LabelX, LabelY int
	Label          string
	// Class is "produce", "route" (topic → version) or "consume", plus
	// " deprecated" when it touches a deprecated version.
	Class string

	count   uint64
	outPort int
	inPort  int
}

type versionKey struct {
	topic, subject string
	version        int
}

// Layout lays out s as a left-to-right map: producing features → topics
// → subject versions → consumer groups. counts (may be nil) add the
// rejections per reason and rule to the topic and version nodes, and
// topics and versions seen only in rejections. at decides whether a
// sunset has passed.
func Layout(s *catalog.Snapshot, counts []catalog.RejectionCount, at time.Time) *Map {
	b := &builder{
		feats:    map[string]*Node{},
		topics:   map[string]*Node{},
		versions: map[versionKey]*Node{},
		groups:   map[string]*Node{},
		entries:  map[versionKey]*catalog.Entry{},
		rejects:  map[versionKey][]catalog.RejectionCount{},
	}
	if s == nil {
		s = &catalog.Snapshot{}
	}
	for i := range s.Entries {
		e := &s.Entries[i]
		k := versionKey{e.Topic, e.Subject, e.Version}
		b.entries[k] = e
		t := b.node(b.topics, KindTopic, e.Topic)
		v := b.version(k)
		for _, u := range e.Producers {
			f := b.node(b.feats, KindFeature, u.Name)
			f.activity += u.Count
			t.activity += u.Count
			v.activity += u.Count
		}
		for _, u := range e.Consumers {
			g := b.node(b.groups, KindGroup, u.Name)
			g.activity += u.Count
			t.activity += u.Count
			v.activity += u.Count
		}
	}
	for _, c := range counts {
		t := b.node(b.topics, KindTopic, c.Topic)
		t.Rejected = true
		t.activity += c.Count
		k := versionKey{c.Topic, c.Subject, c.Version}
		if c.Subject != "" {
			v := b.version(k)
			v.Rejected = true
			v.activity += c.Count
		} else {
			k = versionKey{topic: c.Topic}
		}
		b.rejects[k] = append(b.rejects[k], c)
	}
	m := &Map{}
	feats := b.keep(m, b.feats, "producing features")
	topics := b.keep(m, b.topics, "topics")
	versions := b.keep(m, b.versionList(), "subject versions")
	groups := b.keep(m, b.groups, "consumer groups")

	// Text first: it sets each node's height.
	for _, n := range feats {
		n.Lines = []Line{{Text: n.Key, Class: "name"}, {Text: plural(n.activity, "record") + " produced", Class: "muted"}}
	}
	for _, n := range groups {
		n.Lines = []Line{{Text: n.Key, Class: "name"}, {Text: plural(n.activity, "record") + " consumed", Class: "muted"}}
	}
	for _, n := range topics {
		var produced, consumed uint64
		for k, e := range b.entries {
			if k.topic == n.Key {
				produced += sum(e.Producers)
				consumed += sum(e.Consumers)
			}
		}
		n.Lines = []Line{{Text: n.Key, Class: "name"}, {Text: fmt.Sprintf("%d in · %d out", produced, consumed), Class: "muted"}}
		n.Lines = append(n.Lines, reasonLines(b.rejects[versionKey{topic: n.Key}])...)
	}
	for _, n := range versions {
		k := b.keyOf[n]
		n.Lines = []Line{{Text: fmt.Sprintf("%s v%d", k.subject, k.version), Class: "name"}}
		if e := b.entries[k]; e != nil {
			meta := "topic " + k.topic
			if e.SchemaID != 0 {
				meta += " · id " + strconv.Itoa(e.SchemaID)
			}
			n.Lines = append(n.Lines, Line{Text: meta, Class: "muted"})
			if e.Deprecated {
				n.Deprecated = true
				n.Lines = append(n.Lines, Line{Text: deprecationText(e, at), Class: "dep"})
				if e.Replacement != "" {
					n.Lines = append(n.Lines, Line{Text: "→ " + e.Replacement, Class: "dep"})
				}
			}
		} else {
			n.Lines = append(n.Lines, Line{Text: "topic " + k.topic + " · refused only", Class: "muted"})
		}
		n.Lines = append(n.Lines, reasonLines(b.rejects[k])...)
	}
	for _, col := range [][]*Node{feats, topics, versions, groups} {
		for _, n := range col {
			n.W = nodeW
			n.H = 2*nodePadY + lineH*len(n.Lines)
			for i := range n.Lines {
				n.Lines[i].Text = cut(n.Lines[i].Text)
			}
		}
	}

	// Edges between drawn nodes.
	drawn := map[*Node]bool{}
	for _, col := range [][]*Node{feats, topics, versions, groups} {
		for _, n := range col {
			drawn[n] = true
		}
	}
	type pair struct{ from, to *Node }
	byPair := map[pair]*Edge{}
	var edges []*Edge
	link := func(from, to *Node, n uint64, class string) {
		if !drawn[from] || !drawn[to] {
			return
		}
		p := pair{from, to}
		e := byPair[p]
		if e == nil {
			e = &Edge{From: from, To: to, Class: class}
			byPair[p] = e
			edges = append(edges, e)
		}
		e.count += n
	}
	for _, v := range versions {
		k := b.keyOf[v]
		t := b.topics[k.topic]
		e := b.entries[k]
		if e == nil {
			link(t, v, 0, "route")
			continue
		}
		for _, u := range e.Producers {
			link(b.feats[u.Name], t, u.Count, "produce")
		}
		link(t, v, sum(e.Producers), "route")
		for _, u := range e.Consumers {
			link(v, b.groups[u.Name], u.Count, "consume")
		}
	}
	if len(edges) > MaxEdges {
		slices.SortStableFunc(edges, func(a, b *Edge) int { return cmp.Compare(b.count, a.count) })
		m.Omitted = append(m.Omitted, fmt.Sprintf("%d of %d edges (the least used)", len(edges)-MaxEdges, len(edges)))
		edges = edges[:MaxEdges]
	}

	// Vertical placement: versions stacked by topic; topics at the centre
	// of their versions; features at the centre of their topics, groups
	// at the centre of their versions; then pushed apart where they
	// overlap.
	y := topY
	prevTopic := ""
	for i, v := range versions {
		if i > 0 && b.keyOf[v].topic != prevTopic {
			y += topicGap
		}
		prevTopic = b.keyOf[v].topic
		v.Y = y
		y += v.H + nodeGap
	}
	neighbours := func(n *Node, in bool) []*Node {
		var out []*Node
		for _, e := range edges {
			switch {
			case in && e.To == n:
				out = append(out, e.From)
			case !in && e.From == n:
				out = append(out, e.To)
			}
		}
		return out
	}
	place(topics, func(n *Node) []*Node { return neighbours(n, false) })
	place(feats, func(n *Node) []*Node { return neighbours(n, false) })
	place(groups, func(n *Node) []*Node { return neighbours(n, true) })

	for i, col := range [][]*Node{feats, topics, versions, groups} {
		x := marginX + i*(nodeW+colGap)
		m.Headers = append(m.Headers, Header{X: x, Text: columns[i].title})
		for _, n := range col {
			n.X = x
			for j := range n.Lines {
				n.Lines[j].X = x + textInsetX
				n.Lines[j].Y = n.Y + nodePadY + lineH*j + 12
			}
			m.Nodes = append(m.Nodes, n)
			m.Height = max(m.Height, n.Y+n.H+marginX)
		}
	}
	m.Width = marginX*2 + len(columns)*nodeW + (len(columns)-1)*colGap
	m.Height = max(m.Height, topY+60)
	route(edges)
	m.Edges = edges
	return m
}

// place sets each node's y near the centre of its already placed
// neighbours (nodes without any keep their order at the end), then pushes
// them apart so none overlap.
func place(col []*Node, neighbours func(*Node) []*Node) {
	for _, n := range col {
		ns := neighbours(n)
		n.ideal = -1
		if len(ns) == 0 {
			continue
		}
		var sum float64
		for _, o := range ns {
			sum += float64(o.Y) + float64(o.H)/2
		}
		n.ideal = sum / float64(len(ns))
	}
	slices.SortStableFunc(col, func(a, b *Node) int {
		switch {
		case a.ideal < 0 && b.ideal < 0:
			return cmp.Compare(a.order, b.order)
		case a.ideal < 0:
			return 1
		case b.ideal < 0:
			return -1
		}
		return cmp.Or(cmp.Compare(a.ideal, b.ideal), cmp.Compare(a.order, b.order))
	})
	y := topY
	for _, n := range col {
		want := y
		if n.ideal >= 0 {
			want = max(y, int(n.ideal)-n.H/2)
		}
		n.Y = want
		y = n.Y + n.H + nodeGap
	}
}

// route spreads the edges over their nodes' sides (ports ordered by the
// other end's height, so fans do not cross) and draws each as a cubic
// curve with its label three quarters along.
func route(edges []*Edge) {
	outs, ins := map[*Node][]*Edge{}, map[*Node][]*Edge{}
	for _, e := range edges {
		outs[e.From] = append(outs[e.From], e)
		ins[e.To] = append(ins[e.To], e)
	}
	for _, es := range outs {
		slices.SortStableFunc(es, func(a, b *Edge) int { return cmp.Compare(a.To.Y, b.To.Y) })
		for i, e := range es {
			e.outPort = port(e.From, i, len(es))
		}
	}
	for _, es := range ins {
		slices.SortStableFunc(es, func(a, b *Edge) int { return cmp.Compare(a.From.Y, b.From.Y) })
		for i, e := range es {
			e.inPort = port(e.To, i, len(es))
		}
	}
	for _, e := range edges {
		x1, y1 := e.From.X+e.From.W, e.outPort
		x2, y2 := e.To.X-6, e.inPort // room for the arrow head
		dx := (x2 - x1) / 2
		e.D = fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, x1+dx, y1, x2-dx, y2, x2, y2)
		// The cubic at t = 3/4.
		const t = 0.75
		bx := bezier(t, x1, x1+dx, x2-dx, x2)
		by := bezier(t, y1, y1, y2, y2)
		e.LabelX, e.LabelY = int(bx), int(by)-3
		if e.count > 0 {
			e.Label = strconv.FormatUint(e.count, 10)
		}
		if e.From.Deprecated || e.To.Deprecated {
			e.Class += " deprecated"
		}
	}
}

func port(n *Node, i, k int) int { return n.Y + (i+1)*n.H/(k+1) }

func bezier(t float64, p0, p1, p2, p3 int) float64 {
	u := 1 - t
	return u*u*u*float64(p0) + 3*u*u*t*float64(p1) + 3*u*t*t*float64(p2) + t*t*t*float64(p3)
}

type builder struct {
	feats, topics, groups map[string]*Node
	versions              map[versionKey]*Node
	keyOf                 map[*Node]versionKey
	entries               map[versionKey]*catalog.Entry
	rejects               map[versionKey][]catalog.RejectionCount
}

func (b *builder) node(m map[string]*Node, kind, key string) *Node {
	n := m[key]
	if n == nil {
		n = &Node{Kind: kind, Key: key}
		m[key] = n
	}
	return n
}

func (b *builder) version(k versionKey) *Node {
	n := b.versions[k]
	if n == nil {
		n = &Node{Kind: KindVersion, Key: fmt.Sprintf("%s v%d (topic %s)", k.subject, k.version, k.topic)}
		b.versions[k] = n
		if b.keyOf == nil {
			b.keyOf = map[*Node]versionKey{}
		}
		b.keyOf[n] = k
	}
	return n
}

// versionList returns the version nodes keyed for keep, sorted by topic,
// subject and version through their key.
func (b *builder) versionList() map[string]*Node {
	out := make(map[string]*Node, len(b.versions))
	for k, n := range b.versions {
		out[fmt.Sprintf("%s\x00%s\x00%010d", k.topic, k.subject, k.version)] = n
	}
	return out
}

// keep returns a column's nodes sorted by key, at most MaxNodesPerColumn
// (the most active), numbering their ids.
func (b *builder) keep(m *Map, byKey map[string]*Node, what string) []*Node {
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	col := make([]*Node, len(keys))
	for i, k := range keys {
		col[i] = byKey[k]
		col[i].order = i
	}
	if len(col) > MaxNodesPerColumn {
		slices.SortStableFunc(col, func(a, b *Node) int { return cmp.Compare(b.activity, a.activity) })
		m.Omitted = append(m.Omitted, fmt.Sprintf("%d of %d %s (the least used)", len(col)-MaxNodesPerColumn, len(col), what))
		col = col[:MaxNodesPerColumn]
		slices.SortFunc(col, func(a, b *Node) int { return cmp.Compare(a.order, b.order) })
	}
	for i, n := range col {
		n.order = i
		n.ID = fmt.Sprintf("%s-%d", n.Kind, i+1)
	}
	return col
}

// reasonLines are a node's rejection counts, the largest first, at most
// maxReasonLines (the rest summed on a last line).
func reasonLines(cs []catalog.RejectionCount) []Line {
	if len(cs) == 0 {
		return nil
	}
	type agg struct {
		text string
		n    uint64
	}
	by := map[string]*agg{}
	var all []*agg
	for _, c := range cs {
		text := c.Reason
		if c.Rule != "" {
			text = "rule " + c.Rule
		}
		if c.Outcome == catalog.OutcomeDeadLettered {
			text = "DLQ " + text
		}
		a := by[text]
		if a == nil {
			a = &agg{text: text}
			by[text] = a
			all = append(all, a)
		}
		a.n += c.Count
	}
	slices.SortStableFunc(all, func(a, b *agg) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.text, b.text)) })
	var out []Line
	for i, a := range all {
		if i == maxReasonLines-1 && len(all) > maxReasonLines {
			var rest uint64
			for _, r := range all[i:] {
				rest += r.n
			}
			out = append(out, Line{Text: fmt.Sprintf("✗ %d more reasons: %d", len(all)-i, rest), Class: "bad"})
			break
		}
		out = append(out, Line{Text: fmt.Sprintf("✗ %s: %d", a.text, a.n), Class: "bad"})
	}
	return out
}

// deprecationText fits one line: "deprecated · sunset 2027-03-31", or
// "sunset passed 2027-03-31" once at is past it (the node's style says
// deprecated).
func deprecationText(e *catalog.Entry, at time.Time) string {
	if e.Sunset == "" {
		return "deprecated"
	}
	if d, err := time.Parse(time.DateOnly, e.Sunset); err == nil && !at.Before(d) {
		return "sunset passed " + e.Sunset
	}
	return "deprecated · sunset " + e.Sunset
}

func sum(us []catalog.Usage) uint64 {
	var n uint64
	for _, u := range us {
		n += u.Count
	}
	return n
}

func plural(n uint64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.FormatUint(n, 10) + " " + what + "s"
}

// cut shortens s to what fits on a node's line.
func cut(s string) string {
	if utf8.RuneCountInString(s) <= maxLabelRunes {
		return s
	}
	r := []rune(s)
	return string(r[:maxLabelRunes-1]) + "…"
}
