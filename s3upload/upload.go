package s3upload

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/awsutils/awsutils/awsclient"
)

// uploader does one file at a time per worker; its counters feed Progress.
type uploader struct {
	opts *Options
	walk *walker
	keys *claims
	s3   *s3.Client
	// direct sends small files' PUTs past the SDK's middleware (nil: the
	// client sends them).
	direct *directPut
	large  chan struct{} // semaphore over multipart uploads
	// readers is a semaphore over checksum passes, each holding a buffer.
	readers chan struct{}
	bufs    sync.Pool

	nFound     atomic.Int64
	foundBytes atomic.Int64
	done       atomic.Int64
	bytes      atomic.Int64
	listed     atomic.Bool
}

// outcome is what a worker hands back for one item.
type outcome struct {
	file     File
	uploaded int64 // bytes stored by this run
	// fatal is set for errors every other file would hit too (no such
	// bucket, bad credentials): the run stops starting files.
	fatal string
	// interrupted: the deadline or a cancel stopped this file; it counts
	// as remaining.
	interrupted bool
	// remove is set when the file is verified and RemoveSrc deletes it:
	// file is then final only after remove.
	remove *removal
}

const bufSize = 256 << 10

func newUploader(cfg aws.Config, opts *Options, w *walker, lim *limiter) *uploader {
	// An unsigned payload spares a SHA-256 pass over every body: integrity
	// comes from the CRC32 checksum S3 verifies. Over plain http (local
	// servers) it is also what lets a body be sent without signing it.
	client := awsclient.S3(cfg, func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
		if r, ok := o.Retryer.(aws.RetryerV2); ok && lim != nil {
			o.Retryer = congestionRetryer{RetryerV2: r, lim: lim}
		}
	})
	u := &uploader{
		opts:    opts,
		walk:    w,
		keys:    newClaims(),
		s3:      client,
		large:   make(chan struct{}, opts.LargeFiles),
		readers: make(chan struct{}, max(4, 2*runtime.GOMAXPROCS(0))),
	}
	u.bufs.New = func() any { b := make([]byte, bufSize); return &b }
	if !opts.sdkPut {
		u.direct = newDirectPut(context.Background(), client, opts.Bucket)
	}
	return u
}

// congestionRetryer tells the limiter when the SDK retries a throttle
// (503 SlowDown) or a dropped connection: the path has too much in flight.
// The limiter is what slows the run down then, so each retry waits a
// shorter backoff than the SDK's (full jitter over 100 ms × 2^attempt
// rather than 1 s × 2^attempt, up to 20 s): a few throttled files then no
// longer keep a run waiting seconds for its last files.
type congestionRetryer struct {
	aws.RetryerV2
	lim *limiter
}

func (r congestionRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	if awsclient.Classify(err) == awsclient.KindThrottled ||
		(retry.RetryableConnectionError{}).IsErrorRetryable(err) == aws.TrueTernary {
		r.lim.congestion()
	}
	return retryBackoff(attempt, rand.Float64()), nil
}

// retryBackoff is the wait before retry attempt (from 1), with jitter in
// [0, 1).
func retryBackoff(attempt int, jitter float64) time.Duration {
	const base, most = 100 * time.Millisecond, 20 * time.Second
	ceiling := most
	if attempt < 16 {
		ceiling = min(base<<attempt, most)
	}
	return time.Duration(jitter * float64(ceiling))
}

// noteFound counts an item the walk found, for Progress.
func (u *uploader) noteFound(it item) {
	if it.skip != "" || it.fail != "" {
		return
	}
	u.nFound.Add(1)
	u.foundBytes.Add(it.size)
}

func (u *uploader) snapshot() Progress {
	return Progress{
		Files: u.done.Load(), FilesFound: u.nFound.Load(),
		Bytes: u.bytes.Load(), BytesFound: u.foundBytes.Load(),
		Listed: u.listed.Load(),
	}
}

