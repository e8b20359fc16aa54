package startstop

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.yaml.in/yaml/v3"

	"github.com/awsutils/awsutils/internal/yamlnode"
)

// registry is every resource type awsutils starts and stops, one entry
// each, in the order reports list them. Config checks, planning, running,
// `awsutils policy`, the template's role and the README's types table all
// read it, so nothing else names a type.
//
// To add a type:
//  1. Write one file (like rds.go) with its worker: describe, decide, act
//     and settle (see worker), built by a func(*runner, *kind, aws.Config, Batch)
//     worker. A worker that also implements batcher starts and stops its
//     batches its own way (ec2.go acts first); any other is driven by
//     runner.describeFirst. Status is always describe and report.
//  2. Add one kind below; if its service is new, add it to services and
//     its client to awsclient.
//  3. Its README.md row is written by `go test ./startstop -run
//     TestREADMETypes -update-readme`; write README.ja.md's by hand.
//
// TestRegistryComplete, TestPolicyCoversEveryType, TestREADMETypes and
// (internal/packaging) TestTemplateStartStopRole say what is missing.
var registry = []kind{ec2Kind, dbClusterKind, dbInstanceKind, asgKind, ecsKind, redshiftKind}

// kind is everything awsutils knows about one resource type.
type kind struct {
	Type Type
	// Noun names one resource in messages: "DB cluster".
	Noun string
	// Sid names its policy statement: StartStopListed+Sid.
	Sid string
	// IDs is the id syntax as users see it in the console, for messages
	// and docs; CheckID refuses an id that cannot be one, with a one-line
	// reason (anyID leaves it to the API).
	IDs     string
	CheckID func(id string) error
	// ARN is the resource's ARN with {partition}, {region}, {account} and
	// {id} to fill in: what start and stop are allowed on.
	ARN string
	// Service is the AWS service whose client the worker uses, a name in
	// services: calls to it share its concurrency bound.
	Service string
	// Start, Stop and Describe are the calls and the IAM actions each
	// needs: start and stop on ARN, describe on "*" (IAM cannot narrow
	// them).
	Start, Stop, Describe call
	// Also are further permissions the worker uses when this type is
	// listed, on "*" (e.g. a membership check); without them it still
	// works, with a note.
	Also []grant
	// Target is the state each action reaches.
	Target map[Action]string
	// Chunk is the most ids per describe call.
	Chunk int
	// NotFound follows "NOUN not found in REGION" in messages: a hint
	// where such an id belongs instead.
	NotFound string
	// Fields are the group fields this type takes besides type, ids and
	// region (e.g. hibernate); any other type's group refuses them.
	Fields []field
	// Doc is what the README's types table says start and stop do and
	// what is saved where.
	Doc doc
	// New makes the worker of one batch.
	New func(r *runner, k *kind, cfg aws.Config, b Batch) worker
}

// call is an API call a type makes and the IAM actions it needs.
type call struct {
	Op  string   // e.g. StartInstances
	IAM []string // e.g. ec2:StartInstances
}

// grant is a permission beyond start, stop and describe.
type grant struct {
	Sid     string
	Service string   // in services: the concurrency bound its calls share
	IAM     []string // allowed on "*"
	Why     string   // for docs
}

// field is a group field only some types take, e.g. hibernate: true.
type field struct {
	Name string
	Want string // what the value must be, for messages: "true or false"
	// Parse reads the value; false means it is not one.
	Parse func(v *yaml.Node) (any, bool)
	Doc   string
}

// doc is a type's row in the README's types table.
type doc struct {
	Start, Stop string // what they mean for this type
	Saved       string // what is saved where to undo a stop ("" nothing)
}

// service is an AWS service the workers call.
type service struct {
	Name string // awsclient's service id: "ec2"
	API  string // as in messages: "EC2"
	// DescribeSid names the policy statement of its describe calls.
	DescribeSid string
	// Limit caps its calls in flight below Options.Concurrency (0: no
	// cap), for APIs with a low request rate.
	Limit int
}

var services = []service{
	{Name: "ec2", API: "EC2", DescribeSid: "DescribeInstances"},
	{Name: "rds", API: "RDS", DescribeSid: "DescribeDatabases"},
	{Name: "autoscaling", API: "Auto Scaling", DescribeSid: "DescribeAutoScaling"},
	{Name: "ecs", API: "ECS", DescribeSid: "DescribeECSServices"},
	{Name: "redshift", API: "Redshift", DescribeSid: "DescribeRedshiftClusters"},
}

