package s3upload

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// abortTimeout bounds the AbortMultipartUpload a failed upload makes with a
// fresh context, so that even a cancelled or expired run leaves no
// orphaned parts (which S3 bills until a lifecycle rule removes them).
const abortTimeout = 20 * time.Second

// part is one part of a multipart upload: a section of the file and its
// CRC32.
type part struct {
	num       int32
	off, size int64
	sum       string
}

// partError is a part that failed; the report names the part.
type partError struct {
	num int32
	err error
}

func (e *partError) Error() string { return fmt.Sprintf("part %d: %v", e.num, e.err) }
func (e *partError) Unwrap() error { return e.err }

// putLarge sends a file as a multipart upload straight from disk.
//
// Parts are sections of the open file rather than copies in memory (the
// SDK's transfer manager buffers every part; docs/NOTES.md has what that
// costs): memory stays flat in file and part size, and a part the SDK
// retries is re-read by seeking. One goroutine reads the parts in order,
// computing each part's CRC32 and the whole file's; PartConcurrency
// workers send them while the next is read, from the page cache the read
// just filled. CompleteMultipartUpload carries the FULL_OBJECT CRC32, which
// S3 checks against the assembled object. Any failure aborts the upload.
func (u *uploader) putLarge(ctx context.Context, f *os.File, key string, size int64, meta map[string]string) (stored, error) {
	select {
	case u.large <- struct{}{}:
		defer func() { <-u.large }()
	case <-ctx.Done():
		return stored{}, ctx.Err()
	}
	create := &s3.CreateMultipartUploadInput{
		Bucket:            aws.String(u.opts.Bucket),
		Key:               aws.String(key),
		ContentType:       contentType(key),
		ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32,
		ChecksumType:      s3types.ChecksumTypeFullObject,
		Metadata:          meta,
	}
	create.StorageClass, create.ServerSideEncryption, create.SSEKMSKeyId = u.storage()
	// The create is not cancelled with the run: a create the server
	// carried out but whose answer the client dropped would leave an
	// upload nobody can abort. It finishes, and a cancelled run aborts it.
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	mpu, err := u.s3.CreateMultipartUpload(cctx, create)
	ccancel()
	if err != nil {
		return stored{}, err
	}
	id := mpu.UploadId
	if err := ctx.Err(); err != nil {
		return stored{}, u.abort(ctx, key, id, err)
	}

	parts, sum, err := u.sendParts(ctx, f, key, id, size)
	if err == nil {
		var out *s3.CompleteMultipartUploadOutput
		out, err = u.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: aws.String(u.opts.Bucket), Key: aws.String(key), UploadId: id,
			MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts},
			ChecksumCRC32:   aws.String(sum),
			ChecksumType:    s3types.ChecksumTypeFullObject,
		})
		if err == nil {
			return checkSum(sum, aws.ToString(out.ChecksumCRC32), out.VersionId)
		}
	}
	return stored{}, u.abort(ctx, key, id, err)
}

// abort ends a failed multipart upload with a fresh context, so that even a
// cancelled or expired run leaves no orphaned parts; it returns err, noting
// a failed abort.
func (u *uploader) abort(ctx context.Context, key string, id *string, err error) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	if _, aerr := u.s3.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(u.opts.Bucket), Key: aws.String(key), UploadId: id,
	}); aerr != nil {
		return fmt.Errorf("%w (and aborting the multipart upload failed, parts may be left: %v)", err, aerr)
	}
	return err
}

// sendParts reads the file part by part and uploads the parts with
// PartConcurrency workers; it returns the parts in order and the file's
// CRC32, or the first error (after which the other parts stop).
func (u *uploader) sendParts(ctx context.Context, f *os.File, key string, id *string, size int64) ([]s3types.CompletedPart, string, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	partSize := partSizeFor(size, u.opts.PartSize)
	n := int((size + partSize - 1) / partSize)
	done := make([]s3types.CompletedPart, n)
	todo := make(chan part)
	var wg sync.WaitGroup
	for range min(u.opts.PartConcurrency, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range todo {
				out, err := u.s3.UploadPart(ctx, &s3.UploadPartInput{
					Bucket: aws.String(u.opts.Bucket), Key: aws.String(key), UploadId: id,
					PartNumber:        aws.Int32(p.num),
					Body:              &body{SectionReader: io.NewSectionReader(f, p.off, p.size), base: p.off, size: size, stop: cancel},
					ContentLength:     aws.Int64(p.size),
					ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32,
					ChecksumCRC32:     aws.String(p.sum),
				})
				if err != nil {
					cancel(&partError{num: p.num, err: err})
					continue
				}
				if got := aws.ToString(out.ChecksumCRC32); got != "" && got != p.sum {
					cancel(&partError{num: p.num, err: fmt.Errorf("checksum mismatch: sent CRC32 %s, S3 stored %s", p.sum, got)})
					continue
				}
				u.bytes.Add(p.size)
				done[p.num-1] = s3types.CompletedPart{PartNumber: aws.Int32(p.num), ETag: out.ETag, ChecksumCRC32: aws.String(p.sum)}
			}
		}()
	}

	bp := u.bufs.Get().(*[]byte)
	defer u.bufs.Put(bp)
	whole := crc32.NewIEEE()
	var readErr error
	for i := range n {
		off := int64(i) * partSize
		p := part{num: int32(i + 1), off: off, size: min(partSize, size-off)}
		h := crc32.NewIEEE()
		got, err := io.CopyBuffer(io.MultiWriter(h, whole), io.NewSectionReader(f, p.off, p.size), *bp)
		if err == nil && got != p.size {
			err = &shrunkError{size: size, at: off + got}
		}
		if err != nil {
			readErr = err
			break
		}
		p.sum = encode(h)
		if i == 0 {
			hook(atSummed, key)
		}
		select {
		case todo <- p:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(todo)
	wg.Wait()
	if readErr != nil {
		return nil, "", readErr
	}
	// The first part's error, or the run's cancel or deadline.
	if err := context.Cause(ctx); err != nil {
		return nil, "", err
	}
	return done, encode(whole), nil
}
