package startstop

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/awsutils/awsutils/awsclient"
)

// ECSService is an ECS service, as CLUSTER/SERVICE.
const ECSService Type = "ecs.service"

// ecsID is CLUSTER/SERVICE: each up to 255 letters, digits, hyphens and
// underscores.
var ecsID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}/[A-Za-z0-9_-]{1,255}$`)

var ecsKind = kind{
	Type:     ECSService,
	Noun:     "ECS service",
	Sid:      "ECSServices",
	IDs:      "CLUSTER/SERVICE, each up to 255 letters, digits, hyphens and underscores",
	CheckID:  checkECSID,
	ARN:      "arn:{partition}:ecs:{region}:{account}:service/{id}",
	Service:  "ecs",
	Start:    call{"UpdateService", []string{"ecs:UpdateService", "ecs:UntagResource"}},
	Stop:     call{"UpdateService", []string{"ecs:TagResource", "ecs:UpdateService"}},
	Describe: call{"DescribeServices", []string{"ecs:DescribeServices"}},
	// running: as many tasks running as desired (above 0); stopped:
	// desired 0 and no task left.
	Target: map[Action]string{Start: "running", Stop: "stopped"},
	Chunk:  ecsChunk,
	Doc: doc{
		Start: "`UpdateService` back to the saved desired count, then `UntagResource`; a service at 0 without a saved count is `failed` (start it by hand once)",
		Stop:  "`TagResource` saving the desired count, then `UpdateService` to desired count 0",
		Saved: "tag `" + capacityTag + "` = the desired count on the service; start removes it",
	},
	New: func(r *runner, k *kind, cfg aws.Config, b Batch) worker {
		return &ecsWorker{r: r, k: k, c: awsclient.ECS(cfg)}
	},
}

// ecsChunk is the most ids one describe takes, in DescribeServices calls
// of up to ecsPerCall services of one cluster each.
const (
	ecsChunk   = 100
	ecsPerCall = 10
)

func checkECSID(id string) error {
	if !strings.Contains(id, "/") {
		return fmt.Errorf("%q names no cluster", id)
	}
	return matchID(ecsID, id, "an ECS CLUSTER/SERVICE")
}

// ecsAPI is the part of the ECS client the worker uses.
type ecsAPI interface {
	DescribeServices(context.Context, *ecs.DescribeServicesInput, ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	UpdateService(context.Context, *ecs.UpdateServiceInput, ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
	TagResource(context.Context, *ecs.TagResourceInput, ...func(*ecs.Options)) (*ecs.TagResourceOutput, error)
	UntagResource(context.Context, *ecs.UntagResourceInput, ...func(*ecs.Options)) (*ecs.UntagResourceOutput, error)
}

// ecsWorker scales ECS services to desired count 0 and back.
type ecsWorker struct {
	r *runner
	k *kind
	c ecsAPI
}

// ecsSvc is what the worker knows of a service from a describe.
type ecsSvc struct {
	arn                       string
	status                    string // ACTIVE, DRAINING
	desired, running, pending int32
	saved                     int32 // from the tag; -1: no tag
	tagErr                    error
}

// name is the service's state: stopped at desired count 0 with no task
// left, running with as many tasks running as desired.
func (s ecsSvc) name() string {
	switch {
	case s.status != "ACTIVE":
		return strings.ToLower(s.status)
	case s.desired == 0 && s.running+s.pending > 0:
		return "stopping"
	case s.desired == 0:
		return "stopped"
	case s.running >= s.desired:
		return "running"
	}
	return "starting"
}

// reason says the counts and what is saved, for status.
func (s ecsSvc) reason() string {
	r := fmt.Sprintf("desired %d, running %d, pending %d", s.desired, s.running, s.pending)
	switch {
	case s.tagErr != nil:
		r += "; " + s.tagErr.Error()
	case s.saved > 0:
		r += fmt.Sprintf("; desired count %d saved in tag %s", s.saved, capacityTag)
	}
	return r
}

// parseDesired reads a saved desired count.
func parseDesired(v string) (int32, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	if err != nil || n <= 0 {
		return 0, badTag(v, "the desired count, a whole number above 0")
	}
	return int32(n), nil
}

// describe asks for each cluster's services, up to ecsPerCall a call, at
// once. A cluster that does not exist leaves its services absent.
func (w *ecsWorker) describe(ctx context.Context, ids []string) (map[string]resState, error) {
	byCluster := map[string][]string{}
	var clusters []string
	for _, id := range ids {
		cl, svc, _ := strings.Cut(id, "/")
		if byCluster[cl] == nil {
			clusters = append(clusters, cl)
		}
		byCluster[cl] = append(byCluster[cl], svc)
	}
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		states = map[string]resState{}
		first  error
	)
	for _, cl := range clusters {
		for part := range chunks(byCluster[cl], ecsPerCall) {
			wg.Go(func() {
				got, err := w.describeCluster(ctx, cl, part)
				mu.Lock()
				defer mu.Unlock()
				if err != nil && first == nil {
					first = err
				}
				maps.Copy(states, got)
			})
		}
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return states, nil
}

func (w *ecsWorker) describeCluster(ctx context.Context, cluster string, services []string) (map[string]resState, error) {
	var out *ecs.DescribeServicesOutput
	err := w.r.call(ctx, w.k.Service, func() (err error) {
		out, err = w.c.DescribeServices(ctx, &ecs.DescribeServicesInput{
			Cluster: aws.String(cluster), Services: services, Include: []ecstypes.ServiceField{ecstypes.ServiceFieldTags},
		})
		return err
	})
	if awsclient.Classify(err) == awsclient.KindNotFound {
		return nil, nil // the cluster: its services are not found
	}
	if err != nil {
		return nil, err
	}
	states := map[string]resState{}
	for _, s := range out.Services {
		if aws.ToString(s.Status) == "INACTIVE" {
			continue // deleted: ECS describes it for a while after
		}
		es := readService(s)
		states[cluster+"/"+aws.ToString(s.ServiceName)] = resState{Name: es.name(), Reason: es.reason(), extra: es}
	}
	return states, nil
}

func readService(s ecstypes.Service) ecsSvc {
	es := ecsSvc{arn: aws.ToString(s.ServiceArn), status: aws.ToString(s.Status),
		desired: s.DesiredCount, running: s.RunningCount, pending: s.PendingCount, saved: -1}
	for _, t := range s.Tags {
		if aws.ToString(t.Key) != capacityTag {
			continue
		}
		n, err := parseDesired(aws.ToString(t.Value))
		if err != nil {
			es.tagErr = err
		} else {
			es.saved = n
		}
	}
	return es
}

func (w *ecsWorker) decide(a Action, st resState) (bool, Outcome, string) {
	s, _ := st.extra.(ecsSvc)
	return decideECS(a, s)
}

func decideECS(a Action, s ecsSvc) (bool, Outcome, string) {
	switch {
	case s.status != "ACTIVE":
		return false, Failed, "ECS service is " + strings.ToLower(s.status) + " (being deleted)"
	case s.tagErr != nil:
		return false, Failed, s.tagErr.Error()
	case a == Stop && s.desired == 0 && s.saved > 0:
		return false, Unchanged, fmt.Sprintf("already at desired count 0; %d saved in tag %s", s.saved, capacityTag)
	case a == Stop && s.desired == 0:
		return false, Unchanged, "already at desired count 0 and no saved count (tag " + capacityTag + "): start will not know what to restore"
	case a == Stop:
		return true, "", ""
	case s.desired > 0:
		return false, Unchanged, fmt.Sprintf("not at desired count 0 (desired %d)", s.desired)
	case s.saved <= 0:
		return false, Failed, "at desired count 0 and no saved count (tag " + capacityTag + "); start it by hand once"
	}
	return true, "", ""
}

func (w *ecsWorker) act(ctx context.Context, res Result, st resState) Result {
	s, ok := st.extra.(ecsSvc)
	res.After = res.Before
	if !ok {
		// Acting blind would lose the count (stop) or guess it (start).
		res.Outcome = Failed
		res.Message = "cannot read the service's desired count without " + w.k.Describe.IAM[0] + "; nothing changed"
		return res
	}
	if w.r.action == Stop {
		// The tag first, as for Auto Scaling groups: a run cut off after it
		// leaves the service as it was; the other order could lose the
		// count start must restore.
		err := w.r.call(ctx, w.k.Service, func() error {
			_, err := w.c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(s.arn),
				Tags: []ecstypes.Tag{{Key: aws.String(capacityTag), Value: aws.String(strconv.Itoa(int(s.desired)))}}})
			return err
		})
		if err != nil {
			res.Outcome, res.Message = Failed, failure(err, "TagResource")+" (nothing changed)"
			return res
		}
		if err := w.scale(ctx, res.ID, 0); err != nil {
			res.Outcome, res.Message = Failed, failure(err, "UpdateService")+fmt.Sprintf(" (desired count %d saved in tag %s)", s.desired, capacityTag)
			return res
		}
		was := s.desired
		s.desired = 0
		res.After, res.Outcome = s.name(), Changed
		res.Message = fmt.Sprintf("saved desired count %d in tag %s; set to 0", was, capacityTag)
		return res
	}
	// The count first, then the tag, as for Auto Scaling groups.
	if err := w.scale(ctx, res.ID, s.saved); err != nil {
		res.Outcome, res.Message = Failed, failure(err, "UpdateService")+fmt.Sprintf(" (desired count %d still saved in tag %s)", s.saved, capacityTag)
		return res
	}
	s.desired = s.saved
	res.After, res.Outcome = s.name(), Changed
	res.Message = fmt.Sprintf("restored desired count %d from tag %s", s.saved, capacityTag)
	err := w.r.call(ctx, w.k.Service, func() error {
		_, err := w.c.UntagResource(ctx, &ecs.UntagResourceInput{ResourceArn: aws.String(s.arn), TagKeys: []string{capacityTag}})
		return err
	})
	if err != nil {
		res.Message += "; the tag is left: " + failure(err, "UntagResource")
	}
	return res
}

func (w *ecsWorker) scale(ctx context.Context, id string, desired int32) error {
	cl, svc, _ := strings.Cut(id, "/")
	return w.r.call(ctx, w.k.Service, func() error {
		_, err := w.c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(cl), Service: aws.String(svc), DesiredCount: aws.Int32(desired)})
		return err
	})
}

// settle waits for the tasks: none left after a stop, as many running as
// desired after a start.
func (w *ecsWorker) settle(a Action, st resState) (progress, string) {
	switch {
	case st.Name == w.k.Target[a]:
		return reached, ""
	case st.Name == "draining":
		return broke, "ECS service is being deleted"
	}
	return moving, ""
}
