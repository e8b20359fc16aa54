package startstop

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/awsutils/awsutils/awsclient"
)

// ec2ID is an instance id: i- and 8 (old format) or 17 hex digits.
var ec2ID = regexp.MustCompile(`^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$`)

var ec2Kind = kind{
	Type:     EC2Instance,
	Noun:     "instance",
	Sid:      "Instances",
	IDs:      "i- and 8 or 17 hex digits",
	CheckID:  func(id string) error { return matchID(ec2ID, id, "an EC2 instance id") },
	ARN:      "arn:{partition}:ec2:{region}:{account}:instance/{id}",
	Service:  "ec2",
	Start:    call{"StartInstances", []string{"ec2:StartInstances"}},
	Stop:     call{"StopInstances", []string{"ec2:StopInstances"}},
	Describe: call{"DescribeInstances", []string{"ec2:DescribeInstances"}},
	Target:   map[Action]string{Start: "running", Stop: "stopped"},
	Also: []grant{{Sid: "AutoScalingMembers", Service: "autoscaling", IAM: []string{"autoscaling:DescribeAutoScalingInstances"},
		Why: "an instance of an Auto Scaling group is refused, not stopped (the group would replace it)"}},
	Chunk:        ec2Chunk,
	Select:       ec2Select,
	TagCondition: "ec2:ResourceTag/{key}",
	Fields: []field{{Name: "hibernate", Want: "true or false", Parse: boolField,
		Doc: "stop hibernates the instances (StopInstances with Hibernate); one not configured for hibernation is stopped"}},
	Doc: doc{
		Start: "`StartInstances`, 200 instances a call",
		Stop:  "`StopInstances`, 200 instances a call; an instance of an Auto Scaling group is refused (`unsupported`), since the group would replace it",
	},
	New: func(r *runner, k *kind, cfg aws.Config, b Batch) worker {
		return newEC2Worker(r, awsclient.EC2(cfg), awsclient.AutoScaling(cfg), b)
	},
}

// ec2Chunk is the most instance ids per call: EC2 accepts at most 200
// values per filter, and the same size keeps Start/StopInstances calls
// well within what one request carries.
const ec2Chunk = 200

// ec2API is the part of the EC2 client the worker uses.
type ec2API interface {
	DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	StartInstances(context.Context, *ec2.StartInstancesInput, ...func(*ec2.Options)) (*ec2.StartInstancesOutput, error)
	StopInstances(context.Context, *ec2.StopInstancesInput, ...func(*ec2.Options)) (*ec2.StopInstancesOutput, error)
}

// asgAPI is the part of the Auto Scaling client the EC2 worker uses.
type asgAPI interface {
	DescribeAutoScalingInstances(context.Context, *autoscaling.DescribeAutoScalingInstancesInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error)
}

// asgChunk is the most instance ids DescribeAutoScalingInstances takes.
const asgChunk = 50

// asgTag is the tag Auto Scaling puts on the instances it launches.
const asgTag = "aws:autoscaling:groupName"

// ec2Worker starts and stops the instances of one batch.
type ec2Worker struct {
	r      *runner
	c      ec2API
	b      Batch
	asg    asgAPI
	region string
	// hibernate: stops hibernate (the group says hibernate: true).
	hibernate bool
}

func newEC2Worker(r *runner, c ec2API, asg asgAPI, b Batch) *ec2Worker {
	return &ec2Worker{r: r, c: c, asg: asg, b: b, region: b.Region, hibernate: b.Flag("hibernate") && r != nil && r.action == Stop}
}

func (w *ec2Worker) batch(ctx context.Context, b Batch) {
	eachChunk(b, ec2Chunk, func(ids []string) { w.chunk(ctx, ids) })
}

func chunks(ids []string, n int) func(func([]string) bool) {
	return func(yield func([]string) bool) {
		for len(ids) > 0 {
			k := min(n, len(ids))
			if !yield(ids[:k]) {
				return
			}
			ids = ids[k:]
		}
	}
}

