// Command putloop is the benchmark's practical ceiling: it PUTs every file
// under a folder with a pool of workers and nothing else. No checksum, no
// payload signing, no multipart, no verification, no removal; what an
// uploader does beyond this costs the difference.
//
//	putloop [-workers N] SRC s3://bucket/prefix
//
// It reads AWS_ENDPOINT_URL, keys and region from the environment through
// awsclient, like every other client here.
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/awsutils/awsutils/awsclient"
)

type job struct {
	path, key string
	size      int64
}

func main() {
	workers := flag.Int("workers", 64, "concurrent PUTs")
	flag.Parse()
	if flag.NArg() != 2 || !strings.HasPrefix(flag.Arg(1), "s3://") {
		fmt.Fprintln(os.Stderr, "usage: putloop [-workers N] SRC s3://bucket/prefix")
		os.Exit(2)
	}
	if err := run(context.Background(), flag.Arg(0), flag.Arg(1), *workers); err != nil {
		fmt.Fprintln(os.Stderr, "putloop:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, src, dst string, workers int) error {
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(dst, "s3://"), "/")
	prefix = strings.Trim(prefix, "/")
	cfg, err := awsclient.Load(ctx, awsclient.Options{MaxConnsPerHost: workers})
	if err != nil {
		return err
	}
	client := awsclient.S3(cfg, func(o *s3.Options) {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	})

	jobs := make(chan job, workers*4)
	var failed atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := put(ctx, client, bucket, j); err != nil {
					failed.Add(1)
					errOnce.Do(func() { firstErr = err })
				}
			}
		}()
	}
	walkErr := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		key := filepath.ToSlash(rel)
		if prefix != "" {
			key = prefix + "/" + key
		}
		jobs <- job{path: p, key: key, size: info.Size()}
		return nil
	})
	close(jobs)
	wg.Wait()
	if walkErr != nil {
		return walkErr
	}
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d files failed, first: %w", n, firstErr)
	}
	return nil
}

func put(ctx context.Context, c *s3.Client, bucket string, j job) error {
	f, err := os.Open(j.path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(bucket),
		Key:           aws.String(j.key),
		Body:          f,
		ContentLength: aws.Int64(j.size),
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", j.key, err)
	}
	return nil
}
