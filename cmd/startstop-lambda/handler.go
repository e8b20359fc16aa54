package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/awsutils/awsutils/awsclient"
	"github.com/awsutils/awsutils/internal/emf"
	"github.com/awsutils/awsutils/internal/lambdaerr"
	"github.com/awsutils/awsutils/startstop"
)

// Modes say where an invocation's action and keys come from.
const (
	ModeAuto         = "auto"          // the event if it has action/configKey, else the function name
	ModeEvent        = "event"         // {"action": ..., "configKey": ...}
	ModeFunctionName = "function-name" // ec2_start_KEY / ec2_stop_KEY
)

// Settings are what the function reads from its environment once.
type Settings struct {
	ConfigPath   string // AWSUTILS_CONFIG, or $LAMBDA_TASK_ROOT/aws_resource_start_stop.yml
	Mode         string // AWSUTILS_MODE; "" means auto
	FunctionName string // AWS_LAMBDA_FUNCTION_NAME
	// RetryQueueURL is the SQS queue a keep_stopped event goes back to
	// while its database is not available (AWSUTILS_RETRY_QUEUE_URL).
	RetryQueueURL string
	// RetryDelay is the queue's delay per retry (AWSUTILS_RETRY_DELAY; 5m,
	// at most SQS's 15m).
	RetryDelay time.Duration
	// KeepWait is how long an invocation waits for a database to be
	// available before queueing a retry (AWSUTILS_KEEP_STOPPED_WAIT; 0:
	// until 10 s before the function's deadline).
	KeepWait time.Duration
}

// SettingsFromEnv reads Settings with getenv (os.Getenv in main).
func SettingsFromEnv(getenv func(string) string) Settings {
	path := getenv("AWSUTILS_CONFIG")
	if path == "" {
		path = filepath.Join(getenv("LAMBDA_TASK_ROOT"), startstop.ConfigFile)
	}
	return Settings{ConfigPath: path, Mode: getenv("AWSUTILS_MODE"), FunctionName: getenv("AWS_LAMBDA_FUNCTION_NAME"),
		RetryQueueURL: getenv("AWSUTILS_RETRY_QUEUE_URL"),
		RetryDelay:    min(durationEnv(getenv("AWSUTILS_RETRY_DELAY"), 5*time.Minute), 15*time.Minute),
		KeepWait:      durationEnv(getenv("AWSUTILS_KEEP_STOPPED_WAIT"), 0)}
}

// Handler runs one invocation.
type Handler struct {
	Settings Settings
	Log      *slog.Logger
	// LoadAWS builds the AWS config for a region ("" means the
	// environment's); awsclient.Load in production.
	LoadAWS func(ctx context.Context, region string) (aws.Config, error)
	// Now is the clock (nil: time.Now), for the 24-hour give-up.
	Now func() time.Time
	// Metrics receives one CloudWatch Embedded Metric Format line per run
	// (os.Stdout in production, where CloudWatch Logs extracts it); nil
	// writes none.
	Metrics io.Writer
}

// Request works out the action and keys from the event or the function name.
func (h *Handler) Request(event json.RawMessage) (startstop.Request, error) {
	fromName := func() (startstop.Request, error) {
		req, err := startstop.FromFunctionName(h.Settings.FunctionName)
		if err != nil {
			return req, &lambdaerr.BadRequest{Err: err}
		}
		return req, nil
	}
	switch h.Settings.Mode {
	case "", ModeAuto:
		req, err := startstop.ParseEvent(event)
		if errors.Is(err, startstop.ErrNoRequest) {
			return fromName()
		}
		if err != nil {
			return req, &lambdaerr.BadRequest{Err: err}
		}
		return req, nil
	case ModeEvent:
		req, err := startstop.ParseEvent(event)
		if errors.Is(err, startstop.ErrNoRequest) {
			return req, &lambdaerr.BadRequest{Err: errors.New(`event has neither action nor configKey: want {"action": "start"|"stop", "configKey": "KEY" or ["KEY", ...]}`)}
		}
		if err != nil {
			return req, &lambdaerr.BadRequest{Err: err}
		}
		return req, nil
	case ModeFunctionName:
		return fromName()
	}
	return startstop.Request{}, &lambdaerr.BadRequest{Err: fmt.Errorf("AWSUTILS_MODE=%q: want auto, event or function-name", h.Settings.Mode)}
}

