package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/emf"
	"github.com/awsutils/awsutils/internal/lambdaerr"
	"github.com/awsutils/awsutils/s3upload"
)

// Event is the invocation input. Pointers tell a missing field (taken from
// the environment) from an empty one.
type Event struct {
	// Mode is "" (upload), "plan" or "summary".
	Mode      string  `json:"mode"`
	SrcDir    *string `json:"srcDir"`
	Bucket    *string `json:"bucket"`
	KeyPrefix *string `json:"keyPrefix"`
	RemoveSrc *bool   `json:"removeSrc"`
	// NoMetadata leaves out the files' mtime, mode and owner.
	NoMetadata *bool `json:"noMetadata"`
	// Shard uploads one shard of the tree.
	Shard *s3upload.Shard `json:"shard"`
	// Batch uploads one batch of a plan (the item a Distributed Map
	// passes).
	Batch *s3upload.BatchRef `json:"batch"`
	// ManifestPrefix (mode plan) is where the plan goes.
	ManifestPrefix *string `json:"manifestPrefix"`
	// BatchFiles and BatchBytes (mode plan) bound a batch.
	BatchFiles *int   `json:"batchFiles"`
	BatchBytes *int64 `json:"batchBytes"`
	// Manifest (mode summary) is the plan to sum up.
	Manifest string `json:"manifest"`
}

type handler struct {
	log    *slog.Logger
	getenv func(string) string
	// metrics receives one CloudWatch Embedded Metric Format line per
	// run (os.Stdout, where CloudWatch Logs extracts it); nil writes none.
	metrics io.Writer
}

// request is an Event completed from the environment.
type request struct {
	src, bucket, prefix string
	removeSrc           bool
	concurrency         int
	noMetadata          bool
	shard               s3upload.Shard
	batch               *s3upload.BatchRef
	manifestPrefix      string
	batchFiles          int
	batchBytes          int64
}

func (h *handler) request(e Event) (request, error) {
	r := request{
		src:    h.getenv("SRC_DIR"),
		bucket: h.getenv("BUCKET"),
		prefix: h.getenv("KEY_PREFIX"),
	}
	if v := h.getenv("REMOVE_SRC"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return request{}, fmt.Errorf("env REMOVE_SRC=%q: want true or false", v)
		}
		r.removeSrc = b
	}
	if v := h.getenv("UPLOAD_CONCURRENCY"); v != "" {
		// 0 lets the library follow the path, as when it is unset; a
		// negative count is the library's to refuse.
		n, err := strconv.Atoi(v)
		if err != nil {
			return request{}, concurrencyError(v)
		}
		r.concurrency = n
	}
	if e.SrcDir != nil {
		r.src = *e.SrcDir
	}
	if e.Bucket != nil {
		r.bucket = *e.Bucket
	}
	if e.KeyPrefix != nil {
		r.prefix = *e.KeyPrefix
	}
	if e.RemoveSrc != nil {
		r.removeSrc = *e.RemoveSrc
	}
	if e.NoMetadata != nil {
		r.noMetadata = *e.NoMetadata
	}
	if e.Shard != nil {
		r.shard = s3upload.Shard{Index: e.Shard.Index, Count: e.Shard.Count}
	}
	r.batch = e.Batch
	if e.ManifestPrefix != nil {
		r.manifestPrefix = *e.ManifestPrefix
	}
	if e.BatchFiles != nil {
		r.batchFiles = *e.BatchFiles
	}
	if e.BatchBytes != nil {
		r.batchBytes = *e.BatchBytes
	}
	if err := r.options().Validate(); err != nil {
		return request{}, r.inputError(err)
	}
	return r, nil
}

// options are the upload options the request asks for.
func (r request) options() s3upload.Options {
	return s3upload.Options{Src: r.src, Bucket: r.bucket, Prefix: r.prefix, RemoveSrc: r.removeSrc, Concurrency: r.concurrency,
		NoMetadata: r.noMetadata, Shard: r.shard, Batch: r.batch,
		ManifestPrefix: r.manifestPrefix, BatchFiles: r.batchFiles, BatchBytes: r.batchBytes}
}

func concurrencyError(v string) error {
	return fmt.Errorf("env UPLOAD_CONCURRENCY=%q: want a number of files in flight (0 follows the path)", v)
}

// inputError names an option s3upload refused (an *s3upload.OptionError)
// as the event field and environment variable it came from.
func (r request) inputError(err error) error {
	var oe *s3upload.OptionError
	if !errors.As(err, &oe) {
		return err
	}
	switch oe.Field {
	case "Src":
		if r.src == "" {
			return errors.New("no source folder: set srcDir in the event or SRC_DIR")
		}
		if oe.Err != nil {
			return fmt.Errorf("srcDir %s: %w", r.src, oe.Err)
		}
		return fmt.Errorf("srcDir %s: %s", r.src, oe.Reason)
	case "Bucket":
		return errors.New("no bucket: set bucket in the event or BUCKET")
	case "Prefix":
		return fmt.Errorf("keyPrefix %q: %s", r.prefix, oe.Reason)
	case "Concurrency":
		return concurrencyError(strconv.Itoa(r.concurrency))
	}
	if name, ok := eventFields[oe.Field]; ok {
		return fmt.Errorf("%s %s: %s", name, oe.Value, oe.Reason)
	}
	return err
}

