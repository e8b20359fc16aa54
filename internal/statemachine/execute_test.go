package statemachine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/statemachine"
	"github.com/awsutils/awsutils/internal/testbed"
	"github.com/awsutils/awsutils/s3upload"
)

func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }

// EnvFiles sets the tree size of TestExecution (the 20,000;
// `make test` runs 2,000 to stay within minutes).
const EnvFiles = "AWSUTILS_SFN_FILES"

const (
	function = "s3upload"
	bucket   = "sfn-dest"
	prefix   = "up"
)

// summary is the execution's output: the upload function's summary mode.
type summary = s3upload.Summary

// content is file i's bytes: its own, of sizes from 0 to about 3 KiB.
func content(i int) []byte {
	line := fmt.Sprintf("file %d of the state machine test\n", i)
	return bytes.Repeat([]byte(line), i%97)
}

// relPath spreads the files over 50 folders, two levels deep.
func relPath(i int) string {
	return fmt.Sprintf("d%02d/e%d/f%05d.txt", i%50, i%3, i)
}

func makeTree(t *testing.T, n int) (string, int64) {
	t.Helper()
	dir := t.TempDir()
	var total int64
	for i := range n {
		p := filepath.Join(dir, relPath(i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b := content(i)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		total += int64(len(b))
	}
	return dir, total
}

// bed is a moto server that executes the deployed definition, whose Lambda
// tasks run the real upload function under the emulator: four emulators,
// so that four batches run at once. fnEndpoint, if set, is where the
// function's own S3 calls go (a FaultProxy in front of moto).
type bed struct {
	sf  *testbed.StepFunctions
	sfn *sfn.Client
	s3  *s3.Client
	arn string
}

func newBed(t *testing.T, fnEnv func(moto map[string]string) map[string]string) *bed {
	t.Helper()
	sf := testbed.StartStepFunctions(t)
	ctx := context.Background()
	b := &bed{sf: sf, sfn: sf.Client(t), s3: awsclient.S3(sf.Moto.Config(t))}
	if _, err := b.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	env := sf.Moto.Env()
	if fnEnv != nil {
		env = fnEnv(env)
	}
	env["AWS_LAMBDA_FUNCTION_NAME"] = function
	bootstrap := testbed.BuildBootstrap(t, "./cmd/s3upload-lambda")
	sf.Router.AddFunction(function, testbed.StartLambdas(t, bootstrap, env, 4)...)

	def, err := statemachine.Definition(readTemplate(t), map[string]string{
		"UploadFunctionArn": "arn:aws:lambda:" + testbed.Region + ":" + testbed.Account + ":function:" + function,
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := b.sfn.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String(function), Definition: aws.String(string(def)),
		RoleArn: aws.String("arn:aws:iam::" + testbed.Account + ":role/" + function),
	})
	if err != nil {
		t.Fatalf("moto refuses the deployed definition: %v", err)
	}
	b.arn = aws.ToString(out.StateMachineArn)
	return b
}

// input is the execution input the distributed schedule sends.
func input(src string, batchFiles int) string {
	b, _ := json.Marshal(map[string]any{
		"srcDir": src, "bucket": bucket, "keyPrefix": prefix, "removeSrc": true,
		"manifestPrefix": "s3://" + bucket + "/.awsutils/manifests/" + function + "/",
		"batchFiles":     batchFiles, "batchBytes": 0, "maxConcurrency": 4,
	})
	// As the template writes it: a float, which moto and Step Functions
	// both take.
	return string(bytes.TrimSuffix(b, []byte("}"))) + `, "toleratedFailurePercentage": 0.0}`
}

func (b *bed) run(t *testing.T, in string) summary {
	t.Helper()
	out := testbed.RunExecution(t, b.sfn, b.arn, in)
	if out.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s: %s: %s", out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
	}
	var s summary
	dec := json.NewDecoder(bytes.NewReader([]byte(aws.ToString(out.Output))))
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("output %s: %v", aws.ToString(out.Output), err)
	}
	return s
}

// checkUploaded reads every object back: byte-exact, none missing or
// extra, and every source file removed.
func (b *bed) checkUploaded(t *testing.T, src string, n int) {
	t.Helper()
	ctx := context.Background()
	keys := map[string]bool{}
	p := s3.NewListObjectsV2Paginator(b.s3, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix + "/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys[aws.ToString(o.Key)] = true
		}
	}
	if len(keys) != n {
		t.Errorf("%d objects under %s/, want %d", len(keys), prefix, n)
	}
	var wg sync.WaitGroup
	var bad atomic.Int64
	sem := make(chan struct{}, 16)
	for i := range n {
		key := prefix + "/" + relPath(i)
		if !keys[key] {
			t.Errorf("no object %s", key)
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			got, err := b.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				t.Errorf("get %s: %v", key, err)
				return
			}
			body, err := io.ReadAll(got.Body)
			got.Body.Close()
			if err != nil || !bytes.Equal(body, content(i)) {
				if bad.Add(1) <= 5 {
					t.Errorf("object %s: %d bytes, want file %d's %d (err %v)", key, len(body), i, len(content(i)), err)
				}
			}
		}()
	}
	wg.Wait()
	if left := testbed.CountFiles(src); left != 0 {
		t.Errorf("%d source files left after the upload with removeSrc", left)
	}
}

