package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/testbed"
	"github.com/awsutils/awsutils/startstop"
)

// rdsEvent is an RDS event as EventBridge delivers it.
func rdsEvent(account, eventID, id string) string {
	detailType, sourceType, arnPart := startstop.DetailTypeInstance, "DB_INSTANCE", "db"
	if eventID == startstop.EventClusterRestarted {
		detailType, sourceType, arnPart = startstop.DetailTypeCluster, "CLUSTER", "cluster"
	}
	arn := fmt.Sprintf("arn:aws:rds:%s:%s:%s:%s", testbed.Region, account, arnPart, id)
	ev := map[string]any{
		"version": "0", "id": "68f6e973-1a0c-d37b-f2f2-94a7f62ffd4e", "detail-type": detailType, "source": "aws.rds",
		"account": account, "time": "2026-12-01T12:00:00Z", "region": testbed.Region, "resources": []string{arn},
		"detail": map[string]any{
			"EventCategories": []string{"notification"}, "SourceType": sourceType, "SourceArn": arn,
			"Date": "2026-12-01T12:00:00.000Z", "SourceIdentifier": id, "EventID": eventID,
			"Message": "DB instance is being started due to it exceeding the maximum allowed time being stopped.",
		},
	}
	b, _ := json.Marshal(ev)
	return string(b)
}

// sqsBatch is what an SQS event source mapping sends for bodies.
func sqsBatch(bodies ...string) string {
	var recs []map[string]any
	for i, b := range bodies {
		recs = append(recs, map[string]any{"messageId": fmt.Sprint(i), "eventSource": "aws:sqs", "body": b,
			"eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:retry"})
	}
	b, _ := json.Marshal(map[string]any{"Records": recs})
	return string(b)
}

