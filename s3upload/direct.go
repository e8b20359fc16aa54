package s3upload

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsxml "github.com/aws/aws-sdk-go-v2/aws/protocol/xml"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyauth "github.com/aws/smithy-go/auth"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// directPut sends a single-PUT upload without the SDK's middleware stack:
// the request is built here, signed as the SDK's v4 signer signs it
// (putSigner) and sent with the client's HTTP client. For small files the
// stack's per-request work (some forty middlewares, endpoint rules
// evaluated per call, deep goroutine stacks) costs more CPU than the
// request itself, which bounds a run on a busy machine; docs/NOTES.md has
// the profile.
//
// What the SDK would do for the request, it still does once per run: the
// endpoint comes from the S3 client's own rules (its BaseEndpoint, path
// style, FIPS, dual-stack and accelerate settings) for the bucket, the
// credentials from the client's provider (cached and refreshed by it), and
// each attempt goes through the client's retryer, whose verdicts and
// backoff apply unchanged. Errors are the SDK's types (an
// *awshttp.ResponseError around a smithy.GenericAPIError parsed from S3's
// XML), so awsclient classifies them as it does the SDK's.
type directPut struct {
	http    aws.HTTPClient
	creds   aws.CredentialsProvider
	retryer aws.RetryerV2
	signer  *putSigner
	base    url.URL // the bucket's URL: a key's path appends to it
	ua      string
	// continueAt is the body size from which a PUT asks for 100-continue
	// (0: never).
	continueAt int64
}

// newDirectPut returns the direct path for bucket, or nil when the
// endpoint the SDK resolves for it needs what only the SDK does (SigV4A,
// S3 Express sessions): those uploads keep going through the client.
func newDirectPut(ctx context.Context, client *s3.Client, bucket string) *directPut {
	o := client.Options()
	r, ok := o.Retryer.(aws.RetryerV2)
	if !ok || o.HTTPClient == nil || o.Credentials == nil {
		return nil
	}
	ep, err := o.EndpointResolverV2.ResolveEndpoint(ctx, s3.EndpointParameters{
		Bucket:                         aws.String(bucket),
		Region:                         aws.String(o.Region),
		UseFIPS:                        aws.Bool(o.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled),
		UseDualStack:                   aws.Bool(o.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled),
		Endpoint:                       o.BaseEndpoint,
		ForcePathStyle:                 aws.Bool(o.UsePathStyle),
		Accelerate:                     aws.Bool(o.UseAccelerate),
		DisableMultiRegionAccessPoints: aws.Bool(o.DisableMultiRegionAccessPoints),
		UseArnRegion:                   aws.Bool(o.UseARNRegion),
		DisableS3ExpressSessionAuth:    aws.Bool(true),
		Key:                            aws.String("k"),
	})
	if err != nil || len(ep.Headers) > 0 {
		return nil
	}
	d := &directPut{
		http: o.HTTPClient, creds: o.Credentials, retryer: r,
		signer: &putSigner{region: o.Region, name: "s3"}, base: ep.URI,
		ua: "aws-sdk-go-v2/" + aws.SDKVersion + " awsutils-direct-put",
	}
	switch t := o.ContinueHeaderThresholdBytes; {
	case t == 0:
		d.continueAt = defaultContinueAt
	case t > 0:
		d.continueAt = t
	}
	if o.AppID != "" {
		d.ua += " app/" + o.AppID
	}
	opts, _ := smithyauth.GetAuthOptions(&ep.Properties)
	if len(opts) > 0 {
		// The endpoint rules name schemes "sigv4", "sigv4a",
		// "sigv4-s3express"; only the first is signed here.
		if id := opts[0].SchemeID; id != "sigv4" && id != smithyauth.SchemeIDSigV4 {
			return nil
		}
		if n, ok := smithyhttp.GetSigV4SigningName(&opts[0].SignerProperties); ok {
			d.signer.name = n
		}
		if reg, ok := smithyhttp.GetSigV4SigningRegion(&opts[0].SignerProperties); ok {
			d.signer.region = reg
		}
	}
	d.base.Path = strings.TrimSuffix(d.base.Path, "/")
	d.base.RawPath = strings.TrimSuffix(d.base.EscapedPath(), "/")
	return d
}

// putRequest is what one PutObject sends besides the body.
type putRequest struct {
	key     string
	size    int64
	body    func() io.Reader // a fresh reader over the whole body, per attempt
	headers http.Header      // content type, checksum, metadata, storage
}

// putResponse is what the caller reads from a stored object's response.
type putResponse struct {
	crc32, version string
}

const (
	unsignedPayload = "UNSIGNED-PAYLOAD"
	// defaultContinueAt is the body size from which the SDK's S3 client
	// asks for 100-continue unless its ContinueHeaderThresholdBytes says
	// otherwise (-1: never).
	defaultContinueAt = 2 << 20
)

