package ingressauth

import (
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// watched is a set of files read again when one changes: its check runs at
// most every CheckEvery, by whichever request or handshake comes first
// (others go on with what was loaded), and compares each file's identity,
// size and modification time with the last load. A reload that fails keeps
// the previous contents and logs a warning, once per distinct error.
type watched struct {
	what  string // "token files", "TLS files", for the log
	paths []string
	every time.Duration
	load  func() error
	log   *slog.Logger

	next    atomic.Int64 // UnixNano of the next check
	mu      sync.Mutex   // one check at a time
	stamps  []os.FileInfo
	lastErr string
}

func newWatched(what string, paths []string, o Options, load func() error) (*watched, error) {
	w := &watched{what: what, paths: paths, every: o.CheckEvery, load: load, log: o.Logger}
	stamps := w.stat()
	if err := load(); err != nil {
		return nil, err
	}
	w.stamps = stamps
	w.next.Store(time.Now().Add(w.every).UnixNano())
	return w, nil
}

// stat returns each file's info (nil for a file that cannot be stat'ed).
func (w *watched) stat() []os.FileInfo {
	out := make([]os.FileInfo, len(w.paths))
	for i, p := range w.paths {
		out[i], _ = os.Stat(p)
	}
	return out
}

// check reloads the files if one changed and a check is due.
func (w *watched) check() {
	now := time.Now()
	if now.UnixNano() < w.next.Load() || !w.mu.TryLock() {
		return
	}
	defer w.mu.Unlock()
	if now.UnixNano() < w.next.Load() {
		return
	}
	w.next.Store(now.Add(w.every).UnixNano())
	stamps := w.stat()
	if same(stamps, w.stamps) {
		return
	}
	if err := w.load(); err != nil {
		// Not recorded as loaded: tried again at the next check (a
		// certificate and key written one after the other agree later).
		if msg := err.Error(); msg != w.lastErr {
			w.lastErr = msg
			w.log.Warn("listener authentication: reloading "+w.what+" failed; the previous ones stay in use", "error", msg)
		}
		return
	}
	w.stamps, w.lastErr = stamps, ""
	w.log.Info("listener authentication: " + w.what + " reloaded")
}

func same(a, b []os.FileInfo) bool {
	for i := range a {
		switch {
		case a[i] == nil || b[i] == nil:
			if a[i] != b[i] {
				return false
			}
		case !os.SameFile(a[i], b[i]) || a[i].Size() != b[i].Size() || !a[i].ModTime().Equal(b[i].ModTime()):
			return false
		}
	}
	return true
}
