package startstop

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/awsutils/awsutils/awsclient"
)

// AutoScalingGroup is an EC2 Auto Scaling group, by name.
const AutoScalingGroup Type = "autoscaling.group"

// capacityTag is the tag in which a stop saves what the next start
// restores, on the resource itself: the resource carries its own undo, so
// no state is kept anywhere else and any run (CLI or Lambda) can start it.
const capacityTag = "awsutils:capacity"

var asgKind = kind{
	Type:     AutoScalingGroup,
	Noun:     "Auto Scaling group",
	Sid:      "AutoScalingGroups",
	IDs:      "the group name: 1 to 255 printable ASCII characters, no space or colon",
	CheckID:  checkASGName,
	ARN:      "arn:{partition}:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/{id}",
	Service:  "autoscaling",
	Start:    call{"UpdateAutoScalingGroup", []string{"autoscaling:UpdateAutoScalingGroup", "autoscaling:DeleteTags"}},
	Stop:     call{"UpdateAutoScalingGroup", []string{"autoscaling:CreateOrUpdateTags", "autoscaling:UpdateAutoScalingGroup"}},
	Describe: call{"DescribeAutoScalingGroups", []string{"autoscaling:DescribeAutoScalingGroups"}},
	// running: not scaled to 0 and as many instances in service as
	// desired; stopped: min, max and desired 0 and no instances left.
	Target: map[Action]string{Start: "running", Stop: "stopped"},
	Chunk:  groupChunk,
	Doc: doc{
		Start: "`UpdateAutoScalingGroup` back to the saved min, max and desired capacity, then `DeleteTags`; a group at 0 without a saved capacity is `failed` (start it by hand once)",
		Stop:  "`CreateOrUpdateTags` saving min, max and desired, then `UpdateAutoScalingGroup` to 0, 0, 0 (the group terminates its instances)",
		Saved: "tag `" + capacityTag + "` = `min,max,desired` on the group; start removes it",
	},
	Select:       asgSelect,
	TagCondition: "autoscaling:ResourceTag/{key}",
	New: func(r *runner, k *kind, cfg aws.Config, b Batch) worker {
		return &asgWorker{r: r, k: k, c: awsclient.AutoScaling(cfg)}
	},
}

// groupChunk is the most names DescribeAutoScalingGroups takes.
const groupChunk = 100

func checkASGName(id string) error {
	if len(id) > 255 {
		return fmt.Errorf("%q is longer than 255 characters", id)
	}
	if strings.Contains(id, ":") {
		return fmt.Errorf("%q has a colon, which a group name cannot have (give the name, not the ARN)", id)
	}
	for _, c := range id {
		if c < 33 || c > 126 {
			return fmt.Errorf("%q has a character an Auto Scaling group name cannot have (%q)", id, c)
		}
	}
	return nil
}

// groupAPI is the part of the Auto Scaling client the worker uses.
type groupAPI interface {
	DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	UpdateAutoScalingGroup(context.Context, *autoscaling.UpdateAutoScalingGroupInput, ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error)
	CreateOrUpdateTags(context.Context, *autoscaling.CreateOrUpdateTagsInput, ...func(*autoscaling.Options)) (*autoscaling.CreateOrUpdateTagsOutput, error)
	DeleteTags(context.Context, *autoscaling.DeleteTagsInput, ...func(*autoscaling.Options)) (*autoscaling.DeleteTagsOutput, error)
}

// asgWorker scales Auto Scaling groups to 0 and back.
type asgWorker struct {
	r *runner
	k *kind
	c groupAPI
}

// capacity is an Auto Scaling group's sizes.
type capacity struct{ Min, Max, Desired int32 }

func (c capacity) String() string { return fmt.Sprintf("%d,%d,%d", c.Min, c.Max, c.Desired) }

func (c capacity) zero() bool { return c == capacity{} }

