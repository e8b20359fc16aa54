package startstop

import (
	"context"
	"fmt"
	"sync"

	"github.com/awsutils/awsutils/awsclient"
)

// worker makes one type's calls for one batch: one region, one set of
// group fields. Each method makes its calls through runner.call with the
// kind's service, so they share its concurrency bound.
type worker interface {
	// describe returns the state of each of ids (at most the kind's
	// Chunk) that exists, keyed by the id as listed; an id that does not
	// exist is absent, not an error.
	describe(ctx context.Context, ids []string) (map[string]resState, error)
	// decide says whether to act on a resource found in st, and if not,
	// its outcome and message.
	decide(a Action, st resState) (act bool, o Outcome, msg string)
	// act does the run's action to the resource of res (Before set; st
	// is its state, zero when describe was not allowed) and returns res
	// with After, Outcome and Message.
	act(ctx context.Context, res Result, st resState) Result
	// settle says where a changed resource now in st stands while
	// waiting for the action's target state, with a message when it
	// failed or fell back.
	settle(a Action, st resState) (progress, string)
}

// batcher is a worker that starts and stops a whole batch its own way
// (ec2.go acts first); status still describes through the worker.
type batcher interface {
	worker
	batch(ctx context.Context, b Batch)
}

// resState is a resource's state as a describe found it.
type resState struct {
	Name   string // as AWS says it: running, available
	Reason string // why, when AWS says
	// Unsupported, when set, is why this resource cannot be started or
	// stopped as this type (a cluster's member): it is reported
	// unsupported with this message and not acted on.
	Unsupported string
	// extra is the worker's own (e.g. a read replica's source).
	extra any
}

// progress is where a changed resource stands while waiting.
type progress int

const (
	moving   progress = iota // not there yet
	reached                  // in the target state
	fellBack                 // back where it was: failed when seen twice in a row (once may be a describe lagging)
	broke                    // failed for good
)

// describeFirst starts or stops b the careful way: describe each chunk,
// decide per resource, act on those that need it (concurrently, within the
// service's bound), then wait if asked.
func (r *runner) describeFirst(ctx context.Context, k *kind, w worker, b Batch) {
	eachChunk(b, k.Chunk, func(ids []string) { r.describeFirstChunk(ctx, k, w, b, ids) })
}

// eachChunk runs f on the chunks of b's ids at the same time.
func eachChunk(b Batch, n int, f func(ids []string)) {
	var wg sync.WaitGroup
	for ids := range chunks(b.IDs, n) {
		wg.Go(func() { f(ids) })
	}
	wg.Wait()
}

// describeToAct describes ids before acting on them. When the describe is
// not allowed, it notes that the nouns (k's resources, as the message
// names them) are acted on blind and returns denied. On any other error it
// records each id failed (none when canceled) and returns ok false.
func (r *runner) describeToAct(ctx context.Context, k *kind, w worker, b Batch, ids []string, nouns string) (states map[string]resState, denied, ok bool) {
	states, err := w.describe(ctx, ids)
	if err == nil {
		return states, false, true
	}
	switch awsclient.Classify(err) {
	case awsclient.KindAccessDenied:
		r.note(fmt.Sprintf("%s is not allowed in %s, so %s were %s without checking their state first (%s)",
			k.Describe.IAM[0], b.Region, nouns, pastTense(r.action), awsclient.Code(err)))
		return nil, true, true
	case awsclient.KindCanceled:
	default:
		for _, id := range ids {
			res := b.result(id)
			res.Outcome, res.Message = Failed, failure(err, k.Describe.Op)
			r.set(res)
		}
	}
	return nil, false, false
}

// judge reports whether to act on the resource of res (Before set), found
// in st; if not, it records its result: unsupported, or what decide says.
func (r *runner) judge(w worker, res Result, st resState) bool {
	if st.Unsupported != "" {
		res.After, res.Outcome, res.Message = st.Name, Unsupported, st.Unsupported
		r.set(res)
		return false
	}
	do, outcome, msg := w.decide(r.action, st)
	if !do {
		res.After, res.Outcome, res.Message = st.Name, outcome, msg
		r.set(res)
	}
	return do
}

