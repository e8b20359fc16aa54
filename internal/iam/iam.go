// Package iam holds the IAM policy document that `awsutils policy` prints
// for both jobs, so that the two generators share one shape and one JSON form.
package iam

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Document is an IAM policy document.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one Allow statement.
type Statement struct {
	Sid       string                    `json:"Sid,omitempty"`
	Effect    string                    `json:"Effect"`
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// New is an empty document of the current policy language version.
func New() Document { return Document{Version: "2012-10-17"} }

// Allow adds a statement allowing actions on resources; both lists are
// sorted and deduplicated so that output is stable for golden files and
// reviews.
func (d *Document) Allow(sid string, actions, resources []string, cond map[string]map[string]any) {
	d.Statement = append(d.Statement, Statement{
		Sid: sid, Effect: "Allow", Action: uniq(actions), Resource: uniq(resources), Condition: cond,
	})
}

// Merge appends the statements of other.
func (d *Document) Merge(other Document) { d.Statement = append(d.Statement, other.Statement...) }

// JSON is the document indented as IAM consoles show it.
func (d Document) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func uniq(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	j := 0
	for i, v := range out {
		if i == 0 || v != out[j-1] {
			out[j] = v
			j++
		}
	}
	return out[:j]
}

// LambdaLogs lets a Lambda function write to its own log group only.
func LambdaLogs(partition, account, function string) Document {
	doc := New()
	group := fmt.Sprintf("arn:%s:logs:*:%s:log-group:/aws/lambda/%s", partition, account, function)
	doc.Allow("OwnLogGroup", []string{"logs:CreateLogGroup"}, []string{group}, nil)
	doc.Allow("OwnLogStreams", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, []string{group + ":*"}, nil)
	return doc
}
