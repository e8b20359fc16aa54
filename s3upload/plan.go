package s3upload

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	slashpath "path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/awsutils/awsutils/awsclient"
)

// A plan splits a tree into batches that separate runs upload, each in one
// Lambda invocation, a child of a Step Functions Distributed Map, or a task
// of an array job. MakePlan walks the tree once and writes, under a new
// plan folder <ManifestPrefix><id>/:
//
//	manifest.json     the JSON array a Distributed Map's ItemReader reads:
//	                  one small item per batch, {"manifest": URL, "index": k}
//	plan.json         the format version, SRC, bucket, prefix and counts
//	batches/<k>.json  batch k's files (with the version, SRC, bucket and
//	                  prefix again), so that a batch run reads one object
//	runs/<k>          written when batch k starts: a later start is a retry
//	outcomes/<k>.json written by each run of batch k: each file's outcome,
//	                  so that a retry counts what an earlier attempt did
//	reports/<k>.json  written by each run of batch k: its totals
//
// docs/RELIABILITY.md ("Scaling out") is the contract.

// PlanVersion is the format of the plan objects this package writes and
// reads; a batch of another version is refused.
const PlanVersion = 1

// Defaults for a planned batch: at the throughput measured for this
// package (docs/NOTES.md), either bound takes minutes, well inside a
// 15-minute Lambda invocation, and a batch cut short by the deadline is
// finished by a retry.
const (
	DefaultBatchFiles = 10000
	DefaultBatchBytes = 16 << 30
)

const (
	manifestName = "manifest.json"
	planName     = "plan.json"
	batchesDir   = "batches/"
	reportsDir   = "reports/"
	runsDir      = "runs/"
	outcomesDir  = "outcomes/"
	// DefaultManifestPrefix is where plans go in the destination bucket
	// when Options.ManifestPrefix is empty.
	DefaultManifestPrefix = ".awsutils/manifests/"
)

// ParseS3URL splits s3://BUCKET/KEY (KEY may be empty or a prefix).
func ParseS3URL(s string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return "", "", errors.New("want s3://BUCKET/KEY")
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", errors.New("no bucket")
	}
	return bucket, key, nil
}

// BatchRef names one batch of a plan: its manifest's URL and its index.
type BatchRef struct {
	Manifest string `json:"manifest"`
	Index    int    `json:"index"`
}

// String is MANIFEST#K, as the CLI takes it.
func (b BatchRef) String() string { return b.Manifest + "#" + strconv.Itoa(b.Index) }

// ParseBatchRef reads s3://BUCKET/KEY#K. Errors are *OptionError with
// Field "Batch".
func ParseBatchRef(s string) (BatchRef, error) {
	bad := func(reason string) (BatchRef, error) {
		return BatchRef{}, &OptionError{Field: "Batch", Value: strconv.Quote(s), Reason: reason}
	}
	m, k, ok := strings.Cut(s, "#")
	if !ok {
		return bad("want s3://BUCKET/.../" + manifestName + "#K")
	}
	n, err := strconv.Atoi(k)
	if err != nil || n < 0 {
		return bad("the batch index K must be a whole number from 0")
	}
	b := BatchRef{Manifest: m, Index: n}
	if _, _, err := b.location(); err != nil {
		return bad(err.Error())
	}
	return b, nil
}

// location is the plan folder of the manifest: its bucket and the key
// prefix the plan's objects share.
func (b BatchRef) location() (bucket, folder string, err error) {
	return manifestFolder(b.Manifest)
}

func manifestFolder(manifest string) (bucket, folder string, err error) {
	bucket, key, err := ParseS3URL(manifest)
	if err != nil {
		return "", "", fmt.Errorf("manifest %w", err)
	}
	folder, ok := strings.CutSuffix(key, manifestName)
	if !ok || (folder != "" && !strings.HasSuffix(folder, "/")) {
		return "", "", fmt.Errorf("a manifest's key ends in /%s", manifestName)
	}
	return bucket, folder, nil
}