// The keep_stopped path through the Lambda emulator: AWS's restart event
// of a listed or tag-selected database stops it again; one not listed, or
// another event, is answered successfully without acting. A database not
// available yet is sent to the retry queue (its first-seen time carried)
// and stopped by the retry once available; 24 hours on, the function
// gives up with a failed invocation. moto's databases are available at
// once, so the proxy shows one as "starting" while the test says so.
func TestLambdaKeepStopped(t *testing.T) {
	t.Parallel()
	m := testbed.StartMotoAccount(t)
	_, rdsc := m.Clients(t)
	testbed.CreateDBInstance(t, rdsc, "pg-kept")
	testbed.CreateDBInstance(t, rdsc, "pg-tagged")
	testbed.CreateDBInstance(t, rdsc, "pg-free")
	testbed.CreateAuroraCluster(t, rdsc, "au-kept", "au-kept-1")
	ctx := context.Background()
	if _, err := rdsc.AddTagsToResource(ctx, &rds.AddTagsToResourceInput{
		ResourceName: aws.String("arn:aws:rds:" + testbed.Region + ":" + m.Account + ":db:pg-tagged"),
		Tags:         []rdstypes.Tag{{Key: aws.String("Keep"), Value: aws.String("stopped")}},
	}); err != nil {
		t.Fatal(err)
	}
	q := awsclient.SQS(m.Config(t))
	qo, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("keep-stopped-retry")})
	if err != nil {
		t.Fatal(err)
	}
	queue := aws.ToString(qo.QueueUrl)
	receive := func() []string {
		t.Helper()
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queue), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		var bodies []string
		for _, msg := range out.Messages {
			bodies = append(bodies, aws.ToString(msg.Body))
			if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queue), ReceiptHandle: msg.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
		return bodies
	}

	p := testbed.StartFaultProxy(t, m.Endpoint, testbed.Faults{})
	f := &fixture{moto: m, conf: writeFile(t, startstop.ConfigFile, fmt.Sprintf(`region_name: %s
keep_stopped: [dev]
dev:
  - type: rds.db_instance
    ids: [pg-kept]
  - type: rds.db_instance
    tags: {Keep: stopped}
  - type: rds.db_cluster
    ids: [au-kept]
other:
  - type: rds.db_instance
    ids: [pg-free]
`, testbed.Region))}
	l := f.lambda(t, map[string]string{"AWS_ENDPOINT_URL": p.Endpoint, "AWSUTILS_RETRY_QUEUE_URL": queue,
		"AWSUTILS_RETRY_DELAY": "0s", "AWSUTILS_KEEP_STOPPED_WAIT": "1ns"})

	// Available: stopped again, listed or selected.
	for _, c := range []struct{ eventID, id, from string }{
		{startstop.EventInstanceRestarted, "pg-kept", startstop.FromIDs},
		{startstop.EventInstanceRestarted, "pg-tagged", startstop.FromTags},
		{startstop.EventClusterRestarted, "au-kept", startstop.FromIDs},
	} {
		rep := report(t, l, rdsEvent(m.Account, c.eventID, c.id))
		if len(rep.Results) != 1 || rep.Results[0].ID != c.id || rep.Results[0].Outcome != startstop.Changed || rep.Results[0].From != c.from || rep.Retry != "" {
			t.Errorf("%s %s: %+v", c.eventID, c.id, rep)
		}
	}
	if s := testbed.DBInstanceStatus(t, rdsc, "pg-kept"); s != "stopped" {
		t.Errorf("pg-kept %s", s)
	}
	if s := testbed.DBInstanceStatus(t, rdsc, "pg-tagged"); s != "stopped" {
		t.Errorf("pg-tagged %s", s)
	}
	if s := testbed.DBClusterStatus(t, rdsc, "au-kept"); s != "stopped" {
		t.Errorf("au-kept %s", s)
	}

	// Not kept stopped, or not the restart event: answered, nothing done.
	p.ResetStats()
	for _, c := range []struct{ event, note string }{
		{rdsEvent(m.Account, startstop.EventInstanceRestarted, "pg-free"), "no keep_stopped key lists or selects it"},
		{rdsEvent(m.Account, "RDS-EVENT-0002", "pg-kept"), "is not one keep_stopped answers"},
		{rdsEvent(m.Account, startstop.EventClusterRestarted, "pg-kept"), "no keep_stopped key lists or selects it"},
	} {
		rep := report(t, l, c.event)
		if len(rep.Results) != 0 || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], c.note) {
			t.Errorf("%s: %+v", c.event, rep)
		}
	}
	if n := p.Stats().Ops["StopDBInstance"] + p.Stats().Ops["StopDBCluster"]; n != 0 {
		t.Errorf("%d stop calls for events not to act on", n)
	}
	if s := testbed.DBInstanceStatus(t, rdsc, "pg-free"); s != "available" {
		t.Errorf("pg-free %s", s)
	}

	// Not available yet: queued, retried while still starting, stopped by
	// the retry once available.
	if _, err := rdsc.StartDBInstance(ctx, &rds.StartDBInstanceInput{DBInstanceIdentifier: aws.String("pg-kept")}); err != nil {
		t.Fatal(err)
	}
	starting := func(op string, body []byte) []byte {
		if op != "DescribeDBInstances" {
			return body
		}
		return bytes.ReplaceAll(body, []byte("<DBInstanceStatus>available</DBInstanceStatus>"), []byte("<DBInstanceStatus>starting</DBInstanceStatus>"))
	}
	p.RewriteBodies(starting)
	p.ResetStats()
	rep := report(t, l, rdsEvent(m.Account, startstop.EventInstanceRestarted, "pg-kept"))
	if rep.Retry == "" || len(rep.Results) != 1 || rep.Results[0].Outcome != startstop.Unchanged || !strings.Contains(rep.Results[0].Message, "is starting") {
		t.Fatalf("starting: %+v", rep)
	}
	msgs := receive()
	if len(msgs) != 1 {
		t.Fatalf("%d retry messages, want 1", len(msgs))
	}
	var first retryMessage
	if err := json.Unmarshal([]byte(msgs[0]), &first); err != nil || first.Attempt != 2 || first.FirstSeen.IsZero() {
		t.Fatalf("retry message %s (%v)", msgs[0], err)
	}
	rep = report(t, l, sqsBatch(msgs[0]))
	if rep.Retry == "" {
		t.Fatalf("retry while starting: %+v", rep)
	}
	msgs = receive()
	var second retryMessage
	if len(msgs) != 1 || json.Unmarshal([]byte(msgs[0]), &second) != nil || second.Attempt != 3 || !second.FirstSeen.Equal(first.FirstSeen) {
		t.Fatalf("second retry message %q", msgs)
	}
	if n := p.Stats().Ops["StopDBInstance"]; n != 0 {
		t.Errorf("%d StopDBInstance calls while starting", n)
	}
	p.RewriteBodies(nil)
	rep = report(t, l, sqsBatch(msgs[0]))
	if rep.Retry != "" || len(rep.Results) != 1 || rep.Results[0].Outcome != startstop.Changed {
		t.Fatalf("retry once available: %+v", rep)
	}
	if s := testbed.DBInstanceStatus(t, rdsc, "pg-kept"); s != "stopped" {
		t.Errorf("pg-kept after the retry: %s", s)
	}
	if msgs := receive(); len(msgs) != 0 {
		t.Errorf("queued again after stopping: %q", msgs)
	}

	// 24 hours on and still not available: the invocation fails, so the
	// message goes to the failure queue, and the log says so for the
	// alarm's metric filter.
	if _, err := rdsc.StartDBInstance(ctx, &rds.StartDBInstanceInput{DBInstanceIdentifier: aws.String("pg-kept")}); err != nil {
		t.Fatal(err)
	}
	p.RewriteBodies(starting)
	old, _ := json.Marshal(retryMessage{FirstSeen: time.Now().Add(-GiveUpAfter - time.Minute), Attempt: 200,
		Event: json.RawMessage(rdsEvent(m.Account, startstop.EventInstanceRestarted, "pg-kept"))})
	_, err = l.Invoke(ctx, sqsBatch(string(old)))
	testbed.WantFunctionError(t, err, "ResourcesFailed", "keep_stopped gave up 24h1m0s after RDS restarted pg-kept")
	// The emulator forwards the function's output on its own schedule,
	// after the invocation's answer: wait for the line (the bound only
	// turns a missing line into a failure).
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for !strings.Contains(l.Log(), `"metric":"KeepStoppedGaveUp"`) {
		select {
		case <-wctx.Done():
			t.Fatalf("no KeepStoppedGaveUp log line:\n%s", l.Log())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if msgs := receive(); len(msgs) != 0 {
		t.Errorf("queued again after giving up: %q", msgs)
	}

	// A retry message that is not one fails as a bad request.
	_, err = l.Invoke(ctx, sqsBatch(`{"hello": 1}`))
	testbed.WantFunctionError(t, err, "BadRequest", "is not a keep_stopped retry")
}
