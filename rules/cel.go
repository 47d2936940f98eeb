package rules

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
)

// The CEL variables a rule reads.
const (
	// VarMessage is the event: its decoded JSON value (an Avro or Protobuf
	// event in its JSON form).
	VarMessage = "message"
	// VarKey is the Kafka key as a string (bytes when it is not UTF-8), or
	// null when the record has none.
	VarKey = "key"
	// VarHeaders is the record's headers as a map of string to string; of
	// a name given twice, the last value.
	VarHeaders = "headers"
	// VarTopic is the topic's name.
	VarTopic = "topic"
)

// hardMaxExprBytes caps Options.MaxExprBytes: the parser's own limit.
const hardMaxExprBytes = 64 << 10

var (
	envOnce sync.Once
	env     *cel.Env
	errEnv  error
)

// celEnv returns the environment every CEL rule compiles in, built once:
// the four variables, cross-type numeric comparisons (1 < 1.5), the
// strings extension and the format checks of Confluent's executor, and
// compile-time checks of regular expression, duration and timestamp
// literals.
func celEnv() (*cel.Env, error) {
	envOnce.Do(func() {
		opts := []cel.EnvOption{
			cel.Variable(VarMessage, cel.DynType),
			cel.Variable(VarKey, cel.DynType),
			cel.Variable(VarHeaders, cel.MapType(cel.StringType, cel.StringType)),
			cel.Variable(VarTopic, cel.StringType),
			cel.CrossTypeNumericComparisons(true),
			ext.Strings(ext.StringsValidateFormatCalls(true)),
			cel.ParserExpressionSizeLimit(hardMaxExprBytes),
			cel.ASTValidators(
				cel.ValidateRegexLiterals(),
				cel.ValidateDurationLiterals(),
				cel.ValidateTimestampLiterals(),
			),
		}
		opts = append(opts, formatFunctions()...)
		env, errEnv = cel.NewEnv(opts...)
	})
	return env, errEnv
}

// celRule is a compiled CEL condition, with its optional guard.
type celRule struct {
	src   string
	guard *condition // nil without a guard
	body  *condition
	limit uint64
}

// condition is one compiled boolean expression, planned twice: fast
// evaluates without tracking cost, tracked aborts past Options.MaxCost.
// An event whose every list, map and string holds at most fastUpTo items
// cannot make the expression cost more than MaxCost (by the same cost
// model the runtime tracker uses), so it takes the fast plan; a larger one
// takes the tracked plan. Tracking costs about as much again as the
// evaluation itself, with an allocation per operation.
type condition struct {
	fast, tracked cel.Program
	fastUpTo      uint64
}

// compileCEL compiles expr. As Confluent's executor does, a ';' splits a
// guard from the condition: "guard; condition" passes without evaluating
// the condition when the guard is false or fails. The first ';' splits,
// wherever it stands.
func compileCEL(expr string, o *Options) (*celRule, error) {
	e, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	r := &celRule{src: expr, limit: o.MaxCost}
	guard, body := "", expr
	if i := strings.IndexByte(expr, ';'); i >= 0 {
		guard, body = expr[:i], expr[i+1:]
	}
	var estimate uint64
	if strings.TrimSpace(guard) != "" {
		c, est, err := compileCondition(e, guard, o)
		if err != nil {
			return nil, fmt.Errorf("guard (before ';'): %w", err)
		}
		r.guard, estimate = c, est
	}
	c, est, err := compileCondition(e, body, o)
	if err != nil {
		return nil, err
	}
	r.body = c
	if estimate += est; estimate < est || estimate > o.MaxEstimatedCost {
		return nil, fmt.Errorf("estimated cost up to %d with its guard is over the limit of %d", estimate, o.MaxEstimatedCost)
	}
	return r, nil
}

// maxFastExp bounds the search for condition.fastUpTo: at most
// maxFastSize.
const (
	maxFastExp  = 30
	maxFastSize = 1 << maxFastExp
)

