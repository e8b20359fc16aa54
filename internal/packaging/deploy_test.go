package packaging

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
)

// The deploy tests create deploy/template.yaml as a stack in moto's
// CloudFormation from the zips `make package` builds, and check what it
// made against what the template says for the parameters given. moto
// 5.2.5 skips some resource types silently (no resource, no error: see
// docs/NOTES.md); for those the test creates the same resource through the
// type's own API, with the properties the template gives after
// CloudFormation's intrinsic functions are applied (stackView), so that a
// property the API does not know or a value it refuses fails the test.
// moto also differs in ways the checks leave out: Architectures arm64
// reads back as x86_64, and FileSystemConfigs, LoggingConfig and
// DeadLetterConfig of a function are dropped.

// codeZips builds the function zips once per test binary, as `make package`
// does, into a folder that outlives the tests.
var codeZips = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "awsutils-deploy-zips-")
	if err != nil {
		return "", err
	}
	out, err := packageScript("DIST="+dir, "ARCH=arm64")
	if err != nil {
		return "", fmt.Errorf("package.sh: %v\n%s", err, out)
	}
	return dir, nil
})

// clients are the APIs the deploy tests use, all against one moto account.
type clients struct {
	cfn   *cloudformation.Client
	cw    *cloudwatch.Client
	logs  *cloudwatchlogs.Client
	ec2   *ec2.Client
	iam   *iam.Client
	fn    *lambda.Client
	s3    *s3.Client
	sched *scheduler.Client
	sfn   *sfn.Client
	sns   *sns.Client
	sqs   *sqs.Client
}

func newClients(cfg aws.Config) *clients {
	return &clients{
		cfn: cloudformation.NewFromConfig(cfg), cw: cloudwatch.NewFromConfig(cfg),
		logs: cloudwatchlogs.NewFromConfig(cfg), ec2: awsclient.EC2(cfg), iam: iam.NewFromConfig(cfg),
		fn: lambda.NewFromConfig(cfg), s3: awsclient.S3(cfg), sched: scheduler.NewFromConfig(cfg), sfn: sfn.NewFromConfig(cfg),
		sns: sns.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg),
	}
}

// A deployed stack is one stack of the template in moto.
type deployed struct {
	t        *testing.T
	c        *clients
	name     string
	tmpl     *cfnTemplate
	body     string
	account  string
	view     *stackView
	physical map[string]string // logical id -> physical id, of what exists
	types    map[string]string // logical id -> type, of what exists
	direct   map[string]bool   // created by the test, as moto skipped them
	zipSHA   map[string]string // code key -> base64 sha256
}

// uploadCode puts the zips into a new code bucket under keys named by
// their sha256 (as deploy/README.md advises) and returns the parameters
// naming them.
func uploadCode(t *testing.T, c *clients, bucket string) (map[string]string, map[string]string) {
	t.Helper()
	dir, err := codeZips()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	params, sums := map[string]string{"CodeBucket": bucket}, map[string]string{}
	for param, fn := range map[string]string{"StartStopCodeKey": "startstop", "UploadCodeKey": "s3upload"} {
		b, err := os.ReadFile(filepath.Join(dir, fn+"-arm64.zip"))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		key := fmt.Sprintf("awsutils/%s-arm64-%s.zip", fn, hex.EncodeToString(sum[:8]))
		if _, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(b)}); err != nil {
			t.Fatal(err)
		}
		params[param] = key
		sums[key] = base64.StdEncoding.EncodeToString(sum[:])
	}
	return params, sums
}

func stackParams(p map[string]string) []cfntypes.Parameter {
	var out []cfntypes.Parameter
	for _, k := range slices.Sorted(maps.Keys(p)) {
		out = append(out, cfntypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(p[k])})
	}
	return out
}

// deploy creates the stack and everything moto skipped, and checks both.
func deploy(t *testing.T, c *clients, account, name string, params map[string]string, sums map[string]string) *deployed {
	t.Helper()
	tmpl, body := readTemplate(t)
	d := &deployed{t: t, c: c, name: name, tmpl: tmpl, body: body, account: account, zipSHA: sums}
	_, err := c.cfn.CreateStack(context.Background(), &cloudformation.CreateStackInput{
		StackName: aws.String(name), TemplateBody: aws.String(body), Parameters: stackParams(params),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
	})
	if err != nil {
		t.Fatalf("CreateStack %s: %v", name, err)
	}
	d.settle(params, cfntypes.StackStatusCreateComplete)
	return d
}