// planHeader is plan.json.
type planHeader struct {
	Version int    `json:"version"`
	Src     string `json:"srcDir"`
	Bucket  string `json:"bucket"`
	Prefix  string `json:"keyPrefix"`
	Batches int    `json:"batches"`
	Files   int    `json:"files"`
	Bytes   int64  `json:"bytes"`
	Created string `json:"created"`
}

// batchDoc is batches/<k>.json.
type batchDoc struct {
	Version int         `json:"version"`
	Src     string      `json:"srcDir"`
	Bucket  string      `json:"bucket"`
	Prefix  string      `json:"keyPrefix"`
	Index   int         `json:"index"`
	Files   []batchFile `json:"files"`
}

// batchFile is a file as planned: its path relative to Src and its size
// then (the run reads the file as it is when it runs).
type batchFile struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// batchReport is reports/<k>.json.
type batchReport struct {
	Version  int    `json:"version"`
	Index    int    `json:"index"`
	Manifest string `json:"manifest"`
	Totals   Totals `json:"totals"`
	Stopped  string `json:"stopped,omitempty"`
	// Failed lists the first failed files.
	Failed []File `json:"failed,omitempty"`
}

// Plan is what MakePlan wrote.
type Plan struct {
	Manifest       string  `json:"manifest"` // s3://ManifestBucket/ManifestKey
	ManifestBucket string  `json:"manifestBucket"`
	ManifestKey    string  `json:"manifestKey"`
	Batches        int     `json:"batches"`
	Files          int     `json:"files"`
	Bytes          int64   `json:"bytes"`
	Src            string  `json:"srcDir"`
	Bucket         string  `json:"bucket"`
	Prefix         string  `json:"keyPrefix"`
	Excluded       int64   `json:"excluded,omitempty"`
	Skipped        int     `json:"skipped,omitempty"`
	Failed         int     `json:"failed,omitempty"`
	Problems       []File  `json:"problems,omitempty"` // skipped and failed entries, the first 1,000
	Seconds        float64 `json:"seconds"`
	DryRun         bool    `json:"dryRun,omitempty"` // nothing was written
}

// Err is nil unless some entry of the tree could not be planned (an
// unreadable folder, a name S3 cannot store): those files would never be
// uploaded, so the plan is not a success.
func (p *Plan) Err() error {
	if p.Failed == 0 {
		return nil
	}
	var first []string
	for _, f := range p.Problems {
		if f.Result == Failed && len(first) < 3 {
			first = append(first, f.Path+": "+f.Message)
		}
	}
	return fmt.Errorf("%d entries could not be planned (plan %s written without them): %s", p.Failed, p.Manifest, strings.Join(first, "; "))
}

// absSrc is the form of Src a plan records and a batch compares.
func absSrc(src string) string {
	if a, err := filepath.Abs(src); err == nil {
		return a
	}
	return filepath.Clean(src)
}

// sameDest reports whether two prefixes name the same keys.
func sameDest(a, b string) bool {
	ka, _ := Key(a, "x")
	kb, _ := Key(b, "x")
	return ka == kb
}

// planWriters is the number of batch objects written at once while the
// walk goes on.
const planWriters = 8

