// Package harness runs the real eventguard binary for the end-to-end tests
// and the side-by-side benchmark: it builds the binary once, starts
// `eventguard dev --brokers ...` on free loopback ports with its embedded
// registry, waits for /readyz, and stops it with SIGTERM. It also holds the
// small Kafka and registry helpers both need.
//
// Nothing here depends on package testing: the e2e tests wrap it with
// t.Fatal and t.Cleanup, the benchmark with its own error handling.
package harness

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ModuleRoot returns the directory holding eventguard's go.mod, searching
// upward from the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/eventguard/eventguard\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module root: no eventguard go.mod above the working directory")
		}
		dir = parent
	}
}

// Build compiles ./cmd/eventguard of the module at root into dir and
// returns the binary's path. It is the plain build users run (no -race).
func Build(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "eventguard")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/eventguard")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build eventguard: %w\n%s", err, out)
	}
	return bin, nil
}

// FreePorts returns n distinct TCP ports that were free on 127.0.0.1 a
// moment ago. Another process can take one before it is used; Start retries
// with new ports when a listener cannot bind.
func FreePorts(n int) ([]int, error) {
	lns := make([]net.Listener, 0, n)
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// UniqueName returns prefix plus a random suffix: a topic or group name no
// other test run uses.
func UniqueName(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%s-%s", prefix, strconv.FormatInt(time.Now().UnixMilli()%1e8, 36), hex.EncodeToString(b[:]))
}

// Options configure Start.
type Options struct {
	// Binary is the eventguard binary (from Build). Required.
	Binary string
	// Brokers are the Kafka brokers passed as --brokers. Required.
	Brokers []string
	// Dir receives eventguard.out (stdout) and eventguard.log (stderr).
	// Required.
	Dir string
	// Config is an optional file passed as --config.
	Config string
	// Registry is an optional schema registry URL passed as --registry:
	// the sidecar uses it instead of starting its embedded one (several
	// sidecars can then share schema ids). Default: the embedded registry.
	Registry string
	// Env holds extra "EVENTGUARD_<PATH>=value" overrides.
	Env []string
	// ReadyTimeout bounds the wait for /readyz. Default: 60s.
	ReadyTimeout time.Duration
	// AnyReadiness returns as soon as /readyz answers at all, 200 or 503:
	// for a sidecar that is expected not to become ready.
	AnyReadiness bool
	// Run starts `eventguard run --config Config`, the production
	// command, instead of `eventguard dev`: Config must name the brokers
	// and the registry (Brokers and Registry only fill the Sidecar's
	// fields), and no contract is registered.
	Run bool
}

// Sidecar is one running `eventguard dev` process.
type Sidecar struct {
	// HTTP is the base URL of the HTTP ingress, e.g. http://127.0.0.1:41234.
	HTTP string
	// Admin is the base URL of the admin listener (/readyz, /metrics).
	Admin string
	// GRPC is the gRPC ingress address, host:port.
	GRPC string
	// Registry is the base URL of the schema registry: the embedded one,
	// or Options.Registry.
	Registry string
	// Brokers are the Kafka brokers eventguard produces to.
	Brokers []string
	// LogPath is the file holding eventguard's stderr (its log).
	LogPath string
	// OutPath is the file holding eventguard's stdout (the dev banner).
	OutPath string

	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// Start starts `eventguard dev --brokers ...` on free ports and waits until
// /readyz answers 200. The child gets the caller's environment minus every
// EVENTGUARD_* variable (eventguard refuses names that are no setting, and
// test runners export some), plus the listener overrides and o.Env.
func Start(ctx context.Context, o Options) (*Sidecar, error) {
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		var s *Sidecar
		s, err = start(ctx, o, attempt)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, errPortTaken) {
			return nil, err
		}
	}
	return nil, err
}

var errPortTaken = errors.New("a listener port was taken meanwhile")