// Types are the registered types in the order they are reported.
var Types = func() []Type {
	t := make([]Type, len(registry))
	for i, k := range registry {
		t[i] = k.Type
	}
	return t
}()

// lookup is the registered kind of t.
func lookup(t Type) (*kind, bool) {
	for i := range registry {
		if registry[i].Type == t {
			return &registry[i], true
		}
	}
	return nil, false
}

func serviceOf(name string) (service, bool) {
	for _, s := range services {
		if s.Name == name {
			return s, true
		}
	}
	return service{}, false
}

func (t Type) valid() bool {
	_, ok := lookup(t)
	return ok
}

func typeOrder(t Type) int {
	for i, k := range registry {
		if k.Type == t {
			return i
		}
	}
	return len(registry)
}

func validTypes() string {
	s := make([]string, len(registry))
	for i, k := range registry {
		s[i] = string(k.Type)
	}
	return strings.Join(s, ", ")
}

// op is the API call of action a.
func (k *kind) op(a Action) call {
	if a == Start {
		return k.Start
	}
	return k.Stop
}

func (k *kind) notFound(region string) string {
	return k.Noun + " not found in " + region + k.NotFound
}

func (k *kind) field(name string) (field, bool) {
	for _, f := range k.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return field{}, false
}

// typesWithField are the types that take group field name.
func typesWithField(name string) []string {
	var ts []string
	for _, k := range registry {
		if _, ok := k.field(name); ok {
			ts = append(ts, string(k.Type))
		}
	}
	return ts
}

// checkKind says what a registered kind lacks, if anything.
func checkKind(k *kind) error {
	var missing []string
	need := func(ok bool, what string) {
		if !ok {
			missing = append(missing, what)
		}
	}
	need(k.Type != "" && strings.Contains(string(k.Type), "."), "YAML name (service.resource)")
	need(k.Noun != "", "Noun")
	need(k.Sid != "", "Sid")
	need(k.IDs != "", "IDs (id syntax)")
	need(k.CheckID != nil, "CheckID")
	need(strings.HasPrefix(k.ARN, "arn:{partition}:") && strings.Contains(k.ARN, "{region}") &&
		strings.Contains(k.ARN, "{account}") && strings.HasSuffix(k.ARN, "{id}"), "ARN form")
	_, svc := serviceOf(k.Service)
	need(svc, "Service (one of services)")
	for _, c := range []struct {
		name string
		c    call
	}{{"Start", k.Start}, {"Stop", k.Stop}, {"Describe", k.Describe}} {
		ok := c.c.Op != "" && len(c.c.IAM) > 0
		for _, a := range c.c.IAM {
			ok = ok && strings.Count(a, ":") == 1 && !strings.Contains(a, "*")
		}
		need(ok, c.name+" call and IAM actions")
	}
	for _, g := range k.Also {
		_, ok := serviceOf(g.Service)
		need(g.Sid != "" && ok && len(g.IAM) > 0 && g.Why != "", "Also "+g.Sid)
	}
	need(k.Target[Start] != "" && k.Target[Stop] != "", "Target states")
	need(k.Chunk > 0, "Chunk")
	for _, f := range k.Fields {
		need(f.Name != "" && f.Want != "" && f.Parse != nil && f.Doc != "", "field "+f.Name)
	}
	need(k.Doc.Start != "" && k.Doc.Stop != "", "Doc")
	need(k.New != nil, "New (worker)")
	if len(missing) > 0 {
		return fmt.Errorf("type %q lacks %s", k.Type, strings.Join(missing, ", "))
	}
	return nil
}

// fieldNames lists k's own fields for the unknown-field message.
func (k *kind) fieldNames() string {
	s := ""
	for _, f := range k.Fields {
		s += ", " + f.Name
	}
	return s
}

// matchID is a CheckID by regular expression; what names the id's kind.
func matchID(re *regexp.Regexp, id, what string) error {
	if !re.MatchString(id) {
		return fmt.Errorf("%q is not %s", id, what)
	}
	return nil
}

// anyID is the CheckID of ids the API itself checks.
func anyID(string) error { return nil }

// boolField reads a boolean as PyYAML does: true, yes or on (any case
// yamlnode accepts) and their opposites.
func boolField(v *yaml.Node) (any, bool) {
	if v.Kind != yaml.ScalarNode || yamlnode.Tag(v) != "!!bool" {
		return nil, false
	}
	switch strings.ToLower(v.Value) {
	case "true", "yes", "on":
		return true, true
	}
	return false, true
}