// settle checks the stack's status, reads what it made, creates what moto
// skipped and checks every resource the parameters ask for.
func (d *deployed) settle(params map[string]string, want cfntypes.StackStatus) {
	t, ctx := d.t, context.Background()
	t.Helper()
	out, err := d.c.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(d.name)})
	if err != nil {
		t.Fatal(err)
	}
	if s := out.Stacks[0]; s.StackStatus != want {
		t.Fatalf("stack %s: %s (%s), want %s", d.name, s.StackStatus, aws.ToString(s.StackStatusReason), want)
	}
	d.view = newStackView(t, d.tmpl, params, d.name, d.account, testbed.Region)
	d.view.ref, d.view.getAtt = d.ref, d.getAtt
	d.physical, d.types, d.direct = map[string]string{}, map[string]string{}, map[string]bool{}
	res, err := d.c.cfn.ListStackResources(ctx, &cloudformation.ListStackResourcesInput{StackName: aws.String(d.name)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.StackResourceSummaries {
		if id := aws.ToString(r.LogicalResourceId); id != "" { // moto lists skipped resources with no ids
			d.physical[id] = aws.ToString(r.PhysicalResourceId)
			d.types[id] = aws.ToString(r.ResourceType)
		}
	}
	wanted, err := d.view.wanted()
	if err != nil {
		t.Fatal(err)
	}
	for id := range d.physical {
		if _, ok := wanted[id]; !ok {
			t.Errorf("stack made %s (%s), which the parameters do not ask for", id, d.types[id])
		}
	}
	// Resources moto skipped are created in an order that lets one refer
	// to another: a pass creates those whose references exist.
	var skipped []string
	for _, id := range slices.Sorted(maps.Keys(wanted)) {
		if _, ok := d.physical[id]; !ok {
			skipped = append(skipped, id)
		}
	}
	for len(skipped) > 0 {
		var later []string
		var lastErr error
		for _, id := range skipped {
			if err := d.createDirect(id, wanted[id]); err != nil {
				later, lastErr = append(later, id), err
			}
		}
		if len(later) == len(skipped) {
			t.Fatalf("moto's CloudFormation skipped %v, and creating them through their APIs failed: %v", later, lastErr)
		}
		skipped = later
	}
	for _, id := range slices.Sorted(maps.Keys(wanted)) {
		t.Run(id, func(t *testing.T) { d.check(t, id, wanted[id]) })
	}
}

// props evaluates a resource's properties for this stack.
func (d *deployed) props(id string, r cfnResource) (map[string]any, error) {
	p, err := d.view.eval(map[string]any(r.Properties))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	m, _ := p.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// decodeInto fills an SDK input from template properties: CloudFormation's
// property names for these types are the API's member names, and a
// property the API does not know fails.
func decodeInto(props map[string]any, into any) error {
	b, err := json.Marshal(props)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}

// createDirect creates a resource moto's CloudFormation skipped through
// its own API; an error means a reference is not there yet or the API
// refused it.
func (d *deployed) createDirect(id string, r cfnResource) error {
	ctx := context.Background()
	props, err := d.props(id, r)
	if err != nil {
		return err
	}
	name := d.name + "-" + id
	switch r.Type {
	case "AWS::Scheduler::Schedule":
		in := &scheduler.CreateScheduleInput{}
		if err := decodeInto(props, in); err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		in.Name = aws.String(cmpOr(aws.ToString(in.Name), name))
		if _, err := d.c.sched.CreateSchedule(ctx, in); err != nil {
			return fmt.Errorf("%s: CreateSchedule: %w", id, err)
		}
		d.physical[id] = aws.ToString(in.Name)
	case "AWS::CloudWatch::Alarm":
		in := &cloudwatch.PutMetricAlarmInput{}
		if err := decodeInto(props, in); err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		in.AlarmName = aws.String(cmpOr(aws.ToString(in.AlarmName), name))
		if _, err := d.c.cw.PutMetricAlarm(ctx, in); err != nil {
			return fmt.Errorf("%s: PutMetricAlarm: %w", id, err)
		}
		d.physical[id] = aws.ToString(in.AlarmName)
	case "AWS::Lambda::EventInvokeConfig":
		in := &lambda.PutFunctionEventInvokeConfigInput{}
		if err := decodeInto(props, in); err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		if _, err := d.c.fn.PutFunctionEventInvokeConfig(ctx, in); err != nil {
			return fmt.Errorf("%s: PutFunctionEventInvokeConfig: %w", id, err)
		}
		d.physical[id] = aws.ToString(in.FunctionName)
	case "AWS::SNS::Subscription":
		in := &sns.SubscribeInput{}
		if err := decodeInto(props, in); err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		out, err := d.c.sns.Subscribe(ctx, in)
		if err != nil {
			return fmt.Errorf("%s: Subscribe: %w", id, err)
		}
		d.physical[id] = aws.ToString(out.SubscriptionArn)
	case "AWS::IAM::RolePolicy":
		doc, err := json.Marshal(props["PolicyDocument"])
		if err != nil {
			return err
		}
		if _, err := d.c.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(scalar(props["RoleName"])),
			PolicyName: aws.String(scalar(props["PolicyName"])), PolicyDocument: aws.String(string(doc))}); err != nil {
			return fmt.Errorf("%s: PutRolePolicy: %w", id, err)
		}
		d.physical[id] = scalar(props["RoleName"]) + "|" + scalar(props["PolicyName"])
	case "AWS::Logs::MetricFilter":
		// CloudFormation lists a transformation's dimensions as {Key,
		// Value} items; the API takes a map.
		for _, tr := range asList(props["MetricTransformations"]) {
			if m := asMap(tr); m["Dimensions"] != nil {
				dims := map[string]any{}
				for _, d := range asList(m["Dimensions"]) {
					dims[scalar(asMap(d)["Key"])] = asMap(d)["Value"]
				}
				m["Dimensions"] = dims
			}
		}
		in := &cloudwatchlogs.PutMetricFilterInput{}
		if err := decodeInto(props, in); err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		in.FilterName = aws.String(cmpOr(aws.ToString(in.FilterName), name))
		if _, err := d.c.logs.PutMetricFilter(ctx, in); err != nil {
			return fmt.Errorf("%s: PutMetricFilter: %w", id, err)
		}
		d.physical[id] = aws.ToString(in.LogGroupName) + "|" + aws.ToString(in.FilterName)
	case "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy":
		doc, err := json.Marshal(props["PolicyDocument"])
		if err != nil {
			return err
		}
		targets := asList(props["Queues"])
		if r.Type == "AWS::SNS::TopicPolicy" {
			targets = asList(props["Topics"])
		}
		for _, target := range targets {
			if r.Type == "AWS::SQS::QueuePolicy" {
				_, err = d.c.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(scalar(target)),
					Attributes: map[string]string{"Policy": string(doc)}})
			} else {
				_, err = d.c.sns.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: aws.String(scalar(target)),
					AttributeName: aws.String("Policy"), AttributeValue: aws.String(string(doc))})
			}
			if err != nil {
				return fmt.Errorf("%s: set the policy of %v: %w", id, target, err)
			}
		}
		d.physical[id] = name
	default:
		d.t.Fatalf("moto's CloudFormation skipped %s (%s), and this test has no way to create one: add it to createDirect", id, r.Type)
	}
	d.types[id] = r.Type
	d.direct[id] = true
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ref is CloudFormation's Ref of a resource that exists.
func (d *deployed) ref(id string) (any, error) {
	p, ok := d.physical[id]
	if !ok {
		return nil, fmt.Errorf("Ref %s: not created (yet)", id)
	}
	return p, nil
}