// put sends the request until it succeeds or the retryer gives up, as the
// SDK's retry middleware does.
func (d *directPut) put(ctx context.Context, req putRequest) (putResponse, error) {
	var err error
	maxAttempts := d.retryer.MaxAttempts()
	for attempt := 1; ; attempt++ {
		var resp putResponse
		resp, err = d.attempt(ctx, req)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil || attempt >= maxAttempts || !d.retryer.IsErrorRetryable(err) {
			break
		}
		if _, terr := d.retryer.GetRetryToken(ctx, err); terr != nil {
			break
		}
		delay, derr := d.retryer.RetryDelay(attempt, err)
		if derr != nil {
			break
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return putResponse{}, d.wrap(ctx.Err())
		case <-t.C:
		}
	}
	if maxAttempts > 1 && ctx.Err() == nil && d.retryer.IsErrorRetryable(err) {
		err = &retry.MaxAttemptsError{Attempt: maxAttempts, Err: err}
	}
	return putResponse{}, d.wrap(err)
}

// wrap makes err an operation error as the SDK's are.
func (d *directPut) wrap(err error) error {
	return &smithy.OperationError{ServiceID: s3.ServiceID, OperationName: "PutObject", Err: err}
}

func (d *directPut) attempt(ctx context.Context, req putRequest) (putResponse, error) {
	release, err := d.retryer.GetAttemptToken(ctx)
	if err != nil {
		return putResponse{}, err
	}
	resp, err := d.send(ctx, req)
	_ = release(err)
	return resp, err
}

func (d *directPut) send(ctx context.Context, req putRequest) (putResponse, error) {
	creds, err := d.creds.Retrieve(ctx)
	if err != nil {
		return putResponse{}, fmt.Errorf("retrieve credentials: %w", err)
	}
	u := d.base
	u.Path = d.base.Path + "/" + req.key
	u.RawPath = d.base.RawPath + "/" + escapeKey(req.key)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), http.NoBody)
	if err != nil {
		return putResponse{}, err
	}
	if req.size > 0 {
		hr.Body = io.NopCloser(req.body())
		hr.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(req.body()), nil }
	}
	hr.ContentLength = req.size
	if d.continueAt > 0 && req.size >= d.continueAt {
		// As the SDK does: a refusal (a bad key, no such bucket) comes
		// before the body rather than after it.
		hr.Header.Set("Expect", "100-continue")
	}
	for k, v := range req.headers {
		hr.Header[k] = v
	}
	hr.Header.Set("User-Agent", d.ua)
	hr.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
	d.signer.sign(hr, creds, unsignedPayload, time.Now())
	resp, err := d.http.Do(hr)
	if err != nil {
		// As the SDK's transport does: a request that never got a response.
		return putResponse{}, &smithyhttp.RequestSendError{Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return putResponse{crc32: resp.Header.Get("X-Amz-Checksum-Crc32"), version: resp.Header.Get("X-Amz-Version-Id")}, nil
	}
	return putResponse{}, responseError(resp)
}

// responseError is S3's error response as the SDK types it.
func responseError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	api := &smithy.GenericAPIError{Code: resp.Status, Message: http.StatusText(resp.StatusCode)}
	reqID := resp.Header.Get("X-Amz-Request-Id")
	if len(body) > 0 {
		if c, err := awsxml.GetErrorResponseComponents(strings.NewReader(string(body)), true); err == nil && c.Code != "" {
			api.Code, api.Message = c.Code, c.Message
			if c.RequestID != "" {
				reqID = c.RequestID
			}
		}
	}
	return &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: resp}, Err: api},
		RequestID:     reqID,
	}
}

// escapeKey escapes every byte of an S3 key but the unreserved ones and
// '/', as the SDK's REST binding and S3's canonical request do.
func escapeKey(s string) string {
	clean := true
	for i := 0; i < len(s) && clean; i++ {
		clean = unreserved(s[i])
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		if c := s[i]; unreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~' || c == '/'
}

// metaHeaders are the header names of the metadata every object carries,
// in canonical form: a file's headers are built from them without
// canonicalizing eight names per file.
var metaHeaders = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{metaMtime, metaMode, metaUID, metaGID, metaFileMtime, metaFilePerm, metaFileOwner, metaFileGroup} {
		m[k] = http.CanonicalHeaderKey("X-Amz-Meta-" + k)
	}
	return m
}()

// putHeaders are a PutObject's headers besides the body's: what the SDK's
// serializer would set from the same input. X-Amz-Sdk-Checksum-Algorithm
// stays although S3 reads the checksum header alone: moto stores no
// checksum without it.
func putHeaders(contentType *string, sum string, meta map[string]string, class, sse string, kmsKey *string) http.Header {
	h := make(http.Header, 6+len(meta))
	// The SDK's serializer sends a blob payload's default type when none
	// is given.
	h["Content-Type"] = []string{"application/octet-stream"}
	if contentType != nil {
		h["Content-Type"] = []string{*contentType}
	}
	h["X-Amz-Checksum-Crc32"] = []string{sum}
	h["X-Amz-Sdk-Checksum-Algorithm"] = []string{"CRC32"}
	for k, v := range meta {
		name, ok := metaHeaders[k]
		if !ok {
			name = http.CanonicalHeaderKey("X-Amz-Meta-" + k)
		}
		h[name] = []string{v}
	}
	if class != "" {
		h["X-Amz-Storage-Class"] = []string{class}
	}
	if sse != "" {
		h["X-Amz-Server-Side-Encryption"] = []string{sse}
	}
	if kmsKey != nil {
		h["X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"] = []string{*kmsKey}
	}
	return h
}