// MakePlan walks opts.Src once and writes a plan of batches to
// opts.ManifestPrefix, uploading nothing (with DryRun, writing nothing
// either: the Plan says what would be written). The error is non-nil when the
// plan could not be made or written (it wraps ErrInvalid for bad options);
// entries that could not be planned are in Plan.Failed (Plan.Err).
func MakePlan(ctx context.Context, cfg aws.Config, opts Options) (*Plan, error) {
	start := time.Now()
	switch {
	case opts.Batch != nil:
		return nil, &OptionError{Field: "Batch", Value: opts.Batch.String(), Reason: "a plan is made from the tree, not from a batch"}
	case opts.Shard.Count > 0:
		return nil, &OptionError{Field: "Shard", Value: opts.Shard.String(), Reason: "a plan covers the whole tree; it is not sharded"}
	case opts.FollowSymlinks:
		return nil, &OptionError{Field: "FollowSymlinks", Value: "true", Reason: "planned batches do not follow symlinks"}
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	mp := opts.ManifestPrefix
	if mp == "" {
		mp = "s3://" + opts.Bucket + "/" + DefaultManifestPrefix
	}
	mBucket, mPrefix, _ := ParseS3URL(mp)
	if mPrefix != "" && !strings.HasSuffix(mPrefix, "/") {
		mPrefix += "/"
	}
	folder := mPrefix + planID() + "/"
	maxFiles := opts.BatchFiles
	if maxFiles == 0 {
		maxFiles = DefaultBatchFiles
	}
	maxBytes := opts.BatchBytes
	if maxBytes == 0 {
		maxBytes = DefaultBatchBytes
	}
	flt, err := newFilter(opts.Include, opts.Exclude)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	w, err := newWalker(opts.Src, flt, false, false)
	if err != nil {
		return nil, &OptionError{Field: "Src", Value: opts.Src, Reason: errMsg(err), Err: err}
	}
	defer w.close()

	client := awsclient.S3(cfg)
	p := &Plan{
		ManifestBucket: mBucket, ManifestKey: folder + manifestName,
		Src: absSrc(opts.Src), Bucket: opts.Bucket, Prefix: opts.Prefix,
	}
	p.Manifest = "s3://" + mBucket + "/" + p.ManifestKey
	p.DryRun = opts.DryRun

	// Batches are written while the walk goes on, so that memory holds
	// only the batches in flight however large the tree is.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	docs := make(chan batchDoc)
	var writers sync.WaitGroup
	for range planWriters {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for d := range docs {
				if opts.DryRun {
					continue
				}
				if err := putJSON(ctx, client, mBucket, folder+batchesDir+strconv.Itoa(d.Index)+".json", d); err != nil {
					cancel(fmt.Errorf("write batch %d of plan %s: %w", d.Index, p.Manifest, err))
				}
			}
		}()
	}
	cur := batchDoc{Version: PlanVersion, Src: p.Src, Bucket: p.Bucket, Prefix: p.Prefix}
	var curBytes int64
	flush := func() {
		if len(cur.Files) == 0 {
			return
		}
		select {
		case docs <- cur:
		case <-ctx.Done():
		}
		p.Batches++
		cur = batchDoc{Version: PlanVersion, Src: p.Src, Bucket: p.Bucket, Prefix: p.Prefix, Index: p.Batches}
		curBytes = 0
	}
	problem := func(f File) {
		if len(p.Problems) < 1000 {
			p.Problems = append(p.Problems, f)
		}
	}
	items := make(chan item, 256)
	go w.run(ctx, items)
	for it := range items {
		it.done()
		switch {
		case it.fail != "":
			p.Failed++
			problem(File{Path: it.path, Result: Failed, Message: it.fail})
			continue
		case it.skip != "":
			p.Skipped++
			problem(File{Path: it.path, Result: Skipped, Message: it.skip})
			continue
		}
		if _, err := Key(opts.Prefix, it.rel); err != nil {
			p.Failed++
			problem(File{Path: it.path, Result: Failed, Message: "no valid key: " + err.Error()})
			continue
		}
		if len(cur.Files) > 0 && (len(cur.Files) >= maxFiles || curBytes+it.size > maxBytes) {
			flush()
		}
		cur.Files = append(cur.Files, batchFile{Path: it.rel, Size: it.size})
		curBytes += it.size
		p.Files++
		p.Bytes += it.size
	}
	flush()
	close(docs)
	writers.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	p.Excluded = w.excluded.Load()

	if opts.DryRun {
		p.Seconds = time.Since(start).Seconds()
		return p, nil
	}
	h := planHeader{Version: PlanVersion, Src: p.Src, Bucket: p.Bucket, Prefix: p.Prefix,
		Batches: p.Batches, Files: p.Files, Bytes: p.Bytes, Created: start.UTC().Format(time.RFC3339)}
	if err := putJSON(ctx, client, mBucket, folder+planName, h); err != nil {
		return nil, fmt.Errorf("write plan %s: %w", p.Manifest, err)
	}
	// The manifest goes last: once it exists, every batch it names does.
	refs := make([]BatchRef, p.Batches)
	for k := range refs {
		refs[k] = BatchRef{Manifest: p.Manifest, Index: k}
	}
	if err := putJSON(ctx, client, mBucket, p.ManifestKey, refs); err != nil {
		return nil, fmt.Errorf("write manifest %s: %w", p.Manifest, err)
	}
	p.Seconds = time.Since(start).Seconds()
	return p, nil
}

