// Package emf writes CloudWatch Embedded Metric Format (EMF) lines: JSON
// log events from which CloudWatch Logs extracts metrics by itself, so the
// Lambda functions publish their counts with no cloudwatch:PutMetricData
// permission and no extra call. Validate checks a line against the
// structure the EMF specification requires; the functions' tests run every
// line they write through it.
package emf

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Namespace is the CloudWatch namespace of every awsutils metric.
const Namespace = "awsutils"

// Unit is a CloudWatch standard unit.
type Unit string

// The units awsutils' metrics use.
const (
	Count        Unit = "Count"
	Bytes        Unit = "Bytes"
	Milliseconds Unit = "Milliseconds"
)

// units are the CloudWatch standard units EMF accepts.
var units = []string{
	"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
	"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
	"Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
	"Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}

// Dimension is a dimension's name and value.
type Dimension struct{ Name, Value string }

// Metric is one metric's name, unit and value.
type Metric struct {
	Name  string
	Unit  Unit
	Value float64
}

// Event is one EMF log event: metrics in one namespace, published for
// each of its dimension sets (each a list of dimension names).
type Event struct {
	Namespace  string
	Dimensions []Dimension
	// Sets are the dimension sets, each naming some of Dimensions; CloudWatch
	// publishes every metric once per set.
	Sets    [][]string
	Metrics []Metric
	Time    time.Time
}

// Marshal encodes e as one EMF document, checked by Validate.
func (e Event) Marshal() ([]byte, error) {
	root := map[string]any{}
	for _, d := range e.Dimensions {
		root[d.Name] = d.Value
	}
	var defs []map[string]any
	for _, m := range e.Metrics {
		if _, dup := root[m.Name]; dup {
			return nil, fmt.Errorf("emf: metric %q is also a dimension or metric", m.Name)
		}
		root[m.Name] = m.Value
		def := map[string]any{"Name": m.Name}
		if m.Unit != "" {
			def["Unit"] = string(m.Unit)
		}
		defs = append(defs, def)
	}
	sets := e.Sets
	if sets == nil {
		sets = [][]string{}
	}
	root["_aws"] = map[string]any{
		"Timestamp": e.Time.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace": e.Namespace, "Dimensions": sets, "Metrics": defs,
		}},
	}
	b, err := json.Marshal(root)
	if err != nil {
		return nil, err
	}
	if err := Validate(b); err != nil {
		return nil, err
	}
	return b, nil
}

