// Command putloop is the benchmark's practical ceiling: it PUTs every file
// under a folder with a pool of workers and nothing else. No checksum, no
// payload signing, no multipart, no verification, no removal, no retries;
// what an uploader does beyond this costs the difference.
//
//	putloop [-workers N] [-raw] [-endpoint URL] SRC s3://bucket/prefix
//
// By default each PUT goes through the SDK's S3 client (awsclient). With
// -raw it is signed with the SDK's v4 signer and sent with net/http
// directly: no SDK middleware at all, small files sent whole from memory.
// That shows what the SDK's per-request work costs, and how many requests
// a path allows when the client costs almost nothing. -meta (with -raw)
// also sends the headers awsutils sends with each small file: its content
// type, CRC32 and the file's POSIX metadata in both of its formats, which
// shows what those headers cost the client and the server.
//
// Keys and region come from the environment through awsclient, the
// endpoint from -endpoint or else the environment (AWS_ENDPOINT_URL).
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/awsutils/awsutils/awsclient"
)

type job struct {
	path, key string
	size      int64
}

// putter sends one file.
type putter interface {
	put(ctx context.Context, bucket string, j job, buf *[]byte) error
}

func main() {
	workers := flag.Int("workers", 64, "concurrent PUTs")
	raw := flag.Bool("raw", false, "sign with the v4 signer and send with net/http, without the SDK client")
	meta := flag.Bool("meta", false, "with -raw: also send awsutils's headers (content type, CRC32, POSIX metadata)")
	endpoint := flag.String("endpoint", "", "S3 endpoint (default: the environment's, else AWS)")
	flag.Parse()
	if flag.NArg() != 2 || !strings.HasPrefix(flag.Arg(1), "s3://") || *workers < 1 {
		fmt.Fprintln(os.Stderr, "usage: putloop [-workers N] [-raw] [-endpoint URL] SRC s3://bucket/prefix")
		os.Exit(2)
	}
	if err := run(context.Background(), flag.Arg(0), flag.Arg(1), *workers, *raw, *meta, *endpoint); err != nil {
		fmt.Fprintln(os.Stderr, "putloop:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, src, dst string, workers int, raw, meta bool, endpoint string) error {
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(dst, "s3://"), "/")
	prefix = strings.Trim(prefix, "/")
	cfg, err := awsclient.Load(ctx, awsclient.Options{MaxConnsPerHost: workers, Endpoint: endpoint})
	if err != nil {
		return err
	}
	var p putter
	if raw {
		rp, err := newRawPutter(ctx, cfg, workers)
		if err != nil {
			return err
		}
		rp.meta = meta
		p = rp
	} else {
		p = sdkPutter{awsclient.S3(cfg, func(o *s3.Options) {
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
		})}
	}

	jobs := make(chan job, workers*4)
	var failed atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for j := range jobs {
				if err := p.put(ctx, bucket, j, &buf); err != nil {
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

type sdkPutter struct{ c *s3.Client }

func (s sdkPutter) put(ctx context.Context, bucket string, j job, _ *[]byte) error {
	f, err := os.Open(j.path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = s.c.PutObject(ctx, &s3.PutObjectInput{
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

// wholeMax is the largest file the raw loop reads into memory before its
// PUT; larger ones stream from the file.
const wholeMax = 1 << 20

type rawPutter struct {
	client   *http.Client
	signer   *v4.Signer
	creds    aws.Credentials
	region   string
	endpoint *url.URL
	meta     bool // send awsutils's headers too
}

func newRawPutter(ctx context.Context, cfg aws.Config, workers int) (*rawPutter, error) {
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	ep := aws.ToString(cfg.BaseEndpoint)
	if ep == "" {
		ep = "https://s3." + cfg.Region + ".amazonaws.com"
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q is not a base URL", ep)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        workers,
		MaxIdleConnsPerHost: workers,
		MaxConnsPerHost:     workers,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		WriteBufferSize:     64 << 10,
	}
	return &rawPutter{
		client: &http.Client{Transport: tr},
		// S3 signs the path as sent, escaped once; the request carries it
		// escaped already (RawPath).
		signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }),
		creds:  creds, region: cfg.Region, endpoint: u,
	}, nil
}

const unsignedPayload = "UNSIGNED-PAYLOAD"

func (r *rawPutter) put(ctx context.Context, bucket string, j job, buf *[]byte) error {
	var body io.Reader = http.NoBody
	var headers http.Header
	if j.size > 0 && j.size <= wholeMax {
		if int64(cap(*buf)) < j.size {
			*buf = make([]byte, j.size)
		}
		b := (*buf)[:j.size]
		f, err := os.Open(j.path)
		if err != nil {
			return err
		}
		_, err = io.ReadFull(f, b)
		var fi fs.FileInfo
		if err == nil && r.meta {
			fi, err = f.Stat()
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", j.path, err)
		}
		body = bytes.NewReader(b)
		if fi != nil {
			headers = awsutilsHeaders(b, fi)
		}
	} else if j.size > wholeMax {
		f, err := os.Open(j.path)
		if err != nil {
			return err
		}
		defer f.Close()
		body = f
	}
	u := *r.endpoint
	u.Path = r.endpoint.Path + "/" + bucket + "/" + j.key
	u.RawPath = r.endpoint.EscapedPath() + "/" + escapePath(bucket) + "/" + escapePath(j.key)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), body)
	if err != nil {
		return err
	}
	req.ContentLength = j.size
	if j.size == 0 {
		req.Body, req.GetBody = http.NoBody, nil
	}
	for k, v := range headers {
		req.Header[k] = v
	}
	req.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
	if err := r.signer.SignHTTP(ctx, r.creds, req, unsignedPayload, "s3", r.region, time.Now()); err != nil {
		return err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("put %s: %w", j.key, err)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("put %s: %s: %s", j.key, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// escapePath escapes every byte of an S3 key but the unreserved ones and
// '/', as S3's canonical request does.
func escapePath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// awsutilsHeaders are the headers awsutils sends with a small file besides
// the signature's: content type, CRC32, and the POSIX metadata in rclone's
// and File Gateway's names (s3upload/metadata.go).
func awsutilsHeaders(data []byte, fi fs.FileInfo) http.Header {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE(data))
	h := http.Header{
		"Content-Type":                 {"application/octet-stream"},
		"X-Amz-Checksum-Crc32":         {base64.StdEncoding.EncodeToString(sum[:])},
		"X-Amz-Sdk-Checksum-Algorithm": {"CRC32"},
	}
	t := fi.ModTime()
	meta := map[string]string{
		"Mtime":      fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()),
		"File-Mtime": strconv.FormatInt(t.UnixNano(), 10) + "ns",
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		mode := strconv.FormatUint(uint64(st.Mode), 8)
		uid, gid := strconv.FormatUint(uint64(st.Uid), 10), strconv.FormatUint(uint64(st.Gid), 10)
		meta["Mode"], meta["Uid"], meta["Gid"] = mode, uid, gid
		meta["File-Permissions"], meta["File-Owner"], meta["File-Group"] = "0"+mode, uid, gid
	}
	for k, v := range meta {
		h["X-Amz-Meta-"+k] = []string{v}
	}
	return h
}
