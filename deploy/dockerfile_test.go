package deploy

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"

	"github.com/eventguard/eventguard/config"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Cmd  string // upper case: FROM, RUN, ...
	Args string
	Line int
}

// dockerfile returns the Dockerfile's instructions.
func dockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	start, n := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue // comments may sit inside continued instructions too
		}
		if cur.Len() == 0 {
			start = n
		}
		if body, cont := strings.CutSuffix(line, `\`); cont {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: start})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// finalStage returns the instructions from the last FROM on.
func finalStage(ins []instruction) []instruction {
	last := 0
	for i, in := range ins {
		if in.Cmd == "FROM" {
			last = i
		}
	}
	return ins[last:]
}

// shellWords splits a POSIX shell command line into words, honouring
// single and double quotes and backslash escapes (no expansion).
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", s)
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0 {
					i++
				}
				w.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated \" in %q", s)
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			w.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// goBuild is a `go build` command line: its environment assignments, its
// flags and package (without -o), and its output.
type goBuild struct {
	Env    []string
	Args   []string
	Output string
}

func parseGoBuild(words []string) (goBuild, error) {
	var b goBuild
	i := 0
	for ; i < len(words) && strings.Contains(words[i], "=") && !strings.HasPrefix(words[i], "-"); i++ {
		b.Env = append(b.Env, words[i])
	}
	if i+1 >= len(words) || words[i] != "go" || words[i+1] != "build" {
		return b, fmt.Errorf("not a go build command: %q", words)
	}
	rest := words[i+2:]
	for j := 0; j < len(rest); j++ {
		if rest[j] == "-o" && j+1 < len(rest) {
			b.Output = rest[j+1]
			j++
			continue
		}
		b.Args = append(b.Args, rest[j])
	}
	return b, nil
}

// dockerfileBuild returns the Dockerfile's `go build` command.
func dockerfileBuild(t *testing.T) goBuild {
	t.Helper()
	for _, in := range dockerfile(t) {
		if in.Cmd != "RUN" || !strings.Contains(in.Args, "go build") {
			continue
		}
		words, err := shellWords(in.Args)
		if err != nil {
			t.Fatalf("Dockerfile:%d: %v", in.Line, err)
		}
		for len(words) > 0 && strings.HasPrefix(words[0], "--") { // --mount=...
			words = words[1:]
		}
		b, err := parseGoBuild(words)
		if err != nil {
			t.Fatalf("Dockerfile:%d: %v", in.Line, err)
		}
		return b
	}
	t.Fatal("Dockerfile: no RUN ... go build")
	return goBuild{}
}

// makefileBuild returns the `make build` recipe's go build command with
// the Makefile's variables expanded and $(VERSION)/$(COMMIT) written as
// ${VERSION}/${COMMIT}, the Dockerfile's build arguments.
func makefileBuild(t *testing.T) goBuild {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	m := regexp.MustCompile(`(?m)^GOBUILD_FLAGS\s*:?=\s*(.+)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal("Makefile: no GOBUILD_FLAGS")
	}
	recipe := regexp.MustCompile(`(?m)^build:.*\n\t(.+)$`).FindStringSubmatch(text)
	if recipe == nil {
		t.Fatal("Makefile: no build target recipe")
	}
	line := strings.NewReplacer(
		"$(GOBUILD_FLAGS)", m[1],
	).Replace(recipe[1])
	line = strings.NewReplacer("$(GO)", "go", "$(VERSION)", "${VERSION}", "$(COMMIT)", "${COMMIT}").Replace(line)
	if strings.Contains(line, "$(") {
		t.Fatalf("Makefile build recipe has a variable this test does not expand: %s", line)
	}
	words, err := shellWords(line)
	if err != nil {
		t.Fatal(err)
	}
	gb, err := parseGoBuild(words)
	if err != nil {
		t.Fatalf("Makefile build recipe: %v", err)
	}
	return gb
}

