package startstop

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"

	"github.com/awsutils/awsutils/awsclient"
)

// Defaults for the zero Options.
const (
	DefaultConcurrency    = 16
	DefaultWaitTimeout    = 15 * time.Minute
	DefaultPollInterval   = 5 * time.Second
	DefaultDeadlineMargin = time.Second
)

// Options say how to carry out a request. A Status request only
// describes: DryRun and Wait do not apply to it.
type Options struct {
	// DryRun proves permissions for EC2 (calls with DryRun set) and only
	// plans RDS; nothing changes.
	DryRun bool
	// Wait polls until every changed resource reached the target state,
	// or WaitTimeout passed. A start that falls back to stopped (an
	// encrypted volume whose KMS key the role cannot use) is failed.
	Wait         bool
	WaitTimeout  time.Duration // 0: 15 minutes
	PollInterval time.Duration // 0: 5 seconds
	// Region overrides the config's region_name; a group's own region
	// still wins.
	Region string
	// Concurrency bounds the AWS calls in flight per service (0: 16), so
	// EC2 and RDS work never wait for each other.
	Concurrency int
	// DeadlineMargin is kept free before ctx's deadline so the report can
	// still be returned (0: 1s, at most a tenth of the time left).
	DeadlineMargin time.Duration
	// OnResult, when set, is called once per resource as soon as its
	// result is final, one call at a time.
	OnResult func(Result)
}

// ErrInvalid matches every *OptionError: nothing was attempted.
var ErrInvalid = errors.New("invalid start/stop options")

// OptionError is an Options field Run refuses; nothing was attempted. It
// matches ErrInvalid with errors.Is. Front ends find it with errors.As and
// name Field as their users know it (a flag).
type OptionError struct {
	Field  string // the Options field, e.g. "WaitTimeout"
	Value  string // the value refused
	Reason string // what is wrong with it
}

func (e *OptionError) Error() string {
	return ErrInvalid.Error() + ": " + e.Field + " " + e.Value + ": " + e.Reason
}

// Is lets errors.Is(err, ErrInvalid) match.
func (e *OptionError) Is(target error) bool { return target == ErrInvalid }

// Validate reports the first field Run would refuse, as an *OptionError, or
// nil; zero fields take their defaults.
func (o Options) Validate() error {
	if o.Concurrency < 0 {
		return &OptionError{Field: "Concurrency", Value: fmt.Sprint(o.Concurrency), Reason: "want at least 1 (0: the default)"}
	}
	for _, d := range []struct {
		field string
		d     time.Duration
	}{{"WaitTimeout", o.WaitTimeout}, {"PollInterval", o.PollInterval}, {"DeadlineMargin", o.DeadlineMargin}} {
		if d.d < 0 {
			return &OptionError{Field: d.field, Value: d.d.String(), Reason: "want a positive duration (0: the default)"}
		}
	}
	return nil
}

