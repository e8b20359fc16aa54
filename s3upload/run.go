package s3upload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Defaults for the zero Options.
const (
	DefaultConcurrency        = 64
	DefaultPartSize           = 8 << 20
	DefaultMultipartThreshold = 100 << 20
	DefaultPartConcurrency    = 4
	DefaultLargeFiles         = 3
	minPartSize               = 5 << 20
	maxParts                  = 10000
	maxSinglePut              = 5 << 30
)

// Options say what to upload where, and how.
type Options struct {
	Src    string // source folder
	Bucket string
	Prefix string // key prefix; "" puts files at the bucket's root

	// RemoveSrc deletes each source file once its object is verified in S3
	// and the file did not change meanwhile.
	RemoveSrc bool
	// PruneEmptyDirs (with RemoveSrc) removes folders the run emptied,
	// never Src itself.
	PruneEmptyDirs bool

	// Concurrency is the number of files in flight (0: 64). The aws.Config's
	// HTTP client should keep at least as many connections per host
	// (awsclient.Options.MaxConnsPerHost).
	Concurrency int
	// PartSize of multipart uploads (0: 8 MiB); grown for files that would
	// need more than 10,000 parts.
	PartSize int64
	// MultipartThreshold: files this large or larger go multipart
	// (0: 100 MiB; never above S3's 5 GiB single-PUT limit).
	MultipartThreshold int64
	// PartConcurrency is the number of parts in flight per large file (0: 4).
	PartConcurrency int
	// LargeFiles is the number of multipart uploads in flight (0: 3); with
	// PartConcurrency it bounds the connections large files take. Parts
	// are read from the file as they are sent, never held in memory.
	LargeFiles int

	// Include and Exclude are globs on the path relative to Src; see the
	// CLI's help for their syntax.
	Include, Exclude []string
	// SkipUnchanged does not upload a file whose object already has the
	// same size and CRC32; such a file counts as verified for RemoveSrc.
	SkipUnchanged bool
	// FollowSymlinks uploads what links point to, refusing targets outside
	// Src; without it links are skipped and reported.
	FollowSymlinks bool

	StorageClass string // e.g. STANDARD_IA; "" is the bucket's default
	SSE          string // AES256, aws:kms, aws:kms:dsse; "" is the bucket's default
	SSEKMSKeyID  string // implies SSE aws:kms when SSE is empty

	// DryRun lists what would be uploaded and touches nothing.
	DryRun bool

	// Progress, when set, is called about ten times a second and at the
	// end, from one goroutine at a time.
	Progress func(Progress)

	// DeadlineMargin: when ctx has a deadline, no file is started once less
	// than this is left, and transfers still running at deadline minus half
	// the margin are aborted cleanly. Files not done count as Remaining.
	DeadlineMargin time.Duration

	// ReportLimit caps the cleanly uploaded/removed files listed in the
	// report (0: all); failures and other results are always listed.
	ReportLimit int

	// OnFile, when set, receives every file's outcome as soon as it is
	// known, from one goroutine at a time; Report.Files then keeps only
	// the failed and kept files, so that memory does not grow with the
	// number of files (the CLI streams its report this way).
	OnFile func(File)
}

// Progress is a snapshot of a running upload.
type Progress struct {
	Files      int64 // files done (any result)
	FilesFound int64 // files found so far
	Bytes      int64 // bytes read for upload so far
	BytesFound int64 // size of the files found so far
	Listed     bool  // the walk has finished: FilesFound is final
}

// ErrInvalid wraps errors in Options: the run did not start.
var ErrInvalid = errors.New("invalid upload options")