// describe describes ids by an instance-id filter, so ids that do not
// exist are simply absent instead of failing the call. Its StateReason is
// e.g. why a start fell back to stopped.
func (w *ec2Worker) describe(ctx context.Context, ids []string) (map[string]resState, error) {
	states := make(map[string]resState, len(ids))
	in := &ec2.DescribeInstancesInput{
		Filters:    []ec2types.Filter{{Name: aws.String("instance-id"), Values: ids}},
		MaxResults: aws.Int32(1000),
	}
	for {
		var out *ec2.DescribeInstancesOutput
		err := w.r.call(ctx, "ec2", func() (err error) {
			out, err = w.c.DescribeInstances(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, res := range out.Reservations {
			for _, inst := range res.Instances {
				st := resState{}
				if inst.State != nil {
					st.Name = string(inst.State.Name)
				}
				if inst.StateReason != nil {
					st.Reason = aws.ToString(inst.StateReason.Message)
				}
				for _, t := range inst.Tags {
					if aws.ToString(t.Key) == asgTag && aws.ToString(t.Value) != "" {
						st.Unsupported = memberOf(aws.ToString(t.Value))
					}
				}
				states[aws.ToString(inst.InstanceId)] = st
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return states, nil
		}
		in.NextToken = out.NextToken
	}
}

// chunk starts or stops up to ec2Chunk instances.
//
// It acts first: Start/StopInstances is idempotent and answers each
// instance's state before and after the call, which is all the report
// needs, so when every instance can take the action one call does the
// work of describe-then-act, and the describe call per chunk is saved: on
// AWS a call, on moto most of the run's time (docs/NOTES.md). Only
// when the call fails (an instance that does not exist, is pending or
// stopping, or is terminated, or one the role may not touch) does the chunk
// go the careful way: describe, decide per instance, act on those that can.
func (w *ec2Worker) chunk(ctx context.Context, ids []string) {
	r := w.r
	ids = w.notMembers(ctx, ids)
	if len(ids) == 0 {
		return
	}
	var refused error
	if !r.opts.DryRun {
		changes, err := w.call(ctx, ids, w.hibernate)
		if err == nil {
			w.finish(ctx, w.changes(ids, changes, nil, w.hibernate), false)
			return
		}
		if w.hibernate && cannotHibernate(err) {
			// Describing would not tell which instances can hibernate:
			// the stop falls back where it must (see ec2Acter.act).
			w.finish(ctx, w.actOn(ctx, ids, nil, err), false)
			return
		}
		if awsclient.Classify(err) == awsclient.KindCanceled {
			for _, id := range ids {
				res := w.b.result(id)
				res.Outcome, res.Message = Failed, failure(err, w.op())
				r.set(res)
			}
			return
		}
		refused = err
	}
	w.careful(ctx, ids, refused)
}

func (w *ec2Worker) op() string { return ec2Kind.op(w.r.action).Op }

// careful describes ids, decides per instance and acts on those that
// can take the action. refused is how the act-first call on ids failed, if
// it was made.
func (w *ec2Worker) careful(ctx context.Context, ids []string, refused error) {
	r, region := w.r, w.region
	result := w.b.result
	// The original's IAM role has ec2:Start* and ec2:Stop* only. Both
	// calls are idempotent, so acting blind when describe is denied is safe.
	states, denied, ok := r.describeToAct(ctx, &ec2Kind, w, w.b, ids, "EC2 instances")
	if !ok {
		return
	}
	var act []string
	before := map[string]string{}
	for _, id := range ids {
		if denied {
			act = append(act, id)
			continue
		}
		res := result(id)
		st, ok := states[id]
		if !ok {
			res.Outcome, res.Message = Failed, ec2Kind.notFound(region)
			r.set(res)
			continue
		}
		res.Before = st.Name
		if r.judge(w, res, st) {
			before[id] = st.Name
			act = append(act, id)
		}
	}
	if len(act) == 0 {
		return
	}
	// A permission refusal does not depend on the instances' states: when
	// every id is still to be acted on, the same call would be refused
	// again, so its answer is used instead of a second call.
	var known error
	if len(act) == len(ids) && awsclient.Classify(refused) == awsclient.KindAccessDenied {
		known = refused
	}
	w.finish(ctx, w.actOn(ctx, act, before, known), denied)
}

// finish records results, after waiting for the changed instances when
// asked to.
func (w *ec2Worker) finish(ctx context.Context, results []Result, denied bool) {
	r := w.r
	if !r.opts.Wait || r.opts.DryRun {
		for _, res := range results {
			r.set(res)
		}
		return
	}
	var changed []Result
	for _, res := range results {
		if res.Outcome == Changed {
			changed = append(changed, res)
		} else {
			r.set(res)
		}
	}
	if denied && len(changed) > 0 {
		r.note(fmt.Sprintf("could not wait for EC2 instances in %s: ec2:DescribeInstances is not allowed", w.region))
		for _, res := range changed {
			r.set(res)
		}
		return
	}
	r.wait(ctx, &ec2Kind, w, changed)
}

func pastTense(a Action) string {
	if a == Start {
		return "started"
	}
	return "stopped"
}

// decideEC2 says whether to call Start/StopInstances for an instance in
// state st, and if not, its outcome.
func decideEC2(a Action, st string) (act bool, o Outcome, msg string) {
	switch ec2types.InstanceStateName(st) {
	case ec2types.InstanceStateNameTerminated:
		return false, Failed, "instance is terminated"
	case ec2types.InstanceStateNameShuttingDown:
		return false, Failed, "instance is shutting down (being terminated)"
	}
	if a == Start {
		switch ec2types.InstanceStateName(st) {
		case ec2types.InstanceStateNameStopped:
			return true, "", ""
		case ec2types.InstanceStateNameRunning:
			return false, Unchanged, "already running"
		case ec2types.InstanceStateNamePending:
			return false, Unchanged, "already starting"
		case ec2types.InstanceStateNameStopping:
			return false, Failed, "instance is stopping; it can be started once stopped"
		}
	} else {
		switch ec2types.InstanceStateName(st) {
		case ec2types.InstanceStateNameRunning:
			return true, "", ""
		case ec2types.InstanceStateNameStopped:
			return false, Unchanged, "already stopped"
		case ec2types.InstanceStateNameStopping:
			return false, Unchanged, "already stopping"
		case ec2types.InstanceStateNamePending:
			return false, Failed, "instance is pending (starting); it can be stopped once running"
		}
	}
	return false, Failed, fmt.Sprintf("instance is %s; not %s", st, pastTense(a))
}

// instanceIDs finds instance ids in an error message such as "The instance
// IDs 'i-1, i-2' do not exist" or "Invalid id: \"i-x\"".
var instanceIDs = regexp.MustCompile(`i-[0-9A-Za-z]+`)

// refusedIDs finds the instances a permission refusal names: only as the
// resource ("... on resource: arn:aws:ec2:r:a:instance/i-x ..."), since the
// caller's own ARN may hold an instance id too (the role session of an EC2
// instance is named after it).
var refusedIDs = regexp.MustCompile(`:instance/(i-[0-9A-Za-z]+)`)

// badIDs are the ids of batch that err's message names.
func badIDs(err error, batch []string) []string {
	in := map[string]bool{}
	for _, id := range batch {
		in[id] = true
	}
	msg := awsclient.Message(err)
	var found []string
	if awsclient.Classify(err) == awsclient.KindAccessDenied {
		for _, m := range refusedIDs.FindAllStringSubmatch(msg, -1) {
			found = append(found, m[1])
		}
	} else {
		found = instanceIDs.FindAllString(msg, -1)
	}
	var bad []string
	seen := map[string]bool{}
	for _, id := range found {
		if in[id] && !seen[id] {
			seen[id] = true
			bad = append(bad, id)
		}
	}
	return bad
}

// ec2SplitCalls bounds the calls one chunk may make to isolate the ids
// that make a call fail. An id whose error does not name it costs about
// 2·log2(n) calls to find by splitting; a role that may touch none of 200
// instances would cost 400, so past this bound what is still refused fails
// together, with the message saying so.
const ec2SplitCalls = 64

// actOn starts or stops ids in one call. When the call fails because of
// some of the ids, those are failed and the call is made again without
// them (named in the message) or split in halves (not named, as in EC2's
// UnauthorizedOperation, which only the encoded message explains), so one
// bad id costs only itself. known, if set, is the answer to that call,
// already made.
func (w *ec2Worker) actOn(ctx context.Context, ids []string, before map[string]string, known error) []Result {
	a := &ec2Acter{w: w, r: w.r, region: w.region, before: before, hibernate: w.hibernate, budget: new(atomic.Int32)}
	a.budget.Store(ec2SplitCalls)
	return a.act(ctx, ids, known)
}

// ec2Acter is one actOn: the halves of a split batch run concurrently
// (within the EC2 concurrency bound) and share the call budget.
type ec2Acter struct {
	w      *ec2Worker
	r      *runner
	region string
	before map[string]string
	budget *atomic.Int32
	// hibernate: the stop hibernates; fellBack: it is the plain stop of
	// instances that cannot hibernate.
	hibernate, fellBack bool
}

func (a *ec2Acter) result(id string) Result {
	res := a.w.b.result(id)
	res.Before = a.before[id]
	return res
}

func (a *ec2Acter) act(ctx context.Context, ids []string, known error) []Result {
	r := a.r
	op := a.w.op()
	var results []Result
	for len(ids) > 0 {
		var changes []ec2types.InstanceStateChange
		err := known
		if known == nil {
			changes, err = a.w.call(ctx, ids, a.hibernate)
		}
		known = nil
		if err == nil {
			done := a.w.changes(ids, changes, a.before, a.hibernate)
			if a.fellBack {
				for i := range done {
					if done[i].Outcome == Changed {
						done[i].Message = "hibernation not configured; stopped"
					}
				}
			}
			return append(results, done...)
		}
		if a.hibernate && cannotHibernate(err) {
			// The instances named (or, unnamed, one alone or the rest
			// once the split budget is spent) are stopped without
			// hibernation; the others try again.
			plain := badIDs(err, ids)
			if len(plain) == 0 {
				if len(ids) > 1 && a.budget.Add(-2) >= 0 {
					return append(results, a.split(ctx, ids)...)
				}
				plain = ids
			}
			fb := *a
			fb.hibernate, fb.fellBack = false, true
			results = append(results, fb.act(ctx, plain, nil)...)
			ids = without(ids, plain)
			continue
		}
		kind := awsclient.Classify(err)
		if kind == awsclient.KindDryRunOK {
			for _, id := range ids {
				res := a.result(id)
				res.After, res.Outcome, res.Message = ec2Kind.Target[r.action], Planned, "dry run: "+op+" would succeed"
				results = append(results, res)
			}
			return results
		}
		if kind != awsclient.KindCanceled {
			if bad := badIDs(err, ids); len(bad) > 0 {
				msg := op + ": " + awsclient.Message(err)
				switch kind {
				case awsclient.KindNotFound:
					msg = "instance not found in " + a.region + " (" + awsclient.Code(err) + ")"
				case awsclient.KindAccessDenied:
					msg = r.deniedMessage(ctx, a.region, op, err)
				}
				for _, id := range bad {
					res := a.result(id)
					res.Outcome, res.Message = Failed, msg
					results = append(results, res)
				}
				ids = without(ids, bad)
				continue
			}
			splittable := kind == awsclient.KindNotFound || kind == awsclient.KindInvalidInput ||
				kind == awsclient.KindWrongState || kind == awsclient.KindAccessDenied
			if len(ids) > 1 && splittable {
				if a.budget.Add(-2) >= 0 {
					return append(results, a.split(ctx, ids)...)
				}
				msg := failure(err, op)
				if kind == awsclient.KindAccessDenied {
					msg = r.deniedMessage(ctx, a.region, op, err)
				}
				msg += fmt.Sprintf(" (refused for a batch of %d instances; not split further after %d calls)", len(ids), ec2SplitCalls)
				for _, id := range ids {
					res := a.result(id)
					res.Outcome, res.Message = Failed, msg
					results = append(results, res)
				}
				return results
			}
			if kind == awsclient.KindAccessDenied {
				res := a.result(ids[0])
				res.Outcome, res.Message = Failed, r.deniedMessage(ctx, a.region, op, err)
				return append(results, res)
			}
		}
		for _, id := range ids {
			res := a.result(id)
			res.Outcome, res.Message = Failed, failure(err, op)
			results = append(results, res)
		}
		return results
	}
	return results
}

// split acts on the halves of ids at the same time.
func (a *ec2Acter) split(ctx context.Context, ids []string) []Result {
	half := len(ids) / 2
	var second []Result
	var wg sync.WaitGroup
	wg.Go(func() { second = a.act(ctx, ids[half:], nil) })
	first := a.act(ctx, ids[:half], nil)
	wg.Wait()
	return append(first, second...)
}

// changes turns the state changes a Start/StopInstances call returned
// for ids into results; before holds states described earlier, if any;
// hibernated says the stop hibernated them.
func (w *ec2Worker) changes(ids []string, changes []ec2types.InstanceStateChange, before map[string]string, hibernated bool) []Result {
	r := w.r
	results := make([]Result, 0, len(ids))
	got := map[string]bool{}
	for _, ch := range changes {
		id := aws.ToString(ch.InstanceId)
		got[id] = true
		res := w.b.result(id)
		res.Before = before[id]
		prev, cur := stateName(ch.PreviousState), stateName(ch.CurrentState)
		if res.Before == "" {
			res.Before = prev
		}
		res.After, res.Outcome = cur, Changed
		// The state at the time of the call decides, as a describe would
		// have: already stopped is unchanged, terminated is a failure,
		// whatever the call claims it moved to (moto "stops" a stopped or
		// terminated instance; AWS answers stopped -> stopped or refuses).
		if act, o, msg := decideEC2(r.action, prev); !act {
			res.After, res.Outcome, res.Message = prev, o, msg
		} else if hibernated {
			res.Message = "hibernated"
		}
		results = append(results, res)
	}
	for _, id := range ids {
		if !got[id] {
			res := w.b.result(id)
			res.Before, res.Outcome, res.Message = before[id], Failed, w.op()+" returned no state for this instance"
			results = append(results, res)
		}
	}
	return results
}

// call is one StartInstances or StopInstances call; hibernate asks the
// stop to hibernate.
func (w *ec2Worker) call(ctx context.Context, ids []string, hibernate bool) ([]ec2types.InstanceStateChange, error) {
	r, c := w.r, w.c
	var changes []ec2types.InstanceStateChange
	dry := aws.Bool(r.opts.DryRun)
	err := r.call(ctx, "ec2", func() error {
		if r.action == Start {
			out, err := c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: ids, DryRun: dry})
			if err == nil {
				changes = out.StartingInstances
			}
			return err
		}
		in := &ec2.StopInstancesInput{InstanceIds: ids, DryRun: dry}
		if hibernate {
			in.Hibernate = aws.Bool(true)
		}
		out, err := c.StopInstances(ctx, in)
		if err == nil {
			changes = out.StoppingInstances
		}
		return err
	})
	return changes, err
}

func stateName(s *ec2types.InstanceState) string {
	if s == nil {
		return ""
	}
	return string(s.Name)
}

func (w *ec2Worker) decide(a Action, st resState) (bool, Outcome, string) {
	return decideEC2(a, st.Name)
}

func memberOf(group string) string {
	return fmt.Sprintf("member of Auto Scaling group %s; list the group under autoscaling.group", group)
}

// notMembers reports the instances of ids that belong to an Auto Scaling
// group as unsupported (the group would replace one stopped, or stop one
// started) and returns the others. It asks Auto Scaling, 50 ids a call,
// so that acting first needs no describe; when it cannot ask (refused or
// unreachable), it says so once and lets the instances through, as before
// the check.
func (w *ec2Worker) notMembers(ctx context.Context, ids []string) []string {
	r := w.r
	if len(ids) == 0 {
		return nil
	}
	check := "autoscaling:" + w.region
	var parts [][]string
	for part := range chunks(ids, asgChunk) {
		parts = append(parts, part)
	}
	var mu sync.Mutex
	group := map[string]string{}
	canceled := false
	ask := func(part []string) {
		if r.givenUp(check) {
			return // unchecked, as before the check
		}
		groups, err := w.groups(ctx, part)
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			maps.Copy(group, groups)
			return
		}
		if awsclient.Classify(err) == awsclient.KindCanceled {
			canceled = true
			return
		}
		// Refused (the original's role), or unreachable (a VPC without
		// an Auto Scaling endpoint): asking again would fail again, and
		// failing the instances would break runs that worked before the
		// check.
		r.giveUp(check)
		if awsclient.Classify(err) == awsclient.KindAccessDenied {
			r.note(fmt.Sprintf("autoscaling:DescribeAutoScalingInstances is not allowed in %s, so EC2 instances were not checked for Auto Scaling group membership (%s)",
				w.region, awsclient.Code(err)))
		} else {
			r.note(fmt.Sprintf("EC2 instances in %s were not checked for Auto Scaling group membership: %s", w.region, failure(err, "DescribeAutoScalingInstances")))
		}
	}
	// The first call says whether the role may ask; the others of the
	// batch then go at once, so the check costs two round trips, not
	// four.
	ask(parts[0])
	var wg sync.WaitGroup
	for _, part := range parts[1:] {
		wg.Go(func() { ask(part) })
	}
	wg.Wait()
	if canceled {
		return nil
	}
	var rest []string
	for _, id := range ids {
		if g := group[id]; g != "" {
			res := w.b.result(id)
			res.Outcome, res.Message = Unsupported, memberOf(g)
			r.set(res)
			continue
		}
		rest = append(rest, id)
	}
	return rest
}

// groups are the Auto Scaling groups of those of ids (at most asgChunk)
// that are members of one.
func (w *ec2Worker) groups(ctx context.Context, ids []string) (map[string]string, error) {
	group := map[string]string{}
	in := &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: ids, MaxRecords: aws.Int32(asgChunk)}
	for {
		var out *autoscaling.DescribeAutoScalingInstancesOutput
		err := w.r.call(ctx, "autoscaling", func() (err error) {
			out, err = w.asg.DescribeAutoScalingInstances(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, a := range out.AutoScalingInstances {
			group[aws.ToString(a.InstanceId)] = aws.ToString(a.AutoScalingGroupName)
		}
		if aws.ToString(out.NextToken) == "" {
			return group, nil
		}
		in.NextToken = out.NextToken
	}
}

// cannotHibernate says err is EC2 refusing to hibernate an instance that
// is not configured (or not able) to, which a plain stop still stops.
func cannotHibernate(err error) bool {
	if awsclient.Code(err) == "UnsupportedHibernationConfiguration" {
		return true
	}
	k := awsclient.Classify(err)
	return (k == awsclient.KindInvalidInput || k == awsclient.KindOther) &&
		strings.Contains(strings.ToLower(awsclient.Message(err)), "hibernat")
}

// without is ids less those in drop.
func without(ids, drop []string) []string {
	out := ids[:0:0]
	for _, id := range ids {
		if !slices.Contains(drop, id) {
			out = append(out, id)
		}
	}
	return out
}

// act starts or stops one instance as a batch of one.
func (w *ec2Worker) act(ctx context.Context, res Result, _ resState) Result {
	return w.actOn(ctx, []string{res.ID}, map[string]string{res.ID: res.Before}, nil)[0]
}

// settle fails a start that falls back to stopped (twice in a row: once
// could be the describe lagging behind the start) or ends terminated: that
// is what an encrypted volume whose KMS key cannot be used looks like.
func (w *ec2Worker) settle(a Action, st resState) (progress, string) {
	switch {
	case st.Name == ec2Kind.Target[a]:
		return reached, ""
	case a == Start && (st.Name == "stopped" || st.Name == "terminated" || st.Name == "shutting-down"):
		msg := "started, then fell back to " + st.Name + " (often an encrypted EBS volume whose KMS key cannot be used)"
		if st.Reason != "" {
			msg += ": " + st.Reason
		}
		if st.Name != "stopped" {
			return broke, msg
		}
		return fellBack, msg
	}
	return moving, ""
}