// startProgress calls Options.Progress every 100 ms until the returned
// function is called, which makes a last call.
func (u *uploader) startProgress() func() {
	if u.opts.Progress == nil {
		return func() {}
	}
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				u.opts.Progress(u.snapshot())
			case <-stop:
				return
			}
		}
	}()
	return func() {
		close(stop)
		<-finished
		u.opts.Progress(u.snapshot())
	}
}

// stage is a moment in a file's upload at which a test can change the
// file, its folder or its object (testHook).
type stage int

const (
	atOpen     stage = iota // listed, about to be opened (a file or folder; name is its path)
	atSummed                // its CRC32 (multipart: its first part's) read, before it is sent (name is the key)
	atStored                // its object stored, before it is verified (name is the key)
	atVerified              // verified, before it is checked for changes (name is the path)
)

// testHook, set by tests only, runs at each stage.
var testHook func(at stage, name string)

func hook(at stage, name string) {
	if testHook != nil {
		testHook(at, name)
	}
}

// removal is a verified file for RemoveSrc to delete. The worker hands it
// on (remove) so that the unlink never holds a request slot.
type removal struct {
	it     item
	before fingerprint
}

func (u *uploader) file(ctx context.Context, it item) outcome {
	f := File{Path: it.path}
	if it.fail != "" {
		f.Result, f.Message = Failed, it.fail
		return outcome{file: f}
	}
	if it.skip != "" {
		f.Result, f.Message = Skipped, it.skip
		return outcome{file: f}
	}
	key, err := Key(u.opts.Prefix, it.rel)
	if err != nil {
		f.Result, f.Message = Failed, "no valid key: "+err.Error()
		return outcome{file: f}
	}
	f.Key = key
	switch u.keys.claim(key, it.id) {
	case claimedBySame:
		f.Result, f.Message = Skipped, "listed twice; handled once"
		return outcome{file: f}
	case claimedByOther:
		f.Result, f.Message = Failed, "another file of this run has the same key; not uploaded, source kept"
		return outcome{file: f}
	}
	if ctx.Err() != nil {
		f.Result, f.Message = Skipped, "not started: "+stopReason(ctx)
		return outcome{file: f, interrupted: true}
	}
	if u.opts.DryRun {
		f.Size = it.size
		f.Result, f.Message = Skipped, "dry run: would upload"
		return outcome{file: f}
	}

	fh, skip, err := u.walk.open(it)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			f.Result, f.Message = Skipped, "vanished before it was read"
			return outcome{file: f}
		}
		f.Result, f.Message = Failed, "open: "+errMsg(err)
		return outcome{file: f}
	}
	if skip != "" {
		f.Result, f.Message = Skipped, skip
		return outcome{file: f}
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		f.Result, f.Message = Failed, "stat: "+errMsg(err)
		return outcome{file: f}
	}
	before := fingerprintOf(fi)
	f.Size = before.size
	var meta map[string]string
	if !u.opts.NoMetadata {
		meta = fileMetadata(fi)
	}

	var o outcome
	verified := false
	if u.opts.SkipUnchanged {
		same, how, err := u.unchanged(ctx, fh, key, f.Size, meta)
		if err != nil {
			return u.failed(ctx, f, "check existing object", err)
		}
		if same {
			verified = true
			f.Result, f.Message = Skipped, "unchanged in S3 ("+how+")"
		}
	}
	if !verified {
		var put stored
		var err error
		if f.Size >= u.opts.MultipartThreshold {
			put, err = u.putLarge(ctx, fh, key, f.Size, meta)
		} else {
			put, err = u.putSmall(ctx, fh, key, f.Size, meta)
		}
		if err != nil {
			return u.failed(ctx, f, "upload", err)
		}
		o.uploaded = f.Size
		hook(atStored, key)
		switch c, msg := u.verify(ctx, key, f.Size, put); c {
		case cutShort:
			// Stored but not verified: the next run checks it again.
			f.Result, f.Message = Skipped, "interrupted ("+stopReason(ctx)+") after upload, before verification; source kept"
			o.file, o.interrupted = f, true
			return o
		case unverifiable:
			f.Result, f.Message = Uploaded, msg
			if u.opts.RemoveSrc {
				f.Result, f.Message = Kept, msg+"; source kept"
			}
			o.file = f
			return o
		case mismatch:
			f.Result, f.Message = Failed, msg
			o.file = f
			return o
		}
		f.Result = Uploaded
	}
	hook(atVerified, it.path)
	o.file = f
	if !u.opts.RemoveSrc {
		return o
	}
	o.remove = &removal{it: it, before: before}
	return o
}