// eventFields are the event fields that set s3upload.Options fields, by
// field.
var eventFields = map[string]string{
	"Shard": "shard", "Batch": "batch", "ManifestPrefix": "manifestPrefix",
	"BatchFiles": "batchFiles", "BatchBytes": "batchBytes", "Manifest": "manifest",
}

// config finds the job's config: AWSUTILS_CONFIG, else the file beside the
// function, else none (the role's credentials and AWS_REGION).
func (h *handler) config() (s3upload.Config, error) {
	path := h.getenv("AWSUTILS_CONFIG")
	if path == "" {
		if root := h.getenv("LAMBDA_TASK_ROOT"); root != "" {
			p := filepath.Join(root, s3upload.ConfigFile)
			if _, err := os.Stat(p); err == nil {
				path = p
			}
		}
	}
	if path == "" {
		return s3upload.Config{}, nil
	}
	cfg, warnings, err := s3upload.LoadConfig(path)
	for _, w := range warnings {
		h.log.Warn(w)
	}
	return cfg, err
}

// metrics are a run's counts as an EMF event, per function. Remaining
// files are those the deadline left for the next run: the alarm on it
// growing across runs says the function cannot keep up.
func metrics(function string, rep *s3upload.Report, now time.Time) emf.Event {
	t := rep.Totals
	return emf.Event{
		Namespace:  emf.Namespace,
		Dimensions: []emf.Dimension{{Name: "function", Value: cmp.Or(function, "s3upload")}},
		Sets:       [][]string{{"function"}},
		Metrics: []emf.Metric{
			{Name: "FilesUploaded", Unit: emf.Count, Value: float64(t.Uploaded)},
			{Name: "FilesRemoved", Unit: emf.Count, Value: float64(t.Removed)},
			{Name: "FilesKept", Unit: emf.Count, Value: float64(t.Kept)},
			{Name: "FilesFailed", Unit: emf.Count, Value: float64(t.Failed)},
			{Name: "FilesRemaining", Unit: emf.Count, Value: float64(t.Remaining)},
			{Name: "BytesUploaded", Unit: emf.Bytes, Value: float64(t.Bytes)},
			{Name: "Duration", Unit: emf.Milliseconds, Value: math.Round(t.Seconds * 1000)},
		},
		Time: now,
	}
}

// margin is how long before the deadline no new file starts: a fifth of the
// time left, between 1 and 30 seconds.
func margin(ctx context.Context) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	return min(max(time.Until(dl)/5, time.Second), 30*time.Second)
}

func (h *handler) handle(ctx context.Context, e Event) (any, error) {
	switch e.Mode {
	case "":
	case "plan":
		return h.plan(ctx, e)
	case "summary":
		return h.summary(ctx, e)
	default:
		err := fmt.Errorf("mode %q: want plan, summary, or none for an upload", e.Mode)
		h.log.Error("unusable input", "error", err.Error())
		return nil, &lambdaerr.BadRequest{Err: err}
	}
	req, opts, awsCfg, err := h.prepare(ctx, e)
	if err != nil {
		return nil, err
	}
	opts.DeadlineMargin = margin(ctx)
	// The reply must stay within Lambda's 6 MB payload limit.
	opts.ReportLimit = 1000
	cfg := req.cfg
	h.log.Info("upload start", "src", req.src, "bucket", req.bucket, "prefix", req.prefix,
		"removeSrc", req.removeSrc, "config", cfg, "deadlineMargin", opts.DeadlineMargin.String(),
		"shard", req.shard.String(), "batch", batchName(req.batch))
	rep, err := s3upload.Run(ctx, awsCfg, opts)
	if err != nil {
		return nil, h.runError("upload", req, err)
	}
	for _, f := range rep.Files {
		if f.Result == s3upload.Failed || f.Result == s3upload.Kept {
			h.log.Warn("file", "path", f.Path, "key", f.Key, "result", string(f.Result), "message", f.Message)
		}
	}
	t := rep.Totals
	if h.metrics != nil {
		if err := metrics(h.getenv("AWS_LAMBDA_FUNCTION_NAME"), rep, time.Now()).Write(h.metrics); err != nil {
			h.log.Error("metrics", "error", err.Error())
		}
	}
	h.log.Info("upload done", "files", t.Files, "uploaded", t.Uploaded, "removed", t.Removed, "kept", t.Kept,
		"skipped", t.Skipped, "failed", t.Failed, "remaining", t.Remaining, "bytes", t.Bytes,
		"seconds", t.Seconds, "mibPerSec", t.MiBPerSec, "stopped", rep.Stopped)
	// The error counts the failed files and names the first few, since
	// Lambda shows only the error to the caller.
	if err := rep.Err(); err != nil {
		return rep, &lambdaerr.FilesFailed{Err: err}
	}
	// A scheduled run leaves the rest to the next one; a planned batch has
	// no next run but a retry, which the failure asks for.
	if req.batch != nil && t.Remaining > 0 {
		return rep, &lambdaerr.FilesRemaining{Err: fmt.Errorf("batch %s: %d files remaining (%s); running the batch again continues", req.batch, t.Remaining, rep.Stopped)}
	}
	return rep, nil
}

