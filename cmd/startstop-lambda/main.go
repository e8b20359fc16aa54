// Command startstop-lambda is the start/stop AWS Lambda function
// (provided.al2023, built as bootstrap). It reads aws_resource_start_stop.yml
// from the function's root (or AWSUTILS_CONFIG), takes the action and keys
// from the event ({"action": "start", "configKey": "dev-env"}) or, for a
// plain scheduled event, from the function name (ec2_start_dev-env), and
// returns the report. The invocation fails when any resource failed, so
// retries and alarms work. Logs are JSON lines on stdout, one per resource, and one
// CloudWatch Embedded Metric Format line of the run's counts.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	h := &Handler{
		Settings: SettingsFromEnv(os.Getenv),
		Log:      slog.New(slog.NewJSONHandler(os.Stdout, nil)),
		LoadAWS:  loadAWS,
		Metrics:  os.Stdout,
	}
	lambda.Start(h.Handle)
}