// compileCondition compiles one boolean expression and estimates its
// cost.
func compileCondition(e *cel.Env, src string, o *Options) (*condition, uint64, error) {
	if strings.TrimSpace(src) == "" {
		return nil, 0, errors.New("expression is empty")
	}
	ast, iss := e.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, 0, iss.Err()
	}
	switch k := ast.OutputType().Kind(); k {
	case types.BoolKind, types.DynKind, types.AnyKind:
	default:
		return nil, 0, fmt.Errorf("expression yields %s, want bool", ast.OutputType())
	}
	estimate := func(n uint64) (uint64, error) {
		est, err := e.EstimateCost(ast, sizeEstimator{hint: n})
		if err != nil {
			return 0, fmt.Errorf("estimate cost: %w", err)
		}
		return est.Max, nil
	}
	est, err := estimate(o.SizeHint)
	if err != nil {
		return nil, 0, err
	}
	if est > o.MaxEstimatedCost {
		return nil, 0, fmt.Errorf("estimated cost up to %d is over the limit of %d (taking each list, map and string of the event to hold up to %d items)", est, o.MaxEstimatedCost, o.SizeHint)
	}
	c := &condition{}
	// The largest power of two whose estimate stays within MaxCost
	// (estimates grow with the size): a binary search on the exponent, a
	// handful of estimates per expression.
	within := func(n uint64) bool {
		e, err := estimate(n)
		return err == nil && e <= o.MaxCost
	}
	if within(0) {
		lo, hi := -1, maxFastExp // the answer is 2^lo, or 0 when lo is -1
		for lo < hi {
			mid := lo + (hi-lo+1)/2
			if within(1 << mid) {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		if lo >= 0 {
			c.fastUpTo = 1 << lo
		}
	}
	if c.fast, err = e.Program(ast, cel.EvalOptions(cel.OptOptimize)); err != nil {
		return nil, 0, fmt.Errorf("plan: %w", err)
	}
	if c.tracked, err = e.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(o.MaxCost)); err != nil {
		return nil, 0, fmt.Errorf("plan: %w", err)
	}
	return c, est, nil
}

// eval runs the condition on ev, tracking its cost unless the event is
// small enough for the estimate to bound it.
func (c *condition) eval(ev *evalState) (ref.Val, error) {
	if ev.size() <= c.fastUpTo {
		out, _, err := c.fast.Eval(ev)
		return out, err
	}
	out, _, err := c.tracked.Eval(ev)
	return out, err
}

// sizeEstimator tells the cost estimate how large the event's values may
// be: each list, map and string reached from message, key or headers holds
// up to hint items (or bytes); a topic name has at most 249 bytes.
type sizeEstimator struct{ hint uint64 }

// EstimateSize implements cost.Estimator.
func (s sizeEstimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	p := n.Path()
	if len(p) == 0 {
		return nil
	}
	switch p[0] {
	case VarMessage, VarKey, VarHeaders:
		return &cost.SizeEstimate{Min: 0, Max: s.hint}
	case VarTopic:
		return &cost.SizeEstimate{Min: 1, Max: 249}
	}
	return nil
}

// EstimateCallCost implements cost.Estimator: the standard costs.
func (sizeEstimator) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

// eval runs the rule on one record.
func (r *celRule) eval(ev *evalState) (Outcome, string, bool) {
	if r.guard != nil {
		out, err := r.guard.eval(ev)
		if err != nil {
			if isAborted(err) {
				return OutcomeError, fmt.Sprintf("guard aborted: its cost went over the limit of %d", r.limit), true
			}
			return OutcomePass, "", false // a failing guard skips the rule, as in Confluent's clients
		}
		switch out {
		case types.True:
		case types.False:
			return OutcomePass, "", false
		default:
			return OutcomeError, fmt.Sprintf("guard yields %s, want bool", out.Type().TypeName()), false
		}
	}
	out, err := r.body.eval(ev)
	if err != nil {
		if isAborted(err) {
			return OutcomeError, fmt.Sprintf("aborted: its cost went over the limit of %d", r.limit), true
		}
		return OutcomeError, err.Error(), false
	}
	switch out {
	case types.True:
		return OutcomePass, "", false
	case types.False:
		return OutcomeFail, "condition is false: " + r.src, false
	}
	return OutcomeError, fmt.Sprintf("expression yields %s, want bool", out.Type().TypeName()), false
}

// isAborted reports whether err is the runtime cost limit stopping an
// evaluation.
func isAborted(err error) bool {
	var c interpreter.EvalCancelledError
	return errors.As(err, &c) && c.Cause == interpreter.CostLimitExceeded
}
