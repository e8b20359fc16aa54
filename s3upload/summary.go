package s3upload

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/awsutils/awsutils/awsclient"
)

// Summary adds up the reports the runs of a plan's batches wrote: what a
// Step Functions execution outputs, since a Distributed Map has no sum of
// its children's results.
type Summary struct {
	Manifest string `json:"manifest"`
	Batches  int    `json:"batches"`  // planned
	Reported int    `json:"reported"` // batches whose run wrote a report
	Files    int    `json:"files"`    // planned
	// The sums of the reports' totals.
	Uploaded  int   `json:"uploaded"`
	Removed   int   `json:"removed"`
	Kept      int   `json:"kept"`
	Failed    int   `json:"failed"`
	Remaining int   `json:"remaining"`
	Skipped   int   `json:"skipped"`
	Bytes     int64 `json:"bytes"`
	// Missing are the batches without a report, FailedBatches those whose
	// run had a failed file, Incomplete those that left files for a later
	// run (Remaining), each in index order.
	Missing       []int `json:"missing"`
	FailedBatches []int `json:"failedBatches"`
	Incomplete    []int `json:"incomplete"`
}

// IncompleteError is a plan some batch of which has no report, failed, or
// left files for a later run.
type IncompleteError struct{ Summary *Summary }

func (e *IncompleteError) Error() string {
	s := e.Summary
	var parts []string
	if n := len(s.Missing); n > 0 {
		parts = append(parts, strconv.Itoa(n)+" batches have no report (first: "+indexes(s.Missing)+")")
	}
	if n := len(s.FailedBatches); n > 0 {
		parts = append(parts, strconv.Itoa(n)+" batches had failed files (first: "+indexes(s.FailedBatches)+"), "+strconv.Itoa(s.Failed)+" files failed")
	}
	if n := len(s.Incomplete); n > 0 {
		parts = append(parts, strconv.Itoa(n)+" batches left files for a later run (first: "+indexes(s.Incomplete)+"), "+strconv.Itoa(s.Remaining)+" files remaining")
	}
	return "plan " + s.Manifest + " not complete: " + strings.Join(parts, "; ")
}

func indexes(ks []int) string {
	var b strings.Builder
	for i, k := range ks[:min(len(ks), 10)] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(k))
	}
	return b.String()
}

// Err is an *IncompleteError when a batch is missing, failed or left files
// remaining, else nil: every planned file must have been dealt with.
func (s *Summary) Err() error {
	if len(s.Missing) == 0 && len(s.FailedBatches) == 0 && len(s.Incomplete) == 0 {
		return nil
	}
	return &IncompleteError{Summary: s}
}

// Summarize reads the plan at manifest (s3://BUCKET/.../manifest.json)
// and the reports of its batches. The error is non-nil when the plan
// cannot be read (an *OptionError, Field "Manifest", for one that is not
// there or not a plan); missing and failed batches are in the Summary
// (Summary.Err).
func Summarize(ctx context.Context, cfg aws.Config, manifest string) (*Summary, error) {
	refuse := func(reason string) error {
		return &OptionError{Field: "Manifest", Value: strconv.Quote(manifest), Reason: reason}
	}
	bucket, folder, err := manifestFolder(manifest)
	if err != nil {
		return nil, refuse(err.Error())
	}
	client := awsclient.S3(cfg)
	var h planHeader
	found, err := getJSON(ctx, client, bucket, folder+planName, &h)
	var me *malformedError
	switch {
	case errors.As(err, &me):
		return nil, refuse("not a plan (" + err.Error() + ")")
	case err != nil:
		return nil, fmt.Errorf("read plan %s: %w", manifest, err)
	case !found:
		return nil, refuse("no plan there")
	case h.Version != PlanVersion:
		return nil, refuse("format version " + strconv.Itoa(h.Version) + " is not the one this awsutils reads (" + strconv.Itoa(PlanVersion) + ")")
	}
	s := &Summary{Manifest: manifest, Batches: h.Batches, Files: h.Files,
		Missing: []int{}, FailedBatches: []int{}, Incomplete: []int{}}

	// The reports are read by key, not listed: a listing would also need
	// s3:ListBucket on the plan folder, and a batch's report is where its
	// index says.
	reports := make([]*batchReport, h.Batches)
	errs := make([]error, h.Batches)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(32, max(h.Batches, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				var r batchReport
				found, err := getJSON(ctx, client, bucket, folder+reportsDir+strconv.Itoa(k)+".json", &r)
				switch {
				case err != nil:
					errs[k] = fmt.Errorf("report of batch %d: %w", k, err)
				case found:
					reports[k] = &r
				}
			}
		}()
	}
	for k := range h.Batches {
		next <- k
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err // the first: one line
		}
	}
	for k, r := range reports {
		if r == nil || r.Index != k {
			s.Missing = append(s.Missing, k)
			continue
		}
		s.Reported++
		t := r.Totals
		s.Uploaded += t.Uploaded
		s.Removed += t.Removed
		s.Kept += t.Kept
		s.Failed += t.Failed
		s.Remaining += t.Remaining
		s.Skipped += t.Skipped
		s.Bytes += t.Bytes
		if t.Failed > 0 {
			s.FailedBatches = append(s.FailedBatches, k)
		}
		if t.Remaining > 0 {
			s.Incomplete = append(s.Incomplete, k)
		}
	}
	return s, nil
}