// Handle is the Lambda handler: it returns the report, or an error when
// the request is bad or any resource failed, so that the invocation fails
// and Lambda's retries and alarms see it. The error's type is Lambda's
// errorType: BadRequest, BadConfig or ResourcesFailed (see lambdaerr).
func (h *Handler) Handle(ctx context.Context, event json.RawMessage) (*startstop.Report, error) {
	log := h.Log
	// An RDS event (EventBridge) or a retry of one (SQS) is keep_stopped's.
	if ev, ok, err := startstop.ParseRDSEvent(event); ok {
		if err != nil {
			log.Error("bad request", "error", err.Error())
			return nil, &lambdaerr.BadRequest{Err: err}
		}
		return h.keepStopped(ctx, ev, retryMessage{FirstSeen: h.now(), Attempt: 1, Event: event})
	}
	if msgs, ok, err := retries(event); ok {
		if err != nil {
			log.Error("bad request", "error", err.Error())
			return nil, &lambdaerr.BadRequest{Err: err}
		}
		return h.handleRetries(ctx, msgs)
	}
	req, err := h.Request(event)
	if err != nil {
		log.Error("bad request", "error", err.Error())
		return nil, err
	}
	conf, err := startstop.Load(h.Settings.ConfigPath)
	if err != nil {
		log.Error("bad config", "error", err.Error())
		return nil, &lambdaerr.BadConfig{Err: err}
	}
	for _, w := range conf.Warnings {
		log.Warn("config", "warning", w)
	}
	cfg, err := h.LoadAWS(ctx, conf.Region)
	if err != nil {
		log.Error("AWS configuration", "error", err.Error())
		return nil, &lambdaerr.BadConfig{Err: err}
	}
	rep, err := startstop.Run(ctx, cfg, conf, req, startstop.Options{
		OnResult: func(r startstop.Result) {
			level := slog.LevelInfo
			if !r.OK() {
				level = slog.LevelError
			}
			log.Log(ctx, level, string(req.Action), "type", r.Type, "id", r.ID, "region", r.Region,
				"before", r.Before, "after", r.After, "result", r.Outcome, "message", r.Message)
		},
	})
	if err != nil {
		log.Error("bad request", "error", err.Error())
		if errors.Is(err, startstop.ErrUnknownKey) {
			return nil, &lambdaerr.BadRequest{Err: err}
		}
		return nil, &lambdaerr.BadConfig{Err: err}
	}
	for _, n := range rep.Warnings {
		log.Warn("note", "note", n)
	}
	s := rep.Totals
	if h.Metrics != nil {
		if err := metrics(h.Settings.FunctionName, rep, h.now()).Write(h.Metrics); err != nil {
			log.Error("metrics", "error", err.Error())
		}
	}
	log.Info("summary", "action", rep.Action, "keys", rep.Keys, "total", s.Total, "changed", s.Changed,
		"unchanged", s.Unchanged, "failed", s.Failed, "unsupported", s.Unsupported, "durationMs", rep.Duration.Milliseconds())
	if err := rep.Err(); err != nil {
		return rep, &lambdaerr.ResourcesFailed{Err: err}
	}
	return rep, nil
}

// metrics are a run's counts as an EMF event: per function, per function
// and action, and per function, keys and action (the keys a run was asked
// for, comma-separated, as one schedule sends them).
func metrics(function string, rep *startstop.Report, now time.Time) emf.Event {
	s := rep.Totals
	return emf.Event{
		Namespace: emf.Namespace,
		Dimensions: []emf.Dimension{
			{Name: "function", Value: cmp.Or(function, "startstop")},
			{Name: "key", Value: cmp.Or(strings.Join(rep.Keys, ","), "-")},
			{Name: "action", Value: string(rep.Action)},
		},
		Sets: [][]string{{"function"}, {"function", "action"}, {"function", "key", "action"}},
		Metrics: []emf.Metric{
			{Name: "ResourcesChanged", Unit: emf.Count, Value: float64(s.Changed)},
			{Name: "ResourcesUnchanged", Unit: emf.Count, Value: float64(s.Unchanged)},
			{Name: "ResourcesFailed", Unit: emf.Count, Value: float64(s.Failed)},
			{Name: "ResourcesUnsupported", Unit: emf.Count, Value: float64(s.Unsupported)},
			{Name: "Duration", Unit: emf.Milliseconds, Value: float64(rep.Duration.Milliseconds())},
		},
		Time: now,
	}
}

// loadAWS is the production LoadAWS.
func loadAWS(ctx context.Context, region string) (aws.Config, error) {
	return awsclient.Load(ctx, awsclient.Options{Region: region})
}