func (o *Options) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	if o.Src == "" {
		return bad("no source folder")
	}
	fi, err := os.Stat(o.Src)
	if err != nil {
		return bad("source folder %s: %s", o.Src, errMsg(err))
	}
	if !fi.IsDir() {
		return bad("source %s is not a folder", o.Src)
	}
	if o.Bucket == "" {
		return bad("no bucket")
	}
	if o.Concurrency < 0 || o.PartConcurrency < 0 || o.LargeFiles < 0 {
		return bad("concurrency must not be negative")
	}
	if o.PartSize != 0 && (o.PartSize < minPartSize || o.PartSize > maxSinglePut) {
		return bad("part size %d is outside S3's 5 MiB to 5 GiB", o.PartSize)
	}
	if o.MultipartThreshold < 0 {
		return bad("multipart threshold must not be negative")
	}
	switch o.SSE {
	case "", "AES256", "aws:kms", "aws:kms:dsse":
	default:
		return bad("sse %q: want AES256, aws:kms or aws:kms:dsse", o.SSE)
	}
	if o.SSEKMSKeyID != "" && o.SSE == "AES256" {
		return bad("an SSE-KMS key id needs sse aws:kms")
	}
	if _, err := Key(o.Prefix, "x"); err != nil {
		return bad("%v", err)
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.MultipartThreshold == 0 {
		o.MultipartThreshold = DefaultMultipartThreshold
	}
	o.MultipartThreshold = min(max(o.MultipartThreshold, minPartSize), maxSinglePut)
	if o.PartConcurrency == 0 {
		o.PartConcurrency = DefaultPartConcurrency
	}
	if o.LargeFiles == 0 {
		o.LargeFiles = DefaultLargeFiles
	}
	if o.SSEKMSKeyID != "" && o.SSE == "" {
		o.SSE = "aws:kms"
	}
	return nil
}

// partSizeFor grows the part size so size fits in 10,000 parts, in whole
// MiB.
func partSizeFor(size, partSize int64) int64 {
	if need := (size + maxParts - 1) / maxParts; need > partSize {
		const mib = 1 << 20
		partSize = (need + mib - 1) / mib * mib
	}
	return partSize
}

// Run uploads opts.Src to S3 and returns what happened to every file. The
// error is non-nil only when the run could not start (it wraps ErrInvalid
// for bad options); failed files are in the report (Report.OK).
func Run(ctx context.Context, cfg aws.Config, opts Options) (*Report, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	flt, err := newFilter(opts.Include, opts.Exclude)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	w, err := newWalker(opts.Src, flt, opts.FollowSymlinks, opts.RemoveSrc && opts.PruneEmptyDirs && !opts.DryRun)
	if err != nil {
		return nil, fmt.Errorf("%w: source folder %s: %s", ErrInvalid, opts.Src, errMsg(err))
	}
	defer w.close()
	r := &run{
		opts: &opts, walk: w, up: newUploader(cfg, &opts, w),
		rep: &Report{Src: opts.Src, Bucket: opts.Bucket, Prefix: opts.Prefix, DryRun: opts.DryRun, Files: []File{}},
	}
	return r.do(ctx), nil
}

// run is one upload: a walk feeding a dispatcher, workers, and the
// collector that builds the report.
type run struct {
	opts *Options
	walk *walker
	up   *uploader
	rep  *Report
	// Files left for a later run: never started, or cut off in flight.
	notStarted, interrupted atomic.Int64
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

	jobs := make(chan item)
	results := make(chan outcome, opts.Concurrency)
	var wg sync.WaitGroup
	for range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range jobs {
				o := r.up.file(work, it)
				it.done()
				results <- o
			}
		}()
	}
	go r.dispatch(dispatch, items, jobs)
	go func() {
		wg.Wait()
		close(results)
	}()
	r.collect(results, stop)

	rep := r.rep
	rep.Warnings = append(rep.Warnings, r.walk.pruner.taken()...)
	rep.Totals.Excluded = r.walk.excluded.Load()
	rep.Totals.Remaining = int(r.notStarted.Load() + r.interrupted.Load())
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

// dispatch hands the walk's items to the workers until ctx ends; what it
// cannot hand over is remaining work.
func (r *run) dispatch(ctx context.Context, items <-chan item, jobs chan<- item) {
	defer close(jobs)
	for it := range items {
		r.up.noteFound(it)
		if ctx.Err() == nil {
			select {
			case jobs <- it:
				continue
			case <-ctx.Done():
			}
		}
		if it.skip == "" && it.fail == "" {
			r.notStarted.Add(1)
		}
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
		r.rep.add(o.file, r.opts.ReportLimit, r.opts.OnFile != nil)
	}
}
