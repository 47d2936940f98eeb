package catalog

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Graph formats.
const (
	FormatMermaid = "mermaid"
	FormatDOT     = "dot"
)

// graph is the producer-feature → event version → consumer-group graph of a
// snapshot, with stable node ids.
type graph struct {
	features []string // sorted
	groups   []string // sorted
	events   []Entry  // sorted like a Snapshot
	featID   map[string]string
	groupID  map[string]string
}

func newGraph(s *Snapshot) *graph {
	g := &graph{events: s.Entries, featID: map[string]string{}, groupID: map[string]string{}}
	fs, gs := map[string]bool{}, map[string]bool{}
	for _, e := range s.Entries {
		for _, u := range e.Producers {
			fs[u.Name] = true
		}
		for _, u := range e.Consumers {
			gs[u.Name] = true
		}
	}
	g.features, g.groups = sortedKeys(fs), sortedKeys(gs)
	for i, f := range g.features {
		g.featID[f] = fmt.Sprintf("f%d", i+1)
	}
	for i, c := range g.groups {
		g.groupID[c] = fmt.Sprintf("g%d", i+1)
	}
	return g
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func eventID(i int) string { return fmt.Sprintf("e%d", i+1) }

func eventLabel(e Entry) string {
	l := fmt.Sprintf("%s v%d\ntopic %s", e.Subject, e.Version, e.Topic)
	if e.Deprecated {
		l += "\n(deprecated)"
	}
	return l
}

// WriteGraph writes s as a producer-feature → event version → consumer-group
// graph in format (FormatMermaid or FormatDOT). Edges are labelled with the
// record counts; deprecated versions are marked. The output depends only on
// the snapshot's entries, so it is stable for golden tests.
func WriteGraph(w io.Writer, s *Snapshot, format string) error {
	g := newGraph(s)
	var b strings.Builder
	switch format {
	case FormatMermaid, "":
		g.mermaid(&b)
	case FormatDOT:
		g.dot(&b)
	default:
		return fmt.Errorf("graph format %q: want %s or %s", format, FormatMermaid, FormatDOT)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write graph: %w", err)
	}
	return nil
}

// mermaidText escapes a label for a Mermaid quoted node label.
func mermaidText(s string) string {
	r := strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;", "\n", "<br/>")
	return r.Replace(s)
}

func (g *graph) mermaid(b *strings.Builder) {
	b.WriteString("flowchart LR\n")
	if len(g.features) > 0 {
		b.WriteString("  subgraph producers[\"producing features\"]\n")
		for _, f := range g.features {
			fmt.Fprintf(b, "    %s([\"%s\"])\n", g.featID[f], mermaidText(f))
		}
		b.WriteString("  end\n")
	}
	b.WriteString("  subgraph events[\"event versions\"]\n")
	for i, e := range g.events {
		fmt.Fprintf(b, "    %s[\"%s\"]\n", eventID(i), mermaidText(eventLabel(e)))
	}
	b.WriteString("  end\n")
	if len(g.groups) > 0 {
		b.WriteString("  subgraph consumers[\"consumer groups\"]\n")
		for _, c := range g.groups {
			fmt.Fprintf(b, "    %s[[\"%s\"]]\n", g.groupID[c], mermaidText(c))
		}
		b.WriteString("  end\n")
	}
	for i, e := range g.events {
		for _, u := range e.Producers {
			fmt.Fprintf(b, "  %s -->|%d| %s\n", g.featID[u.Name], u.Count, eventID(i))
		}
	}
	for i, e := range g.events {
		for _, u := range e.Consumers {
			fmt.Fprintf(b, "  %s -->|%d| %s\n", eventID(i), u.Count, g.groupID[u.Name])
		}
	}
	var dep []string
	for i, e := range g.events {
		if e.Deprecated {
			dep = append(dep, eventID(i))
		}
	}
	if len(dep) > 0 {
		b.WriteString("  classDef deprecated fill:#fde2e2,stroke:#c0392b,stroke-dasharray: 4 2\n")
		fmt.Fprintf(b, "  class %s deprecated\n", strings.Join(dep, ","))
	}
}

// dotText quotes s as a DOT string.
func dotText(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func (g *graph) dot(b *strings.Builder) {
	b.WriteString("digraph eventguard {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n")
	for _, f := range g.features {
		fmt.Fprintf(b, "  %s [label=%s, shape=ellipse];\n", g.featID[f], dotText(f))
	}
	for i, e := range g.events {
		style := ""
		if e.Deprecated {
			style = ", style=\"dashed,filled\", fillcolor=\"#fde2e2\", color=\"#c0392b\""
		}
		fmt.Fprintf(b, "  %s [label=%s, shape=box%s];\n", eventID(i), dotText(eventLabel(e)), style)
	}
	for _, c := range g.groups {
		fmt.Fprintf(b, "  %s [label=%s, shape=component];\n", g.groupID[c], dotText(c))
	}
	for i, e := range g.events {
		for _, u := range e.Producers {
			fmt.Fprintf(b, "  %s -> %s [label=\"%d\"];\n", g.featID[u.Name], eventID(i), u.Count)
		}
	}
	for i, e := range g.events {
		for _, u := range e.Consumers {
			fmt.Fprintf(b, "  %s -> %s [label=\"%d\"];\n", eventID(i), g.groupID[u.Name], u.Count)
		}
	}
	b.WriteString("}\n")
}