// batchIndex is the batch an invocation ran (-1: plan or summary).
func batchIndex(inv testbed.Invocation) int {
	var e struct {
		Batch *struct {
			Index int `json:"index"`
		} `json:"batch"`
	}
	if json.Unmarshal(inv.Event, &e) != nil || e.Batch == nil {
		return -1
	}
	return e.Batch.Index
}

// TestExecution runs the deployed state machine on moto server: the plan,
// a Distributed Map over the manifest at MaxConcurrency 4, each batch one
// invocation of the real function, and the summary as the output.
func TestExecution(t *testing.T) {
	n := 2000
	if v := os.Getenv(EnvFiles); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 8 {
			t.Fatalf("%s=%q: want a number of files, at least 8", EnvFiles, v)
		}
	}
	src, size := makeTree(t, n)
	b := newBed(t, nil)
	batchFiles := (n + 7) / 8
	s := b.run(t, input(src, batchFiles))

	// "removed" is uploaded, verified, then its source deleted; "uploaded"
	// would be a file whose source stayed.
	if s.Batches != 8 || s.Reported != 8 || s.Files != n || s.Uploaded != 0 || s.Removed != n ||
		s.Failed != 0 || s.Kept != 0 || s.Remaining != 0 || s.Skipped != 0 || s.Bytes != size ||
		len(s.Missing) != 0 || len(s.FailedBatches) != 0 {
		t.Errorf("summary %+v, want 8 batches reported, %d files (%d bytes) uploaded and removed, nothing else", s, n, size)
	}
	b.checkUploaded(t, src, n)

	// One invocation per batch, plus the plan and the summary.
	per := map[int]int{}
	for _, inv := range b.sf.Router.Invocations() {
		if inv.Failed {
			t.Errorf("invocation failed: %s -> %s", inv.Event, inv.Payload)
		}
		per[batchIndex(inv)]++
	}
	for k := -1; k < 8; k++ {
		want := 1
		if k == -1 {
			want = 2
		}
		if per[k] != want {
			t.Errorf("batch %d invoked %d times, want %d (all: %v)", k, per[k], want, per)
		}
	}
	// The Map ran as a map run at the input's concurrency.
	ctx := context.Background()
	execs, err := b.sfn.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(b.arn)})
	if err != nil || len(execs.Executions) != 1 {
		t.Fatalf("executions: %v, %v", execs, err)
	}
	runs, err := b.sfn.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: execs.Executions[0].ExecutionArn})
	if err != nil || len(runs.MapRuns) != 1 {
		t.Fatalf("map runs: %v, %v", runs, err)
	}
	run, err := b.sfn.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: runs.MapRuns[0].MapRunArn})
	if err != nil {
		t.Fatal(err)
	}
	if run.MaxConcurrency != 4 || run.ItemCounts == nil || run.ItemCounts.Succeeded != 8 {
		t.Errorf("map run: max concurrency %d, items %+v; want 4 and 8 succeeded", run.MaxConcurrency, run.ItemCounts)
	}
}