// Write writes e to w as one line.
func (e Event) Write(w io.Writer) error {
	b, err := e.Marshal()
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Limits of the EMF specification and of CloudWatch metrics.
const (
	maxDimensionsPerSet = 30
	maxMetrics          = 100
	maxValues           = 100
	maxNameLen          = 255
	maxDimValueLen      = 1024
)

// Validate checks that line is an EMF document as the specification
// defines it: a JSON object whose _aws member holds a Timestamp (epoch
// milliseconds) and CloudWatchMetrics, a list of directives, each with a
// Namespace, Dimensions (dimension sets: lists of names of root members
// whose values are strings) and Metrics (definitions naming root members
// whose values are numbers or lists of numbers, with an optional standard
// Unit and a StorageResolution of 1 or 60), and no members the
// specification does not define in those objects.
func Validate(line []byte) error {
	var root map[string]any
	if err := json.Unmarshal(line, &root); err != nil {
		return fmt.Errorf("emf: not a JSON object: %w", err)
	}
	meta, ok := root["_aws"].(map[string]any)
	if !ok {
		return errors.New("emf: no _aws object")
	}
	if err := only(meta, "_aws", "Timestamp", "CloudWatchMetrics"); err != nil {
		return err
	}
	ts, ok := meta["Timestamp"].(float64)
	if !ok || ts < 0 || ts != math.Trunc(ts) {
		return fmt.Errorf("emf: _aws.Timestamp %v: want epoch milliseconds", meta["Timestamp"])
	}
	directives, ok := meta["CloudWatchMetrics"].([]any)
	if !ok {
		return errors.New("emf: _aws.CloudWatchMetrics: want a list of metric directives")
	}
	for i, d := range directives {
		if err := validateDirective(root, d); err != nil {
			return fmt.Errorf("emf: CloudWatchMetrics[%d]: %w", i, err)
		}
	}
	return nil
}

func validateDirective(root map[string]any, d any) error {
	dir, ok := d.(map[string]any)
	if !ok {
		return errors.New("not an object")
	}
	if err := only(dir, "directive", "Namespace", "Dimensions", "Metrics"); err != nil {
		return err
	}
	ns, ok := dir["Namespace"].(string)
	if !ok || ns == "" || len(ns) > maxNameLen || strings.HasPrefix(ns, ":") || strings.HasPrefix(ns, "AWS/") {
		return fmt.Errorf("namespace %v: want 1-255 characters, outside AWS/", dir["Namespace"])
	}
	sets, ok := dir["Dimensions"].([]any)
	if !ok {
		return errors.New("dimensions: want a list of dimension sets")
	}
	for _, s := range sets {
		names, ok := s.([]any)
		if !ok || len(names) > maxDimensionsPerSet {
			return fmt.Errorf("dimension set %v: want a list of at most %d names", s, maxDimensionsPerSet)
		}
		for _, n := range names {
			name, ok := n.(string)
			if !ok || name == "" || len(name) > maxNameLen || strings.HasPrefix(name, ":") {
				return fmt.Errorf("dimension name %v: want 1-255 characters not starting with ':'", n)
			}
			v, ok := root[name].(string)
			if !ok || v == "" || len(v) > maxDimValueLen {
				return fmt.Errorf("dimension %s: the root member must be a string of 1-1024 characters, is %v", name, root[name])
			}
		}
	}
	metrics, ok := dir["Metrics"].([]any)
	if !ok || len(metrics) > maxMetrics {
		return fmt.Errorf("metrics: want a list of at most %d metric definitions", maxMetrics)
	}
	seen := map[string]bool{}
	for _, m := range metrics {
		def, ok := m.(map[string]any)
		if !ok {
			return fmt.Errorf("metric definition %v: not an object", m)
		}
		if err := only(def, "metric definition", "Name", "Unit", "StorageResolution"); err != nil {
			return err
		}
		name, ok := def["Name"].(string)
		if !ok || name == "" || len(name) > maxNameLen || seen[name] {
			return fmt.Errorf("metric Name %v: want a unique name of 1-255 characters", def["Name"])
		}
		seen[name] = true
		if u, has := def["Unit"]; has {
			if s, ok := u.(string); !ok || !slices.Contains(units, s) {
				return fmt.Errorf("metric %s: Unit %v is not a CloudWatch unit", name, u)
			}
		}
		if r, has := def["StorageResolution"]; has && r != 1.0 && r != 60.0 {
			return fmt.Errorf("metric %s: StorageResolution %v: want 1 or 60", name, r)
		}
		switch v := root[name].(type) {
		case float64:
		case []any:
			if len(v) == 0 || len(v) > maxValues {
				return fmt.Errorf("metric %s: want 1-%d values", name, maxValues)
			}
			for _, e := range v {
				if _, ok := e.(float64); !ok {
					return fmt.Errorf("metric %s: value %v is not a number", name, e)
				}
			}
		default:
			return fmt.Errorf("metric %s: the root member must be a number or a list of numbers, is %v", name, root[name])
		}
	}
	return nil
}

// only refuses members of obj not in allowed, as the specification's
// objects "MUST NOT contain any additional members".
func only(obj map[string]any, what string, allowed ...string) error {
	for k := range obj {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("emf: %s has member %q, which the specification does not define", what, k)
		}
	}
	for _, k := range allowed {
		if _, ok := obj[k]; !ok && k != "Unit" && k != "StorageResolution" {
			return fmt.Errorf("emf: %s lacks %s", what, k)
		}
	}
	return nil
}

// FromLog returns the EMF documents among the lines of a function's log
// (those that are JSON objects with an _aws member), each checked by
// Validate; the first invalid one is an error.
func FromLog(log string) ([]map[string]any, error) {
	var docs []map[string]any
	for _, line := range strings.Split(log, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "{") || !strings.Contains(line, `"_aws"`) {
			continue
		}
		if err := Validate([]byte(line)); err != nil {
			return nil, fmt.Errorf("%w: %s", err, line)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			return nil, err
		}
		docs = append(docs, doc)
	}
	return docs, nil
}
