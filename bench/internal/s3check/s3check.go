// Package s3check verifies what a benchmark run left in S3: exactly the
// workload's keys under the run's prefix, each with its size.
package s3check

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Lister is the one S3 call a check needs.
type Lister interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// Result is what was found.
type Result struct {
	Objects int
	Bytes   int64
}

// Verify lists bucket/prefix/ and compares it with want (path relative to
// the prefix -> size). The error names the first few differences.
func Verify(ctx context.Context, c Lister, bucket, prefix string, want map[string]int64) (Result, error) {
	var res Result
	got := make(map[string]int64, len(want))
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket),
		Prefix: aws.String(prefix + "/"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return res, fmt.Errorf("list s3://%s/%s/: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			rel := strings.TrimPrefix(aws.ToString(o.Key), prefix+"/")
			got[rel] = aws.ToInt64(o.Size)
			res.Objects++
			res.Bytes += aws.ToInt64(o.Size)
		}
	}
	var problems []string
	for k, size := range want {
		g, ok := got[k]
		switch {
		case !ok:
			problems = append(problems, "missing "+k)
		case g != size:
			problems = append(problems, fmt.Sprintf("%s is %d bytes, want %d", k, g, size))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			problems = append(problems, "unexpected "+k)
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		n := len(problems)
		if n > 5 {
			problems = append(problems[:5], fmt.Sprintf("and %d more", n-5))
		}
		return res, fmt.Errorf("s3://%s/%s/: %d objects, want %d: %s", bucket, prefix, res.Objects, len(want), strings.Join(problems, "; "))
	}
	return res, nil
}
