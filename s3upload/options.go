package s3upload

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"strconv"
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

	// Concurrency fixes the number of files in flight. 0 lets it follow
	// the path: it grows while throughput grows (a far bucket needs many
	// requests in flight to fill the round trip) and backs off on
	// throttling, up to MaxInFlight. The aws.Config's HTTP client should
	// allow Connections() connections per host
	// (awsclient.Options.MaxConnsPerHost).
	Concurrency int
	// PartSize of multipart uploads (0: 8 MiB); grown for files that would
	// need more than 10,000 parts.
	PartSize int64
	// MultipartThreshold: files this large or larger go multipart
	// (0: 100 MiB); 5 MiB to 5 GiB, S3's part and single-PUT limits.
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

	// Shard, when its Count is set, takes only the files of one shard of
	// the tree (see Shard).
	Shard Shard

	// Batch, when set, uploads exactly one batch of a plan (MakePlan)
	// instead of walking Src: Src, Bucket and Prefix must be the plan's.
	Batch *BatchRef
	// ManifestPrefix is where MakePlan writes a plan: s3://BUCKET/PREFIX/
	// ("": s3://Bucket/.awsutils/manifests/).
	ManifestPrefix string
	// BatchFiles and BatchBytes bound a planned batch (0: the defaults,
	// DefaultBatchFiles and DefaultBatchBytes).
	BatchFiles int
	BatchBytes int64

	// NoMetadata leaves out the file's mtime, mode and owner, which each
	// object otherwise carries as user metadata (see metadata.go).
	NoMetadata bool

	// sdkPut, set by tests only, sends every PUT through the SDK's client,
	// the reference the direct path is compared with.
	sdkPut bool

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

// ErrInvalid matches every *OptionError: the run did not start.
var ErrInvalid = errors.New("invalid upload options")

// OptionError is an Options field Run refuses; nothing was touched. It
// matches ErrInvalid with errors.Is. Front ends find it with errors.As and
// name Field as their users know it (a flag, an event field).
type OptionError struct {
	Field  string // the Options field, e.g. "MultipartThreshold"
	Value  string // the value refused; "" when the field is missing
	Reason string // what is wrong, e.g. "want 5MiB to 5GiB (S3's part and single-PUT limits)"
	Err    error  // the cause, if any (e.g. the *fs.PathError of a missing Src)
}

func (e *OptionError) Error() string {
	s := ErrInvalid.Error() + ": " + e.Field
	if e.Value != "" {
		s += " " + e.Value
	}
	return s + ": " + e.Reason
}

// Is lets errors.Is(err, ErrInvalid) match.
func (e *OptionError) Is(target error) bool { return target == ErrInvalid }

func (e *OptionError) Unwrap() error { return e.Err }

// Validate reports the first field Run would refuse, as an *OptionError, or
// nil; zero fields take their defaults. Front ends call it to report their
// users' mistakes before loading credentials; Run checks again.
func (o Options) Validate() error {
	bad := func(field string, value any, reason string) error {
		v := fmt.Sprint(value)
		if s, ok := value.(string); ok && s != "" {
			v = strconv.Quote(s)
		}
		return &OptionError{Field: field, Value: v, Reason: reason}
	}
	if o.Src == "" {
		return &OptionError{Field: "Src", Reason: "no source folder"}
	}
	srcErr := func(reason string, err error) error {
		return &OptionError{Field: "Src", Value: o.Src, Reason: reason, Err: err}
	}
	fi, err := os.Stat(o.Src)
	if err != nil {
		return srcErr(errMsg(err), err)
	}
	if !fi.IsDir() {
		return srcErr("not a folder", nil)
	}
	// Opening it is what reading it needs; listing it is the walk's job.
	f, err := os.Open(o.Src)
	if err != nil {
		return srcErr(errMsg(err), err)
	}
	f.Close()
	if o.Bucket == "" {
		return &OptionError{Field: "Bucket", Reason: "no bucket"}
	}
	for _, c := range []struct {
		field string
		n     int
	}{{"Concurrency", o.Concurrency}, {"PartConcurrency", o.PartConcurrency}, {"LargeFiles", o.LargeFiles}} {
		if c.n < 0 {
			return bad(c.field, c.n, "must not be negative (0: the default)")
		}
	}
	if o.PartSize != 0 && (o.PartSize < minPartSize || o.PartSize > maxSinglePut) {
		return bad("PartSize", o.PartSize, "want 5MiB to 5GiB (S3's part size limits)")
	}
	if o.MultipartThreshold != 0 && (o.MultipartThreshold < minPartSize || o.MultipartThreshold > maxSinglePut) {
		return bad("MultipartThreshold", o.MultipartThreshold, "want 5MiB to 5GiB (S3's part and single-PUT limits)")
	}
	switch o.SSE {
	case "", "AES256", "aws:kms", "aws:kms:dsse":
	default:
		return bad("SSE", o.SSE, "want AES256, aws:kms or aws:kms:dsse")
	}
	if o.SSEKMSKeyID != "" && o.SSE == "AES256" {
		return bad("SSEKMSKeyID", o.SSEKMSKeyID, "an SSE-KMS key needs SSE aws:kms, not AES256")
	}
	if _, err := Key(o.Prefix, "x"); err != nil {
		return &OptionError{Field: "Prefix", Value: strconv.Quote(o.Prefix), Reason: err.Error(), Err: err}
	}
	if _, err := newFilter(o.Include, o.Exclude); err != nil {
		return err
	}
	return o.validateScale()
}