// parseCapacity reads a saved capacity tag's value, min,max,desired.
func parseCapacity(v string) (capacity, error) {
	parts := strings.Split(v, ",")
	if len(parts) != 3 {
		return capacity{}, badTag(v, "min,max,desired")
	}
	var n [3]int32
	for i, p := range parts {
		x, err := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
		if err != nil || x < 0 {
			return capacity{}, badTag(v, "min,max,desired")
		}
		n[i] = int32(x)
	}
	c := capacity{n[0], n[1], n[2]}
	if c.Min > c.Desired || c.Desired > c.Max || c.Max == 0 {
		return capacity{}, badTag(v, "min,max,desired with min ≤ desired ≤ max and max above 0")
	}
	return c, nil
}

// badTag is the error of a saved capacity tag that cannot be read.
func badTag(v, want string) error {
	return fmt.Errorf("tag %s is %q, want %s; fix or delete the tag (nothing changed)", capacityTag, v, want)
}

// asgGroup is what the worker knows of a group from a describe.
type asgGroup struct {
	cap                  capacity
	instances, inService int
	deleting             bool
	saved                *capacity // from the tag; nil: no tag
	tagErr               error     // the tag is malformed
}

// name is the group's state: stopped when scaled to 0 with no instance
// left, running when as many instances are in service as desired.
func (g asgGroup) name() string {
	switch {
	case g.deleting:
		return "deleting"
	case g.cap.zero() && g.instances > 0:
		return "stopping"
	case g.cap.zero():
		return "stopped"
	case int32(g.inService) >= g.cap.Desired:
		return "running"
	}
	return "starting"
}