// TestDockerfileBuildMatchesMakefile: the image is built with the same
// command line as `make build`, which CI builds and tests.
func TestDockerfileBuildMatchesMakefile(t *testing.T) {
	df, mk := dockerfileBuild(t), makefileBuild(t)
	if !slices.Equal(df.Args, mk.Args) {
		t.Errorf("go build flags differ:\n Dockerfile: %q\n Makefile:   %q", df.Args, mk.Args)
	}
	for _, e := range mk.Env {
		if !slices.Contains(df.Env, e) {
			t.Errorf("Dockerfile's go build lacks %s (Makefile has it)", e)
		}
	}
	for _, e := range df.Env {
		name, _, _ := strings.Cut(e, "=")
		if !slices.Contains(mk.Env, e) && name != "GOOS" && name != "GOARCH" {
			t.Errorf("Dockerfile's go build sets %s, the Makefile does not", e)
		}
	}
	if !slices.Contains(df.Env, "CGO_ENABLED=0") {
		t.Errorf("Dockerfile: build with CGO_ENABLED=0 (a static binary for distroless/static)")
	}
	for _, flag := range []string{"-trimpath", "-X main.version=${VERSION}", "-X main.commit=${COMMIT}"} {
		if !strings.Contains(strings.Join(df.Args, " "), flag) {
			t.Errorf("Dockerfile: go build lacks %s", flag)
		}
	}
}

func TestDockerfileImage(t *testing.T) {
	ins := dockerfile(t)

	// The builder runs go.mod's Go version.
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if goLine == nil {
		t.Fatal("go.mod: no go line")
	}
	var goArg string
	var froms []string
	for _, in := range ins {
		if in.Cmd == "ARG" && strings.HasPrefix(in.Args, "GO_VERSION=") {
			goArg = strings.TrimPrefix(in.Args, "GO_VERSION=")
		}
		if in.Cmd == "FROM" {
			froms = append(froms, in.Args)
		}
	}
	if goArg != string(goLine[1]) {
		t.Errorf("Dockerfile ARG GO_VERSION=%s, go.mod says go %s", goArg, goLine[1])
	}
	if len(froms) < 2 || !strings.Contains(froms[0], "golang:${GO_VERSION}") {
		t.Errorf("Dockerfile: want a golang:${GO_VERSION} build stage and a final stage, got FROM %q", froms)
	}

	final := finalStage(ins)
	base := strings.Fields(final[0].Args)
	if img := base[len(base)-1]; !strings.HasPrefix(img, "gcr.io/distroless/static") && img != "scratch" {
		t.Errorf("final stage FROM %s: want distroless/static or scratch", img)
	}
	got := map[string][]string{}
	for _, in := range final[1:] {
		got[in.Cmd] = append(got[in.Cmd], in.Args)
	}
	if want := fmt.Sprintf("%d:%d", imageUID, imageUID); !slices.Equal(got["USER"], []string{want}) {
		t.Errorf("final stage USER %q, want %q (numeric, so runAsNonRoot can verify it)", got["USER"], want)
	}
	var ep []string
	if len(got["ENTRYPOINT"]) != 1 || json.Unmarshal([]byte(got["ENTRYPOINT"][0]), &ep) != nil || !slices.Equal(ep, []string{"/eventguard", "run"}) {
		t.Errorf("ENTRYPOINT %q, want exec form [\"/eventguard\", \"run\"]", got["ENTRYPOINT"])
	}
	if len(got["RUN"]) > 0 {
		t.Errorf("final stage runs %q: it has no shell", got["RUN"])
	}
	out := dockerfileBuild(t).Output
	if !slices.ContainsFunc(got["COPY"], func(c string) bool { return strings.Fields(c)[len(strings.Fields(c))-2] == out }) {
		t.Errorf("final stage does not COPY the built binary %s (COPY %q)", out, got["COPY"])
	}
	var labels []string
	for _, l := range got["LABEL"] {
		labels = append(labels, regexp.MustCompile(`org\.opencontainers\.image\.[a-z]+`).FindAllString(l, -1)...)
	}
	for _, l := range []string{"org.opencontainers.image.source", "org.opencontainers.image.version", "org.opencontainers.image.revision"} {
		if !slices.Contains(labels, l) {
			t.Errorf("final stage lacks LABEL %s", l)
		}
	}

	// EXPOSE is exactly the default listener ports.
	def := config.Default()
	var want []int
	for _, addr := range []string{def.Listen.HTTP, def.Listen.GRPC, def.Listen.Admin} {
		_, p := hostPort(t, addr)
		want = append(want, p)
	}
	exposed := dockerfileExposed(t)
	slices.Sort(want)
	slices.Sort(exposed)
	if !slices.Equal(exposed, want) {
		t.Errorf("EXPOSE %v, want the default listener ports %v", exposed, want)
	}
}