// validateScale checks the fields of sharded and planned runs.
func (o Options) validateScale() error {
	if r := o.Shard.check(); r != "" {
		return &OptionError{Field: "Shard", Value: o.Shard.String(), Reason: r}
	}
	if o.BatchFiles < 0 {
		return &OptionError{Field: "BatchFiles", Value: strconv.Itoa(o.BatchFiles), Reason: "must not be negative (0: the default)"}
	}
	if o.BatchBytes < 0 {
		return &OptionError{Field: "BatchBytes", Value: strconv.FormatInt(o.BatchBytes, 10), Reason: "must not be negative (0: the default)"}
	}
	if o.ManifestPrefix != "" {
		if _, _, err := ParseS3URL(o.ManifestPrefix); err != nil {
			return &OptionError{Field: "ManifestPrefix", Value: strconv.Quote(o.ManifestPrefix), Reason: err.Error(), Err: err}
		}
	}
	if o.Batch == nil {
		return nil
	}
	b := o.Batch
	if _, _, err := b.location(); err != nil {
		return &OptionError{Field: "Batch", Value: strconv.Quote(b.Manifest), Reason: err.Error(), Err: err}
	}
	if b.Index < 0 {
		return &OptionError{Field: "Batch", Value: b.String(), Reason: "the batch index must not be negative"}
	}
	// A batch's files were chosen when it was planned: choosing again
	// could only leave planned files out without saying so.
	switch {
	case o.Shard.Count > 0:
		return &OptionError{Field: "Shard", Value: o.Shard.String(), Reason: "a planned batch is not sharded again"}
	case len(o.Include) > 0 || len(o.Exclude) > 0:
		return &OptionError{Field: "Batch", Value: b.String(), Reason: "include and exclude apply when planning, not to a planned batch"}
	case o.FollowSymlinks:
		return &OptionError{Field: "FollowSymlinks", Value: "true", Reason: "planned batches do not follow symlinks"}
	}
	return nil
}

// Connections is how many connections per host a run with these options
// may use at once.
func (o Options) Connections() int {
	if o.Concurrency > 0 {
		return max(o.Concurrency, DefaultConcurrency)
	}
	return MaxInFlight
}

// validate is Validate, then the defaults for zero fields.
func (o *Options) validate() error {
	if err := o.Validate(); err != nil {
		return err
	}
	o.Concurrency = cmp.Or(o.Concurrency, DefaultConcurrency)
	o.PartSize = cmp.Or(o.PartSize, DefaultPartSize)
	o.MultipartThreshold = cmp.Or(o.MultipartThreshold, DefaultMultipartThreshold)
	o.PartConcurrency = cmp.Or(o.PartConcurrency, DefaultPartConcurrency)
	o.LargeFiles = cmp.Or(o.LargeFiles, DefaultLargeFiles)
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
