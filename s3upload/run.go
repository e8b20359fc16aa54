package s3upload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/sys/unix"

	"github.com/awsutils/awsutils/awsclient"
)

// Run uploads opts.Src to S3 and returns what happened to every file. The
// error is non-nil only when the run could not start (it wraps ErrInvalid
// for bad options); failed files are in the report (Report.OK).
func Run(ctx context.Context, cfg aws.Config, opts Options) (*Report, error) {
	adaptive := opts.Concurrency == 0
	if err := opts.validate(); err != nil {
		return nil, err
	}
	flt, err := newFilter(opts.Include, opts.Exclude)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var batch *batchDoc
	var log *outcomeLog
	if opts.Batch != nil {
		// The batch is read and checked before the source is touched.
		client := awsclient.S3(cfg)
		if batch, err = loadBatch(ctx, client, &opts); err != nil {
			return nil, err
		}
		// A batch run again (Step Functions retries a failed or timed-out
		// child) finds what the first run stored verified instead of
		// uploading it again; the first run saves a HEAD per file.
		log = newOutcomeLog(opts.Src, batch.Files)
		if !opts.DryRun && startedBefore(ctx, client, opts.Batch) {
			opts.SkipUnchanged = true
			log.prev = readOutcomes(ctx, client, opts.Batch, len(batch.Files))
		}
	}
	w, err := newWalker(opts.Src, flt, opts.FollowSymlinks, opts.RemoveSrc && opts.PruneEmptyDirs && !opts.DryRun)
	if err != nil {
		return nil, fmt.Errorf("%w: source folder %s: %s", ErrInvalid, opts.Src, errMsg(err))
	}
	defer w.close()
	w.shard = opts.Shard
	if batch != nil {
		w.planned = batch.Files
		if w.planned == nil {
			w.planned = []batchFile{}
		}
	}
	fixed := opts.Concurrency
	if adaptive {
		fixed = 0
	}
	lim := newLimiter(fixed, maxInFlight(), time.Now)
	r := &run{
		opts: &opts, walk: w, up: newUploader(cfg, &opts, w, lim), lim: lim,
		rep: &Report{Src: opts.Src, Bucket: opts.Bucket, Prefix: opts.Prefix, DryRun: opts.DryRun, Files: []File{}},
	}
	if log != nil {
		r.onFile = log.note
	}
	rep := r.do(ctx)
	if opts.Shard.Count > 0 {
		rep.Shard = &opts.Shard
	}
	if opts.Batch != nil && !opts.DryRun {
		rep.Batch = writeBatchReport(ctx, awsclient.S3(cfg), opts.Batch, rep, log)
	}
	return rep, nil
}

// maxInFlight is the most files an adaptive run keeps in flight: within
// MaxInFlight, half the open-file limit (each file in flight holds its
// file and a connection), which Run first raises as far as allowed, and,
// in a Lambda function, two per MiB of its memory (a small file in flight
// holds buffers, a connection and its goroutines and the SDK's request;
// docs/NOTES.md has the measurement).
func maxInFlight() int {
	raiseOnce.Do(raiseOpenFiles)
	n := int64(MaxInFlight)
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil {
		n = min(n, int64(rl.Cur/2)-32)
	}
	if mib, err := strconv.Atoi(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")); err == nil && mib > 0 {
		n = min(n, int64(mib)*2)
	}
	return int(max(n, minInFlight))
}

var raiseOnce sync.Once

// raiseOpenFiles lifts the soft open-file limit to the hard one: the soft
// default is often below what a far bucket needs.
func raiseOpenFiles() {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &rl)
	}
}

// removerCount is the number of removals in flight: unlinks are local
// (or one NFS round trip each), far cheaper than an upload.
const removerCount = 8

// run is one upload: a walk feeding a dispatcher, workers, and the
// collector that builds the report.
type run struct {
	opts *Options
	walk *walker
	up   *uploader
	lim  *limiter
	rep  *Report
	// Files left for a later run: never started, or cut off in flight.
	notStarted, interrupted atomic.Int64
	// onFile, when set, sees every outcome (from collect's goroutine).
	onFile func(File)
}

// stopError is why a run stopped starting files before the walk was done;
// it is the cause of the dispatch context.
type stopError struct {
	msg   string
	fatal bool // an error every other file would hit too
}

func (e *stopError) Error() string { return e.msg }

