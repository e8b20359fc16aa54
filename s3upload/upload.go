package s3upload

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/awsutils/awsutils/awsclient"
)

// uploader does one file at a time per worker; its counters feed Progress.
type uploader struct {
	opts  *Options
	s3    *s3.Client
	large chan struct{} // semaphore over multipart uploads
	bufs  sync.Pool

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
}

const bufSize = 256 << 10

func newUploader(cfg aws.Config, opts *Options) *uploader {
	// An unsigned payload spares a SHA-256 pass over every body: integrity
	// comes from the CRC32 checksum S3 verifies. Over plain http (local
	// servers) it is also what lets a body be sent without signing it.
	client := awsclient.S3(cfg, func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	})
	u := &uploader{
		opts:  opts,
		s3:    client,
		large: make(chan struct{}, opts.LargeFiles),
	}
	u.bufs.New = func() any { b := make([]byte, bufSize); return &b }
	return u
}

// noteFound counts an item the walk found, for Progress.
func (u *uploader) noteFound(it item) {
	if it.skip != "" || it.fail != "" {
		return
	}
	u.nFound.Add(1)
	if u.opts.Progress == nil {
		return
	}
	if fi, err := os.Stat(it.open); err == nil {
		u.foundBytes.Add(fi.Size())
	}
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

// testHookVerified, when set by a test, runs after a file's object is
// verified and before the file is checked for changes, so a test can change
// the file at exactly that moment.
var testHookVerified func(path string)

// fingerprint is what must not change between reading a file and removing
// it.
type fingerprint struct {
	size         int64
	mtime, ctime time.Time
	dev, ino     uint64
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
	if ctx.Err() != nil {
		f.Result, f.Message = Skipped, "not started: "+stopReason(ctx)
		return outcome{file: f, interrupted: true}
	}
	if u.opts.DryRun {
		if fi, err := os.Stat(it.open); err == nil {
			f.Size = fi.Size()
		}
		f.Result, f.Message = Skipped, "dry run: would upload"
		return outcome{file: f}
	}

	fh, err := os.Open(it.open)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			f.Result, f.Message = Skipped, "vanished before it was read"
			return outcome{file: f}
		}
		f.Result, f.Message = Failed, "open: "+errMsg(err)
		return outcome{file: f}
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		f.Result, f.Message = Failed, "stat: "+errMsg(err)
		return outcome{file: f}
	}
	if !fi.Mode().IsRegular() {
		f.Result, f.Message = Skipped, "not a regular file ("+kindOf(fi.Mode().Type())+"); skipped"
		return outcome{file: f}
	}
	before := fingerprintOf(fi)
	f.Size = before.size

	var o outcome
	verified := false
	if u.opts.SkipUnchanged {
		same, err := u.unchanged(ctx, fh, key, f.Size)
		if err != nil {
			return u.failed(ctx, f, "check existing object", err)
		}
		if same {
			verified = true
			f.Result, f.Message = Skipped, "unchanged in S3"
		}
	}
	if !verified {
		var sum string
		var confirmed bool
		var err error
		if f.Size >= u.opts.MultipartThreshold {
			sum, confirmed, err = u.putLarge(ctx, fh, key, f.Size)
		} else {
			sum, confirmed, err = u.putSmall(ctx, fh, key, f.Size)
		}
		if err != nil {
			return u.failed(ctx, f, "upload", err)
		}
		o.uploaded = f.Size
		switch c, msg := u.verify(ctx, key, f.Size, sum, confirmed); c {
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
	if testHookVerified != nil {
		testHookVerified(it.path)
	}
	if !u.opts.RemoveSrc {
		o.file = f
		return o
	}
	o.file = u.remove(it, f, before)
	return o
}

func fingerprintOf(fi fs.FileInfo) fingerprint {
	fp := fingerprint{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := statT(fi); ok {
		fp.dev, fp.ino = uint64(st.Dev), uint64(st.Ino)
		fp.ctime = time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec))
	}
	return fp
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

// crcOf is the CRC32 of the first size bytes of f, read with a pooled
// buffer.
func (u *uploader) crcOf(f *os.File, size int64) (string, error) {
	bp := u.bufs.Get().(*[]byte)
	defer u.bufs.Put(bp)
	h := crc32.NewIEEE()
	n, err := io.CopyBuffer(h, io.NewSectionReader(f, 0, size), *bp)
	if err != nil {
		return "", err
	}
	if n != size {
		return "", fmt.Errorf("file shrank from %d to %d bytes while read", size, n)
	}
	return encode(h), nil
}

// putSmall sends a file in one PUT straight from disk, with the CRC32 it
// read first; S3 recomputes it on receipt and refuses the object
// (BadDigest) if the bytes differ.
func (u *uploader) putSmall(ctx context.Context, f *os.File, key string, size int64) (sum string, confirmed bool, err error) {
	sum, err = u.crcOf(f, size)
	if err != nil {
		return "", false, err
	}
	in := &s3.PutObjectInput{
		Bucket:            aws.String(u.opts.Bucket),
		Key:               aws.String(key),
		Body:              io.NewSectionReader(f, 0, size),
		ContentLength:     aws.Int64(size),
		ContentType:       contentType(key),
		ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32,
		ChecksumCRC32:     aws.String(sum),
	}
	in.StorageClass, in.ServerSideEncryption, in.SSEKMSKeyId = u.storage()
	out, err := u.s3.PutObject(ctx, in)
	if err != nil {
		return "", false, err
	}
	u.bytes.Add(size)
	return checkSum(sum, aws.ToString(out.ChecksumCRC32))
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
func checkSum(sum, got string) (string, bool, error) {
	if got == "" {
		return sum, false, nil
	}
	if got != sum {
		return "", false, fmt.Errorf("checksum mismatch: sent CRC32 %s, S3 stored %s", sum, got)
	}
	return sum, true, nil
}

// check is what verify found.
type check int

const (
	verified     check = iota
	mismatch           // the object differs, or S3 could not be asked
	unverifiable       // S3 reports no checksum to compare
	cutShort           // the run stopped while asking
)

// verify makes sure the stored object is what was read: its size and the
// full-object CRC32 S3 reports. PUT and CompleteMultipartUpload responses
// usually carry the checksum (checked in put*), which is enough to keep a
// source; removing it asks HeadObject as well, which also catches a
// concurrent overwrite of the key. The message says why when not verified.
func (u *uploader) verify(ctx context.Context, key string, size int64, sum string, confirmed bool) (check, string) {
	if confirmed && !u.opts.RemoveSrc {
		return verified, ""
	}
	h, err := u.s3.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(u.opts.Bucket), Key: aws.String(key), ChecksumMode: s3types.ChecksumModeEnabled,
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
	if got != sum {
		return mismatch, fmt.Sprintf("verify: S3 reports CRC32 %s, the file read had %s", got, sum)
	}
	return verified, ""
}

// unchanged reports whether key already holds the file: same size and a
// full-object CRC32 equal to the file's.
func (u *uploader) unchanged(ctx context.Context, f *os.File, key string, size int64) (bool, error) {
	h, err := u.s3.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(u.opts.Bucket), Key: aws.String(key), ChecksumMode: s3types.ChecksumModeEnabled,
	})
	if err != nil {
		// A missing key answers 403, not 404, to a role whose s3:ListBucket
		// is limited to a prefix (as `awsutils policy` makes it): either
		// way, uploading is right; a real denial shows on the PUT.
		if k := awsclient.Classify(err); k == awsclient.KindNotFound || k == awsclient.KindAccessDenied || isForbidden(err) {
			return false, nil
		}
		return false, err
	}
	got := aws.ToString(h.ChecksumCRC32)
	if aws.ToInt64(h.ContentLength) != size || got == "" || h.ChecksumType == s3types.ChecksumTypeComposite {
		return false, nil
	}
	sum, err := u.crcOf(f, size)
	if err != nil {
		return false, err
	}
	return sum == got, nil
}

// isForbidden recognises a bodiless 403, which is how HeadObject reports
// "access denied": without a body there is no error code to classify.
func isForbidden(err error) bool {
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusForbidden
}
