package ingressauth

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"github.com/eventguard/eventguard/config"
)

// MaxTokensPerFile bounds the tokens one token file may hold.
const MaxTokensPerFile = 64

// tokenSource holds the accepted tokens as SHA-256 digests: the config's
// own (fixed) and the token files' (read again when they change).
type tokenSource struct {
	fixed   [][sha256.Size]byte
	files   []string
	digests atomic.Pointer[[][sha256.Size]byte]
	watch   *watched // nil without token files
}

func newTokenSource(c config.ListenAuth, o Options) (*tokenSource, error) {
	ts := &tokenSource{files: c.TokenFiles}
	for i, tok := range c.Tokens {
		if msg := tokenProblem(tok); msg != "" {
			return nil, fmt.Errorf("listen.auth.tokens[%d]: %s", i, msg)
		}
		ts.fixed = append(ts.fixed, sha256.Sum256([]byte(tok)))
	}
	if len(ts.files) == 0 {
		if len(ts.fixed) == 0 {
			return nil, errors.New("listen.auth.tokens: mode token needs at least one token, in tokens or token_files")
		}
		ts.digests.Store(&ts.fixed)
		return ts, nil
	}
	w, err := newWatched("token files", ts.files, o, ts.load)
	if err != nil {
		return nil, err
	}
	ts.watch = w
	return ts, nil
}

// load reads every token file; on an error nothing changes.
func (ts *tokenSource) load() error {
	all := append([][sha256.Size]byte(nil), ts.fixed...)
	for i, path := range ts.files {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("listen.auth.token_files[%d]: %w", i, err)
		}
		n := 0
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, config.MaxTokenBytes+2)
		for line := 1; sc.Scan(); line++ {
			tok := strings.TrimSpace(sc.Text())
			if tok == "" {
				continue
			}
			if msg := tokenProblem(tok); msg != "" {
				return fmt.Errorf("listen.auth.token_files[%d] (%s) line %d: %s", i, path, line, msg)
			}
			if n++; n > MaxTokensPerFile {
				return fmt.Errorf("listen.auth.token_files[%d] (%s): more than %d tokens", i, path, MaxTokensPerFile)
			}
			all = append(all, sha256.Sum256([]byte(tok)))
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("listen.auth.token_files[%d] (%s): a line is longer than %d characters", i, path, config.MaxTokenBytes)
		}
		if n == 0 {
			return fmt.Errorf("listen.auth.token_files[%d] (%s): holds no token", i, path)
		}
	}
	ts.digests.Store(&all)
	return nil
}

// tokenProblem says what is wrong with tok, without quoting it; "" when
// nothing is.
func tokenProblem(tok string) string {
	switch {
	case len(tok) < config.MinTokenBytes:
		return fmt.Sprintf("is shorter than %d characters", config.MinTokenBytes)
	case len(tok) > config.MaxTokenBytes:
		return fmt.Sprintf("is longer than %d characters", config.MaxTokenBytes)
	case !config.IsB64Token(tok):
		return "has a character outside RFC 6750's b64token (letters, digits, - . _ ~ + / and trailing =)"
	}
	return ""
}

// accepts reports whether tok is an accepted token. It takes the same
// time whichever token matches, and whether one does: every digest is
// compared in constant time.
func (ts *tokenSource) accepts(tok string) bool {
	if ts.watch != nil {
		ts.watch.check()
	}
	if tok == "" || len(tok) > config.MaxTokenBytes {
		return false
	}
	d := sha256.Sum256([]byte(tok))
	match := 0
	for _, w := range *ts.digests.Load() {
		match |= subtle.ConstantTimeCompare(d[:], w[:])
	}
	return match == 1
}

// presented is what a request's authorization header values carry.
type presented struct {
	token string
	why   Reason // "" when a token was found
	msg   string // why not, for the answer
}

// fromAuthorization finds the token in the Authorization header (HTTP) or
// metadata (gRPC) values: "Bearer <token>", or "Basic" with the token as
// the password and any user name. The scheme is case-insensitive.
func fromAuthorization(values []string) presented {
	switch len(values) {
	case 0:
		return presented{why: ReasonMissing, msg: "authentication required: send the token as Authorization: Bearer <token>"}
	case 1:
	default:
		return presented{why: ReasonInvalid, msg: fmt.Sprintf("Authorization is sent %d times; send it once", len(values))}
	}
	scheme, rest, _ := strings.Cut(values[0], " ")
	rest = strings.TrimLeft(rest, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		if rest == "" {
			return presented{why: ReasonInvalid, msg: "the Bearer token is empty"}
		}
		return presented{token: rest}
	case strings.EqualFold(scheme, "Basic"):
		if len(rest) > 2*config.MaxTokenBytes {
			return presented{why: ReasonInvalid, msg: "the Basic credentials are too long"}
		}
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return presented{why: ReasonInvalid, msg: "the Basic credentials are not base64"}
		}
		_, pass, ok := strings.Cut(string(b), ":")
		if !ok || pass == "" {
			return presented{why: ReasonInvalid, msg: "the Basic credentials have no password: send the token as the password"}
		}
		return presented{token: pass}
	}
	return presented{why: ReasonInvalid, msg: "Authorization must use the Bearer scheme (or Basic, with the token as the password)"}
}

// check authenticates a request by its authorization values: "" when it
// carries an accepted token, else the reason and the message for the
// answer.
func (ts *tokenSource) check(values []string) (Reason, string) {
	c := fromAuthorization(values)
	if c.why != "" {
		return c.why, c.msg
	}
	if !ts.accepts(c.token) {
		return ReasonInvalid, "the token is not accepted"
	}
	return "", ""
}
