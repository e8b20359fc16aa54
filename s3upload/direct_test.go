package s3upload

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
)

// objectView is what a client can read back of an object: what the
// direct path must store exactly as the SDK's PutObject does.
type objectView struct {
	Body, ContentType, CRC32, StorageClass string
	Size                                   int64
	Metadata                               map[string]string
}

func viewObjects(t *testing.T, cfg aws.Config, bucket, prefix string) map[string]objectView {
	t.Helper()
	c := awsclient.S3(cfg)
	ctx := context.Background()
	out := map[string]objectView{}
	for key, body := range testbed.ObjectStrings(t, cfg, bucket) {
		rel, ok := strings.CutPrefix(key, prefix+"/")
		if !ok {
			continue
		}
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: s3types.ChecksumModeEnabled})
		if err != nil {
			t.Fatalf("head %q: %v", key, err)
		}
		meta := maps.Clone(h.Metadata)
		// The mtime differs by nature between two uploads of two copies.
		for _, k := range []string{metaMtime, metaFileMtime} {
			if _, ok := meta[k]; ok {
				meta[k] = "set"
			}
		}
		out[rel] = objectView{
			Body: body, ContentType: aws.ToString(h.ContentType), CRC32: aws.ToString(h.ChecksumCRC32),
			StorageClass: string(h.StorageClass), Size: aws.ToInt64(h.ContentLength), Metadata: meta,
		}
	}
	return out
}

// TestDirectPutStoresWhatTheSDKStores uploads the same tree (names that
// need escaping, an empty file, one sent after 100-continue, content
// types, metadata) once through the
// direct path and once through the SDK's PutObject, on moto and on
// versitygw, and compares every object's bytes, size, content type, CRC32,
// storage class and metadata.
func TestDirectPutStoresWhatTheSDKStores(t *testing.T) {
	testbed.EachS3Server(t, func(t *testing.T, s testbed.S3Server) {
		t.Parallel()
		src := t.TempDir()
		files := map[string]string{
			"plain.txt": "hello", "empty": "", "dir/page.html": "<p>x</p>", "dir/data.json": `{"a":1}`,
			"sp ace/a b.bin": "spaces", "plus+and=amp&.txt": "signs", "pct%41/q?h#.dat": "reserved",
			"ünï/cödé 日本.txt": "unicode", "tilde~/-_.x": "unreserved", "semi;colon,comma'(q)*!.txt": "subdelims",
			// Above the SDK's 100-continue threshold.
			"big.bin": strings.Repeat("0123456789abcdef", (defaultContinueAt+4096)/16),
		}
		testbed.WriteFiles(t, src, files)
		for _, tc := range []struct {
			prefix string
			sdk    bool
		}{{"direct", false}, {"sdk", true}} {
			rep, err := Run(context.Background(), s.Config, Options{Src: src, Bucket: s.Bucket, Prefix: tc.prefix, StorageClass: "STANDARD", sdkPut: tc.sdk})
			if err != nil || !rep.OK() || rep.Totals.Uploaded != len(files) {
				t.Fatalf("%s: %v %+v %+v", tc.prefix, err, rep.Totals, rep.Files)
			}
		}
		direct, sdk := viewObjects(t, s.Config, s.Bucket, "direct"), viewObjects(t, s.Config, s.Bucket, "sdk")
		if len(direct) != len(files) {
			t.Fatalf("direct path stored %d objects, want %d: %v", len(direct), len(files), direct)
		}
		for rel, want := range sdk {
			got := direct[rel]
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%q: direct %+v, sdk %+v", rel, got, want)
			}
			if got.Body != files[rel] {
				t.Errorf("%q holds %q, want %q", rel, got.Body, files[rel])
			}
		}
	})
}

