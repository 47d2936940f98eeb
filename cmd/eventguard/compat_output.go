package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/eventguard/eventguard/compat"
)

// compatJSON is the documented JSON shape of contracts compat
// (docs/compatibility.md).
type compatJSON struct {
	Compatible bool             `json:"compatible"`
	Lenient    bool             `json:"lenient"`
	Results    []*compat.Result `json:"results"`
	// Breaks lists every consumer a breaking finding names.
	Breaks []string `json:"breaks"`
}

func writeCompat(w io.Writer, run *compatRun, format string) error {
	switch format {
	case "json":
		out := compatJSON{Compatible: !run.breaking(), Lenient: run.lenient, Results: run.results, Breaks: run.breaks()}
		if out.Results == nil {
			out.Results = []*compat.Result{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "github":
		return writeCompatGitHub(w, run)
	case "junit":
		return writeCompatJUnit(w, run)
	default:
		return writeCompatText(w, run)
	}
}

// breaks lists the consumers named by breaking findings, once each.
func (r *compatRun) breaks() []string {
	out := []string{}
	seen := map[string]bool{}
	for _, res := range r.results {
		for _, f := range res.Findings {
			for _, c := range f.Consumers {
				if !seen[c] {
					seen[c] = true
					out = append(out, c)
				}
			}
		}
	}
	return out
}

func pairTitle(r *compat.Result) string {
	return fmt.Sprintf("%s: version %d -> %d (%s)", r.Subject, r.From, r.To, r.Level)
}

func writeCompatText(w io.Writer, run *compatRun) error {
	var b strings.Builder
	broken := 0
	for _, s := range run.single {
		fmt.Fprintf(&b, "%s: nothing to compare\n", s)
	}
	for _, r := range run.results {
		if r.Compatible {
			fmt.Fprintf(&b, "%s: compatible\n", pairTitle(r))
			continue
		}
		broken++
		fmt.Fprintf(&b, "%s: BREAKING, %d finding(s)\n", pairTitle(r), len(r.Findings))
		for _, f := range r.Findings {
			path := f.Path
			if path == "" {
				path = "(the whole document)"
			}
			fmt.Fprintf(&b, "  %s at %s", f.Code, path)
			if f.SchemaSubject != "" {
				fmt.Fprintf(&b, " (schema %s version %d, %s)", f.SchemaSubject, f.SchemaVersion, orRoot(f.SchemaPath))
			}
			b.WriteString("\n")
			fmt.Fprintf(&b, "    %s\n", f.Message)
			fmt.Fprintf(&b, "    breaks: %s\n", f.Breaks)
			if f.Example != nil {
				fmt.Fprintf(&b, "    example (version %d accepts it, version %d refuses it): %s\n", f.AcceptedBy, f.RefusedBy, compactJSON(f.Example))
			} else if f.Note != "" {
				fmt.Fprintf(&b, "    example: none: %s\n", f.Note)
			}
			fmt.Fprintf(&b, "    fix: %s\n", f.Fix)
			if len(f.Consumers) > 0 {
				fmt.Fprintf(&b, "    consumers: %s\n", strings.Join(f.Consumers, ", "))
			}
		}
	}
	fmt.Fprintf(&b, "%d pair(s) compared: %d compatible, %d breaking\n", len(run.results), len(run.results)-broken, broken)
	if run.lenient {
		b.WriteString("lenient: adding an optional property to an open content model was treated as compatible\n")
	}
	if broken > 0 {
		if br := run.breaks(); len(br) > 0 {
			fmt.Fprintf(&b, "this change breaks: %s\n", strings.Join(br, ", "))
		} else {
			b.WriteString("this change breaks no known consumer (none registered in subject.yaml, given with --config or seen in a --catalog)\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orRoot(p string) string {
	if p == "" {
		return "the root"
	}
	return p
}

func compactJSON(b []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return string(b)
	}
	return buf.String()
}

// schemaFile returns the folder file holding subject version v (as
// compared), or "" when the folder does not have it.
func (r *compatRun) schemaFile(subject string, v int) string {
	fv, ok := r.folderVersion[svKey{subject, v}]
	if !ok {
		return ""
	}
	dir := r.dir
	if dir == "" {
		dir = "examples/contracts"
	}
	name := "schema.json"
	for _, n := range []string{"schema.json", "schema.avsc", "schema.proto"} {
		if _, err := os.Stat(filepath.Join(dir, subject, strconv.Itoa(fv), n)); err == nil {
			name = n
			break
		}
	}
	return filepath.ToSlash(filepath.Join(dir, subject, strconv.Itoa(fv), name))
}

func ghEscapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghEscapeProp(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// writeCompatGitHub writes workflow commands: one ::error per finding,
// pointing at the schema.json line of the change.
func writeCompatGitHub(w io.Writer, run *compatRun) error {
	var b strings.Builder
	broken := 0
	for _, r := range run.results {
		if r.Compatible {
			continue
		}
		broken++
		for _, f := range r.Findings {
			file := run.schemaFile(f.SchemaSubject, f.SchemaVersion)
			if file == "" {
				file = run.schemaFile(r.Subject, r.To)
			}
			line := 1
			if file != "" && f.SchemaSubject != "" && run.schemaFile(f.SchemaSubject, f.SchemaVersion) == file {
				line = pointerLine(file, f.SchemaPath)
			}
			msg := f.Message + ". Breaks " + f.Breaks + "."
			if f.Example != nil {
				msg += fmt.Sprintf(" Example (version %d accepts, version %d refuses): %s.", f.AcceptedBy, f.RefusedBy, compactJSON(f.Example))
			}
			msg += " Fix: " + f.Fix + "."
			if len(f.Consumers) > 0 {
				msg += " Consumers: " + strings.Join(f.Consumers, ", ") + "."
			}
			title := fmt.Sprintf("%s v%d->v%d %s %s", r.Subject, r.From, r.To, r.Level, f.Code)
			fmt.Fprintf(&b, "::error file=%s,line=%d,title=%s::%s\n", ghEscapeProp(file), line, ghEscapeProp(title), ghEscapeData(msg))
		}
	}
	fmt.Fprintf(&b, "%d pair(s) compared: %d compatible, %d breaking\n", len(run.results), len(run.results)-broken, broken)
	_, err := io.WriteString(w, b.String())
	return err
}

// pointerLine returns the 1-based line of the value at JSON pointer ptr in
// file, or 1 when it cannot be found.
func pointerLine(file, ptr string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		return 1
	}
	off := pointerOffset(b, ptr)
	if off < 0 {
		return 1
	}
	return bytes.Count(b[:off], []byte("\n")) + 1
}

// pointerOffset returns the byte offset of the member key (or array
// element) that ptr names, -1 when absent.
func pointerOffset(b []byte, ptr string) int {
	if ptr == "" {
		return 0
	}
	elems := strings.Split(ptr[1:], "/")
	dec := json.NewDecoder(bytes.NewReader(b))
	var walk func(depth int) int
	walk = func(depth int) int {
		tok, err := dec.Token()
		if err != nil {
			return -1
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return -1
		}
		want := strings.ReplaceAll(strings.ReplaceAll(elems[depth], "~1", "/"), "~0", "~")
		switch d {
		case '{':
			for dec.More() {
				start := int(dec.InputOffset())
				kt, err := dec.Token()
				if err != nil {
					return -1
				}
				if k, _ := kt.(string); k == want {
					if depth == len(elems)-1 {
						return start + leadingSpace(b[start:])
					}
					return walk(depth + 1)
				}
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					return -1
				}
			}
		case '[':
			i := 0
			for dec.More() {
				start := int(dec.InputOffset())
				if strconv.Itoa(i) == want {
					if depth == len(elems)-1 {
						return start + leadingSpace(b[start:])
					}
					return walk(depth + 1)
				}
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					return -1
				}
				i++
			}
		}
		return -1
	}
	return walk(0)
}

func leadingSpace(b []byte) int {
	n := 0
	for n < len(b) && (b[n] == ' ' || b[n] == '\n' || b[n] == '\r' || b[n] == '\t' || b[n] == ',') {
		n++
	}
	return n
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Class   string        `xml:"classname,attr"`
	Name    string        `xml:"name,attr"`
	Failure *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Type    string `xml:"type,attr"`
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// writeCompatJUnit writes one testcase per subject pair.
func writeCompatJUnit(w io.Writer, run *compatRun) error {
	s := junitSuite{Name: "eventguard contracts compat"}
	for _, r := range run.results {
		c := junitCase{Class: r.Subject, Name: fmt.Sprintf("version %d -> %d (%s)", r.From, r.To, r.Level)}
		if !r.Compatible {
			one := &compatRun{results: []*compat.Result{r}, lenient: run.lenient}
			var text strings.Builder
			if err := writeCompatText(&text, one); err != nil {
				return err
			}
			codes := make([]string, 0, len(r.Findings))
			for _, f := range r.Findings {
				codes = append(codes, f.Code)
			}
			c.Failure = &junitFailure{Type: "breaking", Message: fmt.Sprintf("%d finding(s): %s", len(r.Findings), strings.Join(codes, ", ")), Text: text.String()}
			s.Failures++
		}
		s.Tests++
		s.Cases = append(s.Cases, c)
	}
	out := junitSuites{Name: "eventguard", Tests: s.Tests, Failures: s.Failures, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
