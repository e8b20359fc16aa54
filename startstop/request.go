package startstop

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Action is what to do to every resource of a request.
type Action string

// The actions: Status only describes and reports each resource's state.
const (
	Start  Action = "start"
	Stop   Action = "stop"
	Status Action = "status"
)

// Request is an action on the resources under one or more config keys.
type Request struct {
	Action Action
	Keys   []string
}

func (r Request) String() string { return string(r.Action) + " " + strings.Join(r.Keys, ",") }

// ParseAction accepts start, stop or status.
func ParseAction(s string) (Action, error) {
	switch Action(s) {
	case Start, Stop, Status:
		return Action(s), nil
	}
	return "", fmt.Errorf("action %q: want \"start\", \"stop\" or \"status\"", s)
}

// ErrNoRequest is returned by ParseEvent for an event that has neither
// action nor configKey, such as a plain scheduled event: the request must
// come from somewhere else (the function name).
var ErrNoRequest = errors.New("event has neither action nor configKey")

const eventForm = `want {"action": "start"|"stop"|"status", "configKey": "KEY" or ["KEY", ...]}`

// ParseEvent reads the original's EventBridge constant input:
// {"action": "start", "configKey": "dev-env"} or
// {"action": "stop", "configKey": ["dev-env", "batch-servers"]}, and
// {"action": "status", ...}, which only reports.
// Other fields are ignored, so a scheduled event's own fields do no harm.
func ParseEvent(data []byte) (Request, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return Request{}, ErrNoRequest
	}
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(data, &ev); err != nil {
		return Request{}, fmt.Errorf("event is not a JSON object: %s", eventForm)
	}
	rawAction, hasAction := ev["action"]
	rawKey, hasKey := ev["configKey"]
	if !hasAction && !hasKey {
		return Request{}, ErrNoRequest
	}
	if !hasAction {
		return Request{}, fmt.Errorf("event: action missing: %s", eventForm)
	}
	if !hasKey {
		return Request{}, fmt.Errorf("event: configKey missing: %s", eventForm)
	}
	var action string
	if err := json.Unmarshal(rawAction, &action); err != nil {
		return Request{}, fmt.Errorf("event: action is not a string: %s", eventForm)
	}
	a, err := ParseAction(action)
	if err != nil {
		return Request{}, fmt.Errorf("event: %w: %s", err, eventForm)
	}
	var keys []string
	var one string
	if err := json.Unmarshal(rawKey, &one); err == nil {
		keys = []string{one}
	} else if err := json.Unmarshal(rawKey, &keys); err != nil {
		return Request{}, fmt.Errorf("event: configKey is neither a string nor a list of strings: %s", eventForm)
	}
	if len(keys) == 0 {
		return Request{}, fmt.Errorf("event: configKey is empty: %s", eventForm)
	}
	for _, k := range keys {
		if strings.TrimSpace(k) == "" {
			return Request{}, fmt.Errorf("event: configKey has an empty key: %s", eventForm)
		}
	}
	return Request{Action: a, Keys: keys}, nil
}

// FromFunctionName reads the original's function-name convention:
// ec2_start_KEY starts and ec2_stop_KEY stops everything under KEY, which
// may itself contain underscores.
func FromFunctionName(name string) (Request, error) {
	const want = "want ec2_start_KEY or ec2_stop_KEY"
	for _, a := range []Action{Start, Stop} {
		prefix := "ec2_" + string(a) + "_"
		if key, ok := strings.CutPrefix(name, prefix); ok {
			if key == "" {
				return Request{}, fmt.Errorf("function name %q has no config key: %s", name, want)
			}
			return Request{Action: a, Keys: []string{key}}, nil
		}
	}
	if name == "" {
		return Request{}, fmt.Errorf("no function name to read the action from: %s", want)
	}
	return Request{}, fmt.Errorf("function name %q: %s", name, want)
}
