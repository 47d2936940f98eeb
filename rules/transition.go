package rules

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/eventguard/eventguard/internal/quote"
)

// A TRANSITION rule's allowed moves are its "transitions" parameter:
// clauses separated by ',', ';' or new lines, each "FROM -> TO" where FROM
// and TO are states or several joined by '|', and '*' stands for any state:
//
//	created -> approved|cancelled, approved -> shipped|cancelled, shipped -> delivered
//	* -> cancelled
//
// A state is a string's text, a number's literal or true/false: up to 64
// bytes without white space, ',', ';' or '|'. A value may follow itself
// unless "transitions.self" is "deny". "* -> *" is refused (it allows
// everything).

// maxStateBytes bounds a state named in a table; maxValueBytes a value
// kept in State.
const (
	maxStateBytes = 64
	maxValueBytes = 128
)

type move struct{ from, to string }

// transitionTable is a compiled TRANSITION rule.
type transitionTable struct {
	ptr      *pointer
	states   map[string]string // each named state, to intern values
	moves    map[move]struct{}
	toAny    map[string]struct{} // FROM -> *
	fromAny  map[string]struct{} // * -> TO
	allowed  map[string]string   // FROM -> "a|b", to explain a refusal
	denySelf bool
}

// parseTransitions compiles a TRANSITION rule's pointer and parameters.
func parseTransitions(expr string, params map[string]string) (*transitionTable, error) {
	if expr == "" || expr[0] != '/' {
		return nil, fmt.Errorf("expr %s: want the JSON pointer of the value that moves, such as /status", quote.String(expr))
	}
	ptr, err := parsePointer(expr)
	if err != nil {
		return nil, err
	}
	t := &transitionTable{
		ptr:     ptr,
		states:  map[string]string{},
		moves:   map[move]struct{}{},
		toAny:   map[string]struct{}{},
		fromAny: map[string]struct{}{},
		allowed: map[string]string{},
	}
	switch v := params[ParamTransitionsSelf]; v {
	case "", "allow":
	case "deny":
		t.denySelf = true
	default:
		return nil, fmt.Errorf("params: %s is %s: want allow or deny", ParamTransitionsSelf, quote.String(v))
	}
	src := params[ParamTransitions]
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("params: %s is required, such as \"created -> approved|cancelled, approved -> shipped\"", ParamTransitions)
	}
	if err := t.parse(src); err != nil {
		return nil, fmt.Errorf("params: %s: %w", ParamTransitions, err)
	}
	return t, nil
}

func (t *transitionTable) parse(src string) error {
	targets := map[string][]string{}
	clauses := strings.FieldsFunc(src, func(r rune) bool { return r == ',' || r == ';' || r == '\n' })
	n := 0
	for _, clause := range clauses {
		if strings.TrimSpace(clause) == "" {
			continue
		}
		n++
		lhs, rhs, ok := strings.Cut(clause, "->")
		if !ok || strings.Contains(rhs, "->") {
			return fmt.Errorf("clause %d %s: want FROM -> TO", n, quote.String(strings.TrimSpace(clause)))
		}
		froms, err := t.stateList(lhs)
		if err != nil {
			return fmt.Errorf("clause %d %s: %w", n, quote.String(strings.TrimSpace(clause)), err)
		}
		tos, err := t.stateList(rhs)
		if err != nil {
			return fmt.Errorf("clause %d %s: %w", n, quote.String(strings.TrimSpace(clause)), err)
		}
		for _, f := range froms {
			for _, to := range tos {
				switch {
				case f == "*" && to == "*":
					return fmt.Errorf("clause %d %s: * -> * allows every move", n, quote.String(strings.TrimSpace(clause)))
				case f == "*":
					t.fromAny[to] = struct{}{}
				case to == "*":
					t.toAny[f] = struct{}{}
				default:
					t.moves[move{f, to}] = struct{}{}
				}
				if f != "*" && !slices.Contains(targets[f], to) {
					targets[f] = append(targets[f], to)
				}
			}
		}
	}
	if n == 0 {
		return errors.New("no clause")
	}
	for f, tos := range targets {
		t.allowed[f] = strings.Join(tos, "|")
	}
	return nil
}

