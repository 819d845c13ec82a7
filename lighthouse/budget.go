package lighthouse

import (
	"context"
	"time"

	"github.com/stewardhq/steward"
)

// Limits on one LighthouseValidate call: evaluating every template's
// expressions and checking what they produce. Any signed-in user can send a
// template, and a few kilobytes of chained parameters, doubling concats or
// nested copy loops would otherwise run for days or fill memory. Each value
// leaves wide headroom over real templates: TestSampleBudgets measures
// Microsoft's samples and fails when one comes within a hundredth of a limit.
const (
	// maxSteps: the costliest sample takes 47 steps with its parameters
	// file, and all 22 sample files in one call 363; a million is 2,700
	// times that, and at the slowest step measured (about 100 ns, see
	// BenchmarkBudgetWorstCase) a tenth of a second.
	maxSteps = 1_000_000
	// maxOutputBytes: a sample makes at most 3.6 KiB of values and
	// findings, all 22 at once 27 KiB; 8 MiB is 300 times that, four times
	// the most the web form uploads (4 × 512 KiB), and bounds the memory a
	// hostile template can hold.
	maxOutputBytes = 8 << 20
	// maxCopyCount is Azure's own limit on one copy loop ("The count can't
	// exceed 800"): a longer loop would not deploy anyway.
	maxCopyCount = 800
	// maxCopyTotal bounds the iterations of all copy loops together, so
	// nested loops cannot multiply: an 800-long loop of authorizations with
	// a dozen delegated roles each fits; 800 × 800 does not.
	maxCopyTotal = 20_000
	// maxNesting bounds how deeply expressions nest and how long a chain of
	// parameters and variables that refer to one another may be; templates
	// nest a handful deep, and the limit keeps the Go stack small (a
	// parameter that refers to itself used to overflow it and crash).
	maxNesting = 128
	// maxEvalTime is a backstop for work the step count misses on a
	// loaded machine; the other budgets stop every template measured 20
	// times sooner.
	maxEvalTime = 2 * time.Second
	// checkEvery is how many steps pass between looks at the clock and the
	// caller's context: cheap, and a cancelled request stops within
	// microseconds.
	checkEvery = 1 << 10
)

// limits holds the budget of one call; tests shrink it.
type limits struct {
	steps     int
	output    int
	copyCount int
	copyTotal int
	nesting   int
	time      time.Duration
}

var defaultLimits = limits{
	steps:     maxSteps,
	output:    maxOutputBytes,
	copyCount: maxCopyCount,
	copyTotal: maxCopyTotal,
	nesting:   maxNesting,
	time:      maxEvalTime,
}

// Bytes charged for each element of an array or entry of an object that an
// evaluation makes (an interface value and its share of the backing
// store), and for each finding besides its message.
const (
	elemBytes    = 16
	findingBytes = 128
)

// budget is what is left of one call's limits. The first limit reached
// sticks in err: from then on every step, growth and copy loop is refused,
// so the evaluation unwinds at once and the caller returns err. A budget is
// used by one goroutine.
type budget struct {
	ctx      context.Context
	lim      limits
	deadline time.Time
	file     string // the file being evaluated, for messages

	steps, output, copies int
	err                   error
}

func newBudget(ctx context.Context, lim limits) *budget {
	return &budget{ctx: ctx, lim: lim, deadline: time.Now().Add(lim.time)}
}

// step charges one unit of work: a function call, a node evaluated, an
// element visited. It reports false once any budget is spent.
func (b *budget) step() bool { return b.work(1) }

// work charges n steps at once, for linear work such as a
// case-insensitive scan of an object's keys.
func (b *budget) work(n int) bool {
	if b.err != nil {
		return false
	}
	before := b.steps
	b.steps += n
	if b.steps > b.lim.steps {
		b.exceeded("step budget of %d steps", b.lim.steps)
		return false
	}
	if before/checkEvery != b.steps/checkEvery {
		return b.check()
	}
	return true
}

// check stops the work when the caller has gone or time is up.
func (b *budget) check() bool {
	if err := b.ctx.Err(); err != nil {
		b.err = stopped(err)
		return false
	}
	if time.Now().After(b.deadline) {
		b.exceeded("time budget of %s", b.lim.time)
		return false
	}
	return true
}

// grow charges n bytes of produced value. Callers charge before they
// allocate, so a refused growth never happens.
func (b *budget) grow(n int) bool {
	if b.err != nil {
		return false
	}
	b.output += n
	if n < 0 || b.output > b.lim.output || b.output < 0 {
		b.exceeded("output budget of %d bytes", b.lim.output)
		return false
	}
	return true
}

// copyLoop charges a copy loop of count iterations.
func (b *budget) copyLoop(count int) bool {
	if b.err != nil {
		return false
	}
	if count > b.lim.copyCount {
		b.err = steward.Errorf(steward.EUNPROCESSABLE, "Evaluating %s exceeded its copy budget: a copy loop of %d iterations is more than the %d Azure allows; shorten the loop.", b.name(), count, b.lim.copyCount)
		return false
	}
	b.copies += count
	if b.copies > b.lim.copyTotal {
		b.exceeded("copy budget of %d copy-loop iterations in all (nested loops multiply)", b.lim.copyTotal)
		return false
	}
	return true
}

// nested reports whether depth is within the nesting budget.
func (b *budget) nested(depth int) bool {
	if b.err != nil {
		return false
	}
	if depth > b.lim.nesting {
		b.exceeded("nesting budget of %d levels of expressions, parameters and variables", b.lim.nesting)
		return false
	}
	return true
}

func (b *budget) exceeded(format string, arg any) {
	b.err = steward.Errorf(steward.EUNPROCESSABLE, "Evaluating %s exceeded its "+format+"; simplify the template.", b.name(), arg)
}

func (b *budget) name() string {
	if b.file == "" {
		return "the template"
	}
	return b.file
}

// stopped is the error for work given up because the caller's context
// ended: the client went away or its deadline passed. It wraps the
// context's error, so errors.Is finds context.Canceled.
func stopped(err error) error {
	return steward.WrapError(steward.EUNAVAILABLE, err, "The check stopped before it finished: the request was cancelled or ran out of time.")
}