func stopReason(ctx context.Context) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "deadline near"
	}
	return "canceled"
}

// failed turns an AWS or file error into the file's outcome.
func (u *uploader) failed(ctx context.Context, f File, what string, err error) outcome {
	if ctx.Err() != nil && awsclient.Classify(err) == awsclient.KindCanceled {
		f.Result, f.Message = Skipped, "interrupted ("+stopReason(ctx)+"); not uploaded"
		return outcome{file: f, interrupted: true}
	}
	var pe *partError
	if errors.As(err, &pe) {
		what += fmt.Sprintf(" (part %d)", pe.num)
	}
	f.Result, f.Message = Failed, what+": "+awsclient.Message(err)
	o := outcome{file: f}
	switch awsclient.Code(err) {
	case "NoSuchBucket", "InvalidBucketName", "InvalidAccessKeyId", "SignatureDoesNotMatch",
		"InvalidClientTokenId", "ExpiredToken", "PermanentRedirect", "AuthorizationHeaderMalformed":
		o.fatal = awsclient.Message(err)
	}
	return o
}

func contentType(name string) *string {
	if t := mime.TypeByExtension(filepath.Ext(name)); t != "" {
		return aws.String(t)
	}
	return nil
}

func encode(h hash.Hash) string { return base64.StdEncoding.EncodeToString(h.Sum(nil)) }

// shrunkError is a file that ended before the size it had when it was
// opened. It is final: retrying would send a body that can no longer match.
type shrunkError struct{ size, at int64 }

func (e *shrunkError) Error() string {
	return fmt.Sprintf("the file shrank while it was read: it had %d bytes, it ended at %d", e.size, e.at)
}

// body is a section of a file sent as a request body. A read that ends
// before the section does cancels the request's context with a
// *shrunkError, so that the SDK stops at once instead of retrying a body
// that can no longer be complete.
type body struct {
	*io.SectionReader
	base, size int64 // the section's offset in the file, and the file's size
	stop       context.CancelCauseFunc
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.SectionReader.Read(p)
	if err == io.EOF {
		if pos, _ := b.Seek(0, io.SeekCurrent); pos < b.Size() {
			err = &shrunkError{size: b.size, at: b.base + pos}
			b.stop(err)
		}
	}
	return n, err
}

// shrunk returns the *shrunkError that stopped ctx, if one did, else err.
func shrunk(ctx context.Context, err error) error {
	var se *shrunkError
	if errors.As(context.Cause(ctx), &se) {
		return se
	}
	return err
}

// crcOf is the CRC32 of the first size bytes of f, read with a pooled
// buffer.
func (u *uploader) crcOf(f *os.File, size int64) (string, error) {
	// A slot among a few readers bounds the buffers in use, however many
	// files are in flight: reading is local and quick next to a request.
	u.readers <- struct{}{}
	defer func() { <-u.readers }()
	bp := u.bufs.Get().(*[]byte)
	defer u.bufs.Put(bp)
	h := crc32.NewIEEE()
	n, err := io.CopyBuffer(h, io.NewSectionReader(f, 0, size), *bp)
	if err != nil {
		return "", err
	}
	if n != size {
		return "", &shrunkError{size: size, at: n}
	}
	return encode(h), nil
}

