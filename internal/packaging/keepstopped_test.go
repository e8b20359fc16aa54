package packaging

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
	"github.com/awsutils/awsutils/startstop"
)

// The keep_stopped rule's pattern, as the template has it, lets through
// exactly RDS's 7-day restart events of DB instances and clusters: moto's
// EventBridge routes sample events to a rule with that pattern and an SQS
// target, and the test reads what arrived.
func TestTemplateKeepStoppedPattern(t *testing.T) {
	testbed.Require(t)
	t.Parallel()
	var pattern any
	if err := get(t, loadTemplate(t), "Resources", "KeepStoppedRule", "Properties", "EventPattern").Decode(&pattern); err != nil {
		t.Fatal(err)
	}
	pj, err := json.Marshal(pattern)
	if err != nil {
		t.Fatal(err)
	}
	m := testbed.StartMotoAccount(t)
	cfg := m.Config(t)
	ctx := context.Background()
	q := awsclient.SQS(cfg)
	qo, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("rule-target")})
	if err != nil {
		t.Fatal(err)
	}
	qa, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: qo.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
	if err != nil {
		t.Fatal(err)
	}
	eb := eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(m.Endpoint) })
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("keep-stopped"), EventPattern: aws.String(string(pj))}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("keep-stopped"),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(qa.Attributes["QueueArn"])}}}); err != nil {
		t.Fatal(err)
	}
	type sample struct {
		name, source, detailType, eventID string
		want                              bool
	}
	samples := []sample{
		{"instance restarted", "aws.rds", startstop.DetailTypeInstance, startstop.EventInstanceRestarted, true},
		{"cluster restarted", "aws.rds", startstop.DetailTypeCluster, startstop.EventClusterRestarted, true},
		{"instance backed up", "aws.rds", startstop.DetailTypeInstance, "RDS-EVENT-0002", false},
		{"snapshot event", "aws.rds", "RDS DB Snapshot Event", startstop.EventInstanceRestarted, false},
		{"another source", "aws.ec2", startstop.DetailTypeInstance, startstop.EventInstanceRestarted, false},
	}
	var entries []ebtypes.PutEventsRequestEntry
	for _, s := range samples {
		detail, _ := json.Marshal(map[string]any{"EventID": s.eventID, "SourceIdentifier": s.name, "EventCategories": []string{"notification"}})
		entries = append(entries, ebtypes.PutEventsRequestEntry{Source: aws.String(s.source), DetailType: aws.String(s.detailType), Detail: aws.String(string(detail))})
	}
	out, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
	if err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("put events: %v %+v", err, out)
	}
	var got []string
	for {
		r, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: qo.QueueUrl, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			break
		}
		for _, msg := range r.Messages {
			var ev startstop.RDSEvent
			if err := json.Unmarshal([]byte(aws.ToString(msg.Body)), &ev); err != nil {
				t.Fatal(err)
			}
			got = append(got, ev.Detail.SourceIdentifier)
			if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: qo.QueueUrl, ReceiptHandle: msg.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	slices.Sort(got)
	if want := []string{"cluster restarted", "instance restarted"}; !slices.Equal(got, want) {
		t.Errorf("delivered %q, want %q (pattern %s)", got, want, pj)
	}
}

// The keep_stopped resources add to the function's role only the retry
// queue's send and the mapping's reads, on that queue alone, and let only
// the rule put events into the failure queue.
func TestTemplateKeepStoppedPermissions(t *testing.T) {
	tmpl := loadTemplate(t)
	got := map[string][]string{}
	actions(get(t, tmpl, "Resources", "KeepStoppedPolicy", "Properties", "PolicyDocument"), got)
	want := map[string][]string{}
	for _, a := range []string{"sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage"} {
		want[a] = []string{"KeepStoppedRetryQueue.Arn"}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("KeepStoppedPolicy\n got %v\nwant %v", got, want)
	}
	if r := get(t, tmpl, "Resources", "KeepStoppedPolicy", "Properties", "RoleName"); r.Tag != "!Ref" || r.Value != "StartStopRole" {
		t.Errorf("KeepStoppedPolicy is on %s %s, want the start/stop role", r.Tag, r.Value)
	}
	qp := get(t, tmpl, "Resources", "KeepStoppedFailureQueuePolicy", "Properties", "PolicyDocument", "Statement")
	if len(qp.Content) != 1 {
		t.Fatalf("failure queue policy has %d statements", len(qp.Content))
	}
	st := qp.Content[0]
	if p := get(t, st, "Principal", "Service"); p.Value != "events.amazonaws.com" {
		t.Errorf("failure queue policy principal %s", p.Value)
	}
	if c := get(t, st, "Condition", "ArnEquals", "aws:SourceArn"); c.Tag != "!GetAtt" || c.Value != "KeepStoppedRule.Arn" {
		t.Errorf("failure queue policy condition %s %s, want the rule's ARN", c.Tag, c.Value)
	}
	// Every keep_stopped resource is optional by the parameter.
	res := get(t, tmpl, "Resources")
	for i := 0; i+1 < len(res.Content); i += 2 {
		name := res.Content[i].Value
		if strings.HasPrefix(name, "KeepStopped") {
			if c := get(t, res.Content[i+1], "Condition"); c.Value != "KeepStoppedEnabled" {
				t.Errorf("%s: condition %s", name, c.Value)
			}
		}
	}
}