// stateList reads "a|b|c" (or "*").
func (t *transitionTable) stateList(s string) ([]string, error) {
	var out []string
	for part := range strings.SplitSeq(s, "|") {
		st := strings.TrimSpace(part)
		switch {
		case st == "":
			return nil, errors.New("empty state")
		case len(st) > maxStateBytes:
			return nil, fmt.Errorf("state %s is longer than %d bytes", quote.String(st), maxStateBytes)
		case strings.ContainsFunc(st, func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' }):
			return nil, fmt.Errorf("state %s has white space", quote.String(st))
		case st != "*" && strings.Contains(st, "*"):
			return nil, fmt.Errorf("state %s: '*' stands alone for any state", quote.String(st))
		}
		if st != "*" {
			t.states[st] = st
		}
		out = append(out, st)
	}
	return out, nil
}

// allows reports whether a key may move from one value to the next.
func (t *transitionTable) allows(from, to string) bool {
	if from == to {
		return !t.denySelf
	}
	if _, ok := t.moves[move{from, to}]; ok {
		return true
	}
	if _, ok := t.fromAny[to]; ok {
		return true
	}
	_, ok := t.toAny[from]
	return ok
}

// intern returns the table's copy of a named state, or a copy of v: a
// kept value never holds on to a record's memory.
func (t *transitionTable) intern(v string) string {
	if s, ok := t.states[v]; ok {
		return s
	}
	return strings.Clone(v)
}

// eval checks one record's move and leaves the state update pending
// until the record's verdict is known.
func (t *transitionTable) eval(ev *evalState, name string, r *Result) {
	in := ev.in
	if in.Key == nil {
		r.Outcome, r.Message = OutcomeError, "the record has no key: transitions are followed per key"
		return
	}
	to, problem := t.ptr.scalarText(in.Value)
	if problem != "" {
		r.Outcome, r.Message = OutcomeError, problem
		return
	}
	if len(to) > maxValueBytes {
		r.Outcome, r.Message = OutcomeError, fmt.Sprintf("the value at %s is longer than %d bytes", t.ptr.src, maxValueBytes)
		return
	}
	if in.State == nil {
		r.Outcome, r.Message = OutcomeError, "no transition state given (Input.State): TRANSITION rules run on consume"
		return
	}
	r.To = to
	// The move is kept if the record goes through (Set.Eval decides with
	// the verdict): a refused move that is only observed or warned about
	// was delivered, so the key is now at its value.
	ev.pending = append(ev.pending, pendingMove{rule: name, table: t, value: to})
	from, known := in.State.lookup(name, in.Topic, in.Partition, in.Key)
	if known {
		r.From = from
		if !t.allows(from, to) {
			r.Outcome = OutcomeFail
			r.Message = "move " + quote.String(from) + " -> " + quote.String(to) + " at " + t.ptr.src + " is not allowed"
			if a, ok := t.allowed[from]; ok {
				r.Message += "; from " + quote.String(from) + ": " + a
			}
			if t.denySelf && from == to {
				r.Message += " (transitions.self is deny)"
			}
			return
		}
	}
	r.Outcome = OutcomePass
}

type pendingMove struct {
	rule  string
	table *transitionTable
	value string
}

// DefaultMaxStateEntries is NewState's bound when given 0: the keys whose
// last value a subscription remembers, across its topics, partitions and
// TRANSITION rules. At about 180 bytes an entry (measured with 36-byte
// keys; see BenchmarkStateMemory), 100,000 entries take about 18 MB.
const DefaultMaxStateEntries = 100_000

// State is the memory of TRANSITION rules for one subscription: for each
// (rule name, topic, partition, key), the last value delivered. It is bounded:
// past its maximum, the least recently used entry goes, and that key's
// next record is a new baseline. Rules with the same name share entries
// across subjects and schema versions, so a key's status is followed from
// one event type to the next on the same topic. State is safe for
// concurrent use.
//
// State holds only what this process delivered since it owned the
// partition: after a restart or a rebalance (call Forget for each revoked
// partition) the first record of each key is the baseline, accepted
// whatever its value.
type State struct {
	mu      sync.Mutex
	max     int
	m       map[string]*stateEntry
	lru     stateEntry // sentinel: lru.next is the most recent entry
	buf     []byte
	evicted uint64
}

type stateEntry struct {
	key        string
	value      string
	topic      string
	partition  int32
	prev, next *stateEntry
}

// NewState returns an empty State that keeps at most maxEntries entries
// (DefaultMaxStateEntries when maxEntries <= 0).
func NewState(maxEntries int) *State {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxStateEntries
	}
	s := &State{max: maxEntries, m: make(map[string]*stateEntry)}
	s.lru.next, s.lru.prev = &s.lru, &s.lru
	return s
}

// Len returns the number of entries.
func (s *State) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// Evicted returns how many entries the bound has pushed out since the
// State was made.
func (s *State) Evicted() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.evicted
}

// Forget drops every entry of a topic's partition (when it is revoked or
// lost) and returns how many it dropped. It walks all entries.
func (s *State) Forget(topic string, partition int32) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for e := s.lru.next; e != &s.lru; {
		next := e.next
		if e.partition == partition && e.topic == topic {
			s.unlink(e)
			delete(s.m, e.key)
			n++
		}
		e = next
	}
	return n
}

// mapKey writes the entry key of (rule, topic, partition, key) into s.buf;
// the caller holds s.mu. Rule and topic names hold no NUL.
func (s *State) mapKey(rule, topic string, partition int32, key []byte) []byte {
	b := append(s.buf[:0], rule...)
	b = append(b, 0)
	b = append(b, topic...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(partition))
	b = append(b, key...)
	s.buf = b
	return b
}

// lookup returns a key's last value and marks it recently used.
func (s *State) lookup(rule, topic string, partition int32, key []byte) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[string(s.mapKey(rule, topic, partition, key))]
	if !ok {
		return "", false
	}
	s.unlink(e)
	s.pushFront(e)
	return e.value, true
}

// store sets a key's last value, evicting the least recently used entry
// when full.
func (s *State) store(rule, topic string, partition int32, key []byte, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.mapKey(rule, topic, partition, key)
	if e, ok := s.m[string(k)]; ok {
		e.value = value
		s.unlink(e)
		s.pushFront(e)
		return
	}
	var e *stateEntry
	if len(s.m) >= s.max {
		e = s.lru.prev
		s.unlink(e)
		delete(s.m, e.key)
		s.evicted++
		*e = stateEntry{}
	} else {
		e = new(stateEntry)
	}
	e.key, e.value, e.partition = string(k), value, partition
	e.topic = e.key[len(rule)+1 : len(rule)+1+len(topic)] // no copy of the caller's string
	s.m[e.key] = e
	s.pushFront(e)
}

func (s *State) unlink(e *stateEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (s *State) pushFront(e *stateEntry) {
	e.prev, e.next = &s.lru, s.lru.next
	s.lru.next.prev = e
	s.lru.next = e
}
