// Command s3upload-lambda is the upload job as an AWS Lambda function
// (provided.al2023, a single bootstrap binary): it uploads a folder (often
// an EFS mount) to S3 and, if asked, removes each source file once its
// object is verified.
//
// Event: {"srcDir": "...", "bucket": "...", "keyPrefix": "...", "removeSrc": true}.
// A field missing from the event comes from the environment (SRC_DIR,
// BUCKET, KEY_PREFIX, REMOVE_SRC), so a schedule with no input works.
// More fields: "shard": {"index": K, "count": N} uploads one shard of the
// tree; "batch": {"manifest": "s3://...", "index": K} one planned batch;
// "noMetadata": true leaves out the files' POSIX metadata. {"mode": "plan",
// "srcDir", "bucket", "keyPrefix", "manifestPrefix"} writes a plan and
// returns its manifest; {"mode": "summary", "manifest"} adds up the
// batches' reports (docs/RELIABILITY.md has the contract).
// UPLOAD_CONCURRENCY sets the files in flight. The config file is
// AWSUTILS_CONFIG, else $LAMBDA_TASK_ROOT/aws_s3_upload.yml if present.
//
// The reply is the JSON report. The invocation fails when any file failed
// or the input is unusable; the errorType says which: FilesFailed,
// BadRequest, BadConfig, BatchesFailed (a summary) or Unavailable (see
// internal/lambdaerr). Near the deadline no new file is started and
// the report's totals.remaining says how many files a retry or the next run
// will pick up.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	h := &handler{log: log, getenv: os.Getenv, metrics: os.Stdout}
	lambda.Start(h.handle)
}
