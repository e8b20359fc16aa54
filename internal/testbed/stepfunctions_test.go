package testbed_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
)

// A Distributed Map over an S3 JSON manifest runs each item on echofn under
// the emulator, two at a time on two emulators; a failing item fails the
// Lambda task with the function's errorType, which Retry and Catch match.
func TestStepFunctionsRunsLambdaTasks(t *testing.T) {
	sf := testbed.StartStepFunctions(t)
	bootstrap := testbed.BuildBootstrap(t, "./internal/testbed/echofn")
	sf.Router.AddFunction("echo", testbed.StartLambdas(t, bootstrap, map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "echo"}, 2)...)
	ctx := context.Background()

	s3c := awsclient.S3(sf.Moto.Config(t))
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("items-bucket")}); err != nil {
		t.Fatal(err)
	}
	items := `[{"n": 1}, {"n": 2}, {"n": 3}, {"fail": "boom"}]`
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("items-bucket"), Key: aws.String("items.json"), Body: strings.NewReader(items)}); err != nil {
		t.Fatal(err)
	}
	def := `{
	  "StartAt": "Each",
	  "States": {
	    "Each": {
	      "Type": "Map",
	      "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
	                     "Parameters": {"Bucket": "items-bucket", "Key": "items.json"}},
	      "MaxConcurrency": 2,
	      "ItemProcessor": {
	        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
	        "StartAt": "Echo",
	        "States": {"Echo": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
	          "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:echo", "Payload.$": "$"},
	          "OutputPath": "$.Payload.event",
	          "Catch": [{"ErrorEquals": ["errorString"], "ResultPath": "$.caught", "Next": "Caught"}],
	          "End": true},
	          "Caught": {"Type": "Pass", "Parameters": {"caught.$": "$.caught.Error"}, "End": true}}
	      },
	      "End": true
	    }
	  }
	}`
	c := sf.Client(t)
	sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String("echo"), Definition: aws.String(def), RoleArn: aws.String("arn:aws:iam::123456789012:role/sfn"),
	})
	if err != nil {
		t.Fatal(err)
	}
	out := testbed.RunExecution(t, c, aws.ToString(sm.StateMachineArn), "{}")
	if out.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s: %s %s", out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(out.Output)), &got); err != nil {
		t.Fatalf("output %s: %v", aws.ToString(out.Output), err)
	}
	want := `[{"n":1},{"n":2},{"n":3},{"caught":"errorString"}]`
	if b, _ := json.Marshal(got); !bytes.Equal(b, []byte(want)) {
		t.Errorf("output %s, want %s", b, want)
	}
	invs := sf.Router.Invocations()
	if len(invs) != 4 {
		t.Fatalf("%d invocations, want 4", len(invs))
	}
	failed := 0
	for _, inv := range invs {
		if inv.Function != "echo" {
			t.Errorf("invocation of %q", inv.Function)
		}
		if inv.Failed {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d failed invocations, want 1", failed)
	}
}