func (r *run) do(ctx context.Context) *Report {
	start := time.Now()
	opts := r.opts

	// Files start under dispatch, which ends with one cause: an error
	// every file would hit, the deadline margin, or ctx. Transfers run
	// under work, which ends half a margin before the deadline so that
	// aborting a multipart upload still has time.
	dispatch, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	work, cancelWork := context.WithCancel(ctx)
	if dl, ok := ctx.Deadline(); ok && opts.DeadlineMargin > 0 {
		work, cancelWork = context.WithDeadline(ctx, dl.Add(-opts.DeadlineMargin/2))
		near := &stopError{msg: fmt.Sprintf("deadline near (margin %s): no new files started", opts.DeadlineMargin)}
		t := time.AfterFunc(time.Until(dl.Add(-opts.DeadlineMargin)), func() { stop(near) })
		defer t.Stop()
	}
	defer cancelWork()

	items := make(chan item, 2*opts.Concurrency)
	walkCtx, cancelWalk := context.WithCancel(ctx)
	defer cancelWalk()
	go r.walk.run(walkCtx, items)

	// Each file is a goroutine while it holds one of the limiter's slots;
	// removers delete verified sources, so that a slow unlink (an NFS round
	// trip on EFS) never holds a slot.
	removals := make(chan outcome, opts.Concurrency)
	results := make(chan outcome, opts.Concurrency)
	var files, removers sync.WaitGroup
	launch := func(it item) {
		files.Add(1)
		go func() {
			defer files.Done()
			start := time.Now()
			o := r.up.file(work, it)
			r.lim.release(time.Since(start))
			if o.remove != nil {
				removals <- o
				return
			}
			it.done()
			results <- o
		}()
	}
	for range removerCount {
		removers.Add(1)
		go func() {
			defer removers.Done()
			for o := range removals {
				it := o.remove.it
				o = r.up.remove(o)
				it.done()
				results <- o
			}
		}()
	}
	go func() {
		r.dispatch(dispatch, work, items, launch, results)
		files.Wait()
		close(removals)
		removers.Wait()
		close(results)
	}()
	r.collect(results, stop)

	rep := r.rep
	rep.Warnings = append(rep.Warnings, r.walk.pruner.taken()...)
	rep.Totals.Excluded = r.walk.excluded.Load()
	rep.Totals.OtherShards = r.walk.others.Load()
	rep.Totals.Remaining = int(r.notStarted.Load() + r.interrupted.Load())
	rep.Totals.InFlight = r.lim.highest()
	if dispatch.Err() != nil {
		var se *stopError
		switch {
		case errors.As(context.Cause(dispatch), &se) && se.fatal:
			rep.Stopped = "stopped after an error every file would hit: " + se.msg
		case r.notStarted.Load() == 0:
			// Every file had started: the files' own results say the rest.
		case se != nil:
			rep.Stopped = se.msg
		default:
			rep.Stopped = "canceled: " + ctx.Err().Error()
		}
	}
	if rep.Stopped != "" && ctx.Err() != nil && rep.Totals.Remaining > 0 {
		rep.Stopped += fmt.Sprintf(" (the listing stopped too: at least %d files remain)", rep.Totals.Remaining)
	}
	rep.Totals.Seconds = time.Since(start).Seconds()
	if rep.Totals.Seconds > 0 {
		rep.Totals.MiBPerSec = float64(rep.Totals.Bytes) / (1 << 20) / rep.Totals.Seconds
	}
	return rep
}

// dispatch starts a file for each of the walk's items as the limiter
// grants slots, until ctx ends; what it cannot start is remaining work.
// Items that need no request (skipped, failed, a dry run) are reported at
// once, holding no slot.
func (r *run) dispatch(ctx, work context.Context, items <-chan item, launch func(item), results chan<- outcome) {
	for it := range items {
		r.up.noteFound(it)
		if it.skip != "" || it.fail != "" || r.opts.DryRun {
			results <- r.up.file(work, it)
			it.done()
			continue
		}
		if ctx.Err() == nil && r.lim.acquire(ctx) == nil {
			launch(it)
			continue
		}
		r.notStarted.Add(1)
		it.done()
	}
}

// collect adds every outcome to the report, streams it to OnFile, and
// stops the dispatch at the first error every file would hit.
func (r *run) collect(results <-chan outcome, stop context.CancelCauseFunc) {
	stopProgress := r.up.startProgress()
	defer stopProgress()
	defer r.up.listed.Store(true)
	for o := range results {
		r.up.done.Add(1)
		if o.interrupted {
			r.interrupted.Add(1)
		}
		if o.fatal != "" {
			stop(&stopError{msg: o.fatal, fatal: true})
		}
		r.rep.Totals.Bytes += o.uploaded
		if r.opts.OnFile != nil {
			r.opts.OnFile(o.file)
		}
		if r.onFile != nil {
			r.onFile(o.file)
		}
		r.rep.add(o.file, r.opts.ReportLimit, r.opts.OnFile != nil)
	}
}
