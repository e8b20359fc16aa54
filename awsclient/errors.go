package awsclient

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// Kind is what an AWS error means to awsutils, whatever service sent it.
type Kind int

// The kinds of AWS error both jobs act on.
const (
	KindOther        Kind = iota
	KindThrottled         // RequestLimitExceeded, Throttling, SlowDown, ...
	KindAccessDenied      // UnauthorizedOperation, AccessDenied, ...
	KindNotFound          // InvalidInstanceID.NotFound, DBInstanceNotFound, NoSuchBucket, ...
	KindWrongState        // IncorrectInstanceState, InvalidDBInstanceState, ...
	KindInvalidInput      // InvalidInstanceID.Malformed, InvalidParameterCombination, ...
	KindDryRunOK          // DryRunOperation: the call would have succeeded
	KindCanceled          // context canceled or deadline exceeded
)

var kinds = map[string]Kind{
	"RequestLimitExceeded":                KindThrottled,
	"Throttling":                          KindThrottled,
	"ThrottlingException":                 KindThrottled,
	"SlowDown":                            KindThrottled,
	"TooManyRequestsException":            KindThrottled,
	"UnauthorizedOperation":               KindAccessDenied,
	"AccessDenied":                        KindAccessDenied,
	"AccessDeniedException":               KindAccessDenied,
	"AuthFailure":                         KindAccessDenied,
	"InvalidAccessKeyId":                  KindAccessDenied,
	"SignatureDoesNotMatch":               KindAccessDenied,
	"InvalidClientTokenId":                KindAccessDenied,
	"InvalidInstanceID.NotFound":          KindNotFound,
	"DBInstanceNotFound":                  KindNotFound,
	"DBInstanceNotFoundFault":             KindNotFound,
	"DBClusterNotFoundFault":              KindNotFound,
	"DBClusterNotFound":                   KindNotFound,
	"NoSuchBucket":                        KindNotFound,
	"NoSuchKey":                           KindNotFound,
	"NotFound":                            KindNotFound,
	"IncorrectInstanceState":              KindWrongState,
	"IncorrectState":                      KindWrongState,
	"InvalidDBInstanceState":              KindWrongState,
	"InvalidDBInstanceStateFault":         KindWrongState,
	"InvalidDBClusterStateFault":          KindWrongState,
	"InvalidDBClusterState":               KindWrongState,
	"InvalidInstanceID.Malformed":         KindInvalidInput,
	"InvalidInstanceID":                   KindInvalidInput,
	"InvalidParameterValue":               KindInvalidInput,
	"InvalidParameterCombination":         KindInvalidInput,
	"UnsupportedOperation":                KindInvalidInput,
	"UnsupportedInstanceType":             KindInvalidInput,
	"UnsupportedHibernationConfiguration": KindInvalidInput,
	"DryRunOperation":                     KindDryRunOK,
	"InsufficientInstanceCapacity":        KindOther,
	"InvalidBucketName":                   KindInvalidInput,
	"PermanentRedirect":                   KindInvalidInput,
	"AuthorizationHeaderMalformed":        KindInvalidInput,
	"InvalidDBClusterStateFault.Busy":     KindWrongState,
	// Redshift, ECS and Auto Scaling.
	"ClusterNotFound":           KindNotFound,
	"ClusterNotFoundFault":      KindNotFound,
	"ClusterNotFoundException":  KindNotFound,
	"ServiceNotFoundException":  KindNotFound,
	"InvalidClusterState":       KindWrongState,
	"InvalidClusterStateFault":  KindWrongState,
	"ServiceNotActiveException": KindWrongState,
	"ScalingActivityInProgress": KindWrongState,
	"ResourceInUse":             KindWrongState,
}

// Classify says what kind of error err is, looking through wrapping for the
// SDK's typed API error.
func Classify(err error) Kind {
	if err == nil {
		return KindOther
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return KindCanceled
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if k, ok := kinds[apiErr.ErrorCode()]; ok {
			return k
		}
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool() {
		return KindThrottled
	}
	return KindOther
}

// Code is the AWS error code in err, or "".
func Code(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// Message is the service's own message for err when it has one (without the
// SDK's operation, request id and retry wrapping), else err.Error().
func Message(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if m := apiErr.ErrorMessage(); m != "" {
			return apiErr.ErrorCode() + ": " + m
		}
		return apiErr.ErrorCode()
	}
	return err.Error()
}