// inMemoryMax is the largest file read whole into memory before its PUT:
// one read for checksum and body, sent with its headers. With at most
// MaxInFlight files in flight that holds at most 32 MiB.
const inMemoryMax = 64 << 10

// readWhole reads the first size bytes of f and their CRC32.
func readWhole(f *os.File, size int64) ([]byte, string, error) {
	data := make([]byte, size)
	n, err := io.ReadFull(io.NewSectionReader(f, 0, size), data)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return nil, "", &shrunkError{size: size, at: int64(n)}
	}
	if err != nil {
		return nil, "", err
	}
	h := crc32.NewIEEE()
	h.Write(data)
	return data, encode(h), nil
}

// stored is what a PUT or multipart upload answered: the CRC32 read from
// the file, whether S3's response confirmed it, and the object's version
// (in a versioned bucket).
type stored struct {
	sum       string
	confirmed bool
	version   *string
}

// putSmall sends a file in one PUT straight from disk, with the CRC32 it
// read first; S3 recomputes it on receipt and refuses the object
// (BadDigest) if the bytes differ.
func (u *uploader) putSmall(ctx context.Context, f *os.File, key string, size int64, meta map[string]string) (stored, error) {
	var sum string
	var data []byte // the whole file, when it is read into memory
	var err error
	if u.direct != nil && size <= inMemoryMax {
		data, sum, err = readWhole(f, size)
	} else {
		sum, err = u.crcOf(f, size)
	}
	if err != nil {
		return stored{}, err
	}
	hook(atSummed, key)
	// A body read from the file stops the request through ctx when the
	// file shrinks under it; one in memory cannot.
	stop := context.CancelCauseFunc(func(error) {})
	if data == nil {
		ctx, stop = context.WithCancelCause(ctx)
		defer stop(nil)
	}
	class, sse, kmsKey := u.storage()
	if u.direct != nil {
		bodyOf := func() io.Reader {
			return &body{SectionReader: io.NewSectionReader(f, 0, size), size: size, stop: stop}
		}
		if data != nil {
			// net/http sends an in-memory body in the same write as the
			// headers (one segment for a small file), a file's after them.
			bodyOf = func() io.Reader { return bytes.NewReader(data) }
		}
		resp, err := u.direct.put(ctx, putRequest{
			key: key, size: size, body: bodyOf,
			headers: putHeaders(contentType(key), sum, meta, string(class), string(sse), kmsKey),
		})
		if err != nil {
			return stored{}, shrunk(ctx, err)
		}
		u.bytes.Add(size)
		return checkSum(sum, resp.crc32, aws.String(resp.version))
	}
	in := &s3.PutObjectInput{
		Bucket:            aws.String(u.opts.Bucket),
		Key:               aws.String(key),
		Body:              &body{SectionReader: io.NewSectionReader(f, 0, size), size: size, stop: stop},
		ContentLength:     aws.Int64(size),
		ContentType:       contentType(key),
		ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32,
		ChecksumCRC32:     aws.String(sum),
		Metadata:          meta,
	}
	in.StorageClass, in.ServerSideEncryption, in.SSEKMSKeyId = class, sse, kmsKey
	out, err := u.s3.PutObject(ctx, in)
	if err != nil {
		return stored{}, shrunk(ctx, err)
	}
	u.bytes.Add(size)
	return checkSum(sum, aws.ToString(out.ChecksumCRC32), out.VersionId)
}

// storage is how new objects are stored: the options' storage class and
// encryption, each empty (nil) for the bucket's default.
func (u *uploader) storage() (s3types.StorageClass, s3types.ServerSideEncryption, *string) {
	var kmsKey *string
	if u.opts.SSEKMSKeyID != "" {
		kmsKey = aws.String(u.opts.SSEKMSKeyID)
	}
	return s3types.StorageClass(u.opts.StorageClass), s3types.ServerSideEncryption(u.opts.SSE), kmsKey
}