// TestDirectPutErrors: what the server refuses reaches the caller in the
// SDK's error types, so that awsclient classifies it the same way, and a
// run stops at an error every file would hit.
func TestDirectPutErrors(t *testing.T) {
	testbed.EachS3Server(t, func(t *testing.T, s testbed.S3Server) {
		t.Parallel()
		ctx := context.Background()
		for _, tc := range []struct {
			name   string
			bucket string
			secret string
			code   string
			kind   awsclient.Kind
		}{
			{"no such bucket", "no-such-bucket-here", "", "NoSuchBucket", awsclient.KindNotFound},
			{"wrong secret", s.Bucket, "wrong", "SignatureDoesNotMatch", awsclient.KindAccessDenied},
		} {
			cfg := s.Config.Copy()
			if tc.secret != "" {
				creds, err := cfg.Credentials.Retrieve(ctx)
				if err != nil {
					t.Fatal(err)
				}
				cfg.Credentials = aws.NewCredentialsCache(staticCreds{aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: tc.secret}})
			}
			if s.Name == "moto" && tc.secret != "" {
				continue // moto does not check signatures
			}
			c := awsclient.S3(cfg)
			d := newDirectPut(ctx, c, tc.bucket)
			if d == nil {
				t.Fatal("no direct path")
			}
			_, err := d.put(ctx, putRequest{key: "k", size: 1, body: func() io.Reader { return strings.NewReader("x") },
				headers: putHeaders(nil, crcString("x"), nil, "", "", nil)})
			var oe *smithy.OperationError
			if !errors.As(err, &oe) || oe.OperationName != "PutObject" {
				t.Errorf("%s: %v is not a PutObject operation error", tc.name, err)
			}
			if got := awsclient.Code(err); got != tc.code || awsclient.Classify(err) != tc.kind {
				t.Errorf("%s: code %q kind %v (%v), want %q %v", tc.name, got, awsclient.Classify(err), err, tc.code, tc.kind)
			}
			var maxErr *retry.MaxAttemptsError
			if errors.As(err, &maxErr) {
				t.Errorf("%s: %v was retried", tc.name, err)
			}
		}
	})
}

type staticCreds struct{ c aws.Credentials }

func (s staticCreds) Retrieve(context.Context) (aws.Credentials, error) { return s.c, nil }

func crcString(s string) string {
	h := crc32.NewIEEE()
	h.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// TestDirectPutRetries: a PUT the server throttles (503 SlowDown), fails
// (500) or whose connection is reset is retried by the client's retryer,
// as the SDK's middleware retries it, and a throttle or a reset tells the
// limiter the path is congested; a 500 does not.
func TestDirectPutRetries(t *testing.T) {
	testbed.EachS3Server(t, func(t *testing.T, s testbed.S3Server) {
		t.Parallel()
		for _, tc := range []struct {
			name      string
			faults    testbed.Faults
			congested bool
		}{
			{"slowdown", testbed.Faults{SlowDown503: 1}, true},
			{"error 500", testbed.Faults{Error500: 1}, false},
			{"reset", testbed.Faults{Reset: 1}, true},
		} {
			tc.faults.Only, tc.faults.MaxFaults = []string{"PutObject"}, 2
			p := testbed.StartFaultProxy(t, s.Endpoint, tc.faults)
			cfg := p.Config(t, s.Env, awsclient.Options{})
			lim := newLimiter(0, MaxInFlight, time.Now)
			opts := &Options{Bucket: s.Bucket}
			u := newUploader(cfg, opts, nil, lim)
			if u.direct == nil {
				t.Fatal("no direct path")
			}
			body := strings.Repeat("r", 3000)
			resp, err := u.direct.put(context.Background(), putRequest{key: "k/" + tc.name, size: int64(len(body)),
				body: func() io.Reader { return strings.NewReader(body) }, headers: putHeaders(nil, crcString(body), nil, "", "", nil)})
			if err != nil || resp.crc32 != crcString(body) && resp.crc32 != "" {
				t.Fatalf("%s: %v %+v", tc.name, err, resp)
			}
			if st := p.Stats(); st.Ops["PutObject"] != 3 || st.Injected() != 2 {
				t.Errorf("%s: %d PutObject attempts, %d faults; want 3 and 2", tc.name, st.Ops["PutObject"], st.Injected())
			}
			if got := lim.throttled > 0; got != tc.congested {
				t.Errorf("%s: limiter told of %d congested attempts, want some: %v", tc.name, lim.throttled, tc.congested)
			}
			got := testbed.ObjectStrings(t, s.Config, s.Bucket)["k/"+tc.name]
			if got != body {
				t.Errorf("%s: stored %d bytes, want %d", tc.name, len(got), len(body))
			}
		}
	})
}