// planID names a plan folder: when it was made (so that folders list in
// order) and 8 random hex digits (so that two plans made in the same second
// never share a folder).
func planID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

func putJSON(ctx context.Context, client *s3.Client, bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String("application/json"),
	})
	if err != nil {
		return errors.New(awsclient.Message(err))
	}
	return nil
}

// getJSON reads key into v; found is false when the key does not exist.
func getJSON(ctx context.Context, client *s3.Client, bucket, key string, v any) (found bool, err error) {
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		if awsclient.Classify(err) == awsclient.KindNotFound {
			return false, nil
		}
		return false, errors.New(awsclient.Message(err))
	}
	defer out.Body.Close()
	// A batch of 10,000 files is about 1 MB; 64 MiB bounds what a wrong
	// key could make this read.
	data, err := io.ReadAll(io.LimitReader(out.Body, 64<<20))
	if err != nil {
		return true, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, &malformedError{err}
	}
	return true, nil
}

type malformedError struct{ err error }

func (e *malformedError) Error() string { return "not valid JSON: " + e.err.Error() }

// loadBatch reads the batch opts.Batch names and checks that it belongs
// to this Src, bucket and prefix. Every refusal is an *OptionError (Field
// "Batch"), before anything is touched.
func loadBatch(ctx context.Context, client *s3.Client, opts *Options) (*batchDoc, error) {
	b := opts.Batch
	refuse := func(reason string, err error) error {
		return &OptionError{Field: "Batch", Value: b.String(), Reason: reason, Err: err}
	}
	bucket, folder, err := b.location()
	if err != nil {
		return nil, refuse(err.Error(), err)
	}
	var doc batchDoc
	found, err := getJSON(ctx, client, bucket, folder+batchesDir+strconv.Itoa(b.Index)+".json", &doc)
	var me *malformedError
	switch {
	case errors.As(err, &me):
		return nil, refuse("batch "+strconv.Itoa(b.Index)+" is not a planned batch ("+err.Error()+")", err)
	case err != nil:
		return nil, fmt.Errorf("read batch %s: %w", b, err)
	case !found:
		var h planHeader
		switch ok, err := getJSON(ctx, client, bucket, folder+planName, &h); {
		case err != nil && !errors.As(err, &me):
			return nil, fmt.Errorf("read plan of %s: %w", b.Manifest, err)
		case ok && err == nil && h.Version == PlanVersion:
			return nil, refuse("the plan has "+strconv.Itoa(h.Batches)+" batches (0 to "+strconv.Itoa(h.Batches-1)+"); there is no batch "+strconv.Itoa(b.Index), nil)
		case ok:
			return nil, refuse("not a plan this awsutils reads (format version "+strconv.Itoa(h.Version)+", want "+strconv.Itoa(PlanVersion)+")", nil)
		}
		return nil, refuse("no plan at "+b.Manifest, nil)
	}
	switch {
	case doc.Version != PlanVersion:
		return nil, refuse("format version "+strconv.Itoa(doc.Version)+" is not the one this awsutils reads ("+strconv.Itoa(PlanVersion)+")", nil)
	case doc.Index != b.Index:
		return nil, refuse("the batch object says it is batch "+strconv.Itoa(doc.Index), nil)
	case doc.Src != absSrc(opts.Src):
		return nil, refuse("planned for source folder "+doc.Src+", not "+absSrc(opts.Src), nil)
	case doc.Bucket != opts.Bucket || !sameDest(doc.Prefix, opts.Prefix):
		return nil, refuse("planned for s3://"+doc.Bucket+"/"+doc.Prefix+", not s3://"+opts.Bucket+"/"+opts.Prefix, nil)
	}
	for _, f := range doc.Files {
		// A path from S3 is opened relative to Src: one that could lead
		// elsewhere ("..", absolute, NUL) makes the batch unusable.
		if _, err := Key(opts.Prefix, f.Path); err != nil || strings.ContainsRune(f.Path, 0) || f.Path != slashpath.Clean(f.Path) {
			return nil, refuse("batch lists a path that is not a clean relative path: "+strconv.Quote(f.Path), err)
		}
	}
	return &doc, nil
}