// checkSum compares the CRC32 read with the one S3 returned, if any.
func checkSum(sum, got string, version *string) (stored, error) {
	// "null" is the version of an object written while versioning was off
	// or suspended: a later PUT replaces it, so asking for it protects
	// nothing (and moto refuses the question).
	if v := aws.ToString(version); v == "" || v == "null" {
		version = nil
	}
	if got == "" {
		return stored{sum: sum, version: version}, nil
	}
	if got != sum {
		return stored{}, fmt.Errorf("checksum mismatch: sent CRC32 %s, S3 stored %s", sum, got)
	}
	return stored{sum: sum, confirmed: true, version: version}, nil
}

// check is what verify found.
type check int

const (
	verified     check = iota
	mismatch           // the object differs, or S3 could not be asked
	unverifiable       // S3 reports no checksum to compare
	cutShort           // the run stopped while asking
)

// verify makes sure the stored object is what was read. A PUT or
// CompleteMultipartUpload response that carries the full-object CRC32
// computed while reading (checked in put*) is the proof: S3 computed it
// over the bytes it stored, and refuses the upload (BadDigest) when they
// differ. Only when the response carries no checksum (some S3-compatible
// servers) does HeadObject have to report the object's size and CRC32; in
// a versioned bucket it asks for the version this run wrote. The message
// says why when not verified.
func (u *uploader) verify(ctx context.Context, key string, size int64, put stored) (check, string) {
	if put.confirmed {
		return verified, ""
	}
	h, err := u.s3.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(u.opts.Bucket), Key: aws.String(key), VersionId: put.version,
		ChecksumMode: s3types.ChecksumModeEnabled,
	})
	if err != nil {
		if ctx.Err() != nil && awsclient.Classify(err) == awsclient.KindCanceled {
			return cutShort, ""
		}
		return mismatch, "verify: " + awsclient.Message(err)
	}
	if got := aws.ToInt64(h.ContentLength); got != size {
		return mismatch, fmt.Sprintf("verify: S3 holds %d bytes, the file had %d", got, size)
	}
	got := aws.ToString(h.ChecksumCRC32)
	if got == "" {
		return unverifiable, "not verified: S3 reports no CRC32 for the object"
	}
	if got != put.sum {
		return mismatch, fmt.Sprintf("verify: S3 reports CRC32 %s, the file read had %s", got, put.sum)
	}
	return verified, ""
}

// unchanged reports whether key already holds the file, and how it
// knows: same size and the mtime this package stored equal to the file's
// to the nanosecond (no read of the file), else same size and a
// full-object CRC32 equal to the file's. meta is the file's metadata (nil
// with NoMetadata, which also turns the mtime rule off).
func (u *uploader) unchanged(ctx context.Context, f *os.File, key string, size int64, meta map[string]string) (bool, string, error) {
	h, err := u.s3.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(u.opts.Bucket), Key: aws.String(key), ChecksumMode: s3types.ChecksumModeEnabled,
	})
	if err != nil {
		// A missing key answers 403, not 404, to a role whose s3:ListBucket
		// is limited to a prefix (as `awsutils policy` makes it): either
		// way, uploading is right; a real denial shows on the PUT.
		if k := awsclient.Classify(err); k == awsclient.KindNotFound || k == awsclient.KindAccessDenied || isForbidden(err) {
			return false, "", nil
		}
		return false, "", err
	}
	if aws.ToInt64(h.ContentLength) != size {
		return false, "", nil
	}
	if m := meta[metaFileMtime]; m != "" && h.Metadata[metaFileMtime] == m {
		return true, "same size and mtime", nil
	}
	got := aws.ToString(h.ChecksumCRC32)
	if got == "" || h.ChecksumType == s3types.ChecksumTypeComposite {
		return false, "", nil
	}
	sum, err := u.crcOf(f, size)
	if err != nil {
		return false, "", err
	}
	return sum == got, "same size and CRC32", nil
}

// isForbidden recognises a bodiless 403, which is how HeadObject reports
// "access denied": without a body there is no error code to classify.
func isForbidden(err error) bool {
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusForbidden
}
