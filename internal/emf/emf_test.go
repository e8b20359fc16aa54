package emf

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/awsutils/awsutils/internal/testbed"
)

func TestMarshal(t *testing.T) {
	at := time.UnixMilli(1767225600123)
	e := Event{
		Namespace:  Namespace,
		Dimensions: []Dimension{{"function", "ec2_stop_dev"}, {"key", "dev-env"}, {"action", "stop"}},
		Sets:       [][]string{{"function"}, {"function", "key", "action"}},
		Metrics:    []Metric{{"ResourcesChanged", Count, 3}, {"Duration", Milliseconds, 1250}},
		Time:       at,
	}
	var buf bytes.Buffer
	if err := e.Write(&buf); err != nil {
		t.Fatal(err)
	}
	line := buf.String()
	if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
		t.Fatalf("not one line: %q", line)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"function": "ec2_stop_dev", "key": "dev-env", "action": "stop", "ResourcesChanged": 3.0, "Duration": 1250.0,
		"_aws": map[string]any{"Timestamp": 1767225600123.0, "CloudWatchMetrics": []any{map[string]any{
			"Namespace":  "awsutils",
			"Dimensions": []any{[]any{"function"}, []any{"function", "key", "action"}},
			"Metrics":    []any{map[string]any{"Name": "ResourcesChanged", "Unit": "Count"}, map[string]any{"Name": "Duration", "Unit": "Milliseconds"}},
		}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}

	for _, tt := range []struct {
		name string
		e    Event
		want string
	}{
		{"metric named like a dimension", Event{Namespace: Namespace, Dimensions: []Dimension{{"function", "f"}}, Metrics: []Metric{{"function", Count, 1}}}, "also a dimension"},
		{"set names no dimension", Event{Namespace: Namespace, Sets: [][]string{{"function"}}, Metrics: []Metric{{"M", Count, 1}}}, "dimension function"},
		{"empty dimension value", Event{Namespace: Namespace, Dimensions: []Dimension{{"key", ""}}, Sets: [][]string{{"key"}}}, "dimension key"},
		{"no namespace", Event{Metrics: []Metric{{"M", Count, 1}}}, "namespace"},
		{"bad unit", Event{Namespace: Namespace, Metrics: []Metric{{"M", "Files", 1}}}, "not a CloudWatch unit"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.e.Time = at
			_, err := tt.e.Marshal()
			testbed.WantErr(t, err, tt.want)
		})
	}
}

// TestValidate checks the validator against documents that break each
// rule of the specification's structure.
func TestValidate(t *testing.T) {
	const ok = `{"_aws":{"Timestamp":1767225600000,"CloudWatchMetrics":[{"Namespace":"awsutils","Dimensions":[["function"]],"Metrics":[{"Name":"FilesFailed","Unit":"Count","StorageResolution":60}]}]},"function":"up","FilesFailed":[1,2]}`
	tests := []struct {
		name, doc, want string
	}{
		{"valid", ok, ""},
		{"valid without dimensions or unit", `{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[{"Name":"M"}]}]},"M":1}`, ""},
		{"text around the JSON", "x " + ok, "not a JSON object"},
		{"no _aws", `{"M":1}`, "no _aws"},
		{"no timestamp", `{"_aws":{"CloudWatchMetrics":[]}}`, "lacks Timestamp"},
		{"timestamp as a string", `{"_aws":{"Timestamp":"2026-01-01","CloudWatchMetrics":[]}}`, "epoch milliseconds"},
		{"extra _aws member", `{"_aws":{"Timestamp":0,"CloudWatchMetrics":[],"LogGroup":"x"}}`, `member "LogGroup"`},
		{"directives not a list", `{"_aws":{"Timestamp":0,"CloudWatchMetrics":{}}}`, "list of metric directives"},
		{"no namespace", `{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Dimensions":[],"Metrics":[]}]}}`, "lacks Namespace"},
		{"AWS namespace", `{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"AWS/Lambda","Dimensions":[],"Metrics":[]}]}}`, "outside AWS/"},
		{"dimension set not a list", `{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":["function"],"Metrics":[]}]},"function":"f"}`, "dimension set"},
		{"dimension value a number", `{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["d"]],"Metrics":[]}]},"d":1}`, "must be a string"},
		{"dimension missing", `{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["d"]],"Metrics":[]}]}}`, "dimension d"},
		{"31 dimensions", `{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[` + strings.Repeat(`"d",`, 30) + `"d"]],"Metrics":[]}]},"d":"x"}`, "at most 30"},
		{"metric missing", `{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[{"Name":"M"}]}]}}`, "number or a list"},
		{"metric a string", `{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[{"Name":"M"}]}]},"M":"1"}`, "number or a list"},
		{"metric list of strings", `{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[{"Name":"M"}]}]},"M":["1"]}`, "not a number"},
		{"metric twice", `{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[{"Name":"M"},{"Name":"M"}]}]},"M":1}`, "unique name"},
		{"bad unit", `{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[{"Name":"M","Unit":"Files"}]}]},"M":1}`, "not a CloudWatch unit"},
		{"bad resolution", `{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[{"Name":"M","StorageResolution":5}]}]},"M":1}`, "1 or 60"},
		{"extra definition member", `{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[{"Name":"M","Value":1}]}]},"M":1}`, `member "Value"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testbed.WantErr(t, Validate([]byte(tt.doc)), tt.want)
		})
	}
}

// Lines finds and checks the EMF lines in a function's log; FromLog is
// tested here on a log that mixes them with other JSON lines.
func TestFromLog(t *testing.T) {
	log := `START RequestId: x
{"time":"t","level":"INFO","msg":"summary"}
{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"awsutils","Dimensions":[["function"]],"Metrics":[{"Name":"FilesFailed","Unit":"Count"}]}]},"function":"up","FilesFailed":2}
END RequestId: x`
	docs, err := FromLog(log)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 || docs[0]["FilesFailed"] != 2.0 || docs[0]["function"] != "up" {
		t.Errorf("FromLog = %v", docs)
	}
	if _, err := FromLog(`{"_aws":{"Timestamp":"x"}}`); err == nil {
		t.Error("FromLog took an invalid EMF line")
	}
}
