package s3check

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// pages is a fake listing served two objects a page, as S3 pages.
type pages struct{ objs []types.Object }

func (p pages) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	start := 0
	if in.ContinuationToken != nil {
		start = int(aws.ToString(in.ContinuationToken)[0] - '0')
	}
	var out s3.ListObjectsV2Output
	for i := start; i < len(p.objs) && i < start+2; i++ {
		if strings.HasPrefix(aws.ToString(p.objs[i].Key), aws.ToString(in.Prefix)) {
			out.Contents = append(out.Contents, p.objs[i])
		}
	}
	if start+2 < len(p.objs) {
		out.IsTruncated = aws.Bool(true)
		out.NextContinuationToken = aws.String(string(rune('0' + start + 2)))
	}
	return &out, nil
}

func obj(key string, size int64) types.Object {
	return types.Object{Key: aws.String(key), Size: aws.Int64(size)}
}

func TestVerify(t *testing.T) {
	want := map[string]int64{"a": 1, "d/b": 2, "d/e/c": 0}
	tests := []struct {
		name    string
		objs    []types.Object
		wantErr string
	}{
		{"exact", []types.Object{obj("p/a", 1), obj("p/d/b", 2), obj("p/d/e/c", 0)}, ""},
		{"missing", []types.Object{obj("p/a", 1), obj("p/d/b", 2)}, "missing d/e/c"},
		{"wrong size", []types.Object{obj("p/a", 1), obj("p/d/b", 3), obj("p/d/e/c", 0)}, "d/b is 3 bytes, want 2"},
		{"extra", []types.Object{obj("p/a", 1), obj("p/d/b", 2), obj("p/d/e/c", 0), obj("p/x", 5)}, "unexpected x"},
		{"flattened", []types.Object{obj("p/a", 1), obj("p/b", 2), obj("p/c", 0)}, "missing d/b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Verify(context.Background(), pages{tt.objs}, "bkt", "p", want)
			if tt.wantErr == "" {
				if err != nil || res.Objects != 3 || res.Bytes != 3 {
					t.Fatalf("got %+v, %v; want 3 objects, 3 bytes", res, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
