package packaging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
	"github.com/awsutils/awsutils/s3upload"
	"github.com/awsutils/awsutils/startstop"
)

// The IAM-enforced tests run both jobs, through the CLI and through the
// Lambda functions under the Runtime Interface Emulator, with credentials
// whose only permissions are, in turn, each policy awsutils ships or
// documents:
//
//	original  the original's policies, exactly as in its README
//	          (testdata/original-*-policy.json; no ec2:Describe*)
//	policy    what `awsutils policy --config` / `--upload` prints
//	template  the role policies of deploy/template.yaml, as moto's
//	          CloudFormation created them (read back with GetRolePolicy)
//
// moto evaluates every request against them (testbed.StartMotoIAM); EC2,
// RDS, Auto Scaling, ECS and Redshift calls once per resource ARN through
// the test bed's Authorizer, with the resource's tags as condition keys
// (aws:ResourceTag/K and the service's own, e.g. rds:db-tag/K), so the
// tag-conditioned statements `awsutils policy` prints for tag selectors are
// evaluated (conditions by authorize.py: StringEquals and Null as AWS
// evaluates them; moto's own get missing keys wrong). Besides the EC2 and
// RDS key, a key of every registered type, listed and selected by tags
// (typesBed), runs through the CLI with the generated policy and with the
// template's start/stop role. Each policy must let its job run completely,
// and a resource outside it must be refused, reported as that resource's
// failure, with the others done. Where the evaluation differs from AWS's
// (docs/RELIABILITY.md, "Least privilege, tested"): S3 is left to moto,
// which does not evaluate s3:prefix (s3:ListBucket with a prefix condition
// is not exercised; the jobs do not list); request-tag keys and
// elasticfilesystem:AccessPointArn are not supplied; role_arn groups (other
// accounts) are not run; and logs, EFS and KMS permissions are exercised by
// no job run here (the functions' logs go to stdout under the emulator).
//
// The template's roles are held by IAM users with the same policy
// documents, not assumed: moto evaluates a role policy its CloudFormation
// made with the null it left for each AWS::NoValue statement, and its
// evaluator fails on that (HTTP 500), so the role's own session keys
// cannot run the jobs; rolePolicies drops the nulls, as CloudFormation
// does on AWS.

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cliRun runs the awsutils binary with env, returning its exit code and
// stdout.
func cliRun(t *testing.T, env map[string]string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(testbed.BuildCommand(t, "./cmd/awsutils"), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	code := 0
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("awsutils %v: %v", args, err)
	}
	if code > 1 {
		t.Fatalf("awsutils %v: exit %d\n%s", args, code, stderr.String())
	}
	return code, out.String()
}

// startStopBed is what the start/stop runs act on: two instances, a DB
// instance and an Aurora cluster that every policy allows, and resources
// only some policies allow.
type startStopBed struct {
	listed    []string // instance ids of the key every policy allows
	extra     string   // an instance in the same region
	westID    string   // an instance in another region
	configDir string
}

const westRegion = "us-west-2"

func newStartStopBed(t *testing.T, m *testbed.Moto) *startStopBed {
	t.Helper()
	ec2c, rdsc := m.Clients(t)
	ids := testbed.RunInstances(t, ec2c, 3)
	west := testbed.RunInstances(t, awsclient.EC2(awsclient.WithRegion(m.Config(t), westRegion)), 1)
	testbed.CreateDBInstance(t, rdsc, "my-postgres")
	testbed.CreateDBInstance(t, rdsc, "other-db")
	testbed.CreateAuroraCluster(t, rdsc, "my-aurora")
	return &startStopBed{listed: ids[:2], extra: ids[2], westID: west[0], configDir: t.TempDir()}
}

