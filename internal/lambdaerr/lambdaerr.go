// Package lambdaerr holds the errors the Lambda functions fail an
// invocation with. aws-lambda-go reports an error's type name as the
// invocation's errorType, so the name says what failed: alarms, retries and
// a Step Functions Catch can tell a bad request from a bad config from work
// that failed without reading the message, which is Err's.
package lambdaerr

type (
	// BadRequest: the event or the function's environment does not say
	// what to do, or says something the job refuses; nothing was touched.
	BadRequest struct{ Err error }
	// BadConfig: the config file or the AWS configuration is unusable;
	// nothing was touched.
	BadConfig struct{ Err error }
	// ResourcesFailed: start/stop ran; some resource failed or is
	// unsupported.
	ResourcesFailed struct{ Err error }
	// FilesFailed: the upload ran; some file failed.
	FilesFailed struct{ Err error }
	// FilesRemaining: a planned batch's run stopped at the deadline with
	// files left; running the batch again (a Step Functions Retry)
	// continues where it stopped.
	FilesRemaining struct{ Err error }
	// BatchesFailed: a planned upload's summary found batches that did
	// not report or had failed files.
	BatchesFailed struct{ Err error }
	// Unavailable: the job could not start because a service it must
	// read first (S3, for a planned batch) did not answer; a retry may
	// succeed. Nothing was touched.
	Unavailable struct{ Err error }
)

func (e *BadRequest) Error() string      { return e.Err.Error() }
func (e *BadConfig) Error() string       { return e.Err.Error() }
func (e *ResourcesFailed) Error() string { return e.Err.Error() }
func (e *FilesFailed) Error() string     { return e.Err.Error() }
func (e *BatchesFailed) Error() string   { return e.Err.Error() }
func (e *FilesRemaining) Error() string  { return e.Err.Error() }
func (e *Unavailable) Error() string     { return e.Err.Error() }

func (e *BadRequest) Unwrap() error      { return e.Err }
func (e *BadConfig) Unwrap() error       { return e.Err }
func (e *ResourcesFailed) Unwrap() error { return e.Err }
func (e *FilesFailed) Unwrap() error     { return e.Err }
func (e *BatchesFailed) Unwrap() error   { return e.Err }
func (e *FilesRemaining) Unwrap() error  { return e.Err }
func (e *Unavailable) Unwrap() error     { return e.Err }