// getAtt answers the attributes the template uses, from the APIs.
func (d *deployed) getAtt(id, attr string) (any, error) {
	ctx := context.Background()
	p, ok := d.physical[id]
	if !ok {
		return nil, fmt.Errorf("GetAtt %s.%s: not created (yet)", id, attr)
	}
	key := d.types[id] + "." + attr
	switch key {
	case "AWS::SQS::Queue.Arn":
		out, err := d.c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(p),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			return nil, err
		}
		return out.Attributes["QueueArn"], nil
	case "AWS::SQS::Queue.QueueName":
		return p[strings.LastIndex(p, "/")+1:], nil
	case "AWS::Lambda::Function.Arn":
		out, err := d.c.fn.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(p)})
		if err != nil {
			return nil, err
		}
		return aws.ToString(out.Configuration.FunctionArn), nil
	case "AWS::IAM::Role.Arn":
		out, err := d.c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(p)})
		if err != nil {
			return nil, err
		}
		return aws.ToString(out.Role.Arn), nil
	case "AWS::Logs::LogGroup.Arn":
		out, err := d.c.logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(p)})
		if err != nil {
			return nil, err
		}
		for _, g := range out.LogGroups {
			if aws.ToString(g.LogGroupName) == p {
				// CloudFormation's Arn of a log group ends in ":*", as
				// DescribeLogGroups' does; moto's GetAtt leaves it out.
				return strings.TrimSuffix(aws.ToString(g.Arn), ":*"), nil
			}
		}
		return nil, fmt.Errorf("log group %s not found", p)
	case "AWS::SNS::Topic.TopicName", "AWS::StepFunctions::StateMachine.Name":
		return p[strings.LastIndex(p, ":")+1:], nil
	case "AWS::Events::Rule.Arn":
		return "arn:aws:events:" + testbed.Region + ":" + d.account + ":rule/" + p, nil
	}
	if attr == "Arn" && strings.HasPrefix(p, "arn:") {
		return p, nil
	}
	return nil, fmt.Errorf("GetAtt %s (%s): this test does not know the attribute; add it to deployed.getAtt", id, key)
}