func batchName(b *s3upload.BatchRef) string {
	if b == nil {
		return ""
	}
	return b.String()
}

// prepared is a request with its config.
type prepared struct {
	request
	cfg s3upload.Config
}

// prepare reads the request, the config and the AWS configuration.
func (h *handler) prepare(ctx context.Context, e Event) (prepared, s3upload.Options, aws.Config, error) {
	req, err := h.request(e)
	if err != nil {
		h.log.Error("unusable input", "error", err.Error())
		return prepared{}, s3upload.Options{}, aws.Config{}, &lambdaerr.BadRequest{Err: err}
	}
	cfg, err := h.config()
	if err != nil {
		h.log.Error("config", "error", err.Error())
		return prepared{}, s3upload.Options{}, aws.Config{}, &lambdaerr.BadConfig{Err: err}
	}
	opts := req.options()
	clientOpts := cfg.ClientOptions()
	clientOpts.MaxConnsPerHost = opts.Connections()
	awsCfg, err := awsclient.Load(ctx, clientOpts)
	if err != nil {
		h.log.Error("AWS configuration", "error", err.Error())
		return prepared{}, s3upload.Options{}, aws.Config{}, &lambdaerr.BadConfig{Err: err}
	}
	return prepared{request: req, cfg: cfg}, opts, awsCfg, nil
}

// runError is the invocation's error for a run that could not start: bad
// input (a batch that does not fit, ...) or S3 unreachable.
func (h *handler) runError(what string, req prepared, err error) error {
	h.log.Error(what, "error", err.Error())
	if errors.Is(err, s3upload.ErrInvalid) {
		return &lambdaerr.BadRequest{Err: req.inputError(err)}
	}
	return &lambdaerr.Unavailable{Err: err}
}

func (h *handler) plan(ctx context.Context, e Event) (*s3upload.Plan, error) {
	req, opts, awsCfg, err := h.prepare(ctx, e)
	if err != nil {
		return nil, err
	}
	h.log.Info("plan start", "src", req.src, "bucket", req.bucket, "prefix", req.prefix, "manifestPrefix", req.manifestPrefix, "config", req.cfg)
	p, err := s3upload.MakePlan(ctx, awsCfg, opts)
	if err != nil {
		return nil, h.runError("plan", req, err)
	}
	h.log.Info("plan done", "manifest", p.Manifest, "batches", p.Batches, "files", p.Files, "bytes", p.Bytes,
		"skipped", p.Skipped, "failed", p.Failed, "seconds", p.Seconds)
	if err := p.Err(); err != nil {
		return p, &lambdaerr.FilesFailed{Err: err}
	}
	return p, nil
}

func (h *handler) summary(ctx context.Context, e Event) (*s3upload.Summary, error) {
	cfg, err := h.config()
	if err != nil {
		h.log.Error("config", "error", err.Error())
		return nil, &lambdaerr.BadConfig{Err: err}
	}
	if e.Manifest == "" {
		err := errors.New("mode summary: no manifest (s3://BUCKET/.../manifest.json)")
		h.log.Error("unusable input", "error", err.Error())
		return nil, &lambdaerr.BadRequest{Err: err}
	}
	awsCfg, err := awsclient.Load(ctx, cfg.ClientOptions())
	if err != nil {
		h.log.Error("AWS configuration", "error", err.Error())
		return nil, &lambdaerr.BadConfig{Err: err}
	}
	s, err := s3upload.Summarize(ctx, awsCfg, e.Manifest)
	if err != nil {
		return nil, h.runError("summary", prepared{}, err)
	}
	h.log.Info("summary", "manifest", s.Manifest, "batches", s.Batches, "reported", s.Reported,
		"uploaded", s.Uploaded, "removed", s.Removed, "kept", s.Kept, "failed", s.Failed,
		"remaining", s.Remaining, "skipped", s.Skipped, "bytes", s.Bytes,
		"missing", len(s.Missing), "failedBatches", len(s.FailedBatches))
	if err := s.Err(); err != nil {
		return s, &lambdaerr.BatchesFailed{Err: err}
	}
	return s, nil
}
