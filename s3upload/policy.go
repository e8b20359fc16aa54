package s3upload

import (
	"strings"

	"github.com/awsutils/awsutils/internal/iam"
)

// Policy is the least-privilege IAM policy for uploading into
// s3://bucket/prefix: PutObject and what the multipart path needs
// (AbortMultipartUpload), GetObject for the
// HeadObject that verifies an object before its source is removed or
// skipped, and ListBucket limited to the prefix, without which a HeadObject
// of a missing key answers 403 instead of 404. No s3:DeleteObject: awsutils
// never deletes objects. kmsKey, when set, adds what SSE-KMS uploads need.
func Policy(partition, bucket, prefix, kmsKey string) iam.Document {
	bucketARN, objects, cond := scope(partition, bucket, prefix)
	doc := iam.New()
	doc.Allow("ListPrefix", []string{"s3:ListBucket"}, []string{bucketARN}, cond)
	doc.Allow("WriteAndVerifyObjects", []string{
		"s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload",
	}, []string{objects}, nil)
	if kmsKey != "" {
		doc.Allow("EncryptWithKey", []string{"kms:GenerateDataKey", "kms:Decrypt"}, []string{kmsKey}, nil)
	}
	return doc
}

// PlanPolicy is what planned batches need on top of Policy, for plans under
// s3://bucket/prefix/ (Options.ManifestPrefix): PutObject to write a plan,
// a batch's run marks and reports; GetObject to read batches and reports
// (and the run marks, by HeadObject); ListBucket limited to the prefix, so
// that a missing batch or report answers 404, not 403. A Step Functions
// ItemReader over the manifest needs only the GetObject.
func PlanPolicy(partition, bucket, prefix string) iam.Document {
	bucketARN, objects, cond := scope(partition, bucket, prefix)
	doc := iam.New()
	doc.Allow("ListPlans", []string{"s3:ListBucket"}, []string{bucketARN}, cond)
	doc.Allow("ReadAndWritePlans", []string{"s3:PutObject", "s3:GetObject"}, []string{objects}, nil)
	return doc
}

// scope is the bucket's ARN, the ARN pattern of the objects under prefix
// (the whole bucket when it is empty), and the s3:prefix condition that
// limits a listing to them.
func scope(partition, bucket, prefix string) (bucketARN, objects string, cond map[string]map[string]any) {
	if partition == "" {
		partition = "aws"
	}
	bucketARN = "arn:" + partition + ":s3:::" + bucket
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return bucketARN, bucketARN + "/*", nil
	}
	return bucketARN, bucketARN + "/" + prefix + "/*", map[string]map[string]any{"StringLike": {"s3:prefix": []string{prefix + "/*"}}}
}