// check compares one resource with what the template asks for.
func (d *deployed) check(t *testing.T, id string, r cfnResource) {
	ctx := context.Background()
	props, err := d.props(id, r)
	if err != nil {
		t.Fatal(err)
	}
	p := d.physical[id]
	switch r.Type {
	case "AWS::Lambda::Function":
		out, err := d.c.fn.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(p)})
		if err != nil {
			t.Fatal(err)
		}
		f := out.Configuration
		code := asMap(props["Code"])
		want := map[string]string{
			"Runtime": "provided.al2023", "Handler": "bootstrap",
			"MemorySize": scalar(props["MemorySize"]), "Timeout": scalar(props["Timeout"]), "Role": scalar(props["Role"]),
			"CodeSha256": d.zipSHA[scalar(code["S3Key"])],
		}
		got := map[string]string{
			"Runtime": string(f.Runtime), "Handler": aws.ToString(f.Handler),
			"MemorySize": fmt.Sprint(aws.ToInt32(f.MemorySize)), "Timeout": fmt.Sprint(aws.ToInt32(f.Timeout)),
			"Role": aws.ToString(f.Role), "CodeSha256": aws.ToString(f.CodeSha256),
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("function %s\n got %v\nwant %v", p, got, want)
		}
		wantEnv := map[string]string{}
		for k, v := range asMap(asMap(props["Environment"])["Variables"]) {
			wantEnv[k] = scalar(v)
		}
		gotEnv := map[string]string{}
		if f.Environment != nil {
			gotEnv = f.Environment.Variables
		}
		if len(wantEnv) > 0 || len(gotEnv) > 0 {
			if !reflect.DeepEqual(gotEnv, wantEnv) {
				t.Errorf("environment\n got %v\nwant %v", gotEnv, wantEnv)
			}
		}
		vpc := asMap(props["VpcConfig"])
		var gotSubnets, gotSGs []string
		if f.VpcConfig != nil {
			gotSubnets, gotSGs = f.VpcConfig.SubnetIds, f.VpcConfig.SecurityGroupIds
		}
		if w, g := strings.Split(scalar(vpc["SubnetIds"]), ","), gotSubnets; vpc != nil && !reflect.DeepEqual(g, w) || vpc == nil && len(g) > 0 {
			t.Errorf("subnets %q, want %v", g, vpc["SubnetIds"])
		}
		if w, g := strings.Split(scalar(vpc["SecurityGroupIds"]), ","), gotSGs; vpc != nil && !reflect.DeepEqual(g, w) || vpc == nil && len(g) > 0 {
			t.Errorf("security groups %q, want %v", g, vpc["SecurityGroupIds"])
		}
	case "AWS::IAM::Role":
		out, err := d.c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(p)})
		if err != nil {
			t.Fatal(err)
		}
		trust, err := decodeDocument(aws.ToString(out.Role.AssumeRolePolicyDocument))
		if err != nil {
			t.Fatalf("trust policy: %v", err)
		}
		if want := normalize(props["AssumeRolePolicyDocument"]); !reflect.DeepEqual(trust, want) {
			t.Errorf("trust policy\n got %v\nwant %v", trust, want)
		}
		got, err := rolePolicies(ctx, d.c.iam, p)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{}
		for _, pol := range asList(props["Policies"]) {
			m := asMap(pol)
			want[scalar(m["PolicyName"])] = normalize(m["PolicyDocument"])
		}
		// Inline policies may also come from AWS::IAM::Policy and
		// AWS::IAM::RolePolicy resources naming the role.
		for pid, pr := range d.tmpl.Resources {
			if _, made := d.physical[pid]; !made || pr.Type != "AWS::IAM::Policy" && pr.Type != "AWS::IAM::RolePolicy" {
				continue
			}
			pp, err := d.props(pid, pr)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(strings.Split(scalar(pp["Roles"]), ","), p) || scalar(pp["RoleName"]) == p {
				want[scalar(pp["PolicyName"])] = normalize(pp["PolicyDocument"])
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("role policies\n got %v\nwant %v", got, want)
		}
	case "AWS::Logs::LogGroup":
		out, err := d.c.logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(p)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.LogGroups) != 1 || aws.ToString(out.LogGroups[0].LogGroupName) != scalar(props["LogGroupName"]) {
			t.Fatalf("log group %s: %v, want %v", p, out.LogGroups, props["LogGroupName"])
		}
		if got := fmt.Sprint(aws.ToInt32(out.LogGroups[0].RetentionInDays)); got != scalar(props["RetentionInDays"]) {
			t.Errorf("retention %s days, want %v", got, props["RetentionInDays"])
		}
	case "AWS::SQS::Queue":
		out, err := d.c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(p),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range props {
			got := out.Attributes[k]
			if m, ok := v.(map[string]any); ok { // RedrivePolicy: JSON in the attribute
				var g any
				if err := json.Unmarshal([]byte(got), &g); err != nil || !reflect.DeepEqual(normalize(g), normalize(m)) {
					t.Errorf("queue %s = %q, want %v", k, got, v)
				}
				continue
			}
			if got != scalar(v) {
				t.Errorf("queue %s = %q, want %v", k, got, v)
			}
		}
	case "AWS::SNS::Topic":
		out, err := d.c.sns.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(p)})
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, s := range out.Subscriptions {
			got = append(got, aws.ToString(s.Protocol)+":"+aws.ToString(s.Endpoint))
		}
		for _, s := range asList(props["Subscription"]) {
			want = append(want, scalar(asMap(s)["Protocol"])+":"+scalar(asMap(s)["Endpoint"]))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("subscriptions %q, want %q", got, want)
		}
	case "AWS::CloudWatch::Alarm":
		out, err := d.c.cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{p}})
		if err != nil || len(out.MetricAlarms) != 1 {
			t.Fatalf("alarm %s: %v %v", p, out, err)
		}
		a := out.MetricAlarms[0]
		d.checkTargets(t, id, a.AlarmActions)
		if len(a.AlarmActions) == 0 && (d.view.params["AlarmEmail"] != "" || d.view.params["AlarmTopicArn"] != "") {
			t.Errorf("alarm %s notifies no one", id)
		}
		// The alarm's metrics, from the template (moto does not read back
		// the metric math queries).
		if ns := scalar(props["Namespace"]); ns != "" {
			dims := map[string]string{}
			for _, dm := range asList(props["Dimensions"]) {
				dims[scalar(asMap(dm)["Name"])] = scalar(asMap(dm)["Value"])
			}
			d.checkMetric(t, "alarm "+id, ns, scalar(props["MetricName"]), dims)
		}
		for _, q := range asList(props["Metrics"]) {
			if m := asMap(asMap(asMap(q)["MetricStat"])["Metric"]); m != nil {
				dims := map[string]string{}
				for _, dm := range asList(m["Dimensions"]) {
					dims[scalar(asMap(dm)["Name"])] = scalar(asMap(dm)["Value"])
				}
				d.checkMetric(t, "alarm "+id, scalar(m["Namespace"]), scalar(m["MetricName"]), dims)
			}
		}
	case "AWS::Scheduler::Schedule":
		out, err := d.c.sched.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(p)})
		if err != nil {
			t.Fatal(err)
		}
		d.checkTargets(t, id, []string{aws.ToString(out.Target.Arn), aws.ToString(out.Target.RoleArn), aws.ToString(out.Target.DeadLetterConfig.Arn)})
		var event map[string]any
		if err := json.Unmarshal([]byte(aws.ToString(out.Target.Input)), &event); err != nil {
			t.Errorf("schedule input %q: %v", aws.ToString(out.Target.Input), err)
		}
	case "AWS::StepFunctions::StateMachine":
		out, err := d.c.sfn.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(p)})
		if err != nil {
			t.Fatal(err)
		}
		text := aws.ToString(out.Definition)
		if text == "" && props["Definition"] != nil {
			// moto's CloudFormation reads DefinitionString only: the test
			// puts the template's Definition in place as CloudFormation
			// does, substitutions applied.
			b, err := json.Marshal(props["Definition"])
			if err != nil {
				t.Fatal(err)
			}
			text = string(b)
			for name, v := range asMap(props["DefinitionSubstitutions"]) {
				text = strings.ReplaceAll(text, "${"+name+"}", scalar(v))
			}
			if _, err := d.c.sfn.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{StateMachineArn: aws.String(p), Definition: aws.String(text)}); err != nil {
				t.Fatalf("UpdateStateMachine with the template's definition: %v", err)
			}
			if out, err = d.c.sfn.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(p)}); err != nil {
				t.Fatal(err)
			}
		}
		var def map[string]any
		if err := json.Unmarshal([]byte(aws.ToString(out.Definition)), &def); err != nil || def["StartAt"] == nil {
			t.Errorf("definition %q: %v", aws.ToString(out.Definition), err)
		}
		if aws.ToString(out.RoleArn) != scalar(props["RoleArn"]) {
			t.Errorf("role %s, want %v", aws.ToString(out.RoleArn), props["RoleArn"])
		}
		// Every substitution is made, with an ARN of the stack.
		for name, v := range asMap(props["DefinitionSubstitutions"]) {
			if strings.Contains(aws.ToString(out.Definition), "${"+name+"}") {
				t.Errorf("definition still holds ${%s}", name)
			}
			d.checkTargets(t, id, []string{scalar(v)})
		}
	case "AWS::CloudWatch::Dashboard":
		out, err := d.c.cw.GetDashboard(ctx, &cloudwatch.GetDashboardInput{DashboardName: aws.String(p)})
		if err != nil {
			t.Fatal(err)
		}
		checkDashboard(t, aws.ToString(out.DashboardBody), d)
	}
}

