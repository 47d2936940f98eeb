package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/eventguard/eventguard/bench/corpus"
	"github.com/eventguard/eventguard/test/e2e/harness"
	"github.com/eventguard/eventguard/validate"
)

// validateInClient is mode a2's check, what a team writes without
// eventguard: take the JSON out of the wire format, decode it with
// jsonschema v6's decoder (encoding/json with numbers kept exact) and
// validate it against the compiled contract, formats asserted. It runs in
// the client's goroutine, so its cost is in the client's CPU.
func validateInClient(e *Env) func([]byte) error {
	return func(framed []byte) error {
		_, payload, err := validate.Unframe(framed)
		if err != nil {
			return err
		}
		return validateJSON(e.Schema, payload)
	}
}

// validateJSON decodes and validates one event.
func validateJSON(s *jsonschema.Schema, payload []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return s.Validate(doc)
}

// kroxyGlobalID is the Apicurio global id the stub registry serves the
// contract under, and Kroxylicious's filter enforces.
const kroxyGlobalID = 1001

// kroxyDir is the launcher's Maven project, relative to the module root.
const kroxyDir = "bench/kroxylicious"

// kroxyUnavailable says why mode k cannot run: it needs java (17+) and
// mvn on PATH, or -kroxylicious=false.
func kroxyUnavailable(o *options) string {
	if !o.kroxylicious {
		return "turned off (-kroxylicious=false)"
	}
	for _, tool := range []string{"java", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " not found on PATH (Kroxylicious needs Java 17+ and Maven)"
		}
	}
	return ""
}

// startKroxylicious builds the launcher with Maven (its jars come from
// Maven Central, cached in ~/.m2), serves the contract on a stub of
// Apicurio's v2 API, writes the proxy's config (one virtual cluster in
// front of the broker, RecordValidation in JSON Schema mode on the
// benchmark topic) and starts the JVM with a fixed heap (-kroxylicious-heap).
func startKroxylicious(ctx context.Context, e *Env) (func(), error) {
	o := e.opts
	root, err := harness.ModuleRoot()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, kroxyDir)
	logf("kroxylicious: building the launcher (mvn package in %s)", kroxyDir)
	build := exec.CommandContext(ctx, "mvn", "-q", "-B", "package", "-DskipTests")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the Kroxylicious launcher: %w\n%s", err, tail(string(out), 2000))
	}

	schema, err := corpus.Bundled()
	if err != nil {
		return nil, err
	}
	reg, err := startApicurioStub(o.registryStub, schema)
	if err != nil {
		return nil, err
	}

	bootstrap, node := o.kroxyPort, o.kroxyPort+1
	if o.kroxyPort == 0 {
		ports, err := harness.FreePorts(2)
		if err != nil {
			reg.stop()
			return nil, err
		}
		bootstrap, node = ports[0], ports[1]
	}
	work, err := os.MkdirTemp("", "kbench-kroxylicious-")
	if err != nil {
		reg.stop()
		return nil, err
	}
	cfgPath := filepath.Join(work, "proxy.yaml")
	if err := os.WriteFile(cfgPath, []byte(kroxyConfig(e.Brokers[0], e.Topic, bootstrap, node, reg.url)), 0o644); err != nil {
		reg.stop()
		return nil, err
	}
	logPath := filepath.Join(work, "kroxylicious.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		reg.stop()
		return nil, err
	}
	cp := filepath.Join(dir, "target", "classes") + string(os.PathListSeparator) + filepath.Join(dir, "target", "lib", "*")
	cmd := exec.Command("java", "-Xms"+o.kroxyHeap, "-Xmx"+o.kroxyHeap,
		"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
		"-cp", cp, "io.eventguard.bench.Launcher", cfgPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		reg.stop()
		return nil, fmt.Errorf("start java: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		reg.stop()
		os.RemoveAll(work)
	}
	e.Peer = fmt.Sprintf("127.0.0.1:%d", bootstrap)
	e.ProxyPid = cmd.Process.Pid
	if err := waitKroxylicious(ctx, e, exited); err != nil {
		log := tail(harness.Tail(logPath, 40), 4000)
		stop()
		return nil, fmt.Errorf("kroxylicious did not start: %w\n%s", err, log)
	}
	logf("kroxylicious: pid %d at %s (node port %d), heap %s, schema from the Apicurio v2 stub at %s (global id %d)",
		e.ProxyPid, e.Peer, node, o.kroxyHeap, reg.url, kroxyGlobalID)
	return stop, nil
}

