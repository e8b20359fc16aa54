package s3upload

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/iam"
	"github.com/awsutils/awsutils/internal/testbed"
)

// s3Action is the IAM action and resource an S3 request (path style) is
// authorized by, and for ListObjects the s3:prefix it asks for.
func s3Action(r *http.Request) (action, resource, prefix string) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if k, err := url.PathUnescape(key); err == nil {
		key = k
	}
	object := "arn:aws:s3:::" + bucket + "/" + key
	switch op := testbed.Operation(r); op {
	case "PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload":
		return "s3:PutObject", object, ""
	case "GetObject", "HeadObject":
		return "s3:GetObject", object, ""
	case "AbortMultipartUpload":
		return "s3:AbortMultipartUpload", object, ""
	case "ListObjectsV2", "ListObjects":
		return "s3:ListBucket", "arn:aws:s3:::" + bucket, r.URL.Query().Get("prefix")
	default:
		return "s3:" + op, object, ""
	}
}

// allows is a small evaluator of Allow statements for S3 requests:
// actions and resources with "*" wildcards, and the s3:prefix StringLike
// condition, which is all Policy and PlanPolicy use.
func allows(doc iam.Document, r *http.Request) bool {
	action, resource, prefix := s3Action(r)
	for _, st := range doc.Statement {
		if !matchAny(st.Action, action) || !matchAny(st.Resource, resource) {
			continue
		}
		if like, ok := st.Condition["StringLike"]["s3:prefix"]; ok {
			pats, _ := like.([]string)
			if !matchAny(pats, prefix) {
				continue
			}
		}
		return true
	}
	return false
}

// matchAny matches s against patterns that are exact or end in one "*"
// (IAM's "*" also crosses "/"): all that Policy and PlanPolicy write.
func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if before, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(s, before) || p == s {
			return true
		}
	}
	return false
}

// TestPlanPolicyIsEnough plans, runs a batch and sums up through a proxy
// that refuses, as IAM would, every request Policy and PlanPolicy do not
// allow: all succeed. Without PlanPolicy the plan is refused: its
// statements are needed.
func TestPlanPolicyIsEnough(t *testing.T) {
	t.Parallel()
	v := testbed.StartVersity(t)
	direct, bucket := v.Config(t), v.Bucket(t)
	proxy := testbed.StartFaultProxy(t, v.Endpoint, testbed.Faults{})
	cfg := proxy.Config(t, v.Env(), awsclient.Options{MaxAttempts: 1})
	ctx := context.Background()
	src, files := writePlanTree(t)
	files["big.bin"] = randBytes(6 << 20)
	writeTree(t, src, map[string][]byte{"big.bin": files["big.bin"]})

	doc := Policy("aws", bucket, "data", "")
	doc.Merge(PlanPolicy("aws", bucket, "plans/"))
	var refused []string
	lift := proxy.Deny(testbed.Denial{Match: func(r *http.Request) bool {
		if allows(doc, r) {
			return false
		}
		a, res, _ := s3Action(r)
		refused = append(refused, a+" "+res)
		return true
	}})
	defer lift()

	base := Options{Src: src, Bucket: bucket, Prefix: "data", RemoveSrc: true, MultipartThreshold: 5 << 20, PartSize: 5 << 20}
	popts := base
	popts.ManifestPrefix = "s3://" + bucket + "/plans/"
	popts.BatchFiles = 10
	p, err := MakePlan(ctx, cfg, popts)
	if err != nil {
		t.Fatalf("plan: %v (refused: %v)", err, refused)
	}
	for k := range p.Batches {
		o := base
		o.Batch = &BatchRef{Manifest: p.Manifest, Index: k}
		rep, err := Run(ctx, cfg, o)
		if err != nil || !rep.OK() {
			t.Fatalf("batch %d: %v %+v %v (refused: %v)", k, err, rep.Totals, rep.Files, refused)
		}
	}
	// A missing batch is refused as missing, not as S3 unreachable.
	_, err = Run(ctx, cfg, Options{Src: src, Bucket: bucket, Prefix: "data", Batch: &BatchRef{Manifest: p.Manifest, Index: p.Batches}})
	testbed.WantErr(t, err, "there is no batch")
	sum, err := Summarize(ctx, cfg, p.Manifest)
	if err != nil || sum.Err() != nil || sum.Removed != len(files) {
		t.Fatalf("summary: %v %+v (refused: %v)", err, sum, refused)
	}
	compare(t, objectsUnder(testbed.Objects(t, direct, bucket), "data"), "data", files)
	if len(refused) != 0 {
		t.Errorf("refused: %v", refused)
	}

	// Without PlanPolicy the plan cannot be written.
	doc = Policy("aws", bucket, "data", "")
	writeTree(t, src, map[string][]byte{"again.txt": []byte("a")})
	if _, err := MakePlan(ctx, cfg, popts); err == nil || !strings.Contains(err.Error(), "Access Denied") {
		t.Errorf("plan without PlanPolicy: %v", err)
	}
}