// Run carries out req on the resources conf lists and reports what happened
// to each. It returns an error only when nothing was attempted (bad options,
// an unknown key, no region): everything else, including a resource that
// failed, is in the report. Resources not reached before ctx's deadline are
// reported as failed.
func Run(ctx context.Context, cfg aws.Config, conf *Config, req Request, opts Options) (*Report, error) {
	start := time.Now()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	region := cmp.Or(opts.Region, conf.Region, cfg.Region)
	plan, err := NewPlan(conf, req, region)
	if err != nil {
		return nil, err
	}
	if err := plan.checkRegions(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	r := newRunner(cfg, plan, opts)
	work, cancel := workContext(ctx, opts.DeadlineMargin)
	defer cancel()
	r.prepare(work, plan)
	r.report.Warnings = append(append(append([]string(nil), conf.Warnings...), plan.Warnings...), r.report.Warnings...)

	var wg sync.WaitGroup
	for _, b := range plan.Batches {
		wg.Go(func() { r.batch(work, b) })
	}
	wg.Wait()
	r.finish(work)
	r.report.Duration = time.Since(start)
	return r.report, nil
}

// checkRegions refuses a plan with a batch or selector without a region.
func (p *Plan) checkRegions() error {
	for _, b := range p.Batches {
		if b.Region == "" {
			return awsclient.ErrNoRegion
		}
	}
	for _, s := range p.Selectors {
		if s.Region == "" {
			return awsclient.ErrNoRegion
		}
	}
	return nil
}

// prepare assumes the plan's roles, resolves its selectors into more ids
// of its batches and makes a report slot for every resource. A batch whose
// role could not be assumed fails as a whole, with STS's message; so does
// a selector whose role or describe call failed, as a result of its own.
func (r *runner) prepare(ctx context.Context, plan *Plan) {
	r.assumeRoles(ctx, plan)
	failedSelectors := r.resolve(ctx, plan)
	plan.sort()
	for _, b := range plan.Batches {
		for _, id := range b.IDs {
			res := b.result(id)
			res.From = FromIDs
			if sel, ok := b.Selected[id]; ok {
				res.From, res.Selector = FromTags, sel
			}
			r.slot[resource{res.Account, res.Region, res.Type, id}] = len(r.report.Results)
			r.report.Results = append(r.report.Results, res)
		}
	}
	r.done = make([]bool, len(r.report.Results))
	for _, res := range failedSelectors {
		r.report.Results = append(r.report.Results, res)
		r.done = append(r.done, true)
	}
}

func (o Options) withDefaults() Options {
	o.Concurrency = cmp.Or(o.Concurrency, DefaultConcurrency)
	o.WaitTimeout = cmp.Or(o.WaitTimeout, DefaultWaitTimeout)
	o.PollInterval = cmp.Or(o.PollInterval, DefaultPollInterval)
	o.DeadlineMargin = cmp.Or(o.DeadlineMargin, DefaultDeadlineMargin)
	return o
}

// workContext ends margin before ctx's deadline (never more than a tenth
// of the time left), so that the report of what was done still gets out,
// e.g. before Lambda kills the function.
func workContext(ctx context.Context, margin time.Duration) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	margin = min(margin, time.Until(dl)/10)
	return context.WithDeadline(ctx, dl.Add(-margin))
}

// runner holds the state of one Run.
type runner struct {
	cfg    aws.Config
	action Action
	opts   Options

	semMu sync.Mutex
	sem   map[lane]chan struct{}
	// roles are the credentials of each role the plan names, and why a
	// role could not be assumed.
	roles map[roleKey]*assumed
	// stsAPI, when set, assumes the roles instead of STS (unit tests).
	stsAPI stscreds.AssumeRoleAPIClient

	mu     sync.Mutex
	report *Report
	slot   map[resource]int // index in report.Results
	done   []bool
	noted  map[string]bool
	// gaveUp are the optional checks a refusal ended for the run, e.g.
	// "autoscaling:REGION": asking again would only be refused again.
	gaveUp map[string]bool
	cbMu   sync.Mutex

	// decode asks what an encoded authorization failure message says
	// (r.stsDecode, or a fake in unit tests); decodeRefused is set once STS
	// refused to.
	decode        func(ctx context.Context, region, encoded string) (string, error)
	decodeRefused atomic.Bool
}

func newRunner(cfg aws.Config, plan *Plan, opts Options) *runner {
	r := &runner{
		cfg: cfg, action: plan.Action, opts: opts,
		sem:    map[lane]chan struct{}{},
		roles:  map[roleKey]*assumed{},
		report: &Report{Action: plan.Action, Keys: plan.Keys, DryRun: opts.DryRun, Results: make([]Result, 0, plan.Len())},
		slot:   map[resource]int{},
		noted:  map[string]bool{},
		gaveUp: map[string]bool{},
	}
	r.decode = r.stsDecode
	return r
}