// TestExecutionRetriesAFailedBatch fails every PutObject of one file until
// the invocation that holds it has failed (FilesFailed: the file kept, the
// rest of its batch uploaded and removed); the Map's Retry runs the batch
// again, which uploads that file, and the execution succeeds.
func TestExecutionRetriesAFailedBatch(t *testing.T) {
	const n = 200
	src, _ := makeTree(t, n)
	victim := prefix + "/" + relPath(137)
	var armed atomic.Bool
	armed.Store(true)
	var proxy *testbed.FaultProxy
	b := newBed(t, func(moto map[string]string) map[string]string {
		proxy = testbed.StartFaultProxy(t, moto["AWS_ENDPOINT_URL"], testbed.Faults{
			Seed: 1, Error500: 1, Only: []string{"PutObject"},
			Match: func(r *http.Request) bool {
				return armed.Load() && strings.HasSuffix(r.URL.Path, "/"+bucket+"/"+victim)
			},
		})
		env := proxy.Env(moto)
		// Two attempts per call instead of ten with backoff: the first
		// try gives up on the victim sooner, the outcome is the same.
		env["AWS_MAX_ATTEMPTS"] = "2"
		return env
	})
	var failedBatch atomic.Int64
	failedBatch.Store(-1)
	b.sf.Router.AfterInvoke(func(inv testbed.Invocation) {
		// Before Step Functions sees the failure: its retry finds S3 well.
		if inv.Failed && batchIndex(inv) >= 0 && armed.CompareAndSwap(true, false) {
			failedBatch.Store(int64(batchIndex(inv)))
		}
	})
	s := b.run(t, input(src, 50))

	k := int(failedBatch.Load())
	if k < 0 {
		t.Fatalf("no batch failed; faults injected: %d", proxy.Stats().Injected())
	}
	var tries []testbed.Invocation
	for _, inv := range b.sf.Router.Invocations() {
		if batchIndex(inv) == k {
			tries = append(tries, inv)
		}
	}
	if len(tries) != 2 || !tries[0].Failed || tries[1].Failed {
		t.Fatalf("batch %d: %d invocations (failed: %v), want a failed one and a successful retry", k, len(tries), failedOf(tries))
	}
	var fe testbed.FunctionError
	if err := json.Unmarshal(tries[0].Payload, &fe); err != nil || fe.Type != "FilesFailed" || !strings.Contains(fe.Message, relPath(137)) {
		t.Errorf("first try of batch %d: %s, want FilesFailed naming %s", k, tries[0].Payload, relPath(137))
	}
	// The retry's report counts over both attempts: the 49 files the first
	// removed and the victim the retry removed.
	if s.Batches != 4 || s.Reported != 4 || s.Failed != 0 || s.Kept != 0 || len(s.FailedBatches) != 0 ||
		s.Uploaded != 0 || s.Removed != n || s.Skipped != 0 || s.Remaining != 0 {
		t.Errorf("summary %+v, want 4 batches, none failed, all %d files removed over both attempts", s, n)
	}
	b.checkUploaded(t, src, n)
}

func failedOf(invs []testbed.Invocation) []bool {
	var out []bool
	for _, inv := range invs {
		out = append(out, inv.Failed)
	}
	return out
}

// TestExecutionFailsOnAFailedBatch fails one file's every PutObject: its
// batch fails on each try, the Map goes on (moto ignores failure tolerance,
// which TestDefinition checks instead), and the summary fails the
// execution, naming the batch; that file stays on disk, every other file
// is uploaded and removed.
func TestExecutionFailsOnAFailedBatch(t *testing.T) {
	const n = 200
	src, _ := makeTree(t, n)
	victim := relPath(42)
	b := newBed(t, func(moto map[string]string) map[string]string {
		proxy := testbed.StartFaultProxy(t, moto["AWS_ENDPOINT_URL"], testbed.Faults{
			Seed: 1, Error500: 1, Only: []string{"PutObject"},
			Match: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/"+bucket+"/"+prefix+"/"+victim) },
		})
		env := proxy.Env(moto)
		env["AWS_MAX_ATTEMPTS"] = "1"
		return env
	})
	out := testbed.RunExecution(t, b.sfn, b.arn, input(src, 50))
	if out.Status != sfntypes.ExecutionStatusFailed || aws.ToString(out.Error) != "BatchesFailed" {
		t.Fatalf("execution %s: %s: %s; want FAILED with BatchesFailed", out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
	}
	tries := map[int][]bool{}
	for _, inv := range b.sf.Router.Invocations() {
		if k := batchIndex(inv); k >= 0 {
			tries[k] = append(tries[k], inv.Failed)
		}
	}
	failed := -1
	for k, fs := range tries {
		if fs[0] {
			failed = k
		}
	}
	// The first try and the two retries of FilesFailed the definition allows.
	if failed < 0 || !slices.Equal(tries[failed], []bool{true, true, true}) || len(tries) != 4 {
		t.Fatalf("invocations per batch (failed?): %v; want one batch failing 3 times, 3 others once", tries)
	}
	var fe testbed.FunctionError
	if err := json.Unmarshal([]byte(aws.ToString(out.Cause)), &fe); err != nil ||
		!strings.Contains(fe.Message, "1 batches had failed files (first: "+strconv.Itoa(failed)+")") {
		t.Errorf("cause %s: want the summary's error naming batch %d", aws.ToString(out.Cause), failed)
	}
	if _, err := os.Stat(filepath.Join(src, victim)); err != nil {
		t.Errorf("the failed file's source: %v, want it kept", err)
	}
	if left := testbed.CountFiles(src); left != 1 {
		t.Errorf("%d source files left, want only the failed one", left)
	}
}