// checkTargets fails when an ARN a schedule or alarm names is not a
// function, role, queue or topic that exists.
func (d *deployed) checkTargets(t *testing.T, id string, arns []string) {
	ctx := context.Background()
	for _, arn := range arns {
		var err error
		switch parts := strings.Split(arn, ":"); {
		case len(parts) < 6:
			err = fmt.Errorf("not an ARN")
		case parts[2] == "lambda":
			_, err = d.c.fn.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(arn)})
		case parts[2] == "iam":
			_, err = d.c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(parts[5][strings.LastIndex(parts[5], "/")+1:])})
		case parts[2] == "sqs":
			_, err = d.c.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(parts[5])})
		case parts[2] == "sns":
			_, err = d.c.sns.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(arn)})
		case parts[2] == "states":
			_, err = d.c.sfn.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
		default:
			err = fmt.Errorf("this test does not check %s ARNs", parts[2])
		}
		if err != nil {
			t.Errorf("%s names %s: %v", id, arn, err)
		}
	}
}

// rolePolicies reads a role's inline policies as moto's CloudFormation
// created them.
func rolePolicies(ctx context.Context, c *iam.Client, role string) (map[string]any, error) {
	names, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(role)})
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, n := range names.PolicyNames {
		p, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(n)})
		if err != nil {
			return nil, err
		}
		doc, err := decodeDocument(aws.ToString(p.PolicyDocument))
		if err != nil {
			return nil, fmt.Errorf("role %s policy %s: %w", role, n, err)
		}
		// moto leaves null where an Fn::If gave AWS::NoValue in a
		// Statement list; CloudFormation drops the item.
		if m, ok := doc.(map[string]any); ok {
			if l, ok := m["Statement"].([]any); ok {
				m["Statement"] = slices.DeleteFunc(l, func(s any) bool { return s == nil })
			}
		}
		out[n] = doc
	}
	return out, nil
}