// BatchInfo is, in the report of a planned batch's run, where its report
// object went.
type BatchInfo struct {
	Manifest string `json:"manifest"`
	Index    int    `json:"index"`
	Report   string `json:"report"` // s3:// URL of reports/<k>.json
	// Totals are the batch's over all its runs: a retry's own report
	// counts the files an earlier attempt removed as gone, these count
	// them removed (what reports/<k>.json holds).
	Totals *Totals `json:"totals,omitempty"`
	// ReportError says why the report object could not be written; the
	// run then counts as failed, since a summary would miss the batch.
	ReportError string `json:"reportError,omitempty"`
}

// writeBatchReport stores the run's totals as reports/<k>.json, and each
// planned file's outcome as outcomes/<k>.json, with a fresh context: a run
// stopped by its deadline must still say what it did. On a rerun the
// totals are those of all the batch's runs (outcomeLog.merged).
func writeBatchReport(ctx context.Context, client *s3.Client, b *BatchRef, rep *Report, log *outcomeLog) *BatchInfo {
	bucket, folder, _ := b.location()
	key := folder + reportsDir + strconv.Itoa(b.Index) + ".json"
	info := &BatchInfo{Manifest: b.Manifest, Index: b.Index, Report: "s3://" + bucket + "/" + key}
	outcomes, totals := log.merged(rep.Totals)
	info.Totals = &totals
	br := batchReport{Version: PlanVersion, Index: b.Index, Manifest: b.Manifest, Totals: totals, Stopped: rep.Stopped}
	for _, f := range rep.Files {
		if f.Result == Failed && len(br.Failed) < 20 {
			br.Failed = append(br.Failed, f)
		}
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	// Outcomes first: a report that exists always has its outcomes.
	err := putJSON(wctx, client, bucket, folder+outcomesDir+strconv.Itoa(b.Index)+".json", outcomes)
	if err == nil {
		err = putJSON(wctx, client, bucket, key, br)
	}
	if err != nil {
		info.ReportError = "write batch report " + info.Report + ": " + err.Error()
	}
	return info
}

// startedBefore reports whether batch b was started before, and marks it
// started (runs/<k>). When the mark cannot be read or written it answers
// true: checking every object first is slower, never wrong.
func startedBefore(ctx context.Context, client *s3.Client, b *BatchRef) bool {
	bucket, folder, _ := b.location()
	key := folder + runsDir + strconv.Itoa(b.Index)
	_, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err == nil || (awsclient.Classify(err) != awsclient.KindNotFound && !isForbidden(err)) {
		return true
	}
	return putJSON(ctx, client, bucket, key, struct {
		Started string `json:"started"`
	}{time.Now().UTC().Format(time.RFC3339)}) != nil
}