func start(ctx context.Context, o Options, attempt int) (*Sidecar, error) {
	ports, err := FreePorts(4)
	if err != nil {
		return nil, err
	}
	addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	s := &Sidecar{
		HTTP:     "http://" + addr(ports[0]),
		Admin:    "http://" + addr(ports[1]),
		GRPC:     addr(ports[2]),
		Registry: "http://" + addr(ports[3]),
		Brokers:  o.Brokers,
		LogPath:  filepath.Join(o.Dir, "eventguard.log"),
		OutPath:  filepath.Join(o.Dir, "eventguard.out"),
		done:     make(chan struct{}),
	}
	if attempt > 1 {
		s.LogPath = filepath.Join(o.Dir, fmt.Sprintf("eventguard.%d.log", attempt))
		s.OutPath = filepath.Join(o.Dir, fmt.Sprintf("eventguard.%d.out", attempt))
	}
	args := []string{"dev", "--brokers", strings.Join(o.Brokers, ",")}
	if o.Registry != "" {
		s.Registry = strings.TrimRight(o.Registry, "/")
		args = append(args, "--registry", s.Registry)
	} else {
		args = append(args, "--registry-addr", addr(ports[3]))
	}
	if o.Config != "" {
		args = append(args, "--config", o.Config)
	}
	if o.Run {
		if o.Config == "" {
			return nil, errors.New("harness: Run needs a Config")
		}
		args = []string{"run", "--config", o.Config}
	}
	env := make([]string, 0, len(os.Environ())+8)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EVENTGUARD_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"EVENTGUARD_LISTEN_HTTP="+addr(ports[0]),
		"EVENTGUARD_LISTEN_ADMIN="+addr(ports[1]),
		"EVENTGUARD_LISTEN_GRPC="+addr(ports[2]),
	)
	env = append(env, o.Env...)

	logf, err := os.Create(s.LogPath)
	if err != nil {
		return nil, err
	}
	outf, err := os.Create(s.OutPath)
	if err != nil {
		logf.Close()
		return nil, err
	}
	s.cmd = exec.Command(o.Binary, args...)
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = outf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		outf.Close()
		return nil, fmt.Errorf("start %s: %w", o.Binary, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		logf.Close()
		outf.Close()
		close(s.done)
	}()

	if err := s.waitReady(ctx, o.ReadyTimeout, o.AnyReadiness); err != nil {
		s.Kill()
		log := Tail(s.LogPath, 40)
		if strings.Contains(log, "address already in use") {
			return nil, fmt.Errorf("%w: %s", errPortTaken, log)
		}
		return nil, fmt.Errorf("%w\neventguard stderr (%s), last lines:\n%s", err, s.LogPath, log)
	}
	return s, nil
}

// waitReady polls /readyz until it answers 200 (or, with anyStatus, 503 too), the
// process exits, or timeout passes.
func (s *Sidecar) waitReady(ctx context.Context, timeout time.Duration, anyStatus bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := "no answer yet"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Admin+"/readyz", nil)
		resp, err := hc.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || anyStatus && resp.StatusCode == http.StatusServiceUnavailable {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(body))
		} else {
			last = err.Error()
		}
		select {
		case <-s.done:
			return fmt.Errorf("eventguard exited before it was ready: %v", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("eventguard not ready within %s: last /readyz: %s", timeout, last)
		case <-tick.C:
		}
	}
}

// Pid returns the process id.
func (s *Sidecar) Pid() int { return s.cmd.Process.Pid }

// Exited reports whether the process has exited.
func (s *Sidecar) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits up to timeout for the process to exit, then
// kills it. It returns nil only for a clean exit with status 0 in time.
func (s *Sidecar) Stop(timeout time.Duration) error {
	if s.Exited() {
		return fmt.Errorf("eventguard had already exited: %v", s.waitErr)
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		if s.waitErr != nil {
			return fmt.Errorf("eventguard exited after SIGTERM with %v", s.waitErr)
		}
		return nil
	case <-time.After(timeout):
		s.Kill()
		return fmt.Errorf("eventguard did not exit within %s of SIGTERM; killed", timeout)
	}
}

// Signal sends sig to the process without waiting for it; Wait then says
// how it ended.
func (s *Sidecar) Signal(sig os.Signal) error {
	if s.Exited() {
		return fmt.Errorf("eventguard had already exited: %v", s.waitErr)
	}
	return s.cmd.Process.Signal(sig)
}

// Wait waits up to timeout for the process to exit, then kills it. It
// returns nil only for an exit with status 0 in time.
func (s *Sidecar) Wait(timeout time.Duration) error {
	select {
	case <-s.done:
		if s.waitErr != nil {
			return fmt.Errorf("eventguard exited with %v", s.waitErr)
		}
		return nil
	case <-time.After(timeout):
		s.Kill()
		return fmt.Errorf("eventguard did not exit within %s; killed", timeout)
	}
}

// ExitErr returns how the process ended (nil: status 0); call it once
// Exited reports true.
func (s *Sidecar) ExitErr() error {
	<-s.done
	return s.waitErr
}

// Kill kills the process and waits for it.
func (s *Sidecar) Kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

var tailMu sync.Mutex

// Tail returns the last n lines of the file at path, or a note saying why
// it cannot.
func Tail(path string, n int) string {
	tailMu.Lock()
	defer tailMu.Unlock()
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	ring := make([]string, 0, n)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if len(ring) == n {
			ring = ring[1:]
		}
		ring = append(ring, sc.Text())
	}
	return strings.Join(ring, "\n")
}