// config writes a config whose key dev-env lists the allowed resources
// plus extra groups (YAML list items).
func (b *startStopBed) config(t *testing.T, name string, extra ...string) string {
	t.Helper()
	s := fmt.Sprintf("region_name: %s\ndev-env:\n  - type: ec2.instance\n    ids: [%s]\n  - type: rds.db_cluster\n    ids: [my-aurora]\n  - type: rds.db_instance\n    ids: [my-postgres]\n",
		testbed.Region, strings.Join(b.listed, ", "))
	for _, e := range extra {
		s += e
	}
	p := filepath.Join(b.configDir, name, startstop.ConfigFile)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantStartStop checks a report of allowed resources and the refused
// ones: every allowed resource changed; every refused one failed for lack
// of permission (stop), or was found already running and left alone
// (start, as describing is allowed).
func wantStartStop(t *testing.T, rep startstop.Report, a startstop.Action, allowed int, refused []string) {
	t.Helper()
	if want := allowed + len(refused); len(rep.Results) != want {
		t.Errorf("%s: %d results, want %d: %+v", a, len(rep.Results), want, rep.Results)
	}
	for _, r := range rep.Results {
		isRefused := slices.Contains(refused, r.ID)
		switch {
		case isRefused && a == startstop.Stop && (r.Outcome != startstop.Failed || !strings.Contains(r.Message, "UnauthorizedOperation") && !strings.Contains(r.Message, "AccessDenied")):
			t.Errorf("%s %s %s: %s %q, want failed for lack of permission", a, r.Type, r.ID, r.Outcome, r.Message)
		case isRefused && a == startstop.Start && r.Outcome != startstop.Unchanged:
			t.Errorf("%s %s %s: %s %q, want unchanged", a, r.Type, r.ID, r.Outcome, r.Message)
		case !isRefused && r.Outcome != startstop.Changed:
			t.Errorf("%s %s %s: %s %q, want changed", a, r.Type, r.ID, r.Outcome, r.Message)
		}
	}
}

// wantStates checks EC2 and RDS states with enforcement off.
func (b *startStopBed) wantStates(t *testing.T, m *testbed.MotoIAM, ec2State, dbState string) {
	t.Helper()
	m.Relax(t)
	ec2c, rdsc := m.Moto.Clients(t)
	for id, st := range testbed.InstanceStates(t, ec2c, append([]string{b.extra}, b.listed...)...) {
		want := ec2State
		if id == b.extra {
			want = "running"
		}
		if st != want {
			t.Errorf("instance %s: %s, want %s", id, st, want)
		}
	}
	west := testbed.InstanceStates(t, awsclient.EC2(awsclient.WithRegion(m.Moto.Config(t), westRegion)), b.westID)
	if west[b.westID] != "running" {
		t.Errorf("instance %s (%s) is %s, want it untouched (running)", b.westID, westRegion, west[b.westID])
	}
	if st := testbed.DBInstanceStatus(t, rdsc, "my-postgres"); st != dbState {
		t.Errorf("my-postgres: %s, want %s", st, dbState)
	}
	if st := testbed.DBInstanceStatus(t, rdsc, "other-db"); st != "available" {
		t.Errorf("other-db: %s, want it untouched (available)", st)
	}
	if st := testbed.DBClusterStatus(t, rdsc, "my-aurora"); st != dbState {
		t.Errorf("my-aurora: %s, want %s", st, dbState)
	}
}

// runStartStop stops dev-env and starts it again, through the CLI and
// then through the Lambda function, with user's permissions only.
func runStartStop(t *testing.T, m *testbed.MotoIAM, b *startStopBed, user *testbed.Moto, conf string, refused []string) {
	t.Helper()
	cli := func(a startstop.Action) (bool, *startstop.Report) {
		code, out := cliRun(t, user.Env(), string(a), "dev-env", "--config", conf, "--output", "json")
		rep := &startstop.Report{}
		if err := json.Unmarshal([]byte(out), rep); err != nil {
			t.Fatalf("CLI report: %v\n%s", err, out)
		}
		return code == 0, rep
	}
	env := user.Env()
	env["AWSUTILS_CONFIG"] = conf
	env["AWS_LAMBDA_FUNCTION_NAME"] = "startstop"
	fn := testbed.StartLambda(t, testbed.BuildBootstrap(t, "./cmd/startstop-lambda"), env)
	defer fn.Close()
	lambda := func(a startstop.Action) (bool, *startstop.Report) {
		payload, err := fn.Invoke(context.Background(), fmt.Sprintf(`{"action": %q, "configKey": ["dev-env"]}`, a))
		rep := &startstop.Report{}
		if err != nil {
			// A failed invocation names the failed resources in its message
			// (the states are checked below).
			fe := testbed.WantFunctionError(t, err, "ResourcesFailed", "")
			for _, id := range refused {
				if !strings.Contains(fe.Message, id) {
					t.Errorf("Lambda error %q does not name %s", fe.Message, id)
				}
			}
			return false, nil
		}
		if err := json.Unmarshal(payload, rep); err != nil {
			t.Fatalf("Lambda report: %v\n%s", err, payload)
		}
		return true, rep
	}
	for _, run := range []struct {
		name string
		do   func(startstop.Action) (bool, *startstop.Report)
	}{{"CLI", cli}, {"Lambda", lambda}} {
		m.Enforce(t)
		ok, rep := run.do(startstop.Stop)
		if ok != (len(refused) == 0) {
			t.Errorf("%s stop succeeded: %v, want %v", run.name, ok, len(refused) == 0)
		}
		if rep != nil {
			wantStartStop(t, *rep, startstop.Stop, 4, refused)
		}
		b.wantStates(t, m, "stopped", "stopped")
		m.Enforce(t)
		ok, rep = run.do(startstop.Start)
		if !ok {
			t.Errorf("%s start failed: %+v", run.name, rep.Results)
		}
		wantStartStop(t, *rep, startstop.Start, 4, refused)
		b.wantStates(t, m, "running", "available")
	}
}

// uploadBed is what the upload runs write: a bucket every policy allows a
// prefix of, and a bucket none names.
type uploadBed struct {
	bucket, prefix, other string
}

func newUploadBed(t *testing.T, m *testbed.Moto) *uploadBed {
	t.Helper()
	b := &uploadBed{bucket: "dest-bucket", prefix: "folder1/folder2", other: "other-bucket"}
	c := awsclient.S3(m.Config(t))
	for _, name := range []string{b.bucket, b.other} {
		if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// srcTree writes files to upload: small ones and one that goes up in
// parts (the multipart calls are s3:PutObject).
func srcTree(t *testing.T) (string, int) {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{"a.txt": []byte("a"), "sub/b.txt": []byte("bb"), "sub/deep/c.bin": bytes.Repeat([]byte{7}, 6<<20)}
	testbed.WriteFiles(t, dir, files)
	return dir, len(files)
}

// runUpload uploads with user's permissions into the allowed prefix (CLI
// and Lambda, removing sources), and into dest, which the policy does not
// allow: there every file fails for lack of permission and is kept.
func runUpload(t *testing.T, m *testbed.MotoIAM, b *uploadBed, user *testbed.Moto, outside string) {
	t.Helper()
	m.Enforce(t)
	src, n := srcTree(t)
	code, out := cliRun(t, user.Env(), "upload", src, "s3://"+b.bucket+"/"+b.prefix+"/cli", "--remove-src", "--multipart-threshold", "5MiB", "--quiet", "--output", "json")
	var rep s3upload.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("CLI report: %v\n%s", err, out)
	}
	if code != 0 || rep.Totals.Removed != n || rep.Totals.Failed != 0 {
		t.Errorf("CLI upload: exit %d, totals %+v, want %d uploaded and removed; files %+v", code, rep.Totals, n, rep.Files)
	}
	if left := testbed.CountFiles(src); left != 0 {
		t.Errorf("%d source files left after --remove-src", left)
	}

	src, n = srcTree(t)
	code, out = cliRun(t, user.Env(), "upload", src, outside, "--remove-src", "--multipart-threshold", "5MiB", "--quiet", "--output", "json")
	rep = s3upload.Report{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("CLI report: %v\n%s", err, out)
	}
	if code != 1 || rep.Totals.Failed != n || rep.Totals.Uploaded != 0 || len(rep.Files) != n {
		t.Errorf("upload to %s: exit %d, totals %+v, want all %d failed", outside, code, rep.Totals, n)
	}
	for _, f := range rep.Files {
		if !strings.Contains(f.Message, "AccessDenied") && !strings.Contains(f.Message, "403") {
			t.Errorf("%s: %s %q, want refused for lack of permission", f.Path, f.Result, f.Message)
		}
	}
	if left := testbed.CountFiles(src); left != n {
		t.Errorf("%d of %d source files kept after refused uploads", left, n)
	}

	m.Enforce(t)
	src, n = srcTree(t)
	env := user.Env()
	for k, v := range map[string]string{"SRC_DIR": src, "BUCKET": b.bucket, "KEY_PREFIX": b.prefix + "/lambda", "REMOVE_SRC": "true", "AWS_LAMBDA_FUNCTION_NAME": "s3upload"} {
		env[k] = v
	}
	fn := testbed.StartLambda(t, testbed.BuildBootstrap(t, "./cmd/s3upload-lambda"), env)
	payload, err := fn.Invoke(context.Background(), `{}`)
	fn.Close()
	if err != nil {
		t.Fatalf("Lambda: %v", err)
	}
	rep = s3upload.Report{}
	if err := json.Unmarshal(payload, &rep); err != nil {
		t.Fatalf("Lambda report: %v\n%s", err, payload)
	}
	if rep.Totals.Removed != n || rep.Totals.Failed != 0 {
		t.Errorf("Lambda upload: totals %+v, want %d uploaded and removed", rep.Totals, n)
	}

	m.Relax(t)
	objs := testbed.Objects(t, m.Moto.Config(t), b.bucket)
	for _, run := range []string{"cli", "lambda"} {
		for _, rel := range []string{"a.txt", "sub/b.txt", "sub/deep/c.bin"} {
			if _, ok := objs[b.prefix+"/"+run+"/"+rel]; !ok {
				t.Errorf("object %s/%s/%s missing", b.prefix, run, rel)
			}
		}
	}
	for k := range objs {
		if !strings.HasPrefix(k, b.prefix+"/") {
			t.Errorf("object %s outside the allowed prefix", k)
		}
	}
	if other := testbed.Objects(t, m.Moto.Config(t), b.other); len(other) > 0 {
		t.Errorf("objects in %s, which no policy names: %v", b.other, other)
	}
}

// policyCLI runs `awsutils policy` with args.
func policyCLI(t *testing.T, args ...string) string {
	t.Helper()
	code, out := cliRun(t, nil, append([]string{"policy"}, args...)...)
	if code != 0 {
		t.Fatalf("awsutils policy %v: exit %d", args, code)
	}
	return out
}

func TestIAMEnforced(t *testing.T) {
	testbed.Require(t)
	m := testbed.StartMotoIAM(t)
	ss := newStartStopBed(t, m.Moto)
	types := newTypesBed(t, m.Moto)
	up := newUploadBed(t, m.Moto)
	inOther := "s3://" + up.other + "/" + up.prefix
	outsidePrefix := "s3://" + up.bucket + "/elsewhere"

	t.Run("original", func(t *testing.T) {
		// The original's policy allows ec2:Start*/Stop* and the RDS calls on
		// every resource and no ec2:Describe*: nothing listed is outside it.
		user := m.User(t, "original", map[string]string{
			"startstop": readTestdata(t, "original-startstop-policy.json"),
			"upload":    strings.ReplaceAll(readTestdata(t, "original-upload-policy.json"), "<bucket-name>", up.bucket),
		})
		runStartStop(t, m, ss, user, ss.config(t, "original"), nil)
		runUpload(t, m, up, user, inOther)
	})

	t.Run("policy", func(t *testing.T) {
		allowed := ss.config(t, "policy")
		startStop := m.User(t, "policy-startstop", map[string]string{"startstop": policyCLI(t, "--config", allowed)})
		// The same key also lists an instance and a DB instance the
		// generated policy does not name.
		conf := ss.config(t, "policy-more",
			"  - type: ec2.instance\n    ids: ["+ss.extra+"]\n",
			"  - type: rds.db_instance\n    ids: [other-db]\n")
		runStartStop(t, m, ss, startStop, conf, []string{ss.extra, "other-db"})
		// Every registered type, listed and selected by tags; the same key
		// also lists one resource of each type tagged team=b, which neither
		// the listed ARNs nor the tag-conditioned statements allow.
		allTypes := m.User(t, "policy-types", map[string]string{"startstop": policyCLI(t, "--config", types.config(t, "types-policy"))})
		outside := append(listed("", types.outside, scalingTypes...), listed("", types.outsideDB, dbTypes...)...)
		runTypes(t, m, types, allTypes, types.config(t, "types-policy-more", outside...), append(slices.Clone(types.outside), types.outsideDB...))
		upload := m.User(t, "policy-upload", map[string]string{"upload": policyCLI(t, "--upload", "s3://"+up.bucket+"/"+up.prefix)})
		runUpload(t, m, up, upload, outsidePrefix)
	})

	t.Run("template", func(t *testing.T) {
		c := newClients(m.Moto.Config(t))
		params, sums := uploadCode(t, c, "awsutils-code")
		params["StartConfigKeys"], params["StopConfigKeys"] = "dev-env", "dev-env"
		params["UploadBucket"], params["UploadKeyPrefix"] = up.bucket, up.prefix
		params["TargetRegion"] = testbed.Region
		d := deploy(t, c, m.Account, "awsutils-iam", params, sums)
		roleUser := func(name, role string) *testbed.Moto {
			pols, err := rolePolicies(context.Background(), c.iam, d.physical[role])
			if err != nil {
				t.Fatal(err)
			}
			docs := map[string]string{}
			for n, doc := range pols {
				b, err := json.Marshal(doc)
				if err != nil {
					t.Fatal(err)
				}
				docs[n] = string(b)
			}
			maps.Copy(docs, attachedPolicies(t, c, d.physical[role]))
			return m.User(t, name, docs)
		}
		// The role is limited to TargetRegion: the instance in another
		// region is outside it.
		conf := ss.config(t, "template", "  - type: ec2.instance\n    region: "+westRegion+"\n    ids: ["+ss.westID+"]\n")
		runStartStop(t, m, ss, roleUser("template-startstop", "StartStopRole"), conf, []string{ss.westID})
		runTypes(t, m, types, roleUser("template-types", "StartStopRole"), types.config(t, "types-template", listed(westRegion, types.west, scalingTypes...)...), types.west)
		runUpload(t, m, up, roleUser("template-upload", "UploadRole"), outsidePrefix)

		// Every role may send to the stack's failure queue (Lambda's
		// OnFailure destination sends with the function's role, Scheduler's
		// dead-letter queue with the schedule's) and to no other queue.
		other, err := c.sqs.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("other-queue")})
		if err != nil {
			t.Fatal(err)
		}
		for _, role := range []string{"StartStopRole", "UploadRole", "StartStopSchedulerRole", "UploadSchedulerRole"} {
			user := roleUser("queue-"+role, role)
			m.Enforce(t)
			q := sqs.NewFromConfig(user.Config(t))
			for url, allowed := range map[string]bool{d.physical["FailureQueue"]: true, aws.ToString(other.QueueUrl): false} {
				_, err := q.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("{}")})
				// moto words SQS's refusal in XML, which the JSON-protocol
				// client cannot decode: the HTTP status is the answer.
				var re *awshttp.ResponseError
				refused := errors.As(err, &re) && re.HTTPStatusCode() == http.StatusForbidden
				if allowed && err != nil || !allowed && !refused {
					t.Errorf("%s: SendMessage to %s: %v, want allowed %v", role, url, err, allowed)
				}
			}
			m.Relax(t)
		}
	})
}

// attachedPolicies are the documents of the managed policies attached to
// a role, by policy name, for a user that is to hold the same permissions.
func attachedPolicies(t *testing.T, c *clients, role string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out, err := c.iam.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)})
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	for _, ap := range out.AttachedPolicies {
		pol, err := c.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: ap.PolicyArn})
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.iam.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: ap.PolicyArn, VersionId: pol.Policy.DefaultVersionId})
		if err != nil {
			t.Fatal(err)
		}
		doc, err := decodeDocument(aws.ToString(v.PolicyVersion.Document))
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		docs["attached-"+aws.ToString(ap.PolicyName)] = string(b)
	}
	return docs
}
