package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/lambdaerr"
	"github.com/awsutils/awsutils/s3upload"
)

// Event is the invocation input. Pointers tell a missing field (taken from
// the environment) from an empty one.
type Event struct {
	SrcDir    *string `json:"srcDir"`
	Bucket    *string `json:"bucket"`
	KeyPrefix *string `json:"keyPrefix"`
	RemoveSrc *bool   `json:"removeSrc"`
}

type handler struct {
	log    *slog.Logger
	getenv func(string) string
}

// request is an Event completed from the environment.
type request struct {
	src, bucket, prefix string
	removeSrc           bool
	concurrency         int
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
	if err := r.options().Validate(); err != nil {
		return request{}, r.inputError(err)
	}
	return r, nil
}

// options are the upload options the request asks for.
func (r request) options() s3upload.Options {
	return s3upload.Options{Src: r.src, Bucket: r.bucket, Prefix: r.prefix, RemoveSrc: r.removeSrc, Concurrency: r.concurrency}
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
	return err
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

// margin is how long before the deadline no new file starts: a fifth of the
// time left, between 1 and 30 seconds.
func margin(ctx context.Context) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	return min(max(time.Until(dl)/5, time.Second), 30*time.Second)
}

func (h *handler) handle(ctx context.Context, e Event) (*s3upload.Report, error) {
	req, err := h.request(e)
	if err != nil {
		h.log.Error("unusable input", "error", err.Error())
		return nil, &lambdaerr.BadRequest{Err: err}
	}
	cfg, err := h.config()
	if err != nil {
		h.log.Error("config", "error", err.Error())
		return nil, &lambdaerr.BadConfig{Err: err}
	}
	opts := req.options()
	opts.DeadlineMargin = margin(ctx)
	// The reply must stay within Lambda's 6 MB payload limit.
	opts.ReportLimit = 1000
	clientOpts := cfg.ClientOptions()
	clientOpts.MaxConnsPerHost = opts.Connections()
	awsCfg, err := awsclient.Load(ctx, clientOpts)
	if err != nil {
		h.log.Error("AWS configuration", "error", err.Error())
		return nil, &lambdaerr.BadConfig{Err: err}
	}
	h.log.Info("upload start", "src", req.src, "bucket", req.bucket, "prefix", req.prefix,
		"removeSrc", req.removeSrc, "config", cfg, "deadlineMargin", opts.DeadlineMargin.String())
	rep, err := s3upload.Run(ctx, awsCfg, opts)
	if err != nil {
		h.log.Error("upload", "error", err.Error())
		return nil, &lambdaerr.BadRequest{Err: req.inputError(err)}
	}
	for _, f := range rep.Files {
		if f.Result == s3upload.Failed || f.Result == s3upload.Kept {
			h.log.Warn("file", "path", f.Path, "key", f.Key, "result", string(f.Result), "message", f.Message)
		}
	}
	t := rep.Totals
	h.log.Info("upload done", "files", t.Files, "uploaded", t.Uploaded, "removed", t.Removed, "kept", t.Kept,
		"skipped", t.Skipped, "failed", t.Failed, "remaining", t.Remaining, "bytes", t.Bytes,
		"seconds", t.Seconds, "mibPerSec", t.MiBPerSec, "stopped", rep.Stopped)
	// The error counts the failed files and names the first few, since
	// Lambda shows only the error to the caller.
	if err := rep.Err(); err != nil {
		return rep, &lambdaerr.FilesFailed{Err: err}
	}
	return rep, nil
}
