package s3upload

import (
	"errors"
	"fmt"
	"os"
	"time"
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
