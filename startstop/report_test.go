package startstop

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// TestReportMethods: the report reads as s3upload's does: JSON, Text with
// quiet, Summary (the text's end), OK and Err.
func TestReportMethods(t *testing.T) {
	r := &Report{Action: Start, Keys: []string{"dev"}, Results: []Result{
		{Type: EC2Instance, ID: "i-0123456789abcdef0", Region: "us-east-1", Before: "stopped", After: "pending", Outcome: Changed},
		{Type: EC2Instance, ID: "i-0123456789abcdef9", Region: "us-east-1", Outcome: Failed, Message: "instance not found in us-east-1"},
	}, Warnings: []string{"a note"}, Duration: 1500 * time.Millisecond}
	r.summarize()

	var full, quiet, sum strings.Builder
	if err := r.Text(&full, false); err != nil {
		t.Fatal(err)
	}
	if err := r.Text(&quiet, true); err != nil {
		t.Fatal(err)
	}
	if err := r.Summary(&sum); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(full.String(), sum.String()) || !strings.HasSuffix(quiet.String(), sum.String()) {
		t.Errorf("text does not end with the summary %q:\n%s\n%s", sum.String(), full.String(), quiet.String())
	}
	if sum.String() != "note: a note\nstart dev: 1 changed, 1 failed of 2 resources in 1.5s\n" {
		t.Errorf("summary %q", sum.String())
	}
	if strings.Contains(quiet.String(), "abcdef0") || !strings.Contains(quiet.String(), "abcdef9") || !strings.Contains(full.String(), "abcdef0") {
		t.Errorf("quiet keeps only what is not OK:\n%s\nfull:\n%s", quiet.String(), full.String())
	}
	ok := &Report{Action: Stop, Keys: []string{"dev"}, Results: r.Results[:1]}
	ok.summarize()
	var q strings.Builder
	if err := ok.Text(&q, true); err != nil || strings.Contains(q.String(), "TYPE") {
		t.Errorf("quiet text of an OK report %q, %v: want no table", q.String(), err)
	}

	var js strings.Builder
	if err := r.JSON(&js); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(js.String()), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"action", "keys", "dryRun", "results", "notes", "summary", "durationMs"} {
		if _, ok := got[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, js.String())
		}
	}
	if r.OK() || r.Err() == nil || !ok.OK() || ok.Err() != nil {
		t.Errorf("OK/Err: %v %v, %v %v", r.OK(), r.Err(), ok.OK(), ok.Err())
	}
}

// TestOptionsValidate: negative options are refused before anything is
// attempted, as an *OptionError matching ErrInvalid.
func TestOptionsValidate(t *testing.T) {
	for _, tt := range []struct {
		opts  Options
		field string
	}{
		{Options{Concurrency: -1}, "Concurrency"},
		{Options{WaitTimeout: -time.Second}, "WaitTimeout"},
		{Options{PollInterval: -time.Second}, "PollInterval"},
		{Options{DeadlineMargin: -time.Second}, "DeadlineMargin"},
	} {
		err := tt.opts.Validate()
		var oe *OptionError
		if !errors.As(err, &oe) || !errors.Is(err, ErrInvalid) || oe.Field != tt.field {
			t.Errorf("%+v: %v, want an *OptionError for %s", tt.opts, err, tt.field)
		}
		conf := &Config{File: "f.yml", Region: "us-east-1", Keys: []Key{{Name: "k", Groups: []Group{{Type: EC2Instance, IDs: []string{"i-0123456789abcdef0"}}}}}}
		if rep, err := Run(context.Background(), aws.Config{}, conf, Request{Action: Stop, Keys: []string{"k"}}, tt.opts); rep != nil || !errors.As(err, &oe) {
			t.Errorf("Run with %+v: %v, %v", tt.opts, rep, err)
		}
	}
	if err := (Options{}).Validate(); err != nil {
		t.Errorf("zero options: %v", err)
	}
}