// batch does the run's action to b with its type's worker.
func (r *runner) batch(ctx context.Context, b Batch) {
	k, ok := lookup(b.Type)
	if !ok {
		for _, id := range b.IDs {
			res := b.result(id)
			res.Outcome, res.Message = Unsupported, "unknown type"
			r.set(res)
		}
		return
	}
	cfg, err := r.configFor(b.Role, b.ExternalID, b.Region)
	if err != nil {
		for _, id := range b.IDs {
			res := b.result(id)
			res.Outcome, res.Message = Failed, err.Error()
			r.set(res)
		}
		return
	}
	ctx = withLane(ctx, b.Account(), b.Region)
	r.work(ctx, k, k.New(r, k, cfg, b), b)
}

// work does the run's action to b with w.
func (r *runner) work(ctx context.Context, k *kind, w worker, b Batch) {
	if r.action == Status {
		r.status(ctx, k, w, b)
		return
	}
	if bw, ok := w.(batcher); ok {
		bw.batch(ctx, b)
		return
	}
	r.describeFirst(ctx, k, w, b)
}

// call runs one AWS call to svc (a name in services) within its bound in
// ctx's account and region (see withLane). A call that ctx ended before it
// was made fails with a notCalledError.
func (r *runner) call(ctx context.Context, svc string, f func() error) error {
	sem := r.bound(svc, ctx)
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return &notCalledError{ctx.Err()}
	}
	defer func() { <-sem }()
	if err := ctx.Err(); err != nil {
		return &notCalledError{err}
	}
	return f()
}

// notCalledError is the context's error for a call that was never made:
// unlike a call cut off in flight, its resource's state is known to be
// untouched.
type notCalledError struct{ err error }

func (e *notCalledError) Error() string { return e.err.Error() }
func (e *notCalledError) Unwrap() error { return e.err }

// set records a final result; the first one for a resource wins.
func (r *runner) set(res Result) {
	r.mu.Lock()
	i, ok := r.slot[resource{res.Account, res.Region, res.Type, res.ID}]
	if !ok || r.done[i] {
		r.mu.Unlock()
		return
	}
	res.From, res.Selector = r.report.Results[i].From, r.report.Results[i].Selector
	r.report.Results[i] = res
	r.done[i] = true
	r.mu.Unlock()
	if r.opts.OnResult != nil {
		r.cbMu.Lock()
		defer r.cbMu.Unlock()
		r.opts.OnResult(res)
	}
}

// note adds a line to the report once.
func (r *runner) note(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.noted[s] {
		r.noted[s] = true
		r.report.Warnings = append(r.report.Warnings, s)
	}
}

// giveUp ends the optional check key for the run.
func (r *runner) giveUp(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gaveUp[key] = true
}

// givenUp says whether giveUp(key) was called.
func (r *runner) givenUp(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gaveUp[key]
}

// finish reports every resource without a result as not reached.
func (r *runner) finish(ctx context.Context) {
	msg := notReached(ctx.Err())
	r.mu.Lock()
	var missing []Result
	for i, d := range r.done {
		if !d {
			res := r.report.Results[i]
			res.Outcome, res.Message = Failed, msg
			missing = append(missing, res)
		}
	}
	r.mu.Unlock()
	for _, res := range missing {
		r.set(res)
	}
	r.report.summarize()
}

// notReached is the message for a resource no call reached, given why the
// run's context ended (nil: it did not).
func notReached(ctxErr error) string {
	switch {
	case ctxErr == nil:
		return "not reached"
	case errors.Is(ctxErr, context.Canceled):
		return "not reached: canceled"
	}
	return "not reached before deadline"
}

// failure turns an error from a call into a result message, with the
// deadline case said plainly.
func failure(err error, during string) string {
	if nc := (*notCalledError)(nil); errors.As(err, &nc) {
		return notReached(nc.err)
	}
	if awsclient.Classify(err) == awsclient.KindCanceled {
		if errors.Is(err, context.Canceled) {
			return fmt.Sprintf("canceled during %s; state unknown", during)
		}
		return fmt.Sprintf("deadline reached during %s; state unknown", during)
	}
	return during + ": " + awsclient.Message(err)
}

// sleep waits d or until ctx is done, reporting whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