func (w *asgWorker) describe(ctx context.Context, ids []string) (map[string]resState, error) {
	states := map[string]resState{}
	in := &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: ids, MaxRecords: aws.Int32(groupChunk)}
	for {
		var out *autoscaling.DescribeAutoScalingGroupsOutput
		err := w.r.call(ctx, w.k.Service, func() (err error) {
			out, err = w.c.DescribeAutoScalingGroups(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, g := range out.AutoScalingGroups {
			ag := readGroup(g)
			states[aws.ToString(g.AutoScalingGroupName)] = resState{Name: ag.name(), Reason: ag.reason(), extra: ag}
		}
		if aws.ToString(out.NextToken) == "" {
			return states, nil
		}
		in.NextToken = out.NextToken
	}
}

// reason says the sizes and what is saved, for status.
func (g asgGroup) reason() string {
	s := fmt.Sprintf("min,max,desired %s; %d of %d instances in service", g.cap, g.inService, g.instances)
	switch {
	case g.tagErr != nil:
		s += "; " + g.tagErr.Error()
	case g.saved != nil:
		s += fmt.Sprintf("; capacity %s saved in tag %s", g.saved, capacityTag)
	}
	return s
}

func readGroup(g astypes.AutoScalingGroup) asgGroup {
	ag := asgGroup{
		cap:      capacity{aws.ToInt32(g.MinSize), aws.ToInt32(g.MaxSize), aws.ToInt32(g.DesiredCapacity)},
		deleting: aws.ToString(g.Status) != "",
	}
	for _, i := range g.Instances {
		switch i.LifecycleState {
		case astypes.LifecycleStateTerminated:
		case astypes.LifecycleStateInService:
			ag.inService++
			ag.instances++
		default:
			ag.instances++
		}
	}
	for _, t := range g.Tags {
		if aws.ToString(t.Key) != capacityTag {
			continue
		}
		c, err := parseCapacity(aws.ToString(t.Value))
		if err != nil {
			ag.tagErr = err
		} else {
			ag.saved = &c
		}
	}
	return ag
}

func (w *asgWorker) decide(a Action, st resState) (bool, Outcome, string) {
	g, _ := st.extra.(asgGroup)
	return decideASG(a, g)
}

func decideASG(a Action, g asgGroup) (bool, Outcome, string) {
	switch {
	case g.deleting:
		return false, Failed, "Auto Scaling group is being deleted"
	case g.tagErr != nil:
		return false, Failed, g.tagErr.Error()
	case a == Stop && g.cap.zero() && g.saved != nil:
		return false, Unchanged, fmt.Sprintf("already scaled to 0; capacity %s saved in tag %s", g.saved, capacityTag)
	case a == Stop && g.cap.zero():
		return false, Unchanged, "already scaled to 0 and no saved capacity (tag " + capacityTag + "): start will not know what to restore"
	case a == Stop:
		return true, "", ""
	case !g.cap.zero():
		return false, Unchanged, fmt.Sprintf("not scaled to 0 (min,max,desired %s)", g.cap)
	case g.saved == nil:
		return false, Failed, "scaled to 0 and no saved capacity (tag " + capacityTag + "); start it by hand once"
	}
	return true, "", ""
}

func (w *asgWorker) act(ctx context.Context, res Result, st resState) Result {
	g, ok := st.extra.(asgGroup)
	res.After = res.Before
	if !ok {
		// Acting blind would lose the capacity (stop) or guess it (start).
		res.Outcome = Failed
		res.Message = "cannot read the group's capacity without " + w.k.Describe.IAM[0] + "; nothing changed"
		return res
	}
	name := aws.String(res.ID)
	if w.r.action == Stop {
		// The tag first: a run cut off after it leaves the group as it was
		// (the next stop saves it again); scaling to 0 first, a run cut off
		// before the tag would lose what start must restore.
		err := w.r.call(ctx, w.k.Service, func() error {
			_, err := w.c.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: []astypes.Tag{{
				ResourceId: name, ResourceType: aws.String("auto-scaling-group"),
				Key: aws.String(capacityTag), Value: aws.String(g.cap.String()), PropagateAtLaunch: aws.Bool(false),
			}}})
			return err
		})
		if err != nil {
			res.Outcome, res.Message = Failed, failure(err, "CreateOrUpdateTags")+" (nothing changed)"
			return res
		}
		if err := w.resize(ctx, name, capacity{}); err != nil {
			res.Outcome, res.Message = Failed, failure(err, "UpdateAutoScalingGroup")+fmt.Sprintf(" (capacity %s saved in tag %s)", g.cap, capacityTag)
			return res
		}
		was := g.cap
		g.cap = capacity{}
		res.After, res.Outcome = g.name(), Changed
		res.Message = fmt.Sprintf("saved min,max,desired %s in tag %s; scaled to 0", was, capacityTag)
		return res
	}
	// Sizes first, then the tag: a run cut off between them leaves the
	// group restored with a stale tag, which the next stop overwrites;
	// the other order would lose the capacity.
	saved := *g.saved
	if err := w.resize(ctx, name, saved); err != nil {
		res.Outcome, res.Message = Failed, failure(err, "UpdateAutoScalingGroup")+fmt.Sprintf(" (capacity %s still saved in tag %s)", saved, capacityTag)
		return res
	}
	g.cap = saved
	res.After, res.Outcome = g.name(), Changed
	res.Message = fmt.Sprintf("restored min,max,desired %s from tag %s", saved, capacityTag)
	err := w.r.call(ctx, w.k.Service, func() error {
		_, err := w.c.DeleteTags(ctx, &autoscaling.DeleteTagsInput{Tags: []astypes.Tag{{
			ResourceId: name, ResourceType: aws.String("auto-scaling-group"), Key: aws.String(capacityTag),
		}}})
		return err
	})
	if err != nil {
		// Started all the same; the stale tag only matters to a start of a
		// group scaled to 0 by hand, and the next stop overwrites it.
		res.Message += "; the tag is left: " + failure(err, "DeleteTags")
	}
	return res
}

func (w *asgWorker) resize(ctx context.Context, name *string, c capacity) error {
	return w.r.call(ctx, w.k.Service, func() error {
		_, err := w.c.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
			AutoScalingGroupName: name, MinSize: aws.Int32(c.Min), MaxSize: aws.Int32(c.Max), DesiredCapacity: aws.Int32(c.Desired),
		})
		return err
	})
}

// settle waits for the instances: none left after a stop, as many in
// service as desired after a start.
func (w *asgWorker) settle(a Action, st resState) (progress, string) {
	switch {
	case st.Name == w.k.Target[a]:
		return reached, ""
	case st.Name == "deleting":
		return broke, "Auto Scaling group is being deleted"
	}
	return moving, ""
}