// decodeDocument reads a policy document as IAM returns it: URL-encoded
// JSON, or (moto, for what its CloudFormation created) a Python repr.
func decodeDocument(s string) (any, error) {
	if u, err := url.QueryUnescape(s); err == nil && !strings.HasPrefix(strings.TrimSpace(s), "{'") {
		s = u
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err == nil {
		return normalize(v), nil
	}
	v, err := parsePyLiteral(s)
	if err != nil {
		return nil, err
	}
	return normalize(v), nil
}

// normalize makes documents comparable: numbers and scalars as strings.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := []any{}
		for _, e := range v {
			out = append(out, normalize(e))
		}
		return out
	case nil:
		return nil
	}
	return fmt.Sprint(v)
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// network makes a VPC, two subnets and a security group for the upload
// function to run in.
func network(t *testing.T, c *clients) (subnets, groups string) {
	t.Helper()
	ctx := context.Background()
	vpc, err := c.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.20.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, cidr := range []string{"10.20.1.0/24", "10.20.2.0/24"} {
		s, err := c.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String(cidr)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(s.Subnet.SubnetId))
	}
	sg, err := c.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: aws.String("awsutils-upload"), Description: aws.String("upload function"), VpcId: vpc.Vpc.VpcId,
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup,
			Tags: []ec2types.Tag{{Key: aws.String("app"), Value: aws.String("awsutils")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(ids, ","), aws.ToString(sg.GroupId)
}

// TestDeployStack creates, updates and deletes the stack with parameter
// sets that between them turn every optional part on and off.
func TestDeployStack(t *testing.T) {
	testbed.Require(t)
	tests := []struct {
		name   string
		params func(c *clients) map[string]string
		// update changes parameters for an UpdateStack: values only, as
		// moto 5.2.5 neither removes a resource whose condition turned
		// false nor updates a role's policies or a function's VpcConfig.
		update map[string]string
	}{
		{"both-jobs-mail", func(*clients) map[string]string {
			return map[string]string{
				"StartConfigKeys": "dev-env,batch-servers", "StopConfigKeys": "dev-env",
				"UploadBucket": "dest-bucket", "UploadKeyPrefix": "folder1/folder2", "AlarmEmail": "ops@example.com",
			}
		}, map[string]string{"StartStopMemorySize": "256", "UploadTimeout": "600", "UploadSchedule": ""}},
		{"upload-vpc-efs-kms-topic", func(c *clients) map[string]string {
			subnets, groups := network(t, c)
			topic, err := c.sns.CreateTopic(context.Background(), &sns.CreateTopicInput{Name: aws.String("ops")})
			if err != nil {
				t.Fatal(err)
			}
			return map[string]string{
				"StartStopCodeKey": "", "UploadFunctionName": "nightly-upload", "UploadBucket": "dest-bucket",
				"UploadRemoveSrc": "true", "UploadSubnetIds": subnets, "UploadSecurityGroupIds": groups,
				"EfsAccessPointArn": "arn:aws:elasticfilesystem:us-east-1:" + "%ACCOUNT%" + ":access-point/fsap-0123456789abcdef0",
				"UploadKmsKeyArn":   "arn:aws:kms:us-east-1:%ACCOUNT%:key/1234abcd-12ab-34cd-56ef-1234567890ab",
				"AlarmTopicArn":     aws.ToString(topic.TopicArn), "UploadSchedule": "cron(15 * * * ? *)", "ScheduleTimezone": "UTC",
			}
		}, map[string]string{"UploadMemorySize": "2048", "UploadSrcDir": "/mnt/efs/outbox"}},
		{"upload-distributed", func(*clients) map[string]string {
			return map[string]string{
				"StartStopCodeKey": "", "UploadBucket": "dest-bucket", "UploadKeyPrefix": "batch/out", "UploadMode": "distributed",
				"UploadMaxConcurrency": "8", "UploadBatchFiles": "500", "AlarmEmail": "ops@example.com",
			}
		}, map[string]string{"UploadMaxConcurrency": "16"}},
		{"startstop-named-region", func(*clients) map[string]string {
			return map[string]string{
				"UploadCodeKey": "", "StartStopFunctionName": "ec2_stop_dev-env", "TargetRegion": "ap-northeast-1",
				"StartSchedule": "", "StopConfigKeys": "dev-env", "LogRetentionDays": "7", "AsyncRetryAttempts": "2",
				"KeepStoppedEvents": "true",
			}
		}, map[string]string{"StartSchedule": "cron(0 7 ? * * *)", "StartConfigKeys": "dev-env"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := testbed.StartMotoAccount(t)
			c := newClients(m.Config(t))
			params, sums := uploadCode(t, c, "awsutils-code-"+m.Account)
			for k, v := range tt.params(c) {
				params[k] = strings.ReplaceAll(v, "%ACCOUNT%", m.Account)
			}
			d := deploy(t, c, m.Account, "awsutils-"+tt.name, params, sums)
			if t.Failed() {
				return
			}
			t.Run("update", func(t *testing.T) {
				for k, v := range tt.update {
					params[k] = v
				}
				d.t = t
				d.update(params)
			})
			t.Run("delete", func(t *testing.T) { d.t = t; d.delete() })
		})
	}
}

// update applies new parameters: moto updates what it made; what the test
// made for moto is replaced the same way.
func (d *deployed) update(params map[string]string) {
	t, ctx := d.t, context.Background()
	d.deleteDirect()
	_, err := d.c.cfn.UpdateStack(ctx, &cloudformation.UpdateStackInput{
		StackName: aws.String(d.name), TemplateBody: aws.String(d.body), Parameters: stackParams(params),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
	})
	if err != nil {
		t.Fatalf("UpdateStack: %v", err)
	}
	d.settle(params, cfntypes.StackStatusUpdateComplete)
}

// deleteDirect removes what the test created for moto.
func (d *deployed) deleteDirect() {
	t, ctx := d.t, context.Background()
	for id := range d.direct {
		var err error
		switch p := d.physical[id]; d.types[id] {
		case "AWS::Scheduler::Schedule":
			_, err = d.c.sched.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String(p)})
		case "AWS::CloudWatch::Alarm":
			_, err = d.c.cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{p}})
		case "AWS::Lambda::EventInvokeConfig":
			_, err = d.c.fn.DeleteFunctionEventInvokeConfig(ctx, &lambda.DeleteFunctionEventInvokeConfigInput{FunctionName: aws.String(p)})
		case "AWS::SNS::Subscription":
			_, err = d.c.sns.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: aws.String(p)})
		case "AWS::IAM::RolePolicy":
			role, policy, _ := strings.Cut(p, "|")
			_, err = d.c.iam.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(policy)})
		case "AWS::Logs::MetricFilter":
			group, filter, _ := strings.Cut(p, "|")
			_, err = d.c.logs.DeleteMetricFilter(ctx, &cloudwatchlogs.DeleteMetricFilterInput{LogGroupName: aws.String(group), FilterName: aws.String(filter)})
		}
		if err != nil {
			t.Errorf("delete %s: %v", id, err)
		}
	}
}