// dockerfileExposed returns the final stage's EXPOSEd TCP ports.
func dockerfileExposed(t *testing.T) []int {
	t.Helper()
	var ports []int
	for _, in := range finalStage(dockerfile(t)) {
		if in.Cmd != "EXPOSE" {
			continue
		}
		for _, f := range strings.Fields(in.Args) {
			p, err := strconv.Atoi(strings.TrimSuffix(f, "/tcp"))
			if err != nil {
				t.Fatalf("EXPOSE %s: %v", f, err)
			}
			ports = append(ports, p)
		}
	}
	return ports
}

// TestDockerignore: the build context keeps every file `go build
// ./cmd/eventguard` reads (sources and embedded files) and leaves out
// tests, docs, deploy/ and the git history.
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if and .Module .Module.Main}}{{range .GoFiles}}{{$.Dir}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$.Dir}}/{{.}}{{"\n"}}{{end}}{{end}}`,
		"./cmd/eventguard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	abs := mustAbs(t, root)
	need := []string{"go.mod", "go.sum"}
	for _, f := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(abs, f)
		if err != nil {
			t.Fatal(err)
		}
		need = append(need, filepath.ToSlash(rel))
	}
	if len(need) < 10 {
		t.Fatalf("go list found only %v", need)
	}
	for _, f := range need {
		if ex, err := pm.MatchesOrParentMatches(f); err != nil || ex {
			t.Errorf(".dockerignore excludes %s, which the build needs (err %v)", f, err)
		}
	}
	for _, f := range []string{".git/HEAD", "bin/eventguard", "deploy/base/deployment.yaml", "docs/deploy.md", "test/e2e/shutdown_test.go", "cmd/eventguard/lifecycle_test.go", "docker-compose.yml"} {
		if ex, err := pm.MatchesOrParentMatches(f); err != nil || !ex {
			t.Errorf(".dockerignore lets %s into the build context", f)
		}
	}
}

// TestDockerfileBuildRuns runs the Dockerfile's go build line here (with
// version arguments, no Docker), so a broken flag fails CI, and checks the
// binary is static and stamped.
func TestDockerfileBuildRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary (-short)")
	}
	b := dockerfileBuild(t)
	const version, commit = "v0.0.0-dockerfile-test", "0123456789abcdef"
	bin := filepath.Join(t.TempDir(), "eventguard")
	expand := strings.NewReplacer("${VERSION}", version, "${COMMIT}", commit, "$TARGETOS", runtime.GOOS, "$TARGETARCH", runtime.GOARCH).Replace
	args := []string{"build", "-o", bin}
	for _, a := range b.Args {
		args = append(args, expand(a))
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = os.Environ()
	for _, e := range b.Env {
		cmd.Env = append(cmd.Env, expand(e))
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the Dockerfile's build fails: go %s: %v\n%s", strings.Join(args, " "), err, out)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("binary has an ELF interpreter: it is not static and will not run on distroless/static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary links shared libraries %v", libs)
	}
	if f.Section(".symtab") != nil {
		t.Errorf("binary keeps its symbol table: -s -w did not apply")
	}
	if fi, err := os.Stat(bin); err == nil {
		t.Logf("binary size: %.1f MiB", float64(fi.Size())/(1<<20))
	}

	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("eventguard version: %v\n%s", err, out)
	}
	for _, want := range []string{version, commit, runtime.Version()} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("eventguard version prints %q, want it to contain %q", out, want)
		}
	}
}
