package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/lambdaerr"
	"github.com/awsutils/awsutils/startstop"
)

// GiveUpAfter is how long after AWS restarted a database the function
// keeps trying to stop it again: past it, the invocation fails, so that
// the message ends in the failure queue and its alarm fires.
const GiveUpAfter = 24 * time.Hour

// retryMessage is what the function sends itself through the retry queue
// while a restarted database is not available yet.
type retryMessage struct {
	// FirstSeen is when the function first got the RDS event.
	FirstSeen time.Time `json:"firstSeen"`
	// Attempt counts the invocations so far.
	Attempt int             `json:"attempt"`
	Event   json.RawMessage `json:"event"`
}

// sqsEvent is an SQS event source mapping's batch.
type sqsEvent struct {
	Records []struct {
		MessageID   string `json:"messageId"`
		EventSource string `json:"eventSource"`
		Body        string `json:"body"`
	} `json:"Records"`
}

// retries reads event as a batch of retry messages, if it is one.
func retries(event json.RawMessage) ([]retryMessage, bool, error) {
	var ev sqsEvent
	if json.Unmarshal(event, &ev) != nil || len(ev.Records) == 0 || ev.Records[0].EventSource != "aws:sqs" {
		return nil, false, nil
	}
	var msgs []retryMessage
	for _, r := range ev.Records {
		var m retryMessage
		if err := json.Unmarshal([]byte(r.Body), &m); err != nil || m.FirstSeen.IsZero() || len(m.Event) == 0 {
			return nil, true, fmt.Errorf("SQS message %s is not a keep_stopped retry (want {\"firstSeen\", \"attempt\", \"event\"})", r.MessageID)
		}
		msgs = append(msgs, m)
	}
	return msgs, true, nil
}

// handleRetries answers each retry message of an SQS batch; the invocation
// fails when any of them failed, and SQS then delivers the batch again.
func (h *Handler) handleRetries(ctx context.Context, msgs []retryMessage) (*startstop.Report, error) {
	var last *startstop.Report
	var errs []error
	for _, m := range msgs {
		ev, _, err := startstop.ParseRDSEvent(m.Event)
		if err != nil {
			errs = append(errs, &lambdaerr.BadRequest{Err: err})
			continue
		}
		rep, err := h.keepStopped(ctx, ev, m)
		if err != nil {
			errs = append(errs, err)
		}
		last = rep
	}
	if len(errs) > 0 {
		return last, errs[0]
	}
	return last, nil
}

// keepStopped answers one RDS event (first seen at m.FirstSeen): stopped
// again, nothing to do, or queued to be tried again.
func (h *Handler) keepStopped(ctx context.Context, ev startstop.RDSEvent, m retryMessage) (*startstop.Report, error) {
	log := h.Log.With("eventId", ev.Detail.EventID, "source", ev.Detail.SourceIdentifier, "attempt", m.Attempt)
	conf, err := startstop.Load(h.Settings.ConfigPath)
	if err != nil {
		log.Error("bad config", "error", err.Error())
		return nil, &lambdaerr.BadConfig{Err: err}
	}
	cfg, err := h.LoadAWS(ctx, conf.Region)
	if err != nil {
		log.Error("AWS configuration", "error", err.Error())
		return nil, &lambdaerr.BadConfig{Err: err}
	}
	rep, err := startstop.KeepStopped(ctx, cfg, conf, ev, startstop.Options{
		WaitTimeout: h.waitBudget(ctx),
		OnResult: func(r startstop.Result) {
			level := slog.LevelInfo
			if !r.OK() {
				level = slog.LevelError
			}
			log.Log(ctx, level, "keep_stopped", "type", r.Type, "id", r.ID, "region", r.Region,
				"before", r.Before, "after", r.After, "result", r.Outcome, "message", r.Message)
		},
	})
	if err != nil {
		log.Error("keep_stopped", "error", err.Error())
		return nil, &lambdaerr.BadConfig{Err: err}
	}
	for _, n := range rep.Warnings {
		log.Info("keep_stopped", "note", n)
	}
	if err := rep.Err(); err != nil {
		return rep, &lambdaerr.ResourcesFailed{Err: err}
	}
	if rep.Retry == "" {
		return rep, nil
	}
	if age := h.now().Sub(m.FirstSeen); age >= GiveUpAfter {
		// The metric filter of the template counts this line.
		log.Error("keep_stopped gave up", "metric", "KeepStoppedGaveUp", "firstSeen", m.FirstSeen, "reason", rep.Retry)
		return rep, &lambdaerr.ResourcesFailed{Err: fmt.Errorf("keep_stopped gave up %s after RDS restarted %s: %s",
			age.Round(time.Minute), ev.Detail.SourceIdentifier, rep.Retry)}
	}
	if err := h.requeue(ctx, cfg, m); err != nil {
		log.Error("keep_stopped retry not queued", "error", err.Error())
		return rep, &lambdaerr.ResourcesFailed{Err: err}
	}
	log.Info("keep_stopped retry queued", "delaySeconds", h.Settings.RetryDelay.Seconds(), "firstSeen", m.FirstSeen)
	return rep, nil
}

// waitBudget is how long to wait for the database within this invocation:
// AWSUTILS_KEEP_STOPPED_WAIT, or until 10 s before the function's
// deadline, which leaves time to queue the retry.
func (h *Handler) waitBudget(ctx context.Context) time.Duration {
	if h.Settings.KeepWait > 0 {
		return h.Settings.KeepWait
	}
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl)-10*time.Second, time.Nanosecond)
	}
	return 10 * time.Minute
}

// requeue sends m again, one attempt later, to the retry queue with the
// retry delay.
func (h *Handler) requeue(ctx context.Context, cfg aws.Config, m retryMessage) error {
	if h.Settings.RetryQueueURL == "" {
		return errors.New("the database is not available yet and AWSUTILS_RETRY_QUEUE_URL is not set, so it cannot be tried again")
	}
	m.Attempt++
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = awsclient.SQS(cfg).SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(h.Settings.RetryQueueURL), MessageBody: aws.String(string(body)),
		DelaySeconds: int32(h.Settings.RetryDelay / time.Second),
	})
	if err != nil {
		return fmt.Errorf("queue the retry: %s", awsclient.Message(err))
	}
	return nil
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// durationEnv reads a duration setting; bad or empty is def.
func durationEnv(v string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return d
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	return def
}