// delete deletes the stack and checks that its functions and roles went.
func (d *deployed) delete() {
	t, ctx := d.t, context.Background()
	d.deleteDirect()
	if _, err := d.c.cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(d.name)}); err != nil {
		t.Fatal(err)
	}
	for id, p := range d.physical {
		if d.direct[id] {
			continue
		}
		var err error
		switch d.types[id] {
		case "AWS::Lambda::Function":
			_, err = d.c.fn.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(p)})
		case "AWS::IAM::Role":
			_, err = d.c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(p)})
		case "AWS::SQS::Queue":
			_, err = d.c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(p)})
		default:
			continue
		}
		if err == nil {
			t.Errorf("%s (%s) is still there after DeleteStack", id, p)
		}
	}
}

// emitted are the metrics the functions write (pinned by TestMetrics in
// cmd/startstop-lambda and cmd/s3upload-lambda), by namespace; AWS/Lambda's
// are the ones the dashboard and alarms use.
var emitted = map[string][]string{
	"awsutils": {"ResourcesChanged", "ResourcesUnchanged", "ResourcesFailed", "ResourcesUnsupported",
		"FilesUploaded", "FilesRemoved", "FilesKept", "FilesFailed", "FilesRemaining", "BytesUploaded", "Duration"},
	"AWS/Lambda": {"Errors", "Invocations", "Duration"},
	"AWS/SQS":    {"ApproximateNumberOfMessagesVisible"},
	"AWS/States": {"ExecutionsFailed"},
}

// checkMetric fails unless namespace/name is a metric that exists, with
// the dimension its namespace uses naming a function, queue or state
// machine of the stack.
func (d *deployed) checkMetric(t *testing.T, where, namespace, name string, dims map[string]string) {
	t.Helper()
	// A metric filter of the stack publishes its own metrics.
	for id, r := range d.tmpl.Resources {
		if _, made := d.physical[id]; !made || r.Type != "AWS::Logs::MetricFilter" {
			continue
		}
		props, err := d.props(id, r)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range asList(props["MetricTransformations"]) {
			m := asMap(tr)
			if scalar(m["MetricNamespace"]) != namespace || scalar(m["MetricName"]) != name {
				continue
			}
			want := map[string]string{}
			for _, dm := range asList(m["Dimensions"]) {
				want[scalar(asMap(dm)["Key"])] = scalar(asMap(dm)["Value"])
			}
			if len(want) != len(dims) {
				t.Errorf("%s: metric %s %s has dimensions %v; metric filter %s publishes %v", where, namespace, name, dims, id, want)
			}
			for k := range want {
				if _, ok := dims[k]; !ok {
					t.Errorf("%s: metric %s %s lacks dimension %s of metric filter %s", where, namespace, name, k, id)
				}
			}
			return
		}
	}
	if !slices.Contains(emitted[namespace], name) {
		t.Errorf("%s: metric %s %s is not one the functions or AWS publish", where, namespace, name)
	}
	want := map[string]string{"awsutils": "function", "AWS/Lambda": "FunctionName", "AWS/SQS": "QueueName", "AWS/States": "StateMachineArn"}[namespace]
	v, ok := dims[want]
	if len(dims) != 1 || !ok {
		t.Errorf("%s: metric %s %s has dimensions %v, want only %s", where, namespace, name, dims, want)
	}
	for id, p := range d.physical {
		if p == v || strings.HasSuffix(p, "/"+v) {
			if typ := d.types[id]; typ == "AWS::Lambda::Function" || typ == "AWS::SQS::Queue" || typ == "AWS::StepFunctions::StateMachine" {
				return
			}
		}
	}
	t.Errorf("%s: metric %s %s names %s=%q, not a function or queue of the stack", where, namespace, name, want, v)
}

