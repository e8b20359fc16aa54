package statemachine_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/awsutils/awsutils/internal/statemachine"
	"github.com/awsutils/awsutils/internal/testbed"
)

const functionArn = "arn:aws:lambda:us-east-1:123456789012:function:s3upload"

func readTemplate(t *testing.T) []byte {
	t.Helper()
	root, err := testbed.Root()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, statemachine.TemplateFile))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// definition is the deployed definition, decoded.
func definition(t *testing.T) map[string]any {
	t.Helper()
	b, err := statemachine.Definition(readTemplate(t), map[string]string{"UploadFunctionArn": functionArn})
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("definition is not JSON: %v\n%s", err, b)
	}
	return d
}

// at follows keys through nested objects; missing is nil.
func at(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// lambdaErrors are what Step Functions reports when Lambda itself failed
// or throttled an invocation; each Lambda task must retry them.
// Unavailable is the function's own: S3 did not answer before it touched
// anything (internal/lambdaerr).
var lambdaErrors = []string{"Lambda.TooManyRequestsException", "Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Unavailable"}

// retried returns MaxAttempts of the retrier that covers err (0: none).
func retried(t *testing.T, task any, err string) float64 {
	t.Helper()
	rs, _ := at(task, "Retry").([]any)
	for _, r := range rs {
		errs, _ := at(r, "ErrorEquals").([]any)
		for _, e := range errs {
			if e == err || e == "States.ALL" {
				n, _ := at(r, "MaxAttempts").(float64)
				return n
			}
		}
	}
	return 0
}

// TestDefinition pins what moto does not check: it ignores failure
// tolerance, so the fields that make a Distributed Map tolerate failed
// batches, run them at the configured concurrency and retry them are
// checked here, on the definition as deployed (asl-validator checks its
// grammar in `make asl`).
func TestDefinition(t *testing.T) {
	d := definition(t)
	if at(d, "StartAt") != "Plan" || at(d, "States", "Plan", "Next") != "Upload" || at(d, "States", "Upload", "Next") != "Summary" ||
		at(d, "States", "Summary", "End") != true {
		t.Fatalf("want Plan -> Upload -> Summary, got %v", at(d, "States"))
	}
	up := at(d, "States", "Upload")
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"Upload is a Map", at(up, "Type"), "Map"},
		{"in distributed mode", at(up, "ItemProcessor", "ProcessorConfig", "Mode"), "DISTRIBUTED"},
		{"with standard children (moto refuses EXPRESS ones)", at(up, "ItemProcessor", "ProcessorConfig", "ExecutionType"), "STANDARD"},
		{"reading the manifest object", at(up, "ItemReader", "Resource"), "arn:aws:states:::s3:getObject"},
		{"as a JSON array", at(up, "ItemReader", "ReaderConfig", "InputType"), "JSON"},
		{"from the plan's bucket", at(up, "ItemReader", "Parameters", "Bucket.$"), "$.plan.manifestBucket"},
		{"and key", at(up, "ItemReader", "Parameters", "Key.$"), "$.plan.manifestKey"},
		{"one batch per child", at(up, "ItemSelector", "batch.$"), "$$.Map.Item.Value"},
		{"concurrency from the input", at(up, "MaxConcurrencyPath"), "$.maxConcurrency"},
		{"failure tolerance from the input", at(up, "ToleratedFailurePercentagePath"), "$.toleratedFailurePercentage"},
		{"the summary reads the plan's manifest", at(d, "States", "Summary", "Parameters", "Payload", "manifest.$"), "$.plan.manifest"},
		{"in summary mode", at(d, "States", "Summary", "Parameters", "Payload", "mode"), "summary"},
		{"the plan in plan mode", at(d, "States", "Plan", "Parameters", "Payload", "mode"), "plan"},
		{"the execution's output is the summary", at(d, "States", "Summary", "OutputPath"), "$.Payload"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	for _, k := range []string{"ItemBatcher", "ResultWriter", "ItemsPath", "MaxConcurrency", "ToleratedFailurePercentage", "ToleratedFailureCount"} {
		if at(up, k) != nil {
			t.Errorf("Upload has %s: moto refuses it, or it would override the input's setting", k)
		}
	}
	catches, _ := at(up, "Catch").([]any)
	if len(catches) != 1 || at(catches[0], "Next") != "Summary" || !slices.Equal(toStrings(at(catches[0], "ErrorEquals")), []string{"States.ALL"}) {
		t.Errorf("Upload Catch = %v, want States.ALL to Summary", catches)
	}
	// The Map's result (one entry per batch) is dropped, and each entry
	// is {}: 10,000 reports would pass the 256 KiB a state may carry.
	if m, _ := up.(map[string]any); !hasNull(m, "ResultPath") {
		t.Errorf("Upload ResultPath must be null, got %v", at(up, "ResultPath"))
	}
	batch := at(up, "ItemProcessor", "States", "Batch")
	if m, _ := batch.(map[string]any); !hasNull(m, "OutputPath") {
		t.Errorf("Batch OutputPath must be null, got %v", at(batch, "OutputPath"))
	}
	tasks := map[string]any{"Plan": at(d, "States", "Plan"), "Batch": batch, "Summary": at(d, "States", "Summary")}
	for name, task := range tasks {
		if at(task, "Resource") != "arn:aws:states:::lambda:invoke" || at(task, "Parameters", "FunctionName") != functionArn {
			t.Errorf("%s does not invoke the upload function: %v", name, task)
		}
		for _, e := range lambdaErrors {
			if n := retried(t, task, e); n < 3 {
				t.Errorf("%s retries %s %v times, want at least 3", name, e, n)
			}
		}
	}
	// A batch that some file failed converges on a second run; a summary
	// that failed must not be retried into a success.
	if n := retried(t, batch, "FilesFailed"); n < 1 {
		t.Errorf("Batch does not retry FilesFailed")
	}
	// A batch the deadline cut short has no next run but its retry.
	if n := retried(t, batch, "FilesRemaining"); n < 3 {
		t.Errorf("Batch retries FilesRemaining %v times, want at least 3", n)
	}
	for _, e := range []string{"BadRequest", "BadConfig"} {
		if n := retried(t, batch, e); n != 0 {
			t.Errorf("Batch retries %s %v times: a bad input stays bad", e, n)
		}
	}
	for _, e := range []string{"BatchesFailed", "FilesFailed", "FilesRemaining", "BadRequest"} {
		if n := retried(t, tasks["Summary"], e); n != 0 {
			t.Errorf("Summary retries %s %v times, want 0", e, n)
		}
	}
}

func hasNull(m map[string]any, k string) bool {
	v, ok := m[k]
	return ok && v == nil
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// The input fields the definition reads are exactly the ones the
// schedule sends (TestScheduleInput in internal/packaging checks the
// schedule's side).
func TestDefinitionInputFields(t *testing.T) {
	d := definition(t)
	got := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if k != "ResultPath" { // where results go, not what is read
					walk(c)
				}
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		case string:
			if f, ok := strings.CutPrefix(x, "$."); ok && !strings.Contains(f, ".") && !strings.HasPrefix(f, "Payload") {
				got[f] = true
			}
		}
	}
	walk(at(d, "States", "Plan", "Parameters"))
	up, _ := at(d, "States", "Upload").(map[string]any)
	for k, v := range up {
		if k != "ItemProcessor" {
			walk(v)
		}
	}
	var names []string
	for f := range got {
		names = append(names, f)
	}
	slices.Sort(names)
	want := []string{"batchBytes", "batchFiles", "bucket", "keyPrefix", "manifestPrefix", "maxConcurrency", "removeSrc", "srcDir", "toleratedFailurePercentage"}
	if !slices.Equal(names, want) {
		t.Errorf("the definition reads input fields %q, want %q", names, want)
	}
}

func TestDefinitionRefusesDrift(t *testing.T) {
	tmpl := readTemplate(t)
	tests := []struct {
		name string
		tmpl []byte
		subs map[string]string
		want string
	}{
		{"a substitution missing", tmpl, map[string]string{}, `substitutes ["UploadFunctionArn"]; given []`},
		{"an unknown substitution", tmpl, map[string]string{"UploadFunctionArn": functionArn, "Other": "x"}, "given"},
		{"an intrinsic function inside", []byte(strings.Replace(string(tmpl), "FunctionName: ${UploadFunctionArn}", "FunctionName: !GetAtt UploadFunction.Arn", 1)),
			map[string]string{"UploadFunctionArn": functionArn}, "!GetAtt in the state machine's Definition"},
		{"no state machine", []byte("Resources: {}\n"), map[string]string{"UploadFunctionArn": functionArn}, "no Resources.UploadStateMachine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := statemachine.Definition(tt.tmpl, tt.subs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
