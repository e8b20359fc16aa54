// Command echofn is the test bed's own Lambda function: it echoes its event
// and function name, and fails when asked to, so the emulator helper can be
// tested without either job.
package main

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type reply struct {
	FunctionName string          `json:"functionName"`
	Event        json.RawMessage `json:"event"`
}

func handle(ctx context.Context, event json.RawMessage) (reply, error) {
	var e struct {
		Fail string `json:"fail"`
	}
	_ = json.Unmarshal(event, &e)
	if e.Fail != "" {
		return reply{}, errors.New(e.Fail)
	}
	return reply{FunctionName: lambdacontext.FunctionName, Event: event}, nil
}

func main() { lambda.Start(handle) }