// checkDashboard checks that the body is a dashboard whose metric widgets
// show only metrics that exist, of this stack's functions.
func checkDashboard(t *testing.T, body string, d *deployed) {
	var dash struct {
		Widgets []struct {
			Type       string `json:"type"`
			Properties struct {
				Title   string  `json:"title"`
				Region  string  `json:"region"`
				Metrics [][]any `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	if err := dec.Decode(&dash); err != nil {
		t.Fatalf("dashboard body: %v\n%s", err, body)
	}
	var shown []string
	for _, w := range dash.Widgets {
		if w.Type != "metric" {
			continue
		}
		if w.Properties.Region != testbed.Region {
			t.Errorf("widget %q: region %q", w.Properties.Title, w.Properties.Region)
		}
		for _, row := range w.Properties.Metrics {
			var s []string
			for _, e := range row {
				if str, ok := e.(string); ok {
					s = append(s, str)
				}
			}
			if len(s) != 4 {
				t.Errorf("widget %q: metric %v: want namespace, name and one dimension", w.Properties.Title, row)
				continue
			}
			d.checkMetric(t, "dashboard widget "+w.Properties.Title, s[0], s[1], map[string]string{s[2]: s[3]})
			shown = append(shown, s[0]+" "+s[1])
		}
	}
	for _, fn := range []struct{ id, metric string }{
		{"StartStopFunction", "awsutils ResourcesFailed"}, {"UploadFunction", "awsutils FilesFailed"},
		{"UploadFunction", "awsutils FilesRemaining"}, {"UploadFunction", "AWS/Lambda Errors"}, {"StartStopFunction", "AWS/Lambda Duration"},
	} {
		if _, ok := d.physical[fn.id]; ok && !slices.Contains(shown, fn.metric) {
			t.Errorf("dashboard lacks %s for %s", fn.metric, fn.id)
		}
	}
}

// TestCreateDirect creates resource types the template does not use yet
// but moto's CloudFormation skips, as another template change may add
// them: queue and topic policies, a subscription.
func TestCreateDirect(t *testing.T) {
	testbed.Require(t)
	t.Parallel()
	m := testbed.StartMotoAccount(t)
	c := newClients(m.Config(t))
	ctx := context.Background()
	q, err := c.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("q")})
	if err != nil {
		t.Fatal(err)
	}
	topic, err := c.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("tp")})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &cfnTemplate{Resources: map[string]cfnResource{"Queue": {Type: "AWS::SQS::Queue"}, "Topic": {Type: "AWS::SNS::Topic"}}}
	d := &deployed{t: t, c: c, name: "direct", tmpl: tmpl, account: m.Account,
		physical: map[string]string{"Queue": aws.ToString(q.QueueUrl), "Topic": aws.ToString(topic.TopicArn)},
		types:    map[string]string{"Queue": "AWS::SQS::Queue", "Topic": "AWS::SNS::Topic"}, direct: map[string]bool{}}
	d.view = newStackView(t, tmpl, nil, d.name, m.Account, testbed.Region)
	d.view.ref, d.view.getAtt = d.ref, d.getAtt
	doc := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Principal": map[string]any{"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
		"Resource": map[string]any{"Fn::GetAtt": []any{"Queue", "Arn"}}}}}
	for id, r := range map[string]cfnResource{
		"QueuePolicy":  {Type: "AWS::SQS::QueuePolicy", Properties: map[string]any{"Queues": []any{map[string]any{"Ref": "Queue"}}, "PolicyDocument": doc}},
		"TopicPolicy":  {Type: "AWS::SNS::TopicPolicy", Properties: map[string]any{"Topics": []any{map[string]any{"Ref": "Topic"}}, "PolicyDocument": doc}},
		"Subscription": {Type: "AWS::SNS::Subscription", Properties: map[string]any{"TopicArn": map[string]any{"Ref": "Topic"}, "Protocol": "sqs", "Endpoint": map[string]any{"Fn::GetAtt": []any{"Queue", "Arn"}}}},
	} {
		if err := d.createDirect(id, r); err != nil {
			t.Fatal(err)
		}
	}
	qa, err := c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNamePolicy}})
	if err != nil || !strings.Contains(qa.Attributes["Policy"], "arn:aws:sqs:") {
		t.Errorf("queue policy %v, %v", qa, err)
	}
	ta, err := c.sns.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: topic.TopicArn})
	if err != nil || !strings.Contains(ta.Attributes["Policy"], "sqs:SendMessage") {
		t.Errorf("topic policy %v, %v", ta, err)
	}
	subs, err := c.sns.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: topic.TopicArn})
	if err != nil || len(subs.Subscriptions) != 1 || aws.ToString(subs.Subscriptions[0].Protocol) != "sqs" {
		t.Errorf("subscriptions %v, %v", subs, err)
	}
	d.deleteDirect()
}