func (r *runner) describeFirstChunk(ctx context.Context, k *kind, w worker, b Batch, ids []string) {
	region, result := b.Region, b.result
	states, denied, ok := r.describeToAct(ctx, k, w, b, ids, k.Noun+"s")
	if !ok {
		return
	}
	op := k.op(r.action).Op
	var wg sync.WaitGroup
	var mu sync.Mutex
	var changed []Result
	for _, id := range ids {
		res := result(id)
		var st resState
		if !denied {
			var ok bool
			st, ok = states[id]
			if !ok {
				res.Outcome, res.Message = Failed, k.notFound(region)
				r.set(res)
				continue
			}
			res.Before = st.Name
			if !r.judge(w, res, st) {
				continue
			}
		}
		if r.opts.DryRun {
			api, _ := serviceOf(k.Service)
			res.After, res.Outcome = k.Target[r.action], Planned
			res.Message = "dry run: would call " + op + " (" + api.API + " has no dry run; permissions not checked)"
			r.set(res)
			continue
		}
		wg.Go(func() {
			res := w.act(ctx, res, st)
			if r.opts.Wait && res.Outcome == Changed && !denied {
				mu.Lock()
				changed = append(changed, res)
				mu.Unlock()
				return
			}
			r.set(res)
		})
	}
	wg.Wait()
	if len(changed) > 0 {
		r.wait(ctx, k, w, changed)
	}
	if denied && r.opts.Wait {
		r.note(fmt.Sprintf("could not wait for %ss in %s: %s is not allowed", k.Noun, region, k.Describe.IAM[0]))
	}
}

// wait polls until each changed resource reached the target state, or
// WaitTimeout passed.
func (r *runner) wait(ctx context.Context, k *kind, w worker, changed []Result) {
	want := k.Target[r.action]
	pending := map[string]*Result{}
	var ids []string
	for i := range changed {
		pending[changed[i].ID] = &changed[i]
		ids = append(ids, changed[i].ID)
	}
	wctx, cancel := context.WithTimeout(ctx, r.opts.WaitTimeout)
	defer cancel()
	fellBacks := map[string]int{}
	for len(pending) > 0 && sleep(wctx, r.opts.PollInterval) {
		var left []string
		for _, id := range ids {
			if pending[id] != nil {
				left = append(left, id)
			}
		}
		ids = left
		for part := range chunks(ids, k.Chunk) {
			states, err := w.describe(wctx, part)
			if err != nil {
				continue // the SDK retried; the next poll may do better
			}
			for _, id := range part {
				res := pending[id]
				st, ok := states[id]
				if !ok {
					continue
				}
				res.After = st.Name
				p, msg := w.settle(r.action, st)
				switch p {
				case reached:
					res.Message = joinMsg(res.Message, "reached "+want)
				case fellBack:
					if fellBacks[id]++; fellBacks[id] < 2 {
						continue
					}
					res.Outcome, res.Message = Failed, msg
				case broke:
					res.Outcome, res.Message = Failed, msg
				default:
					fellBacks[id] = 0
					continue
				}
				r.set(*res)
				delete(pending, id)
			}
		}
	}
	why := fmt.Sprintf("did not reach %s within %s", want, r.opts.WaitTimeout)
	if ctx.Err() != nil {
		why = "did not reach " + want + " before deadline"
	}
	for _, id := range ids {
		if res := pending[id]; res != nil {
			res.Outcome = Failed
			res.Message = fmt.Sprintf("%s (last seen %s)", why, state(res.After))
			r.set(*res)
		}
	}
}

// status reports each resource of b as describe finds it, acting on none:
// the same outcomes as start and stop for what they would refuse (not
// found, unsupported), unchanged with its state for the rest.
func (r *runner) status(ctx context.Context, k *kind, w worker, b Batch) {
	eachChunk(b, k.Chunk, func(ids []string) { r.statusChunk(ctx, k, w, b, ids) })
}

func (r *runner) statusChunk(ctx context.Context, k *kind, w worker, b Batch, ids []string) {
	region := b.Region
	states, err := w.describe(ctx, ids)
	if err != nil {
		msg := failure(err, k.Describe.Op)
		switch awsclient.Classify(err) {
		case awsclient.KindCanceled:
			return
		case awsclient.KindAccessDenied:
			msg = fmt.Sprintf("state unknown: %s is not allowed in %s", k.Describe.IAM[0], region)
			r.note(fmt.Sprintf("%s is not allowed in %s, so the state of %ss is unknown (%s)",
				k.Describe.IAM[0], region, k.Noun, awsclient.Code(err)))
		}
		for _, id := range ids {
			res := b.result(id)
			res.Outcome, res.Message = Failed, msg
			r.set(res)
		}
		return
	}
	for _, id := range ids {
		res := b.result(id)
		st, ok := states[id]
		switch {
		case !ok:
			res.Outcome, res.Message = Failed, k.notFound(region)
		case st.Unsupported != "":
			res.Before, res.After, res.Outcome, res.Message = st.Name, st.Name, Unsupported, st.Unsupported
		default:
			res.Before, res.After, res.Outcome, res.Message = st.Name, st.Name, Unchanged, st.Reason
		}
		r.set(res)
	}
}

// joinMsg appends b to message a, if any.
func joinMsg(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