// kroxyConfig is the proxy's configuration: Kroxylicious 0.12.0's
// virtual cluster with a port-per-node gateway (the one broker, node id 1,
// on its own port), and RecordValidation on the topic with the contract
// from the registry, nulls and empty values refused.
func kroxyConfig(broker, topic string, bootstrap, node int, registry string) string {
	return fmt.Sprintf(`virtualClusters:
  - name: kbench
    targetCluster:
      bootstrapServers: %s
    gateways:
      - name: loopback
        portIdentifiesNode:
          bootstrapAddress: 127.0.0.1:%d
          advertisedBrokerAddressPattern: 127.0.0.1
          nodeStartPort: %d
          nodeIdRanges:
            - {name: broker, start: 1, end: 1}
filterDefinitions:
  - name: validate
    type: RecordValidation
    config:
      rules:
        - topicNames: [%s]
          valueRule:
            schemaValidationConfig:
              apicurioRegistryUrl: %s/apis/registry/v2
              apicurioGlobalId: %d
            allowNulls: false
            allowEmpty: false
defaultFilters: [validate]
`, broker, bootstrap, node, topic, registry, kroxyGlobalID)
}

// waitKroxylicious waits until a produce of one valid event through the
// proxy is acknowledged (the filter has fetched the schema), up to 90 s.
func waitKroxylicious(ctx context.Context, e *Env, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	do, closeFn, err := newDirect(&Env{Topic: e.Topic, Corpus: e.Corpus, Clients: 1}, []string{e.Peer}, 1, e.Corpus, nil)
	if err != nil {
		return err
	}
	defer closeFn()
	var last error
	for {
		select {
		case <-exited:
			return errors.New("the JVM exited")
		default:
		}
		actx, acancel := context.WithTimeout(ctx, 10*time.Second)
		last = do(actx, 0)
		acancel()
		if last == nil {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("no acknowledged produce within 90s: %w", last)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The filter is on: an event that breaks the contract is refused.
	bad := [][]byte{invalidEvent(e.Corpus[0])}
	check, closeBad, err := newDirect(&Env{Topic: e.Topic, Corpus: bad, Clients: 1}, []string{e.Peer}, 1, bad, nil)
	if err != nil {
		return err
	}
	defer closeBad()
	actx, acancel := context.WithTimeout(ctx, 10*time.Second)
	defer acancel()
	if err := check(actx, 0); err == nil {
		return errors.New("an invalid event was acknowledged: the RecordValidation filter is not validating")
	} else {
		logf("kroxylicious: an invalid event is refused (%v)", err)
	}
	return nil
}

// invalidEvent returns v with one schema violation: total_amount a
// number, not a decimal string.
func invalidEvent(v []byte) []byte {
	return bytes.Replace(v, []byte(`"total_amount":"`), []byte(`"total_amount":0,"note":"`), 1)
}

// apicurioStub serves the one schema Kroxylicious's filter asks for, on
// the endpoints of Apicurio Registry's v2 API its client calls: the
// content by global id, and that content's references (none: the schema
// is served bundled). Any other request is a 404, and counted.
type apicurioStub struct {
	url     string
	srv     *http.Server
	unknown atomic.Int64
}

func startApicurioStub(addr string, schema []byte) (*apicurioStub, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for the Apicurio stub on %s: %w", addr, err)
	}
	s := &apicurioStub{url: "http://" + ln.Addr().String()}
	id := strconv.Itoa(kroxyGlobalID)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /apis/registry/v2/ids/globalIds/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != id {
			http.Error(w, `{"error_code":404,"message":"no such global id"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Registry-ArtifactType", "JSON")
		w.Header().Set("X-Registry-GlobalId", id)
		_, _ = w.Write(schema)
	})
	mux.HandleFunc("GET /apis/registry/v2/ids/globalIds/{id}/references", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("[]"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.unknown.Add(1)
		logf("Apicurio stub: no answer for %s %s", r.Method, r.URL)
		http.Error(w, `{"error_code":404,"message":"not served by kbench's stub"}`, http.StatusNotFound)
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *apicurioStub) stop() { _ = s.srv.Close() }

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// javaVersion is the first line of `java -version`, or "no java".
func javaVersion() string {
	out, err := exec.Command("java", "-version").CombinedOutput()
	if err != nil {
		return "no java"
	}
	return firstLine(strings.TrimSpace(string(out)))
}
